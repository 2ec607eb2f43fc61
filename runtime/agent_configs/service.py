"""Use cases around agent configs: a workspace's templates, new agents, edits, activation.

An agent's life: created as a ``draft`` (from a template or from a config), edited, then
``active`` (it runs on meetings of its call types) and ``paused`` at will; the runtime
marks it ``error`` when it cannot run, and activating it again is how a human resumes it.
Template rows never run: they are what new agents start from.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ValidationError

from runtime.agent_configs.models import (
    AgentConfigCreate,
    AgentConfigUpdate,
    AgentStatus,
    StoredAgentConfig,
)
from runtime.agent_configs.repo import AgentConfigRepo
from runtime.agents.config import AgentConfig, parse_agent_config
from runtime.agents.templates import all_templates, template_for
from runtime.errors import (
    ConflictError,
    FieldProblem,
    InvalidInputError,
    NotFoundError,
    invalid_from_pydantic,
)
from runtime.users.repo import UserRepo
from runtime.workspaces.repo import WorkspaceRepo

__all__ = [
    "RawConfig",
    "StatusChange",
    "activate",
    "create_agent",
    "create_from_template",
    "ensure_templates",
    "pause",
    "update_agent",
]

RawConfig = AgentConfig | Mapping[str, Any] | str | bytes
"""A config as callers hand it over: validated, a decoded JSON object, or JSON text."""

ModelT = TypeVar("ModelT", bound=BaseModel)

# The statuses an agent may be activated from, and paused from.
_RESUMABLE: tuple[AgentStatus, ...] = ("draft", "paused", "error")
_RUNNING: tuple[AgentStatus, ...] = ("active",)


@dataclass(frozen=True)
class StatusChange:
    """The agent after an activate or pause, and whether this call changed it."""

    agent: StoredAgentConfig
    changed: bool
    previous: AgentStatus


async def ensure_templates(
    conn: asyncpg.Connection, workspace_id: UUID, created_by: UUID
) -> list[StoredAgentConfig]:
    """Give the workspace the built-in templates it lacks, as rows created by ``created_by``.

    Idempotent: templates the workspace has are left alone (even if edited since).
    Returns the rows inserted by this call.

    Raises:
        NotFoundError: no such workspace, or no such user (field ``created_by``).
        InvalidInputError: ``created_by`` is not a member of the workspace.
    """
    await _require_member(conn, workspace_id, created_by)
    return await AgentConfigRepo(conn).materialise_templates(
        workspace_id, created_by, all_templates()
    )


async def create_from_template(
    conn: asyncpg.Connection,
    workspace_id: UUID,
    *,
    template_key: str | None = None,
    template_id: UUID | None = None,
    created_by: UUID,
    name: str | None = None,
    call_type: str | None = None,
    description: str | None = None,
) -> StoredAgentConfig:
    """A new draft agent with the config, call type and description of a template.

    The template is named by its key or by the id of its row (one of the two). The
    workspace's template row is the source (a workspace may have edited it); a built-in
    template the workspace has no row for is taken from the code. ``name``, ``call_type``
    (one the config runs on) and ``description`` default to the template's.

    Raises:
        InvalidInputError: unknown template (field ``template``, listing the known keys), an
            id that is not one of the workspace's templates (``template_id``), a bad name or
            call type, or a creator who is not a member (field ``created_by``).
        NotFoundError: no such workspace or user.
    """
    if (template_key is None) == (template_id is None):
        raise InvalidInputError.one("template", "name a template by its key or by its id")
    key = (template_key or "").strip().lower()
    async with conn.transaction():
        await _require_member(conn, workspace_id, created_by)
        repo = AgentConfigRepo(conn)
        stored: StoredAgentConfig | None = None
        if template_id is not None:
            stored = await _template_row(repo, workspace_id, template_id)
        elif key:
            stored = await repo.get_template(workspace_id, key)
        if stored is not None:
            source_name, config, source_call_type, source_description = (
                stored.name,
                stored.config,
                stored.call_type,
                stored.description,
            )
        else:
            builtin = template_for(key) if key else None
            if builtin is None:
                known = await _known_template_keys(repo, workspace_id)
                raise InvalidInputError.one(
                    "template",
                    f"no template {template_key!r}; known: {', '.join(known)}",
                )
            source_name, config, source_call_type, source_description = (
                builtin.name,
                builtin.config,
                builtin.call_type,
                builtin.description,
            )
        if call_type is None:
            call_type = source_call_type
            if call_type is not None and call_type not in config.call_types:
                call_type = None  # an edited template no longer runs on it: the config's first
        new = _validated(
            AgentConfigCreate,
            name=source_name if name is None else name,
            config=config,
            call_type=call_type,
            description=source_description if description is None else description,
        )
        return await repo.insert(workspace_id, created_by, new)


async def create_agent(
    conn: asyncpg.Connection,
    workspace_id: UUID,
    *,
    created_by: UUID,
    name: str,
    config: RawConfig,
    call_type: str | None = None,
    description: str | None = None,
) -> StoredAgentConfig:
    """A new draft agent with a config of the caller's own.

    ``call_type`` is its primary call type, one the config runs on (default: the config's
    first).

    Raises:
        InvalidInputError: a bad name, config, call type or description (fields ``name``,
            ``config.<path>``, ``call_type``, ``description``) or a creator who is not a
            member (``created_by``).
        NotFoundError: no such workspace or user.
    """
    new = _validated(
        AgentConfigCreate, name=name, config=config, call_type=call_type, description=description
    )
    async with conn.transaction():
        await _require_member(conn, workspace_id, created_by)
        return await AgentConfigRepo(conn).insert(workspace_id, created_by, new)


async def update_agent(
    conn: asyncpg.Connection,
    agent_id: UUID,
    *,
    name: str | None = None,
    config: RawConfig | None = None,
    description: str | None = None,
    workspace_id: UUID | None = None,
) -> StoredAgentConfig:
    """Rename an agent, replace its config and/or its description (a blank one removes it);
    the new config applies to its next runs.

    ``workspace_id`` scopes the lookup (an agent of another workspace is not found).

    Raises:
        InvalidInputError: nothing to change, or a bad name, config or description, each
            problem naming its field (``config.fields.amount.auto_apply_threshold``).
        NotFoundError: no such agent config.
    """
    if name is None and config is None and description is None:
        raise InvalidInputError.one(
            "(input)", "nothing to change: give a new name, config or description"
        )
    change = _validated(AgentConfigUpdate, name=name, config=config, description=description)
    return await AgentConfigRepo(conn).update(workspace_id, agent_id, change)


async def activate(
    conn: asyncpg.Connection, agent_id: UUID, *, workspace_id: UUID | None = None
) -> StatusChange:
    """Let the agent run: from draft, paused or error. An active agent stays as it is.

    Raises:
        InvalidInputError: the row is a template (field ``agent``).
        NotFoundError: no such agent config.
    """
    return await _transition(conn, agent_id, workspace_id, to="active", allowed_from=_RESUMABLE)


async def pause(
    conn: asyncpg.Connection, agent_id: UUID, *, workspace_id: UUID | None = None
) -> StatusChange:
    """Stop the agent from running on new meetings. A paused agent stays as it is.

    Raises:
        ConflictError: the agent is a draft or in error, so it is not running (``status``).
        InvalidInputError: the row is a template (field ``agent``).
        NotFoundError: no such agent config.
    """
    return await _transition(conn, agent_id, workspace_id, to="paused", allowed_from=_RUNNING)


async def _transition(
    conn: asyncpg.Connection,
    agent_id: UUID,
    workspace_id: UUID | None,
    *,
    to: AgentStatus,
    allowed_from: Collection[AgentStatus],
) -> StatusChange:
    repo = AgentConfigRepo(conn)
    current = await repo.get(workspace_id, agent_id)
    if current.is_template:
        raise InvalidInputError.one(
            "agent",
            f"{agent_id} is the template {current.template_key or current.name!r}: templates"
            " never run; create an agent from it and activate that",
        )
    if current.status == to:
        return StatusChange(current, changed=False, previous=current.status)
    if current.status not in allowed_from:
        raise ConflictError(
            "status",
            f"agent {agent_id} is {current.status}: only an agent that is"
            f" {' or '.join(allowed_from)} can become {to}",
        )
    # Conditional: a racing activate/pause (a second click) changes nothing twice.
    updated = await repo.set_status(workspace_id, agent_id, to=to, allowed_from=allowed_from)
    if updated is not None:
        return StatusChange(updated, changed=True, previous=current.status)
    now = await repo.get(workspace_id, agent_id)
    if now.status == to:
        return StatusChange(now, changed=False, previous=now.status)
    raise ConflictError("status", f"agent {agent_id} changed meanwhile; try again")


async def _require_member(conn: asyncpg.Connection, workspace_id: UUID, user_id: UUID) -> None:
    await WorkspaceRepo(conn).get(workspace_id)
    users = UserRepo(conn)
    if await users.get_membership(workspace_id, user_id) is not None:
        return
    try:
        await users.get(user_id)
    except NotFoundError as exc:
        raise NotFoundError("user", str(user_id), field="created_by") from exc
    raise InvalidInputError.one(
        "created_by", f"user {user_id} is not a member of workspace {workspace_id}"
    )


async def _template_row(
    repo: AgentConfigRepo, workspace_id: UUID, template_id: UUID
) -> StoredAgentConfig:
    """The workspace's template row ``template_id``; an agent's id is not a template."""
    try:
        row = await repo.get(workspace_id, template_id)
    except NotFoundError as exc:
        raise NotFoundError("template", str(template_id), field="template_id") from exc
    if not row.is_template:
        raise InvalidInputError.one(
            "template_id",
            f"{template_id} is the agent {row.name!r}, not a template (see the templates)",
        )
    return row


async def _known_template_keys(repo: AgentConfigRepo, workspace_id: UUID) -> list[str]:
    """Built-in keys in the wizard's order, then the workspace's own template keys."""
    keys = [t.call_type for t in all_templates()]
    rows = await repo.list(workspace_id, include_templates=True)
    own = sorted({r.template_key for r in rows if r.is_template and r.template_key} - set(keys))
    return keys + own


def _parse_config(raw: RawConfig) -> AgentConfig:
    """Validate a config; each problem is named under ``config`` (``config.fields...``)."""
    if isinstance(raw, AgentConfig):
        return raw
    try:
        return parse_agent_config(dict(raw) if isinstance(raw, Mapping) else raw)
    except InvalidInputError as exc:
        raise InvalidInputError(
            [(_under_config(field), reason) for field, reason in exc.problems], exc.source
        ) from exc


def _under_config(field: str) -> str:
    if field in {"(file)", "(input)"}:
        return "config"
    return f"config{field}" if field.startswith("[") else f"config.{field}"


def _validated(model: type[ModelT], *, config: RawConfig | None, **values: Any) -> ModelT:
    """Build an input model, reporting the config's problems and the others' together."""
    problems: list[FieldProblem] = []
    parsed: AgentConfig | None = None
    if config is not None:
        try:
            parsed = _parse_config(config)
        except InvalidInputError as exc:
            problems.extend(exc.problems)
    config_failed = bool(problems)
    try:
        result = model.model_validate({**values, "config": parsed})
    except ValidationError as exc:
        # A config that failed above is missing here: its problems are already listed.
        others = invalid_from_pydantic(exc).problems
        problems.extend(p for p in others if not (config_failed and _is_config(p[0])))
        raise InvalidInputError(problems) from exc
    if problems:
        raise InvalidInputError(problems)
    return result


def _is_config(field: str) -> bool:
    return field == "config" or field.startswith(("config.", "config["))
