"""Use cases around anomalies: list a workspace's, acknowledge one, resolve one.

Who may do what is the API's to check (``runtime.api.types.anomalies``): anomalies are
workspace-wide, so any member reads them and acknowledges one ("I am looking at it");
resolving closes it for everyone, which is for admins, who manage the agents.

Each transition happens once: a second acknowledge, or acknowledging a resolved anomaly,
changes nothing and raises ``ConflictError`` saying what the anomaly's state is. Each one is
audited in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg

from runtime.anomalies.models import Anomaly, AnomalyStatus
from runtime.anomalies.repo import AnomalyRepo
from runtime.audit.models import AuditEntry
from runtime.audit.repo import AuditRepo
from runtime.db import Executor
from runtime.errors import ConflictError, InvalidInputError, NotFoundError

__all__ = ["MAX_LISTED", "acknowledge", "list_anomalies", "resolve"]

MAX_LISTED = 500
"""The most anomalies one list returns (the newest)."""


async def list_anomalies(
    db: Executor, workspace_id: UUID, *, status: AnomalyStatus | None = None, limit: int = 100
) -> list[Anomaly]:
    """The workspace's newest anomalies, of one status when given.

    Raises:
        InvalidInputError: ``limit`` outside 1..MAX_LISTED (field ``limit``).
    """
    if not 1 <= limit <= MAX_LISTED:
        raise InvalidInputError.one("limit", f"must be between 1 and {MAX_LISTED}")
    return await AnomalyRepo(db).list(workspace_id, status=status, limit=limit)


async def acknowledge(
    conn: asyncpg.Connection, workspace_id: UUID, anomaly_id: UUID, *, by: UUID, now: datetime
) -> Anomaly:
    """Mark an active anomaly acknowledged by ``by``.

    Raises:
        NotFoundError: no such anomaly in the workspace (field ``id``).
        ConflictError: it is already acknowledged or resolved (field ``id``).
    """
    return await _change(conn, workspace_id, anomaly_id, "acknowledge", by=by, now=now)


async def resolve(
    conn: asyncpg.Connection, workspace_id: UUID, anomaly_id: UUID, *, by: UUID, now: datetime
) -> Anomaly:
    """Mark an active or acknowledged anomaly resolved by ``by``.

    Raises:
        NotFoundError: no such anomaly in the workspace (field ``id``).
        ConflictError: it is already resolved (field ``id``).
    """
    return await _change(conn, workspace_id, anomaly_id, "resolve", by=by, now=now)


async def _change(
    conn: asyncpg.Connection,
    workspace_id: UUID,
    anomaly_id: UUID,
    verb: Literal["acknowledge", "resolve"],
    *,
    by: UUID,
    now: datetime,
) -> Anomaly:
    """The anomaly acknowledged or resolved, audited; why not when it cannot be."""
    async with conn.transaction():
        repo = AnomalyRepo(conn)
        change = repo.acknowledge if verb == "acknowledge" else repo.resolve
        changed = await change(workspace_id, anomaly_id, by=by, at=now)
        if changed is None:
            raise await _why_unchanged(conn, workspace_id, anomaly_id, verb)
        await _audit(conn, changed, by=by, verb=verb, now=now)
    return changed


async def _why_unchanged(
    conn: asyncpg.Connection,
    workspace_id: UUID,
    anomaly_id: UUID,
    verb: Literal["acknowledge", "resolve"],
) -> NotFoundError | ConflictError:
    current = await AnomalyRepo(conn).get(workspace_id, anomaly_id)
    if current is None:
        return NotFoundError("anomaly", str(anomaly_id), field="id")
    if current.status == "acknowledged":
        when = current.acknowledged_at.isoformat() if current.acknowledged_at else "earlier"
        return ConflictError("id", f"cannot {verb}: the anomaly was already acknowledged ({when})")
    when = current.resolved_at.isoformat() if current.resolved_at else "earlier"
    return ConflictError("id", f"cannot {verb}: the anomaly is already resolved ({when})")


async def _audit(
    conn: asyncpg.Connection, anomaly: Anomaly, *, by: UUID, verb: str, now: datetime
) -> None:
    await AuditRepo(conn).insert_many(
        [
            AuditEntry(
                workspace_id=anomaly.workspace_id,
                actor_user_id=by,
                action=f"anomaly.{verb}",
                target_type="anomaly",
                target_id=str(anomaly.id),
                details={"anomaly_type": anomaly.anomaly_type, "severity": anomaly.severity},
                created_at=now,
            )
        ]
    )
