"""The meeting contract: what is accepted, and how bad input is reported."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runtime.errors import InvalidInputError
from runtime.meetings.service import parse_meeting
from tests.meetings import BAD_MEETINGS, EXAMPLE_PATH, example_meeting


def test_the_contract_example_parses() -> None:
    meeting = parse_meeting(EXAMPLE_PATH.read_bytes())
    assert meeting.external_id == "zoom-88123"
    assert meeting.started_at.isoformat() == "2026-03-02T15:00:00+00:00"
    assert [a.internal for a in meeting.attendees] == [True, False]
    assert meeting.transcript[1].text == "Sure. We have budget of about 60k for this."


def test_notes_only_meeting_is_accepted() -> None:
    meeting = parse_meeting(example_meeting(transcript=[], notes="Customer agreed to 60k."))
    assert meeting.transcript == []


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [pytest.param(p, f, r, id=name) for name, p, f, r in BAD_MEETINGS],
)
def test_bad_input_names_the_field_and_the_reason(
    payload: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_meeting(json.dumps(payload), source="meeting.json")
    fields = [f for f, _ in caught.value.problems]
    assert field in fields
    message = dict(caught.value.problems)[field]
    assert reason in message
    assert f"meeting.json: {field}: " in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    payload = example_meeting(started_at=None, extra_key=1)
    payload["transcript"][0]["text"] = ""
    with pytest.raises(InvalidInputError) as caught:
        parse_meeting(payload)
    assert {f for f, _ in caught.value.problems} == {
        "started_at",
        "extra_key",
        "transcript[0].text",
    }


def test_text_that_is_not_json_is_refused_with_its_position() -> None:
    with pytest.raises(InvalidInputError, match=r"is not JSON: .* line 1 column"):
        parse_meeting('{"external_id": ')


def test_a_json_array_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="must be a JSON object, not list"):
        parse_meeting("[]")


def test_equal_meetings_have_equal_fingerprints_however_spelled() -> None:
    a = parse_meeting(example_meeting())
    b = parse_meeting(
        example_meeting(
            started_at="2026-03-02T16:00:00+01:00", title="  Discovery call - Acme Corp "
        )
    )
    assert a.fingerprint() == b.fingerprint()


def test_any_change_of_content_changes_the_fingerprint() -> None:
    a = parse_meeting(example_meeting())
    b = parse_meeting(example_meeting(notes="different"))
    assert a.fingerprint() != b.fingerprint()
