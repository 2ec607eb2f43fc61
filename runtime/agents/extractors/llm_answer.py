"""The LLM extractor's answer: its JSON schema, and its validation into ``Candidate``s.

The model answers one object, ``{"candidates": [...]}``. Each candidate names a managed
field, a value in the CRM's string form, and where it was said: transcript line indexes or
an excerpt of the notes. Evidence text is copied from the meeting, never from the answer,
so the model cannot invent a quote: a line index out of range or an excerpt that is not in
the notes breaks the schema like an unknown field or a value in the wrong form does. The
speaker of a transcript line is looked up among the attendees; the model's own
``speaker_role`` only counts when the speaker is not an attendee, or for the notes.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from runtime.agents.extraction import (
    Candidate,
    Evidence,
    ExtractionContext,
    Signals,
    SpeakerRole,
)
from runtime.errors import ExtractionError, invalid_from_pydantic
from runtime.meetings.models import MeetingIn

__all__ = ["LlmAnswer", "LlmCandidate", "LlmEvidence", "answer_schema", "parse_answer"]

_ANSWER = ConfigDict(extra="forbid", frozen=True)
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SPACES = re.compile(r"\s+")
_ROLE_RANK: dict[SpeakerRole, int] = {"rep": 0, "unknown": 1, "customer": 2}


class LlmEvidence(BaseModel):
    """Where the model read a value: a transcript line (by index) or an excerpt of the notes."""

    model_config = _ANSWER

    source: Literal["transcript", "notes"]
    line: int | None = Field(
        description="Index of the transcript line (source transcript), else null."
    )
    excerpt: str | None = Field(
        description="Verbatim excerpt of the notes (source notes), else null."
    )

    @field_validator("line")
    @classmethod
    def _is_a_transcript_line(cls, line: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("source") != "transcript":
            return line
        if line is None:
            raise ValueError("is required for transcript evidence")
        count = len(_context(info).meeting.transcript)
        if not 0 <= line < count:
            raise ValueError(f"{line} is not a transcript line index (0 to {count - 1})")
        return line

    @field_validator("excerpt")
    @classmethod
    def _is_in_the_notes(cls, excerpt: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("source") != "notes":
            return excerpt
        if excerpt is None or not excerpt.strip():
            raise ValueError("is required for notes evidence")
        if _squash(excerpt) not in _squash(_context(info).meeting.notes or ""):
            raise ValueError(f"{_cut(excerpt)!r} is not in the meeting's notes")
        return excerpt


class LlmCandidate(BaseModel):
    """One proposed value with its evidence and how it was said."""

    model_config = _ANSWER

    field: str = Field(description="One of the managed fields.")
    value: str = Field(description="The value in the CRM's string form.")
    evidence: list[LlmEvidence] = Field(
        min_length=1, description="Every place the value was stated."
    )
    speaker_role: SpeakerRole = Field(description="Who stated it: customer, rep or unknown.")
    explicit: bool = Field(description="Stated outright rather than inferred.")
    hedged: bool = Field(description="Qualified: maybe, probably, around, we hope.")
    committed: bool = Field(description="Agreed or committed to.")
    corrected: bool = Field(description="It replaced an earlier statement.")
    confidence: float | None = Field(ge=0.0, le=1.0, description="Your estimate, 0 to 1.")

    @field_validator("field")
    @classmethod
    def _is_managed(cls, field: str, info: ValidationInfo) -> str:
        if field not in _context(info).fields:
            raise ValueError(f"{_cut(field)!r} is not a managed field")
        return field

    @field_validator("value")
    @classmethod
    def _is_in_crm_form(cls, value: str, info: ValidationInfo) -> str:
        field = info.data.get("field")
        if field is None:  # the field itself was refused
            return value
        problem = _form_problem(field, value.strip(), _context(info))
        if problem is not None:
            raise ValueError(problem)
        return value.strip()


class LlmAnswer(BaseModel):
    """The whole answer: zero or more candidates."""

    model_config = _ANSWER

    candidates: list[LlmCandidate]


def answer_schema() -> dict[str, Any]:
    """The JSON schema the endpoint is asked to answer with (``response_format``)."""
    return LlmAnswer.model_json_schema()


def parse_answer(content: str, context: ExtractionContext) -> list[Candidate]:
    """Validate the model's message content and turn it into candidates.

    Raises:
        ExtractionError: the content is not JSON, or breaks the schema; the message names
            the offending path, e.g. ``candidates[0].field``.
    """
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        raise ExtractionError(
            f"LLM answer is not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    if not isinstance(data, dict):
        raise ExtractionError(f"LLM answer must be a JSON object, not {type(data).__name__}")
    try:
        answer = LlmAnswer.model_validate(data, context={"extraction": context})
    except ValidationError as exc:
        problems = invalid_from_pydantic(exc).problems
        detail = "; ".join(f"{field}: {reason}" for field, reason in problems)
        raise ExtractionError(f"LLM answer: {detail}") from exc
    return _candidates(answer, context.meeting)


def _context(info: ValidationInfo) -> ExtractionContext:
    if not isinstance(info.context, dict) or "extraction" not in info.context:
        raise RuntimeError("validate LLM answers with parse_answer (it passes the context)")
    context: ExtractionContext = info.context["extraction"]
    return context


def _form_problem(field: str, value: str, context: ExtractionContext) -> str | None:
    """Why ``value`` is not in the CRM form the prompt asked for, or None."""
    if not value:
        return "must not be empty"
    if field == "amount" and not _PLAIN_NUMBER.fullmatch(value):
        return f"{_cut(value)!r} is not a plain number such as 60000 (amount)"
    if field == "closedate":
        try:
            if not _ISO_DAY.fullmatch(value):
                raise ValueError(value)
            date.fromisoformat(value)
        except ValueError:
            return f"{_cut(value)!r} is not a date YYYY-MM-DD (closedate)"
    if field == "dealstage" and context.pipeline is not None:
        stages = [stage.id for stage in context.pipeline.stages]
        if value not in stages:
            return f"{_cut(value)!r} is not a stage id of pipeline {context.pipeline.id!r}"
    return None


def _candidates(answer: LlmAnswer, meeting: MeetingIn) -> list[Candidate]:
    roles = _attendee_roles(meeting)
    said: dict[tuple[str, str], int] = {}  # mentions per (field, value), to count conflicts
    for c in answer.candidates:
        said[c.field, c.value] = said.get((c.field, c.value), 0) + len(c.evidence)
    found: list[Candidate] = []
    for item in answer.candidates:
        value = item.value
        evidence = tuple(dict.fromkeys(_evidence(e, meeting) for e in item.evidence))
        heard = [roles.get(e.speaker.casefold()) for e in evidence if e.speaker is not None]
        known = [role for role in heard if role is not None]
        role = max(known, key=_ROLE_RANK.__getitem__) if known else item.speaker_role
        found.append(
            Candidate(
                field=item.field,
                value=value,
                evidence=evidence,
                signals=Signals(
                    speaker_role=role,
                    explicit=item.explicit,
                    hedged=item.hedged,
                    committed=item.committed,
                    corrected=item.corrected,
                    mentions=len(evidence),
                    conflicting_mentions=sum(
                        n for (f, v), n in said.items() if f == item.field and v != value
                    ),
                ),
                raw_confidence=item.confidence,
            )
        )
    return found


def _evidence(ref: LlmEvidence, meeting: MeetingIn) -> Evidence:
    if ref.source == "notes":
        return Evidence(source="notes", text=_excerpt_of(meeting.notes or "", ref.excerpt or ""))
    assert ref.line is not None  # checked by the validator
    line = meeting.transcript[ref.line]
    return Evidence(
        source="transcript",
        text=line.text,
        speaker=line.speaker,
        line=ref.line,
        start_s=line.start_s,
    )


def _excerpt_of(notes: str, excerpt: str) -> str:
    """The notes' own text for an excerpt the validator found in them (whitespace aside)."""
    words = excerpt.split()
    pattern = r"\s+".join(re.escape(word) for word in words)
    found = re.search(pattern, notes, re.IGNORECASE)
    return found.group(0) if found else excerpt.strip()


def _attendee_roles(meeting: MeetingIn) -> dict[str, SpeakerRole]:
    """Speaker name (full, or first name when unambiguous) to role, casefolded."""
    roles: dict[str, SpeakerRole] = {}
    first: dict[str, set[bool]] = {}
    for attendee in meeting.attendees:
        first.setdefault(attendee.name.split()[0].casefold(), set()).add(attendee.internal)
    for name, flags in first.items():
        if len(flags) == 1:
            roles[name] = "rep" if flags.pop() else "customer"
    for attendee in meeting.attendees:
        roles[attendee.name.casefold()] = "rep" if attendee.internal else "customer"
    return roles


def _squash(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


def _cut(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
