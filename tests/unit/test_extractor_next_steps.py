"""Next-step rules: the agreed action at the end of the call, who does what by when."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.agents.extractors.next_steps import (
    NextStepCandidate,
    extract_next_step_candidates,
)
from runtime.agents.extractors.speakers import speaker_roles
from tests.meetings import dialogue

pytestmark = pytest.mark.unit

REP, CUSTOMER = "Sam Lee", "Dana Ruiz"  # the example meeting's attendees
MONDAY = "2026-03-02T15:00:00Z"


def _candidates(
    *lines: tuple[str, str], notes: str = "", current: str | None = None
) -> list[NextStepCandidate]:
    meeting = dialogue(*lines, notes=notes, started_at=MONDAY)
    return extract_next_step_candidates(
        meeting, speaker_roles=speaker_roles(meeting), current_next_step=current
    )


def _top(*lines: tuple[str, str], **kwargs: Any) -> str | None:
    found = _candidates(*lines, **kwargs)
    return found[0].value if found else None


def test_a_reps_commitment_names_the_recipient_and_a_concrete_day() -> None:
    found = _candidates(
        (CUSTOMER, "We're ready to go with forty seats."),
        (REP, "Great. I'll send the order form by Friday."),
    )
    assert found[0].value == "Send the order form to Dana by Fri Mar 6"
    assert found[0].signals.committed
    assert found[0].evidence[0].line == 1
    assert found[0].to_candidate().field == "hs_next_step"


def test_get_it_over_to_you_becomes_a_sending_with_the_cc() -> None:
    top = _top(
        (CUSTOMER, "Send the MSA and I'll take it to legal."),
        (REP, "I'll get it over to you by tomorrow."),
        (CUSTOMER, "Send it to me directly, copy Priya."),
    )
    assert top == "Send the MSA to Dana (cc Priya) by Tue Mar 3"


def test_a_deadline_agreed_in_the_next_turn_is_kept() -> None:
    top = _top(
        (CUSTOMER, "We need a proposal for twenty-five users."),
        (REP, "Let me put together a proposal for twenty-five users."),
        (CUSTOMER, "By the middle of next week?"),
        (REP, "Wednesday the eleventh."),
    )
    assert top == "Put together a proposal for twenty-five users by Wed Mar 11"


def test_the_customers_own_action_keeps_their_name() -> None:
    top = _top(
        (REP, "Can you send me the PO number when you have it?"),
        (CUSTOMER, "I'll send it by Friday."),
    )
    assert top == "Dana to send the PO number by Fri Mar 6"


def test_an_accepted_request_is_the_reps_action() -> None:
    top = _top(
        (CUSTOMER, "Can you send me the integration list?"),
        (REP, "Will do."),
    )
    assert top == "Send the integration list to Dana"


def test_the_last_agreed_action_wins_over_earlier_ones() -> None:
    lines = [
        (REP, "I'll send the deck today."),
        *[(CUSTOMER, "Tell me about reporting.")] * 4,
        (REP, "Reports are exported nightly."),
        (CUSTOMER, "Fine. We'd want a pilot."),
        (REP, "I'll set up a pilot kickoff for next Tuesday."),
    ]
    assert _top(*lines) == "Set up a pilot kickoff by Tue Mar 10"


def test_two_different_actions_of_the_wrap_up_are_joined() -> None:
    top = _top(
        (REP, "I'll send the recording today."),
        (CUSTOMER, "Good. I'll walk Robert through it."),
        (REP, "And I'll follow up with Robert by Friday."),
    )
    assert top == "Send the recording today; Follow up with Robert by Fri Mar 6"


def test_fillers_and_stutters_are_dropped() -> None:
    top = _top((REP, "ok, um, i'll send the the quote by friday"))
    assert top == "Send the quote by Fri Mar 6"


@pytest.mark.parametrize(
    "lines",
    [
        [(REP, "Should I send the deck?"), (CUSTOMER, "Not yet, no.")],
        [(REP, "Great call. Talk soon!"), (CUSTOMER, "Talk on the eighteenth.")],
        [(REP, "I'll set you up in our system.")],
        [(CUSTOMER, "Reporting looks fine."), (REP, "Thanks, have a good weekend.")],
    ],
)
def test_questions_pleasantries_and_housekeeping_are_not_next_steps(
    lines: list[tuple[str, str]],
) -> None:
    assert _candidates(*lines) == []


def test_a_next_steps_line_in_the_notes_wins() -> None:
    found = _candidates(
        (REP, "I'll send the deck today."),
        notes="Good call.\n- NEXT: I send the order form to Dana by Fri 3/6",
    )
    assert found[0].value == "Send the order form to Dana by Fri Mar 6"
    assert found[0].evidence[0].source == "notes"


def test_nothing_is_proposed_when_the_crm_already_says_it() -> None:
    lines = [(CUSTOMER, "The contract is with legal."), (REP, "I'll follow up with you on Friday.")]
    assert _top(*lines) == "Follow up with Dana on Fri Mar 6"
    assert _candidates(*lines, current="Follow up with Dana on Fri Mar 6") == []


def test_a_lost_deal_gets_no_next_step() -> None:
    lines = [
        (CUSTOMER, "We're not renewing, we signed with a competitor."),
        (REP, "Understood. I'll send you the export instructions this week."),
    ]
    assert _candidates(*lines) == []


def test_a_hedged_commitment_is_marked_hedged() -> None:
    found = _candidates((CUSTOMER, "I'll try to book time with our CFO next week."))
    assert found[0].value == "Dana to book time with our CFO by Fri Mar 13"
    assert found[0].signals.hedged
    assert found[0].signals.speaker_role == "customer"
