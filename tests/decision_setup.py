"""Inbox items to decide: an activity, its proposals and its item, stored by the repos the
run executor uses, so the decision tests control who an item is for and what it holds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import asyncpg

from runtime.activity.repo import ActivityRepo, NewActivity
from runtime.inbox.models import InboxItem, Proposal
from runtime.inbox.repo import InboxRepo
from runtime.outbox.repo import OutboxRepo
from runtime.runs.outcome import InboxDraft, ProposalDraft
from runtime.tokens.models import Principal
from runtime.users.models import Role, UserCreate
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo

Values = dict[str, tuple[str | None, str]]
"""``{field: (before, proposed)}``."""


@dataclass(frozen=True)
class Team:
    """A workspace with an admin and a member."""

    workspace_id: UUID
    admin_id: UUID
    member_id: UUID
    admin_email: str
    member_email: str


@dataclass(frozen=True)
class Made:
    """A stored item with its activity and proposals (reviewed ones, then auto-applied)."""

    item: InboxItem
    activity_id: UUID
    reviewed: list[Proposal]
    auto_applied: list[Proposal]


def as_user(workspace_id: UUID, user_id: UUID, role: Role) -> Principal:
    """Who a token of ``user_id`` speaks for, as the API hands it to the decisions."""
    return Principal(token_id=uuid.uuid4(), workspace_id=workspace_id, user_id=user_id, role=role)


def admin(team: Team) -> Principal:
    return as_user(team.workspace_id, team.admin_id, "admin")


def member(team: Team) -> Principal:
    return as_user(team.workspace_id, team.member_id, "member")


async def make_team(pool: asyncpg.Pool, name: str | None = None) -> Team:
    name = name or f"team-{uuid.uuid4().hex[:6]}"
    workspace = await WorkspaceRepo(pool).create(WorkspaceCreate(name=name))
    admin_email, member_email = f"admin@{name}.example", f"member@{name}.example"
    async with pool.acquire() as conn:
        admin, _ = await add_user_to_workspace(
            conn, workspace.id, UserCreate(email=admin_email), role="admin"
        )
        member, _ = await add_user_to_workspace(
            conn, workspace.id, UserCreate(email=member_email), role="member"
        )
    return Team(workspace.id, admin.user.id, member.user.id, admin_email, member_email)


async def make_item(
    pool: asyncpg.Pool,
    workspace_id: UUID,
    user_id: UUID,
    *,
    fields: Values | None = None,
    auto_applied: Values | None = None,
    item_type: Literal["approval", "question"] = "approval",
    record_id: str | None = "301",
) -> Made:
    """An activity with ``fields`` for review in an item addressed to ``user_id`` and
    ``auto_applied`` fields already queued for writing, as a finished run leaves them."""
    fields = fields if fields is not None else {"amount": ("20000", "60000")}
    auto_applied = auto_applied or {}
    everything = {**fields, **auto_applied}
    activity = await ActivityRepo(pool).insert(
        NewActivity(
            workspace_id=workspace_id,
            agent_config_id=None,
            user_id=user_id,
            meeting_id=None,
            crm_record_id=record_id,
            crm_record_type="deal",
            action_type="update" if record_id else "create",
            fields_updated={
                f: {"before": before, "after": after, "confidence": 0.5}
                for f, (before, after) in everything.items()
            },
            overall_confidence=0.5,
            status="pending",
            error_message=None,
            agent_run_id=None,
            details={},
        )
    )
    inbox = InboxRepo(pool)
    item = await inbox.insert_item(
        InboxDraft(item_type, f"Review {len(fields)} changes", "", _context(fields), 0.5),
        workspace_id=workspace_id,
        user_id=user_id,
        activity_log_id=activity.id,
    )
    drafts = [_draft(f, values, "review") for f, values in fields.items()]
    drafts += [_draft(f, values, "auto_apply") for f, values in auto_applied.items()]
    proposals = await inbox.insert_proposals(
        drafts,
        workspace_id=workspace_id,
        activity_log_id=activity.id,
        crm_record_type="deal",
        crm_record_id=record_id,
        inbox_item_id=item.id,
    )
    queued = [p for p in proposals if p.status == "queued"]
    await OutboxRepo(pool).enqueue(workspace_id, queued)
    return Made(
        item=item,
        activity_id=activity.id,
        reviewed=sorted((p for p in proposals if p.route == "review"), key=lambda p: p.field),
        auto_applied=sorted(queued, key=lambda p: p.field),
    )


def _draft(
    field: str, values: tuple[str | None, str], route: Literal["review", "auto_apply"]
) -> ProposalDraft:
    before, proposed = values
    confidence = 0.5 if route == "review" else 0.95
    return ProposalDraft(field, before, proposed, confidence, route, "test", [])


def _context(fields: Values) -> dict[str, Any]:
    return {
        "fields": [
            {"field": f, "before": before, "after": after, "confidence": 0.5}
            for f, (before, after) in fields.items()
        ]
    }
