"""Events: PostgreSQL NOTIFY channels, and listening to them.

Triggers (``migrations/0011_create_event_triggers.sql``) send a notification from the same
transaction as every insert and status change of activity logs, inbox items and anomalies,
every new agent run, and every statement that queues writes (``WRITE_OUTBOX``, once per
workspace); it is delivered only if that transaction commits. The payload is
ids only (``{"id", "workspace_id", "user_id", "status", "op"}``): a listener reads the rows
it cares about. Every process (a ``worker``, each Serve replica) can listen, so an event
raised anywhere reaches every subscriber.

Notifications are a wake-up, not a log: one sent while nobody listens is gone. Readers that
must not miss anything (the dispatcher, later the API's subscriptions) also read the table.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Literal
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = [
    "ACTIVITY_LOGS",
    "AGENT_RUNS",
    "ALL_CHANNELS",
    "ANOMALIES",
    "INBOX_ITEMS",
    "WRITE_OUTBOX",
    "Event",
    "listen",
]

_log = logging.getLogger(__name__)

ACTIVITY_LOGS = "crm_agents_activity_logs"
INBOX_ITEMS = "crm_agents_inbox_items"
ANOMALIES = "crm_agents_anomalies"
AGENT_RUNS = "crm_agents_agent_runs"
WRITE_OUTBOX = "crm_agents_write_outbox"  # id = workspace_id: that workspace has rows to write
ALL_CHANNELS: tuple[str, ...] = (ACTIVITY_LOGS, INBOX_ITEMS, ANOMALIES, AGENT_RUNS, WRITE_OUTBOX)


class Event(BaseModel):
    """One notification: which row of which table changed, and how."""

    model_config = ConfigDict(frozen=True)

    channel: str
    id: UUID
    workspace_id: UUID
    user_id: UUID | None = None
    status: str | None = None
    op: Literal["insert", "update"]

    @classmethod
    def parse(cls, channel: str, payload: str) -> Event:
        """The event of a notification's payload; ValueError when it is not ours."""
        try:
            fields = json.loads(payload)
            if not isinstance(fields, dict):
                raise ValueError("not an object")
            return cls.model_validate({**fields, "channel": channel})
        except (ValueError, ValidationError) as exc:
            raise ValueError(f"not an event payload on {channel}: {payload[:200]!r}") from exc


@asynccontextmanager
async def listen(
    conn: asyncpg.Connection, channels: Sequence[str] = ALL_CHANNELS
) -> AsyncIterator[asyncio.Queue[Event]]:
    """Listen on ``channels`` with a dedicated connection; events arrive on the queue.

    The connection must stay out of a pool's rotation while listening (LISTEN belongs to the
    session). Payloads that do not parse are logged and dropped.
    """
    queue: asyncio.Queue[Event] = asyncio.Queue()

    def deliver(_conn: object, _pid: int, channel: str, payload: object) -> None:
        try:
            queue.put_nowait(Event.parse(channel, str(payload)))
        except ValueError as exc:
            _log.warning("%s", exc)

    for channel in channels:
        await conn.add_listener(channel, deliver)
    try:
        yield queue
    finally:
        if not conn.is_closed():
            for channel in channels:
                await conn.remove_listener(channel, deliver)
