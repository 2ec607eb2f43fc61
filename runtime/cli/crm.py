"""`crm-agents crm ...`: connect a workspace to its CRM; credentials are stored encrypted."""

from __future__ import annotations

import sys
from typing import Any
from uuid import UUID

import typer
from pydantic import SecretStr

from runtime.automations.service import rotate_webhook_secrets
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
from runtime.connections.models import CrmConnection
from runtime.connections.repo import CrmConnectionRepo
from runtime.connections.service import (
    connect_private_token,
    disconnect,
    rotate_keys,
)
from runtime.connections.verify import verify_private_token
from runtime.errors import InvalidInputError
from runtime.meeting_webhooks.service import rotate_meeting_webhook_secrets
from runtime.workspaces.repo import WorkspaceRepo

crm_app = command_group(
    help=(
        "The workspace's CRM connection (HubSpot). Credentials are stored encrypted with the"
        " keys of CRM_AGENTS_SECRETS__ENCRYPTION_KEYS (else a key generated in"
        " CRM_AGENTS_HOME/secrets/, for one machine) and never printed."
    )
)

_OPTION_BY_FIELD = {"token": "--token", "base_url": "--base-url"}


@crm_app.command("connect")
def connect_command(
    workspace: UUID = WORKSPACE_OPTION,
    token: str = typer.Option(
        ...,
        "--token",
        help=(
            "HubSpot private app token (pat-...). '-' reads it from standard input (a hidden"
            " prompt on a terminal), which keeps it out of shell history and the process list."
        ),
    ),
    base_url: str | None = typer.Option(
        None,
        "--base-url",
        help="HubSpot API base URL. Default: CRM_AGENTS_HUBSPOT__BASE_URL.",
    ),
    no_verify: bool = typer.Option(
        False, "--no-verify", help="Store the token without asking HubSpot whether it works."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Connect a workspace to HubSpot with a private app token; prints the connection id.

    First the token reads the deal property definitions: a token HubSpot refuses exits with
    code 2 naming --token, an unreachable URL with code 1; either way nothing is stored.
    A workspace's existing HubSpot connection is replaced. The token is never printed.

    To keep the token out of shell history: `crm-agents crm connect --workspace ID --token -`
    and paste it at the prompt, or pipe it in (`pass show hubspot | crm-agents crm connect
    --workspace ID --token -`).
    """
    settings = load_settings()
    secret = SecretStr(_read_token(token))
    url = base_url if base_url is not None else settings.hubspot.base_url
    keyring = KeyRing.from_settings(settings)

    async def body() -> dict[str, Any]:
        async with database(settings) as pool, pool.acquire() as conn:
            await WorkspaceRepo(conn).get(workspace)
            # The check runs inside the transaction that stores the token: what was checked
            # is what is stored, and a refused token rolls back, keeping any old connection.
            async with conn.transaction():
                try:
                    connection = await connect_private_token(
                        conn, keyring, workspace, token=secret, base_url=url
                    )
                except InvalidInputError as exc:
                    raise _named_as_options(exc) from exc
                if not no_verify:
                    try:
                        await verify_private_token(secret, connection.base_url, settings.hubspot)
                    except InvalidInputError as exc:
                        raise _named_as_options(exc) from exc
        return {**connection.model_dump(mode="json"), "verified": not no_verify}

    result = run(body)
    emit(result, result["id"], as_json=as_json)


@crm_app.command("status")
def status_command(workspace: UUID = WORKSPACE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Show the workspace's HubSpot connection, without its credentials.

    Not being connected is an answer, not an error: it exits 0 with `connected: false`
    (no connection, a revoked one, or one whose OAuth grant HubSpot refused: connect again).
    """
    settings = load_settings()

    async def body() -> CrmConnection | None:
        async with database(settings) as pool:
            await WorkspaceRepo(pool).get(workspace)
            return await CrmConnectionRepo(pool).get(workspace, "hubspot")

    connection = run(body)
    connected = connection is not None and connection.status == "active"
    data = {
        "workspace_id": str(workspace),
        "crm_type": "hubspot",
        "connected": connected,
        "connection": None if connection is None else connection.model_dump(mode="json"),
    }
    if connection is None:
        human = f"not connected: workspace {workspace} has no HubSpot connection"
    elif connection.status == "revoked":
        human = f"not connected: connection {connection.id} was revoked at {connection.updated_at}"
    elif not connected:
        human = (
            f"not connected: connection {connection.id} is in {connection.status} since"
            f" {connection.updated_at} (HubSpot refused its grant): connect again"
        )
    else:
        human = (
            f"{connection.status}  {connection.id}  {connection.auth_kind}  {connection.base_url}"
            f"  key {connection.key_id}  since {connection.updated_at}"
        )
    emit(data, human, as_json=as_json)


@crm_app.command("rotate-key")
def rotate_key_command(as_json: bool = JSON_OPTION) -> None:
    """Re-encrypt every stored secret (CRM credentials, automations' webhook secrets, meeting
    webhook secrets) under the current (first) key.

    Put a new key first in CRM_AGENTS_SECRETS__ENCRYPTION_KEYS and keep the old ones after
    it; once every process runs with that list, run this. It works in one transaction: if
    any secret does not decrypt, nothing changes (exit 1, naming the workspace or the
    automation). Then the old keys can be removed. Prints how many were re-encrypted.
    """
    settings = load_settings()
    keyring = KeyRing.from_settings(settings)

    async def body() -> tuple[int, int, int]:
        async with database(settings) as pool, pool.acquire() as conn, conn.transaction():
            return (
                await rotate_keys(conn, keyring),
                await rotate_webhook_secrets(conn, keyring),
                await rotate_meeting_webhook_secrets(conn, keyring),
            )

    connections, webhooks, meeting_webhooks = run(body)
    emit(
        {
            "re_encrypted": connections,
            "webhook_secrets_re_encrypted": webhooks,
            "meeting_webhook_secrets_re_encrypted": meeting_webhooks,
            "key_id": keyring.current_key_id,
        },
        f"re-encrypted {connections} connection(s), {webhooks} webhook secret(s) and"
        f" {meeting_webhooks} meeting webhook secret(s) under key {keyring.current_key_id}",
        as_json=as_json,
    )


@crm_app.command("disconnect")
def disconnect_command(workspace: UUID = WORKSPACE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Mark the workspace's HubSpot connection revoked: agents stop using it.

    The token itself stays valid in HubSpot; delete or rotate the private app there.
    """
    settings = load_settings()

    async def body() -> CrmConnection:
        async with database(settings) as pool:
            await WorkspaceRepo(pool).get(workspace)
            return await disconnect(pool, workspace, "hubspot")

    connection = run(body)
    emit(connection.model_dump(mode="json"), f"revoked {connection.id}", as_json=as_json)


def _read_token(value: str) -> str:
    if value != "-":
        raw = value
    elif sys.stdin.isatty():
        raw = typer.prompt("HubSpot private app token", hide_input=True, err=True)
    else:
        raw = sys.stdin.read()
    token = raw.strip()
    if not token:
        where = " (standard input was empty)" if value == "-" else ""
        raise InvalidInputError.one("--token", f"must not be empty{where}")
    return token


def _named_as_options(exc: InvalidInputError) -> InvalidInputError:
    return InvalidInputError(
        [(_OPTION_BY_FIELD.get(field, field), reason) for field, reason in exc.problems],
        exc.source,
    )
