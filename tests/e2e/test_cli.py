"""The crm-agents command as a user meets it: output, --json, errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from runtime.db.embedded import EmbeddedPostgres
from runtime.db.migrate import discover
from tests.cli import crm_agents
from tests.meetings import BAD_MEETINGS, EXAMPLE_PATH, example_meeting


@pytest.fixture(scope="module")
def env(database_dsn: str) -> dict[str, str]:
    return {"DATABASE_URL": database_dsn}


@pytest.fixture(scope="module")
def workspace_id(env: dict[str, str]) -> str:
    created = crm_agents("workspace", "create", "--name", "Acme", env=env)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip()


def _write(tmp_path: Path, name: str, payload: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(payload))
    return path


def test_workspace_create_prints_the_id_and_list_shows_it(
    env: dict[str, str], workspace_id: str
) -> None:
    listed = crm_agents("workspace", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert {"id": workspace_id, "name": "Acme"}.items() <= json.loads(listed.stdout)[0].items()


def test_user_create_prints_the_id_and_is_repeatable(
    env: dict[str, str], workspace_id: str
) -> None:
    args = ("user", "create", "--workspace", workspace_id, "--email", "sam@ourco.example")
    first = crm_agents(*args, "--role", "admin", env=env)
    assert first.returncode == 0, first.stderr
    again = crm_agents(*args, "--role", "admin", "--json", env=env)
    assert json.loads(again.stdout)["id"] == first.stdout.strip()
    assert json.loads(again.stdout)["created"] is False
    other_role = crm_agents(*args, "--role", "member", env=env)
    assert other_role.returncode == 2
    assert "error: role: sam@ourco.example already has the role admin" in other_role.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--email", "not-an-email"), "--email: is not an email address"),
        (("--email", "a@b.example", "--role", "owner"), "'--role'"),
    ],
)
def test_user_create_refuses_bad_input_with_exit_code_2(
    env: dict[str, str], workspace_id: str, args: tuple[str, ...], message: str
) -> None:
    result = crm_agents("user", "create", "--workspace", workspace_id, *args, env=env)
    assert result.returncode == 2
    assert message in result.stderr


def test_an_unknown_workspace_is_named(env: dict[str, str]) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    result = crm_agents("meetings", "import", str(EXAMPLE_PATH), "--workspace", missing, env=env)
    assert result.returncode == 2
    assert f"workspace: no workspace {missing}" in result.stderr


def test_a_malformed_workspace_id_is_named(env: dict[str, str]) -> None:
    result = crm_agents("meetings", "import", str(EXAMPLE_PATH), "--workspace", "42", env=env)
    assert result.returncode == 2
    assert "'--workspace'" in result.stderr


def test_meeting_import_then_reimport_then_conflict(
    env: dict[str, str], workspace_id: str, tmp_path: Path
) -> None:
    first = crm_agents(
        "meetings", "import", str(EXAMPLE_PATH), "--workspace", workspace_id, "--json", env=env
    )
    assert first.returncode == 0, first.stderr
    stored = json.loads(first.stdout)
    assert (stored["external_id"], stored["created"]) == ("zoom-88123", True)

    again = crm_agents(
        "meetings", "import", str(EXAMPLE_PATH), "--workspace", workspace_id, env=env
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == [stored["id"], "unchanged", "zoom-88123"]

    changed = _write(tmp_path, "changed.json", example_meeting(title="Another title"))
    conflict = crm_agents("meetings", "import", str(changed), "--workspace", workspace_id, env=env)
    assert conflict.returncode == 2
    assert "error: external_id: 'zoom-88123' is already stored" in conflict.stderr


def test_meeting_import_reads_standard_input(env: dict[str, str], workspace_id: str) -> None:
    payload = json.dumps(example_meeting(external_id="stdin-1"))
    result = crm_agents(
        "meetings", "import", "-", "--workspace", workspace_id, stdin=payload, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[1:] == ["imported", "stdin-1"]


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [pytest.param(p, f, r, id=name) for name, p, f, r in BAD_MEETINGS],
)
def test_bad_meetings_exit_2_naming_file_field_and_reason(
    env: dict[str, str],
    workspace_id: str,
    database_dsn: str,
    tmp_path: Path,
    payload: dict[str, object],
    field: str,
    reason: str,
) -> None:
    payload = {**payload, "external_id": payload.get("external_id") and "bad-one"}
    if payload["external_id"] is None:
        del payload["external_id"]
    path = _write(tmp_path, "bad.json", payload)
    result = crm_agents("meetings", "import", str(path), "--workspace", workspace_id, env=env)
    assert result.returncode == 2
    line = next(line for line in result.stderr.splitlines() if f": {field}: " in line)
    assert line.startswith(f"error: {path}: {field}: ")
    assert reason in line


async def test_one_bad_file_among_several_stores_nothing(
    env: dict[str, str], workspace_id: str, database_dsn: str, tmp_path: Path
) -> None:
    good = _write(tmp_path, "good.json", example_meeting(external_id="batch-good"))
    bad = _write(tmp_path, "bad.json", example_meeting(external_id="batch-bad", started_at="soon"))
    result = crm_agents(
        "meetings", "import", str(good), str(bad), "--workspace", workspace_id, env=env
    )
    assert result.returncode == 2
    assert f"{bad}: started_at:" in result.stderr
    conn = await asyncpg.connect(database_dsn)
    try:
        stored = await conn.fetchval(
            "SELECT count(*) FROM meetings WHERE external_id LIKE 'batch-%'"
        )
    finally:
        await conn.close()
    assert stored == 0


def test_meetings_and_members_are_listed(env: dict[str, str], workspace_id: str) -> None:
    imported = crm_agents(
        "meetings",
        "import",
        "-",
        "--workspace",
        workspace_id,
        "--json",
        stdin=json.dumps(example_meeting(external_id="listed-1")),
        env=env,
    )
    assert imported.returncode == 0, imported.stderr
    meetings = crm_agents("meetings", "list", "--workspace", workspace_id, "--json", env=env)
    assert meetings.returncode == 0, meetings.stderr
    assert json.loads(imported.stdout)["id"] in {m["id"] for m in json.loads(meetings.stdout)}
    crm_agents(
        "user", "create", "--workspace", workspace_id, "--email", "lister@ourco.example", env=env
    )
    members = crm_agents("user", "list", "--workspace", workspace_id, env=env)
    assert members.returncode == 0, members.stderr
    assert any(
        line.split()[1:] == ["member", "lister@ourco.example"]
        for line in members.stdout.splitlines()
    )


def test_an_unreachable_database_is_a_clear_failure() -> None:
    result = crm_agents("db", "status", env={"DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/x"})
    assert result.returncode == 1
    assert "cannot connect to PostgreSQL at postgresql://u:***@127.0.0.1:1/x" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_malformed_database_url_is_bad_input() -> None:
    result = crm_agents("migrate", env={"DATABASE_URL": "mysql://nope"})
    assert result.returncode == 2
    assert "error: DATABASE_URL: is not a usable DSN" in result.stderr


def test_a_missing_file_is_named(env: dict[str, str], workspace_id: str, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    result = crm_agents("meetings", "import", str(missing), "--workspace", workspace_id, env=env)
    assert result.returncode == 2
    assert f"{missing}: cannot be read" in result.stderr


async def test_commands_on_an_unmigrated_database_say_what_to_run(
    empty_database_dsn: str,
) -> None:
    result = crm_agents("workspace", "list", env={"DATABASE_URL": empty_database_dsn})
    assert result.returncode == 1
    assert "run `crm-agents migrate`" in result.stderr


def test_a_bad_setting_is_named(env: dict[str, str]) -> None:
    result = crm_agents("workspace", "list", env={**env, "CRM_AGENTS_DB__POOL_MAX_SIZE": "zero"})
    assert result.returncode == 2
    assert "settings: db.pool_max_size:" in result.stderr


@pytest.fixture
def embedded_home(scratch_home: Path) -> Path:
    return scratch_home


@pytest.mark.slow
def test_concurrent_migrate_commands_on_a_new_home_apply_each_file_once(
    embedded_home: Path,
) -> None:
    env = {"CRM_AGENTS_HOME": str(embedded_home)}
    base = {k: v for k, v in os.environ.items() if not k.startswith("CRM_AGENTS_")}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "migrate", "--json"],
            env={**base, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [err for _, err in outputs]
    applied = [name for out, _ in outputs for name in json.loads(out)["applied"]]
    assert sorted(applied) == sorted(m.file_name for m in discover())


@pytest.mark.slow
def test_embedded_mode_from_nothing_to_status(embedded_home: Path) -> None:
    env = {"CRM_AGENTS_HOME": str(embedded_home)}
    migrated = crm_agents("migrate", "--json", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert len(json.loads(migrated.stdout)["applied"]) >= 6
    again = crm_agents("migrate", env=env)
    assert "nothing to do" in again.stdout
    status = json.loads(crm_agents("db", "status", "--json", env=env).stdout)
    assert status["mode"] == "embedded"
    assert status["migrations_pending"] == []
    assert status["pgdata"] == str(embedded_home / "pgdata")
    # every command detached: nothing is left running
    assert not EmbeddedPostgres(embedded_home / "pgdata").state().running
