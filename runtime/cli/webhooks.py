"""`crm-agents webhook ...`: the signing secret of a workspace's meeting webhook."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from runtime.cli._common import (
    JSON_OPTION,
    WORKSPACE_OPTION,
    command_group,
    database,
    emit,
    load_settings,
    run,
)
from runtime.connections.cipher import KeyRing
from runtime.meeting_webhooks.service import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WORKSPACE_HEADER,
    set_secret,
)
from runtime.workspaces.repo import WorkspaceRepo

__all__ = ["webhook_app"]

webhook_app = command_group(
    help=(
        "The meeting webhook (POST /webhooks/meetings on `crm-agents serve`): deliveries are"
        " signed with a per-workspace secret, stored encrypted like CRM credentials."
    )
)


@webhook_app.command("secret")
def secret_command(workspace: UUID = WORKSPACE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Create or rotate the workspace's webhook secret and print it alone on stdout.

    It is shown only this once; a rotation ends the old secret at once. A sender signs
    '<unix seconds>.<raw body>' with HMAC-SHA256 under it and sends X-CRM-Agents-Workspace,
    X-CRM-Agents-Timestamp and X-CRM-Agents-Signature: v1=<hex> (docs/api.md).
    """
    settings = load_settings()
    keyring = KeyRing.from_settings(settings)

    async def body() -> dict[str, Any]:
        async with database(settings) as pool, pool.acquire() as conn:
            await WorkspaceRepo(conn).get(workspace)
            secret = await set_secret(conn, keyring, workspace)
        return {
            "workspace_id": str(workspace),
            "secret": secret,
            "key_id": keyring.current_key_id,
            "headers": [WORKSPACE_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER],
        }

    result = run(body)
    emit(result, result["secret"], as_json=as_json)
