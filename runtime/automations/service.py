"""Use cases around user automations: list, create, update, delete, and a webhook's secret.

Owner scoping: an automation belongs to the user who created it (``user_id``) and acts with
their authority on their data only, so only that user may change or delete it. Anyone else,
an admin included, gets ``PermissionDeniedError``: letting an admin edit a member's webhook
would let them route the member's inbox somewhere else. Who may *read* someone's
automations is the API's rule (``runtime.api.context``): an admin may list a member's.

Every change is validated in full before anything is written (all problems reported at
once, each naming its field) and audited (types and flags only, never a URL or secret).

A webhook's secret is sealed with the workspace key ring, bound to the automation's id, in
its own columns; the config shown back never holds it. Updating a webhook's config without
a ``secret`` key keeps the stored secret, ``"secret": null`` removes it, a new value
replaces it; turning the action into something else removes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from runtime.audit.models import AuditEntry
from runtime.audit.repo import AuditRepo
from runtime.automations.definition import combination_problems, parse_action, parse_trigger
from runtime.automations.models import Action, StoredAutomation, Trigger, Webhook, config_of
from runtime.automations.repo import AutomationRepo, AutomationRow, SealedSecret
from runtime.connections.cipher import KeyRing
from runtime.db import Executor
from runtime.errors import (
    FieldProblem,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    StorageError,
)

__all__ = [
    "AutomationChange",
    "AutomationInput",
    "KeyRingSource",
    "create_automation",
    "delete_automation",
    "list_automations",
    "rotate_webhook_secrets",
    "update_automation",
    "webhook_secret",
]

KeyRingSource = Callable[[], KeyRing]
"""Gives the key ring when a secret must be sealed or opened (only then is it built)."""

_NAME_MAX = 255


@dataclass(frozen=True)
class AutomationInput:
    """A new automation as a client sends it: types and raw JSON configs."""

    name: str
    trigger_type: str
    trigger_config: object
    action_type: str
    action_config: object
    is_active: bool = True


@dataclass(frozen=True)
class AutomationChange:
    """What to change; None keeps the stored value."""

    name: str | None = None
    trigger_type: str | None = None
    trigger_config: object | None = None
    action_type: str | None = None
    action_config: object | None = None
    is_active: bool | None = None


async def list_automations(
    db: Executor, workspace_id: UUID, user_id: UUID
) -> list[StoredAutomation]:
    """The user's automations in the workspace, oldest first."""
    return await AutomationRepo(db).list(workspace_id, user_id)


async def create_automation(
    conn: asyncpg.Connection,
    *,
    workspace_id: UUID,
    owner_id: UUID,
    new: AutomationInput,
    keyring: KeyRingSource,
    allow_private_hosts: bool,
    now: datetime,
) -> StoredAutomation:
    """Store a new automation owned by ``owner_id``.

    Raises:
        InvalidInputError: every problem of the name, types and configs, and of the pair.
    """
    problems: list[FieldProblem] = []
    name = _name(new.name, problems)
    trigger = _parsed(lambda: parse_trigger(new.trigger_type, new.trigger_config), problems)
    action = _parsed(
        lambda: parse_action(
            new.action_type, new.action_config, allow_private_hosts=allow_private_hosts
        ),
        problems,
    )
    if trigger is not None and action is not None:
        problems.extend(combination_problems(trigger, action))
    if problems or trigger is None or action is None or name is None:
        raise InvalidInputError(problems)
    automation_id = uuid.uuid4()
    secret = _seal(keyring, automation_id, action)
    async with conn.transaction():
        stored = await AutomationRepo(conn).insert(
            automation_id,
            workspace_id,
            owner_id,
            AutomationRow(name=name, trigger=trigger, action=action, is_active=new.is_active),
            secret=secret,
        )
        await _audit(conn, stored, actor_id=owner_id, verb="create", now=now)
    return stored


async def update_automation(
    conn: asyncpg.Connection,
    *,
    workspace_id: UUID,
    actor_id: UUID,
    automation_id: UUID,
    change: AutomationChange,
    keyring: KeyRingSource,
    allow_private_hosts: bool,
    now: datetime,
) -> StoredAutomation:
    """Apply ``change`` to the actor's own automation.

    A new trigger type needs its config (a config alone is checked against the stored
    type); the same holds for actions. The pair is checked again whichever side changed.

    Raises:
        NotFoundError: no such automation in the workspace (field ``id``).
        PermissionDeniedError: the automation is someone else's.
        InvalidInputError: every problem of the change, and of the resulting pair.
    """
    async with conn.transaction():
        repo = AutomationRepo(conn)
        stored = _owned(
            await repo.get_for_update(workspace_id, automation_id), automation_id, actor_id
        )
        problems: list[FieldProblem] = []
        name = stored.name if change.name is None else _name(change.name, problems)
        trigger = _changed_trigger(stored.trigger, change, problems)
        action = _changed_action(stored.action, change, allow_private_hosts, problems)
        if trigger is not None and action is not None:
            pair = combination_problems(trigger, action)
            if change.action_type is None and change.action_config is None:
                # Only the trigger changed: it is the trigger that no longer fits.
                pair = [("trigger_type" if f == "action_type" else f, r) for f, r in pair]
            problems.extend(pair)
        if problems or trigger is None or action is None or name is None:
            raise InvalidInputError(problems)
        replace_secret, secret = _secret_change(stored, change, action, keyring)
        row = AutomationRow(
            name=name,
            trigger=trigger,
            action=action,
            is_active=stored.is_active if change.is_active is None else change.is_active,
        )
        updated = await repo.update(
            workspace_id, automation_id, row, replace_secret=replace_secret, secret=secret
        )
        await _audit(conn, updated, actor_id=actor_id, verb="update", now=now)
    return updated


async def delete_automation(
    conn: asyncpg.Connection,
    *,
    workspace_id: UUID,
    actor_id: UUID,
    automation_id: UUID,
    now: datetime,
) -> None:
    """Delete the actor's own automation.

    Raises:
        NotFoundError: no such automation in the workspace (field ``id``).
        PermissionDeniedError: the automation is someone else's.
    """
    async with conn.transaction():
        repo = AutomationRepo(conn)
        stored = _owned(
            await repo.get_for_update(workspace_id, automation_id), automation_id, actor_id
        )
        await repo.delete(workspace_id, automation_id)
        await _audit(conn, stored, actor_id=actor_id, verb="delete", now=now)


async def webhook_secret(
    db: Executor, keyring: KeyRing, automation: StoredAutomation
) -> str | None:
    """The plaintext secret a delivery signs with, or None when the webhook has none.

    Raises:
        StorageError: the sealed secret does not open (altered, or its key is gone).
    """
    sealed = await AutomationRepo(db).sealed_secret(automation.workspace_id, automation.id)
    if sealed is None:
        return None
    return keyring.decrypt(sealed.blob, _aad(automation.id)).decode("utf-8")


def _owned(
    stored: StoredAutomation | None, automation_id: UUID, actor_id: UUID
) -> StoredAutomation:
    """The automation, if it exists and ``actor_id`` owns it."""
    if stored is None:
        raise NotFoundError("user automation", str(automation_id), field="id")
    if stored.user_id != actor_id:
        raise PermissionDeniedError("only its owner may change or delete an automation")
    return stored


def _name(value: str, problems: list[FieldProblem]) -> str | None:
    name = value.strip()
    if not name:
        problems.append(("name", "must not be empty"))
        return None
    if len(name) > _NAME_MAX:
        problems.append(("name", f"must be at most {_NAME_MAX} characters"))
        return None
    return name


def _parsed(parse: Callable[[], Any], problems: list[FieldProblem]) -> Any:
    """``parse()``, or None with its problems added to ``problems``."""
    try:
        return parse()
    except InvalidInputError as exc:
        problems.extend(exc.problems)
        return None


def _changed_trigger(
    stored: Trigger, change: AutomationChange, problems: list[FieldProblem]
) -> Trigger | None:
    if change.trigger_type is None and change.trigger_config is None:
        return stored
    kind = change.trigger_type or stored.type
    if kind != stored.type and change.trigger_config is None:
        problems.append(("trigger_config", "is required when trigger_type changes"))
        return None
    config = config_of(stored) if change.trigger_config is None else change.trigger_config
    trigger: Trigger | None = _parsed(lambda: parse_trigger(kind, config), problems)
    return trigger


def _changed_action(
    stored: Action,
    change: AutomationChange,
    allow_private_hosts: bool,
    problems: list[FieldProblem],
) -> Action | None:
    if change.action_type is None and change.action_config is None:
        return stored
    kind = change.action_type or stored.type
    if kind != stored.type and change.action_config is None:
        problems.append(("action_config", "is required when action_type changes"))
        return None
    config = config_of(stored) if change.action_config is None else change.action_config
    action: Action | None = _parsed(
        lambda: parse_action(kind, config, allow_private_hosts=allow_private_hosts), problems
    )
    return action


def _secret_change(
    stored: StoredAutomation, change: AutomationChange, action: Action, keyring: KeyRingSource
) -> tuple[bool, SealedSecret | None]:
    """Whether the stored secret changes, and to what (None: removed)."""
    if not isinstance(action, Webhook):
        return stored.has_webhook_secret, None
    config = change.action_config
    if isinstance(stored.action, Webhook) and not (
        isinstance(config, Mapping) and "secret" in config
    ):
        return False, None  # the secret was not mentioned: keep it
    return True, _seal(keyring, stored.id, action)


async def rotate_webhook_secrets(conn: asyncpg.Connection, keyring: KeyRing) -> int:
    """Re-seal every webhook secret not under the keyring's current key; how many were.

    One transaction: if any secret does not open (its key is missing from the ring), nothing
    changes and StorageError says which automation.
    """
    async with conn.transaction():
        repo = AutomationRepo(conn)
        stale = await repo.lock_secrets_not_under_key(keyring.current_key_id)
        for automation_id, sealed in stale:
            try:
                plain = keyring.decrypt(sealed.blob, _aad(automation_id))
            except StorageError as exc:
                raise StorageError(f"automation {automation_id}'s webhook secret: {exc}") from exc
            blob, key_id = keyring.encrypt(plain, _aad(automation_id))
            await repo.update_secret(automation_id, SealedSecret(blob, key_id))
    return len(stale)


def _seal(keyring: KeyRingSource, automation_id: UUID, action: Action) -> SealedSecret | None:
    if not isinstance(action, Webhook) or action.secret is None:
        return None
    blob, key_id = keyring().encrypt(
        action.secret.get_secret_value().encode("utf-8"), _aad(automation_id)
    )
    return SealedSecret(blob, key_id)


def _aad(automation_id: UUID) -> bytes:
    """Binds a sealed secret to its row: copied to another automation, it fails to open."""
    return b"user_automations.webhook_secret:" + automation_id.bytes


async def _audit(
    conn: asyncpg.Connection,
    automation: StoredAutomation,
    *,
    actor_id: UUID,
    verb: str,
    now: datetime,
) -> None:
    await AuditRepo(conn).insert_many(
        [
            AuditEntry(
                workspace_id=automation.workspace_id,
                actor_user_id=actor_id,
                action=f"automation.{verb}",
                target_type="user_automation",
                target_id=str(automation.id),
                details={
                    "owner": str(automation.user_id),
                    "trigger_type": automation.trigger.type,
                    "action_type": automation.action.type,
                    "is_active": automation.is_active,
                },
                created_at=now,
            )
        ]
    )
