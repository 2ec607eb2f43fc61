"""Subscriptions over a real websocket (graphql-transport-ws) against the app on uvicorn,
fed by rows other connections and processes insert (``tests/api/graphql_ws.py`` says how a
test knows its subscription listens), and the fan-out that sends one event's payload,
executed once, to every subscriber its rules allow (``runtime/api/fanout.py``)."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from websockets.asyncio.client import ClientConnection

from runtime.api.events_hub import EventHub, event_key
from runtime.api.http import build_api_app
from runtime.events import ACTIVITY_LOGS, Event
from runtime.tokens.service import issue_token, revoke_token
from runtime.users.models import UserCreate
from runtime.users.service import add_user_to_workspace
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
# Only the events' own fields: executed once per event for every subscriber of the same text.
INBOX_SHARED = "subscription($u: ID!) { inboxItemCreated(userId: $u) { id title itemType } }"
IDS_ONLY = "subscription($ws: ID!) { activityLogCreated(workspaceId: $ws) { id } }"
MORE = "subscription($ws: ID!) { activityLogCreated(workspaceId: $ws) { id crmRecordId status } }"
MAYBE = """subscription($ws: ID!, $more: Boolean!) {
  activityLogCreated(workspaceId: $ws) { id crmRecordId @include(if: $more) }
}"""


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


INBOX_UPDATED = """subscription($u: ID!) {
  inboxItemUpdated(userId: $u) { id status resolvedBy { email } }
}"""
ACTIVITY_UPDATED = """subscription($ws: ID!) {
  activityLogUpdated(workspaceId: $ws) { id status }
}"""
ANOMALY_UPDATED = """subscription($ws: ID!) {
  anomalyUpdated(workspaceId: $ws) { id status }
}"""


async def test_a_new_anomaly_arrives_and_its_status_changes_arrive_as_updates(
    api_url: str, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    async with (
        session(api_url, home.member_token) as created,
        session(api_url, home.member_token) as updated,
    ):
        await subscribe(created, "x", ANOMALY, {"ws": str(home.workspace_id)})
        await subscribe(updated, "y", ANOMALY_UPDATED, {"ws": str(home.workspace_id)})
        first, raised = await until_live(created, lambda: _anomaly(pool, home.workspace_id))
        assert UUID(_payload(first, "anomalyDetected")["id"]) in raised

        async def resolved() -> UUID:
            anomaly = await _anomaly(pool, home.workspace_id)
            await pool.execute("UPDATE anomalies SET status = 'resolved' WHERE id = $1", anomaly)
            return anomaly

        change, changed = await until_live(updated, resolved)
        node = _payload(change, "anomalyUpdated")
        assert UUID(node["id"]) in changed
        assert node["status"] == "RESOLVED"
        # The status change is no new anomaly: the next created one is what arrives there.
        new = await _anomaly(pool, home.workspace_id)
        node = _payload(await receive(created), "anomalyDetected")
        while node["id"] != str(new):
            assert UUID(node["id"]) in {*raised, *changed}  # made by until_live above
            node = _payload(await receive(created), "anomalyDetected")
        assert node == {"id": str(new), "title": "Half the runs failed", "severity": "ERROR"}


async def test_status_changes_arrive_as_updates_with_the_row_as_it_is_now(
    api_url: str, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home

    async def pending_item() -> UUID:
        item = await _inbox_item(pool, home.workspace_id, home.member_id)
        await pool.execute("UPDATE inbox_items SET status = 'rejected' WHERE id = $1", item)
        return item

    async with session(api_url, home.member_token) as ws:
        await subscribe(ws, "u", INBOX_UPDATED, {"u": str(home.member_id)})
        first, raised = await until_live(ws, pending_item)
        assert UUID(_payload(first, "inboxItemUpdated")["id"]) in raised

        # A new item is no update; the admin's item is not the member's; a decision is.
        item = await _inbox_item(pool, home.workspace_id, home.member_id)
        admins = await _inbox_item(pool, home.workspace_id, home.admin_id)
        await pool.execute("UPDATE inbox_items SET status = 'expired' WHERE id = $1", admins)
        await pool.execute(
            "UPDATE inbox_items SET status = 'approved', resolved_by = $2 WHERE id = $1",
            item,
            home.member_id,
        )
        node = _payload(await receive(ws), "inboxItemUpdated")
        assert node == {
            "id": str(item),
            "status": "APPROVED",
            "resolvedBy": {"email": "member@home.example"},
        }
        # The same row changing again is loaded again, not taken from the first change.
        await pool.execute("UPDATE inbox_items SET status = 'pending' WHERE id = $1", item)
        node = _payload(await receive(ws), "inboxItemUpdated")
        assert (node["id"], node["status"]) == (str(item), "PENDING")


async def test_an_activity_settling_arrives_as_an_update(
    api_url: str, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home

    async def settled() -> UUID:
        activity = await _activity(pool, home.workspace_id)
        await pool.execute("UPDATE activity_logs SET status = 'failed' WHERE id = $1", activity)
        return activity

    async with session(api_url, home.member_token) as ws:
        await subscribe(ws, "a", ACTIVITY_UPDATED, {"ws": str(home.workspace_id)})
        first, raised = await until_live(ws, settled)
        node = _payload(first, "activityLogUpdated")
        assert UUID(node["id"]) in raised
        assert node["status"] == "FAILED"


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


async def test_one_selection_is_sent_alike_to_each_subscriber_its_rules_allow(
    api_url: str, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    async with pool.acquire() as conn:
        deputy, _ = await add_user_to_workspace(
            conn, home.workspace_id, UserCreate(email="deputy@home.example"), role="admin"
        )
        deputy_token = await issue_token(conn, home.workspace_id, deputy.user.id)
    follow = {"u": str(home.member_id)}
    async with (
        session(api_url, deputy_token.secret) as admin_ws,
        session(api_url, home.member_token) as member_ws,
    ):
        # The same document and variables: an admin following the member, and the member.
        await subscribe(admin_ws, "theirs", INBOX_SHARED, follow)
        await subscribe(member_ws, "mine", INBOX_SHARED, follow)
        await _live_together(
            [(admin_ws, ["theirs"]), (member_ws, ["mine"])],
            lambda: _inbox_item(pool, home.workspace_id, home.member_id),
        )

        item = await _inbox_item(pool, home.workspace_id, home.member_id)
        to_admin, to_member = await receive(admin_ws), await receive(member_ws)
        assert (to_admin["id"], to_member["id"]) == ("theirs", "mine")  # each its own id
        expected = {"id": str(item), "title": "Review 1 change", "itemType": "APPROVAL"}
        assert (
            to_admin["payload"] == to_member["payload"] == {"data": {"inboxItemCreated": expected}}
        )

        # The admin is made a member: another member's inbox is no longer theirs to follow.
        # Their stream ends; the member's, sharing its payloads until now, goes on.
        await pool.execute(
            "UPDATE workspace_members SET role = 'member' WHERE workspace_id = $1 AND user_id = $2",
            home.workspace_id,
            deputy.user.id,
        )
        later = await _inbox_item(pool, home.workspace_id, home.member_id)
        refused = await receive(admin_ws)
        assert error_codes_of(refused) == ["FORBIDDEN"]
        assert await receive(admin_ws) == {"id": "theirs", "type": "complete"}
        assert _payload(await receive(member_ws), "inboxItemCreated")["id"] == str(later)


async def test_each_selection_of_an_event_gets_its_own_payload(
    api_url: str, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    variables = {"ws": str(home.workspace_id)}
    async with (
        session(api_url, home.admin_token) as first,
        session(api_url, home.member_token) as second,
    ):
        await subscribe(first, "ids", IDS_ONLY, variables)
        await subscribe(first, "more", MORE, variables)
        await subscribe(first, "viewer", ACTIVITY, variables)  # a resolver: run for it alone
        # The same document, other variables: another payload.
        await subscribe(first, "with", MAYBE, {**variables, "more": True})
        await subscribe(first, "without", MAYBE, {**variables, "more": False})
        await subscribe(second, "ids", IDS_ONLY, variables)
        await _live_together(
            [(first, ["ids", "more", "viewer", "with", "without"]), (second, ["ids"])],
            lambda: _activity(pool, home.workspace_id),
        )

        row = await _activity(pool, home.workspace_id, record="shaped")
        # One socket's operations run side by side: their messages come in any order.
        messages = [await receive(first) for _ in range(5)]
        assert {m["id"]: _payload(m, "activityLogCreated") for m in messages} == {
            "ids": {"id": str(row)},
            "more": {"id": str(row), "crmRecordId": "shaped", "status": "SUCCESS"},
            "viewer": {
                "id": str(row),
                "status": "SUCCESS",
                "actionType": "UPDATE",
                "crmRecordId": "shaped",
                "user": None,
            },
            "with": {"id": str(row), "crmRecordId": "shaped"},
            "without": {"id": str(row)},
        }
        assert await receive(second) == {
            "id": "ids",
            "type": "next",
            "payload": {"data": {"activityLogCreated": {"id": str(row)}}},
        }


async def test_the_hub_loads_an_event_once_and_hands_events_out_in_order(
    pool: asyncpg.Pool, tenants: Tenants
) -> None:
    workspace = tenants.other.workspace_id
    gate, second_loaded = asyncio.Event(), asyncio.Event()
    loads: list[UUID] = []

    async def load(event: Event) -> tuple[str, UUID]:
        loads.append(event.id)
        if len(loads) == 1:
            await gate.wait()  # the first event is slow to load
        else:
            second_loaded.set()
        return ("loaded", event.id)

    async def load_again() -> tuple[str, UUID]:
        raise AssertionError("the hub loaded it already")

    hub = EventHub(pool.acquire, loaders={ACTIVITY_LOGS: load})
    try:
        async with hub.subscribe(ACTIVITY_LOGS, workspace) as events:
            first = await _activity(pool, workspace, record="slow")
            second = await _activity(pool, workspace, record="quick")
            await asyncio.wait_for(second_loaded.wait(), 10)
            assert hub.delivered == 0  # loaded, but behind the first
            gate.set()
            received = [await asyncio.wait_for(events.next(), 10) for _ in range(2)]
            assert [event.id for event in received] == [first, second]
            shared = [await hub.shared(event_key(event), load_again) for event in received]
            assert shared == [("loaded", first), ("loaded", second)]
            assert loads == [first, second]
    finally:
        await hub.close()


async def _live_together(
    streams: Sequence[tuple[ClientConnection, Sequence[str]]],
    raise_event: Callable[[], Awaitable[UUID]],
) -> None:
    """Raise events until every operation of every socket has received one, then one more
    read on every socket by each of its operations: what comes after is new."""
    waiting = {(n, op) for n, (_, ops) in enumerate(streams) for op in ops}
    for _ in range(40):
        await raise_event()
        for n, (ws, _) in enumerate(streams):
            while True:
                try:
                    message = await receive(ws, timeout_s=0.3)
                except TimeoutError:
                    break
                waiting.discard((n, message["id"]))
        if not waiting:
            break
    else:
        raise AssertionError(f"never received an event: {sorted(waiting)}")
    marker = str(await raise_event())
    for ws, ops in streams:
        pending = set(ops)
        while pending:
            message = await receive(ws)
            (node,) = message["payload"]["data"].values()
            if node["id"] == marker:
                pending.discard(message["id"])


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
