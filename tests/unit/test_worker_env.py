"""What a Ray worker process is told: the settings, never the secrets (a task's environment
is on its worker's command line, which every user of the machine can read)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from actors.executor import secret_env, worker_env
from runtime.settings import Settings

KEYS = "k:" + base64.urlsafe_b64encode(bytes(32)).decode()


def test_worker_env_passes_settings_and_an_absolute_home_but_no_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CRM_AGENTS_WORKER__BATCH_SIZE", "12")
    monkeypatch.setenv("CRM_AGENTS_HOME", "relative-home")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@db.example/x")
    monkeypatch.setenv("CRM_AGENTS_SECRETS__ENCRYPTION_KEYS", KEYS)
    monkeypatch.setenv("CRM_AGENTS_LLM__API_KEY", "sk-secret")
    settings = Settings()

    env = worker_env(settings)

    assert env["CRM_AGENTS_WORKER__BATCH_SIZE"] == "12"
    assert env["CRM_AGENTS_HOME"] == str(tmp_path / "relative-home")
    assert not {"DATABASE_URL", "CRM_AGENTS_SECRETS__ENCRYPTION_KEYS"} & env.keys()
    assert "CRM_AGENTS_LLM__API_KEY" not in env
    assert "pw" not in " ".join(env.values())


def test_secret_env_holds_each_set_secret_under_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@db.example/x")
    monkeypatch.setenv("CRM_AGENTS_SECRETS__ENCRYPTION_KEYS", KEYS)
    monkeypatch.delenv("CRM_AGENTS_LLM__API_KEY", raising=False)
    found = secret_env(Settings(_env_file=None))
    assert found["CRM_AGENTS_DATABASE_URL"] == "postgresql://u:pw@db.example/x"
    assert found["CRM_AGENTS_SECRETS__ENCRYPTION_KEYS"] == KEYS
    assert "CRM_AGENTS_LLM__API_KEY" not in found
