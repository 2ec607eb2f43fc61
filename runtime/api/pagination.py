"""Cursor pagination (Relay connections) over rows ordered newest first.

A cursor is opaque to clients: base64 of the row's ``created_at`` and id, the keyset the
queries order by (``created_at DESC, id DESC``), so a page costs one index range scan
however deep it is, and rows inserted meanwhile do not shift later pages.
``totalCount`` is computed only when a client selects it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import strawberry
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from runtime.api.errors import ApiError
from runtime.db.keyset import After

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "Connection",
    "Edge",
    "PageInfo",
    "PageRequest",
    "PaginationInput",
    "connection_of",
    "decode_cursor",
    "encode_cursor",
    "node_fields",
    "page_request",
]

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

NodeT = TypeVar("NodeT")


@strawberry.input(description="Forward paging: `first` items after the cursor `after`.")
class PaginationInput:
    first: int | None = strawberry.field(
        default=DEFAULT_PAGE_SIZE, description=f"Page size, 0 to {MAX_PAGE_SIZE}."
    )
    after: str | None = strawberry.field(
        default=None, description="The `endCursor` of the previous page."
    )


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    node: NodeT
    cursor: str


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    total_count_of: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items match, over all pages.")
    async def total_count(self) -> int:
        return await self.total_count_of()


@dataclass(frozen=True, slots=True)
class PageRequest:
    size: int
    after: After | None


def page_request(pagination: PaginationInput | None, *, field: str = "pagination") -> PageRequest:
    """The checked page size and start; bad values are bad input naming the argument."""
    if pagination is None:
        return PageRequest(DEFAULT_PAGE_SIZE, None)
    size = DEFAULT_PAGE_SIZE if pagination.first is None else pagination.first
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise ApiError.bad_input(f"{field}.first", f"must be between 0 and {MAX_PAGE_SIZE}")
    after = None if pagination.after is None else decode_cursor(pagination.after, f"{field}.after")
    return PageRequest(size, after)


def encode_cursor(created_at: datetime, row_id: UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: str) -> After:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return After(datetime.fromisoformat(created_at), UUID(row_id))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ApiError.bad_input(field, "is not a cursor this API gave out") from None


def connection_of(
    nodes: Sequence[NodeT],
    keys: Sequence[After],
    request: PageRequest,
    *,
    total: Callable[[], Awaitable[int]],
) -> Connection[NodeT]:
    """A page from up to ``request.size + 1`` rows: the extra row only says there is more."""
    shown = list(zip(nodes, keys, strict=True))[: request.size]
    edges = [Edge(node=node, cursor=encode_cursor(key.created_at, key.id)) for node, key in shown]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(nodes) > request.size,
            has_previous_page=request.after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count_of=total,
    )


def node_fields(info: strawberry.Info[Any, Any]) -> frozenset[str]:
    """The GraphQL names of the fields a client selects on the nodes of the connection that
    ``info``'s field returns (``edges { node { ... } }``, fragments included): what its page
    may load ahead for all its rows at once. ``@skip``/``@include`` are not evaluated: a
    field they leave out is still named (loading it ahead costs a query, nothing else)."""
    connections = _named(info.selected_fields, None)
    edges = _named(_children(connections), "edges")
    nodes = _named(_children(edges), "node")
    return frozenset(field.name for field in _named(_children(nodes), None))


def _children(fields: Sequence[SelectedField]) -> list[Selection]:
    return [selection for field in fields for selection in field.selections]


def _named(selections: Sequence[Selection], name: str | None) -> list[SelectedField]:
    """The fields among ``selections`` (through fragments) called ``name`` (any: None)."""
    found: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, FragmentSpread | InlineFragment):
            found.extend(_named(selection.selections, name))
        elif isinstance(selection, SelectedField) and name in (None, selection.name):
            found.append(selection)
    return found
