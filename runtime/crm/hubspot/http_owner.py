"""The httpx client an API object sends with: given by the caller, or made and owned here."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx

__all__ = ["HttpClientOwner"]


class HttpClientOwner:
    """Closes the httpx client on ``aclose`` (or leaving ``async with``) only if it made it."""

    def __init__(self, http: httpx.AsyncClient | None, *, timeout_s: float) -> None:
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout_s)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
