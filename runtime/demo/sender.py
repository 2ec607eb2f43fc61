"""Sending a meeting the way a meeting service would: ``POST /webhooks/meetings``, signed.

The scheme is the webhook's own (``runtime.meeting_webhooks.service``): HMAC-SHA256 over
``<unix seconds>.<raw body>`` under the workspace's secret, with the workspace, timestamp and
signature headers. A refusal is an answer to report, not an exception.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx

from runtime.meeting_webhooks.service import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WORKSPACE_HEADER,
    sign,
)
from runtime.meetings.models import MeetingIn

__all__ = ["Delivery", "WebhookSender"]


@dataclass(frozen=True)
class Delivery:
    """The webhook's answer: 201 stored (200 already stored), else a refusal or no answer
    (``status`` 0)."""

    status: int
    meeting_id: UUID | None = None
    run_ids: tuple[UUID, ...] = ()
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status in (200, 201)


class WebhookSender:
    """Signs and posts meetings to one workspace's webhook at ``url``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        url: str,
        workspace_id: UUID,
        secret: str,
        now_s: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._url = url
        self._workspace_id = workspace_id
        self._secret = secret
        self._now_s = now_s

    def signed(self, meeting: MeetingIn) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one delivery of ``meeting``, signed now."""
        body = meeting.model_dump_json(exclude_none=True).encode()
        timestamp = int(self._now_s())
        headers = {
            "Content-Type": "application/json",
            WORKSPACE_HEADER: str(self._workspace_id),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        return body, headers

    async def send(self, meeting: MeetingIn) -> Delivery:
        body, headers = self.signed(meeting)
        try:
            answer = await self._http.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Delivery(status=0, error=f"no answer from {self._url}: {exc!r}")
        try:
            data: Any = answer.json()
        except ValueError:
            data = None
        if answer.status_code in (200, 201) and isinstance(data, dict):
            return Delivery(
                status=answer.status_code,
                meeting_id=UUID(data["meeting"]["id"]),
                run_ids=tuple(UUID(run["id"]) for run in data["runs"]),
            )
        return Delivery(status=answer.status_code, error=_refusal(data, answer.text))


def _refusal(data: Any, text: str) -> str:
    if isinstance(data, dict) and data.get("errors"):
        return "; ".join(str(error.get("message")) for error in data["errors"])
    return text[:200] or "no body"
