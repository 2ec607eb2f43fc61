"""``NotificationPreference``: the ``notificationPreferences`` query and the
``updateNotificationPreference`` mutation.

Preferences belong to a user, not to a workspace (the seed's table has no workspace), and
the query always answers the full matrix: every channel times every notification type,
the pairs never changed read as the defaults (enabled, ``IMMEDIATE``) with a null ``id``
and ``isDefault`` true, so a settings screen needs no defaults of its own.

Whose preferences: the general ``userId`` rule; a member reads and changes their own, an
admin those of any member of the token's workspace. ``updateNotificationPreference``
changes the token's user's unless ``input.userId`` names someone else.
"""

from __future__ import annotations

from enum import Enum

import strawberry

from runtime.api.context import ApiContext
from runtime.api.errors import ApiError
from runtime.api.inputs import input_path, service_errors
from runtime.api.loaders import user_loader
from runtime.api.types.common import User
from runtime.notifications import service
from runtime.notifications.models import NotificationPreference as StoredPreference

__all__ = [
    "Mutation",
    "NotificationChannel",
    "NotificationFrequency",
    "NotificationPreference",
    "NotificationType",
    "Query",
    "UpdateNotificationPreferenceInput",
]

Info = strawberry.Info[ApiContext, None]


@strawberry.enum(description="Where a user is told.")
class NotificationChannel(Enum):
    SLACK = "slack"
    DESKTOP = "desktop"
    EMAIL = "email"
    IN_APP = "in_app"


@strawberry.enum(description="What a user is told about.")
class NotificationType(Enum):
    HITL_APPROVAL = "hitl_approval"
    AGENT_COMPLETE = "agent_complete"
    ERROR = "error"
    ANOMALY = "anomaly"


@strawberry.enum(description="How often: at once, in the digest, or never.")
class NotificationFrequency(Enum):
    IMMEDIATE = "immediate"
    DIGEST = "digest"
    OFF = "off"


@strawberry.type(
    description=(
        "Whether and how often a user is told about one kind of thing on one channel; it"
        " delivers when enabled and its frequency is not OFF."
    )
)
class NotificationPreference:
    stored: strawberry.Private[StoredPreference]
    id: strawberry.ID | None = strawberry.field(
        description="Null while the pair has never been changed from its default."
    )
    channel: NotificationChannel
    notification_type: NotificationType
    is_enabled: bool
    frequency: NotificationFrequency
    is_default: bool = strawberry.field(description="Not stored: the defaults apply.")

    @classmethod
    def of(cls, stored: StoredPreference) -> NotificationPreference:
        return cls(
            stored=stored,
            id=None if stored.id is None else strawberry.ID(str(stored.id)),
            channel=NotificationChannel(stored.channel),
            notification_type=NotificationType(stored.notification_type),
            is_enabled=stored.is_enabled,
            frequency=NotificationFrequency(stored.frequency),
            is_default=stored.is_default,
        )

    @strawberry.field(description="Whose preference it is.")
    async def user(self, info: Info) -> User:
        found = await user_loader(info.context).load(self.stored.user_id)
        if found is None:  # the user was checked before the preferences were read
            raise LookupError(f"no user {self.stored.user_id}")
        return User.of(found)


@strawberry.input(
    description="One (channel, type) pair to change; give isEnabled, frequency or both."
)
class UpdateNotificationPreferenceInput:
    channel: NotificationChannel
    notification_type: NotificationType
    is_enabled: bool | None = None
    frequency: NotificationFrequency | None = None
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="Whose preference; default the token's user."
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="Every channel and notification type of a user, stored or default."
    )
    async def notification_preferences(
        self, info: Info, user_id: strawberry.ID
    ) -> list[NotificationPreference]:
        user = await info.context.user(user_id)
        found = await service.list_preferences(info.context.pool, user)
        return [NotificationPreference.of(preference) for preference in found]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Change one pair of a user's notification preferences.")
    async def update_notification_preference(
        self, info: Info, input: UpdateNotificationPreferenceInput
    ) -> NotificationPreference:
        principal = info.context.principal
        user = (
            principal.user_id
            if input.user_id is None
            else await info.context.user(input.user_id, field="input.userId")
        )
        if input.is_enabled is None and input.frequency is None:
            raise ApiError.bad_input("input.isEnabled", "give isEnabled, frequency or both")
        with service_errors(input_path):
            changed = await service.update_preference(
                info.context.pool,
                user,
                channel=input.channel.value,
                notification_type=input.notification_type.value,
                is_enabled=input.is_enabled,
                frequency=None if input.frequency is None else input.frequency.value,
            )
        return NotificationPreference.of(changed)
