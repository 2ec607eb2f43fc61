"""The routing policy: scored candidates in, one decision per field and the action out.

Pure: it reads the config, the record match, the deal's current values and the property
definitions, and decides. Rules, per field the config manages:

- the candidate with the highest confidence wins (then more mentions, then the later
  statement); other values heard are reported as a warning, and a runner-up within
  ``CLOSE_CALL_MARGIN`` of the winner sends the field to review;
- values are compared by meaning (``runtime.agents.values``): a field whose current value
  is already right is not proposed, a value the property cannot take is skipped with a
  warning, read-only properties are skipped;
- overwrite policy: ``fill_if_blank`` skips a field that has a value, ``append`` adds the
  text to a free-text field (other types are replaced, as ``overwrite`` does);
- ``auto_apply`` only when the deal was matched, the match confidence reaches
  ``min_match_confidence``, the agent is not review-only, the field is not always reviewed
  and its confidence reaches its threshold; anything else goes to review. A wrong or
  uncertain deal match therefore never writes on its own, whatever the field confidences;
- a winner below the field's ``min_proposal_confidence`` is skipped, not proposed: the
  confidence is calibrated, so such a value is more often wrong than right.

Action: ``update`` when a matched deal gets a proposal, ``create`` (always reviewed) when no
deal matched but the meeting opens one, ``skip`` otherwise, with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from runtime.agents.config import AgentConfig, FieldPolicy
from runtime.agents.extraction import Candidate
from runtime.agents.results import ActionType, FieldDecision, MatchResult
from runtime.agents.values import canonical, is_blank, text_key
from runtime.crm.port import Pipeline, PropertyDefinition

__all__ = [
    "CLOSE_CALL_MARGIN",
    "SKIP_NOTHING_NEW",
    "SKIP_NO_DEAL",
    "SKIP_OUT_OF_SCOPE",
    "Routing",
    "ScoredCandidate",
    "in_scope",
    "route",
]

SKIP_OUT_OF_SCOPE = "call type out of scope"
SKIP_NO_DEAL = "no matching deal"
SKIP_NOTHING_NEW = "nothing new"
CLOSE_CALL_MARGIN = 0.2
"""A competing value this close to the winner's confidence makes the field a human's call."""

_FREE_TEXT = frozenset({"string"})
_MODEL = ConfigDict(frozen=True)


class ScoredCandidate(BaseModel):
    """A candidate with the confidence ``runtime.agents.confidence`` gave it."""

    model_config = _MODEL

    candidate: Candidate
    confidence: float = Field(ge=0.0, le=1.0)


class Routing(BaseModel):
    """What the policy decided for one meeting."""

    model_config = _MODEL

    action_type: ActionType
    decisions: tuple[FieldDecision, ...] = ()
    skip_reason: str | None = None
    warnings: tuple[str, ...] = ()


def in_scope(config: AgentConfig, call_type: str | None) -> bool:
    """Whether the agent runs on a meeting of this call type (case and spaces ignored)."""
    return call_type is not None and call_type.strip().lower() in config.call_types


def route(
    *,
    config: AgentConfig,
    match: MatchResult,
    current: Mapping[str, str | None],
    definitions: Mapping[str, PropertyDefinition],
    candidates: Sequence[ScoredCandidate],
    pipeline: Pipeline | None = None,
) -> Routing:
    """Decide every managed field and the action for one meeting (see the module doc)."""
    creating = match.record is None
    if creating and not match.opens_opportunity:
        return Routing(action_type="skip", skip_reason=SKIP_NO_DEAL)
    warnings: list[str] = []
    if not creating and match.confidence < config.min_match_confidence:
        warnings.append(
            f"deal match uncertain ({match.confidence:.2f} < {config.min_match_confidence:.2f}):"
            " every field goes to review"
        )
    decisions: list[FieldDecision] = []
    for field, policy in config.fields.items():
        scored = [s for s in candidates if s.candidate.field == field]
        if not scored:
            continue
        decision = _decide(
            field=field,
            policy=policy,
            scored=scored,
            config=config,
            match=match,
            before=None if creating else current.get(field),
            definition=definitions.get(field),
            pipeline=pipeline,
            warnings=warnings,
        )
        decisions.append(decision)
    proposed = any(d.route != "skip" for d in decisions)
    if creating:
        if not proposed:
            warnings.append("new deal proposed without any field value from the meeting")
        return Routing(action_type="create", decisions=tuple(decisions), warnings=tuple(warnings))
    return Routing(
        action_type="update" if proposed else "skip",
        decisions=tuple(decisions),
        skip_reason=None if proposed else SKIP_NOTHING_NEW,
        warnings=tuple(warnings),
    )


def _rank(scored: ScoredCandidate) -> tuple[float, int, int]:
    lines = [e.line for e in scored.candidate.evidence if e.line is not None]
    return (scored.confidence, scored.candidate.signals.mentions, max(lines, default=-1))


def _decide(
    *,
    field: str,
    policy: FieldPolicy,
    scored: list[ScoredCandidate],
    config: AgentConfig,
    match: MatchResult,
    before: str | None,
    definition: PropertyDefinition | None,
    pipeline: Pipeline | None,
    warnings: list[str],
) -> FieldDecision:
    best_by_value: dict[str, tuple[ScoredCandidate, str]] = {}
    invalid: list[tuple[ScoredCandidate, str]] = []
    for item in scored:
        try:
            value = canonical(item.candidate.value, definition, pipeline=pipeline)
        except ValueError as exc:
            invalid.append((item, str(exc)))
            continue
        key = text_key(value)
        if key not in best_by_value or _rank(item) > _rank(best_by_value[key][0]):
            best_by_value[key] = (item, value)
    for _, problem in invalid:
        warnings.append(f"{field}: skipped {problem}")
    if not best_by_value:
        item, problem = max(invalid, key=lambda pair: _rank(pair[0]))
        return _skip(field, before, item, item.candidate.value, f"not a valid value: {problem}")
    ranked = sorted(best_by_value.values(), key=lambda pair: _rank(pair[0]), reverse=True)
    (winner, after), others = ranked[0], ranked[1:]
    if others:
        heard = ", ".join(value for _, value in others)
        warnings.append(f"{field}: also heard {heard}; proposing {after}")
    if definition is not None and definition.read_only:
        warnings.append(f"{field}: read-only in the CRM, not proposed")
        return _skip(field, before, winner, after, "read-only property")
    if winner.confidence < policy.min_proposal_confidence:
        return _skip(
            field,
            before,
            winner,
            after,
            f"confidence {winner.confidence:.2f} below the proposal floor"
            f" {policy.min_proposal_confidence:.2f}",
        )
    if before is not None and not is_blank(before):
        if _same(before, after, definition, pipeline):
            return _skip(field, before, winner, after, "already up to date")
        if policy.overwrite == "fill_if_blank":
            return _skip(
                field, before, winner, after, "fill_if_blank: the field already has a value"
            )
        if policy.overwrite == "append" and _free_text(definition):
            if text_key(after) in text_key(before):
                return _skip(field, before, winner, after, "append: the text is already there")
            after = f"{before.rstrip()}\n{after}"
    close_call = bool(others) and others[0][0].confidence >= winner.confidence - CLOSE_CALL_MARGIN
    reasons = _review_reasons(policy, config, match, winner.confidence, close_call=close_call)
    threshold = policy.auto_apply_threshold
    return FieldDecision(
        field=field,
        before=before,
        after=after,
        confidence=winner.confidence,
        route="review" if reasons else "auto_apply",
        reason="; ".join(reasons) or f"confidence {winner.confidence:.2f} >= {threshold:.2f}",
        evidence=winner.candidate.evidence,
    )


def _review_reasons(
    policy: FieldPolicy,
    config: AgentConfig,
    match: MatchResult,
    confidence: float,
    *,
    close_call: bool,
) -> list[str]:
    reasons: list[str] = []
    if match.record is None:
        reasons.append("new deal: a human confirms every create")
    elif match.confidence < config.min_match_confidence:
        reasons.append(f"deal match {match.confidence:.2f} below {config.min_match_confidence:.2f}")
    if config.review_only:
        reasons.append("agent is review-only")
    if policy.always_review:
        reasons.append("field is always reviewed")
    if confidence < policy.auto_apply_threshold:
        reasons.append(f"confidence {confidence:.2f} below {policy.auto_apply_threshold:.2f}")
    if close_call:
        reasons.append("conflicting values heard")
    return reasons


def _free_text(definition: PropertyDefinition | None) -> bool:
    return definition is None or definition.type in _FREE_TEXT


def _same(
    before: str, after: str, definition: PropertyDefinition | None, pipeline: Pipeline | None
) -> bool:
    try:
        current = canonical(before, definition, pipeline=pipeline)
    except ValueError:
        # The CRM holds a value we cannot read (e.g. a stage of another pipeline): it differs.
        return False
    return text_key(current) == text_key(after)


def _skip(
    field: str, before: str | None, item: ScoredCandidate, after: str, reason: str
) -> FieldDecision:
    return FieldDecision(
        field=field,
        before=before,
        after=after,
        confidence=item.confidence,
        route="skip",
        reason=reason,
        evidence=item.candidate.evidence,
    )
