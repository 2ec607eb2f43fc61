"""The seed's subscriptions: ``activityLogCreated``, ``inboxItemCreated``, ``anomalyDetected``;
and their status changes: ``activityLogUpdated``, ``inboxItemUpdated``, ``anomalyUpdated``.

The ``...Created`` ones deliver rows as they are created, the ``...Updated`` ones each
change of a row's status (the row as it is after that change), raised by any process: the
triggers of ``migrations/0011`` NOTIFY on commit, and the process's
``EventHub`` (``runtime/api/events_hub.py``) fans each notification out to its
subscribers, so every replica sees what a worker, another replica or the CLI wrote.

Authorization follows ``context.py``: activity and anomalies are the workspace's (any
member; another workspace is ``FORBIDDEN``); inbox items are their user's (a member only
their own, an admin any member's). It is checked on subscribe, and before each event the
token is checked again (cached for ``api.auth_cache_s``), so a revoked token, or a member
who left, stops receiving within that time; a changed role is held to the rules again.
A refusal ends the subscription with one result carrying the error.

Every subscriber of an event in a process is handed the same object, loaded once
(``EventHub.shared``): a selection that cannot depend on who asks is then executed and
encoded once for all of them and sent by the stream itself (``runtime/api/fanout.py``);
each subscriber's own rules above still decide whether the event reaches it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Literal, TypeVar
from uuid import UUID

import asyncpg
import strawberry

from runtime.activity.repo import ActivityRepo
from runtime.anomalies.repo import AnomalyRepo
from runtime.api.auth import Authenticator, BadTokenError
from runtime.api.context import ApiContext
from runtime.api.errors import ApiError
from runtime.api.events_hub import EventHub, Loader, event_key
from runtime.api.fanout import shared_sender
from runtime.api.types.activity import ActivityLog
from runtime.api.types.anomalies import Anomaly
from runtime.api.types.inbox import InboxItem
from runtime.events import ACTIVITY_LOGS, ANOMALIES, INBOX_ITEMS, Event
from runtime.inbox.repo import InboxRepo
from runtime.tokens.models import Principal

__all__ = ["Subscription", "event_loaders"]

Info = strawberry.Info[ApiContext, None]

NodeT = TypeVar("NodeT")

Accept = Callable[[Event], bool]
"""Which events of the principal's workspace a subscriber may receive."""


@strawberry.type
class Subscription:
    @strawberry.subscription(description="The workspace's activity rows, as they are created.")
    async def activity_log_created(
        self, info: Info, workspace_id: strawberry.ID
    ) -> AsyncGenerator[ActivityLog, None]:
        async def authorize() -> Accept:
            info.context.workspace(workspace_id)
            return _everything

        async for node in _created(info, ACTIVITY_LOGS, authorize, _activity):
            yield node

    @strawberry.subscription(
        description=(
            "A user's new inbox items: a member may follow only their own, an admin any member's."
        )
    )
    async def inbox_item_created(
        self, info: Info, user_id: strawberry.ID
    ) -> AsyncGenerator[InboxItem, None]:
        async def authorize() -> Accept:
            user = await info.context.user(user_id)
            return lambda event: event.user_id == user

        async for node in _created(info, INBOX_ITEMS, authorize, _inbox_item):
            yield node

    @strawberry.subscription(description="The workspace's anomalies, as they are detected.")
    async def anomaly_detected(
        self, info: Info, workspace_id: strawberry.ID
    ) -> AsyncGenerator[Anomaly, None]:
        async def authorize() -> Accept:
            info.context.workspace(workspace_id)
            return _everything

        async for node in _created(info, ANOMALIES, authorize, _anomaly):
            yield node

    @strawberry.subscription(
        description="The workspace's activity rows whose status changed: a run's fields"
        " written (SUCCESS), refused (FAILED) or rejected (REJECTED)."
    )
    async def activity_log_updated(
        self, info: Info, workspace_id: strawberry.ID
    ) -> AsyncGenerator[ActivityLog, None]:
        async def authorize() -> Accept:
            info.context.workspace(workspace_id)
            return _everything

        async for node in _events(info, ACTIVITY_LOGS, "update", authorize, _activity):
            yield node

    @strawberry.subscription(
        description="A user's inbox items whose status changed: decided, expired, superseded,"
        " answered, or pending again (a field the writer sent back for review). A member may"
        " follow only their own, an admin any member's."
    )
    async def inbox_item_updated(
        self, info: Info, user_id: strawberry.ID
    ) -> AsyncGenerator[InboxItem, None]:
        async def authorize() -> Accept:
            user = await info.context.user(user_id)
            return lambda event: event.user_id == user

        async for node in _events(info, INBOX_ITEMS, "update", authorize, _inbox_item):
            yield node

    @strawberry.subscription(
        description="The workspace's anomalies whose status changed: acknowledged or resolved."
    )
    async def anomaly_updated(
        self, info: Info, workspace_id: strawberry.ID
    ) -> AsyncGenerator[Anomaly, None]:
        async def authorize() -> Accept:
            info.context.workspace(workspace_id)
            return _everything

        async for node in _events(info, ANOMALIES, "update", authorize, _anomaly):
            yield node


def _created(
    info: Info,
    channel: str,
    authorize: Callable[[], Awaitable[Accept]],
    fetch: Callable[[asyncpg.Pool, UUID, UUID], Awaitable[NodeT | None]],
) -> AsyncIterator[NodeT]:
    """The rows created on ``channel`` that ``authorize`` lets the principal see."""
    return _events(info, channel, "insert", authorize, fetch)


async def _events(
    info: Info,
    channel: str,
    op: Literal["insert", "update"],
    authorize: Callable[[], Awaitable[Accept]],
    fetch: Callable[[asyncpg.Pool, UUID, UUID], Awaitable[NodeT | None]],
) -> AsyncIterator[NodeT]:
    """The rows created (``op`` insert) or whose status changed (update) on ``channel`` that
    ``authorize`` lets the principal see, as the objects ``fetch`` makes of them: one object
    per event for all its subscribers."""
    context = info.context
    accept = await authorize()
    hub: EventHub = context.services.extras["events"]
    principal = context.principal

    def wanted(event: Event) -> bool:
        return event.op == op and accept(event)

    # None: each event goes through strawberry (executed for this subscriber alone).
    sender = shared_sender(info)

    async with hub.subscribe(channel, principal.workspace_id, accept=wanted) as events:
        async for event in events:
            refreshed = await _principal_now(context)
            if refreshed != principal:
                principal = refreshed
                accept = await authorize()  # e.g. an admin made a member
                if not wanted(event):
                    continue  # this event too is held to the rules as they are now
            node = await hub.shared(
                event_key(event), partial(fetch, context.pool, event.workspace_id, event.id)
            )
            if node is None:
                continue  # deleted since
            if sender is not None:
                await sender.send(node)  # executed once for all who share the selection
                continue
            # A connection's context lives as long as the socket: each event's fields are
            # loaded afresh, as for an HTTP request, not from what earlier events cached.
            context.loaders.clear()
            yield node


async def _principal_now(context: ApiContext) -> Principal:
    """The connection's token checked again; ``UNAUTHENTICATED`` once it is not live."""
    authenticator: Authenticator = context.services.extras["authenticator"]
    try:
        principal = await authenticator.from_connection_params(context.connection_params)
    except BadTokenError:
        principal = None
    if principal is None or principal.workspace_id != context.principal.workspace_id:
        context.principal_or_none = None
        raise ApiError.unauthenticated()
    context.principal_or_none = principal
    return principal


def event_loaders(pool: asyncpg.Pool) -> dict[str, Loader]:
    """What the subscriptions make of each channel's events, for ``EventHub(loaders=...)``:
    the hub loads an event once, before its subscribers wake (they find it ready)."""

    def loader(fetch: Callable[[asyncpg.Pool, UUID, UUID], Awaitable[object]]) -> Loader:
        return lambda event: fetch(pool, event.workspace_id, event.id)

    return {
        ACTIVITY_LOGS: loader(_activity),
        INBOX_ITEMS: loader(_inbox_item),
        ANOMALIES: loader(_anomaly),
    }


def _everything(_event: Event) -> bool:
    return True


async def _activity(
    pool: asyncpg.Pool, workspace_id: UUID, activity_id: UUID
) -> ActivityLog | None:
    found = await ActivityRepo(pool).get_many(workspace_id, [activity_id])
    return ActivityLog.of(found[0]) if found else None


async def _inbox_item(pool: asyncpg.Pool, workspace_id: UUID, item_id: UUID) -> InboxItem | None:
    found = await InboxRepo(pool).get_items(workspace_id, [item_id])
    return InboxItem.of(found[0]) if found else None


async def _anomaly(pool: asyncpg.Pool, workspace_id: UUID, anomaly_id: UUID) -> Anomaly | None:
    found = await AnomalyRepo(pool).get(workspace_id, anomaly_id)
    return None if found is None else Anomaly.of(found)
