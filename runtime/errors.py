"""The one exception tree of crm-agents.

    CrmAgentsError
    ├── ClientError                 safe to show to whoever sent the request
    │   ├── InvalidInputError       names each offending field and the reason
    │   ├── NotFoundError           names what was looked up
    │   ├── ConflictError           the request contradicts stored state; names the field
    │   ├── PermissionDeniedError
    │   └── BudgetExceededError     a rate or API budget is spent; retry later
    └── InternalError               logged with its traceback, masked for clients
        ├── StorageError            the database failed or is not in the expected shape
        ├── IntegrationError        an external service (CRM, Slack, push) failed
        │   └── ExtractionError     the LLM endpoint failed or answered out of schema
        └── BackendUnavailableError a process we depend on is not there

Every exception keeps its constructor arguments in ``args`` so that it pickles: they cross
Ray actor and task boundaries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

__all__ = [
    "BackendUnavailableError",
    "BudgetExceededError",
    "ClientError",
    "ConflictError",
    "CrmAgentsError",
    "ExtractionError",
    "FieldProblem",
    "IntegrationError",
    "InternalError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "StorageError",
    "invalid_from_pydantic",
    "parse_json_model",
]

ModelT = TypeVar("ModelT", bound=BaseModel)

FieldProblem = tuple[str, str]
"""A (field path, reason) pair, e.g. ``("transcript[3].text", "must not be empty")``."""


class CrmAgentsError(Exception):
    """Base of every error this project raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self.args[0])

    def __str__(self) -> str:
        return self.message


class ClientError(CrmAgentsError):
    """The caller can fix this; the message is safe to show them."""


class InvalidInputError(ClientError):
    """Input failed validation. Carries every problem found, each naming its field."""

    def __init__(self, problems: Sequence[FieldProblem], source: str | None = None) -> None:
        if not problems:
            raise ValueError("InvalidInputError needs at least one problem")
        self.problems: tuple[FieldProblem, ...] = tuple((f, r) for f, r in problems)
        self.source = source
        Exception.__init__(self, self.problems, source)

    @classmethod
    def one(cls, field: str, reason: str, *, source: str | None = None) -> InvalidInputError:
        return cls([(field, reason)], source)

    @property
    def field(self) -> str:
        """The first offending field (the one a single-line message shows)."""
        return self.problems[0][0]

    @property
    def reason(self) -> str:
        return self.problems[0][1]

    @property
    def message(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        return "; ".join(f"{prefix}{field}: {reason}" for field, reason in self.problems)


class NotFoundError(ClientError):
    """A referenced object does not exist (or is not visible to the caller)."""

    def __init__(self, kind: str, key: str, field: str | None = None) -> None:
        self.kind = kind
        self.key = key
        self.field = field or kind
        Exception.__init__(self, kind, key, field)

    @property
    def message(self) -> str:
        return f"{self.field}: no {self.kind} {self.key}"


class ConflictError(ClientError):
    """The request contradicts what is stored; ``field`` names where."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        Exception.__init__(self, field, reason)

    @property
    def message(self) -> str:
        return f"{self.field}: {self.reason}"


class PermissionDeniedError(ClientError):
    """The caller is known but may not do this."""


class BudgetExceededError(ClientError):
    """A rate limit or API budget is spent; ``retry_after_s`` says when to try again."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        self.retry_after_s = retry_after_s
        Exception.__init__(self, message, retry_after_s)


class InternalError(CrmAgentsError):
    """Our fault or our dependencies' fault; details are logged, not shown to clients."""


class StorageError(InternalError):
    """The database failed, or its schema is not what this code expects."""


class IntegrationError(InternalError):
    """An external service answered with an error or not at all."""


class ExtractionError(IntegrationError):
    """An extractor's model endpoint failed, or answered something that breaks its schema."""


class BackendUnavailableError(InternalError):
    """A process or service we depend on is not running."""


def invalid_from_pydantic(
    exc: ValidationError, *, source: str | None = None, prefix: str = ""
) -> InvalidInputError:
    """Turn a pydantic ValidationError into one InvalidInputError naming every field."""
    problems: list[FieldProblem] = []
    for error in exc.errors():
        path = prefix
        for part in error.get("loc", ()):
            if isinstance(part, int):
                path += f"[{part}]"
            elif not path or path.endswith(("-", ".")):
                path += str(part)
            else:
                path += f".{part}"
        problems.append((path or "(input)", _reason(error)))
    return InvalidInputError(problems, source)


def parse_json_model(
    model: type[ModelT], raw: str | bytes | dict[str, Any], *, source: str | None = None
) -> ModelT:
    """Validate JSON text (or an already decoded object) as ``model``.

    Raises:
        InvalidInputError: not JSON, not an object, or fields that break the model; every
            problem names its field path and, when given, ``source`` (the file).
    """
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidInputError.one(
                "(file)",
                f"is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                source=source,
            ) from exc
    if not isinstance(raw, dict):
        raise InvalidInputError.one(
            "(file)", f"must be a JSON object, not {type(raw).__name__}", source=source
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise invalid_from_pydantic(exc, source=source) from exc


def _reason(error: ErrorDetails) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    message = str(error.get("msg", "is invalid"))
    # pydantic prefixes messages raised from our own validators; the prefix is noise to users.
    for noise in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(noise)
    return message
