"""Baseline confidence: each signal moves the score the way a careful human would."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.agents.confidence import (
    DEFAULT_WEIGHTS,
    ConfidenceWeights,
    field_confidence,
    overall_confidence,
)
from runtime.agents.extraction import Candidate, Signals
from runtime.agents.results import FieldDecision, Route


def _score(match_confidence: float = 1.0, raw: float | None = None, **signals: Any) -> float:
    candidate = Candidate(
        field="amount", value="60000", signals=Signals(**signals), raw_confidence=raw
    )
    return field_confidence(candidate, match_confidence=match_confidence)


def test_a_hedge_lowers_confidence() -> None:
    assert _score(hedged=True) < _score()


def test_the_customers_word_outweighs_the_reps() -> None:
    assert _score(speaker_role="customer") > _score(speaker_role="unknown")
    assert _score(speaker_role="unknown") > _score(speaker_role="rep")


def test_a_customer_commitment_raises_confidence() -> None:
    plain = _score(speaker_role="customer")
    committed = _score(speaker_role="customer", committed=True)
    assert committed > plain
    assert committed >= 0.85


def test_an_inferred_value_scores_below_an_explicit_one() -> None:
    assert _score(explicit=False) < _score(explicit=True)


def test_repeated_mentions_raise_confidence_up_to_a_cap() -> None:
    assert _score(mentions=2) > _score(mentions=1)
    assert _score(mentions=10) == pytest.approx(_score(mentions=1 + DEFAULT_WEIGHTS.mention_cap))


def test_conflicting_mentions_lower_confidence() -> None:
    assert _score(conflicting_mentions=1) < _score()
    assert _score(conflicting_mentions=2) < _score(conflicting_mentions=1)


def test_a_correction_explains_the_earlier_conflicting_value() -> None:
    assert _score(conflicting_mentions=1, corrected=True) > _score(conflicting_mentions=1)


def test_an_uncertain_deal_match_lowers_every_field() -> None:
    assert _score(match_confidence=0.5) == pytest.approx(_score() * 0.5)
    assert _score(match_confidence=0.0) == 0.0


def test_the_extractors_own_estimate_is_blended_in() -> None:
    assert _score(raw=1.0) > _score() > _score(raw=0.0)


@pytest.mark.parametrize(
    "signals",
    [
        {"speaker_role": "customer", "committed": True, "corrected": True, "mentions": 9},
        {"speaker_role": "rep", "explicit": False, "hedged": True, "conflicting_mentions": 9},
    ],
)
def test_scores_stay_within_zero_and_one(signals: dict[str, Any]) -> None:
    assert 0.0 <= _score(**signals) <= 1.0


def test_weights_are_a_parameter_for_calibration() -> None:
    candidate = Candidate(field="amount", value="1", signals=Signals(hedged=True))
    harsh = ConfidenceWeights(hedge_penalty=0.5)
    assert field_confidence(candidate, match_confidence=1.0, weights=harsh) < field_confidence(
        candidate, match_confidence=1.0
    )


def _decision(confidence: float, route: Route) -> FieldDecision:
    return FieldDecision(
        field="amount", before=None, after="1", confidence=confidence, route=route, reason="r"
    )


def test_overall_confidence_is_the_mean_of_the_proposed_fields() -> None:
    decisions = [_decision(0.9, "auto_apply"), _decision(0.5, "review"), _decision(0.1, "skip")]
    assert overall_confidence(decisions) == pytest.approx(0.7)
    assert overall_confidence([_decision(0.4, "skip")]) is None
    assert overall_confidence([]) is None
