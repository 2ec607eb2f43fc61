"""``POST /webhooks/meetings``: a meeting delivered by a signed webhook (scheme: docs/api.md).

The meeting goes through the same rules as ``crm-agents meetings import`` and the GraphQL
``ingestMeeting`` (``runtime.meetings.service``): validated against the contract, stored
once per external id, runs queued in the same transaction; the same external id with other
content is a conflict. Signing and replay refusal: ``runtime.meeting_webhooks.service``.

Answers are JSON in the shape of the API's refusals (``errors[].extensions.code``, and
``field`` naming the header or body path): 201 stored, 200 already stored (idempotent),
401 headers that do not authenticate, 409 a replayed delivery or conflicting content, 422 a
meeting that breaks the contract (400 when the body is not a JSON object), 429 too many
deliveries for the workspace. Neither the body nor the secret is ever logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from runtime.api.context import Services
from runtime.api.errors import ErrorCode
from runtime.api.inputs import input_path
from runtime.api.ratelimit import RateLimiter, retry_after_header
from runtime.connections.cipher import KeyRing
from runtime.errors import ConflictError, InvalidInputError
from runtime.meeting_webhooks.service import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WORKSPACE_HEADER,
    UnauthenticatedDeliveryError,
    accept_delivery,
    check_signature,
    read_headers,
)
from runtime.meetings.service import parse_meeting

__all__ = ["meeting_webhook_router"]

_WHOLE_BODY = frozenset({"(file)", "(input)", ""})


def meeting_webhook_router(state: Mapping[str, Any]) -> APIRouter:
    """The webhook routes; ``state`` holds the app's ``services`` and ``limiter`` once the
    app has started (``runtime.api.http.build_api_app``)."""
    router = APIRouter()
    keyrings: list[KeyRing] = []  # built on first use: it may read (or create) the key file

    async def keyring(services: Services) -> KeyRing:
        if not keyrings:
            keyrings.append(await asyncio.to_thread(KeyRing.from_settings, services.settings))
        return keyrings[0]

    @router.post("/webhooks/meetings")
    async def ingest_meeting(request: Request) -> JSONResponse:
        services: Services = state["services"]
        limiter: RateLimiter = state["limiter"]
        tolerance_s = services.settings.api.webhook_tolerance_s
        now = services.clock.now()
        try:
            delivery = read_headers(
                request.headers.get(WORKSPACE_HEADER),
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                now=now,
                tolerance_s=tolerance_s,
            )
        except UnauthenticatedDeliveryError as exc:
            return _refusal(401, ErrorCode.UNAUTHENTICATED, exc.message, exc.field)
        body = await request.body()
        async with services.pool.acquire() as conn:
            try:
                await check_signature(conn, await keyring(services), delivery, body)
            except UnauthenticatedDeliveryError as exc:
                return _refusal(401, ErrorCode.UNAUTHENTICATED, exc.message, exc.field)
            # Limited once authenticated, so unsigned requests cannot spend a workspace's budget.
            wait_s = limiter.acquire(b"webhook:" + delivery.workspace_id.bytes)
            if wait_s is not None:
                return _refusal(
                    429,
                    ErrorCode.RATE_LIMITED,
                    f"too many deliveries: retry in {wait_s:.1f} s",
                    headers={"Retry-After": retry_after_header(wait_s)},
                )
            try:
                meeting = parse_meeting(body)
            except InvalidInputError as exc:
                return _invalid(exc)
            try:
                result = await accept_delivery(
                    conn, delivery, meeting, now=now, tolerance_s=tolerance_s
                )
            except InvalidInputError as exc:
                return _invalid(exc)
            except ConflictError as exc:
                field = exc.field if exc.field == SIGNATURE_HEADER else _body_path(exc.field)
                return _refusal(409, ErrorCode.CONFLICT, f"{field}: {exc.reason}", field)
        answer = {
            "created": result.created,
            "meeting": {
                "id": str(result.meeting.id),
                "external_id": result.meeting.external_id,
                "workspace_id": str(result.meeting.workspace_id),
            },
            "runs": [
                {"id": str(run.id), "agent_config_id": str(run.agent_config_id)}
                for run in result.runs
            ],
        }
        return JSONResponse(answer, 201 if result.created else 200)

    return router


def _invalid(exc: InvalidInputError) -> JSONResponse:
    problems = [(_body_path(field), reason) for field, reason in exc.problems]
    status = 400 if exc.problems[0][0] in _WHOLE_BODY else 422
    return _refusal(
        status,
        ErrorCode.BAD_USER_INPUT,
        "; ".join(f"{path}: {reason}" for path, reason in problems),
        problems[0][0],
        problems=[{"field": path, "reason": reason} for path, reason in problems],
    )


def _body_path(field: str) -> str:
    """The contract's keys keep their spelling: ``transcript[1].speaker`` -> ``body.
    transcript.1.speaker``; the whole body is ``body``."""
    return "body" if field in _WHOLE_BODY else input_path(field, root="body", camel=False)


def _refusal(
    status: int,
    code: ErrorCode,
    message: str,
    field: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    details: dict[str, Any] = {"code": code.value, **extensions}
    if field is not None:
        details["field"] = field
    return JSONResponse(
        {"errors": [{"message": message, "extensions": details}]}, status, headers=headers
    )
