"""What an agent run decides: the record match, a route per field, and the preview shape.

``AgentPreviewResult`` and ``FieldUpdate`` are the seed's GraphQL types; ``model_dump(
by_alias=True)`` gives their camelCase field names.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from runtime.agents.extraction import Evidence
from runtime.crm.port import CrmRecord

__all__ = [
    "ActionType",
    "AgentPreviewResult",
    "AgentResult",
    "FieldDecision",
    "FieldUpdate",
    "MatchResult",
    "Route",
]

ActionType = Literal["update", "create", "skip"]
Route = Literal["auto_apply", "review", "skip"]
_MODEL = ConfigDict(frozen=True)


class MatchResult(BaseModel):
    """Which deal the meeting is about, and how sure we are."""

    model_config = _MODEL

    record: CrmRecord | None = Field(description="The chosen deal; None when nothing matched.")
    confidence: float = Field(ge=0.0, le=1.0)
    candidates: tuple[CrmRecord, ...] = Field(
        default=(), description="Every open deal considered, best first (for a human to pick)."
    )
    reason: str = Field(description="Why this record (or none), in a sentence.")
    opens_opportunity: bool = Field(
        default=False,
        description="No deal matched but the meeting clearly opens one: propose a create.",
    )
    company_id: str | None = Field(
        default=None,
        description=(
            "The customer's company in the CRM (through an attending contact, else the"
            " attendees' email domain): a new deal is associated with it."
        ),
    )
    contact_ids: tuple[str, ...] = Field(
        default=(), description="The attendees found as CRM contacts: a new deal's contacts."
    )


class FieldDecision(BaseModel):
    """One field's proposal and where it goes."""

    model_config = _MODEL

    field: str
    before: str | None
    after: str
    confidence: float = Field(ge=0.0, le=1.0)
    route: Route
    reason: str
    evidence: tuple[Evidence, ...] = ()


class AgentResult(BaseModel):
    """The outcome of running an agent on one meeting (one activity log row)."""

    model_config = _MODEL

    action_type: ActionType
    match: MatchResult
    decisions: tuple[FieldDecision, ...] = ()
    overall_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    skip_reason: str | None = None
    warnings: tuple[str, ...] = ()

    def fields_updated(self) -> dict[str, dict[str, Any]]:
        """The seed's ``activity_logs.fields_updated``: {field: {before, after, confidence}}."""
        return {
            d.field: {"before": d.before, "after": d.after, "confidence": d.confidence}
            for d in self.decisions
            if d.route != "skip"
        }


class FieldUpdate(BaseModel):
    """The seed's ``FieldUpdate``."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    field_name: str
    current_value: str | None
    new_value: str
    confidence: float
    source: str | None = None


class AgentPreviewResult(BaseModel):
    """The seed's ``AgentPreviewResult``: what a run would do, with no side effects."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    matched_record: CrmRecord | None
    match_confidence: float | None
    fields_to_update: tuple[FieldUpdate, ...]
    warnings: tuple[str, ...]
