"""`crm-agents migrate` and `crm-agents db ...`: the database's lifecycle."""

from __future__ import annotations

from typing import Any

import typer

from runtime.cli._common import JSON_OPTION, command_group, emit, load_settings, run
from runtime.db.connect import connect, server_dsn, server_version
from runtime.db.dsn import redact
from runtime.db.embedded import EmbeddedPostgres
from runtime.db.migrate import discover, migrate, migration_status
from runtime.errors import ClientError

db_app = command_group(
    help="The database: where it is, its state, stopping the embedded server.",
)


def migrate_command(as_json: bool = JSON_OPTION) -> None:
    """Apply pending migrations from migrations/ (safe to run concurrently and repeatedly)."""
    settings = load_settings()

    async def body() -> dict[str, Any]:
        with server_dsn(settings) as dsn:
            conn = await connect(dsn, settings)
            try:
                report = await migrate(conn, discover())
            finally:
                await conn.close()
        return {"applied": report.applied, "already_applied": report.already_applied}

    result = run(body)
    applied = result["applied"]
    human = (
        "applied " + ", ".join(applied)
        if applied
        else f"nothing to do: all {len(result['already_applied'])} migrations applied"
    )
    emit(result, human, as_json=as_json)


@db_app.command("url")
def url_command() -> None:
    """Print the database's DSN, e.g. for `psql "$(crm-agents db url)"`.

    The embedded server is started if needed and kept running until `crm-agents db stop`.
    """
    settings = load_settings()
    if settings.database_url is not None:
        typer.echo(settings.database_url.get_secret_value())
        return
    server = EmbeddedPostgres(settings.pgdata)
    dsn = server.start()
    try:
        server.pin()
    finally:
        server.detach()
    typer.echo(dsn)


@db_app.command("status")
def status_command(as_json: bool = JSON_OPTION) -> None:
    """Show which database is used, whether it answers, and its migrations."""
    settings = load_settings()

    async def body() -> dict[str, Any]:
        with server_dsn(settings) as dsn:
            conn = await connect(dsn, settings)
            try:
                version = await server_version(conn)
                status = await migration_status(conn, discover())
            finally:
                await conn.close()
        info: dict[str, Any] = {
            "mode": "external" if settings.database_url else "embedded",
            "dsn": redact(dsn),
            "server_version": version,
            "migrations_applied": len(status.applied),
            "migrations_pending": [m.file_name for m in status.pending],
        }
        if settings.database_url is None:
            info["pgdata"] = str(settings.pgdata)
            info["kept_running"] = EmbeddedPostgres(settings.pgdata).state().pinned
        return info

    info = run(body)
    lines = [f"{key}: {value}" for key, value in info.items()]
    if info["migrations_pending"]:
        lines.append("run `crm-agents migrate` to apply the pending migrations")
    emit(info, "\n".join(lines), as_json=as_json)


@db_app.command("stop")
def stop_command(
    force: bool = typer.Option(
        False, "--force", help="Stop even while other crm-agents processes use the server."
    ),
) -> None:
    """Stop the embedded PostgreSQL server (refused while other processes use it)."""
    settings = load_settings()
    if settings.database_url is not None:
        raise ClientError("DATABASE_URL points at an external server; crm-agents does not stop it")
    server = EmbeddedPostgres(settings.pgdata)
    before = server.state()
    if not before.running:
        typer.echo(f"not running ({settings.pgdata})")
        return
    server.stop(force=force)
    typer.echo(f"stopped the server (pid {before.server_pid}) in {settings.pgdata}")
