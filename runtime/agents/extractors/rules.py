"""The built-in offline extractor, assembled from one rule family per field.

- ``amount``: ``amounts.py`` (numbers in words and shorthand, per-unit x units, the last
  agreed figure; budgets, competitors' prices, last year's spend and discounts excluded;
  nothing when the call lost the deal).
- ``closedate``: ``dates.py`` (absolute and relative dates about closing, resolved against
  the meeting's start; speculation and rejected dates excluded; signing dates; nothing when
  the call lost the deal).
- ``hs_next_step``: ``next_steps.py`` (the agreed action at the end of the call, who does
  what by when, the rep's notes first; nothing when it is already in the CRM).
- ``dealstage``: ``stages.py`` (what happened, mapped onto the deal's own pipeline by the
  stages' meaning: forward only, or to closed lost; the customer's word, not the rep's hope).

Each family ranks its own candidates; only its best one is handed on, because routing
compares confidences, and the families' ranking knows more than a confidence does.
"""

from __future__ import annotations

from collections.abc import Mapping

from runtime.agents.extraction import Candidate, ExtractionContext, SpeakerRole
from runtime.agents.extractors.amounts import extract_amount_candidates
from runtime.agents.extractors.dates import DateCandidate, extract_close_date_candidates
from runtime.agents.extractors.next_steps import extract_next_step_candidates
from runtime.agents.extractors.speakers import speaker_roles
from runtime.agents.extractors.stages import StageCandidate, extract_stage_candidates

__all__ = ["RulesExtractor"]


class RulesExtractor:
    """Offline, deterministic, no network: the default extractor."""

    name = "rules"

    async def extract(self, context: ExtractionContext) -> list[Candidate]:
        meeting = context.meeting
        roles = speaker_roles(meeting)
        found: list[Candidate] = []
        stages = _stage_candidates(context, roles)
        if "dealstage" in context.fields:
            found.extend(s.to_candidate() for s in stages[:1])
        # A lost deal keeps its amount (the figures of that call are the winner's price or the
        # offer that lost) and gets no close date: nothing will be signed.
        lost = bool(stages) and stages[0].kind == "lost" and not stages[0].signals.hedged
        if "amount" in context.fields and not lost:
            amounts = extract_amount_candidates(meeting, speaker_roles=roles)
            found.extend(a.to_candidate() for a in amounts[:1])
        if "closedate" in context.fields and not lost:
            dates = extract_close_date_candidates(meeting, speaker_roles=roles)
            found.extend(d.to_candidate() for d in dates[:1] if not _within_current(d, context))
        if "hs_next_step" in context.fields:
            current = context.record.properties.get("hs_next_step") if context.record else None
            steps = extract_next_step_candidates(
                meeting, speaker_roles=roles, current_next_step=current
            )
            found.extend(s.to_candidate() for s in steps[:1])
        return found


def _stage_candidates(
    context: ExtractionContext, roles: Mapping[str, SpeakerRole]
) -> list[StageCandidate]:
    """The stage candidates, also when the agent does not manage ``dealstage``: a lost deal
    changes what the other fields may say."""
    if context.pipeline is None:
        return []
    record = context.record
    return extract_stage_candidates(
        context.meeting,
        pipeline=context.pipeline,
        current_stage=record.properties.get("dealstage") if record else None,
        speaker_roles=roles,
        deal_name=record.properties.get("dealname") if record else None,
    )


def _within_current(candidate: DateCandidate, context: ExtractionContext) -> bool:
    """A month-level date ("in February") that the deal's close date already falls in."""
    if candidate.granularity != "month" or context.record is None:
        return False
    current = (context.record.properties.get("closedate") or "")[:7]
    return current == candidate.value[:7]
