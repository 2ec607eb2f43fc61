"""The only module that runs CRM connection SQL. Secrets come and go sealed, as bytes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from runtime.connections.models import (
    AuthKind,
    ConnectionStatus,
    CrmConnection,
    CrmType,
    OAuthAttempt,
)
from runtime.db import Executor
from runtime.db.constraints import domain_error
from runtime.db.named_sql import load_queries
from runtime.errors import NotFoundError, StorageError

__all__ = ["CrmConnectionRepo", "OAuthStateRepo", "SealedConnection", "SealedSecret"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


@dataclass(frozen=True)
class SealedConnection:
    """A connection and its sealed credentials, as stored."""

    connection: CrmConnection
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class SealedSecret:
    """New sealed credentials for one stored connection (a key rotation writes these)."""

    workspace_id: UUID
    connection_id: UUID
    secret: bytes = field(repr=False)
    key_id: str


class CrmConnectionRepo:
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def upsert(
        self,
        workspace_id: UUID,
        *,
        crm_type: CrmType,
        auth_kind: AuthKind,
        base_url: str,
        secret: bytes,
        key_id: str,
        access_expires_at: datetime | None = None,
        hub_id: str | None = None,
        scopes: Sequence[str] = (),
        created_by: UUID | None = None,
    ) -> CrmConnection:
        """Store the workspace's connection to ``crm_type``, replacing the one it had."""
        try:
            row = await self._db.fetchrow(
                _SQL["upsert_connection"],
                workspace_id,
                crm_type,
                auth_kind,
                base_url,
                secret,
                key_id,
                access_expires_at,
                hub_id,
                list(scopes),
                created_by,
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise domain_error(
                exc,
                {
                    "crm_connections_workspace_id_fkey": lambda: NotFoundError(
                        "workspace", str(workspace_id)
                    ),
                    "crm_connections_created_by_fkey": lambda: NotFoundError(
                        "user", str(created_by), field="created_by"
                    ),
                },
            ) from exc
        return _connection(row)

    async def get(self, workspace_id: UUID, crm_type: CrmType) -> CrmConnection | None:
        row = await self._db.fetchrow(_SQL["get_connection"], workspace_id, crm_type)
        return None if row is None else _connection(row)

    async def get_sealed(self, workspace_id: UUID, crm_type: CrmType) -> SealedConnection | None:
        row = await self._db.fetchrow(_SQL["get_sealed_connection"], workspace_id, crm_type)
        return None if row is None else _sealed(row)

    async def lock_sealed(self, workspace_id: UUID, crm_type: CrmType) -> SealedConnection | None:
        """The connection and its sealed credentials, locked until commit.

        Call it inside a transaction, or the lock is released at once.
        """
        row = await self._db.fetchrow(_SQL["lock_sealed_connection"], workspace_id, crm_type)
        return None if row is None else _sealed(row)

    async def update_oauth_grant(
        self,
        workspace_id: UUID,
        connection_id: UUID,
        *,
        secret: bytes,
        key_id: str,
        access_expires_at: datetime,
    ) -> CrmConnection | None:
        """Replace a connection's sealed grant after a refresh; its other columns stay.

        None when the connection is gone.
        """
        row = await self._db.fetchrow(
            _SQL["update_oauth_grant"],
            workspace_id,
            connection_id,
            secret,
            key_id,
            access_expires_at,
        )
        return None if row is None else _connection(row)

    async def lock_sealed_not_under_key(self, key_id: str) -> list[SealedConnection]:
        """Every workspace's connections sealed with another key, locked until commit.

        Call it inside a transaction, or the locks are released at once.
        """
        rows = await self._db.fetch(_SQL["lock_sealed_connections_not_under_key"], key_id)
        return [_sealed(row) for row in rows]

    async def update_secrets(self, secrets: Sequence[SealedSecret]) -> None:
        """Replace the sealed credentials (and their key id) of these connections."""
        if not secrets:
            return
        status = await self._db.execute(
            _SQL["update_secrets"],
            [s.workspace_id for s in secrets],
            [s.connection_id for s in secrets],
            [s.secret for s in secrets],
            [s.key_id for s in secrets],
        )
        updated = int(status.split()[-1])
        if updated != len(secrets):
            raise StorageError(
                f"re-sealing updated {updated} of {len(secrets)} CRM connections;"
                " some were deleted meanwhile"
            )

    async def set_status(
        self, workspace_id: UUID, crm_type: CrmType, status: ConnectionStatus
    ) -> CrmConnection | None:
        """Set the connection's status; None when the workspace has no such connection."""
        row = await self._db.fetchrow(_SQL["set_connection_status"], workspace_id, crm_type, status)
        return None if row is None else _connection(row)


class OAuthStateRepo:
    """OAuth connect attempts, keyed by the digest of their state (the state is not stored)."""

    def __init__(self, db: Executor) -> None:
        self._db = db

    async def insert(
        self,
        state_digest: bytes,
        workspace_id: UUID,
        *,
        crm_type: CrmType,
        started_by: UUID,
        created_at: datetime,
        expires_at: datetime,
    ) -> OAuthAttempt:
        try:
            row = await self._db.fetchrow(
                _SQL["insert_oauth_state"],
                state_digest,
                workspace_id,
                crm_type,
                started_by,
                created_at,
                expires_at,
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise domain_error(
                exc,
                {
                    "crm_oauth_states_workspace_id_fkey": lambda: NotFoundError(
                        "workspace", str(workspace_id)
                    ),
                    "crm_oauth_states_started_by_fkey": lambda: NotFoundError(
                        "user", str(started_by), field="started_by"
                    ),
                },
            ) from exc
        return OAuthAttempt.model_validate(dict(row))

    async def forget_expired(self, workspace_id: UUID, now: datetime) -> None:
        await self._db.execute(_SQL["forget_expired_oauth_states"], workspace_id, now)

    async def consume(self, state_digest: bytes, now: datetime) -> OAuthAttempt | None:
        """Mark the attempt used; None unless it exists, is unused and has not expired."""
        row = await self._db.fetchrow(_SQL["consume_oauth_state"], state_digest, now)
        return None if row is None else OAuthAttempt.model_validate(dict(row))

    async def get(self, state_digest: bytes) -> OAuthAttempt | None:
        row = await self._db.fetchrow(_SQL["get_oauth_state"], state_digest)
        return None if row is None else OAuthAttempt.model_validate(dict(row))


def _connection(row: Any) -> CrmConnection:
    return CrmConnection.model_validate({k: v for k, v in dict(row).items() if k != "secret"})


def _sealed(row: Any) -> SealedConnection:
    return SealedConnection(connection=_connection(row), secret=bytes(row["secret"]))
