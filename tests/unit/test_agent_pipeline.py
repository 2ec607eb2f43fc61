"""An agent run end to end on an in-memory CRM: scope, match, read, extract, score, route."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.agents.calibration import Calibration
from runtime.agents.config import AgentConfig, FieldPolicy
from runtime.agents.extraction import Candidate, Evidence, ExtractionContext, Signals
from runtime.agents.extractors import KeywordExtractor
from runtime.agents.pipeline import run_agent, to_preview
from runtime.agents.results import AgentResult, MatchResult
from runtime.agents.routing import SKIP_NO_DEAL, SKIP_OUT_OF_SCOPE
from runtime.crm.memory import InMemoryCrm
from runtime.crm.port import CrmRecord
from runtime.crm.snapshot import load_snapshot
from runtime.meetings.models import MeetingIn
from tests.meetings import example_meeting

SNAPSHOT = load_snapshot("tests/data/crm.json")
CUSTOMER, REP = "Dana Ruiz", "Sam Lee"
# Deal 301 in the snapshot: amount 20000, close date 2026-06-30, no next step.
DEAL_301 = CrmRecord(id="301", object_type="deals", properties={})


class StubMatcher:
    """Answers a fixed match and counts the calls."""

    def __init__(self, result: MatchResult) -> None:
        self.result = result
        self.calls = 0

    async def match(self, meeting: MeetingIn) -> MatchResult:
        self.calls += 1
        return self.result


class FixedExtractor:
    """Proposes fixed candidates and keeps the context it was given."""

    name = "fixed"

    def __init__(self, *candidates: Candidate) -> None:
        self.candidates = list(candidates)
        self.contexts: list[ExtractionContext] = []

    async def extract(self, context: ExtractionContext) -> list[Candidate]:
        self.contexts.append(context)
        return self.candidates


def _meeting(*lines: tuple[str, str], call_type: str = "negotiation") -> MeetingIn:
    transcript = [
        {"speaker": speaker, "start_s": float(i), "text": text}
        for i, (speaker, text) in enumerate(lines)
    ]
    return MeetingIn.model_validate(
        example_meeting(transcript=transcript, call_type=call_type, notes="")
    )


def _config(review_only: bool = False) -> AgentConfig:
    policy = FieldPolicy(auto_apply_threshold=0.8)
    return AgentConfig(
        call_types=("negotiation",),
        fields={"amount": policy, "closedate": policy, "dealstage": policy, "hs_next_step": policy},
        review_only=review_only,
    )


def _matched(
    confidence: float = 0.95, record: CrmRecord | None = DEAL_301, **kw: Any
) -> StubMatcher:
    return StubMatcher(MatchResult(record=record, confidence=confidence, reason="stub", **kw))


def _certain(field: str, value: str) -> Candidate:
    signals = Signals(speaker_role="customer", committed=True, mentions=2)
    evidence = Evidence(source="transcript", text=f"{value}, agreed.", speaker=CUSTOMER, line=0)
    return Candidate(field=field, value=value, evidence=(evidence,), signals=signals)


async def _run(
    meeting: MeetingIn,
    *,
    matcher: StubMatcher,
    extractor: Any = None,
    config: AgentConfig | None = None,
    crm: InMemoryCrm | None = None,
) -> AgentResult:
    return await run_agent(
        meeting,
        crm=crm or InMemoryCrm(SNAPSHOT),
        config=config or _config(),
        extractor=extractor or KeywordExtractor(),
        matcher=matcher,
        calibration=Calibration(),  # routing is under test, not the committed calibration
    )


NEGOTIATION = (
    (REP, "So where did finance land?"),
    (CUSTOMER, "Agreed, $60,000 works for us and we will sign by April 30."),
    (CUSTOMER, "Our budget is still $20,000 for the pilot part."),
    (REP, "Great. I'll send the MSA to your legal team by Friday."),
)


async def test_a_run_reads_the_deal_and_proposes_what_changed() -> None:
    crm = InMemoryCrm(SNAPSHOT)
    result = await _run(_meeting(*NEGOTIATION), matcher=_matched(), crm=crm)
    assert result.action_type == "update"
    proposed = {d.field: (d.before, d.after) for d in result.decisions if d.route != "skip"}
    assert proposed["amount"] == ("20000", "60000")
    assert proposed["closedate"][1] == "2026-04-30"
    assert proposed["closedate"][0] is not None
    assert proposed["closedate"][0].startswith("2026-06-30")
    assert proposed["hs_next_step"][1] == "Send the MSA to your legal team by Friday"
    assert result.match.record is not None
    assert result.match.record.properties["dealname"] == "Acme Expansion"
    assert result.overall_confidence is not None
    assert set(result.fields_updated()) == set(proposed)
    assert any("also heard 20000" in w for w in result.warnings)
    assert crm.write_log() == []  # a run never writes


async def test_the_extractor_sees_the_deal_its_definitions_and_its_pipeline() -> None:
    extractor = FixedExtractor()
    await _run(_meeting(*NEGOTIATION), matcher=_matched(), extractor=extractor)
    (context,) = extractor.contexts
    assert context.record is not None
    assert context.record.id == "301"
    assert context.pipeline is not None
    assert context.pipeline.id == "default"
    assert set(context.fields) == {"amount", "closedate", "dealstage", "hs_next_step"}
    assert context.definitions["amount"].type == "number"


async def test_an_out_of_scope_call_type_is_skipped_before_matching() -> None:
    matcher, extractor = _matched(), FixedExtractor(_certain("amount", "60000"))
    result = await _run(
        _meeting(*NEGOTIATION, call_type="qbr"), matcher=matcher, extractor=extractor
    )
    assert (result.action_type, result.skip_reason) == ("skip", SKIP_OUT_OF_SCOPE)
    assert matcher.calls == 0
    assert extractor.contexts == []
    assert result.decisions == ()


async def test_no_matching_deal_is_skipped_without_extracting() -> None:
    extractor = FixedExtractor(_certain("amount", "60000"))
    matcher = _matched(confidence=0.0, record=None)
    result = await _run(_meeting(*NEGOTIATION), matcher=matcher, extractor=extractor)
    assert (result.action_type, result.skip_reason) == ("skip", SKIP_NO_DEAL)
    assert extractor.contexts == []


async def test_confident_fields_on_a_sure_match_are_auto_applied() -> None:
    extractor = FixedExtractor(_certain("amount", "60000"), _certain("dealstage", "Contract Sent"))
    result = await _run(_meeting(), matcher=_matched(confidence=1.0), extractor=extractor)
    assert {d.field: (d.after, d.route) for d in result.decisions} == {
        "amount": ("60000", "auto_apply"),
        "dealstage": ("contractsent", "auto_apply"),
    }


@pytest.mark.parametrize("match_confidence", [0.79, 0.4])
async def test_an_uncertain_match_sends_even_certain_fields_to_review(
    match_confidence: float,
) -> None:
    extractor = FixedExtractor(
        _certain("amount", "60000").model_copy(update={"raw_confidence": 1.0})
    )
    result = await _run(_meeting(), matcher=_matched(match_confidence), extractor=extractor)
    assert result.action_type == "update"
    assert [d.route for d in result.decisions] == ["review"]


async def test_a_review_only_agent_proposes_but_applies_nothing() -> None:
    extractor = FixedExtractor(_certain("amount", "60000"))
    result = await _run(
        _meeting(), matcher=_matched(1.0), extractor=extractor, config=_config(review_only=True)
    )
    assert [d.route for d in result.decisions] == ["review"]


async def test_a_value_the_deal_already_has_is_nothing_new() -> None:
    extractor = FixedExtractor(_certain("amount", "20000.00"), _certain("closedate", "2026-06-30"))
    result = await _run(_meeting(), matcher=_matched(1.0), extractor=extractor)
    assert (result.action_type, result.skip_reason) == ("skip", "nothing new")
    assert result.fields_updated() == {}
    assert result.overall_confidence is None


async def test_a_meeting_that_opens_an_opportunity_proposes_a_create_for_review() -> None:
    extractor = FixedExtractor(_certain("amount", "60000"))
    matcher = _matched(confidence=0.0, record=None, opens_opportunity=True)
    result = await _run(_meeting(), matcher=matcher, extractor=extractor)
    assert result.action_type == "create"
    assert [(d.before, d.after, d.route) for d in result.decisions] == [(None, "60000", "review")]
    assert extractor.contexts[0].record is None
    assert extractor.contexts[0].pipeline is not None


async def test_the_preview_has_the_seeds_shape_and_leaves_skipped_fields_out() -> None:
    result = await _run(_meeting(*NEGOTIATION), matcher=_matched(), config=_config())
    preview = to_preview(result).model_dump(by_alias=True)
    assert set(preview) == {"matchedRecord", "matchConfidence", "fieldsToUpdate", "warnings"}
    assert preview["matchedRecord"]["id"] == "301"
    assert preview["matchConfidence"] == 0.95
    updates = {u["fieldName"]: u for u in preview["fieldsToUpdate"]}
    assert set(updates) == {"amount", "closedate", "hs_next_step"}
    amount = updates["amount"]
    assert (amount["currentValue"], amount["newValue"]) == ("20000", "60000")
    assert 0.0 < amount["confidence"] <= 1.0
    assert amount["source"] == f"{CUSTOMER}: {NEGOTIATION[1][1]}"
    assert any("also heard" in w for w in preview["warnings"])


async def test_the_preview_of_a_skip_says_why_and_of_notes_evidence_says_notes() -> None:
    skipped = await _run(_meeting(call_type="qbr"), matcher=_matched())
    preview = to_preview(skipped)
    assert preview.matched_record is None
    assert preview.match_confidence is None
    assert preview.fields_to_update == ()
    assert preview.warnings[0] == f"skipped: {SKIP_OUT_OF_SCOPE}"
    notes = Evidence(source="notes", text="Budget $60k")
    extractor = FixedExtractor(Candidate(field="amount", value="60000", evidence=(notes,)))
    result = await _run(_meeting(), matcher=_matched(), extractor=extractor)
    assert [u.source for u in to_preview(result).fields_to_update] == ["notes"]
