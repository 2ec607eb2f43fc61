"""The baseline keyword extractor reads real figures, dates and next steps, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.agents.extraction import Candidate, ExtractionContext
from runtime.agents.extractors import KeywordExtractor
from runtime.meetings.models import MeetingIn
from tests.meetings import example_meeting

FIELDS = ("dealstage", "amount", "closedate", "hs_next_step")


async def _extract(
    *lines: tuple[str, str], notes: str | None = None, fields: tuple[str, ...] = FIELDS
) -> dict[str, list[Candidate]]:
    transcript = [
        {"speaker": speaker, "start_s": float(10 * i), "text": text}
        for i, (speaker, text) in enumerate(lines)
    ]
    changes: dict[str, Any] = {"transcript": transcript, "notes": notes or ""}
    meeting = MeetingIn.model_validate(example_meeting(**changes))
    found = await KeywordExtractor().extract(ExtractionContext(meeting=meeting, fields=fields))
    by_field: dict[str, list[Candidate]] = {}
    for candidate in found:
        by_field.setdefault(candidate.field, []).append(candidate)
    return by_field


REP, CUSTOMER = "Sam Lee", "Dana Ruiz"


def test_it_is_named_baseline() -> None:
    assert KeywordExtractor.name == "baseline"


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("We have budget of about 60k for this.", "60000"),
        ("We can do $60,000 for the first year.", "60000"),
        ("Our number is 60 thousand dollars.", "60000"),
        ("Finance approved EUR 1.2 million.", "1200000"),
        ("It would be $45,500.50 all in.", "45500.50"),
    ],
)
async def test_a_customer_currency_figure_is_an_amount(text: str, amount: str) -> None:
    found = await _extract((CUSTOMER, text))
    assert [c.value for c in found["amount"]] == [amount]
    candidate = found["amount"][0]
    assert candidate.signals.speaker_role == "customer"
    assert candidate.evidence[0].text == text
    assert candidate.evidence[0].line == 0


@pytest.mark.parametrize(
    "text",
    [
        "We have 250 employees and 3 offices.",
        "We would need 40k users on day one.",
        "Let's meet in 30m.",
        "We started in 2019.",
    ],
)
async def test_numbers_that_are_not_money_are_ignored(text: str) -> None:
    assert "amount" not in await _extract((CUSTOMER, text))


async def test_the_reps_figures_are_not_taken_as_the_amount() -> None:
    assert "amount" not in await _extract((REP, "Our list price is $90,000."))


async def test_a_hedged_figure_is_flagged_and_a_commitment_too() -> None:
    hedged = await _extract((CUSTOMER, "Maybe around 50k."))
    assert hedged["amount"][0].signals.hedged
    agreed = await _extract((CUSTOMER, "Agreed, $55,000 works for us."))
    assert agreed["amount"][0].signals.committed
    assert not agreed["amount"][0].signals.hedged


async def test_two_figures_are_two_candidates_that_conflict() -> None:
    found = await _extract(
        (CUSTOMER, "Budget is $50,000."),
        (CUSTOMER, "Actually, make that $60,000."),
        (CUSTOMER, "So $60,000 it is."),
    )
    by_value = {c.value: c.signals for c in found["amount"]}
    assert by_value["60000"].mentions == 2
    assert by_value["60000"].conflicting_mentions == 1
    assert by_value["60000"].corrected
    assert by_value["50000"].conflicting_mentions == 2


async def test_a_question_is_not_a_statement() -> None:
    assert "amount" not in await _extract((CUSTOMER, "Would $60,000 be enough?"))


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("We plan to sign by 2026-04-30.", "2026-04-30"),
        ("We want to close by April 30.", "2026-04-30"),
        ("Contract signature on Apr 30th, 2026.", "2026-04-30"),
        ("Go-live is January 15.", "2027-01-15"),  # the meeting is in March 2026
    ],
)
async def test_an_explicit_date_about_closing_is_a_close_date(text: str, day: str) -> None:
    found = await _extract((CUSTOMER, text))
    assert [c.value for c in found["closedate"]] == [day]


@pytest.mark.parametrize(
    "text",
    [
        "Let's meet again on April 30.",  # not about closing
        "We want to close by end of next month.",  # not an explicit date
        "We signed the last contract on 2025-11-02.",  # before the meeting
        "We should close by February 30.",  # no such day
    ],
)
async def test_other_dates_are_not_close_dates(text: str) -> None:
    assert "closedate" not in await _extract((CUSTOMER, text))


async def test_the_last_stated_next_step_is_proposed() -> None:
    found = await _extract(
        (REP, "The next step is a demo for your team."),
        (CUSTOMER, "Great."),
        (REP, "I'll send the MSA to your legal team by Friday."),
    )
    (candidate,) = found["hs_next_step"]
    assert candidate.value == "Send the MSA to your legal team by Friday"
    assert candidate.signals.committed
    assert candidate.signals.speaker_role == "rep"


async def test_a_next_step_phrase_keeps_what_follows() -> None:
    found = await _extract((CUSTOMER, "Next steps: we'll send the security questionnaire."))
    assert [c.value for c in found["hs_next_step"]] == ["Send the security questionnaire"]


async def test_notes_are_read_as_the_reps() -> None:
    found = await _extract(notes="Customer budget is $70k.\nNext step: send pricing to Dana.")
    assert [c.value for c in found["amount"]] == ["70000"]
    assert found["amount"][0].evidence[0].source == "notes"
    assert [c.value for c in found["hs_next_step"]] == ["Send pricing to Dana"]


async def test_no_stage_changes_and_only_the_managed_fields() -> None:
    lines = ((CUSTOMER, "We agreed on $60,000 and will sign by April 30."),)
    assert "dealstage" not in await _extract(*lines)
    assert set(await _extract(*lines, fields=("amount",))) == {"amount"}


async def test_an_unknown_speaker_is_neither_customer_nor_rep() -> None:
    found = await _extract(("Someone Else", "Budget is $10,000."))
    assert found["amount"][0].signals.speaker_role == "unknown"
    by_first_name = await _extract(("Dana", "Budget is $10,000."))
    assert by_first_name["amount"][0].signals.speaker_role == "customer"
