"""DataLoaders: each request loads the objects its fields refer to in one query per kind.

A page of 100 activity rows that each show their agent, user and meeting costs three
queries, not 300. Loaders live on the request's context (``ApiContext.loaders``), so
nothing is cached beyond one request. Every loader but the user one is scoped to the
principal's workspace: an id of another workspace loads as None.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias, TypeVar
from uuid import UUID

from strawberry.dataloader import DataLoader
from strawberry.extensions import SchemaExtension

from runtime.agent_configs.models import StoredAgentConfig
from runtime.agent_configs.repo import AgentConfigRepo
from runtime.api.context import ApiContext
from runtime.meetings.models import MeetingSummary
from runtime.meetings.repo import MeetingRepo
from runtime.users.models import User
from runtime.users.repo import UserRepo

__all__ = [
    "DropLoaders",
    "Shown",
    "agent_config_loader",
    "keyed_loader",
    "load_ahead",
    "mapped_loader",
    "meeting_loader",
    "shown",
    "user_loader",
]

KeyT = TypeVar("KeyT", bound=Hashable)
ValueT = TypeVar("ValueT")
ShownT = TypeVar("ShownT")

Shown: TypeAlias = ShownT | Awaitable[ShownT | None] | None
"""What a field resolved by ``shown`` returns: its value now, or an awaitable of it."""


class DropLoaders(SchemaExtension):
    """Drops the request's loaders when its operation ends.

    graphql-core's executor is in a reference cycle (it refers to itself through its
    helpers) and holds the request's context, so what the context holds after the operation
    waits for the garbage collector. The loaders hold most of it (each row loaded, a future
    per key): dropped, they are freed at once, and the collector finds a quarter as many
    objects per page of activity. An operation still running on the same context (a
    websocket's) makes new loaders when it next needs one."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if isinstance(context, ApiContext):
            context.loaders.clear()


def keyed_loader(
    context: ApiContext,
    name: str,
    fetch: Callable[[list[KeyT]], Awaitable[Iterable[ValueT]]],
    key_of: Callable[[ValueT], KeyT],
) -> DataLoader[KeyT, ValueT | None]:
    """The request's loader called ``name``, created on first use: one ``fetch`` per batch of
    keys; a key ``fetch`` does not return loads as None."""
    existing = context.loaders.get(name)
    if existing is not None:
        loader: DataLoader[KeyT, ValueT | None] = existing
        return loader

    async def load(keys: list[KeyT]) -> Sequence[ValueT | None]:
        found = {key_of(value): value for value in await fetch(keys)}
        return [found.get(key) for key in keys]

    created: DataLoader[KeyT, ValueT | None] = DataLoader(load_fn=load)
    context.loaders[name] = created
    return created


def mapped_loader(
    context: ApiContext,
    name: str,
    fetch: Callable[[list[KeyT]], Awaitable[Mapping[KeyT, ValueT]]],
    *,
    missing: Callable[[], ValueT],
) -> DataLoader[KeyT, ValueT]:
    """The request's loader called ``name`` for values ``fetch`` returns by key (one query
    per batch; e.g. each agent's recent activity as a list); a key it leaves out loads as
    ``missing()``. Put an argument the fetch depends on into ``name``."""
    existing = context.loaders.get(name)
    if existing is not None:
        loader: DataLoader[KeyT, ValueT] = existing
        return loader

    async def load(keys: list[KeyT]) -> Sequence[ValueT]:
        found = await fetch(keys)
        return [found[key] if key in found else missing() for key in keys]

    created: DataLoader[KeyT, ValueT] = DataLoader(load_fn=load)
    context.loaders[name] = created
    return created


async def load_ahead(loader: DataLoader[KeyT, Any], keys: Iterable[KeyT | None]) -> None:
    """Load ``keys`` (None skipped) in one batch now: a page does this for the objects its
    rows refer to, so each row's field finds them loaded (``shown``). A load that fails is
    left to the rows' fields, which report it each at its path, as without loading ahead."""
    wanted = {key for key in keys if key is not None}
    if not wanted:
        return
    with contextlib.suppress(Exception):
        await loader.load_many(wanted)


def shown(
    loader: DataLoader[KeyT, ValueT | None], key: KeyT, show: Callable[[ValueT], ShownT]
) -> Shown[ShownT]:
    """A field's value for the object ``key`` refers to: ``show(loaded)`` (None when it is
    not found). At once when the request has loaded it already (``load_ahead``): a plain
    value costs graphql-core no coroutine and no task per row, where an awaitable costs
    both. Otherwise an awaitable that loads it with the request's next batch, as
    ``loader.load`` does."""
    loaded = loader.cache_map.get(key)
    if (
        loaded is not None
        and loaded.done()
        and not loaded.cancelled()
        and loaded.exception() is None
    ):
        value = loaded.result()
        return None if value is None else show(value)
    return _shown_later(loader.load(key), show)


async def _shown_later(
    pending: Awaitable[ValueT | None], show: Callable[[ValueT], ShownT]
) -> ShownT | None:
    value = await pending
    return None if value is None else show(value)


def user_loader(context: ApiContext) -> DataLoader[UUID, User | None]:
    return keyed_loader(context, "users", UserRepo(context.pool).get_many, _id)


def meeting_loader(context: ApiContext) -> DataLoader[UUID, MeetingSummary | None]:
    """Meetings without their transcripts (the API's ``Meeting`` shows none)."""
    workspace_id = context.principal.workspace_id
    repo = MeetingRepo(context.pool)
    return keyed_loader(context, "meetings", lambda ids: repo.get_summaries(workspace_id, ids), _id)


def agent_config_loader(context: ApiContext) -> DataLoader[UUID, StoredAgentConfig | None]:
    workspace_id = context.principal.workspace_id
    repo = AgentConfigRepo(context.pool)
    return keyed_loader(context, "agent_configs", lambda ids: repo.get_many(workspace_id, ids), _id)


def _id(value: Any) -> UUID:
    found: UUID = value.id
    return found
