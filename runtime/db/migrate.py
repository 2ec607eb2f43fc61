"""Plain-SQL migrations, applied in order under an advisory lock and recorded in a table.

Files are ``migrations/NNNN_<verb>_<object>.sql``. Each runs in its own transaction together
with the row that records it, so a failed migration leaves nothing behind. Concurrent
callers serialise on a PostgreSQL advisory lock; whoever comes second finds nothing to do.
A file must never change once applied: its checksum is recorded and checked on every run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from runtime.errors import StorageError

__all__ = [
    "DEFAULT_MIGRATIONS_DIR",
    "Migration",
    "MigrationReport",
    "MigrationStatus",
    "discover",
    "migrate",
    "migration_status",
]

DEFAULT_MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# An arbitrary constant that only our migration runner uses as an advisory lock key.
_LOCK_KEY = int.from_bytes(hashlib.sha256(b"crm-agents.migrate").digest()[:8], "big", signed=True)
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z]+_[a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def file_name(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


@dataclass(frozen=True)
class MigrationStatus:
    applied: tuple[int, ...]
    pending: tuple[Migration, ...]


@dataclass
class MigrationReport:
    applied: list[str] = field(default_factory=list)
    already_applied: list[str] = field(default_factory=list)


def discover(directory: Path = DEFAULT_MIGRATIONS_DIR) -> list[Migration]:
    """Every migration file in ``directory``, in order; bad names or gaps are errors."""
    if not directory.is_dir():
        raise StorageError(f"migrations directory {directory} does not exist")
    migrations = []
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        match = _FILE_NAME.match(path.name)
        if not match:
            raise StorageError(f"migration file {path.name} is not named NNNN_<verb>_<object>.sql")
        migrations.append(
            Migration(int(match["version"]), match["name"], path.read_text(encoding="utf-8"))
        )
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise StorageError(
                f"migration {migration.file_name} should be number {expected:04d}:"
                " versions start at 0001 and have no gaps or duplicates"
            )
    return migrations


async def migration_status(
    conn: asyncpg.Connection, migrations: list[Migration]
) -> MigrationStatus:
    """What is applied and what is pending, without changing anything."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied: dict[int, str] = {}
    if exists:
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
        applied = {row["version"]: row["checksum"] for row in rows}
    _check_history(applied, migrations)
    return MigrationStatus(
        applied=tuple(sorted(applied)),
        pending=tuple(m for m in migrations if m.version not in applied),
    )


async def migrate(conn: asyncpg.Connection, migrations: list[Migration]) -> MigrationReport:
    """Apply every pending migration; safe to call concurrently and repeatedly."""
    report = MigrationReport()
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_CREATE_TABLE)
        status = await migration_status(conn, migrations)
        report.already_applied = [m.file_name for m in migrations if m.version in status.applied]
        for migration in status.pending:
            try:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum)"
                        " VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
            except asyncpg.PostgresError as exc:
                raise StorageError(f"migration {migration.file_name} failed: {exc}") from exc
            report.applied.append(migration.file_name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return report


def _check_history(applied: dict[int, str], migrations: list[Migration]) -> None:
    known = {m.version: m for m in migrations}
    unknown = sorted(set(applied) - set(known))
    if unknown:
        raise StorageError(
            f"the database has migration(s) {', '.join(f'{v:04d}' for v in unknown)} that this"
            " code does not know: it is newer than this code"
        )
    for version, checksum in applied.items():
        if known[version].checksum != checksum:
            raise StorageError(
                f"migration {known[version].file_name} changed after it was applied;"
                " add a new migration instead of editing a landed one"
            )
