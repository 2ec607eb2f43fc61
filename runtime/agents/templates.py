"""Built-in agent templates, one per call type, defined in code.

Each workspace gets them as ``is_template`` rows when it is created. They manage the four
deal properties a sales meeting moves: ``dealstage``, ``amount``, ``closedate`` and
``hs_next_step``. Shared choices: every template starts in review-only mode (the trust
ramp: nothing is written without a human until an admin says so), a proposal nobody
decides on triggers a reminder after 72 hours, the next step is replaced by the latest one
and needs less confidence than money or stage changes.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from runtime.agents.config import AgentConfig, ExpiryPolicy, FieldPolicy

__all__ = ["AgentTemplate", "all_templates", "template_for"]


class AgentTemplate(BaseModel):
    """A ready-made agent: its name, the call type it is made for, and its config."""

    model_config = ConfigDict(frozen=True)

    name: str
    call_type: str = Field(description="The primary call type (``agent_configs.call_type``).")
    description: str
    config: AgentConfig


_NEXT_STEP = FieldPolicy(auto_apply_threshold=0.75, overwrite="overwrite")
_STAGE_REVIEWED = FieldPolicy(auto_apply_threshold=0.9, always_review=True)
_EXPIRY = ExpiryPolicy(after_hours=72.0, then="remind")


def _template(
    call_type: str,
    name: str,
    description: str,
    *,
    dealstage: FieldPolicy,
    amount: FieldPolicy,
    closedate: FieldPolicy,
) -> AgentTemplate:
    config = AgentConfig(
        crm_type="hubspot",
        call_types=(call_type,),
        fields={
            "dealstage": dealstage,
            "amount": amount,
            "closedate": closedate,
            "hs_next_step": _NEXT_STEP,
        },
        review_only=True,
        min_match_confidence=0.8,
        expiry=_EXPIRY,
    )
    return AgentTemplate(name=name, call_type=call_type, description=description, config=config)


_TEMPLATES: tuple[AgentTemplate, ...] = (
    _template(
        "discovery",
        "Discovery call agent",
        "Records budget, timeline and next step from a first qualifying call. Budgets heard"
        " in discovery are soft, so the amount needs high confidence; a stage change is"
        " always a human's call this early.",
        dealstage=_STAGE_REVIEWED,
        amount=FieldPolicy(auto_apply_threshold=0.95),
        closedate=FieldPolicy(auto_apply_threshold=0.9),
    ),
    _template(
        "demo",
        "Demo agent",
        "After a product demo: moves the stage when the buyer confirms interest, updates the"
        " deal size and timeline they mention, and records the agreed next step.",
        dealstage=FieldPolicy(auto_apply_threshold=0.9),
        amount=FieldPolicy(auto_apply_threshold=0.9),
        closedate=FieldPolicy(auto_apply_threshold=0.9),
    ),
    _template(
        "negotiation",
        "Negotiation agent",
        "Tracks the agreed price, the signing date and the stage through commercial"
        " negotiation; a stated commitment from the buyer is the strongest evidence.",
        dealstage=FieldPolicy(auto_apply_threshold=0.9),
        amount=FieldPolicy(auto_apply_threshold=0.9),
        closedate=FieldPolicy(auto_apply_threshold=0.85),
    ),
    _template(
        "renewal",
        "Renewal agent",
        "Updates the renewal amount and date from a renewal conversation; whether a renewal"
        " is won or lost is always confirmed by a human.",
        dealstage=_STAGE_REVIEWED,
        amount=FieldPolicy(auto_apply_threshold=0.9),
        closedate=FieldPolicy(auto_apply_threshold=0.9),
    ),
    _template(
        "qbr",
        "Quarterly business review agent",
        "Captures follow-ups from a business review with an existing customer. Expansion"
        " talk in a QBR is rarely a commitment: stage and amount are always reviewed, a"
        " close date is only filled in when the deal has none.",
        dealstage=_STAGE_REVIEWED,
        amount=FieldPolicy(auto_apply_threshold=0.95, always_review=True),
        closedate=FieldPolicy(auto_apply_threshold=0.9, overwrite="fill_if_blank"),
    ),
    _template(
        "check_in",
        "Check-in agent",
        "Keeps the next step current after a short check-in call; other changes heard in"
        " passing need high confidence, and stage changes a human.",
        dealstage=_STAGE_REVIEWED,
        amount=FieldPolicy(auto_apply_threshold=0.95),
        closedate=FieldPolicy(auto_apply_threshold=0.9),
    ),
)


def all_templates() -> tuple[AgentTemplate, ...]:
    """Every built-in template, in the order the onboarding wizard shows them."""
    return _TEMPLATES


def template_for(call_type: str) -> AgentTemplate | None:
    """The built-in template made for ``call_type`` (case and spaces ignored), if any."""
    wanted = call_type.strip().lower()
    return next((t for t in _TEMPLATES if t.call_type == wanted), None)
