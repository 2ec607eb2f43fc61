"""The schema: the seed's SDL plus what the flows need, merged from one module per area.

Each area module under ``types/`` defines a ``Query`` (and ``Mutation``, ``Subscription``
where it has them); this module merges them, so adding an area is one line here.
"""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql.error import GraphQLError
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from runtime.api.documents import CheckedDocuments, DocumentChecks
from runtime.api.errors import ErrorCodes, is_expected
from runtime.api.loaders import DropLoaders
from runtime.api.types import (
    activity,
    agent_mutations,
    agents,
    anomalies,
    audit,
    automations,
    crm_connection,
    crm_onboarding,
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

_log = logging.getLogger(__name__)

_AREAS: tuple[Any, ...] = (
    agents,
    activity,
    inbox,
    metrics,
    audit,
    agent_mutations,
    meetings,
    crm_connection,
    crm_onboarding,
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
    return _Schema(
        query=_merged("Query"),
        mutation=_merged("Mutation"),
        subscription=_merged("Subscription"),
        # Factories, not instances: strawberry builds a fresh extension per operation.
        extensions=[ErrorCodes, lambda: DocumentChecks(checked), DropLoaders],
    )


class _Schema(strawberry.Schema):
    """Strawberry's schema, logging only what is ours to fix.

    Strawberry logs every error of every result at ERROR, with the whole document: a
    client's FORBIDDEN or a typo in a query would fill the log. Expected errors (a code of
    ours, a domain error, a document that does not parse or validate) are the client's and
    are logged at DEBUG; anything else is still logged (``ErrorCodes`` also logs it under
    the incident id the client sees).
    """

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [error for error in errors if not is_expected(error)]
        for error in errors:
            if is_expected(error):
                _log.debug("client error at %s: %s", error.path, error.message)
        if unexpected:
            super().process_errors(unexpected, execution_context)


def schema_sdl() -> str:
    """The schema in GraphQL SDL (``crm-agents schema``)."""
    return build_schema().as_str() + "\n"


def _merged(name: str) -> Any:
    parts = tuple(getattr(area, name) for area in _AREAS if hasattr(area, name))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else merge_types(name, parts)
