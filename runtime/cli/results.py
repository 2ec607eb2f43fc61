"""`crm-agents activity list` and `crm-agents inbox list`: what the agents did, and what waits."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

import typer

from runtime.activity.models import ActivityLog
from runtime.activity.repo import ActivityRepo
from runtime.cli._common import (
    JSON_OPTION,
    WORKSPACE_OPTION,
    command_group,
    database,
    emit,
    load_settings,
    run,
)
from runtime.inbox.models import InboxItem
from runtime.inbox.repo import InboxRepo
from runtime.users.service import find_user_id
from runtime.workspaces.repo import WorkspaceRepo

__all__ = ["activity_app", "inbox_app"]


class ActivityStatus(StrEnum):
    pending = "pending"
    success = "success"
    failed = "failed"
    rejected = "rejected"


class ItemStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    expired = "expired"


activity_app = command_group(
    help=(
        "What the agents did: one activity per agent run (update, create or skip), with the"
        " fields it proposed and, for a failed run, why.\n\n"
        "Example: `crm-agents activity list --workspace W --status failed`."
    )
)
inbox_app = command_group(
    help=(
        "What waits for a human: approval items (fields to review) and questions (which deal"
        " a meeting is about).\n\nExample: `crm-agents inbox list --workspace W --user"
        " sam@ourco.example`."
    )
)

LIMIT_OPTION = typer.Option(50, "--limit", min=1, max=1000, help="At most this many, newest first.")


@activity_app.command("list")
def list_activity(
    workspace: UUID = WORKSPACE_OPTION,
    status: ActivityStatus | None = typer.Option(None, "--status", help="Only this status."),
    limit: int = LIMIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List the workspace's activity, newest first.

    One line each: when, action, status, the deal, each proposed field as
    before -> after (confidence), and the error of a failed run.
    """
    settings = load_settings()

    async def body() -> list[ActivityLog]:
        async with database(settings) as pool:
            await WorkspaceRepo(pool).get(workspace)
            return await ActivityRepo(pool).list_recent(
                workspace, status=status.value if status else None, limit=limit
            )

    rows = run(body)
    emit(
        [row.model_dump(mode="json") for row in rows],
        "\n".join(_activity_line(row) for row in rows) or "no activity",
        as_json=as_json,
    )


@inbox_app.command("list")
def list_inbox(
    workspace: UUID = WORKSPACE_OPTION,
    user: str | None = typer.Option(
        None, "--user", help="Only the items of this member (user id or email)."
    ),
    status: ItemStatus | None = typer.Option(
        ItemStatus.pending, "--status", help="Only this status."
    ),
    limit: int = LIMIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List the workspace's inbox items (pending ones unless --status says otherwise).

    One line each: id, type, status, confidence, title; the item's context (meeting, deal,
    before/after, evidence) is in the --json output.
    """
    settings = load_settings()

    async def body() -> list[InboxItem]:
        async with database(settings) as pool:
            await WorkspaceRepo(pool).get(workspace)
            user_id = None if user is None else await find_user_id(pool, user, field="--user")
            return await InboxRepo(pool).list_items(
                workspace,
                user_id=user_id,
                status=status.value if status else None,
                limit=limit,
            )

    rows = run(body)
    emit(
        [row.model_dump(mode="json") for row in rows],
        "\n".join(_item_line(row) for row in rows) or "nothing waiting",
        as_json=as_json,
    )


def _activity_line(row: ActivityLog) -> str:
    when = row.created_at.strftime("%Y-%m-%d %H:%M") if row.created_at else "-"
    record = f"{row.crm_record_type} {row.crm_record_id}" if row.crm_record_id else "-"
    fields = ", ".join(_field(name, change) for name, change in (row.fields_updated or {}).items())
    tail = row.error_message or fields or str(row.details.get("skip_reason", ""))
    return f"{when}  {row.action_type:<6}  {row.status or '-':<7}  {record:<14}  {tail}".rstrip()


def _field(name: str, change: Any) -> str:
    before = change.get("before") or "(empty)"
    return f"{name} {before} \u2192 {change.get('after')} ({change.get('confidence', 0):.2f})"


def _item_line(row: InboxItem) -> str:
    confidence = f"{row.confidence:.2f}" if row.confidence is not None else "-"
    return f"{row.id}  {row.item_type:<8}  {row.status or '-':<8}  {confidence}  {row.title}"
