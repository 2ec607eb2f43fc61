"""Subscriptions over a real websocket (graphql-transport-ws) against the app on uvicorn,
fed by rows other connections and processes insert (``tests/api/graphql_ws.py`` says how a
test knows its subscription listens)."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from runtime.api.events_hub import EventHub
from runtime.api.http import build_api_app
from runtime.events import ACTIVITY_LOGS
from runtime.tokens.service import issue_token, revoke_token
from tests.api.conftest import Tenants, api_settings
from tests.api.graphql_ws import (
    close_code,
    error_codes_of,
    receive,
    send,
    session,
    socket,
    subscribe,
    until_live,
)
from tests.cli import REPO
from tests.http_server import serve_asgi

ACTIVITY = """subscription($ws: ID!) {
  activityLogCreated(workspaceId: $ws) { id status actionType crmRecordId user { email } }
}"""
INBOX = "subscription($u: ID!) { inboxItemCreated(userId: $u) { id title user { id } } }"
ANOMALY = "subscription($ws: ID!) { anomalyDetected(workspaceId: $ws) { id title severity } }"


@pytest.fixture(scope="module")
def api_url(database_dsn: str) -> Iterator[str]:
    """The app trusting a checked token for no time: a revoked one fails at once."""
    with serve_asgi(build_api_app(api_settings(database_dsn, auth_cache_s=0))) as url:
        yield url


async def _activity(pool: asyncpg.Pool, workspace_id: UUID, record: str = "301") -> UUID:
    found: UUID = await pool.fetchval(
        "INSERT INTO activity_logs (workspace_id, action_type, status, crm_record_id)"
        " VALUES ($1, 'update', 'success', $2) RETURNING id",
        workspace_id,
        record,
    )
    return found


async def _inbox_item(pool: asyncpg.Pool, workspace_id: UUID, user_id: UUID) -> UUID:
    found: UUID = await pool.fetchval(
        "INSERT INTO inbox_items (workspace_id, user_id, item_type, title)"
        " VALUES ($1, $2, 'approval', 'Review 1 change') RETURNING id",
        workspace_id,
        user_id,
    )
    return found


async def _anomaly(pool: asyncpg.Pool, workspace_id: UUID) -> UUID:
    found: UUID = await pool.fetchval(
        "INSERT INTO anomalies (workspace_id, anomaly_type, severity, title)"
        " VALUES ($1, 'high_failure_rate', 'error', 'Half the runs failed') RETURNING id",
        workspace_id,
    )
    return found


def _payload(message: dict[str, Any], field: str) -> dict[str, Any]:
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message["payload"]["errors"]
    node: dict[str, Any] = message["payload"]["data"][field]
    return node


async def test_a_connection_without_a_token_is_refused_with_4403(api_url: str) -> None:
    async with socket(api_url) as ws:
        await send(ws, {"type": "connection_init", "payload": {}})
        assert await close_code(ws) == 4403
    async with socket(api_url) as ws:
        await send(ws, {"type": "connection_init", "payload": {"token": "cra_nonsense"}})
        assert await close_code(ws) == 4403


async def test_subscribing_before_the_ack_closes_with_4401(api_url: str, tenants: Tenants) -> None:
    async with socket(api_url) as ws:
        await subscribe(ws, "1", ACTIVITY, {"ws": str(tenants.home.workspace_id)})
        assert await close_code(ws) == 4401


async def test_an_activity_inserted_by_another_process_arrives(
    api_url: str, tenants: Tenants, pool: asyncpg.Pool, database_dsn: str
) -> None:
    home = tenants.home
    async with session(api_url, home.member_token) as ws:
        await subscribe(ws, "a", ACTIVITY, {"ws": str(home.workspace_id)})
        await until_live(ws, lambda: _activity(pool, home.workspace_id))

        inserted = await _insert_in_another_process(database_dsn, home.workspace_id, home.admin_id)

        message = await receive(ws)
        assert message["id"] == "a"
        node = _payload(message, "activityLogCreated")
        assert node == {
            "id": str(inserted),
            "status": "SUCCESS",
            "actionType": "CREATE",
            "crmRecordId": "from-another-process",
            "user": {"email": "admin@home.example"},
        }


async def test_events_of_another_workspace_never_arrive(
    api_url: str, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home, other = tenants.home, tenants.other
    async with session(api_url, home.admin_token) as ws:
        await subscribe(ws, "a", ACTIVITY, {"ws": str(home.workspace_id)})
        await until_live(ws, lambda: _activity(pool, home.workspace_id))

        await _activity(pool, other.workspace_id, record="theirs")
        ours = await _activity(pool, home.workspace_id, record="ours")

        # Delivered in commit order: theirs would have come first.
        node = _payload(await receive(ws), "activityLogCreated")
        assert (node["id"], node["crmRecordId"]) == (str(ours), "ours")


async def test_another_workspace_is_forbidden(api_url: str, tenants: Tenants) -> None:
    async with session(api_url, tenants.home.admin_token) as ws:
        await subscribe(ws, "a", ANOMALY, {"ws": str(tenants.other.workspace_id)})
        refused = await receive(ws)
        assert error_codes_of(refused) == ["FORBIDDEN"]
        assert await receive(ws) == {"id": "a", "type": "complete"}


async def test_a_member_may_not_follow_another_users_inbox(api_url: str, tenants: Tenants) -> None:
    home = tenants.home
    async with session(api_url, home.member_token) as ws:
        await subscribe(ws, "i", INBOX, {"u": str(home.admin_id)})
        refused = await receive(ws)
        assert error_codes_of(refused) == ["FORBIDDEN"]
        assert refused["payload"]["errors"][0]["extensions"]["field"] == "userId"
        assert await receive(ws) == {"id": "i", "type": "complete"}
        # The connection stays usable for what the member may follow.
        await subscribe(ws, "mine", INBOX, {"u": str(home.member_id)})
        await send(ws, {"type": "ping"})
        assert (await receive(ws))["type"] == "pong"


async def test_a_user_receives_only_their_own_inbox_items(
    api_url: str, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    # An admin may follow a member's inbox; it shows that member's items only.
    async with session(api_url, home.admin_token) as ws:
        await subscribe(ws, "i", INBOX, {"u": str(home.member_id)})
        first, raised = await until_live(
            ws, lambda: _inbox_item(pool, home.workspace_id, home.member_id)
        )
        assert UUID(_payload(first, "inboxItemCreated")["id"]) in raised

        await _inbox_item(pool, home.workspace_id, home.admin_id)
        members = await _inbox_item(pool, home.workspace_id, home.member_id)

        node = _payload(await receive(ws), "inboxItemCreated")
        assert node["id"] == str(members)
        assert node["user"] == {"id": str(home.member_id)}


async def test_a_new_anomaly_arrives_and_status_changes_do_not(
    api_url: str, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    async with session(api_url, home.member_token) as ws:
        await subscribe(ws, "x", ANOMALY, {"ws": str(home.workspace_id)})
        first, raised = await until_live(ws, lambda: _anomaly(pool, home.workspace_id))
        assert UUID(_payload(first, "anomalyDetected")["id"]) in raised

        await pool.execute("UPDATE anomalies SET status = 'resolved' WHERE id = $1", raised[-1])
        new = await _anomaly(pool, home.workspace_id)

        node = _payload(await receive(ws), "anomalyDetected")
        assert node == {"id": str(new), "title": "Half the runs failed", "severity": "ERROR"}


async def test_a_revoked_token_stops_receiving(
    api_url: str, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    async with pool.acquire() as conn:
        issued = await issue_token(conn, home.workspace_id, home.member_id)
    async with session(api_url, issued.secret) as ws:
        await subscribe(ws, "a", ACTIVITY, {"ws": str(home.workspace_id)})
        await until_live(ws, lambda: _activity(pool, home.workspace_id))

        async with pool.acquire() as conn:
            await revoke_token(conn, home.workspace_id, issued.token.id, now=datetime.now(UTC))
        await _activity(pool, home.workspace_id)

        ended = await receive(ws)
        assert error_codes_of(ended) == ["UNAUTHENTICATED"]
        assert await receive(ws) == {"id": "a", "type": "complete"}


async def test_a_slow_subscriber_loses_its_oldest_events_and_blocks_no_one(
    pool: asyncpg.Pool, tenants: Tenants
) -> None:
    workspace = tenants.other.workspace_id
    hub = EventHub(pool.acquire)
    try:
        async with (
            hub.subscribe(ACTIVITY_LOGS, workspace) as fast,
            hub.subscribe(ACTIVITY_LOGS, workspace, queue_size=2) as slow,
        ):
            inserted = [await _activity(pool, workspace, record=str(n)) for n in range(5)]
            received = [(await asyncio.wait_for(fast.next(), 10)).id for _ in inserted]
            assert received == inserted
            assert (fast.dropped, slow.dropped) == (0, 3)
            assert [(await slow.next()).id for _ in range(2)] == inserted[-2:]
        assert hub.subscriber_count == 0
    finally:
        await hub.close()


async def _insert_in_another_process(dsn: str, workspace_id: UUID, user_id: UUID) -> UUID:
    """An activity row committed by a separate Python process."""
    script = textwrap.dedent(
        """
        import asyncio, sys, asyncpg
        async def main():
            conn = await asyncpg.connect(sys.argv[1])
            print(await conn.fetchval(
                "INSERT INTO activity_logs (workspace_id, user_id, action_type, status,"
                " crm_record_id) VALUES ($1, $2, 'create', 'success', 'from-another-process')"
                " RETURNING id", sys.argv[2], sys.argv[3]))
            await conn.close()
        asyncio.run(main())
        """
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        dsn,
        str(workspace_id),
        str(user_id),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    return UUID(out.decode().strip())
