"""Issuing, listing, revoking and checking API tokens.

A token is ``cra_`` followed by 32 random bytes in URL-safe base64. The database keeps its
SHA-256 digest and its first characters (to tell tokens apart in a list); the token itself
is shown once, when it is issued.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from uuid import UUID

import asyncpg

from runtime.db import Executor
from runtime.errors import ConflictError, InvalidInputError, NotFoundError
from runtime.tokens.models import ApiToken, IssuedToken, Principal
from runtime.tokens.repo import TokenRepo
from runtime.users.models import Role
from runtime.users.repo import UserRepo

__all__ = [
    "TOKEN_PREFIX",
    "authenticate",
    "issue_token",
    "list_tokens",
    "revoke_token",
    "token_digest",
]

TOKEN_PREFIX = "cra_"
_SHOWN_CHARACTERS = 12  # the prefix and 8 random characters: enough to tell tokens apart
_LONGEST_TOKEN = 200  # anything longer is not one of ours; do not hash megabytes


def token_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def issue_token(
    conn: asyncpg.Connection,
    workspace_id: UUID,
    user_id: UUID,
    *,
    role: Role | None = None,
    name: str | None = None,
) -> IssuedToken:
    """A new token for a member of the workspace.

    ``role`` defaults to the member's role; asking for ``admin`` for a member is a conflict
    on ``role`` (a token never grants more than its user has).
    """
    membership = await UserRepo(conn).get_membership(workspace_id, user_id)
    if membership is None:
        raise NotFoundError("member of this workspace", str(user_id), field="user")
    granted = role or membership.role
    if granted == "admin" and membership.role != "admin":
        raise ConflictError("role", "the user is a member of this workspace, not an admin")
    if name is not None and len(name) > 255:
        raise InvalidInputError.one("name", "must be at most 255 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = await TokenRepo(conn).insert(
        workspace_id,
        user_id,
        granted,
        name=name,
        digest=token_digest(secret),
        prefix=secret[:_SHOWN_CHARACTERS],
    )
    return IssuedToken(token=token, secret=secret)


async def list_tokens(
    db: Executor, workspace_id: UUID, *, user_id: UUID | None = None
) -> list[ApiToken]:
    return await TokenRepo(db).list(workspace_id, user_id=user_id)


async def revoke_token(
    db: Executor, workspace_id: UUID, token_id: UUID, *, now: datetime
) -> ApiToken:
    """Revoke a token of the workspace; a token of another workspace is not found."""
    repo = TokenRepo(db)
    if not any(t.id == token_id for t in await repo.list(workspace_id)):
        raise NotFoundError("API token", str(token_id), field="token")
    return await repo.revoke(token_id, now=now)


async def authenticate(db: Executor, secret: str, *, now: datetime) -> Principal | None:
    """Who a presented token speaks for; None for anything that is not a live token."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > _LONGEST_TOKEN:
        return None
    return await TokenRepo(db).principal(token_digest(secret), now=now)
