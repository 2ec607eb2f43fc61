"""Agent configs in PostgreSQL: templates per workspace, new agents, edits, activation."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from runtime.agent_configs.models import StoredAgentConfig
from runtime.agent_configs.repo import AgentConfigRepo
from runtime.agent_configs.service import (
    activate,
    create_agent,
    create_from_template,
    ensure_templates,
    pause,
    update_agent,
)
from runtime.agents.templates import all_templates, template_for
from runtime.db.migrate import discover, migrate
from runtime.errors import ConflictError, InvalidInputError, NotFoundError, StorageError
from runtime.users.models import UserCreate
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo

TEMPLATE_KEYS = {t.call_type for t in all_templates()}


def _email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@ourco.example"


async def _workspace(pool: asyncpg.Pool, name: str = "Acme") -> UUID:
    return (await WorkspaceRepo(pool).create(WorkspaceCreate(name=name))).id


async def _member(pool: asyncpg.Pool, workspace_id: UUID, who: str, *, admin: bool) -> UUID:
    async with pool.acquire() as conn:
        member, _ = await add_user_to_workspace(
            conn, workspace_id, UserCreate(email=_email(who)), role="admin" if admin else "member"
        )
    return member.user.id


async def _workspace_with_admin(pool: asyncpg.Pool, name: str = "Acme") -> tuple[UUID, UUID]:
    workspace_id = await _workspace(pool, name)
    return workspace_id, await _member(pool, workspace_id, "admin", admin=True)


async def _templates(pool: asyncpg.Pool, workspace_id: UUID) -> list[StoredAgentConfig]:
    rows = await AgentConfigRepo(pool).list(workspace_id, include_templates=True)
    return [r for r in rows if r.is_template]


def _config(*call_types: str, threshold: float = 0.9) -> dict[str, Any]:
    return {
        "call_types": list(call_types),
        "fields": {"amount": {"auto_apply_threshold": threshold}},
    }


async def _agent(
    pool: asyncpg.Pool,
    workspace_id: UUID,
    creator: UUID,
    *call_types: str,
    name: str = "Agent",
) -> StoredAgentConfig:
    async with pool.acquire() as conn:
        return await create_agent(
            conn, workspace_id, created_by=creator, name=name, config=_config(*call_types)
        )


async def test_templates_are_materialised_once_when_the_first_admin_joins(
    pool: asyncpg.Pool,
) -> None:
    workspace_id = await _workspace(pool)
    await _member(pool, workspace_id, "member", admin=False)
    assert await _templates(pool, workspace_id) == []

    first_admin = await _member(pool, workspace_id, "first", admin=True)
    templates = await _templates(pool, workspace_id)
    assert {t.template_key for t in templates} == TEMPLATE_KEYS
    assert len(templates) == len(TEMPLATE_KEYS)
    for row in templates:
        builtin = template_for(row.template_key or "")
        assert builtin is not None
        assert (row.name, row.call_type, row.description) == (
            builtin.name,
            builtin.call_type,
            builtin.description,
        )
        assert row.config == builtin.config
        assert (row.created_by, row.status, row.crm_type) == (first_admin, "draft", "hubspot")

    await _member(pool, workspace_id, "second", admin=True)
    async with pool.acquire() as conn:
        assert await ensure_templates(conn, workspace_id, first_admin) == []
    again = await _templates(pool, workspace_id)
    assert sorted(r.id for r in again) == sorted(r.id for r in templates)
    assert {r.created_by for r in again} == {first_admin}
    # templates are not agents: a plain listing leaves them out
    assert await AgentConfigRepo(pool).list(workspace_id) == []


async def test_a_refused_admin_addition_materialises_nothing(pool: asyncpg.Pool) -> None:
    workspace_id = await _workspace(pool)
    email = _email("member")
    async with pool.acquire() as conn:
        await add_user_to_workspace(conn, workspace_id, UserCreate(email=email), role="member")
        with pytest.raises(ConflictError):
            await add_user_to_workspace(conn, workspace_id, UserCreate(email=email), role="admin")
    assert await _templates(pool, workspace_id) == []


async def test_concurrent_materialising_inserts_each_template_once(pool: asyncpg.Pool) -> None:
    workspace_id = await _workspace(pool)
    member = await _member(pool, workspace_id, "member", admin=False)

    async def materialise() -> int:
        async with pool.acquire() as conn:
            return len(await ensure_templates(conn, workspace_id, member))

    inserted = await asyncio.gather(*(materialise() for _ in range(4)))
    assert sum(inserted) == len(TEMPLATE_KEYS)
    assert len(await _templates(pool, workspace_id)) == len(TEMPLATE_KEYS)


async def test_create_from_template_copies_the_config_as_a_draft(pool: asyncpg.Pool) -> None:
    workspace_id, admin = await _workspace_with_admin(pool)
    async with pool.acquire() as conn:
        agent = await create_from_template(
            conn, workspace_id, template_key=" Discovery ", created_by=admin
        )
        named = await create_from_template(
            conn, workspace_id, template_key="qbr", created_by=admin, name="EMEA reviews"
        )
    discovery = template_for("discovery")
    assert discovery is not None
    assert agent.config == discovery.config
    assert (agent.status, agent.is_template, agent.template_key) == ("draft", False, None)
    assert (agent.name, agent.call_type, agent.created_by) == (discovery.name, "discovery", admin)
    assert named.name == "EMEA reviews"
    assert named.call_type == "qbr"
    listed = await AgentConfigRepo(pool).list(workspace_id)
    assert [a.id for a in listed] == [agent.id, named.id]
    assert len(await _templates(pool, workspace_id)) == len(TEMPLATE_KEYS)


async def test_create_from_template_starts_from_the_workspace_s_edited_template(
    pool: asyncpg.Pool,
) -> None:
    workspace_id, admin = await _workspace_with_admin(pool)
    (template,) = [t for t in await _templates(pool, workspace_id) if t.template_key == "demo"]
    edited = {**template.config.model_dump(mode="json"), "call_types": ["webinar", "demo"]}
    async with pool.acquire() as conn:
        await update_agent(conn, template.id, config=edited)
        agent = await create_from_template(
            conn, workspace_id, template_key="demo", created_by=admin
        )
    assert agent.config.call_types == ("webinar", "demo")
    assert agent.call_type == "demo"


async def test_an_unknown_template_is_named_with_the_known_keys(pool: asyncpg.Pool) -> None:
    workspace_id, admin = await _workspace_with_admin(pool)
    async with pool.acquire() as conn:
        with pytest.raises(InvalidInputError) as caught:
            await create_from_template(conn, workspace_id, template_key="webinar", created_by=admin)
    assert caught.value.field == "template"
    assert "'webinar'" in caught.value.reason
    assert all(key in caught.value.reason for key in TEMPLATE_KEYS)
    assert await AgentConfigRepo(pool).list(workspace_id) == []


async def test_the_creator_must_be_a_member(pool: asyncpg.Pool) -> None:
    workspace_id, _ = await _workspace_with_admin(pool)
    _, outsider = await _workspace_with_admin(pool, "Other")
    async with pool.acquire() as conn:
        with pytest.raises(InvalidInputError) as not_member:
            await create_from_template(conn, workspace_id, template_key="demo", created_by=outsider)
        with pytest.raises(NotFoundError) as no_user:
            await create_agent(
                conn, workspace_id, created_by=uuid.uuid4(), name="x", config=_config("demo")
            )
        with pytest.raises(NotFoundError) as no_workspace:
            await ensure_templates(conn, uuid.uuid4(), outsider)
    assert not_member.value.field == "created_by"
    assert "not a member" in not_member.value.reason
    assert (no_user.value.kind, no_user.value.field) == ("user", "created_by")
    assert no_workspace.value.kind == "workspace"
    assert await AgentConfigRepo(pool).list(workspace_id) == []


async def test_create_agent_validates_name_and_config(pool: asyncpg.Pool) -> None:
    workspace_id, admin = await _workspace_with_admin(pool)
    async with pool.acquire() as conn:
        agent = await create_agent(
            conn,
            workspace_id,
            created_by=admin,
            name="  Renewals  ",
            config=_config("Renewal", "QBR"),
        )
        with pytest.raises(InvalidInputError) as caught:
            await create_agent(
                conn,
                workspace_id,
                created_by=admin,
                name=" ",
                config={"call_types": ["demo"], "fields": {}, "colour": "red"},
            )
    assert (agent.name, agent.call_type, agent.config.call_types) == (
        "Renewals",
        "renewal",
        ("renewal", "qbr"),
    )
    assert {field for field, _ in caught.value.problems} == {
        "name",
        "config.fields",
        "config.colour",
    }
    assert ("config.colour", "is not a known field") in caught.value.problems
    assert [a.id for a in await AgentConfigRepo(pool).list(workspace_id)] == [agent.id]


async def test_update_names_the_offending_field_and_changes_nothing(pool: asyncpg.Pool) -> None:
    workspace_id, admin = await _workspace_with_admin(pool)
    agent = await _agent(pool, workspace_id, admin, "demo")
    async with pool.acquire() as conn:
        with pytest.raises(InvalidInputError) as caught:
            await update_agent(conn, agent.id, name="New", config=_config("demo", threshold=1.5))
        with pytest.raises(InvalidInputError) as not_json:
            await update_agent(conn, agent.id, config="{not json")
        with pytest.raises(InvalidInputError) as nothing:
            await update_agent(conn, agent.id)
    assert caught.value.field == "config.fields.amount.auto_apply_threshold"
    assert "less than or equal to 1" in caught.value.reason
    assert not_json.value.field == "config"
    assert "is not JSON" in not_json.value.reason
    assert "nothing to change" in nothing.value.reason
    assert await AgentConfigRepo(pool).get(workspace_id, agent.id) == agent


async def test_update_renames_replaces_the_config_and_moves_updated_at(
    pool: asyncpg.Pool,
) -> None:
    workspace_id, admin = await _workspace_with_admin(pool)
    agent = await _agent(pool, workspace_id, admin, "demo", "qbr")
    async with pool.acquire() as conn:
        renamed = await update_agent(conn, agent.id, name="Demos", workspace_id=workspace_id)
        kept = await update_agent(conn, agent.id, config=_config("qbr", "demo", threshold=0.7))
        moved = await update_agent(conn, agent.id, config=_config("Renewal"))
    assert (renamed.name, renamed.config) == ("Demos", agent.config)
    assert renamed.updated_at > agent.updated_at
    assert renamed.created_at == agent.created_at
    # the primary call type stays while the config runs on it, else becomes the first
    assert (kept.call_type, kept.config.fields["amount"].auto_apply_threshold) == ("demo", 0.7)
    assert (moved.name, moved.call_type, moved.config.call_types) == (
        "Demos",
        "renewal",
        ("renewal",),
    )
    assert moved.updated_at > kept.updated_at > renamed.updated_at


async def test_agents_of_another_workspace_are_not_found(pool: asyncpg.Pool) -> None:
    workspace_id, admin = await _workspace_with_admin(pool)
    other, _ = await _workspace_with_admin(pool, "Other")
    agent = await _agent(pool, workspace_id, admin, "demo")
    repo = AgentConfigRepo(pool)
    assert (await repo.get(None, agent.id)).id == agent.id
    with pytest.raises(NotFoundError) as caught:
        await repo.get(other, agent.id)
    assert (caught.value.kind, caught.value.key) == ("agent config", str(agent.id))
    async with pool.acquire() as conn:
        with pytest.raises(NotFoundError):
            await update_agent(conn, agent.id, name="Stolen", workspace_id=other)
        with pytest.raises(NotFoundError):
            await activate(conn, agent.id, workspace_id=other)
    assert (await repo.get(workspace_id, agent.id)).status == "draft"


async def test_activate_and_pause_follow_the_allowed_transitions(pool: asyncpg.Pool) -> None:
    workspace_id, admin = await _workspace_with_admin(pool)
    agent = await _agent(pool, workspace_id, admin, "demo")
    async with pool.acquire() as conn:
        with pytest.raises(ConflictError) as draft_pause:
            await pause(conn, agent.id)
        first = await activate(conn, agent.id)
        second = await activate(conn, agent.id)
        paused = await pause(conn, agent.id)
        paused_again = await pause(conn, agent.id)
        resumed = await activate(conn, agent.id)
    assert draft_pause.value.field == "status"
    assert "is draft" in draft_pause.value.reason
    assert (first.changed, first.previous, first.agent.status) == (True, "draft", "active")
    assert (second.changed, second.agent.status) == (False, "active")
    assert second.agent.updated_at == first.agent.updated_at
    assert (paused.changed, paused.agent.status) == (True, "paused")
    assert (paused_again.changed, paused_again.agent.status) == (False, "paused")
    assert (resumed.changed, resumed.previous, resumed.agent.status) == (True, "paused", "active")

    repo = AgentConfigRepo(pool)
    failed = await repo.set_status(workspace_id, agent.id, to="error", allowed_from=["active"])
    assert failed is not None
    async with pool.acquire() as conn:
        with pytest.raises(ConflictError):
            await pause(conn, agent.id)
        recovered = await activate(conn, agent.id)
    assert (recovered.changed, recovered.previous, recovered.agent.status) == (
        True,
        "error",
        "active",
    )


async def test_templates_cannot_be_activated_or_paused(pool: asyncpg.Pool) -> None:
    workspace_id, _ = await _workspace_with_admin(pool)
    template = (await _templates(pool, workspace_id))[0]
    async with pool.acquire() as conn:
        with pytest.raises(InvalidInputError) as caught:
            await activate(conn, template.id)
        with pytest.raises(InvalidInputError):
            await pause(conn, template.id)
    assert caught.value.field == "agent"
    assert "template" in caught.value.reason
    assert (await AgentConfigRepo(pool).get(workspace_id, template.id)).status == "draft"


async def test_concurrent_activations_change_the_agent_once(pool: asyncpg.Pool) -> None:
    workspace_id, admin = await _workspace_with_admin(pool)
    agent = await _agent(pool, workspace_id, admin, "demo")

    async def click() -> bool:
        async with pool.acquire() as conn:
            return (await activate(conn, agent.id)).changed

    assert sorted(await asyncio.gather(*(click() for _ in range(5)))) == [False] * 4 + [True]


async def test_a_null_status_reads_as_draft_and_can_be_activated(pool: asyncpg.Pool) -> None:
    workspace_id, admin = await _workspace_with_admin(pool)
    agent = await _agent(pool, workspace_id, admin, "demo")
    await pool.execute("UPDATE agent_configs SET status = NULL WHERE id = $1", agent.id)
    repo = AgentConfigRepo(pool)
    assert (await repo.get(workspace_id, agent.id)).status == "draft"
    assert [a.id for a in await repo.list(workspace_id, status="draft")] == [agent.id]
    async with pool.acquire() as conn:
        result = await activate(conn, agent.id)
    assert (result.changed, result.previous, result.agent.status) == (True, "draft", "active")


async def test_active_for_call_type_honours_status_templates_and_call_types(
    pool: asyncpg.Pool,
) -> None:
    workspace_id, admin = await _workspace_with_admin(pool)
    other_id, other_admin = await _workspace_with_admin(pool, "Other")
    discovery = await _agent(pool, workspace_id, admin, "discovery", name="discovery")
    renewals = await _agent(pool, workspace_id, admin, "Renewal", "QBR", name="renewals")
    await _agent(pool, workspace_id, admin, "discovery", name="draft")
    stopped = await _agent(pool, workspace_id, admin, "discovery", name="paused")
    elsewhere = await _agent(pool, other_id, other_admin, "discovery", name="other")
    async with pool.acquire() as conn:
        for agent in (discovery, renewals, stopped, elsewhere):
            await activate(conn, agent.id)
        await pause(conn, stopped.id)
    # a template that is somehow active still never runs
    await pool.execute(
        "UPDATE agent_configs SET status = 'active' WHERE workspace_id = $1 AND is_template",
        workspace_id,
    )
    repo = AgentConfigRepo(pool)

    async def names(workspace: UUID, call_type: str) -> list[str]:
        return [a.name for a in await repo.active_for_call_type(workspace, call_type)]

    assert await names(workspace_id, "Discovery") == ["discovery"]
    assert await names(workspace_id, " qbr ") == ["renewals"]
    assert await names(workspace_id, "RENEWAL") == ["renewals"]
    assert await names(workspace_id, "demo") == []
    assert await names(other_id, "discovery") == ["other"]
    assert await names(other_id, "qbr") == []


async def test_the_table_refuses_unknown_statuses_crm_types_and_duplicate_templates(
    pool: asyncpg.Pool,
) -> None:
    workspace_id, _ = await _workspace_with_admin(pool)
    template = (await _templates(pool, workspace_id))[0]
    copy = (
        "INSERT INTO agent_configs (workspace_id, created_by, name, crm_type, config, status,"
        " is_template, template_key) SELECT workspace_id, created_by, name, $2, config, $3,"
        " is_template, template_key FROM agent_configs WHERE id = $1"
    )
    with pytest.raises(asyncpg.CheckViolationError) as status:
        await pool.execute(copy, template.id, "hubspot", "running")
    with pytest.raises(asyncpg.CheckViolationError) as crm_type:
        await pool.execute(copy, template.id, "pipedrive", "draft")
    with pytest.raises(asyncpg.UniqueViolationError) as duplicate:
        await pool.execute(copy, template.id, "hubspot", "draft")
    assert status.value.constraint_name == "agent_configs_status_check"
    assert crm_type.value.constraint_name == "agent_configs_crm_type_check"
    assert duplicate.value.constraint_name == "agent_configs_workspace_template_key"


async def test_the_migration_names_rows_it_cannot_constrain(empty_database_dsn: str) -> None:
    migrations = discover()
    extend = next(m for m in migrations if m.name == "extend_agent_configs")
    conn = await asyncpg.connect(empty_database_dsn)
    try:
        await migrate(conn, migrations[: extend.version - 1])
        await conn.execute(
            """
            WITH w AS (INSERT INTO workspaces (name) VALUES ('w') RETURNING id),
                 u AS (INSERT INTO users (email) VALUES ('u@x.example') RETURNING id)
            INSERT INTO agent_configs (workspace_id, created_by, name, crm_type, config, status)
            SELECT w.id, u.id, 'legacy', 'hubspot', '{}', 'running' FROM w, u
            """
        )
        with pytest.raises(StorageError) as caught:
            await migrate(conn, migrations)
        assert "status values: running; crm_type values: (all valid)" in str(caught.value)
        assert "then run `crm-agents migrate` again" in str(caught.value)
        await conn.execute("UPDATE agent_configs SET status = 'paused'")
        report = await migrate(conn, migrations)
        assert report.applied[0] == extend.file_name
    finally:
        await conn.close()
