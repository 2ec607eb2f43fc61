"""The schema: the seed's SDL plus what the flows need, merged from one module per area.

Each area module under ``types/`` defines a ``Query`` (and ``Mutation``, ``Subscription``
where it has them); this module merges them, so adding an area is one line here.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.tools import merge_types

from runtime.api.errors import ErrorCodes
from runtime.api.types import agents
from runtime.settings import ApiSettings

__all__ = ["build_schema", "schema_sdl"]

_AREAS: tuple[Any, ...] = (agents,)


def build_schema(settings: ApiSettings | None = None) -> strawberry.Schema:
    """The schema with the limits of ``settings`` (defaults when None)."""
    limits = settings or ApiSettings()
    return strawberry.Schema(
        query=_merged("Query"),
        mutation=_merged("Mutation"),
        subscription=_merged("Subscription"),
        # Factories, not instances: strawberry builds a fresh extension per operation.
        extensions=[
            ErrorCodes,
            lambda: QueryDepthLimiter(max_depth=limits.max_query_depth),
            lambda: MaxTokensLimiter(max_token_count=limits.max_query_tokens),
            lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
        ],
    )


def schema_sdl() -> str:
    """The schema in GraphQL SDL (``crm-agents schema``)."""
    return build_schema().as_str() + "\n"


def _merged(name: str) -> Any:
    parts = tuple(getattr(area, name) for area in _AREAS if hasattr(area, name))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else merge_types(name, parts)
