"""The CRM's failures that a person can act on, as the domain errors the API and CLI name.

A request that reads the workspace's CRM on a person's behalf (a preview, an edited value
checked against the property definitions, a question answered) fails for a reason they can
fix when HubSpot refuses the connection's credentials (reconnect) or its rate limit is
spent (retry later); anything else the CRM does wrong stays an integration error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from runtime.crm.errors import CrmAuthError, CrmRateLimitedError
from runtime.errors import BudgetExceededError, ConflictError

__all__ = ["crm_failures_named"]


@contextmanager
def crm_failures_named() -> Iterator[None]:
    """Raise refused credentials as ``ConflictError`` (field ``crm_connection``) and a
    spent rate limit as ``BudgetExceededError`` (with the CRM's retry delay)."""
    try:
        yield
    except CrmAuthError as exc:
        raise ConflictError(
            "crm_connection",
            f"the CRM refused the connection's credentials ({exc}): reconnect the CRM",
        ) from exc
    except CrmRateLimitedError as exc:
        raise BudgetExceededError(
            f"the CRM's rate limit ({exc.policy}) is spent: retry later", exc.retry_after_s
        ) from exc
