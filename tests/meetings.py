"""Meeting payloads for tests: the contract's example and ways to break it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from runtime.meetings.models import MeetingIn

EXAMPLE_PATH = Path(__file__).parent / "data" / "meeting.json"


def example_meeting(**changes: Any) -> dict[str, Any]:
    """The contract's example meeting with top-level keys replaced (None removes a key)."""
    meeting: dict[str, Any] = copy.deepcopy(json.loads(EXAMPLE_PATH.read_text()))
    for key, value in changes.items():
        if value is None:
            meeting.pop(key, None)
        else:
            meeting[key] = value
    return meeting


def transcript(*lines: tuple[str, str]) -> list[dict[str, Any]]:
    """A meeting's transcript of (speaker, text) pairs 10 s apart, as the JSON format has it."""
    return [
        {"speaker": speaker, "start_s": float(10 * i), "text": text}
        for i, (speaker, text) in enumerate(lines)
    ]


def dialogue(*lines: tuple[str, str], **changes: Any) -> MeetingIn:
    """The example meeting with this transcript, (speaker, text) pairs 10 s apart."""
    return MeetingIn.model_validate(example_meeting(transcript=transcript(*lines), **changes))


def with_transcript_line(index: int, **changes: Any) -> dict[str, Any]:
    """The example with one transcript line changed (None removes a key)."""
    meeting = example_meeting()
    line = meeting["transcript"][index]
    for key, value in changes.items():
        if value is None:
            line.pop(key, None)
        else:
            line[key] = value
    return meeting


# (payload, field the error must name, words the reason must contain)
BAD_MEETINGS: list[tuple[str, dict[str, Any], str, str]] = [
    ("missing started_at", example_meeting(started_at=None), "started_at", "required"),
    ("non-ISO date", example_meeting(started_at="03/02/2026 3pm"), "started_at", "ISO-8601"),
    (
        "date without zone",
        example_meeting(started_at="2026-03-02T15:00:00"),
        "started_at",
        "timezone",
    ),
    ("number as date", example_meeting(started_at=1767225600), "started_at", "ISO-8601"),
    ("unknown key", example_meeting(priority="high"), "priority", "not a known field"),
    (
        "empty speaker",
        with_transcript_line(1, speaker="  "),
        "transcript[1].speaker",
        "must not be empty",
    ),
    ("line without text", with_transcript_line(0, text=None), "transcript[0].text", "required"),
    ("empty text", with_transcript_line(0, text=""), "transcript[0].text", "must not be empty"),
    (
        "negative start",
        with_transcript_line(0, start_s=-1),
        "transcript[0].start_s",
        "greater than or equal to 0",
    ),
    ("missing external_id", example_meeting(external_id=None), "external_id", "required"),
    ("bad owner email", example_meeting(owner_email="sam"), "owner_email", "email"),
    (
        "internal as text",
        example_meeting(attendees=[{"name": "A", "internal": "yes"}]),
        "attendees[0].internal",
        "boolean",
    ),
    ("duration as text", example_meeting(duration_s="1800"), "duration_s", "integer"),
    ("start as text", with_transcript_line(0, start_s="12.5"), "transcript[0].start_s", "number"),
]
