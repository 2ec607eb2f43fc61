"""`crm-agents agent ...` as a user runs it: templates, create, list, show, update, activate."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runtime.agents.templates import all_templates, template_for
from tests.cli import crm_agents

TEMPLATE_KEYS = [t.call_type for t in all_templates()]


@pytest.fixture(scope="module")
def env(database_dsn: str) -> dict[str, str]:
    return {"DATABASE_URL": database_dsn}


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _json(*args: str, env: dict[str, str], stdin: str | None = None) -> Any:
    return json.loads(_ok(crm_agents(*args, "--json", env=env, stdin=stdin)))


def _workspace(env: dict[str, str], name: str) -> str:
    return _ok(crm_agents("workspace", "create", "--name", name, env=env)).strip()


def _user(env: dict[str, str], workspace: str, email: str, role: str = "member") -> str:
    args = ("user", "create", "--workspace", workspace, "--email", email, "--role", role)
    return _ok(crm_agents(*args, env=env)).strip()


@pytest.fixture(scope="module")
def workspace(env: dict[str, str]) -> dict[str, str]:
    """A workspace whose first admin is ada, plus a later admin and a plain member."""
    workspace_id = _workspace(env, "Acme")
    ada = _user(env, workspace_id, "ada@ourco.example", "admin")
    _user(env, workspace_id, "bob@ourco.example", "admin")
    mia = _user(env, workspace_id, "mia@ourco.example")
    return {"id": workspace_id, "ada": ada, "mia": mia}


def _create(env: dict[str, str], workspace: dict[str, str], *args: str) -> dict[str, Any]:
    created: dict[str, Any] = _json(
        "agent", "create", "--workspace", workspace["id"], *args, env=env
    )
    return created


def test_templates_lists_every_built_in_template_without_a_database() -> None:
    listed = json.loads(_ok(crm_agents("agent", "templates", "--json", env={})))
    assert [t["key"] for t in listed] == TEMPLATE_KEYS
    discovery = listed[0]
    assert discovery["name"] == "Discovery call agent"
    assert discovery["call_type"] == "discovery"
    assert discovery["description"].startswith("Records budget")
    human = _ok(crm_agents("agent", "templates", env={}))
    assert human.splitlines()[0].split()[:4] == ["discovery", "Discovery", "call", "agent"]


def test_the_workspace_has_its_templates_and_no_agents_at_first(
    env: dict[str, str], workspace: dict[str, str]
) -> None:
    empty = crm_agents("agent", "list", "--workspace", workspace["id"], env=env)
    assert (empty.returncode, empty.stdout) == (0, "")
    assert "agent create" in empty.stderr
    rows = _json("agent", "list", "--workspace", workspace["id"], "--templates", env=env)
    assert sorted(r["template_key"] for r in rows) == sorted(TEMPLATE_KEYS)
    # made by the first admin, not by the one added after
    assert {(r["is_template"], r["created_by"]) for r in rows} == {(True, workspace["ada"])}
    human = _ok(crm_agents("agent", "list", "--workspace", workspace["id"], "--templates", env=env))
    assert any(line.endswith("[template qbr]") for line in human.splitlines())


def test_create_from_a_template_then_list_and_show(
    env: dict[str, str], workspace: dict[str, str]
) -> None:
    args = ("agent", "create", "--workspace", workspace["id"], "--template", "negotiation")
    agent_id = _ok(crm_agents(*args, env=env)).strip()
    listed = _ok(crm_agents("agent", "list", "--workspace", workspace["id"], env=env))
    line = next(line for line in listed.splitlines() if line.startswith(agent_id))
    assert line.split() == [agent_id, "draft", "negotiation", "Negotiation", "agent"]

    template = template_for("negotiation")
    assert template is not None
    shown = json.loads(_ok(crm_agents("agent", "show", agent_id, env=env)))
    assert shown == template.config.model_dump(mode="json")
    record = _json("agent", "show", agent_id, env=env)
    assert (record["id"], record["status"], record["is_template"]) == (agent_id, "draft", False)
    assert record["created_by"] == workspace["ada"]
    assert record["description"] == template.description


def test_create_as_a_named_member_with_a_name(
    env: dict[str, str], workspace: dict[str, str]
) -> None:
    created = _create(
        env, workspace, "--template", "Demo", "--name", "Demo (EMEA)", "--user", "MIA@ourco.example"
    )
    assert (created["name"], created["call_type"]) == ("Demo (EMEA)", "demo")
    assert created["created_by"] == workspace["mia"]
    by_id = _create(env, workspace, "--template", "demo", "--user", workspace["mia"])
    assert by_id["created_by"] == workspace["mia"]


def test_an_unknown_template_exits_2_naming_the_option_and_the_known_keys(
    env: dict[str, str], workspace: dict[str, str]
) -> None:
    result = crm_agents(
        "agent", "create", "--workspace", workspace["id"], "--template", "webinar", env=env
    )
    assert result.returncode == 2
    assert "error: --template: no template 'webinar'; known: " + ", ".join(TEMPLATE_KEYS) in (
        result.stderr
    )


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ("nobody@ourco.example", "error: --user: no user nobody@ourco.example"),
        ("00000000-0000-4000-8000-000000000000", "error: --user: no user 00000000-"),
        ("outsider@elsewhere.example", "error: --user: user "),
    ],
    ids=["unknown-email", "unknown-id", "not-a-member"],
)
def test_the_creator_must_be_a_member_and_is_named_as_user(
    env: dict[str, str], workspace: dict[str, str], user: str, message: str
) -> None:
    if user.startswith("outsider"):
        _user(env, _workspace(env, "Elsewhere"), user, "admin")
    result = crm_agents(
        "agent",
        "create",
        "--workspace",
        workspace["id"],
        "--template",
        "demo",
        "--user",
        user,
        env=env,
    )
    assert result.returncode == 2
    assert message in result.stderr
    if user.startswith("outsider"):
        assert "is not a member of workspace" in result.stderr


def test_a_workspace_without_an_admin_needs_user(env: dict[str, str]) -> None:
    workspace_id = _workspace(env, "Adminless")
    args = ("agent", "create", "--workspace", workspace_id, "--template", "demo")
    result = crm_agents(*args, env=env)
    assert result.returncode == 2
    assert "error: --user: workspace " in result.stderr
    assert "has no admin" in result.stderr
    member = _user(env, workspace_id, "solo@ourco.example")
    created = json.loads(_ok(crm_agents(*args, "--user", member, "--json", env=env)))
    assert created["created_by"] == member


def test_update_validates_the_config_file_and_names_the_field(
    env: dict[str, str], workspace: dict[str, str], tmp_path: Path
) -> None:
    agent = _create(env, workspace, "--template", "renewal")
    config = json.loads(_ok(crm_agents("agent", "show", agent["id"], env=env)))
    config["fields"]["amount"]["auto_apply_threshold"] = 1.5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(config))
    refused = crm_agents("agent", "update", agent["id"], "--config", str(bad), env=env)
    assert refused.returncode == 2
    assert (
        f"error: {bad}: config.fields.amount.auto_apply_threshold: Input should be less than"
        " or equal to 1" in refused.stderr
    )
    unchanged = _json("agent", "show", agent["id"], env=env)
    assert unchanged["config"]["fields"]["amount"]["auto_apply_threshold"] == 0.9
    assert unchanged["updated_at"] == agent["updated_at"]

    config["fields"]["amount"]["auto_apply_threshold"] = 0.8
    config["call_types"] = ["renewal", "QBR"]
    args = ("agent", "update", agent["id"], "--config", "-", "--name", "Renewals")
    updated = _json(*args, env=env, stdin=json.dumps(config))
    assert updated["name"] == "Renewals"
    assert updated["config"]["call_types"] == ["renewal", "qbr"]
    assert updated["config"]["fields"]["amount"]["auto_apply_threshold"] == 0.8
    assert updated["updated_at"] > agent["updated_at"]
    human = _ok(crm_agents("agent", "update", agent["id"], "--name", "Renewals 2", env=env))
    assert human.split() == [agent["id"], "draft", "renewal", "Renewals", "2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "error: --name/--config: give at least one"),
        (("--name", "  "), "error: --name: must not be empty"),
        (("--config", "/nonexistent/agent.json"), "error: --config: /nonexistent/agent.json"),
    ],
    ids=["nothing", "blank-name", "missing-file"],
)
def test_update_refuses_bad_options(
    env: dict[str, str], workspace: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    agent = _create(env, workspace, "--template", "qbr")
    result = crm_agents("agent", "update", agent["id"], *args, env=env)
    assert result.returncode == 2
    assert message in result.stderr


def test_activate_and_pause_print_the_status_and_say_when_nothing_changed(
    env: dict[str, str], workspace: dict[str, str]
) -> None:
    agent_id = _create(env, workspace, "--template", "check_in")["id"]
    refused = crm_agents("agent", "pause", agent_id, env=env)
    assert refused.returncode == 2
    assert "error: status: agent " in refused.stderr
    assert _ok(crm_agents("agent", "activate", agent_id, env=env)).strip() == "active"
    again = _ok(crm_agents("agent", "activate", agent_id, env=env)).strip()
    assert again == "active (already active: nothing changed)"
    active = _json("agent", "list", "--workspace", workspace["id"], "--status", "active", env=env)
    assert [a["id"] for a in active] == [agent_id]

    paused = _json("agent", "pause", agent_id, env=env)
    assert (paused["status"], paused["changed"], paused["previous_status"]) == (
        "paused",
        True,
        "active",
    )
    paused_again = _json("agent", "pause", agent_id, env=env)
    assert (paused_again["status"], paused_again["changed"]) == ("paused", False)
    assert (
        _json("agent", "list", "--workspace", workspace["id"], "--status", "active", env=env) == []
    )


def test_a_template_cannot_be_activated(env: dict[str, str], workspace: dict[str, str]) -> None:
    rows = _json("agent", "list", "--workspace", workspace["id"], "--templates", env=env)
    template = next(r for r in rows if r["template_key"] == "discovery")
    result = crm_agents("agent", "activate", template["id"], env=env)
    assert result.returncode == 2
    assert f"error: agent: {template['id']} is the template 'discovery'" in result.stderr


@pytest.mark.parametrize("command", ["show", "activate", "pause"])
def test_an_unknown_agent_is_named(env: dict[str, str], command: str) -> None:
    missing = "00000000-0000-4000-8000-000000000001"
    result = crm_agents("agent", command, missing, env=env)
    assert result.returncode == 2
    assert f"error: agent config: no agent config {missing}" in result.stderr


def test_the_group_help_teaches_with_examples() -> None:
    result = crm_agents("agent", "--help", env={})
    assert result.returncode == 0
    assert "crm-agents agent create --workspace W --template discovery" in result.stdout
    for command in ("templates", "create", "list", "show", "update", "activate", "pause"):
        assert command in result.stdout
