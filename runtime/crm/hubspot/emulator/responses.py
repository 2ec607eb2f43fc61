"""HubSpot's answer bodies: errors (each with a fresh correlation id), batches, JSON.

Route code raises ``ApiError``; the request gate turns it into the answer. Shapes follow
reference §1 (auth), §5 (validation, batch errors) and §6 (rate limits).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse, Response

from runtime.crm.hubspot.emulator.limits import Policy
from runtime.crm.hubspot.emulator.objects import ERROR_NAMES
from runtime.crm.hubspot.emulator.validation import Problem
from runtime.crm.hubspot.emulator.values import format_instant
from runtime.crm.port import ObjectType

__all__ = [
    "ApiError",
    "bad_request",
    "batch_body",
    "correlation_id",
    "error_body",
    "json_answer",
    "not_found_error",
    "object_not_found_entry",
    "problem_entries",
    "rate_limit_body",
    "validation_error",
    "validation_message",
]


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(message: str, category: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        **extra,
        "category": category,
    }


class ApiError(Exception):
    """An answer other than success, raised from route code."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        self.status_code = status_code
        self.body = body
        super().__init__(status_code, body)

    def response(self) -> Response:
        return json_answer(self.body, self.status_code)


def json_answer(data: Mapping[str, Any] | Sequence[Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status_code)


def validation_message(problems: Iterable[Problem]) -> str:
    """HubSpot's message embeds the problems as a JSON list (reference §5)."""
    listed = [
        {
            "isValid": False,
            "message": p.message,
            "error": p.code,
            "name": p.property_name,
            "localizedErrorMessage": p.message,
        }
        for p in problems
    ]
    return "Property values were not valid: " + json.dumps(listed, separators=(",", ":"))


def problem_entries(problems: Iterable[Problem]) -> list[dict[str, Any]]:
    return [
        {"message": p.message, "code": p.code, "context": {"propertyName": [p.property_name]}}
        for p in problems
    ]


def validation_error(problems: Sequence[Problem]) -> ApiError:
    """400 VALIDATION_ERROR refusing a whole request for its property values."""
    body = error_body(
        validation_message(problems), "VALIDATION_ERROR", errors=problem_entries(problems)
    )
    return ApiError(400, body)


def bad_request(message: str) -> ApiError:
    """400 VALIDATION_ERROR for a request of the wrong shape or over a limit."""
    return ApiError(400, error_body(message, "VALIDATION_ERROR"))


def not_found_error(record_id: str) -> ApiError:
    # reference §2: category OBJECT_NOT_FOUND; the message is HubSpot's for a plain miss.
    return ApiError(
        404, error_body("resource not found", "OBJECT_NOT_FOUND", context={"id": [record_id]})
    )


def object_not_found_entry(object_type: ObjectType, ids: Sequence[str]) -> dict[str, Any]:
    """A 207's error for unknown ids (reference §5)."""
    name = ERROR_NAMES[object_type]
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": (
            f"Could not get some {name} objects, they may be deleted or not exist."
            " Check that ids are valid."
        ),
        "context": {"ids": list(ids)},
    }


def rate_limit_body(policy: Policy) -> dict[str, Any]:
    """The 429 body of reference §6; no Retry-After goes with it."""
    message = {
        "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
        "DAILY": "You have reached your daily limit.",
        "SECONDLY": "You have reached your secondly limit.",
    }[policy]
    return {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
        "requestId": str(uuid.uuid4()),
    }


def batch_body(
    results: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    *,
    started_at: datetime,
    completed_at: datetime,
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    body["startedAt"] = format_instant(started_at)
    body["completedAt"] = format_instant(completed_at)
    return body
