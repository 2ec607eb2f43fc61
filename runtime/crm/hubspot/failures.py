"""Turn HubSpot's error answers and httpx's transport errors into the typed CRM errors.

One function per kind of failure, each also describing the failure for the retry decision
(``retry.Failure``). Messages start with the request ("POST /crm/v3/objects/deals/search")
and never contain the bearer token: any secret passed in ``secrets`` is masked, in case an
answer echoes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from runtime.crm.errors import (
    CrmAuthError,
    CrmConnectionError,
    CrmError,
    CrmNotFoundError,
    CrmRateLimitedError,
    CrmServerError,
    CrmValidationError,
)
from runtime.crm.hubspot.rate_limits import parse_rate_limit_headers, parse_retry_after_s
from runtime.crm.hubspot.retry import Failure, rate_limit_wait_s
from runtime.crm.hubspot.wire import validation_problems_from_json

__all__ = [
    "error_from_response",
    "error_from_transport",
    "json_object",
    "mask",
    "rate_limit_policy",
    "unreadable_answer",
]

_MASK = "***"


def error_from_response(
    response: httpx.Response, *, action: str, secrets: Sequence[str] = ()
) -> tuple[CrmError, Failure]:
    """The typed error for a non-2xx answer, and how the retry decision sees it."""
    status = response.status_code
    body = json_object(response)
    message = mask(f"{action}: {_message(body, response)}", secrets)
    correlation_id = _optional_str(body.get("correlationId"))
    category = _optional_str(body.get("category"))
    failure = Failure(status=status)
    error: CrmError
    if status == 429:
        policy = rate_limit_policy(body)
        limits = parse_rate_limit_headers(response.headers)
        wait_s = rate_limit_wait_s(
            policy,
            retry_after_s=parse_retry_after_s(response.headers),
            interval_ms=None if limits is None else limits.interval_ms,
        )
        error = CrmRateLimitedError(message, policy, wait_s, correlation_id)
        failure = Failure(status=status, rate_limit_policy=policy, server_wait_s=wait_s)
    elif status == 400:
        # Every 400 refuses the whole request; the problems keep HubSpot's own category.
        problems = validation_problems_from_json(body) if body else ()
        error = CrmValidationError(message, problems, correlation_id)
    elif status == 401:
        error = CrmAuthError(message, status, category or "INVALID_AUTHENTICATION", correlation_id)
    elif status == 403:
        error = CrmAuthError(message, status, category or "FORBIDDEN", correlation_id)
    elif status == 404:
        error = CrmNotFoundError(message, status, category or "OBJECT_NOT_FOUND", correlation_id)
    elif status == 477:
        error = CrmServerError(message, status, category or "MIGRATION_IN_PROGRESS", correlation_id)
        failure = Failure(status=status, server_wait_s=parse_retry_after_s(response.headers))
    elif status == 423:
        error = CrmServerError(message, status, category or "LOCKED", correlation_id)
    elif 400 <= status < 500:
        error = CrmError(message, status, category, correlation_id)
    else:
        error = CrmServerError(message, status, category, correlation_id)
    return error, failure


def error_from_transport(
    exc: httpx.RequestError, *, action: str
) -> tuple[CrmError, Failure | None]:
    """A request that got no answer; ``None`` as failure means retrying cannot help."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    message = f"{action}: no answer from HubSpot ({detail})"
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        # No connection was made, so HubSpot never saw the request: replaying is safe.
        return CrmConnectionError(message), Failure(sent=False)
    if isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        # The request may have been carried out before the answer was lost.
        return CrmConnectionError(message), Failure(sent=True)
    if isinstance(exc, httpx.TransportError):
        # Bad URL scheme, proxy or local protocol misuse: the same again would fail the same.
        return CrmConnectionError(message), None
    return CrmServerError(f"{action}: unreadable answer ({detail})"), None


def unreadable_answer(response: httpx.Response, *, action: str, detail: str) -> CrmServerError:
    return CrmServerError(
        f"{action}: unreadable answer ({detail})",
        response.status_code,
        None,
        _optional_str(json_object(response).get("correlationId")),
    )


def json_object(response: httpx.Response) -> Mapping[str, Any]:
    """The JSON object of an answer, or ``{}`` when it has none (proxies answer in HTML)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, Mapping) else {}


def rate_limit_policy(body: Mapping[str, Any]) -> str:
    """Which limit a 429 hit: ``policyName``, else read from the message (§6).

    Search's 429 has been seen without ``policyName`` but with "You have reached your
    secondly limit."; HubSpot's own SDK recognises it by that message.
    """
    name = body.get("policyName")
    if name:
        return str(name)
    text = str(body.get("message") or "").lower()
    if "ten_secondly" in text:
        return "TEN_SECONDLY_ROLLING"
    if "secondly limit" in text:
        return "SECONDLY"
    if "daily limit" in text:
        return "DAILY"
    return "UNKNOWN"


def mask(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, _MASK)
    return text


def _message(body: Mapping[str, Any], response: httpx.Response) -> str:
    message = _optional_str(body.get("message")) or (
        f"HubSpot answered {response.status_code} {response.reason_phrase}".rstrip()
    )
    scopes = _required_scopes(body)
    if scopes:
        message += f" (required scopes: {', '.join(scopes)})"
    return message


def _required_scopes(body: Mapping[str, Any]) -> list[str]:
    scopes: list[str] = []
    for entry in body.get("errors") or ():
        if isinstance(entry, Mapping) and isinstance(entry.get("context"), Mapping):
            scopes.extend(str(s) for s in entry["context"].get("requiredGranularScopes") or ())
    return scopes


def _optional_str(raw: Any) -> str | None:
    return None if raw is None or raw == "" else str(raw)
