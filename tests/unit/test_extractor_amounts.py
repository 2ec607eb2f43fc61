"""The amount rules: which figure in a meeting is the deal's amount, and how sure to be."""

from __future__ import annotations

import pytest

from runtime.agents.extractors.amounts import (
    AmountCandidate,
    extract_amount_candidates,
)
from runtime.agents.extractors.speakers import speaker_roles
from runtime.meetings.models import MeetingIn
from tests.meetings import dialogue

REP, CUSTOMER = "Sam Lee", "Dana Ruiz"
R, C = REP, CUSTOMER


def _meeting(*lines: tuple[str, str], notes: str | None = None) -> MeetingIn:
    return dialogue(*lines, notes=notes or "")


def _amounts(*lines: tuple[str, str], notes: str | None = None) -> list[AmountCandidate]:
    meeting = _meeting(*lines, notes=notes)
    return extract_amount_candidates(meeting, speaker_roles=speaker_roles(meeting))


def _top(*lines: tuple[str, str], notes: str | None = None) -> str | None:
    found = _amounts(*lines, notes=notes)
    return found[0].value if found else None


# (rule, dialogue, notes, the top amount or None)
RULES: list[tuple[str, list[tuple[str, str]], str | None, str | None]] = [
    (
        "per-seat x seats, both agreed",
        [
            (C, "We'll need 80 seats for the support floor."),
            (R, "Our price is $450 per seat per year."),
            (C, "The 450 is fine, that's what we planned."),
        ],
        None,
        "36000",
    ),
    (
        "per-unit x units x 12 for a monthly price",
        [(C, "Agreed: 50 vans at $20 per van per month.")],
        None,
        "12000",
    ),
    (
        "per-unit x units x the months stated",
        [(C, "Agreed: 50 vans at $20 per van per month, for 6 months.")],
        None,
        "6000",
    ),
    (
        "per-seat price the customer never accepted",
        [(C, "We need 80 seats."), (R, "It's $450 per seat."), (C, "Let me think about it.")],
        None,
        None,
    ),
    (
        "spoken correction keeps the later figure",
        [(C, "We can do seventy... sorry, seventy-five thousand, and that's agreed.")],
        None,
        "75000",
    ),
    (
        "the last agreed figure wins",
        [
            (C, "We agreed 1.35m last week in principle."),
            (R, "After the scope cut I can do 1.28m."),
            (C, "1.28m works for us, agreed."),
        ],
        None,
        "1280000",
    ),
    (
        "notes correct the transcript",
        [(C, "Fine, we'll sign at 40k.")],
        "Agreed 40k - CORRECTION: 44k incl. onboarding, confirmed by Dana.",
        "44000",
    ),
    ("budget is a ceiling", [(C, "We have budget of about 60k for this.")], None, None),
    (
        "approval thresholds",
        [(C, "Anything over fifty thousand needs our CFO.")],
        None,
        None,
    ),
    (
        "competitor's price",
        [(C, "Another vendor quoted us thirty-two thousand for the same scope.")],
        None,
        None,
    ),
    ("last year's spend", [(C, "Last year we paid $41,000 for the old tool.")], None, None),
    (
        "an answer to a question about current spend",
        [(R, "What are you paying your current provider?"), (C, "About 70k a year.")],
        None,
        None,
    ),
    (
        "a discount is not the amount",
        [(C, "We'd want 5k off, and fifteen percent off the services.")],
        None,
        None,
    ),
    ("counts of things", [(C, "We ship about 12,000 parcels a month with 40 trucks.")], None, None),
    ("a price asked as a question", [(C, "So is it $55,000 all in?")], None, None),
    (
        "a rep's proposal the customer rejects",
        [(R, "The package comes to $90,000."), (C, "No, that's too high for us.")],
        None,
        None,
    ),
    (
        "a figure rejected in the customer's own words",
        [(C, "Ninety thousand doesn't fly with our board.")],
        None,
        None,
    ),
    (
        "a rep's hope nobody takes up",
        [(R, "I'm hoping we land around 80k."), (C, "We'll see what procurement says.")],
        None,
        None,
    ),
    (
        "the customer accepts the rep's figure",
        [(R, "For all three sites that comes to sixty-two thousand."), (C, "Fine, let's do it.")],
        None,
        "62000",
    ),
    (
        "spoken shorthand in a money sentence",
        [(R, "I can come down to one eighty-six per year."), (C, "One eighty-six, agreed.")],
        None,
        "186000",
    ),
    (
        "arithmetic operands are not prices",
        [
            (R, "So that's one-forty times twenty-four times twelve, for the year."),
            (C, "Yep, fine by me."),
        ],
        None,
        None,
    ),
    (
        "people on the payroll are not the seats priced per agent",
        [
            (R, "It's forty-five dollars per agent per month."),
            (C, "Forty-five per agent is in range. We're two-twenty people total."),
        ],
        None,
        None,
    ),
    (
        "the rep confirms the customer's own figure",
        [
            (C, "That's the thirty-one thousand six hundred eighty with the discount, right?"),
            (R, "Correct. Thirty-one six eighty for the year."),
        ],
        None,
        "31680",
    ),
    (
        "what the current system costs is not the amount",
        [
            (C, "The old tool costs us roughly twenty-two thousand a year today."),
            (R, "Understood."),
        ],
        None,
        None,
    ),
    (
        "last year's invoice is not the amount",
        [(C, "For reference, last year's invoice was sixty-six thousand.")],
        None,
        None,
    ),
    (
        "a price per unit said with 'and a half' times the agreed count",
        [
            (
                R,
                "It's eighteen and a half thousand per yard per year, so for three yards"
                " that's fifty-five and a half thousand a year.",
            ),
            (C, "That's fine."),
        ],
        None,
        "55500",
    ),
    (
        "a one-time fee is not the amount",
        [(C, "Onboarding is a one-time five thousand, yes.")],
        None,
        None,
    ),
    (
        "a spoken figure in the thousands with a yes",
        [(C, "More seats. It's fine. I'm good with seventy-three four-forty.")],
        None,
        "73440",
    ),
    (
        "a per-unit price said in dollars and cents is not a total",
        [(C, "Here's my counter. Fifteen seventy-five an endpoint, and I take it to signature.")],
        None,
        None,
    ),
    (
        "a bare echo of a figure said in full",
        [(R, "The renewal is fifty-four thousand."), (C, "Fifty-four is fine.")],
        None,
        "54000",
    ),
]


@pytest.mark.parametrize(
    ("dialogue", "notes", "top"), [r[1:] for r in RULES], ids=[r[0] for r in RULES]
)
def test_rule_family(dialogue: list[tuple[str, str]], notes: str | None, top: str | None) -> None:
    assert _top(*dialogue, notes=notes) == top


def test_a_correction_is_flagged_and_the_old_figure_dropped() -> None:
    found = _amounts((C, "We can do seventy... sorry, seventy-five thousand, agreed."))
    assert [c.value for c in found] == ["75000"]
    assert found[0].signals.corrected
    assert found[0].signals.committed


def test_a_range_is_a_hedge() -> None:
    (found,) = _amounts((C, "Something like six or seven grand a month in empty chairs."))
    assert found.signals.hedged


def test_a_hedged_figure_is_flagged_and_loses_to_a_commitment() -> None:
    hedged = _amounts((C, "Probably around 50k, we're hoping."))
    assert [c.value for c in hedged] == ["50000"]
    assert hedged[0].signals.hedged
    assert not hedged[0].signals.committed
    both = _amounts((C, "Maybe around 50k."), (C, "Actually, 48k works for us, approved."))
    assert both[0].value == "48000"
    assert both[0].signals.committed
    assert both[0].signals.conflicting_mentions == 1


def test_the_customers_commitment_outweighs_the_reps() -> None:
    found = _amounts(
        (C, "We'll sign at 70k, that's our number, approved."),
        (R, "I can do 75k, let's do it."),
    )
    assert [c.value for c in found] == ["70000", "75000"]
    assert found[0].signals.speaker_role == "customer"
    assert found[1].signals.speaker_role == "rep"


def test_an_accepted_rep_figure_carries_both_lines_as_evidence() -> None:
    [found] = _amounts((R, "That comes to $62,000 for the year."), (C, "Agreed."))
    assert found.signals.speaker_role == "customer"
    assert found.signals.committed
    assert [e.line for e in found.evidence] == [0, 1]


def test_repeated_mentions_are_counted_once_per_line() -> None:
    [found] = _amounts((C, "Deal at 45k."), (R, "45k it is."), (C, "Yes, 45k."))
    assert found.value == "45000"
    assert found.signals.mentions == 3


def test_a_derived_product_is_marked_inferred() -> None:
    [found] = _amounts((C, "We're confirmed at 30 users, and $900 per user is approved."))
    assert found.value == "27000"
    assert not found.signals.explicit


def test_a_product_equal_to_a_stated_total_adds_a_mention() -> None:
    found = _amounts(
        (C, "We're at 30 users now."),
        (R, "At $900 per user that's $27,000."),
        (C, "Yes, approved."),
    )
    assert found[0].value == "27000"
    assert found[0].signals.explicit
    assert found[0].signals.mentions == 2


def test_the_latest_count_wins_after_a_correction() -> None:
    found = _amounts(
        (C, "We'd need 50 seats."),
        (C, "No, 15 seats, sorry."),
        (R, "Our price is $1,000 per seat."),
        (C, "The 1,000 per seat is fine."),
    )
    assert found[0].value == "15000"


def test_notes_alone_give_an_amount_with_the_reps_role() -> None:
    [found] = _amounts(notes="- Agreed $52,000/yr with Dana.\n- Send the order form by Fri.")
    assert found.value == "52000"
    assert found.signals.committed
    assert found.evidence[0].source == "notes"


def test_unknown_speakers_are_neither_rep_nor_customer() -> None:
    meeting = _meeting(("Guest 7", "Fine, we'll sign at 33k."))
    [found] = extract_amount_candidates(meeting, speaker_roles={})
    assert found.signals.speaker_role == "unknown"


def test_a_candidate_converts_to_the_extractor_interface() -> None:
    [found] = _amounts((C, "Agreed, $55,000 works for us."))
    candidate = found.to_candidate()
    assert (candidate.field, candidate.value) == ("amount", "55000")
    assert candidate.signals == found.signals
