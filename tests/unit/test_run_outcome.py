"""What a finished run records, from the agent's result: activity, proposals, inbox item."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from runtime.agents.extraction import Evidence
from runtime.agents.results import AgentResult, FieldDecision, MatchResult
from runtime.crm.port import CrmRecord
from runtime.meetings.models import Meeting
from runtime.runs.outcome import failed_outcome, outcome_of, skipped_outcome
from tests.meetings import example_meeting

DEAL = CrmRecord(id="301", object_type="deals", properties={"dealname": "Acme Expansion"})
OTHER = CrmRecord(id="302", object_type="deals", properties={"dealname": "Acme Renewal"})
SAID = Evidence(source="transcript", text="Sixty thousand works.", speaker="Dana Ruiz", line=1)


def _meeting(**changes: Any) -> Meeting:
    return Meeting.model_validate(
        {
            **example_meeting(**changes),
            "id": uuid.uuid4(),
            "workspace_id": uuid.uuid4(),
            "content_sha256": "0" * 64,
            "created_at": datetime(2026, 3, 2, tzinfo=UTC),
        }
    )


def _decision(
    field: str, after: str, route: Literal["auto_apply", "review", "skip"], confidence: float = 0.7
) -> FieldDecision:
    return FieldDecision(
        field=field,
        before="20000" if field == "amount" else None,
        after=after,
        confidence=confidence,
        route=route,
        reason=f"{route} because",
        evidence=(SAID,),
    )


def _result(*decisions: FieldDecision, match: float = 0.9, **changes: Any) -> AgentResult:
    values: dict[str, Any] = {
        "action_type": "update",
        "match": MatchResult(
            record=DEAL, confidence=match, candidates=(DEAL, OTHER), reason="contact and company"
        ),
        "decisions": decisions,
        "overall_confidence": 0.7,
        **changes,
    }
    return AgentResult(**values)


def _outcome(result: AgentResult, **changes: Any) -> Any:
    return outcome_of(
        result,
        meeting=changes.pop("meeting", _meeting()),
        agent_id="agent-1",
        agent_name="Discovery agent",
        min_match_confidence=changes.pop("min_match_confidence", 0.8),
    )


def test_auto_applied_fields_are_queued_and_need_no_inbox_item() -> None:
    outcome = _outcome(_result(_decision("amount", "60000", "auto_apply")))
    assert (outcome.action_type, outcome.status, outcome.crm_record_id) == (
        "update",
        "pending",
        "301",
    )
    assert outcome.crm_record_type == "deal"
    assert outcome.fields_updated == {
        "amount": {"before": "20000", "after": "60000", "confidence": 0.7}
    }
    [proposal] = outcome.proposals
    assert (proposal.status, proposal.evidence[0]["speaker"]) == ("queued", "Dana Ruiz")
    assert outcome.inbox is None


def test_reviewed_fields_make_one_approval_item_with_everything_a_human_needs() -> None:
    meeting = _meeting()
    outcome = _outcome(
        _result(
            _decision("amount", "60000", "review", 0.62),
            _decision("closedate", "2026-04-30", "review", 0.55),
            _decision("hs_next_step", "Send the order form", "auto_apply", 0.9),
            _decision("dealstage", "qualifiedtobuy", "skip"),
        ),
        meeting=meeting,
    )
    assert [p.status for p in outcome.proposals] == ["pending", "pending", "queued"]
    assert set(outcome.fields_updated) == {"amount", "closedate", "hs_next_step"}
    item = outcome.inbox
    assert item is not None
    assert (item.item_type, item.title) == ("approval", "Review 2 changes to Acme Expansion")
    assert item.confidence == 0.55
    assert item.description.splitlines() == [
        "amount: 20000 \u2192 60000",
        "closedate: (empty) \u2192 2026-04-30",
    ]
    context = item.context
    assert context["meeting"]["id"] == str(meeting.id)
    assert context["agent"] == {"id": "agent-1", "name": "Discovery agent"}
    assert context["record"] == {"type": "deal", "id": "301", "name": "Acme Expansion"}
    assert [f["field"] for f in context["fields"]] == ["amount", "closedate"]
    assert context["fields"][0]["evidence"][0]["text"] == "Sixty thousand works."
    assert outcome.details["skipped_fields"] == {"dealstage": "skip because"}


def test_an_uncertain_match_asks_which_deal_with_the_candidates() -> None:
    outcome = _outcome(_result(_decision("amount", "60000", "review"), match=0.6))
    assert outcome.inbox is not None
    assert outcome.inbox.item_type == "question"
    assert outcome.inbox.title == "Which deal is 'Discovery call - Acme Corp' about?"
    assert "pick the deal" in outcome.inbox.description
    assert [c["id"] for c in outcome.inbox.context["match"]["candidates"]] == ["301", "302"]


def test_a_proposed_create_is_an_approval_for_a_new_deal() -> None:
    result = _result(_decision("amount", "60000", "review"), action_type="create")
    result = result.model_copy(
        update={
            "match": MatchResult(
                record=None,
                confidence=0.0,
                reason="no deal",
                opens_opportunity=True,
                company_id="105",
                contact_ids=("205", "206"),
            )
        }
    )
    outcome = _outcome(result)
    assert (outcome.action_type, outcome.crm_record_id, outcome.crm_record_type) == (
        "create",
        None,
        "deal",
    )
    assert outcome.inbox is not None
    assert (outcome.inbox.item_type, outcome.inbox.title) == (
        "approval",
        "Create a deal from 'Discovery call - Acme Corp'?",
    )
    # What the writer links the new deal to when it is approved.
    assert outcome.inbox.context["company"] == {"id": "105"}
    assert outcome.inbox.context["contacts"] == [{"id": "205"}, {"id": "206"}]


def test_a_long_title_is_cut_to_the_column() -> None:
    outcome = _outcome(
        _result(_decision("amount", "60000", "review"), match=0.1),
        meeting=_meeting(title="x" * 400),
    )
    assert outcome.inbox is not None
    assert len(outcome.inbox.title) == 255
    assert outcome.inbox.title.endswith("\u2026")


def test_a_skip_is_a_success_with_its_reason_and_nothing_else() -> None:
    outcome = _outcome(_result(_decision("amount", "20000", "skip"), action_type="skip",
                               skip_reason="nothing new"))  # fmt: skip
    assert (outcome.action_type, outcome.status, outcome.proposals, outcome.inbox) == (
        "skip",
        "success",
        (),
        None,
    )
    assert outcome.details["skip_reason"] == "nothing new"


def test_failed_and_skipped_runs_carry_their_message() -> None:
    failed = failed_outcome("no CRM connection", details={"error": "X"})
    assert (failed.status, failed.error_message, failed.crm_record_type) == (
        "failed",
        "no CRM connection",
        None,
    )
    skipped = skipped_outcome("agent is paused")
    assert (skipped.status, skipped.details) == ("success", {"skip_reason": "agent is paused"})
