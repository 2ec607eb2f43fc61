"""The demo's HubSpot account and the agent config that works it."""

from __future__ import annotations

from functools import cache
from importlib import resources

from runtime.agents.config import AgentConfig, FieldPolicy
from runtime.agents.templates import template_for
from runtime.crm.snapshot import CrmSnapshot, parse_snapshot

__all__ = ["DEMO_CALL_TYPES", "DEMO_TEMPLATE", "demo_agent_config", "demo_snapshot"]

DEMO_TEMPLATE = "demo"
"""The built-in template the demo agent is made from."""

DEMO_CALL_TYPES = ("demo", "discovery", "negotiation", "check_in")
"""The call types of the sample meetings; the demo agent runs on all of them."""


@cache
def demo_snapshot() -> CrmSnapshot:
    """The demo account (``runtime/demo/data/crm.json``): five companies, their contacts and
    one open deal each, in HubSpot's default sales pipeline."""
    raw = resources.files("runtime.demo").joinpath("data/crm.json").read_bytes()
    return parse_snapshot(raw, source="runtime/demo/data/crm.json")


def demo_agent_config() -> AgentConfig:
    """The ``demo`` template, past its trust ramp, trusting enough to show both paths.

    The built-in rules' calibrated confidences stay below 0.8 (README, "The agent"), so the
    templates write nothing on their own. Here the next step and the close date are written
    from 0.55 and 0.6 while the amount (0.9) and the stage (always) wait for a human: every
    sample meeting both writes to the CRM and leaves an inbox item.
    """
    template = template_for(DEMO_TEMPLATE)
    assert template is not None, "the built-in demo template exists"
    base = template.config
    return base.model_copy(
        update={
            "call_types": DEMO_CALL_TYPES,
            "review_only": False,
            "fields": {
                **base.fields,
                "hs_next_step": FieldPolicy(auto_apply_threshold=0.55, overwrite="overwrite"),
                "closedate": FieldPolicy(auto_apply_threshold=0.6),
                "amount": FieldPolicy(auto_apply_threshold=0.9),
                "dealstage": FieldPolicy(auto_apply_threshold=0.9, always_review=True),
            },
        }
    )
