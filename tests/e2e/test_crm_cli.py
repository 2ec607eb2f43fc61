"""`crm-agents crm ...` as a user meets it, against the HubSpot emulator over loopback."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from runtime.crm.hubspot.emulator import EmulatorConfig
from tests.cli import crm_agents
from tests.hubspot_emulator import NO_LATENCY, TOKEN, RunningEmulator, running_emulator

KEY_A = base64.urlsafe_b64encode(os.urandom(32)).decode()
KEY_B = base64.urlsafe_b64encode(os.urandom(32)).decode()
WRONG_TOKEN = "pat-na1-11111111-wrong"


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    # Only TOKEN is accepted, so any other 'pat-...' token is refused as HubSpot would.
    with running_emulator(EmulatorConfig(tokens=(TOKEN,), latency=NO_LATENCY)) as running:
        yield running


@pytest.fixture(scope="module")
def env(database_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "DATABASE_URL": database_dsn,
        # A home of its own: a local key file must never land in a shared directory.
        "CRM_AGENTS_HOME": str(tmp_path_factory.mktemp("crm-home")),
        "CRM_AGENTS_SECRETS__ENCRYPTION_KEYS": f"a:{KEY_A}",
    }


@pytest.fixture
async def db(database_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_dsn)
    yield conn
    await conn.close()


@pytest.fixture
def workspace_id(env: dict[str, str]) -> str:
    created = crm_agents("workspace", "create", "--name", "Acme", env=env)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip()


def _connect(
    workspace_id: str,
    emulator: RunningEmulator,
    env: dict[str, str],
    *args: str,
    stdin: str | None = None,
) -> tuple[int, str, str]:
    result = crm_agents(
        "crm",
        "connect",
        "--workspace",
        workspace_id,
        "--base-url",
        emulator.url,
        *args,
        env=env,
        stdin=stdin,
    )
    return result.returncode, result.stdout, result.stderr


def _status(workspace_id: str, env: dict[str, str]) -> dict[str, object]:
    result = crm_agents("crm", "status", "--workspace", workspace_id, "--json", env=env)
    assert result.returncode == 0, result.stderr
    status: dict[str, object] = json.loads(result.stdout)
    assert TOKEN not in result.stdout
    return status


def test_connecting_with_a_valid_token_prints_the_id_and_status_shows_it(
    emulator: RunningEmulator, env: dict[str, str], workspace_id: str
) -> None:
    code, out, err = _connect(workspace_id, emulator, env, "--token", TOKEN)
    assert code == 0, err
    connection_id = out.strip()
    assert TOKEN not in out + err

    status = _status(workspace_id, env)
    assert status["connected"] is True
    connection = status["connection"]
    assert isinstance(connection, dict)
    assert connection["id"] == connection_id
    assert (connection["base_url"], connection["auth_kind"], connection["key_id"]) == (
        emulator.url,
        "private_token",
        "a",
    )
    human = crm_agents("crm", "status", "--workspace", workspace_id, env=env)
    assert human.stdout.split()[:2] == ["active", connection_id]


async def test_a_refused_token_exits_2_naming_the_option_and_stores_nothing(
    emulator: RunningEmulator, env: dict[str, str], workspace_id: str, db: asyncpg.Connection
) -> None:
    code, out, err = _connect(workspace_id, emulator, env, "--token", WRONG_TOKEN)
    assert code == 2
    assert "error: --token: " in err
    assert WRONG_TOKEN not in out + err
    assert "Traceback" not in err
    stored = await db.fetchval(
        "SELECT count(*) FROM crm_connections WHERE workspace_id = $1::uuid", workspace_id
    )
    assert stored == 0
    assert _status(workspace_id, env)["connected"] is False


def test_a_refused_token_keeps_the_working_connection(
    emulator: RunningEmulator, env: dict[str, str], workspace_id: str
) -> None:
    code, out, err = _connect(workspace_id, emulator, env, "--token", TOKEN)
    assert code == 0, err
    code, _, err = _connect(workspace_id, emulator, env, "--token", WRONG_TOKEN)
    assert code == 2
    status = _status(workspace_id, env)
    assert status["connected"] is True
    assert isinstance(status["connection"], dict)
    assert status["connection"]["id"] == out.strip()


def test_the_token_can_come_from_standard_input(
    emulator: RunningEmulator, env: dict[str, str], workspace_id: str
) -> None:
    code, out, err = _connect(workspace_id, emulator, env, "--token", "-", stdin=f"{TOKEN}\n")
    assert code == 0, err
    assert TOKEN not in out + err
    assert _status(workspace_id, env)["connected"] is True

    code, _, err = _connect(workspace_id, emulator, env, "--token", "-", stdin="")
    assert code == 2
    assert "error: --token: must not be empty (standard input was empty)" in err


async def test_an_unreachable_crm_exits_1_naming_the_url_and_stores_nothing(
    env: dict[str, str], workspace_id: str, db: asyncpg.Connection
) -> None:
    url = "http://127.0.0.1:1"
    result = crm_agents(
        "crm", "connect", "--workspace", workspace_id, "--token", TOKEN, "--base-url", url, env=env
    )
    assert result.returncode == 1
    assert f"error: cannot reach {url}: " in result.stderr
    stored = await db.fetchval(
        "SELECT count(*) FROM crm_connections WHERE workspace_id = $1::uuid", workspace_id
    )
    assert stored == 0


def test_no_verify_stores_without_asking_the_crm(env: dict[str, str], workspace_id: str) -> None:
    result = crm_agents(
        "crm",
        "connect",
        "--workspace",
        workspace_id,
        "--token",
        WRONG_TOKEN,
        "--base-url",
        "http://127.0.0.1:1",
        "--no-verify",
        "--json",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verified"] is False
    assert WRONG_TOKEN not in result.stdout


def test_disconnect_revokes_and_status_says_not_connected(
    emulator: RunningEmulator, env: dict[str, str], workspace_id: str
) -> None:
    assert _connect(workspace_id, emulator, env, "--token", TOKEN)[0] == 0
    revoked = crm_agents("crm", "disconnect", "--workspace", workspace_id, env=env)
    assert revoked.returncode == 0, revoked.stderr
    status = _status(workspace_id, env)
    assert status["connected"] is False
    assert isinstance(status["connection"], dict)
    assert status["connection"]["status"] == "revoked"


def test_status_of_an_unknown_workspace_is_bad_input(env: dict[str, str]) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    result = crm_agents("crm", "status", "--workspace", missing, env=env)
    assert result.returncode == 2
    assert f"workspace: no workspace {missing}" in result.stderr


async def test_rotate_key_reports_how_many_connections_it_re_encrypted(
    emulator: RunningEmulator, env: dict[str, str], workspace_id: str, db: asyncpg.Connection
) -> None:
    assert _connect(workspace_id, emulator, env, "--token", TOKEN)[0] == 0
    under_a = await db.fetchval("SELECT count(*) FROM crm_connections WHERE key_id = 'a'")
    assert under_a >= 1

    rotated_env = {**env, "CRM_AGENTS_SECRETS__ENCRYPTION_KEYS": f"b:{KEY_B},a:{KEY_A}"}
    rotated = crm_agents("crm", "rotate-key", "--json", env=rotated_env)
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout) == {
        "re_encrypted": under_a,
        "webhook_secrets_re_encrypted": 0,
        "meeting_webhook_secrets_re_encrypted": 0,
        "key_id": "b",
    }
    assert await db.fetchval("SELECT count(*) FROM crm_connections WHERE key_id <> 'b'") == 0

    again = crm_agents(
        "crm", "rotate-key", env={**env, "CRM_AGENTS_SECRETS__ENCRYPTION_KEYS": f"b:{KEY_B}"}
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == (
        "re-encrypted 0 connection(s), 0 webhook secret(s) and 0 meeting webhook secret(s)"
        " under key b"
    )


async def test_without_keys_a_local_key_is_made_with_a_warning(
    emulator: RunningEmulator,
    env: dict[str, str],
    workspace_id: str,
    tmp_path: Path,
    db: asyncpg.Connection,
) -> None:
    local_env = {"DATABASE_URL": env["DATABASE_URL"], "CRM_AGENTS_HOME": str(tmp_path)}
    try:
        code, _, err = _connect(workspace_id, emulator, local_env, "--token", TOKEN)
        assert code == 0, err
        assert "WARNING" in err
        assert "this machine only" in err
        key_file = tmp_path / "secrets" / "encryption.key"
        assert key_file.read_text().startswith("local:")
        assert key_file.read_text().strip().removeprefix("local:") not in err
    finally:
        # The key dies with tmp_path: a row sealed with it would break the rotation test.
        await db.execute("DELETE FROM crm_connections WHERE key_id = 'local'")
