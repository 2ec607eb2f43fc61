"""Close-date rules: only closing dates, commitments over hopes, a "no" is not a date."""

from __future__ import annotations

import pytest

from runtime.agents.extractors.dates import (
    DateCandidate,
    extract_close_date_candidates,
)
from runtime.agents.extractors.speakers import speaker_roles
from tests.meetings import dialogue

pytestmark = pytest.mark.unit

REP, CUSTOMER = "Sam Lee", "Dana Ruiz"  # the example meeting's attendees
MONDAY = "2026-03-02T15:00:00Z"


def _candidates(
    *lines: tuple[str, str], notes: str = "", started_at: str = MONDAY
) -> list[DateCandidate]:
    meeting = dialogue(*lines, notes=notes, started_at=started_at)
    return extract_close_date_candidates(meeting, speaker_roles=speaker_roles(meeting))


def _values(found: list[DateCandidate]) -> list[str]:
    return [c.value for c in found]


def test_a_signing_date_is_a_candidate_resolved_against_the_meeting_day() -> None:
    found = _candidates((CUSTOMER, "We'll sign by the end of next month."))
    assert _values(found) == ["2026-04-30"]
    assert found[0].signals.speaker_role == "customer"
    assert found[0].evidence[0].line == 0
    assert found[0].to_candidate().field == "closedate"


@pytest.mark.parametrize(
    "text",
    [
        "Let's do the demo next Tuesday.",
        "I'll send the order form by Friday.",
        "Our current contract ends April 30.",
        "Talk on the 18th.",
        "We renewed on January 15.",
        "The other project, park that until Q1.",
    ],
)
def test_dates_about_other_things_are_not_close_dates(text: str) -> None:
    assert _candidates((CUSTOMER, text)) == []


def test_the_clause_decides_what_a_date_is_about() -> None:
    found = _candidates(
        (CUSTOMER, "Send me the order form this week and I'll sign it by March 20.")
    )
    assert _values(found) == ["2026-03-20"]


def test_go_live_and_decision_timing_count_but_signing_wins() -> None:
    found = _candidates(
        (CUSTOMER, "We need this live before storm season, November first."),
        (CUSTOMER, "So the contract has to be signed by September fifteenth."),
    )
    assert _values(found) == ["2026-09-15", "2026-11-01"]


def test_speculation_proposes_nothing() -> None:
    found = _candidates((CUSTOMER, "It might slip into December, maybe. I really don't know."))
    assert found == []


def test_a_soft_hedge_keeps_the_date_but_ranks_below_a_firm_one() -> None:
    found = _candidates(
        (CUSTOMER, "Signing should be around the twentieth."),
        (CUSTOMER, "Worst case we sign by end of March."),
    )
    assert _values(found) == ["2026-03-31", "2026-03-20"]
    assert found[1].signals.hedged


def test_a_customers_no_rejects_the_reps_date_and_the_counter_date_counts() -> None:
    found = _candidates(
        (REP, "Can we aim to sign by the thirty-first of March?"),
        (CUSTOMER, "No. That won't work, the board meets in April."),
        (CUSTOMER, "Realistically we'd sign right after that, so let's say end of April."),
    )
    assert _values(found) == ["2026-04-30"]


def test_a_statement_rejected_by_the_other_side_gets_no_candidate() -> None:
    found = _candidates(
        (REP, "I had us down for signing at the end of March."),
        (CUSTOMER, "That's not how our budget works. We'll sign by June 30."),
    )
    assert _values(found) == ["2026-06-30"]


def test_a_question_needs_a_yes() -> None:
    unanswered = _candidates(
        (REP, "Can I put you down for signing by Friday?"),
        (CUSTOMER, "Honestly Friday isn't up to me."),
    )
    accepted = _candidates(
        (REP, "Can I put you down for signing by Friday?"),
        (CUSTOMER, "Yes, that works."),
    )
    assert unanswered == []
    assert _values(accepted) == ["2026-03-06"]
    assert accepted[0].signals.speaker_role == "customer"
    assert accepted[0].signals.committed


def test_a_correction_takes_the_last_stated_date() -> None:
    found = _candidates((CUSTOMER, "We'll sign on the fourteenth, no, sorry, the fifteenth."))
    assert _values(found) == ["2026-03-15"]


def test_a_later_restatement_wins_over_an_earlier_one() -> None:
    found = _candidates(
        (CUSTOMER, "We planned to sign by end of March."),
        (CUSTOMER, "Actually, with legal out, we'll sign by mid-April."),
    )
    assert _values(found)[0] == "2026-04-15"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I signed it in DocuSign this morning.", "2026-03-02"),
        ("I signed it on Friday afternoon, before my trip.", "2026-02-27"),
    ],
)
def test_a_signed_deal_closes_on_the_signing_day(text: str, expected: str) -> None:
    found = _candidates((CUSTOMER, text), (CUSTOMER, "Next we should sign the add-on in June."))
    assert _values(found)[0] == expected
    assert found[0].signed


def test_signing_with_a_competitor_is_not_our_close_date() -> None:
    assert _candidates((CUSTOMER, "We signed with TrackRight on Friday.")) == []


def test_the_customers_commitment_outweighs_the_reps_hope() -> None:
    found = _candidates(
        (REP, "I'd love to get this signed by March 13."),
        (CUSTOMER, "We'll sign by the end of April."),
    )
    assert _values(found) == ["2026-04-30", "2026-03-13"]


def test_fiscal_periods_use_the_fiscal_year_stated_in_the_meeting() -> None:
    found = _candidates(
        (CUSTOMER, "Our fiscal year starts February first."),
        (CUSTOMER, "We'd sign by the end of our fiscal Q1."),
        started_at="2025-10-09T18:00:00Z",
    )
    assert _values(found) == ["2026-04-30"]


def test_notes_are_read_as_the_reps_and_follow_ups_are_not_close_dates() -> None:
    found = _candidates(
        notes="- Ravi wants it signed by end of month (9/30).\n"
        "- Next: confirm signature with Ravi on Fri 9/26.",
        started_at="2025-09-23T19:00:00Z",
    )
    assert _values(found) == ["2025-09-30"]
    assert found[0].signals.speaker_role == "rep"
    assert found[0].evidence[0].source == "notes"


def test_a_date_without_closing_words_takes_the_topic_of_the_previous_turn() -> None:
    found = _candidates(
        (REP, "And can we still aim for signing this Friday?"),
        (CUSTOMER, "No, not this Friday. Our accountant is away. End of the month."),
    )
    assert _values(found) == ["2026-03-31"]


def test_call_it_is_a_way_of_saying_not_a_call() -> None:
    found = _candidates(
        (CUSTOMER, "Legal takes two weeks. So call it two weeks from Friday for a signature.")
    )
    assert _values(found) == ["2026-03-20"]


def test_a_date_whose_own_sentence_is_about_closing_beats_a_borrowed_topic() -> None:
    found = _candidates(
        (CUSTOMER, "Nobody buys anything before the new fiscal year. Budgets reset in January."),
        (REP, "Could we aim for December?"),
        (CUSTOMER, "I hear you, but it'll be Q1. Camille approves it at the end of Q1."),
    )
    assert _values(found)[0] == "2026-03-31"


def test_a_closing_date_beats_a_go_live_date() -> None:
    found = _candidates(
        (CUSTOMER, "Legal has committed to have it signed before the quarter is out."),
        (REP, "So by the end of March."),
        (CUSTOMER, "End of March."),
        (REP, "And go-live would then be mid-April?"),
        (CUSTOMER, "Mid-April works."),
    )
    assert _values(found)[0] == "2026-03-31"


def test_how_purchases_usually_get_signed_is_not_a_past_signature() -> None:
    found = _candidates(
        (CUSTOMER, "Our fiscal year ends October thirty-first."),
        (CUSTOMER, "Purchases this size get signed in the days before October thirty-first."),
        started_at="2026-08-19T15:00:00Z",
    )
    assert _values(found)[0] == "2026-10-31"
