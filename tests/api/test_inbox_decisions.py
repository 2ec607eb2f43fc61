"""Deciding inbox items over HTTP: approve, reject, batch approve, and who may."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import asyncpg

from runtime.inbox.decisions import MAX_BATCH
from tests.api.conftest import GraphQL, Tenants, error_codes
from tests.decision_setup import Made, make_item

ITEM = """
  id status resolvedAt resolvedBy { email } user { email }
  activityLog { status }
  proposals { field before proposed approved status decidedAt decidedBy { email } }
"""
APPROVE = f"mutation($id: ID!) {{ approveInboxItem(id: $id) {{ {ITEM} }} }}"
REJECT = (
    f"mutation($id: ID!, $reason: String) {{ rejectInboxItem(id: $id, reason: $reason)"
    f" {{ {ITEM} }} }}"
)
BATCH = "mutation($ids: [ID!]!) { batchApproveInboxItems(ids: $ids) { id status } }"


async def outbox_values(pool: asyncpg.Pool, made: Made) -> list[tuple[str, str]]:
    rows = await pool.fetch(
        "SELECT o.property, o.value FROM write_outbox o JOIN proposals p ON p.id = o.proposal_id"
        " WHERE p.activity_log_id = $1 ORDER BY o.id",
        made.activity_id,
    )
    return [(r["property"], r["value"]) for r in rows]


async def stored_item(pool: asyncpg.Pool, item_id: UUID) -> dict[str, Any]:
    row = await pool.fetchrow(
        "SELECT status, resolved_by, resolution_reason FROM inbox_items WHERE id = $1", item_id
    )
    return dict(row)


async def decision_audit(pool: asyncpg.Pool, item_id: UUID) -> list[tuple[UUID, str]]:
    rows = await pool.fetch(
        "SELECT actor_user_id, action FROM audit_log WHERE target_id = $1 ORDER BY created_at",
        str(item_id),
    )
    return [(r["actor_user_id"], r["action"]) for r in rows]


async def test_a_member_approves_their_item_and_its_fields_are_queued(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    made = await make_item(
        pool,
        home.workspace_id,
        home.member_id,
        fields={"amount": ("20000", "60000"), "closedate": (None, "2026-04-30")},
    )

    item = gql.data(APPROVE, {"id": str(made.item.id)}, token=home.member_token)["approveInboxItem"]

    assert (item["id"], item["status"]) == (str(made.item.id), "APPROVED")
    assert item["resolvedBy"] == {"email": "member@home.example"}
    assert item["resolvedAt"] is not None
    assert item["activityLog"] == {"status": "PENDING"}  # until the writer writes them
    assert [(p["field"], p["proposed"], p["approved"], p["status"]) for p in item["proposals"]] == [
        ("amount", "60000", "60000", "QUEUED"),
        ("closedate", "2026-04-30", "2026-04-30", "QUEUED"),
    ]
    assert all(p["decidedAt"] for p in item["proposals"])
    assert {p["decidedBy"]["email"] for p in item["proposals"]} == {"member@home.example"}
    assert await outbox_values(pool, made) == [("amount", "60000"), ("closedate", "2026-04-30")]
    assert await decision_audit(pool, made.item.id) == [(home.member_id, "decision.approve")]


async def test_a_second_approval_is_a_conflict_that_changes_nothing(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    made = await make_item(pool, home.workspace_id, home.member_id)
    gql.data(APPROVE, {"id": str(made.item.id)}, token=home.member_token)

    again = gql.query(APPROVE, {"id": str(made.item.id)}, token=home.admin_token)

    assert error_codes(again) == ["CONFLICT"]
    assert again["data"] is None
    [error] = again["errors"]
    assert error["extensions"]["field"] == "id"
    assert "already approved by member@home.example" in error["message"]
    rejected = gql.query(REJECT, {"id": str(made.item.id)}, token=home.member_token)
    assert error_codes(rejected) == ["CONFLICT"]
    assert (await stored_item(pool, made.item.id))["resolved_by"] == home.member_id
    assert len(await outbox_values(pool, made)) == 1
    assert len(await decision_audit(pool, made.item.id)) == 1


PARTIAL = (
    "mutation($id: ID!, $fields: [FieldApprovalInput!]) {"
    f" approveInboxItem(id: $id, fields: $fields) {{ {ITEM} }} }}"
)


async def test_approving_some_fields_rejects_the_others(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    made = await make_item(
        pool,
        home.workspace_id,
        home.member_id,
        fields={"amount": ("20000", "60000"), "closedate": (None, "2026-04-30")},
    )

    item = gql.data(
        PARTIAL,
        {"id": str(made.item.id), "fields": [{"field": "closedate"}]},
        token=home.member_token,
    )["approveInboxItem"]

    assert item["status"] == "APPROVED"
    assert [(p["field"], p["approved"], p["status"]) for p in item["proposals"]] == [
        ("amount", None, "REJECTED"),
        ("closedate", "2026-04-30", "QUEUED"),
    ]
    assert await outbox_values(pool, made) == [("closedate", "2026-04-30")]


async def test_a_bad_partial_approval_names_the_input_field_and_changes_nothing(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    made = await make_item(pool, home.workspace_id, home.member_id)
    variables: dict[str, Any] = {"id": str(made.item.id)}

    twice = gql.query(
        PARTIAL,
        {**variables, "fields": [{"field": "amount"}, {"field": "amount"}]},
        token=home.member_token,
    )
    assert error_codes(twice) == ["BAD_USER_INPUT"]
    assert twice["errors"][0]["extensions"]["field"] == "fields.1.field"
    # An edit is checked against the CRM's definitions: this workspace has no CRM connected.
    edited = gql.query(
        PARTIAL,
        {**variables, "fields": [{"field": "amount", "value": "70000"}]},
        token=home.member_token,
    )
    assert error_codes(edited) == ["CONFLICT"]
    assert edited["errors"][0]["extensions"]["field"] == "crmConnection"
    assert (await stored_item(pool, made.item.id))["status"] == "pending"
    assert await outbox_values(pool, made) == []
    assert await decision_audit(pool, made.item.id) == []


async def test_rejecting_keeps_the_reason_and_the_activity_shows_it(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    made = await make_item(pool, home.workspace_id, home.member_id)

    item = gql.data(
        REJECT, {"id": str(made.item.id), "reason": "Wrong deal"}, token=home.member_token
    )["rejectInboxItem"]

    assert item["status"] == "REJECTED"
    assert item["resolvedBy"] == {"email": "member@home.example"}
    assert item["activityLog"] == {"status": "REJECTED"}
    assert [(p["field"], p["status"]) for p in item["proposals"]] == [("amount", "REJECTED")]
    assert (await stored_item(pool, made.item.id))["resolution_reason"] == "Wrong deal"
    assert await outbox_values(pool, made) == []
    assert await decision_audit(pool, made.item.id) == [(home.member_id, "decision.reject")]


async def test_a_too_long_reason_names_the_argument_and_nothing_changes(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    made = await make_item(pool, home.workspace_id, home.member_id)
    body = gql.query(
        REJECT, {"id": str(made.item.id), "reason": "x" * 2001}, token=home.member_token
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "reason"
    assert (await stored_item(pool, made.item.id))["status"] == "pending"


async def test_a_question_cannot_be_approved(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    made = await make_item(pool, home.workspace_id, home.member_id, item_type="question")
    body = gql.query(APPROVE, {"id": str(made.item.id)}, token=home.member_token)
    assert error_codes(body) == ["CONFLICT"]
    assert "needs an answer" in body["errors"][0]["message"]
    assert (await stored_item(pool, made.item.id))["status"] == "pending"


async def test_a_member_may_not_decide_someone_elses_item_but_an_admin_may(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    admins = await make_item(pool, home.workspace_id, home.admin_id)
    members = await make_item(pool, home.workspace_id, home.member_id)

    for document in (APPROVE, REJECT):
        body = gql.query(document, {"id": str(admins.item.id)}, token=home.member_token)
        assert error_codes(body) == ["FORBIDDEN"]
    assert (await stored_item(pool, admins.item.id))["status"] == "pending"

    item = gql.data(APPROVE, {"id": str(members.item.id)}, token=home.admin_token)[
        "approveInboxItem"
    ]
    assert item["resolvedBy"] == {"email": "admin@home.example"}
    assert item["user"] == {"email": "member@home.example"}


async def test_another_workspaces_item_is_not_found(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    theirs = await make_item(pool, tenants.other.workspace_id, tenants.other.member_id)
    for document in (APPROVE, REJECT):
        body = gql.query(document, {"id": str(theirs.item.id)}, token=tenants.home.admin_token)
        assert error_codes(body) == ["NOT_FOUND"]
        assert body["errors"][0]["extensions"]["field"] == "id"
    assert (await stored_item(pool, theirs.item.id))["status"] == "pending"


async def test_without_a_token_nothing_is_decided(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    made = await make_item(pool, tenants.home.workspace_id, tenants.home.member_id)
    for document, variables in (
        (APPROVE, {"id": str(made.item.id)}),
        (REJECT, {"id": str(made.item.id), "reason": "no"}),
        (BATCH, {"ids": [str(made.item.id)]}),
    ):
        assert error_codes(gql.query(document, variables)) == ["UNAUTHENTICATED"]
    assert (await stored_item(pool, made.item.id))["status"] == "pending"


async def test_a_bad_id_names_the_argument(gql: GraphQL, tenants: Tenants) -> None:
    body = gql.query(APPROVE, {"id": "nope"}, token=tenants.home.member_token)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "id"


# Batch ------------------------------------------------------------------------------------


async def test_a_batch_approves_each_item_and_reports_each_failure(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    first = await make_item(pool, home.workspace_id, home.member_id)
    decided = await make_item(pool, home.workspace_id, home.member_id)
    theirs = await make_item(pool, tenants.other.workspace_id, tenants.other.member_id)
    admins = await make_item(pool, home.workspace_id, home.admin_id)
    last = await make_item(
        pool, home.workspace_id, home.member_id, fields={"dealstage": ("a", "b")}
    )
    gql.data(REJECT, {"id": str(decided.item.id)}, token=home.member_token)
    ids = [first.item.id, decided.item.id, theirs.item.id, admins.item.id, last.item.id]

    body = gql.query(BATCH, {"ids": [str(i) for i in ids]}, token=home.member_token)

    # Every item the member may see, in its current state; the decided one as it was.
    assert body["data"]["batchApproveInboxItems"] == [
        {"id": str(first.item.id), "status": "APPROVED"},
        {"id": str(decided.item.id), "status": "REJECTED"},
        {"id": str(last.item.id), "status": "APPROVED"},
    ]
    failures = [
        (
            e["extensions"]["code"],
            e["extensions"]["id"],
            e["extensions"]["field"],
            e["path"],
        )
        for e in body["errors"]
    ]
    assert failures == [
        ("CONFLICT", str(decided.item.id), "ids.1", ["batchApproveInboxItems"]),
        ("NOT_FOUND", str(theirs.item.id), "ids.2", ["batchApproveInboxItems"]),
        ("FORBIDDEN", str(admins.item.id), "ids.3", ["batchApproveInboxItems"]),
    ]
    assert "already rejected by member@home.example" in body["errors"][0]["message"]
    assert await outbox_values(pool, first) == [("amount", "60000")]
    assert await outbox_values(pool, last) == [("dealstage", "b")]
    assert await decision_audit(pool, first.item.id) == [(home.member_id, "decision.approve")]
    assert await decision_audit(pool, last.item.id) == [(home.member_id, "decision.approve")]
    for untouched in (theirs, admins):
        assert (await stored_item(pool, untouched.item.id))["status"] == "pending"


async def test_an_admin_batch_approves_members_items(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    items = [await make_item(pool, home.workspace_id, home.member_id) for _ in range(3)]
    ids = [str(m.item.id) for m in items]
    body = gql.query(BATCH, {"ids": [*ids, ids[0]]}, token=home.admin_token)
    assert "errors" not in body, body["errors"]
    assert body["data"]["batchApproveInboxItems"] == [{"id": i, "status": "APPROVED"} for i in ids]
    for made in items:
        assert await decision_audit(pool, made.item.id) == [(home.admin_id, "decision.approve")]


async def test_a_batch_with_a_bad_id_or_too_many_decides_nothing(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    made = await make_item(pool, home.workspace_id, home.member_id)

    bad = gql.query(BATCH, {"ids": [str(made.item.id), "nope"]}, token=home.member_token)
    assert error_codes(bad) == ["BAD_USER_INPUT"]
    assert bad["errors"][0]["extensions"]["field"] == "ids.1"

    many = [str(made.item.id)] + [str(uuid.uuid4()) for _ in range(MAX_BATCH)]
    too_many = gql.query(BATCH, {"ids": many}, token=home.member_token)
    assert error_codes(too_many) == ["BAD_USER_INPUT"]
    assert too_many["errors"][0]["extensions"]["field"] == "ids"

    assert (await stored_item(pool, made.item.id))["status"] == "pending"
    assert gql.data(BATCH, {"ids": []}, token=home.member_token) == {"batchApproveInboxItems": []}
