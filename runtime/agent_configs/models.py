"""A stored agent config (a row of the seed's ``agent_configs``) and the inputs that make one."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from runtime.agents.config import AgentConfig
from runtime.errors import StorageError
from runtime.validation import NonEmptyStr

__all__ = [
    "AGENT_STATUSES",
    "AgentConfigCreate",
    "AgentConfigUpdate",
    "AgentStatus",
    "StoredAgentConfig",
]

AgentStatus = Literal["draft", "active", "paused", "error"]
AGENT_STATUSES: tuple[AgentStatus, ...] = ("draft", "active", "paused", "error")

_INPUT = ConfigDict(extra="forbid")
_DESCRIPTION_MAX = 2000


class AgentConfigCreate(BaseModel):
    """A new agent of a workspace. It starts as a draft: nothing runs until it is activated."""

    model_config = _INPUT

    name: NonEmptyStr = Field(max_length=255)
    config: AgentConfig
    call_type: str | None = Field(
        default=None,
        max_length=100,
        description="The primary call type, one the config runs on; default: its first.",
    )
    description: str | None = Field(default=None, max_length=_DESCRIPTION_MAX)

    @field_validator("call_type")
    @classmethod
    def _primary_is_configured(cls, value: str | None, info: ValidationInfo) -> str | None:
        # ``config`` is declared first, so it is in ``info.data`` unless it failed (and was
        # reported) itself; the problem is then the call type's, named by its field.
        config = info.data.get("config")
        if (
            value is not None
            and config is not None
            and value.strip().lower() not in config.call_types
        ):
            raise ValueError(
                f"{value!r} is not one of the config's call_types ({', '.join(config.call_types)})"
            )
        return value

    @property
    def primary_call_type(self) -> str:
        """The ``agent_configs.call_type`` column: the given call type or the config's first."""
        if self.call_type is None:
            return self.config.call_types[0]
        return self.call_type.strip().lower()


class AgentConfigUpdate(BaseModel):
    """What may change on an agent; fields left at None keep their value."""

    model_config = _INPUT

    name: NonEmptyStr | None = Field(default=None, max_length=255)
    config: AgentConfig | None = None
    description: str | None = Field(
        default=None,
        max_length=_DESCRIPTION_MAX,
        description="A new description; an empty (or blank) one removes it.",
    )


class StoredAgentConfig(BaseModel):
    """An ``agent_configs`` row, its ``config`` validated like any user-supplied config."""

    id: UUID
    workspace_id: UUID
    created_by: UUID
    name: str
    crm_type: Literal["hubspot", "salesforce"]
    call_type: str | None = Field(description="The primary call type.")
    config: AgentConfig
    status: AgentStatus
    is_template: bool
    template_key: str | None = Field(description="The built-in template of a template row.")
    description: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> StoredAgentConfig:
        """Build from a row of the repository's column list.

        Raises:
            StorageError: the row breaks the model, e.g. a config written by someone else
                that this version cannot read.
        """
        data = dict(row)
        # The seed lets both columns be NULL; their defaults say what NULL means.
        if data.get("status") is None:
            data["status"] = "draft"
        if data.get("is_template") is None:
            data["is_template"] = False
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise StorageError(
                f"agent config {data.get('id')} cannot be read:"
                f" {exc.error_count()} problem(s), first {_first(exc)}"
            ) from exc


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ()))
    return f"{where}: {error.get('msg', 'is invalid')}"
