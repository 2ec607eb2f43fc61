"""AuditRepo on real PostgreSQL: many entries in one statement, newest first with a cursor."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from runtime.audit.models import AuditEntry
from runtime.audit.repo import AuditRepo
from runtime.errors import NotFoundError
from runtime.users.models import UserCreate
from runtime.users.repo import UserRepo
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class CountingExecutor:
    """The pool, counting the statements a repository sends."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.statements = 0

    async def execute(self, query: str, *args: Any) -> str:
        self.statements += 1
        return str(await self.pool.execute(query, *args))

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        self.statements += 1
        return list(await self.pool.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> Any:
        self.statements += 1
        return await self.pool.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any, column: int = 0) -> Any:
        self.statements += 1
        return await self.pool.fetchval(query, *args, column=column)


async def new_workspace(pool: asyncpg.Pool) -> uuid.UUID:
    return (await WorkspaceRepo(pool).create(WorkspaceCreate(name="Audited"))).id


def entry(workspace_id: uuid.UUID, n: int, **changes: Any) -> AuditEntry:
    fields: dict[str, Any] = {
        "workspace_id": workspace_id,
        "action": "crm.read",
        "target_type": "deals",
        "target_id": str(300 + n),
        "details": {"properties": ["amount"], "outcome": "ok"},
        "created_at": T0 + timedelta(seconds=n),
    }
    return AuditEntry.model_validate(fields | changes)


async def test_a_thousand_entries_are_written_in_one_statement(pool: asyncpg.Pool) -> None:
    workspace_id = await new_workspace(pool)
    counting = CountingExecutor(pool)
    entries = [entry(workspace_id, n) for n in range(1000)]
    assert await AuditRepo(counting).insert_many(entries) == 1000
    assert counting.statements == 1
    count = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE workspace_id = $1", workspace_id
    )
    assert count == 1000
    assert await AuditRepo(counting).insert_many([]) == 0
    assert counting.statements == 1


async def test_entries_come_back_as_written_with_their_details(pool: asyncpg.Pool) -> None:
    workspace_id = await new_workspace(pool)
    user = await UserRepo(pool).create(UserCreate(email="auditor@ourco.example"))
    details = {
        "ids": ["301", "302"],
        "ids_count": 2,
        "truncated": False,
        "missing": None,
        "nested": {"categories": ["OBJECT_NOT_FOUND"], "ratio": 0.5},
        "note": "Zoë's déal ✓",
    }
    written = entry(
        workspace_id, 1, actor_user_id=user.id, action="crm.batch_read", target_id=None
    ).model_copy(update={"details": details})
    agent = entry(workspace_id, 2, details={})
    await AuditRepo(pool).insert_many([written, agent])
    second, first = await AuditRepo(pool).list_recent(workspace_id, limit=10)
    assert first.model_dump(exclude={"id"}) == written.model_dump()
    assert first.details == details
    assert (second.actor_user_id, second.details) == (None, {})


async def test_list_recent_is_newest_first_and_the_cursor_skips_and_repeats_nothing(
    pool: asyncpg.Pool,
) -> None:
    workspace_id = await new_workspace(pool)
    other = await new_workspace(pool)
    # Three entries share each instant: the id tells them apart in the order.
    entries = [entry(workspace_id, n // 3, target_id=str(n)) for n in range(30)]
    await AuditRepo(pool).insert_many([*entries, entry(other, 100)])
    repo = AuditRepo(pool)
    pages = [await repo.list_recent(workspace_id, limit=7)]
    while len(pages[-1]) == 7:
        pages.append(await repo.list_recent(workspace_id, limit=7, before=pages[-1][-1].cursor()))
    listed = [e for page in pages for e in page]
    assert [len(page) for page in pages] == [7, 7, 7, 7, 2]
    assert sorted(e.target_id or "" for e in listed) == sorted(str(n) for n in range(30))
    keys = [(e.created_at, e.id) for e in listed]
    assert keys == sorted(keys, reverse=True)
    assert listed[0].created_at == T0 + timedelta(seconds=9)
    assert {e.workspace_id for e in listed} == {workspace_id}


async def test_list_recent_filters_by_action(pool: asyncpg.Pool) -> None:
    workspace_id = await new_workspace(pool)
    actions = ["crm.read", "crm.update", "crm.read", "decision.approve", "crm.update"]
    await AuditRepo(pool).insert_many(
        [entry(workspace_id, n, action=a) for n, a in enumerate(actions)]
    )
    repo = AuditRepo(pool)
    updates = await repo.list_recent(workspace_id, limit=10, action="crm.update")
    assert [(e.action, e.target_id) for e in updates] == [
        ("crm.update", "304"),
        ("crm.update", "301"),
    ]
    (older,) = await repo.list_recent(
        workspace_id, limit=10, action="crm.update", before=updates[0].cursor()
    )
    assert older.target_id == "301"
    assert await repo.list_recent(workspace_id, limit=10, action="crm.create") == []


async def test_entries_join_the_callers_transaction(pool: asyncpg.Pool) -> None:
    workspace_id = await new_workspace(pool)
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await AuditRepo(conn).insert_many([entry(workspace_id, 1)])
        assert len(await AuditRepo(conn).list_recent(workspace_id)) == 1
        await transaction.rollback()
    assert await AuditRepo(pool).list_recent(workspace_id) == []


async def test_an_unknown_workspace_or_user_is_not_found(pool: asyncpg.Pool) -> None:
    workspace_id = await new_workspace(pool)
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError) as caught:
        await AuditRepo(pool).insert_many([entry(missing, 1)])
    assert (caught.value.kind, caught.value.key) == ("workspace", str(missing))
    with pytest.raises(NotFoundError) as caught:
        await AuditRepo(pool).insert_many([entry(workspace_id, 1, actor_user_id=missing)])
    assert (caught.value.kind, caught.value.key) == ("user", str(missing))
    assert await AuditRepo(pool).list_recent(workspace_id) == []
