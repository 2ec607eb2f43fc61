"""Who a request speaks for: the bearer token of an HTTP request or a websocket's
``connection_init``, checked against the database and remembered briefly per replica."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg

from runtime.clock import Clock
from runtime.tokens.models import Principal
from runtime.tokens.service import authenticate, token_digest

__all__ = ["Authenticator", "BadTokenError", "bearer_token"]

_REMEMBERED = 10_000  # tokens a replica remembers; the least recently used go first


class BadTokenError(Exception):
    """A token was presented but is not a live one (unknown, revoked, not a member)."""


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None without a header.

    Raises:
        BadTokenError: a header of another scheme, or an empty token.
    """
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BadTokenError("the Authorization header must be `Bearer <token>`")
    return token.strip()


@dataclass(slots=True)
class _Remembered:
    principal: Principal | None
    until: float


class Authenticator:
    """Checks tokens; each answer (also "no such token") is trusted for ``cache_s``.

    Checks of one token that miss the cache at the same moment share one lookup: a thousand
    subscriptions on one token re-check it before each event, and would otherwise all ask
    the database together each time the answer expires.
    """

    def __init__(self, pool: asyncpg.Pool, clock: Clock, *, cache_s: float) -> None:
        self._pool = pool
        self._clock = clock
        self._cache_s = cache_s
        self._remembered: OrderedDict[bytes, _Remembered] = OrderedDict()
        self._looking_up: dict[bytes, asyncio.Future[Principal | None]] = {}

    async def principal(self, token: str | None) -> Principal | None:
        """None for no token.

        Raises:
            BadTokenError: the token is not a live one.
        """
        if token is None:
            return None
        digest = token_digest(token)
        now = time.monotonic()
        known = self._remembered.get(digest)
        if known is None or known.until < now:
            known = _Remembered(await self._look_up(digest, token), now + self._cache_s)
            self._remembered[digest] = known
            if len(self._remembered) > _REMEMBERED:
                self._remembered.popitem(last=False)
        self._remembered.move_to_end(digest)
        if known.principal is None:
            raise BadTokenError("the token is unknown, revoked, or its user left the workspace")
        return known.principal

    async def _look_up(self, digest: bytes, token: str) -> Principal | None:
        pending = self._looking_up.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        lookup = asyncio.ensure_future(authenticate(self._pool, token, now=self._clock.now()))
        self._looking_up[digest] = lookup
        try:
            return await asyncio.shield(lookup)
        finally:
            if lookup.done():
                self._looking_up.pop(digest, None)
            else:  # this caller was cancelled: forget the lookup once it ends
                lookup.add_done_callback(lambda _: self._looking_up.pop(digest, None))

    async def from_connection_params(self, params: Mapping[str, object] | None) -> Principal | None:
        """The principal of a websocket: ``{"token": ...}`` or ``{"Authorization": "Bearer
        ..."}`` in the ``connection_init`` payload (browsers cannot set upgrade headers)."""
        params = params or {}
        token = params.get("token")
        if token is None:
            header = params.get("Authorization", params.get("authorization"))
            token = bearer_token(header if isinstance(header, str) else None)
        if token is not None and not isinstance(token, str):
            raise BadTokenError("connection_init payload: token must be a string")
        return await self.principal(token)
