"""Baseline confidence of a proposed field value, from the extractor's signals.

The formula, with every weight in ``ConfidenceWeights``::

    evidence = base
             + speaker[role]                       customer > unknown > rep
             + explicit_bonus   if explicit   else - inferred_penalty
             - hedge_penalty    if hedged
             + commit_bonus     if committed
             + correction_bonus if corrected
             + min(mentions - 1, mention_cap) * mention_bonus
             - min(conflicts, conflict_cap) * conflict_penalty * (correction_discount
                                                                  if corrected else 1)
    evidence = clamp(evidence)
    if the extractor gave its own estimate r:
        evidence = (1 - raw_weight) * evidence + raw_weight * r
    confidence = clamp(evidence * match_confidence ** match_exponent)

A correction explains the earlier, different mentions, so it discounts their penalty. The
match confidence multiplies: a value is only right if it lands on the right deal.

This is a hand-set baseline: the weights are to be calibrated on a corpus, so they live in
one frozen dataclass and ``field_confidence`` takes them as an argument.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from runtime.agents.extraction import Candidate, SpeakerRole
from runtime.agents.results import FieldDecision

__all__ = ["DEFAULT_WEIGHTS", "ConfidenceWeights", "field_confidence", "overall_confidence"]


@dataclass(frozen=True, slots=True)
class ConfidenceWeights:
    """Every number of the baseline formula (see the module docstring)."""

    base: float = 0.5
    customer: float = 0.15
    rep: float = 0.0
    unknown: float = 0.05
    explicit_bonus: float = 0.1
    inferred_penalty: float = 0.15
    hedge_penalty: float = 0.2
    commit_bonus: float = 0.15
    correction_bonus: float = 0.05
    mention_bonus: float = 0.05
    mention_cap: int = 2
    conflict_penalty: float = 0.15
    conflict_cap: int = 3
    correction_discount: float = 0.5
    raw_weight: float = 0.5
    match_exponent: float = 1.0

    def speaker(self, role: SpeakerRole) -> float:
        return {"customer": self.customer, "rep": self.rep, "unknown": self.unknown}[role]


DEFAULT_WEIGHTS = ConfidenceWeights()


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def field_confidence(
    candidate: Candidate,
    *,
    match_confidence: float,
    weights: ConfidenceWeights = DEFAULT_WEIGHTS,
) -> float:
    """How likely this value is the right update of the right deal, in [0, 1].

    Args:
        candidate: the proposed value with its signals.
        match_confidence: how sure the record match is (1.0 when no deal is involved,
            e.g. a create proposal).
        weights: the formula's numbers; the calibration replaces the defaults.
    """
    s = candidate.signals
    w = weights
    evidence = w.base + w.speaker(s.speaker_role)
    evidence += w.explicit_bonus if s.explicit else -w.inferred_penalty
    if s.hedged:
        evidence -= w.hedge_penalty
    if s.committed:
        evidence += w.commit_bonus
    if s.corrected:
        evidence += w.correction_bonus
    evidence += min(s.mentions - 1, w.mention_cap) * w.mention_bonus
    conflict = min(s.conflicting_mentions, w.conflict_cap) * w.conflict_penalty
    evidence -= conflict * (w.correction_discount if s.corrected else 1.0)
    evidence = _clamp(evidence)
    if candidate.raw_confidence is not None:
        evidence = (1.0 - w.raw_weight) * evidence + w.raw_weight * candidate.raw_confidence
    return _clamp(evidence * _clamp(match_confidence) ** w.match_exponent)


def overall_confidence(decisions: Iterable[FieldDecision]) -> float | None:
    """The mean confidence of the proposed fields (skipped ones excluded); None if none."""
    proposed = [d.confidence for d in decisions if d.route != "skip"]
    if not proposed:
        return None
    return sum(proposed) / len(proposed)
