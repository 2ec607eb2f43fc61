"""Driver errors become domain errors, chosen by the name of the violated constraint."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import asyncpg

from runtime.errors import CrmAgentsError, StorageError

__all__ = ["ErrorFactory", "domain_error"]

ErrorFactory = Callable[[], CrmAgentsError]


def domain_error(
    exc: asyncpg.IntegrityConstraintViolationError, by_constraint: Mapping[str, ErrorFactory]
) -> CrmAgentsError:
    """The domain error for a constraint violation; unknown constraints are storage errors.

    Use as ``raise domain_error(exc, {...}) from exc``.
    """
    name = getattr(exc, "constraint_name", None)
    factory = by_constraint.get(name or "")
    if factory is None:
        return StorageError(f"unexpected constraint violation ({name}): {exc}")
    return factory()
