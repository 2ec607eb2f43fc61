"""Run the agent on every corpus case, offline, and score it (``crm-agents eval``).

Each case gets its own in-memory CRM built from its ``crm.json``: no database, no network
(for an offline extractor), and nothing is written anywhere. The agent runs with an
*evaluation config*: the case's call-type template (a generic config when the call type has
none, or the meeting has no call type) managing every scored field, with ``review_only`` off,
``always_review`` off, every field's ``auto_apply_threshold`` set to the threshold under
test and its overwrite policy ``overwrite``: ``expected.json`` says what a careful human
would change, whatever a conservative template (``fill_if_blank``) would allow. "Auto-applied"
therefore means what a trusting agent would write without a human at that threshold; the
match confidence floor stays the template's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from runtime.agents.calibration import Calibration
from runtime.agents.config import AgentConfig, FieldPolicy
from runtime.agents.evaluation.corpus import CorpusCase
from runtime.agents.evaluation.scoring import (
    SCORED_FIELDS,
    EvalReport,
    Prediction,
    Proposal,
    score_case,
    summarise,
)
from runtime.agents.extraction import Extractor
from runtime.agents.matching import RecordMatcher
from runtime.agents.pipeline import run_agent
from runtime.agents.results import AgentResult
from runtime.agents.templates import template_for
from runtime.crm.memory import InMemoryCrm

__all__ = [
    "GENERIC_CALL_TYPE",
    "config_for_call_type",
    "evaluate",
    "evaluation_config",
    "prediction_of",
]

GENERIC_CALL_TYPE = "general"


def config_for_call_type(call_type: str | None) -> tuple[AgentConfig, bool]:
    """The built-in template's config for a call type, else a generic one (and False).

    The generic config manages the scored deal fields with the default policies and keeps
    the trust ramp (review only), like every template.
    """
    template = template_for(call_type) if call_type else None
    if template is not None:
        return template.config, True
    generic = AgentConfig(
        call_types=(call_type or GENERIC_CALL_TYPE,),
        fields={field: FieldPolicy() for field in SCORED_FIELDS},
    )
    return generic, False


def evaluation_config(call_type: str | None, *, threshold: float) -> AgentConfig:
    """The config ``eval`` runs a case with: trusting, every scored field at ``threshold``."""
    base, _ = config_for_call_type(call_type)
    fields = dict(base.fields)
    for field in SCORED_FIELDS:
        policy = fields.get(field) or FieldPolicy()
        fields[field] = policy.model_copy(
            update={
                "auto_apply_threshold": threshold,
                "always_review": False,
                "overwrite": "overwrite",
            }
        )
    call_types = base.call_types
    if call_type and call_type.strip().lower() not in call_types:
        call_types = (*call_types, call_type)
    return AgentConfig.model_validate(
        {
            **base.model_dump(),
            "call_types": call_types,
            "fields": {name: policy.model_dump() for name, policy in fields.items()},
            "review_only": False,
        }
    )


def prediction_of(result: AgentResult) -> Prediction:
    """What a run predicts: its deal (None for a create or no match) and routed proposals."""
    record = result.match.record
    deal_id = None if result.action_type == "create" or record is None else record.id
    proposals = tuple(
        Proposal(
            field=decision.field,
            value=decision.after,
            confidence=decision.confidence,
            auto_applied=decision.route == "auto_apply",
        )
        for decision in result.decisions
        if decision.route != "skip"
    )
    return Prediction(deal_id=deal_id, proposals=proposals)


async def evaluate(
    cases: Sequence[CorpusCase],
    *,
    threshold: float,
    extractor: Extractor,
    progress: Callable[[CorpusCase], None] | None = None,
    calibration: Calibration | None = None,
) -> EvalReport:
    """Run the agent on each case in order and score it; ``progress`` hears of each case.

    ``calibration`` defaults to the committed one (see ``run_agent``).

    Raises:
        ValueError: ``threshold`` is outside [0, 1].
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
    scores = []
    for case in cases:
        meeting = case.meeting
        if meeting.call_type is None:  # no agent runs on it; the generic one is evaluated
            meeting = meeting.model_copy(update={"call_type": GENERIC_CALL_TYPE})
        crm = InMemoryCrm.from_snapshot(case.snapshot)
        result = await run_agent(
            meeting,
            crm=crm,
            config=evaluation_config(meeting.call_type, threshold=threshold),
            extractor=extractor,
            matcher=RecordMatcher(crm),
            calibration=calibration,
        )
        scores.append(
            score_case(
                prediction_of(result),
                deal_id=case.expected.deal_id,
                fields=case.expected.fields,
                name=case.name,
                stages=case.stage_ids(),
            )
        )
        if progress is not None:
            progress(case)
    return summarise(scores, threshold=threshold)
