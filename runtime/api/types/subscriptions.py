"""The seed's subscriptions: ``activityLogCreated``, ``inboxItemCreated``, ``anomalyDetected``.

Each delivers rows as they are *created* (inserts, not status changes), raised by any
process: the triggers of ``migrations/0011`` NOTIFY on commit, and the process's
``EventHub`` (``runtime/api/events_hub.py``) fans each notification out to its
subscribers, so every replica sees what a worker, another replica or the CLI wrote.

Authorization follows ``context.py``: activity and anomalies are the workspace's (any
member; another workspace is ``FORBIDDEN``); inbox items are their user's (a member only
their own, an admin any member's). It is checked on subscribe, and before each event the
token is checked again (cached for ``api.auth_cache_s``), so a revoked token, or a member
who left, stops receiving within that time; a changed role is held to the rules again.
A refusal ends the subscription with one result carrying the error.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TypeVar
from uuid import UUID

import asyncpg
import strawberry

from runtime.activity.models import ActivityLog as StoredActivity
from runtime.activity.repo import ActivityRepo
from runtime.anomalies.models import Anomaly as StoredAnomaly
from runtime.anomalies.repo import AnomalyRepo
from runtime.api.auth import Authenticator, BadTokenError
from runtime.api.context import ApiContext
from runtime.api.errors import ApiError
from runtime.api.events_hub import EventHub
from runtime.api.types.activity import ActivityLog
from runtime.api.types.anomalies import Anomaly
from runtime.api.types.inbox import InboxItem
from runtime.events import ACTIVITY_LOGS, ANOMALIES, INBOX_ITEMS, Event
from runtime.inbox.models import InboxItem as StoredInboxItem
from runtime.inbox.repo import InboxRepo
from runtime.tokens.models import Principal

__all__ = ["Subscription"]

Info = strawberry.Info[ApiContext, None]

StoredT = TypeVar("StoredT")

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

        async for stored in _created(info, ACTIVITY_LOGS, authorize, _activity):
            yield ActivityLog.of(stored)

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

        async for stored in _created(info, INBOX_ITEMS, authorize, _inbox_item):
            yield InboxItem.of(stored)

    @strawberry.subscription(description="The workspace's anomalies, as they are detected.")
    async def anomaly_detected(
        self, info: Info, workspace_id: strawberry.ID
    ) -> AsyncGenerator[Anomaly, None]:
        async def authorize() -> Accept:
            info.context.workspace(workspace_id)
            return _everything

        async for stored in _created(info, ANOMALIES, authorize, _anomaly):
            yield Anomaly.of(stored)


async def _created(
    info: Info,
    channel: str,
    authorize: Callable[[], Awaitable[Accept]],
    fetch: Callable[[asyncpg.Pool, UUID, UUID], Awaitable[StoredT | None]],
) -> AsyncIterator[StoredT]:
    """The rows created on ``channel`` that ``authorize`` lets the principal see."""
    context = info.context
    accept = await authorize()
    hub: EventHub = context.services.extras["events"]
    principal = context.principal

    def wanted(event: Event) -> bool:
        return event.op == "insert" and accept(event)

    async with hub.subscribe(channel, principal.workspace_id, accept=wanted) as events:
        async for event in events:
            refreshed = await _principal_now(context)
            if refreshed != principal:
                principal = refreshed
                accept = await authorize()  # e.g. an admin made a member
            stored = await hub.shared(
                (channel, event.id), partial(fetch, context.pool, event.workspace_id, event.id)
            )
            if stored is None:
                continue  # deleted since
            # A connection's context lives as long as the socket: each event's fields are
            # loaded afresh, as for an HTTP request, not from what earlier events cached.
            context.loaders.clear()
            yield stored


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


def _everything(_event: Event) -> bool:
    return True


async def _activity(
    pool: asyncpg.Pool, workspace_id: UUID, activity_id: UUID
) -> StoredActivity | None:
    found = await ActivityRepo(pool).get_many(workspace_id, [activity_id])
    return found[0] if found else None


async def _inbox_item(
    pool: asyncpg.Pool, workspace_id: UUID, item_id: UUID
) -> StoredInboxItem | None:
    found = await InboxRepo(pool).get_items(workspace_id, [item_id])
    return found[0] if found else None


async def _anomaly(
    pool: asyncpg.Pool, workspace_id: UUID, anomaly_id: UUID
) -> StoredAnomaly | None:
    return await AnomalyRepo(pool).get(workspace_id, anomaly_id)
