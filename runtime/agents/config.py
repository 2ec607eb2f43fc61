"""An agent's configuration: the seed's ``agent_configs.config`` JSONB, as pydantic models.

Validation errors name the field (``fields.amount.auto_apply_threshold: ...``) through
``parse_agent_config``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runtime.errors import parse_json_model

__all__ = [
    "AgentConfig",
    "ExpiryPolicy",
    "FieldPolicy",
    "OverwritePolicy",
    "parse_agent_config",
]

OverwritePolicy = Literal["fill_if_blank", "overwrite", "append"]
_STRICT = ConfigDict(extra="forbid", frozen=True)


class FieldPolicy(BaseModel):
    """How the agent treats one CRM property it manages."""

    model_config = _STRICT

    auto_apply_threshold: float = Field(
        default=0.9,
        ge=0.0,
        le=1.0,
        description="Confidence at or above which the value is written without a human.",
    )
    min_proposal_confidence: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description=(
            "Below this confidence the value is not proposed at all: the confidence is"
            " calibrated, so such a value is nearly always wrong and a reviewer would only"
            " see noise."
        ),
    )
    always_review: bool = Field(
        default=False, description="Never write this field without a human, however confident."
    )
    overwrite: OverwritePolicy = Field(
        default="overwrite",
        description=(
            "fill_if_blank: only set an empty field; overwrite: replace the value; append:"
            " add to the existing text (free-text fields such as next steps)."
        ),
    )


class ExpiryPolicy(BaseModel):
    """What happens to a proposal nobody decided on."""

    model_config = _STRICT

    after_hours: float = Field(default=72.0, gt=0, description="Hours a proposal waits.")
    then: Literal["reject", "approve", "remind"] = Field(
        default="remind", description="What the sweeper does when the time is up."
    )


class AgentConfig(BaseModel):
    """Everything an agent needs to know besides the meeting and the CRM."""

    model_config = _STRICT

    crm_type: Literal["hubspot", "salesforce"] = Field(
        default="hubspot", description="The CRM the agent writes to."
    )
    call_types: tuple[str, ...] = Field(
        min_length=1, description="Meeting call types the agent runs on."
    )
    fields: dict[str, FieldPolicy] = Field(
        min_length=1, description="CRM properties the agent manages, with a policy each."
    )
    review_only: bool = Field(
        default=True,
        description=(
            "Trust ramp: a new agent proposes but writes nothing on its own until an admin"
            " turns this off."
        ),
    )
    min_match_confidence: float = Field(
        default=0.8,
        ge=0.0,
        le=1.0,
        description="Below this record-match confidence a human picks the deal.",
    )
    expiry: ExpiryPolicy = Field(default_factory=ExpiryPolicy)

    @field_validator("crm_type")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value == "salesforce":
            raise ValueError("salesforce is not supported yet (only hubspot)")
        return value

    @field_validator("call_types")
    @classmethod
    def _normalised(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(dict.fromkeys(v.strip().lower() for v in value))
        if any(not v for v in cleaned):
            raise ValueError("a call type must not be empty")
        return cleaned

    def policy(self, field: str) -> FieldPolicy | None:
        return self.fields.get(field)


def parse_agent_config(
    raw: str | bytes | dict[str, Any], *, source: str | None = None
) -> AgentConfig:
    """Validate a config; every problem names its field.

    Raises:
        InvalidInputError: not JSON, or not a valid config.
    """
    return parse_json_model(AgentConfig, raw, source=source)
