"""Storing meetings: once, idempotently, conflicts named, nothing half-stored."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from runtime.errors import ConflictError, NotFoundError
from runtime.meetings.repo import MeetingRepo
from runtime.meetings.service import import_meeting, parse_meeting
from runtime.workspaces.models import Workspace, WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo
from tests.meetings import example_meeting


@pytest.fixture
async def workspace(pool: asyncpg.Pool) -> Workspace:
    return await WorkspaceRepo(pool).create(WorkspaceCreate(name=f"w-{uuid.uuid4().hex[:6]}"))


async def _count(pool: asyncpg.Pool, workspace: Workspace) -> int:
    return int(
        await pool.fetchval("SELECT count(*) FROM meetings WHERE workspace_id = $1", workspace.id)
    )


async def test_import_stores_the_meeting_as_given(pool: asyncpg.Pool, workspace: Workspace) -> None:
    meeting = parse_meeting(example_meeting())
    async with pool.acquire() as conn:
        result = await import_meeting(conn, workspace.id, meeting)
    assert result.created
    stored = await MeetingRepo(pool).get(workspace.id, result.meeting.id)
    assert stored.content() == meeting
    assert stored.content_sha256 == meeting.fingerprint()


async def test_reimporting_the_same_meeting_answers_with_the_stored_one(
    pool: asyncpg.Pool, workspace: Workspace
) -> None:
    async with pool.acquire() as conn:
        first = await import_meeting(conn, workspace.id, parse_meeting(example_meeting()))
        # same content, spelled differently
        again = await import_meeting(
            conn,
            workspace.id,
            parse_meeting(example_meeting(started_at="2026-03-02T10:00:00-05:00")),
        )
    assert not again.created
    assert again.meeting == first.meeting
    assert await _count(pool, workspace) == 1


async def test_different_content_under_a_known_external_id_is_a_conflict(
    pool: asyncpg.Pool, workspace: Workspace
) -> None:
    async with pool.acquire() as conn:
        first = await import_meeting(conn, workspace.id, parse_meeting(example_meeting()))
        with pytest.raises(ConflictError) as caught:
            await import_meeting(
                conn, workspace.id, parse_meeting(example_meeting(title="Renamed"))
            )
    assert caught.value.field == "external_id"
    assert "zoom-88123" in str(caught.value)
    stored = await MeetingRepo(pool).get(workspace.id, first.meeting.id)
    assert stored.title == "Discovery call - Acme Corp"


async def test_external_ids_are_scoped_to_their_workspace(pool: asyncpg.Pool) -> None:
    repo = WorkspaceRepo(pool)
    one = await repo.create(WorkspaceCreate(name="one"))
    two = await repo.create(WorkspaceCreate(name="two"))
    meeting = parse_meeting(example_meeting())
    async with pool.acquire() as conn:
        a = await import_meeting(conn, one.id, meeting)
        b = await import_meeting(conn, two.id, meeting)
    assert a.created
    assert b.created
    assert a.meeting.id != b.meeting.id
    with pytest.raises(NotFoundError):
        await MeetingRepo(pool).get(two.id, a.meeting.id)


async def test_concurrent_imports_of_one_meeting_store_it_once(
    pool: asyncpg.Pool, workspace: Workspace
) -> None:
    meeting = parse_meeting(example_meeting(external_id="race-1"))

    async def one_import() -> uuid.UUID:
        async with pool.acquire() as conn:
            return (await import_meeting(conn, workspace.id, meeting)).meeting.id

    ids = await asyncio.gather(*(one_import() for _ in range(5)))
    assert len(set(ids)) == 1
    assert await _count(pool, workspace) == 1


async def test_importing_into_an_unknown_workspace_is_not_found(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(NotFoundError) as caught:
            await import_meeting(conn, uuid.uuid4(), parse_meeting(example_meeting()))
    assert caught.value.field == "workspace"


async def test_recent_meetings_come_newest_first(pool: asyncpg.Pool, workspace: Workspace) -> None:
    async with pool.acquire() as conn:
        for day in (1, 3, 2):
            await import_meeting(
                conn,
                workspace.id,
                parse_meeting(
                    example_meeting(
                        external_id=f"day-{day}", started_at=f"2026-03-0{day}T09:00:00Z"
                    )
                ),
            )
    recent = await MeetingRepo(pool).list_recent(workspace.id, limit=2)
    assert [m.external_id for m in recent] == ["day-3", "day-2"]
