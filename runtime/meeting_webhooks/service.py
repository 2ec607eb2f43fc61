"""Signed meeting deliveries: per-workspace secrets, signature checks, replay refusal.

Scheme (``docs/api.md``, "Meeting webhook"): the sender signs ``<timestamp>.<raw body>``
with HMAC-SHA256 under the workspace's secret (the printed ``whsec_...`` string, as ASCII
bytes) and sends ``X-CRM-Agents-Workspace``, ``X-CRM-Agents-Timestamp`` (unix seconds) and
``X-CRM-Agents-Signature: v1=<hex>``.

Replays. A timestamp further than the tolerance from now, either way, is refused, so a
captured delivery is useless after the window. Inside the window, idempotency on the
meeting's external id would already make a byte-for-byte replay harmless (it stores nothing
and queues nothing), but it would still answer 200 with the meeting's id to whoever replays
it, and a replay of a delivery whose meeting was later deleted would store it again. So the
signatures of accepted deliveries are kept in the database for the window (a primary key
per workspace and signature, in the same transaction as the import): every replica agrees,
and a concurrent twin waits for the first to commit and is then refused. A sender that
retries signs again with a fresh timestamp, and idempotency answers it with the stored
meeting. Only the signature and its timestamp are kept, never the body.

Secrets are sealed with the key ring (``runtime.connections.cipher``), bound to their
workspace by the associated data; neither a secret nor a body ever reaches a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from runtime.connections.cipher import KeyRing
from runtime.errors import ClientError, ConflictError, StorageError
from runtime.meeting_webhooks.repo import WebhookRepo
from runtime.meetings.models import MeetingIn
from runtime.meetings.service import ImportResult, import_meeting

__all__ = [
    "SIGNATURE_HEADER",
    "SIGNATURE_VERSION",
    "TIMESTAMP_HEADER",
    "WORKSPACE_HEADER",
    "ReplayedDeliveryError",
    "SignedDelivery",
    "UnauthenticatedDeliveryError",
    "accept_delivery",
    "check_signature",
    "read_headers",
    "rotate_meeting_webhook_secrets",
    "set_secret",
    "sign",
]

WORKSPACE_HEADER = "X-CRM-Agents-Workspace"
TIMESTAMP_HEADER = "X-CRM-Agents-Timestamp"
SIGNATURE_HEADER = "X-CRM-Agents-Signature"
SIGNATURE_VERSION = "v1"
_SECRET_PREFIX = "whsec_"
_DIGEST_HEX = hashlib.sha256().digest_size * 2


class UnauthenticatedDeliveryError(ClientError):
    """A delivery whose headers do not prove it comes, just now, from the workspace."""

    def __init__(self, header: str, reason: str) -> None:
        self.field = header
        self.reason = reason
        super().__init__(f"{header}: {reason}")


class ReplayedDeliveryError(ConflictError):
    """A delivery whose signature was accepted before, inside the replay window."""


@dataclass(frozen=True)
class SignedDelivery:
    """What a delivery's headers claim; not yet checked against the workspace's secret."""

    workspace_id: UUID
    timestamp: int
    signature: bytes


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-CRM-Agents-Signature`` value of a body sent at ``timestamp``."""
    return f"{SIGNATURE_VERSION}={_digest(secret.encode('ascii'), timestamp, body).hex()}"


def read_headers(
    workspace: str | None,
    timestamp: str | None,
    signature: str | None,
    *,
    now: datetime,
    tolerance_s: float,
) -> SignedDelivery:
    """Parse the three headers and check the timestamp against the replay window.

    Raises:
        UnauthenticatedDeliveryError: a header is missing or malformed (it is named), or the
            timestamp is further than ``tolerance_s`` from ``now``.
    """
    if not workspace:
        raise UnauthenticatedDeliveryError(WORKSPACE_HEADER, "required")
    try:
        workspace_id = UUID(workspace.strip())
    except ValueError:
        raise UnauthenticatedDeliveryError(WORKSPACE_HEADER, "must be a workspace id") from None
    if not timestamp:
        raise UnauthenticatedDeliveryError(TIMESTAMP_HEADER, "required")
    stripped = timestamp.strip()
    if not stripped.isascii() or not stripped.isdigit() or len(stripped) > 12:
        raise UnauthenticatedDeliveryError(TIMESTAMP_HEADER, "must be unix seconds (digits)")
    seconds = int(stripped)
    skew = seconds - now.timestamp()
    if abs(skew) > tolerance_s:
        side = "in the past" if skew < 0 else "in the future"
        raise UnauthenticatedDeliveryError(
            TIMESTAMP_HEADER,
            f"is {abs(skew):.0f} s {side}: deliveries must be signed within"
            f" {tolerance_s:.0f} s of the server's clock",
        )
    if not signature:
        raise UnauthenticatedDeliveryError(SIGNATURE_HEADER, "required")
    version, _, hex_digest = signature.strip().partition("=")
    if version != SIGNATURE_VERSION or len(hex_digest) != _DIGEST_HEX:
        raise UnauthenticatedDeliveryError(
            SIGNATURE_HEADER, f"must be {SIGNATURE_VERSION}=<{_DIGEST_HEX} hex digits>"
        )
    try:
        digest = bytes.fromhex(hex_digest)
    except ValueError:
        raise UnauthenticatedDeliveryError(
            SIGNATURE_HEADER, f"must be {SIGNATURE_VERSION}=<{_DIGEST_HEX} hex digits>"
        ) from None
    return SignedDelivery(workspace_id, seconds, digest)


async def check_signature(
    conn: asyncpg.Connection, keyring: KeyRing, delivery: SignedDelivery, body: bytes
) -> None:
    """Check the signature under the workspace's secret, in constant time.

    An unknown workspace, one without a secret and a wrong signature get the same answer, so
    a caller cannot probe which workspaces exist or have a secret.

    Raises:
        UnauthenticatedDeliveryError: the signature does not verify.
        StorageError: the stored secret does not open (the key ring lacks its key).
    """
    sealed = await WebhookRepo(conn).get_sealed_secret(delivery.workspace_id)
    # Without a secret, compute anyway: the answer takes as long as a wrong signature's.
    key = os.urandom(32) if sealed is None else keyring.decrypt(sealed, _aad(delivery.workspace_id))
    expected = _digest(key, delivery.timestamp, body)
    if not hmac.compare_digest(expected, delivery.signature) or sealed is None:
        raise UnauthenticatedDeliveryError(
            SIGNATURE_HEADER,
            "does not verify: sign '<timestamp>.<raw body>' with HMAC-SHA256 under the"
            " workspace's webhook secret",
        )


async def accept_delivery(
    conn: asyncpg.Connection,
    delivery: SignedDelivery,
    meeting: MeetingIn,
    *,
    now: datetime,
    tolerance_s: float,
) -> ImportResult:
    """Import an authenticated delivery's meeting once per signature, in one transaction.

    Raises:
        ReplayedDeliveryError: this signature was accepted before (nothing changes).
        ConflictError: the meeting's external id is stored with different content.
    """
    repo = WebhookRepo(conn)
    async with conn.transaction():
        await repo.forget_stale_deliveries(
            delivery.workspace_id, now - timedelta(seconds=tolerance_s)
        )
        signed_at = datetime.fromtimestamp(delivery.timestamp, UTC)
        if not await repo.record_delivery(delivery.workspace_id, delivery.signature, signed_at):
            raise ReplayedDeliveryError(
                SIGNATURE_HEADER,
                "this delivery was accepted already; a retry must be signed again with a new"
                " timestamp",
            )
        # A failed import rolls the record back too: the same delivery may be sent again.
        return await import_meeting(conn, delivery.workspace_id, meeting)


async def set_secret(conn: asyncpg.Connection, keyring: KeyRing, workspace_id: UUID) -> str:
    """Create or replace the workspace's secret; the new secret (shown to the admin once).

    Raises:
        NotFoundError: no such workspace.
    """
    secret = _SECRET_PREFIX + secrets.token_urlsafe(32)
    sealed, key_id = keyring.encrypt(secret.encode("ascii"), _aad(workspace_id))
    await WebhookRepo(conn).upsert_secret(workspace_id, sealed, key_id)
    return secret


async def rotate_meeting_webhook_secrets(conn: asyncpg.Connection, keyring: KeyRing) -> int:
    """Re-seal every workspace's secret not under the current key; how many were.

    One transaction: if any secret does not open, nothing changes and StorageError names
    the workspace.
    """
    async with conn.transaction():
        repo = WebhookRepo(conn)
        stale = await repo.lock_secrets_not_under_key(keyring.current_key_id)
        for workspace_id, sealed in stale:
            try:
                plain = keyring.decrypt(sealed, _aad(workspace_id))
            except StorageError as exc:
                raise StorageError(
                    f"workspace {workspace_id}'s meeting webhook secret: {exc}"
                ) from exc
            blob, key_id = keyring.encrypt(plain, _aad(workspace_id))
            await repo.update_sealed_secret(workspace_id, blob, key_id)
    return len(stale)


def _digest(key: bytes, timestamp: int, body: bytes) -> bytes:
    return hmac.new(key, f"{timestamp}.".encode("ascii") + body, hashlib.sha256).digest()


def _aad(workspace_id: UUID) -> bytes:
    """Binds a sealed secret to its workspace: copied to another row, it fails to open."""
    return b"workspace_webhook_secrets.secret:" + workspace_id.bytes
