"""The settings tree: prefixes, aliases, descriptions, secrets and .env.example."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from runtime.settings import (
    ROOT_DEFAULT_HOME,
    Settings,
    default_home,
    env_variables,
    render_env_example,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in env_variables():
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_every_setting_is_described() -> None:
    missing = [v.name for v in env_variables() if not (v.info.description or "").strip()]
    assert missing == []


def test_every_variable_carries_the_prefix() -> None:
    assert all(v.name.startswith("CRM_AGENTS_") for v in env_variables())


def test_env_example_is_in_sync_with_the_settings_tree() -> None:
    committed = (REPO / ".env.example").read_text()
    assert committed == render_env_example(), "run: crm-agents config env-example > .env.example"


def test_database_url_is_read_from_either_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://a@h/one")
    settings = Settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://a@h/one"
    monkeypatch.setenv("CRM_AGENTS_DATABASE_URL", "postgresql://a@h/two")
    settings = Settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://a@h/two"


def test_the_database_url_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:hunter2@h/db")
    settings = Settings()
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


def test_nested_groups_use_a_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_AGENTS_DB__POOL_MAX_SIZE", "3")
    assert Settings().db.pool_max_size == 3
    assert "CRM_AGENTS_DB__POOL_MAX_SIZE" in {v.name for v in env_variables()}


def test_a_bad_value_is_refused_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_AGENTS_DB__POOL_MAX_SIZE", "0")
    with pytest.raises(ValidationError, match="pool_max_size"):
        Settings()


def test_home_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CRM_AGENTS_HOME", str(tmp_path / "state"))
    settings = Settings()
    assert settings.pgdata == tmp_path / "state" / "pgdata"


def test_default_home_is_project_local_for_normal_users(tmp_path: Path) -> None:
    home = default_home(cwd=tmp_path / "proj", euid=1000, user_home=tmp_path)
    assert home == tmp_path / "proj" / ".crm-agents"


def test_default_home_keeps_root_out_of_its_home(tmp_path: Path) -> None:
    inside = default_home(cwd=Path("/root/proj"), euid=0, user_home=Path("/root"))
    assert inside == ROOT_DEFAULT_HOME
    outside = default_home(cwd=Path("/srv/proj"), euid=0, user_home=Path("/root"))
    assert outside == Path("/srv/proj/.crm-agents")
