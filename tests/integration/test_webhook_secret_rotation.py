"""Key rotation re-seals automations' webhook secrets with CRM credentials' (`crm rotate-key`)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import asyncpg
import pytest

from runtime.automations.service import (
    AutomationInput,
    create_automation,
    list_automations,
    rotate_webhook_secrets,
    webhook_secret,
)
from runtime.connections.cipher import KeyRing
from runtime.errors import StorageError
from runtime.users.models import UserCreate
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo

KEY_A, KEY_B = os.urandom(32), os.urandom(32)


def _hook(secret: str) -> AutomationInput:
    return AutomationInput(
        name=f"hook {secret}",
        trigger_type="schedule",
        trigger_config={"every_minutes": 60},
        action_type="webhook",
        action_config={"url": "https://hooks.example.com/in", "secret": secret},
    )


async def test_rotation_reseals_under_the_new_key_and_keeps_the_secrets(
    pool: asyncpg.Pool,
) -> None:
    old = KeyRing([("a", KEY_A)])
    workspace = await WorkspaceRepo(pool).create(WorkspaceCreate(name="hooks"))
    async with pool.acquire() as conn:
        owner, _ = await add_user_to_workspace(
            conn, workspace.id, UserCreate(email="owner@hooks.example"), role="admin"
        )
        for secret in ("first-secret-of-hooks", "second-secret-of-hooks"):
            await create_automation(
                conn,
                workspace_id=workspace.id,
                owner_id=owner.user.id,
                new=_hook(secret),
                keyring=lambda: old,
                allow_private_hosts=False,
                now=datetime.now(UTC),
            )

        new_only = KeyRing([("b", KEY_B)])
        with pytest.raises(StorageError, match="webhook secret"):
            await rotate_webhook_secrets(conn, new_only)
        still = await conn.fetchval(
            "SELECT count(*) FROM user_automations WHERE webhook_secret_key_id = 'a'"
        )
        assert still == 2, "a failed rotation changes nothing"

        both = KeyRing([("b", KEY_B), ("a", KEY_A)])
        assert await rotate_webhook_secrets(conn, both) == 2
        assert await rotate_webhook_secrets(conn, both) == 0, "nothing left under the old key"

    automations = await list_automations(pool, workspace.id, owner.user.id)
    secrets = {await webhook_secret(pool, new_only, a) for a in automations}
    assert secrets == {"first-secret-of-hooks", "second-secret-of-hooks"}, (
        "the new key alone opens them"
    )
