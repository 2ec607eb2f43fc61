"""The routing policy: which proposals are written, which a human sees, and which are dropped."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.agents.config import AgentConfig, FieldPolicy
from runtime.agents.extraction import Candidate, Evidence, Signals
from runtime.agents.results import FieldDecision, MatchResult
from runtime.agents.routing import (
    SKIP_NO_DEAL,
    SKIP_NOTHING_NEW,
    Routing,
    ScoredCandidate,
    in_scope,
    route,
)
from runtime.crm.hubspot.standard import (
    DEFAULT_PIPELINE,
    standard_definitions,
    with_pipeline_options,
)
from runtime.crm.port import CrmRecord

DEFINITIONS = {
    d.name: d for d in with_pipeline_options(standard_definitions("deals"), [DEFAULT_PIPELINE])
}
CURRENT: dict[str, str | None] = {
    "dealname": "Acme Expansion",
    "pipeline": "default",
    "dealstage": "appointmentscheduled",
    "amount": "20000",
    "closedate": "2026-06-30T00:00:00.000Z",
    "hs_next_step": "",
}
DEAL = CrmRecord(id="301", object_type="deals", properties=CURRENT)


def _config(review_only: bool = False, **policies: FieldPolicy) -> AgentConfig:
    fields = policies or {
        "amount": FieldPolicy(auto_apply_threshold=0.8),
        "closedate": FieldPolicy(auto_apply_threshold=0.8),
        "dealstage": FieldPolicy(auto_apply_threshold=0.8),
        "hs_next_step": FieldPolicy(auto_apply_threshold=0.7),
    }
    return AgentConfig(call_types=("discovery",), fields=fields, review_only=review_only)


def _match(confidence: float = 0.95, record: CrmRecord | None = DEAL, **kw: Any) -> MatchResult:
    return MatchResult(record=record, confidence=confidence, reason="test", **kw)


def _scored(field: str, value: str, confidence: float = 0.95, line: int = 0) -> ScoredCandidate:
    evidence = Evidence(source="transcript", text=f"said {value}", speaker="Dana Ruiz", line=line)
    candidate = Candidate(field=field, value=value, evidence=(evidence,), signals=Signals())
    return ScoredCandidate(candidate=candidate, confidence=confidence)


def _route(
    *candidates: ScoredCandidate,
    config: AgentConfig | None = None,
    match: MatchResult | None = None,
    current: dict[str, str | None] | None = None,
) -> Routing:
    return route(
        config=config or _config(),
        match=match or _match(),
        current=CURRENT if current is None else current,
        definitions=DEFINITIONS,
        candidates=candidates,
        pipeline=DEFAULT_PIPELINE,
    )


def _only(routing: Routing) -> FieldDecision:
    assert len(routing.decisions) == 1
    return routing.decisions[0]


def test_a_confident_value_on_a_sure_match_is_auto_applied() -> None:
    routing = _route(_scored("amount", "60000"))
    assert routing.action_type == "update"
    decision = _only(routing)
    assert (decision.before, decision.after, decision.route) == ("20000", "60000", "auto_apply")
    assert decision.evidence[0].text == "said 60000"


def test_a_value_below_the_field_threshold_goes_to_review() -> None:
    decision = _only(_route(_scored("amount", "60000", confidence=0.79)))
    assert decision.route == "review"
    assert "below 0.80" in decision.reason


@pytest.mark.parametrize("match_confidence", [0.79, 0.5, 0.0])
def test_an_uncertain_deal_match_never_auto_applies(match_confidence: float) -> None:
    routing = _route(
        _scored("amount", "60000", confidence=1.0),
        _scored("hs_next_step", "Send the MSA", confidence=1.0),
        match=_match(confidence=match_confidence),
    )
    assert routing.action_type == "update"
    assert {d.route for d in routing.decisions} == {"review"}
    assert all("deal match" in d.reason for d in routing.decisions)
    assert any("deal match uncertain" in w for w in routing.warnings)


def test_a_match_at_the_minimum_is_trusted() -> None:
    decision = _only(_route(_scored("amount", "60000"), match=_match(confidence=0.8)))
    assert decision.route == "auto_apply"


def test_a_value_below_the_proposal_floor_is_not_proposed() -> None:
    routing = _route(_scored("amount", "64000", confidence=0.15))
    decision = _only(routing)
    assert (decision.route, routing.action_type) == ("skip", "skip")
    assert "proposal floor 0.20" in decision.reason
    raised = _config(amount=FieldPolicy(min_proposal_confidence=0.5))
    assert _only(_route(_scored("amount", "64000", confidence=0.45), config=raised)).route == (
        "skip"
    )
    assert _only(_route(_scored("amount", "64000", confidence=0.5), config=raised)).route == (
        "review"
    )


def test_always_review_holds_back_even_a_certain_value() -> None:
    config = _config(dealstage=FieldPolicy(auto_apply_threshold=0.5, always_review=True))
    decision = _only(_route(_scored("dealstage", "qualifiedtobuy", 1.0), config=config))
    assert decision.route == "review"
    assert "always reviewed" in decision.reason


def test_a_review_only_agent_writes_nothing_on_its_own() -> None:
    routing = _route(_scored("amount", "60000", 1.0), config=_config(review_only=True))
    assert _only(routing).route == "review"
    assert "review-only" in _only(routing).reason


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "20000.00"),
        ("amount", "20,000"),
        ("closedate", "2026-06-30"),
        ("dealstage", "appointmentscheduled"),
        ("dealstage", "Appointment Scheduled"),
        ("hs_next_step", "send  the msa."),
    ],
)
def test_a_value_that_is_already_right_is_not_proposed(field: str, value: str) -> None:
    current = {**CURRENT, "hs_next_step": "Send the MSA"}
    routing = _route(_scored(field, value), current=current)
    assert routing.action_type == "skip"
    assert routing.skip_reason == SKIP_NOTHING_NEW
    decision = _only(routing)
    assert (decision.route, decision.reason) == ("skip", "already up to date")


def test_values_are_proposed_in_the_crms_form() -> None:
    routing = _route(
        _scored("amount", "60,000.00"),
        _scored("closedate", "2026-04-30T00:00:00Z"),
        _scored("dealstage", "Decision Maker Bought-In"),
    )
    assert {d.field: d.after for d in routing.decisions} == {
        "amount": "60000",
        "closedate": "2026-04-30",
        "dealstage": "decisionmakerboughtin",
    }


def test_fill_if_blank_skips_a_field_that_has_a_value_and_fills_an_empty_one() -> None:
    config = _config(
        amount=FieldPolicy(overwrite="fill_if_blank"),
        hs_next_step=FieldPolicy(auto_apply_threshold=0.5, overwrite="fill_if_blank"),
    )
    routing = _route(_scored("amount", "60000"), _scored("hs_next_step", "Send it"), config=config)
    by_field = {d.field: d for d in routing.decisions}
    assert by_field["amount"].route == "skip"
    assert "fill_if_blank" in by_field["amount"].reason
    assert by_field["hs_next_step"].route == "auto_apply"
    assert by_field["hs_next_step"].after == "Send it"
    assert routing.action_type == "update"


def test_append_joins_free_text_and_does_not_repeat_it() -> None:
    config = _config(hs_next_step=FieldPolicy(auto_apply_threshold=0.5, overwrite="append"))
    current = {**CURRENT, "hs_next_step": "Book a demo"}
    appended = _only(
        _route(_scored("hs_next_step", "Send the MSA"), config=config, current=current)
    )
    assert appended.after == "Book a demo\nSend the MSA"
    assert appended.before == "Book a demo"
    repeated = _route(_scored("hs_next_step", "book a DEMO"), config=config, current=current)
    assert _only(repeated).route == "skip"


def test_overwrite_replaces_free_text() -> None:
    current = {**CURRENT, "hs_next_step": "Book a demo"}
    decision = _only(_route(_scored("hs_next_step", "Send the MSA"), current=current))
    assert (decision.after, decision.route) == ("Send the MSA", "auto_apply")


def test_fields_the_agent_does_not_manage_are_ignored() -> None:
    config = _config(amount=FieldPolicy())
    routing = _route(_scored("description", "Big deal"), _scored("amount", "60000"), config=config)
    assert [d.field for d in routing.decisions] == ["amount"]


def test_the_most_confident_value_wins_and_the_other_is_reported() -> None:
    routing = _route(_scored("amount", "60000", 0.95), _scored("amount", "50000", 0.5))
    decision = _only(routing)
    assert (decision.after, decision.route) == ("60000", "auto_apply")
    assert any("also heard 50000" in w for w in routing.warnings)


def test_a_close_call_between_two_values_goes_to_review() -> None:
    routing = _route(_scored("amount", "60000", 0.95), _scored("amount", "50000", 0.9))
    decision = _only(routing)
    assert decision.after == "60000"
    assert decision.route == "review"
    assert "conflicting" in decision.reason


def test_the_same_value_spelled_twice_is_no_conflict() -> None:
    routing = _route(_scored("amount", "60000", 0.95), _scored("amount", "60,000.00", 0.9))
    assert _only(routing).route == "auto_apply"
    assert routing.warnings == ()


def test_an_enumeration_value_that_is_not_an_option_is_skipped_with_a_warning() -> None:
    routing = _route(_scored("dealstage", "negotiating"))
    decision = _only(routing)
    assert decision.route == "skip"
    assert "not a stage of pipeline 'default'" in decision.reason
    assert any(w.startswith("dealstage:") for w in routing.warnings)
    assert routing.action_type == "skip"


def test_a_number_that_is_not_a_number_is_skipped() -> None:
    decision = _only(_route(_scored("amount", "sixty grand")))
    assert decision.route == "skip"
    assert "not a number" in decision.reason


def test_a_valid_value_wins_over_an_invalid_one() -> None:
    routing = _route(_scored("dealstage", "bogus", 0.99), _scored("dealstage", "qualifiedtobuy"))
    assert _only(routing).after == "qualifiedtobuy"
    assert any("bogus" in w for w in routing.warnings)


def test_a_read_only_property_is_never_proposed() -> None:
    config = _config(createdate=FieldPolicy())
    decision = _only(_route(_scored("createdate", "2026-01-01"), config=config))
    assert decision.route == "skip"


def test_no_deal_and_no_opportunity_is_a_skip() -> None:
    routing = _route(_scored("amount", "60000"), match=_match(confidence=0.0, record=None))
    assert (routing.action_type, routing.skip_reason, routing.decisions) == (
        "skip",
        SKIP_NO_DEAL,
        (),
    )


def test_a_create_proposal_is_always_routed_to_review() -> None:
    match = _match(confidence=1.0, record=None, opens_opportunity=True)
    routing = _route(
        _scored("amount", "60000", 1.0), _scored("closedate", "2026-04-30", 1.0), match=match
    )
    assert routing.action_type == "create"
    assert {d.route for d in routing.decisions} == {"review"}
    assert all(d.before is None for d in routing.decisions)
    assert all("new deal" in d.reason for d in routing.decisions)


def test_nothing_extracted_on_a_matched_deal_is_nothing_new() -> None:
    routing = _route()
    assert (routing.action_type, routing.skip_reason) == ("skip", SKIP_NOTHING_NEW)


def test_call_type_scope_ignores_case_and_needs_a_call_type() -> None:
    config = _config()
    assert in_scope(config, " Discovery ")
    assert not in_scope(config, "renewal")
    assert not in_scope(config, None)
