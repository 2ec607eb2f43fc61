"""Errors the API shows its clients.

Expected failures are GraphQL errors whose ``extensions.code`` says what happened (and
``extensions.field`` which input, when one is to blame). Anything else is a bug or an
outage of ours: its message is replaced by a neutral one with an id that is also logged
with the traceback, so nothing internal (SQL, paths, secrets) reaches a client.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

from runtime.errors import (
    BudgetExceededError,
    ClientError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

__all__ = [
    "ApiError",
    "ErrorCode",
    "ErrorCodes",
    "api_error_from",
    "is_expected",
    "report_error",
]

_log = logging.getLogger(__name__)


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"  # no token, or not a live one
    FORBIDDEN = "FORBIDDEN"  # a workspace or user the token does not speak for
    NOT_FOUND = "NOT_FOUND"  # no such object in the token's workspace
    BAD_USER_INPUT = "BAD_USER_INPUT"  # an argument is invalid; ``field`` names it
    CONFLICT = "CONFLICT"  # the object's state does not allow it (decided, duplicate, ...)
    RATE_LIMITED = "RATE_LIMITED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"  # the document itself
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class ApiError(GraphQLError):
    """An expected failure, raised by resolvers."""

    def __init__(self, message: str, code: ErrorCode, *, field: str | None = None) -> None:
        extensions: dict[str, Any] = {"code": code.value}
        if field is not None:
            extensions["field"] = field
        super().__init__(message, extensions=extensions)

    @classmethod
    def unauthenticated(cls) -> ApiError:
        return cls(
            "authentication required: send `Authorization: Bearer <token>`"
            " (create one with `crm-agents token create`)",
            ErrorCode.UNAUTHENTICATED,
        )

    @classmethod
    def forbidden(cls, reason: str, *, field: str | None = None) -> ApiError:
        return cls(reason, ErrorCode.FORBIDDEN, field=field)

    @classmethod
    def not_found(cls, kind: str, key: str, *, field: str | None = None) -> ApiError:
        return cls(f"no {kind} {key}", ErrorCode.NOT_FOUND, field=field)

    @classmethod
    def bad_input(cls, field: str, reason: str) -> ApiError:
        return cls(f"{field}: {reason}", ErrorCode.BAD_USER_INPUT, field=field)


def api_error_from(error: ClientError) -> ApiError:
    """The API's view of a domain error (``runtime.errors``)."""
    if isinstance(error, InvalidInputError):
        return ApiError(error.message, ErrorCode.BAD_USER_INPUT, field=_camel(error.field))
    if isinstance(error, NotFoundError):
        return ApiError(error.message, ErrorCode.NOT_FOUND, field=_camel(error.field))
    if isinstance(error, ConflictError):
        return ApiError(error.message, ErrorCode.CONFLICT, field=_camel(error.field))
    if isinstance(error, PermissionDeniedError):
        return ApiError(error.message, ErrorCode.FORBIDDEN)
    if isinstance(error, BudgetExceededError):
        return ApiError(error.message, ErrorCode.RATE_LIMITED)
    return ApiError(error.message, ErrorCode.BAD_USER_INPUT)


class ErrorCodes(SchemaExtension):
    """Gives every error of a result its code; masks and logs the unexpected ones."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if not isinstance(result, GraphQLExecutionResult | ExecutionResult):
            return
        errors = [_with_code(error) for error in result.errors or ()]
        errors.extend(getattr(self.execution_context.context, "reported_errors", ()))
        result.errors = errors or None


def report_error(
    context: Any, path: list[str | int], error: ApiError, **extensions: object
) -> None:
    """Report ``error`` at ``path`` beside the field's data, with more ``extensions``: a
    field that partly succeeded (a batch) answers its data and says what failed."""
    located = GraphQLError(
        error.message, path=path, extensions={**(error.extensions or {}), **extensions}
    )
    context.reported_errors.append(located)


def is_expected(error: GraphQLError) -> bool:
    """Whether an error is the client's: a code of ours, a domain error, graphql-core's
    refusal of a value, or a problem of the document itself (no original error)."""
    original = error.original_error
    return original is None or isinstance(original, GraphQLError | ClientError)


def _with_code(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, GraphQLError) and (original.extensions or {}).get("code"):
        return _located(original, error)
    if isinstance(original, ClientError):
        return _located(api_error_from(original), error)
    if isinstance(original, GraphQLError):
        # graphql-core's own refusal of a value, e.g. a variable that does not coerce to its
        # declared type: the client's input, not our failure.
        return _located(ApiError(error.message, ErrorCode.BAD_USER_INPUT), error)
    if original is None:
        if (error.extensions or {}).get("code"):
            return error
        # Parsing and validation problems of the document: the client's to fix.
        return _located(ApiError(error.message, ErrorCode.GRAPHQL_VALIDATION_FAILED), error)
    incident = uuid.uuid4().hex[:12]
    _log.error(
        "internal error %s at %s",
        incident,
        error.path,
        exc_info=original,
    )
    return _located(
        ApiError(
            f"internal error (incident {incident}); it has been logged",
            ErrorCode.INTERNAL_SERVER_ERROR,
        ),
        error,
    )


def _located(new: GraphQLError, where: GraphQLError) -> GraphQLError:
    return GraphQLError(
        new.message,
        nodes=where.nodes,
        source=where.source,
        positions=where.positions,
        path=where.path,
        extensions=new.extensions,
    )


def _camel(field: str | None) -> str | None:
    """A domain field path as the API spells it: the first segment is a GraphQL argument or
    input field (``call_type`` -> ``callType``); the rest is inside a JSON value and keeps
    its own spelling (``config.auto_apply_threshold``)."""
    if field is None:
        return None
    head, dot, rest = field.partition(".")
    return _camel_word(head) + dot + rest


def _camel_word(word: str) -> str:
    head, *rest = word.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
