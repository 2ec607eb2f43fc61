"""The seed's enums and the types it names without defining (ARCHITECTURE, "Schema
evolution and the seed"): ``User``, ``Meeting``, ``CRMRecord``; ``JSON`` and ``DateTime``
are strawberry's own scalars of those names.

Enum values are the seed's upper-case names; the database keeps the lower-case words, which
are the Python values.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from runtime.crm.port import CrmRecord
from runtime.meetings.models import Meeting as StoredMeeting
from runtime.meetings.models import MeetingSummary
from runtime.users.models import User as StoredUser

__all__ = [
    "JSON",
    "ActionType",
    "ActivityStatus",
    "AgentStatus",
    "AnomalySeverity",
    "AnomalyStatus",
    "CRMRecord",
    "CRMType",
    "InboxItemType",
    "InboxStatus",
    "Meeting",
    "Role",
    "User",
    "enum_value",
]


@strawberry.enum
class CRMType(Enum):
    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"


@strawberry.enum
class AgentStatus(Enum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ERROR = "error"


@strawberry.enum
class ActivityStatus(Enum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"
    REJECTED = "rejected"


@strawberry.enum
class InboxItemType(Enum):
    APPROVAL = "approval"
    QUESTION = "question"
    ALERT = "alert"


@strawberry.enum
class InboxStatus(Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    ANSWERED = "answered"  # a question whose deal a person picked


@strawberry.enum
class AnomalySeverity(Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@strawberry.enum
class AnomalyStatus(Enum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@strawberry.enum
class ActionType(Enum):
    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"


@strawberry.enum(description="A member's role in their workspace.")
class Role(Enum):
    ADMIN = "admin"
    MEMBER = "member"


def enum_value(enum: type[Enum], stored: str | None, default: str) -> Any:
    """The enum member for a stored word; the seed's column default when it is NULL."""
    return enum(stored if stored is not None else default)


@strawberry.type(description="A person; `email` is how the CRM and meetings know them.")
class User:
    id: strawberry.ID
    email: str
    name: str | None

    @classmethod
    def of(cls, user: StoredUser) -> User:
        return cls(id=strawberry.ID(str(user.id)), email=user.email, name=user.name)


def _attendees_json(root: Meeting) -> JSON:
    """``Meeting.attendees``, dumped when a client asks for it rather than by ``of``: pages
    of activity show each row's meeting by its title and time."""
    return JSON([a.model_dump(mode="json") for a in root.stored.attendees])


@strawberry.type(description="A stored meeting (its transcript is not exposed here).")
class Meeting:
    stored: strawberry.Private[StoredMeeting | MeetingSummary]
    id: strawberry.ID
    external_id: str
    title: str
    call_type: str | None
    started_at: datetime
    duration_s: int | None
    owner_email: str | None
    attendees: JSON = strawberry.field(resolver=_attendees_json)
    created_at: datetime

    @classmethod
    def of(cls, meeting: StoredMeeting | MeetingSummary) -> Meeting:
        return cls(
            stored=meeting,
            id=strawberry.ID(str(meeting.id)),
            external_id=meeting.external_id,
            title=meeting.title,
            call_type=meeting.call_type,
            started_at=meeting.started_at,
            duration_s=meeting.duration_s,
            owner_email=meeting.owner_email,
            created_at=meeting.created_at,
        )


@strawberry.type(name="CRMRecord", description="A CRM object as read: id, type, properties.")
class CRMRecord:
    id: str
    object_type: str
    properties: JSON
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, record: CrmRecord) -> CRMRecord:
        return cls(
            id=record.id,
            object_type=record.object_type,
            properties=JSON(dict(record.properties)),
            created_at=record.created_at,
            updated_at=record.updated_at,
        )
