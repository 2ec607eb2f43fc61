"""Notification preferences: for each (channel, notification type), whether and how often a
user is told.

The seed's ``notification_preferences`` has no workspace: a user's preferences are theirs in
every workspace. A pair the user never changed has no row; it reads as the seed's column
defaults (enabled, immediate), so ``full_matrix`` always gives every pair. A channel delivers
a kind when it is enabled and its frequency is not ``off``; ``digest`` batches it into the
user's digest.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

__all__ = [
    "CHANNELS",
    "FREQUENCIES",
    "NOTIFICATION_TYPES",
    "Channel",
    "Frequency",
    "NotificationPreference",
    "NotificationType",
    "PreferenceChange",
    "full_matrix",
]

Channel = Literal["slack", "desktop", "email", "in_app"]
NotificationType = Literal["hitl_approval", "agent_complete", "error", "anomaly"]
Frequency = Literal["immediate", "digest", "off"]
CHANNELS: tuple[Channel, ...] = ("slack", "desktop", "email", "in_app")
NOTIFICATION_TYPES: tuple[NotificationType, ...] = (
    "hitl_approval",
    "agent_complete",
    "error",
    "anomaly",
)
FREQUENCIES: tuple[Frequency, ...] = ("immediate", "digest", "off")

_DEFAULT_ENABLED = True  # the seed's column defaults
_DEFAULT_FREQUENCY: Frequency = "immediate"


class NotificationPreference(BaseModel):
    """One (channel, type) pair of a user; ``id`` is None for a pair read as its default."""

    model_config = ConfigDict(frozen=True)

    id: UUID | None
    user_id: UUID
    channel: Channel
    notification_type: NotificationType
    is_enabled: bool
    frequency: Frequency

    @property
    def is_default(self) -> bool:
        return self.id is None

    @property
    def delivers(self) -> bool:
        """Whether this channel tells the user about this kind at all."""
        return self.is_enabled and self.frequency != "off"

    @classmethod
    def from_row(cls, row: Any) -> NotificationPreference:
        data = dict(row)
        # The seed lets both be NULL; their defaults say what NULL means.
        if data.get("is_enabled") is None:
            data["is_enabled"] = _DEFAULT_ENABLED
        if data.get("frequency") is None:
            data["frequency"] = _DEFAULT_FREQUENCY
        return cls.model_validate(data)

    @classmethod
    def default(
        cls, user_id: UUID, channel: Channel, notification_type: NotificationType
    ) -> NotificationPreference:
        return cls(
            id=None,
            user_id=user_id,
            channel=channel,
            notification_type=notification_type,
            is_enabled=_DEFAULT_ENABLED,
            frequency=_DEFAULT_FREQUENCY,
        )


class PreferenceChange(BaseModel):
    """A change to one pair; a field left at None keeps the stored (or default) value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: Channel
    notification_type: NotificationType
    is_enabled: bool | None = None
    frequency: Frequency | None = Field(default=None, validate_default=True)

    @field_validator("frequency")
    @classmethod
    def _changes_something(cls, value: Frequency | None, info: ValidationInfo) -> Frequency | None:
        if value is None and info.data.get("is_enabled") is None:
            raise ValueError("give is_enabled, frequency or both")
        return value


def full_matrix(
    user_id: UUID, stored: Iterable[NotificationPreference]
) -> list[NotificationPreference]:
    """Every (channel, type) pair of the user: the stored ones, the defaults for the rest;
    channels in ``CHANNELS`` order, then types in ``NOTIFICATION_TYPES`` order."""
    by_pair = {(p.channel, p.notification_type): p for p in stored}
    return [
        by_pair.get((channel, kind)) or NotificationPreference.default(user_id, channel, kind)
        for channel in CHANNELS
        for kind in NOTIFICATION_TYPES
    ]
