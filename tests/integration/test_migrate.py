"""The migration runner: in order, recorded, once, under a lock, and never silently edited."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from runtime.db.migrate import Migration, discover, migrate, migration_status
from runtime.errors import StorageError


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )
    return {row["table_name"] for row in rows}


async def test_migrate_on_an_empty_database_creates_every_table(empty_database_dsn: str) -> None:
    conn = await asyncpg.connect(empty_database_dsn)
    try:
        report = await migrate(conn, discover())
        assert report.applied == [m.file_name for m in discover()]
        assert await _tables(conn) >= {
            "workspaces",
            "users",
            "workspace_members",
            "meetings",
            "audit_log",
            "agent_configs",
            "activity_logs",
            "inbox_items",
            "anomalies",
            "user_automations",
            "notification_preferences",
            "schema_migrations",
        }
        status = await migration_status(conn, discover())
        assert status.pending == ()
    finally:
        await conn.close()


async def test_a_second_migrate_is_a_no_op(empty_database_dsn: str) -> None:
    conn = await asyncpg.connect(empty_database_dsn)
    try:
        await migrate(conn, discover())
        before = await conn.fetch("SELECT version, applied_at FROM schema_migrations")
        report = await migrate(conn, discover())
        assert report.applied == []
        assert len(report.already_applied) == len(discover())
        assert await conn.fetch("SELECT version, applied_at FROM schema_migrations") == before
    finally:
        await conn.close()


async def test_concurrent_migrations_apply_each_file_once(empty_database_dsn: str) -> None:
    conns = [await asyncpg.connect(empty_database_dsn) for _ in range(5)]
    try:
        reports = await asyncio.gather(*(migrate(conn, discover()) for conn in conns))
        applied = [name for report in reports for name in report.applied]
        assert sorted(applied) == sorted(m.file_name for m in discover())
        versions = await conns[0].fetch("SELECT version FROM schema_migrations")
        assert len(versions) == len(discover())
    finally:
        for conn in conns:
            await conn.close()


async def test_an_edited_migration_is_refused(empty_database_dsn: str) -> None:
    conn = await asyncpg.connect(empty_database_dsn)
    try:
        migrations = discover()
        await migrate(conn, migrations)
        edited = [*migrations[:-1], Migration(migrations[-1].version, migrations[-1].name, "--")]
        with pytest.raises(StorageError, match="changed after it was applied"):
            await migrate(conn, edited)
    finally:
        await conn.close()


async def test_a_database_newer_than_the_code_is_refused(empty_database_dsn: str) -> None:
    conn = await asyncpg.connect(empty_database_dsn)
    try:
        migrations = discover()
        await migrate(conn, migrations)
        with pytest.raises(StorageError, match="newer than this code"):
            await migration_status(conn, migrations[:-1])
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_behind(empty_database_dsn: str) -> None:
    good = Migration(1, "create_things", "CREATE TABLE things (id INT PRIMARY KEY);")
    bad = Migration(2, "create_broken", "CREATE TABLE half (id INT); SELECT no_such_column;")
    conn = await asyncpg.connect(empty_database_dsn)
    try:
        with pytest.raises(StorageError, match=r"0002_create_broken\.sql failed"):
            await migrate(conn, [good, bad])
        assert "half" not in await _tables(conn)
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 1
        # the lock was released: another run can proceed
        fixed = Migration(2, "create_broken", "CREATE TABLE half (id INT);")
        assert (await migrate(conn, [good, fixed])).applied == ["0002_create_broken.sql"]
    finally:
        await conn.close()


def test_migration_files_are_numbered_without_gaps(tmp_path: Path) -> None:
    (tmp_path / "0001_create_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_create_b.sql").write_text("SELECT 1;")
    with pytest.raises(StorageError, match="should be number 0002"):
        discover(tmp_path)


def test_migration_file_names_must_say_verb_and_object(tmp_path: Path) -> None:
    (tmp_path / "0001_stuff.sql").write_text("SELECT 1;")
    with pytest.raises(StorageError, match=r"NNNN_<verb>_<object>\.sql"):
        discover(tmp_path)
