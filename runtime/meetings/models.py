"""The meeting contract (``meeting.json``) and the stored meeting."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from runtime.validation import Email, IsoDateTime, NonEmptyStr

__all__ = ["Attendee", "Meeting", "MeetingIn", "MeetingSummary", "TranscriptLine"]

_INPUT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Attendee(BaseModel):
    model_config = _INPUT

    name: NonEmptyStr
    email: Email | None = None
    internal: StrictBool = Field(description="True for people of the selling company.")
    title: str | None = None


class TranscriptLine(BaseModel):
    model_config = _INPUT

    speaker: NonEmptyStr
    start_s: StrictFloat = Field(ge=0, description="Seconds from the call's start.")
    text: NonEmptyStr


class _MeetingHeader(BaseModel):
    """What a meeting says about itself, without its transcript and notes."""

    model_config = _INPUT

    external_id: NonEmptyStr = Field(max_length=255)
    title: NonEmptyStr
    call_type: NonEmptyStr | None = Field(default=None, max_length=100)
    started_at: IsoDateTime
    duration_s: StrictInt | None = Field(default=None, ge=0)
    owner_email: Email | None = Field(default=None, max_length=320)
    attendees: list[Attendee] = Field(default_factory=list)


class MeetingIn(_MeetingHeader):
    """A meeting as the meeting service hands it over. Unknown keys are refused."""

    transcript: list[TranscriptLine] = Field(default_factory=list)
    notes: str | None = None

    def fingerprint(self) -> str:
        """Hash of the meeting's content, equal for equal meetings however they were spelled."""
        canonical = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


class Meeting(MeetingIn):
    """A stored meeting."""

    id: UUID
    workspace_id: UUID
    content_sha256: str = Field(description="MeetingIn.fingerprint() of the stored content.")
    created_at: datetime

    def content(self) -> MeetingIn:
        """The meeting as it was handed over, without what storing it added."""
        return MeetingIn.model_validate(self.model_dump(include=set(MeetingIn.model_fields)))


class MeetingSummary(_MeetingHeader):
    """A stored meeting without its transcript and notes: what the API shows of one, read
    without the transcript's weight."""

    id: UUID
    workspace_id: UUID
    created_at: datetime
