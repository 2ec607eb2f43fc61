"""The default offline extractor hands on each rule family's best candidate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from runtime.agents.extraction import ExtractionContext
from runtime.agents.extractors import RulesExtractor
from runtime.crm.hubspot.standard import DEFAULT_PIPELINE
from runtime.crm.port import CrmRecord
from tests.meetings import dialogue

FIELDS = ("amount", "closedate", "hs_next_step")


def _context(lines: list[tuple[str, str]], *, fields: tuple[str, ...] = FIELDS, **deal: Any):
    meeting = dialogue(*lines, started_at="2026-03-02T15:00:00Z")  # a Monday
    record = CrmRecord(
        id="301",
        object_type="deals",
        properties={"dealname": "Acme Expansion", **deal},
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return ExtractionContext(meeting=meeting, fields=fields, record=record)


async def test_one_candidate_per_family_from_the_customers_commitment() -> None:
    context = _context(
        [
            ("Sam Lee", "Could we do seventy thousand?"),
            ("Dana Ruiz", "Sixty thousand works for us. We'll sign by end of next month."),
            ("Sam Lee", "Great. Next step: I'll send the order form tomorrow."),
        ]
    )
    found = {c.field: c for c in await RulesExtractor().extract(context)}
    assert found["amount"].value == "60000"
    assert found["amount"].signals.speaker_role == "customer"
    assert found["closedate"].value == "2026-04-30"
    assert "order form" in found["hs_next_step"].value.lower()


async def test_fields_the_agent_does_not_manage_are_not_proposed() -> None:
    context = _context(
        [("Dana Ruiz", "Sixty thousand works for us; we sign by March 31.")], fields=("amount",)
    )
    assert [c.field for c in await RulesExtractor().extract(context)] == ["amount"]


async def test_a_month_the_close_date_already_falls_in_is_no_new_date() -> None:
    lines = [("Dana Ruiz", "We will sign the contract in April.")]
    assert not [
        c
        for c in await RulesExtractor().extract(_context(lines, closedate="2026-04-17"))
        if c.field == "closedate"
    ]
    moved = await RulesExtractor().extract(_context(lines, closedate="2026-06-30"))
    assert [c.value for c in moved if c.field == "closedate"] == ["2026-04-30"]


async def test_a_lost_deal_keeps_its_amount() -> None:
    context = _context(
        [("Dana Ruiz", "We went another way: TrackRight came in at 38k against your 52k.")],
        fields=("dealstage", "amount"),
        dealstage="contractsent",
    )
    context = context.model_copy(update={"pipeline": DEFAULT_PIPELINE})
    found = {c.field: c.value for c in await RulesExtractor().extract(context)}
    assert found == {"dealstage": "closedlost"}


async def test_a_lost_deal_gets_no_close_date_even_when_the_stage_is_not_managed() -> None:
    context = _context(
        [("Dana Ruiz", "I'm sorry. Our project is cancelled, the contract was signed on Friday.")],
        fields=("closedate",),
        dealstage="contractsent",
    )
    context = context.model_copy(update={"pipeline": DEFAULT_PIPELINE})
    assert await RulesExtractor().extract(context) == []
