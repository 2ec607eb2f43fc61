"""`crm-agents meetings ...`: bring meetings in."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import typer
from rich.progress import Progress

from runtime.cli._common import (
    JSON_OPTION,
    WORKSPACE_OPTION,
    command_group,
    database,
    emit,
    load_settings,
    run,
    stderr,
)
from runtime.errors import ConflictError, InvalidInputError
from runtime.meetings.models import MeetingIn
from runtime.meetings.repo import MeetingRepo
from runtime.meetings.service import import_meeting, parse_meeting
from runtime.workspaces.repo import WorkspaceRepo

meetings_app = command_group(help="Meetings: the input the agents read.")


@meetings_app.command("import")
def import_command(
    files: list[Path] = typer.Argument(
        ..., help="meeting.json file(s) in the contract's format; '-' reads standard input."
    ),
    workspace: UUID = WORKSPACE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate meetings against the contract and store each in one transaction.

    Every file is checked before anything is stored: a bad file stores nothing and the
    error names the file, the field and the reason (exit code 2). Importing a meeting again
    with the same content answers with the stored one; different content under a known
    external_id is a conflict. Prints one line per file: the meeting id, whether it was
    imported or already stored, and its external_id.
    """
    settings = load_settings()
    parsed = _parse_all(files)

    async def body() -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        async with database(settings) as pool:
            with Progress(
                console=stderr,
                transient=True,
                disable=as_json or len(parsed) < 2 or not stderr.is_terminal,
            ) as progress:
                task = progress.add_task("importing", total=len(parsed))
                for path, meeting in parsed:
                    async with pool.acquire() as conn:
                        try:
                            result = await import_meeting(conn, workspace, meeting)
                        except ConflictError as exc:
                            raise ConflictError(exc.field, f"{exc.reason} (in {path})") from exc
                    results.append(
                        {
                            "file": path,
                            "id": str(result.meeting.id),
                            "external_id": result.meeting.external_id,
                            "created": result.created,
                            "runs_queued": len(result.runs),
                        }
                    )
                    progress.advance(task)
        return results

    results = run(body)
    human = "\n".join(
        f"{r['id']}  {'imported' if r['created'] else 'unchanged'}  {r['external_id']}"
        + (f"  ({r['runs_queued']} agent run(s) queued)" if r["runs_queued"] else "")
        for r in results
    )
    emit(results if len(results) != 1 else results[0], human, as_json=as_json)


@meetings_app.command("list")
def list_command(
    workspace: UUID = WORKSPACE_OPTION,
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="At most this many."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List a workspace's meetings, newest first: id, start, external_id, title."""
    settings = load_settings()

    async def body() -> list[dict[str, Any]]:
        async with database(settings) as pool:
            await WorkspaceRepo(pool).get(workspace)
            meetings = await MeetingRepo(pool).list_recent(workspace, limit=limit)
        return [
            m.model_dump(
                mode="json", include={"id", "external_id", "title", "call_type", "started_at"}
            )
            for m in meetings
        ]

    rows = run(body)
    human = "\n".join(
        f"{r['id']}  {r['started_at']}  {r['external_id']}  {r['title']}" for r in rows
    )
    emit(rows, human, as_json=as_json)


def _parse_all(files: list[Path]) -> list[tuple[str, MeetingIn]]:
    parsed: list[tuple[str, MeetingIn]] = []
    problems: list[tuple[str, str]] = []
    for path in files:
        name = str(path)
        try:
            raw = sys.stdin.buffer.read() if name == "-" else path.read_bytes()
        except OSError as exc:
            problems.append((name, f"cannot be read: {exc.strerror}"))
            continue
        try:
            parsed.append((name, parse_meeting(raw)))
        except InvalidInputError as exc:
            problems.extend((f"{name}: {field}", reason) for field, reason in exc.problems)
    if problems:
        raise InvalidInputError(problems)
    return parsed
