"""Built-in templates: one per call type, each a valid config that starts review-only."""

from __future__ import annotations

import pytest

from runtime.agents.config import parse_agent_config
from runtime.agents.templates import all_templates, template_for

CALL_TYPES = ("discovery", "demo", "negotiation", "renewal", "qbr", "check_in")
MANAGED = {"dealstage", "amount", "closedate", "hs_next_step"}


def test_there_is_exactly_one_template_per_known_call_type() -> None:
    assert sorted(t.call_type for t in all_templates()) == sorted(CALL_TYPES)
    assert len({t.name for t in all_templates()}) == len(CALL_TYPES)


@pytest.mark.parametrize("call_type", CALL_TYPES)
def test_each_template_validates_and_covers_its_call_type(call_type: str) -> None:
    template = template_for(call_type)
    assert template is not None
    assert template.call_type == call_type
    assert template.description
    # The config survives the same validation a user's config goes through.
    config = parse_agent_config(template.config.model_dump(mode="json"))
    assert config == template.config
    assert call_type in config.call_types
    assert set(config.fields) == MANAGED


@pytest.mark.parametrize("call_type", CALL_TYPES)
def test_each_template_starts_on_the_trust_ramp(call_type: str) -> None:
    template = template_for(call_type)
    assert template is not None
    config = template.config
    assert config.review_only is True
    assert config.crm_type == "hubspot"
    assert (config.expiry.after_hours, config.expiry.then) == (72.0, "remind")
    assert config.fields["hs_next_step"].overwrite == "overwrite"
    assert (
        config.fields["amount"].auto_apply_threshold
        > config.fields["hs_next_step"].auto_apply_threshold
    )


def test_a_stage_change_in_discovery_is_always_reviewed() -> None:
    template = template_for("discovery")
    assert template is not None
    assert template.config.fields["dealstage"].always_review is True


def test_lookup_ignores_case_and_spaces_and_knows_no_other_call_type() -> None:
    template = template_for(" Negotiation ")
    assert template is not None
    assert template.call_type == "negotiation"
    assert template_for("webinar") is None
