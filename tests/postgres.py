"""The test session's PostgreSQL: one server, a migrated template, a database per module.

``CRM_AGENTS_TEST_DATABASE_URL`` points the suite at an external server (its user must be
allowed to create databases); otherwise one embedded server runs for the whole session.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from runtime.db.dsn import with_database
from runtime.db.embedded import EmbeddedPostgres
from runtime.db.migrate import discover, migrate
from runtime.db.pool import create_pool
from runtime.settings import DatabaseSettings

TEMPLATE = f"crm_template_{os.getpid()}"


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    """DSN of a database on the session's server from which others are created."""
    external = os.environ.get("CRM_AGENTS_TEST_DATABASE_URL")
    if external:
        yield external
        return
    # mkdtemp, not pytest's tmp_path: as root, the embedded server makes every parent of
    # its data directory world-readable, which should not happen to pytest's private tree.
    home = Path(tempfile.mkdtemp(prefix="crm-agents-test-pg-"))
    server = EmbeddedPostgres(home / "pgdata")
    try:
        yield server.start()
    finally:
        server.detach()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def scratch_home() -> Iterator[Path]:
    """An empty CRM_AGENTS_HOME for tests that start an embedded server of their own."""
    home = Path(tempfile.mkdtemp(prefix="crm-agents-test-home-"))
    yield home
    EmbeddedPostgres(home / "pgdata").stop(force=True)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
async def template_database(pg_admin_dsn: str) -> AsyncIterator[str]:
    """A database built by running every migration, copied for each test module."""
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE}"')
        conn = await asyncpg.connect(with_database(pg_admin_dsn, TEMPLATE))
        try:
            await migrate(conn, discover())
        finally:
            await conn.close()
        yield TEMPLATE
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
    finally:
        await admin.close()


async def create_database(admin_dsn: str, name: str, template: str | None = None) -> str:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        clause = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await admin.close()
    return with_database(admin_dsn, name)


async def drop_database(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def database_name(node_name: str, suffix: str = "") -> str:
    """A valid, unique-enough database name for a test module or test."""
    base = re.sub(r"[^a-z0-9]+", "_", node_name.lower()).strip("_")[-40:]
    return f"t_{os.getpid()}_{base}{suffix}"


@pytest.fixture(scope="module")
async def database_dsn(
    pg_admin_dsn: str, template_database: str, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """A fresh, migrated database for this test module."""
    name = database_name(request.module.__name__)
    dsn = await create_database(pg_admin_dsn, name, template_database)
    yield dsn
    await drop_database(pg_admin_dsn, name)


@pytest.fixture(scope="module")
async def pool(database_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on this module's database, configured as the product configures it."""
    pool = await create_pool(database_dsn, DatabaseSettings(pool_min_size=0, pool_max_size=5))
    yield pool
    await pool.close()


@pytest.fixture
async def empty_database_dsn(
    pg_admin_dsn: str, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """A brand-new database with no tables, for migration tests."""
    name = database_name(request.node.name, "_empty")
    dsn = await create_database(pg_admin_dsn, name)
    yield dsn
    await drop_database(pg_admin_dsn, name)
