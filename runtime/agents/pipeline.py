"""One agent run on one meeting: scope, match, read the deal, extract, score, route.

``run_agent`` only reads the CRM; writing, logging and notifying belong to its callers, so
a preview is the same run with the result shown instead of applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from runtime.agents.calibration import Calibration
from runtime.agents.calibration_file import default_calibration
from runtime.agents.confidence import (
    DEFAULT_WEIGHTS,
    ConfidenceWeights,
    field_confidence,
    overall_confidence,
)
from runtime.agents.config import AgentConfig
from runtime.agents.extraction import Evidence, ExtractionContext, Extractor
from runtime.agents.results import (
    AgentPreviewResult,
    AgentResult,
    FieldUpdate,
    MatchResult,
)
from runtime.agents.routing import (
    SKIP_NO_DEAL,
    SKIP_OUT_OF_SCOPE,
    ScoredCandidate,
    in_scope,
    route,
)
from runtime.crm.hubspot.standard import deal_pipeline
from runtime.crm.port import CrmPort, CrmRecord
from runtime.meetings.models import MeetingIn

__all__ = ["Matcher", "run_agent", "to_preview"]


class Matcher(Protocol):
    """Finds the deal a meeting is about (``runtime.agents.matching.RecordMatcher``)."""

    async def match(self, meeting: MeetingIn) -> MatchResult: ...


async def run_agent(
    meeting: MeetingIn,
    *,
    crm: CrmPort,
    config: AgentConfig,
    extractor: Extractor,
    matcher: Matcher,
    weights: ConfidenceWeights = DEFAULT_WEIGHTS,
    calibration: Calibration | None = None,
) -> AgentResult:
    """Decide what the agent would do with ``meeting``; reads the CRM, writes nothing.

    Each value's baseline confidence (``field_confidence`` with ``weights``) is mapped by
    ``calibration`` (default: the committed one, ``calibration_file``; ``Calibration()``
    keeps the baseline) before routing, so thresholds act on calibrated probabilities.

    A meeting of a call type the agent does not handle is skipped before anything is
    matched or extracted; so is one whose deal is not found and that opens no opportunity.

    Raises:
        runtime.crm.errors.CrmError: the CRM could not be read.
    """
    if not in_scope(config, meeting.call_type):
        listed = ", ".join(config.call_types)
        return AgentResult(
            action_type="skip",
            match=MatchResult(record=None, confidence=0.0, reason="not attempted"),
            skip_reason=SKIP_OUT_OF_SCOPE,
            warnings=(f"call type {meeting.call_type!r} is not one of the agent's ({listed})",),
        )
    match = await matcher.match(meeting)
    if match.record is None and not match.opens_opportunity:
        return AgentResult(action_type="skip", match=match, skip_reason=SKIP_NO_DEAL)
    fields = tuple(config.fields)
    record: CrmRecord | None = None
    if match.record is not None:
        # The matcher may have read only a few properties: the routing needs fresh values.
        record = await crm.get(
            "deals",
            match.record.id,
            properties=(*fields, "dealname", "pipeline"),
            associations=("companies", "contacts"),
        )
        match = match.model_copy(update={"record": record})
    definitions = {d.name: d for d in await crm.property_definitions("deals") if d.name in fields}
    pipeline = deal_pipeline(record, await crm.pipelines("deals"))
    context = ExtractionContext(
        meeting=meeting, fields=fields, record=record, definitions=definitions, pipeline=pipeline
    )
    candidates = await extractor.extract(context)
    # A create lands on no existing deal, so the match does not discount its values.
    match_confidence = match.confidence if record is not None else 1.0
    calibration = default_calibration() if calibration is None else calibration
    scored = [
        ScoredCandidate(
            candidate=c,
            confidence=calibration.calibrate(
                c.field,
                field_confidence(c, match_confidence=match_confidence, weights=weights),
            ),
        )
        for c in candidates
    ]
    routing = route(
        config=config,
        match=match,
        current=record.properties if record is not None else {},
        definitions=definitions,
        candidates=scored,
        pipeline=pipeline,
    )
    return AgentResult(
        action_type=routing.action_type,
        match=match,
        decisions=routing.decisions,
        overall_confidence=overall_confidence(routing.decisions),
        skip_reason=routing.skip_reason,
        warnings=routing.warnings,
    )


def to_preview(result: AgentResult) -> AgentPreviewResult:
    """The seed's ``AgentPreviewResult``: the proposed fields (skipped ones left out)."""
    warnings = list(result.warnings)
    if result.action_type == "skip" and result.skip_reason:
        warnings.insert(0, f"skipped: {result.skip_reason}")
    if result.action_type == "create":
        warnings.insert(0, "no existing deal matched: proposes creating one")
    matched = result.match.record
    return AgentPreviewResult(
        matched_record=matched,
        match_confidence=result.match.confidence if matched is not None else None,
        fields_to_update=tuple(
            FieldUpdate(
                field_name=d.field,
                current_value=d.before,
                new_value=d.after,
                confidence=d.confidence,
                source=_source(d.evidence),
            )
            for d in result.decisions
            if d.route != "skip"
        ),
        warnings=tuple(warnings),
    )


def _source(evidence: Sequence[Evidence]) -> str:
    """Where the value was heard: the transcript line (with its speaker) or the notes."""
    for item in evidence:
        if item.source == "transcript":
            return f"{item.speaker}: {item.text}" if item.speaker else item.text
    return "notes"
