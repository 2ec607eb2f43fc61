"""Use cases around notification preferences: a user's full matrix, and changing one pair.

Whose preferences a caller may read or change is the API's rule (``runtime.api.context``):
a member their own, an admin those of a member of their workspace. The preferences
themselves belong to the user, not to a workspace.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import ValidationError

from runtime.db import Executor
from runtime.errors import invalid_from_pydantic
from runtime.notifications.models import (
    Channel,
    Frequency,
    NotificationPreference,
    NotificationType,
    PreferenceChange,
    full_matrix,
)
from runtime.notifications.repo import PreferenceRepo

__all__ = ["list_preferences", "update_preference"]


async def list_preferences(db: Executor, user_id: UUID) -> list[NotificationPreference]:
    """Every (channel, type) pair of the user, stored or default (``full_matrix``)."""
    return full_matrix(user_id, await PreferenceRepo(db).list(user_id))


async def update_preference(
    db: Executor,
    user_id: UUID,
    *,
    channel: Channel,
    notification_type: NotificationType,
    is_enabled: bool | None = None,
    frequency: Frequency | None = None,
) -> NotificationPreference:
    """Change one pair; what is not given keeps its stored (or default) value.

    Raises:
        InvalidInputError: neither ``is_enabled`` nor ``frequency`` given, or a value
            outside its kind.
        NotFoundError: no such user.
    """
    try:
        change = PreferenceChange(
            channel=channel,
            notification_type=notification_type,
            is_enabled=is_enabled,
            frequency=frequency,
        )
    except ValidationError as exc:
        raise invalid_from_pydantic(exc) from exc
    return await PreferenceRepo(db).upsert(user_id, change)
