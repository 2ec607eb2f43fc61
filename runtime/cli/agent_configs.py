"""`crm-agents agent ...`: a workspace's agents, made from templates, edited, switched on."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import typer

from runtime.agent_configs.models import AgentStatus, StoredAgentConfig
from runtime.agent_configs.repo import AgentConfigRepo
from runtime.agent_configs.service import (
    StatusChange,
    activate,
    create_from_template,
    pause,
    update_agent,
)
from runtime.agents.templates import all_templates
from runtime.cli._common import (
    JSON_OPTION,
    WORKSPACE_OPTION,
    command_group,
    database,
    emit,
    load_settings,
    run,
)
from runtime.errors import InvalidInputError, NotFoundError
from runtime.users.repo import UserRepo
from runtime.users.service import find_user_id
from runtime.workspaces.repo import WorkspaceRepo

__all__ = ["agent_app"]


class StatusChoice(StrEnum):
    draft = "draft"
    active = "active"
    paused = "paused"
    error = "error"


_STATUSES: Mapping[StatusChoice, AgentStatus] = {
    StatusChoice.draft: "draft",
    StatusChoice.active: "active",
    StatusChoice.paused: "paused",
    StatusChoice.error: "error",
}

agent_app = command_group(
    help=(
        "Agents of a workspace: made from a built-in template, edited, then activated.\n\n"
        "A new agent is a **draft**: it runs on nothing. Once **active** it runs on every new"
        " meeting whose call type is in its config's `call_types`; **paused** stops that"
        " until it is activated again. Every workspace holds a copy of each built-in"
        " template (`agent list --templates`), made when its first admin is added.\n\n"
        "Examples:\n\n"
        "* `crm-agents agent templates`\n"
        "* `crm-agents agent create --workspace W --template discovery --name 'EMEA"
        " discovery'`\n"
        "* `crm-agents agent show ID > agent.json`, edit it, then"
        " `crm-agents agent update ID --config agent.json`\n"
        "* `crm-agents agent activate ID`, later `crm-agents agent pause ID`\n"
        "* `crm-agents agent list --workspace W --status active --json`"
    )
)

AGENT_ID = typer.Argument(..., metavar="ID", help="Agent id (see `agent list`).")

# The service names its inputs; on the command line they are options.
_OPTIONS = {"template": "--template", "created_by": "--user", "name": "--name"}


@agent_app.command("templates")
def templates_command(as_json: bool = JSON_OPTION) -> None:
    """List the built-in templates: key (for `agent create --template`), name, call type.

    Each starts review-only: it proposes, and writes nothing without a human until its
    config says `"review_only": false`. With --json, each template's config is included.
    Needs no database.
    """
    rows = [
        {
            "key": t.call_type,
            "name": t.name,
            "call_type": t.call_type,
            "description": t.description,
            "config": t.config.model_dump(mode="json"),
        }
        for t in all_templates()
    ]
    human = "\n".join(
        f"{t.call_type:<12}  {t.name}  (call type: {t.call_type})\n"
        + textwrap.fill(t.description, width=88, initial_indent="    ", subsequent_indent="    ")
        for t in all_templates()
    )
    emit(rows, human, as_json=as_json)


@agent_app.command("create")
def create_command(
    workspace: UUID = WORKSPACE_OPTION,
    template: str = typer.Option(
        ..., "--template", help="Template key (see `agent templates`), e.g. discovery."
    ),
    name: str | None = typer.Option(None, "--name", help="Agent name; default: the template's."),
    user: str | None = typer.Option(
        None,
        "--user",
        help="Creator: a member's user id or email; default: the workspace's first admin.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a draft agent from a template of the workspace and print its id.

    The agent gets the template's config, call type and description; it runs on nothing
    until `agent activate ID`. Change its config first with `agent update ID --config`.
    """
    settings = load_settings()

    async def body() -> StoredAgentConfig:
        async with database(settings) as pool, pool.acquire() as conn:
            await WorkspaceRepo(conn).get(workspace)
            creator = await _creator(conn, workspace, user)
            with _named_as_options():
                return await create_from_template(
                    conn, workspace, template_key=template, created_by=creator, name=name
                )

    agent = run(body)
    emit(_record(agent), str(agent.id), as_json=as_json)


@agent_app.command("list")
def list_command(
    workspace: UUID = WORKSPACE_OPTION,
    templates: bool = typer.Option(
        False, "--templates", help="Also list the workspace's template rows."
    ),
    status: StatusChoice | None = typer.Option(
        None, "--status", help="Only agents in this status."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """List a workspace's agents, oldest first: id, status, call type, name.

    With --templates, the workspace's templates follow, marked with their key.
    """
    settings = load_settings()
    wanted: AgentStatus | None = None if status is None else _STATUSES[status]

    async def body() -> list[StoredAgentConfig]:
        async with database(settings) as pool:
            await WorkspaceRepo(pool).get(workspace)
            return await AgentConfigRepo(pool).list(
                workspace, include_templates=templates, status=wanted
            )

    agents = run(body)
    if not agents and not as_json:
        sys.stderr.write("no agents; make one with `crm-agents agent create --help`\n")
        return
    emit([_record(a) for a in agents], "\n".join(_line(a) for a in agents), as_json=as_json)


@agent_app.command("show")
def show_command(agent_id: UUID = AGENT_ID, as_json: bool = JSON_OPTION) -> None:
    """Print an agent's config as JSON, ready to edit and hand to `agent update --config`.

    With --json, the whole agent: id, name, status, call type, config, timestamps.
    """
    settings = load_settings()

    async def body() -> StoredAgentConfig:
        async with database(settings) as pool:
            return await AgentConfigRepo(pool).get(None, agent_id)

    agent = run(body)
    config = agent.config.model_dump(mode="json")
    emit(_record(agent), json.dumps(config, indent=2), as_json=as_json)


@agent_app.command("update")
def update_command(
    agent_id: UUID = AGENT_ID,
    name: str | None = typer.Option(None, "--name", help="A new name."),
    config_file: Path | None = typer.Option(
        None,
        "--config",
        metavar="FILE",
        help="A new config (JSON, as `agent show` prints it); '-' reads standard input.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Rename an agent and/or replace its config; prints id, status, call type and name.

    The whole config is validated first: a bad one changes nothing and every problem is
    named (`config.fields.amount.auto_apply_threshold: ...`, exit code 2). An active agent
    stays active and uses the new config from its next meeting on.
    """
    if name is None and config_file is None:
        raise InvalidInputError.one("--name/--config", "give at least one")
    settings = load_settings()
    raw = None if config_file is None else _read(config_file)
    source = None if config_file is None else _display(config_file)

    async def body() -> StoredAgentConfig:
        async with database(settings) as pool, pool.acquire() as conn:
            with _named_as_options(config_source=source):
                return await update_agent(conn, agent_id, name=name, config=raw)

    agent = run(body)
    emit(_record(agent), _line(agent), as_json=as_json)


@agent_app.command("activate")
def activate_command(agent_id: UUID = AGENT_ID, as_json: bool = JSON_OPTION) -> None:
    """Let an agent run on new meetings of its call types; prints the new status.

    Works from draft, paused or error. An agent that is already active stays so: the
    command says nothing changed and exits 0. Templates cannot be activated.
    """
    _change_status(agent_id, activate, as_json=as_json)


@agent_app.command("pause")
def pause_command(agent_id: UUID = AGENT_ID, as_json: bool = JSON_OPTION) -> None:
    """Stop an active agent from running on new meetings; prints the new status.

    An agent that is already paused stays so: the command says nothing changed and exits 0.
    A draft (never activated) or an agent in error cannot be paused (exit code 2).
    """
    _change_status(agent_id, pause, as_json=as_json)


def _change_status(
    agent_id: UUID,
    change: Callable[[asyncpg.Connection, UUID], Awaitable[StatusChange]],
    *,
    as_json: bool,
) -> None:
    settings = load_settings()

    async def body() -> StatusChange:
        async with database(settings) as pool, pool.acquire() as conn:
            return await change(conn, agent_id)

    result = run(body)
    status = result.agent.status
    human = status if result.changed else f"{status} (already {status}: nothing changed)"
    data = {**_record(result.agent), "changed": result.changed, "previous_status": result.previous}
    emit(data, human, as_json=as_json)


async def _creator(conn: asyncpg.Connection, workspace_id: UUID, user: str | None) -> UUID:
    """The user id behind --user (an id or an email), else the workspace's first admin."""
    users = UserRepo(conn)
    if user is None:
        first = await _first_admin(users, workspace_id)
        if first is None:
            raise InvalidInputError.one(
                "--user",
                f"workspace {workspace_id} has no admin to create the agent as; name a member"
                " (see `crm-agents user list`)",
            )
        return first
    return await find_user_id(conn, user, field="--user")


async def _first_admin(users: UserRepo, workspace_id: UUID) -> UUID | None:
    admins = [m for m in await users.list_members(workspace_id) if m.role == "admin"]
    joined = []
    for admin in admins:
        membership = await users.get_membership(workspace_id, admin.user.id)
        if membership is not None:
            joined.append((membership.created_at, admin.user.email, admin.user.id))
    return min(joined)[2] if joined else None


@contextmanager
def _named_as_options(config_source: str | None = None) -> Iterator[None]:
    """Re-raise the service's errors naming the command's options (and the config file)."""
    try:
        yield
    except InvalidInputError as exc:
        problems = [(_option(field, config_source), reason) for field, reason in exc.problems]
        raise InvalidInputError(problems, exc.source) from exc
    except NotFoundError as exc:
        if exc.field not in _OPTIONS:
            raise
        raise NotFoundError(exc.kind, exc.key, field=_OPTIONS[exc.field]) from exc


def _option(field: str, config_source: str | None) -> str:
    if config_source is not None and (field == "config" or field.startswith("config.")):
        return f"{config_source}: {field}"
    return _OPTIONS.get(field, field)


def _read(path: Path) -> bytes:
    try:
        return sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        raise InvalidInputError.one("--config", f"{path} cannot be read: {exc.strerror}") from exc


def _display(path: Path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def _record(agent: StoredAgentConfig) -> dict[str, Any]:
    return agent.model_dump(mode="json")


def _line(agent: StoredAgentConfig) -> str:
    line = f"{agent.id}  {agent.status:<6}  {agent.call_type or '-':<12}  {agent.name}"
    if agent.is_template:
        line += f"  [template {agent.template_key}]"
    return line
