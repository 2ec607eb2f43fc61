"""The schema: the seed's SDL plus what the flows need, merged from one module per area.

Each area module under ``types/`` defines a ``Query`` (and ``Mutation``, ``Subscription``
where it has them); this module merges them, so adding an area is one line here.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.tools import merge_types

from runtime.api.documents import CheckedDocuments, DocumentChecks
from runtime.api.errors import ErrorCodes
from runtime.api.loaders import DropLoaders
from runtime.api.types import (
    activity,
    agent_mutations,
    agents,
    anomalies,
    audit,
    automations,
    crm_connection,
    inbox,
    inbox_mutations,
    meetings,
    metrics,
    preferences,
    subscriptions,
)
from runtime.settings import ApiSettings

__all__ = ["build_schema", "schema_sdl"]

_CACHED_DOCUMENTS = 512

_AREAS: tuple[Any, ...] = (
    agents,
    activity,
    inbox,
    metrics,
    audit,
    agent_mutations,
    meetings,
    crm_connection,
    inbox_mutations,
    anomalies,
    automations,
    preferences,
    subscriptions,
)


def build_schema(settings: ApiSettings | None = None) -> strawberry.Schema:
    """The schema with the limits of ``settings`` (defaults when None)."""
    limits = settings or ApiSettings()
    # The limits, and the documents that passed them, parsed and validated once per process.
    checked = CheckedDocuments(
        maxsize=_CACHED_DOCUMENTS,
        max_depth=limits.max_query_depth,
        max_tokens=limits.max_query_tokens,
        max_aliases=limits.max_aliases,
    )
    return strawberry.Schema(
        query=_merged("Query"),
        mutation=_merged("Mutation"),
        subscription=_merged("Subscription"),
        # Factories, not instances: strawberry builds a fresh extension per operation.
        extensions=[ErrorCodes, lambda: DocumentChecks(checked), DropLoaders],
    )


def schema_sdl() -> str:
    """The schema in GraphQL SDL (``crm-agents schema``)."""
    return build_schema().as_str() + "\n"


def _merged(name: str) -> Any:
    parts = tuple(getattr(area, name) for area in _AREAS if hasattr(area, name))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else merge_types(name, parts)
