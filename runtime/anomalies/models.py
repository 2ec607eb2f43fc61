"""An anomaly as stored, and what the detector hands over to store one.

Lifecycle: ``active`` (new) -> ``acknowledged`` (someone is looking at it: who and when are
kept) -> ``resolved`` (closed: who and when). An active anomaly may also be resolved
directly. Each step happens once: the update is conditional on the current status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from runtime.validation import NonEmptyStr

__all__ = [
    "ANOMALY_SEVERITIES",
    "ANOMALY_STATUSES",
    "Anomaly",
    "AnomalyCreate",
    "AnomalySeverity",
    "AnomalyStatus",
]

AnomalySeverity = Literal["info", "warning", "error"]
AnomalyStatus = Literal["active", "acknowledged", "resolved"]
ANOMALY_SEVERITIES: tuple[AnomalySeverity, ...] = ("info", "warning", "error")
ANOMALY_STATUSES: tuple[AnomalyStatus, ...] = ("active", "acknowledged", "resolved")


class AnomalyCreate(BaseModel):
    """A new anomaly of a workspace, as the detector reports it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    anomaly_type: Annotated[
        str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)
    ] = Field(examples=["high_failure_rate", "unusual_pattern"])
    severity: AnomalySeverity = "warning"
    title: NonEmptyStr = Field(max_length=255)
    description: str | None = None
    data: dict[str, JsonValue] | None = Field(
        default=None, description="Supporting figures, e.g. the agent and its failure rate."
    )


class Anomaly(BaseModel):
    """An ``anomalies`` row; NULL status and severity read as the seed's defaults."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    workspace_id: UUID
    anomaly_type: str
    severity: AnomalySeverity
    title: str
    description: str | None
    data: Any = Field(description="The supporting data, as stored (any JSON).")
    status: AnomalyStatus
    acknowledged_by: UUID | None
    acknowledged_at: datetime | None
    resolved_by: UUID | None
    resolved_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Anomaly:
        data = dict(row)
        if data.get("status") is None:
            data["status"] = "active"
        if data.get("severity") is None:
            data["severity"] = "warning"
        return cls.model_validate(data)
