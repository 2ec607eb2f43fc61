"""User automations: when something happens to its owner's data (a trigger), do something
(an action). Each kind is a strict pydantic model (unknown keys are errors) discriminated on
``type``; the ``user_automations`` row keeps the type in ``trigger_type`` / ``action_type``
and the rest of the model in ``trigger_config`` / ``action_config``.

Triggers, and the events each matches. None names a user: an automation only ever sees
events about its owner's data, whoever asks.

- ``inbox_item_created``: an inbox item addressed to the owner (its item types, its
  confidence within ``min_confidence``..``max_confidence``).
- ``activity_on_my_deals``: an activity row about a deal whose affected user is the owner
  (its statuses and action types).
- ``anomaly_on_my_agents``: an anomaly about an agent the owner created (severities, types).
- ``meeting_of_call_type``: a meeting the owner owns, of one of the call types.
- ``schedule``: a five-field cron expression or a fixed interval, in a timezone.

Actions: ``auto_approve`` (the owner's approval items, the listed fields at or above a
confidence), ``notify`` (channels), ``digest`` (collected into a daily or weekly message),
``create_crm_task`` (a task owned by the owner, subject from a template), ``webhook`` (an
HTTPS POST, optionally signed with a secret that is stored sealed and never shown again).

``definition.py`` turns API input into these models and says which pairs make sense.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from runtime.automations.cron import CronSchedule, parse_cron
from runtime.automations.destinations import check_webhook_url
from runtime.errors import StorageError

__all__ = [
    "ACTIONS_BY_TYPE",
    "ACTION_ADAPTER",
    "ALLOW_PRIVATE_HOSTS",
    "CHANNELS",
    "TRIGGERS_BY_TYPE",
    "TRIGGER_ADAPTER",
    "Action",
    "ActionType",
    "ActivityOnMyDeals",
    "AnomalyOnMyAgents",
    "AutoApprove",
    "Channel",
    "CreateCrmTask",
    "Digest",
    "InboxItemCreated",
    "MeetingOfCallType",
    "Notify",
    "Schedule",
    "StoredAutomation",
    "Trigger",
    "TriggerType",
    "Webhook",
    "config_of",
    "placeholders",
]

ALLOW_PRIVATE_HOSTS = "allow_private_hosts"
"""Validation context key: when true, webhooks may target private and loopback hosts
(``CRM_AGENTS_AUTOMATIONS__ALLOW_PRIVATE_WEBHOOK_HOSTS``, for tests and emulators)."""

TriggerType = Literal[
    "inbox_item_created",
    "activity_on_my_deals",
    "anomaly_on_my_agents",
    "meeting_of_call_type",
    "schedule",
]
ActionType = Literal["auto_approve", "notify", "digest", "create_crm_task", "webhook"]
Channel = Literal["slack", "desktop", "email", "in_app"]
CHANNELS: tuple[Channel, ...] = ("slack", "desktop", "email", "in_app")
_DIGEST_CHANNELS: tuple[Channel, ...] = ("email",)

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)
_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
_PROPERTY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

ItemT = TypeVar("ItemT")


def _distinct(values: list[ItemT]) -> list[ItemT]:
    seen: list[ItemT] = []
    for value in values:
        if value in seen:
            raise ValueError(f"lists {value!r} twice")
        seen.append(value)
    return values


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            f"{value[:100]!r} must be a lower-case word of letters, digits and '_'"
            " (e.g. high_failure_rate)"
        )
    return value


def _call_type(value: str) -> str:
    value = value.strip().lower()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > 100:
        raise ValueError("must be at most 100 characters")
    return value


def _property_name(value: str) -> str:
    if not _PROPERTY.match(value):
        raise ValueError(
            f"{value[:100]!r} is not a CRM property name (letters, digits and '_',"
            " starting with a letter)"
        )
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value[:64]!r} is not an IANA timezone (e.g. UTC, Europe/Paris)"
        ) from None
    return value


Confidence = Annotated[float, Field(ge=0, le=1)]
Slug = Annotated[str, AfterValidator(_slug)]
CallType = Annotated[str, AfterValidator(_call_type)]
PropertyName = Annotated[str, AfterValidator(_property_name)]
Timezone = Annotated[str, AfterValidator(_timezone)]
InboxItemKind = Literal["approval", "question", "alert"]
ActivityStatus = Literal["pending", "success", "failed", "rejected"]
ActivityAction = Literal["create", "update", "skip"]
Severity = Literal["info", "warning", "error"]
_ITEM_KINDS: tuple[InboxItemKind, ...] = ("approval", "question", "alert")
_ACTIVITY_STATUSES: tuple[ActivityStatus, ...] = ("pending", "success", "failed", "rejected")
_ACTIVITY_ACTIONS: tuple[ActivityAction, ...] = ("create", "update", "skip")
_SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error")


# Triggers ---------------------------------------------------------------------------------


class InboxItemCreated(BaseModel):
    """An inbox item addressed to the owner was created."""

    model_config = _STRICT

    type: Literal["inbox_item_created"] = "inbox_item_created"
    item_types: Annotated[list[InboxItemKind], AfterValidator(_distinct)] = Field(
        default_factory=lambda: list(_ITEM_KINDS),
        min_length=1,
        description="Which items; leave it out for every type.",
    )
    min_confidence: Confidence | None = None
    max_confidence: Confidence | None = None

    @field_validator("max_confidence")
    @classmethod
    def _not_below_min(cls, value: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min_confidence")
        if value is not None and low is not None and value < low:
            raise ValueError(f"must not be below min_confidence ({low})")
        return value


class ActivityOnMyDeals(BaseModel):
    """The agent acted on a deal whose affected user is the owner."""

    model_config = _STRICT

    type: Literal["activity_on_my_deals"] = "activity_on_my_deals"
    statuses: Annotated[list[ActivityStatus], AfterValidator(_distinct)] = Field(
        default_factory=lambda: list(_ACTIVITY_STATUSES), min_length=1
    )
    action_types: Annotated[list[ActivityAction], AfterValidator(_distinct)] = Field(
        default_factory=lambda: list(_ACTIVITY_ACTIONS), min_length=1
    )


class AnomalyOnMyAgents(BaseModel):
    """An anomaly was detected on an agent the owner created."""

    model_config = _STRICT

    type: Literal["anomaly_on_my_agents"] = "anomaly_on_my_agents"
    severities: Annotated[list[Severity], AfterValidator(_distinct)] = Field(
        default_factory=lambda: list(_SEVERITIES), min_length=1
    )
    anomaly_types: Annotated[list[Slug], AfterValidator(_distinct)] = Field(
        default_factory=list, description="Which anomaly types; empty for every type."
    )


class MeetingOfCallType(BaseModel):
    """A meeting the owner owns, of one of these call types, was stored."""

    model_config = _STRICT

    type: Literal["meeting_of_call_type"] = "meeting_of_call_type"
    call_types: Annotated[list[CallType], AfterValidator(_distinct)] = Field(min_length=1)


class Schedule(BaseModel):
    """A point in time: a cron expression or every so many minutes, in a timezone."""

    model_config = _STRICT

    type: Literal["schedule"] = "schedule"
    cron: str | None = Field(
        default=None, max_length=200, description="minute hour day-of-month month day-of-week"
    )
    every_minutes: int | None = Field(
        default=None,
        ge=5,
        le=10_080,
        validate_default=True,
        description="An interval from 5 minutes to a week, instead of cron.",
    )
    timezone: Timezone = "UTC"

    @field_validator("cron")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        return None if value is None else parse_cron(value).expression

    @field_validator("every_minutes")
    @classmethod
    def _cron_or_interval(cls, value: int | None, info: ValidationInfo) -> int | None:
        if "cron" not in info.data:
            return value  # cron itself is invalid: that is the error to show
        cron = info.data["cron"]
        if cron is not None and value is not None:
            raise ValueError("give cron or every_minutes, not both")
        if cron is None and value is None:
            raise ValueError("give every_minutes, or cron (e.g. '0 9 * * mon-fri')")
        return value

    def cron_schedule(self) -> CronSchedule | None:
        return None if self.cron is None else parse_cron(self.cron)


Trigger = Annotated[
    InboxItemCreated | ActivityOnMyDeals | AnomalyOnMyAgents | MeetingOfCallType | Schedule,
    Field(discriminator="type"),
]

TRIGGERS_BY_TYPE: Mapping[TriggerType, type[BaseModel]] = {
    "inbox_item_created": InboxItemCreated,
    "activity_on_my_deals": ActivityOnMyDeals,
    "anomaly_on_my_agents": AnomalyOnMyAgents,
    "meeting_of_call_type": MeetingOfCallType,
    "schedule": Schedule,
}


# Actions ----------------------------------------------------------------------------------


class AutoApprove(BaseModel):
    """Approve the owner's approval items whose listed fields all reach ``min_confidence``."""

    model_config = _STRICT

    type: Literal["auto_approve"] = "auto_approve"
    fields: Annotated[list[PropertyName], AfterValidator(_distinct)] = Field(
        min_length=1, max_length=100, description="CRM properties that may be approved."
    )
    min_confidence: Confidence


class Notify(BaseModel):
    """Tell the owner on these channels."""

    model_config = _STRICT

    type: Literal["notify"] = "notify"
    channels: Annotated[list[Channel], AfterValidator(_distinct)] = Field(min_length=1)


class Digest(BaseModel):
    """Collect the events into one message a day or a week, at a local time of day."""

    model_config = _STRICT

    type: Literal["digest"] = "digest"
    frequency: Literal["daily", "weekly"]
    time_of_day: str = Field(description="HH:MM, 24-hour, in ``timezone``.")
    timezone: Timezone = "UTC"
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = Field(
        default=None, validate_default=True, description="The day of a weekly digest."
    )
    channels: Annotated[list[Channel], AfterValidator(_distinct)] = Field(
        default_factory=lambda: list(_DIGEST_CHANNELS), min_length=1
    )

    @field_validator("time_of_day")
    @classmethod
    def _is_time(cls, value: str) -> str:
        if not _TIME_OF_DAY.match(value):
            raise ValueError(f"{value[:20]!r} is not a 24-hour HH:MM time (e.g. 08:30)")
        return value

    @field_validator("weekday")
    @classmethod
    def _weekly_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        frequency = info.data.get("frequency")
        if frequency == "weekly" and value is None:
            raise ValueError("is required for a weekly digest")
        if frequency == "daily" and value is not None:
            raise ValueError("is only for a weekly digest")
        return value


class CreateCrmTask(BaseModel):
    """Create a CRM task owned by the owner (on the event's record when it has one)."""

    model_config = _STRICT

    type: Literal["create_crm_task"] = "create_crm_task"
    subject_template: str = Field(
        min_length=1, max_length=255, description="Text with {placeholders} of the trigger."
    )
    due_in_days: int = Field(default=1, ge=0, le=365)

    @field_validator("subject_template")
    @classmethod
    def _placeholders_are_names(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        placeholders(value)
        return value


class Webhook(BaseModel):
    """POST the event as JSON to an HTTPS URL, signed (HMAC-SHA256) when a secret is set."""

    # The secret must not appear in an error, even as the input pydantic echoes.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, hide_input_in_errors=True)

    type: Literal["webhook"] = "webhook"
    url: str = Field(max_length=2048)
    secret: SecretStr | None = Field(
        default=None, description="16 to 256 characters; stored sealed, never shown again."
    )

    @field_validator("url")
    @classmethod
    def _public_https(cls, value: str, info: ValidationInfo) -> str:
        allow_private = bool((info.context or {}).get(ALLOW_PRIVATE_HOSTS))
        return check_webhook_url(value, allow_private=allow_private)

    @field_validator("secret")
    @classmethod
    def _secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not 16 <= len(value.get_secret_value()) <= 256:
            raise ValueError("must be 16 to 256 characters")
        return value


Action = Annotated[
    AutoApprove | Notify | Digest | CreateCrmTask | Webhook, Field(discriminator="type")
]

ACTIONS_BY_TYPE: Mapping[ActionType, type[BaseModel]] = {
    "auto_approve": AutoApprove,
    "notify": Notify,
    "digest": Digest,
    "create_crm_task": CreateCrmTask,
    "webhook": Webhook,
}


def placeholders(template: str) -> list[str]:
    """The ``{name}`` placeholders of a subject template, in order.

    Raises:
        ValueError: unbalanced braces, or a placeholder that is not a plain name
            (``{}``, ``{0}``, ``{a.b}``, ``{a!r}``, ``{a:>10}``).
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"is not a template: {exc} (write {{{{ for a literal brace)") from None
    names: list[str] = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not _SLUG.match(name) or spec or conversion:
            raise ValueError(f"{{{name}}} is not a placeholder: use a plain {{name}}")
        names.append(name)
    return names


# Stored rows ------------------------------------------------------------------------------

TRIGGER_ADAPTER: TypeAdapter[Trigger] = TypeAdapter(Trigger)
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)


class StoredAutomation(BaseModel):
    """A ``user_automations`` row: its trigger and action as models (a webhook's secret is
    not read here: ``has_webhook_secret`` says whether one is stored)."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    workspace_id: UUID
    user_id: UUID = Field(description="The owner: the automation acts on their data only.")
    name: str
    trigger: Trigger
    action: Action
    is_active: bool
    has_webhook_secret: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> StoredAutomation:
        """Build from a row of the repository's column list.

        Raises:
            StorageError: the stored trigger or action breaks its model (e.g. a kind this
                version does not know).
        """
        try:
            trigger = TRIGGER_ADAPTER.validate_python(
                {**(row["trigger_config"] or {}), "type": row["trigger_type"]}
            )
            # The setting may have changed since the row was written: reading never fails on
            # it; delivery checks the destination again.
            action = ACTION_ADAPTER.validate_python(
                {**(row["action_config"] or {}), "type": row["action_type"]},
                context={ALLOW_PRIVATE_HOSTS: True},
            )
        except ValidationError as exc:
            raise StorageError(
                f"user automation {row['id']} cannot be read: {exc.error_count()} problem(s)"
            ) from exc
        return cls(
            id=row["id"],
            workspace_id=row["workspace_id"],
            user_id=row["user_id"],
            name=row["name"],
            trigger=trigger,
            action=action,
            # The seed lets is_active be NULL; its default is true.
            is_active=row["is_active"] is not False,
            has_webhook_secret=row["has_webhook_secret"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


def config_of(model: BaseModel) -> dict[str, Any]:
    """The JSON a trigger or action is stored and shown as: without ``type`` or a secret."""
    return model.model_dump(mode="json", exclude={"type", "secret"})
