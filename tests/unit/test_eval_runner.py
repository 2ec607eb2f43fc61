"""The evaluation run: a trusting config per case, and what a run's result predicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.agents.evaluation.corpus import load_corpus
from runtime.agents.evaluation.runner import evaluate, evaluation_config, prediction_of
from runtime.agents.evaluation.scoring import SCORED_FIELDS
from runtime.agents.extractors import KeywordExtractor
from runtime.agents.results import AgentResult, FieldDecision, MatchResult
from runtime.agents.routing import in_scope
from runtime.agents.templates import template_for
from runtime.crm.port import CrmRecord
from tests.corpus_cases import write_case
from tests.meetings import example_meeting

DEAL = CrmRecord(id="301", object_type="deals", properties={"dealname": "Acme Expansion"})


def _decision(field: str, after: str, route: str, confidence: float = 0.9) -> FieldDecision:
    return FieldDecision.model_validate(
        {
            "field": field,
            "before": None,
            "after": after,
            "confidence": confidence,
            "route": route,
            "reason": "test",
        }
    )


@pytest.mark.parametrize("call_type", ["discovery", "qbr", "intro"])
def test_the_evaluation_config_trusts_every_scored_field_at_the_threshold(call_type: str) -> None:
    config = evaluation_config(call_type, threshold=0.7)
    assert not config.review_only
    assert set(SCORED_FIELDS) <= set(config.fields)
    for field in SCORED_FIELDS:
        policy = config.fields[field]
        assert (policy.auto_apply_threshold, policy.always_review) == (0.7, False)
    assert in_scope(config, call_type)


def test_every_scored_field_may_be_overwritten_as_a_careful_human_would() -> None:
    # The qbr template only fills a blank close date; expected.json may still change it.
    template = template_for("qbr")
    assert template is not None
    assert template.config.fields["closedate"].overwrite == "fill_if_blank"
    assert evaluation_config("qbr", threshold=0.7).fields["closedate"].overwrite == "overwrite"


def test_an_update_predicts_its_deal_and_the_routed_fields() -> None:
    result = AgentResult(
        action_type="update",
        match=MatchResult(record=DEAL, confidence=0.9, reason="test"),
        decisions=(
            _decision("amount", "60000", "auto_apply"),
            _decision("closedate", "2026-04-30", "review", 0.6),
            _decision("dealstage", "closedwon", "skip"),
        ),
    )
    prediction = prediction_of(result)
    assert prediction.deal_id == "301"
    assert [(p.field, p.value, p.confidence, p.auto_applied) for p in prediction.proposals] == [
        ("amount", "60000", 0.9, True),
        ("closedate", "2026-04-30", 0.6, False),
    ]


def test_a_create_or_no_match_predicts_no_deal() -> None:
    create = AgentResult(
        action_type="create",
        match=MatchResult(record=None, confidence=0.0, reason="new", opens_opportunity=True),
        decisions=(_decision("amount", "5000", "review"),),
    )
    assert prediction_of(create).deal_id is None
    skip = AgentResult(
        action_type="skip", match=MatchResult(record=None, confidence=0.0, reason="none")
    )
    assert prediction_of(skip).deal_id is None


async def test_evaluate_runs_each_case_offline_and_reports_progress(tmp_path: Path) -> None:
    write_case(
        tmp_path,
        "case-001",
        meeting=example_meeting(
            transcript=[
                {
                    "speaker": "Dana Ruiz",
                    "start_s": 1.0,
                    "text": "We agreed on $60,000 for the expansion.",
                }
            ]
        ),
        expected={"deal_id": "301", "fields": {"amount": "60000"}},
    )
    write_case(tmp_path, "case-002", expected={"deal_id": "301", "fields": {}})
    cases = load_corpus(tmp_path)
    seen: list[str] = []
    report = await evaluate(
        cases, threshold=0.0, extractor=KeywordExtractor(), progress=lambda c: seen.append(c.name)
    )
    assert seen == ["case-001", "case-002"]
    assert report.cases == 2
    assert report.match_accuracy == 1.0
    assert report.per_field["amount"].tp == 1
    assert report.threshold == 0.0


async def test_a_meeting_without_call_type_is_evaluated_with_the_generic_config(
    tmp_path: Path,
) -> None:
    meeting = example_meeting(
        call_type=None,
        transcript=[{"speaker": "Dana Ruiz", "start_s": 1.0, "text": "We agreed on $60,000."}],
    )
    write_case(tmp_path, "case-001", meeting=meeting)
    report = await evaluate(load_corpus(tmp_path), threshold=0.5, extractor=KeywordExtractor())
    assert report.per_field["amount"].tp == 1


async def test_evaluate_refuses_a_threshold_outside_0_1() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        await evaluate([], threshold=1.5, extractor=KeywordExtractor())
