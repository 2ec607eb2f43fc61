"""Errors a CRM adapter raises; all are IntegrationErrors (the CRM, not the caller, failed).

    IntegrationError
    └── CrmError                    status, category and correlation id as the CRM sent them
        ├── CrmRateLimitedError     policy (TEN_SECONDLY_ROLLING, SECONDLY, DAILY), retry_after_s
        ├── CrmValidationError      the whole request was refused; problems name properties
        ├── CrmAuthError            expired or invalid credentials, missing scopes
        ├── CrmNotFoundError        the object does not exist (or is archived)
        ├── CrmServerError          5xx, or an answer we cannot read
        └── CrmConnectionError      no answer: refused, dropped, timed out

Per-input failures of a batch call (HubSpot's 207) are not exceptions: they come back in
``BatchResult.errors`` so that one bad record fails only itself. Constructor arguments are
kept in ``args`` so the errors pickle across Ray boundaries.
"""

from __future__ import annotations

from runtime.crm.port import InputError
from runtime.errors import IntegrationError

__all__ = [
    "CrmAuthError",
    "CrmConnectionError",
    "CrmError",
    "CrmNotFoundError",
    "CrmRateLimitedError",
    "CrmServerError",
    "CrmValidationError",
]


class CrmError(IntegrationError):
    def __init__(
        self,
        message: str,
        status: int | None = None,
        category: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self.status = status
        self.category = category
        self.correlation_id = correlation_id
        Exception.__init__(self, message, status, category, correlation_id)


class CrmRateLimitedError(CrmError):
    """429: ``policy`` says which limit; ``retry_after_s`` how long to wait, when known."""

    def __init__(
        self,
        message: str,
        policy: str,
        retry_after_s: float | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self.status = 429
        self.category = "RATE_LIMITS"
        self.policy = policy
        self.retry_after_s = retry_after_s
        self.correlation_id = correlation_id
        Exception.__init__(self, message, policy, retry_after_s, correlation_id)


class CrmValidationError(CrmError):
    """400 VALIDATION_ERROR (or a batch refused whole): ``problems`` name the properties."""

    def __init__(
        self,
        message: str,
        problems: tuple[InputError, ...] = (),
        correlation_id: str | None = None,
    ) -> None:
        self.status = 400
        self.category = "VALIDATION_ERROR"
        self.problems = problems
        self.correlation_id = correlation_id
        Exception.__init__(self, message, problems, correlation_id)


class CrmAuthError(CrmError):
    """401 EXPIRED_AUTHENTICATION / INVALID_AUTHENTICATION, 403 MISSING_SCOPES, or an
    OAuth token endpoint refusing a code or refresh token (``category`` = its ``error``)."""


class CrmNotFoundError(CrmError):
    """404 OBJECT_NOT_FOUND."""


class CrmServerError(CrmError):
    """5xx, or an answer that does not parse."""


class CrmConnectionError(CrmError):
    """No answer at all: connection refused or dropped, or a timeout."""
