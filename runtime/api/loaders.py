"""DataLoaders: each request loads the objects its fields refer to in one query per kind.

A page of 100 activity rows that each show their agent, user and meeting costs three
queries, not 300. Loaders live on the request's context (``ApiContext.loaders``), so
nothing is cached beyond one request. Every loader but the user one is scoped to the
principal's workspace: an id of another workspace loads as None.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from uuid import UUID

from strawberry.dataloader import DataLoader

from runtime.agent_configs.models import StoredAgentConfig
from runtime.agent_configs.repo import AgentConfigRepo
from runtime.api.context import ApiContext
from runtime.meetings.models import Meeting
from runtime.meetings.repo import MeetingRepo
from runtime.users.models import User
from runtime.users.repo import UserRepo

__all__ = [
    "agent_config_loader",
    "keyed_loader",
    "mapped_loader",
    "meeting_loader",
    "user_loader",
]

KeyT = TypeVar("KeyT", bound=Hashable)
ValueT = TypeVar("ValueT")


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


def user_loader(context: ApiContext) -> DataLoader[UUID, User | None]:
    return keyed_loader(context, "users", UserRepo(context.pool).get_many, _id)


def meeting_loader(context: ApiContext) -> DataLoader[UUID, Meeting | None]:
    workspace_id = context.principal.workspace_id
    repo = MeetingRepo(context.pool)
    return keyed_loader(context, "meetings", lambda ids: repo.get_many(workspace_id, ids), _id)


def agent_config_loader(context: ApiContext) -> DataLoader[UUID, StoredAgentConfig | None]:
    workspace_id = context.principal.workspace_id
    repo = AgentConfigRepo(context.pool)
    return keyed_loader(context, "agent_configs", lambda ids: repo.get_many(workspace_id, ids), _id)


def _id(value: Any) -> UUID:
    found: UUID = value.id
    return found
