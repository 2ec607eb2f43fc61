"""`crm-agents webhook secret` as an admin meets it: the printed secret signs deliveries, a
rotation ends the old one, and `crm-agents crm rotate-key` re-seals it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from runtime.api.http import build_api_app
from runtime.settings import SecretsSettings, Settings
from tests.cli import crm_agents
from tests.http_server import serve_asgi
from tests.meetings import example_meeting

KEY_A = base64.urlsafe_b64encode(os.urandom(32)).decode()
KEY_B = base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture(scope="module")
def env(database_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "DATABASE_URL": database_dsn,
        # A home of its own: a local key file must never land in a shared directory.
        "CRM_AGENTS_HOME": str(tmp_path_factory.mktemp("webhook-home")),
        "CRM_AGENTS_SECRETS__ENCRYPTION_KEYS": f"a:{KEY_A}",
    }


@pytest.fixture(scope="module")
def workspace_id(env: dict[str, str]) -> str:
    created = crm_agents("workspace", "create", "--name", "Webhooks", env=env)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip()


@contextmanager
def _serve(database_dsn: str, home: str, keys: str) -> Iterator[str]:
    settings = Settings(
        database_url=SecretStr(database_dsn),
        home=Path(home),
        secrets=SecretsSettings(encryption_keys=SecretStr(keys)),
        _env_file=None,
    )
    with serve_asgi(build_api_app(settings)) as url:
        yield url


def _deliver(url: str, secret: str, workspace_id: str) -> httpx.Response:
    body = json.dumps(example_meeting(external_id=f"zoom-{uuid.uuid4().hex[:10]}")).encode()
    ts = str(int(time.time()))
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {
        "X-CRM-Agents-Workspace": workspace_id,
        "X-CRM-Agents-Timestamp": ts,
        "X-CRM-Agents-Signature": f"v1={digest}",
    }
    return httpx.post(f"{url}/webhooks/meetings", content=body, headers=headers, timeout=30)


def test_the_printed_secret_signs_deliveries_and_rotation_ends_the_old_one(
    env: dict[str, str], workspace_id: str, database_dsn: str
) -> None:
    created = crm_agents("webhook", "secret", "--workspace", workspace_id, env=env)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("whsec_")
    assert "\n" not in secret

    with _serve(database_dsn, env["CRM_AGENTS_HOME"], f"a:{KEY_A}") as url:
        accepted = _deliver(url, secret, workspace_id)
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["created"] is True

        rotated = crm_agents("webhook", "secret", "--workspace", workspace_id, "--json", env=env)
        assert rotated.returncode == 0, rotated.stderr
        new = json.loads(rotated.stdout)
        assert (new["workspace_id"], new["key_id"]) == (workspace_id, "a")
        assert new["secret"] != secret
        assert _deliver(url, secret, workspace_id).status_code == 401
        assert _deliver(url, new["secret"], workspace_id).status_code == 201

    # rotate-key re-seals the secret under the new key: a server without the old key opens it.
    rekeyed = crm_agents(
        "crm", "rotate-key", "--json",
        env={**env, "CRM_AGENTS_SECRETS__ENCRYPTION_KEYS": f"b:{KEY_B},a:{KEY_A}"},
    )  # fmt: skip
    assert rekeyed.returncode == 0, rekeyed.stderr
    assert json.loads(rekeyed.stdout)["meeting_webhook_secrets_re_encrypted"] >= 1
    with _serve(database_dsn, env["CRM_AGENTS_HOME"], f"b:{KEY_B}") as url:
        assert _deliver(url, new["secret"], workspace_id).status_code == 201


def test_an_unknown_workspace_is_named(env: dict[str, str]) -> None:
    missing = str(uuid.uuid4())
    result = crm_agents("webhook", "secret", "--workspace", missing, env=env)
    assert result.returncode == 2
    assert f"workspace: no workspace {missing}" in result.stderr
    assert "whsec_" not in result.stdout
