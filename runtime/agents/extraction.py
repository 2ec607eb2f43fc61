"""The extractor interface: meeting + CRM context in, candidate field values out.

An extractor proposes values; it does not decide. Each candidate carries its evidence
(transcript lines or note text, with the speaker) and the signals confidence is computed
from, so confidence scoring and routing stay outside the extractor and can be calibrated
on their own. The built-in offline extractor and the LLM extractor implement ``Extractor``.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from runtime.crm.port import CrmRecord, Pipeline, PropertyDefinition
from runtime.meetings.models import MeetingIn

__all__ = [
    "Candidate",
    "Evidence",
    "ExtractionContext",
    "Extractor",
    "Signals",
    "SpeakerRole",
]

SpeakerRole = Literal["customer", "rep", "unknown"]
_MODEL = ConfigDict(frozen=True, extra="forbid")


class Evidence(BaseModel):
    """Where a value was read: one transcript line, or a span of the notes."""

    model_config = _MODEL

    source: Literal["transcript", "notes"]
    text: str
    speaker: str | None = None
    line: int | None = Field(default=None, description="Index into the transcript.")
    start_s: float | None = None


class Signals(BaseModel):
    """What a confidence is computed from (see ``runtime.agents.confidence``)."""

    model_config = _MODEL

    speaker_role: SpeakerRole = Field(
        default="unknown", description="Who said it: the customer's word outweighs the rep's."
    )
    explicit: bool = Field(default=True, description="Stated outright rather than inferred.")
    hedged: bool = Field(default=False, description="'maybe', 'probably', 'we hope'...")
    committed: bool = Field(default=False, description="An agreement or commitment.")
    corrected: bool = Field(default=False, description="It replaced an earlier statement.")
    mentions: int = Field(default=1, ge=1, description="Mentions of this same value.")
    conflicting_mentions: int = Field(
        default=0, ge=0, description="Mentions of other values for the same field."
    )


class Candidate(BaseModel):
    """One proposed value for one CRM property, in the CRM's string form."""

    model_config = _MODEL

    field: str
    value: str
    evidence: tuple[Evidence, ...] = ()
    signals: Signals = Field(default_factory=Signals)
    raw_confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="The extractor's own estimate, if it has one."
    )


class ExtractionContext(BaseModel):
    """Everything an extractor may look at."""

    model_config = ConfigDict(frozen=True)

    meeting: MeetingIn
    fields: tuple[str, ...] = Field(description="The CRM properties the agent manages.")
    record: CrmRecord | None = Field(default=None, description="The matched deal, if any.")
    definitions: dict[str, PropertyDefinition] = Field(default_factory=dict)
    pipeline: Pipeline | None = Field(default=None, description="The deal's pipeline.")


class Extractor(Protocol):
    """Proposes candidate values; several candidates for one field are allowed."""

    name: str

    async def extract(self, context: ExtractionContext) -> list[Candidate]: ...
