"""``Anomaly``, the ``anomalies`` query and the ``acknowledgeAnomaly`` / ``resolveAnomaly``
mutations.

Anomalies are about the workspace's agents, so they are workspace-wide: any member reads
them, and any member may acknowledge one (it records that someone is looking at it, and
who). Resolving closes it for everyone and is for admins (members get ``FORBIDDEN``), as
is the agents' configuration that fixes what went wrong. An anomaly of another workspace
is ``NOT_FOUND``; a second acknowledge, or any step on a resolved anomaly, is ``CONFLICT``
and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

import asyncpg
import strawberry

from runtime.anomalies import service
from runtime.anomalies.models import Anomaly as StoredAnomaly
from runtime.api.context import ApiContext
from runtime.api.ids import parse_id
from runtime.api.inputs import input_path, service_errors
from runtime.api.loaders import user_loader
from runtime.api.types.common import JSON, AnomalySeverity, AnomalyStatus, User
from runtime.tokens.models import Principal

__all__ = ["Anomaly", "Mutation", "Query"]

Info = strawberry.Info[ApiContext, None]


class AnomalyChange(Protocol):
    """``service.acknowledge`` or ``service.resolve``."""

    async def __call__(
        self,
        conn: asyncpg.Connection,
        workspace_id: UUID,
        anomaly_id: UUID,
        *,
        by: UUID,
        now: datetime,
    ) -> StoredAnomaly: ...


@strawberry.type(description="Something unusual about the workspace's agents, and its state.")
class Anomaly:
    stored: strawberry.Private[StoredAnomaly]
    id: strawberry.ID
    anomaly_type: str = strawberry.field(description="e.g. high_failure_rate, unusual_pattern.")
    severity: AnomalySeverity
    title: str
    description: str | None
    data: JSON | None = strawberry.field(description="The figures behind it.")
    status: AnomalyStatus
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, stored: StoredAnomaly) -> Anomaly:
        return cls(
            stored=stored,
            id=strawberry.ID(str(stored.id)),
            anomaly_type=stored.anomaly_type,
            severity=AnomalySeverity(stored.severity),
            title=stored.title,
            description=stored.description,
            data=None if stored.data is None else JSON(stored.data),
            status=AnomalyStatus(stored.status),
            acknowledged_at=stored.acknowledged_at,
            resolved_at=stored.resolved_at,
            created_at=stored.created_at,
        )

    @strawberry.field(description="Who acknowledged it; null while nobody has.")
    async def acknowledged_by(self, info: Info) -> User | None:
        return await _user(info, self.stored.acknowledged_by)

    @strawberry.field(description="Who resolved it; null until resolved.")
    async def resolved_by(self, info: Info) -> User | None:
        return await _user(info, self.stored.resolved_by)


async def _user(info: Info, user_id: UUID | None) -> User | None:
    if user_id is None:
        return None
    found = await user_loader(info.context).load(user_id)
    return None if found is None else User.of(found)


@strawberry.type
class Query:
    @strawberry.field(
        description=(
            "The workspace's anomalies, newest first, of one status when given; at most"
            f" `limit` (default and null: 100; at most {service.MAX_LISTED})."
        )
    )
    async def anomalies(
        self,
        info: Info,
        workspace_id: strawberry.ID,
        status: AnomalyStatus | None = None,
        limit: int | None = 100,
    ) -> list[Anomaly]:
        workspace = info.context.workspace(workspace_id)
        with service_errors(_path):
            found = await service.list_anomalies(
                info.context.pool,
                workspace,
                status=None if status is None else status.value,
                limit=100 if limit is None else limit,
            )
        return [Anomaly.of(anomaly) for anomaly in found]


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Say someone is looking at an active anomaly (any member); once only."
    )
    async def acknowledge_anomaly(self, info: Info, id: strawberry.ID) -> Anomaly:
        return await _changed(info, info.context.principal, id, service.acknowledge)

    @strawberry.mutation(description="Close an active or acknowledged anomaly (admins).")
    async def resolve_anomaly(self, info: Info, id: strawberry.ID) -> Anomaly:
        return await _changed(info, info.context.admin(), id, service.resolve)


async def _changed(
    info: Info, principal: Principal, id: strawberry.ID, change: AnomalyChange
) -> Anomaly:
    """The anomaly ``id`` after ``change`` (``service.acknowledge`` or ``resolve``) by
    ``principal``, who passed the mutation's authorization."""
    anomaly_id = parse_id(id, "id")
    async with info.context.pool.acquire() as conn:
        with service_errors(_path):
            changed = await change(
                conn,
                principal.workspace_id,
                anomaly_id,
                by=principal.user_id,
                now=info.context.services.clock.now(),
            )
    return Anomaly.of(changed)


def _path(field: str) -> str:
    """The services name arguments (``id``, ``limit``), not input fields."""
    return input_path(field, root="")
