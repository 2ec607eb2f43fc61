"""User automations over HTTP: validated kinds, owner-only changes, write-only secrets."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from pydantic import SecretStr

from runtime.api.http import build_api_app
from runtime.automations.models import Webhook
from runtime.automations.service import list_automations, webhook_secret
from runtime.connections.cipher import KeyRing
from runtime.settings import AutomationSettings, SecretsSettings, Settings
from tests.api.conftest import GraphQL, Tenant, Tenants, api_settings, error_codes, make_tenant
from tests.http_server import serve_asgi

KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()
SECRET = "s3cret-signing-key-0123456789"

FIELDS = """
  id name triggerType triggerConfig actionType actionConfig hasWebhookSecret isActive
  createdAt updatedAt user { id email }
"""
LIST = f"query($user: ID!) {{ userAutomations(userId: $user) {{ {FIELDS} }} }}"
CREATE = f"""mutation($input: CreateUserAutomationInput!) {{
  createUserAutomation(input: $input) {{ {FIELDS} }}
}}"""
UPDATE = f"""mutation($id: ID!, $input: UpdateUserAutomationInput!) {{
  updateUserAutomation(id: $id, input: $input) {{ {FIELDS} }}
}}"""
DELETE = "mutation($id: ID!) { deleteUserAutomation(id: $id) }"

NOTIFY_ON_APPROVALS: dict[str, Any] = {
    "name": "Tell me about approvals",
    "triggerType": "INBOX_ITEM_CREATED",
    "triggerConfig": {"item_types": ["approval"], "max_confidence": 0.7},
    "actionType": "NOTIFY",
    "actionConfig": {"channels": ["slack", "in_app"]},
}


def settings_for(database_dsn: str, *, allow_private: bool) -> Settings:
    return api_settings(database_dsn).model_copy(
        update={
            "secrets": SecretsSettings(encryption_keys=SecretStr(f"k1:{KEY}")),
            "automations": AutomationSettings(allow_private_webhook_hosts=allow_private),
        }
    )


@pytest.fixture(scope="module")
def api_url(database_dsn: str) -> Iterator[str]:
    """The app with a configured key ring (webhook secrets) and public webhooks only."""
    with serve_asgi(build_api_app(settings_for(database_dsn, allow_private=False))) as url:
        yield url


@pytest.fixture(scope="module")
def keyring() -> KeyRing:
    return KeyRing([("k1", base64.urlsafe_b64decode(KEY))])


async def fresh_tenant(pool: asyncpg.Pool) -> Tenant:
    return await make_tenant(pool, f"automations-{uuid.uuid4().hex[:10]}")


async def count_rows(pool: asyncpg.Pool, workspace_id: UUID) -> int:
    found: int = await pool.fetchval(
        "SELECT count(*) FROM user_automations WHERE workspace_id = $1", workspace_id
    )
    return found


async def stored_row(pool: asyncpg.Pool, automation_id: str) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM user_automations WHERE id = $1", UUID(automation_id))
    return dict(row)


def create(gql: GraphQL, token: str, **overrides: Any) -> dict[str, Any]:
    automation: dict[str, Any] = gql.data(
        CREATE, {"input": {**NOTIFY_ON_APPROVALS, **overrides}}, token=token
    )["createUserAutomation"]
    return automation


def bad_input(body: dict[str, Any]) -> tuple[str, list[str]]:
    """The field a BAD_USER_INPUT error names, and every problem's field."""
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    extensions = body["errors"][0]["extensions"]
    return extensions["field"], [p["field"] for p in extensions.get("problems", [])]


async def test_a_member_creates_and_lists_their_automation(
    gql: GraphQL, pool: asyncpg.Pool
) -> None:
    home = await fresh_tenant(pool)
    created = create(gql, home.member_token)
    assert created["name"] == "Tell me about approvals"
    assert created["user"]["id"] == str(home.member_id)
    assert created["triggerType"] == "INBOX_ITEM_CREATED"
    assert created["triggerConfig"] == {
        "item_types": ["approval"],
        "min_confidence": None,
        "max_confidence": 0.7,
    }
    assert created["actionType"] == "NOTIFY"
    assert created["actionConfig"] == {"channels": ["slack", "in_app"]}
    assert created["isActive"] is True
    assert created["hasWebhookSecret"] is False

    listed = gql.data(LIST, {"user": str(home.member_id)}, token=home.member_token)
    assert [a["id"] for a in listed["userAutomations"]] == [created["id"]]
    row = await stored_row(pool, created["id"])
    assert (row["user_id"], row["workspace_id"]) == (home.member_id, home.workspace_id)
    assert (row["trigger_type"], row["action_type"]) == ("inbox_item_created", "notify")


WEEKLY_DIGEST = {
    "frequency": "weekly",
    "time_of_day": "08:30",
    "weekday": "mon",
    "timezone": "Europe/Paris",
}
MEETING_TASK = {"subject_template": "Follow up: {meeting_title}", "due_in_days": 2}
WEEKDAY_MORNINGS = {"cron": "0 9 * * mon-fri", "timezone": "America/New_York"}
APPROVE_AMOUNTS = {"fields": ["amount", "closedate"], "min_confidence": 0.9}


@pytest.mark.parametrize(
    ("trigger_type", "trigger_config", "action_type", "action_config"),
    [
        (
            "ACTIVITY_ON_MY_DEALS",
            {"statuses": ["failed"]},
            "WEBHOOK",
            {"url": "https://x.example/a"},
        ),
        ("ANOMALY_ON_MY_AGENTS", {"severities": ["error"]}, "DIGEST", WEEKLY_DIGEST),
        ("MEETING_OF_CALL_TYPE", {"call_types": ["Demo"]}, "CREATE_CRM_TASK", MEETING_TASK),
        ("SCHEDULE", WEEKDAY_MORNINGS, "NOTIFY", {"channels": ["email"]}),
        ("INBOX_ITEM_CREATED", {"item_types": ["approval"]}, "AUTO_APPROVE", APPROVE_AMOUNTS),
    ],
)
async def test_every_kind_of_trigger_and_action_is_stored_as_validated(
    gql: GraphQL,
    pool: asyncpg.Pool,
    trigger_type: str,
    trigger_config: dict[str, Any],
    action_type: str,
    action_config: dict[str, Any],
) -> None:
    home = await fresh_tenant(pool)
    created = create(
        gql,
        home.member_token,
        triggerType=trigger_type,
        triggerConfig=trigger_config,
        actionType=action_type,
        actionConfig=action_config,
    )
    assert created["triggerType"] == trigger_type
    assert created["actionType"] == action_type
    # What was sent is kept (call types lower-cased); defaults fill in the rest.
    expected_trigger = {
        key: [v.lower() for v in value] if key == "call_types" else value
        for key, value in trigger_config.items()
    }
    assert {k: created["triggerConfig"][k] for k in trigger_config} == expected_trigger
    assert {k: created["actionConfig"][k] for k in action_config} == action_config
    row = await stored_row(pool, created["id"])
    assert row["trigger_config"] == created["triggerConfig"]
    assert row["action_config"] == created["actionConfig"]


HOURLY = {"triggerType": "SCHEDULE", "triggerConfig": {"every_minutes": 60}}
APPROVE = {
    "actionType": "AUTO_APPROVE",
    "actionConfig": {"fields": ["amount"], "min_confidence": 1},
}


def webhook_to(url: str) -> dict[str, Any]:
    return {"actionType": "WEBHOOK", "actionConfig": {"url": url}}


@pytest.mark.parametrize(
    ("overrides", "field", "every_field"),
    [
        ({"name": "  "}, "input.name", None),
        ({"triggerConfig": {"max_confidence": 1.5}}, "input.triggerConfig.max_confidence", None),
        ({"triggerConfig": {"min_confidence": "0.5"}}, "input.triggerConfig.min_confidence", None),
        ({"triggerConfig": {"item_type": ["approval"]}}, "input.triggerConfig.item_type", None),
        ({"triggerConfig": ["approval"]}, "input.triggerConfig", None),
        ({"actionConfig": {"channels": ["slack", "pager"]}}, "input.actionConfig.channels.1", None),
        ({"actionConfig": {"channels": ["slack", "slack"]}}, "input.actionConfig.channels", None),
        ({"actionConfig": {"type": "webhook"}}, "input.actionConfig.type", None),
        (
            {"triggerType": "SCHEDULE", "triggerConfig": {"cron": "61 9 * * *"}},
            "input.triggerConfig.cron",
            None,
        ),
        (
            {**HOURLY, "triggerConfig": {"every_minutes": 60, "timezone": "Mars/Olympus"}},
            "input.triggerConfig.timezone",
            None,
        ),
        (
            {
                **HOURLY,
                "actionType": "DIGEST",
                "actionConfig": {"frequency": "daily", "time_of_day": "08:00"},
            },
            "input.actionType",
            None,
        ),
        ({"triggerConfig": {}, **APPROVE}, "input.triggerConfig.item_types", None),
        (webhook_to("http://hooks.example.com/x"), "input.actionConfig.url", None),
        (webhook_to("https://127.0.0.1:9000/x"), "input.actionConfig.url", None),
        (webhook_to("https://localhost/x"), "input.actionConfig.url", None),
        (
            {"name": "", "triggerConfig": {"max_confidence": 2}, "actionConfig": {"channels": []}},
            "input.name",
            ["input.name", "input.triggerConfig.max_confidence", "input.actionConfig.channels"],
        ),
    ],
)
async def test_bad_input_names_its_field_and_stores_nothing(
    gql: GraphQL,
    pool: asyncpg.Pool,
    tenants: Tenants,
    overrides: dict[str, Any],
    field: str,
    every_field: list[str] | None,
) -> None:
    home = tenants.home
    before = await count_rows(pool, home.workspace_id)
    body = gql.query(
        CREATE, {"input": {**NOTIFY_ON_APPROVALS, **overrides}}, token=home.member_token
    )
    named, every = bad_input(body)
    assert named == field, body["errors"][0]["message"]
    if every_field is not None:
        assert every == every_field
    assert body["data"] is None
    assert await count_rows(pool, home.workspace_id) == before


async def test_a_webhook_secret_is_sealed_and_never_shown(
    gql: GraphQL, pool: asyncpg.Pool, keyring: KeyRing
) -> None:
    home = await fresh_tenant(pool)
    created = create(
        gql,
        home.member_token,
        actionType="WEBHOOK",
        actionConfig={"url": "https://hooks.example.com/crm", "secret": SECRET},
    )
    assert created["hasWebhookSecret"] is True
    assert created["actionConfig"] == {"url": "https://hooks.example.com/crm"}
    listed = gql.data(LIST, {"user": str(home.member_id)}, token=home.member_token)
    assert SECRET not in str(listed)

    row = await stored_row(pool, created["id"])
    assert SECRET.encode() not in bytes(row["webhook_secret_sealed"])
    assert SECRET not in str(row["action_config"])
    assert row["webhook_secret_key_id"] == "k1"
    [automation] = await list_automations(pool, home.workspace_id, home.member_id)
    assert await webhook_secret(pool, keyring, automation) == SECRET

    short = gql.query(
        CREATE,
        {
            "input": {
                **NOTIFY_ON_APPROVALS,
                "actionType": "WEBHOOK",
                "actionConfig": {"url": "https://hooks.example.com/crm", "secret": "tiny-secret"},
            }
        },
        token=home.member_token,
    )
    assert bad_input(short)[0] == "input.actionConfig.secret"
    assert "tiny-secret" not in str(short)


async def test_updating_a_webhook_keeps_replaces_or_removes_its_secret(
    gql: GraphQL, pool: asyncpg.Pool, keyring: KeyRing
) -> None:
    home = await fresh_tenant(pool)
    created = create(
        gql,
        home.member_token,
        actionType="WEBHOOK",
        actionConfig={"url": "https://hooks.example.com/a", "secret": SECRET},
    )
    ident = created["id"]

    def update(change: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = gql.data(
            UPDATE, {"id": ident, "input": change}, token=home.member_token
        )["updateUserAutomation"]
        return result

    async def secret() -> str | None:
        [automation] = await list_automations(pool, home.workspace_id, home.member_id)
        return await webhook_secret(pool, keyring, automation)

    moved = update({"actionConfig": {"url": "https://hooks.example.com/b"}})
    assert moved["actionConfig"] == {"url": "https://hooks.example.com/b"}
    assert moved["hasWebhookSecret"] is True
    assert await secret() == SECRET

    update(
        {"actionConfig": {"url": "https://hooks.example.com/b", "secret": "another-secret-0123"}}
    )
    assert await secret() == "another-secret-0123"

    cleared = update({"actionConfig": {"url": "https://hooks.example.com/b", "secret": None}})
    assert cleared["hasWebhookSecret"] is False
    assert await secret() is None

    update({"actionConfig": {"url": "https://hooks.example.com/b", "secret": SECRET}})
    notify = update({"actionType": "NOTIFY", "actionConfig": {"channels": ["desktop"]}})
    assert (notify["actionType"], notify["hasWebhookSecret"]) == ("NOTIFY", False)
    row = await stored_row(pool, ident)
    assert (row["webhook_secret_sealed"], row["webhook_secret_key_id"]) == (None, None)


async def test_the_owner_updates_parts_and_the_rest_stays(gql: GraphQL, pool: asyncpg.Pool) -> None:
    home = await fresh_tenant(pool)
    created = create(gql, home.member_token)
    renamed = gql.data(
        UPDATE,
        {"id": created["id"], "input": {"name": "Quiet approvals", "isActive": False}},
        token=home.member_token,
    )["updateUserAutomation"]
    assert (renamed["name"], renamed["isActive"]) == ("Quiet approvals", False)
    assert renamed["triggerConfig"] == created["triggerConfig"]
    assert renamed["actionConfig"] == created["actionConfig"]
    assert renamed["updatedAt"] > created["updatedAt"]

    retuned = gql.data(
        UPDATE,
        {"id": created["id"], "input": {"triggerConfig": {"min_confidence": 0.2}}},
        token=home.member_token,
    )["updateUserAutomation"]
    assert retuned["triggerType"] == "INBOX_ITEM_CREATED"
    assert retuned["triggerConfig"]["min_confidence"] == 0.2
    assert retuned["triggerConfig"]["item_types"] == ["approval", "question", "alert"]
    assert retuned["name"] == "Quiet approvals"


async def test_bad_updates_name_their_field_and_change_nothing(
    gql: GraphQL, pool: asyncpg.Pool
) -> None:
    home = await fresh_tenant(pool)
    approve = create(
        gql,
        home.member_token,
        actionType="AUTO_APPROVE",
        actionConfig={"fields": ["amount"], "min_confidence": 0.95},
    )
    before = await stored_row(pool, approve["id"])
    cases: list[tuple[dict[str, Any], str]] = [
        ({"triggerType": "SCHEDULE"}, "input.triggerConfig"),
        # Only the trigger changes, and auto-approval cannot follow a schedule.
        ({"triggerType": "SCHEDULE", "triggerConfig": {"every_minutes": 30}}, "input.triggerType"),
        (
            {"triggerConfig": {"item_types": ["approval", "alert"]}},
            "input.triggerConfig.item_types",
        ),
        ({"actionConfig": {"fields": [], "min_confidence": 0.9}}, "input.actionConfig.fields"),
        ({"actionType": "DIGEST"}, "input.actionConfig"),
        ({"name": ""}, "input.name"),
        ({"actionConfig": "loud"}, "input.actionConfig"),
    ]
    for change, field in cases:
        body = gql.query(UPDATE, {"id": approve["id"], "input": change}, token=home.member_token)
        assert bad_input(body)[0] == field, (change, body)
    assert await stored_row(pool, approve["id"]) == before


async def test_only_the_owner_changes_or_deletes_an_automation(
    gql: GraphQL, pool: asyncpg.Pool, tenants: Tenants
) -> None:
    home = await fresh_tenant(pool)
    members = create(gql, home.member_token)
    admins = create(gql, home.admin_token, name="Admin's own")
    before = await stored_row(pool, members["id"])

    for token, automation in ((home.admin_token, members), (home.member_token, admins)):
        for query, variables in (
            (UPDATE, {"id": automation["id"], "input": {"isActive": False}}),
            (DELETE, {"id": automation["id"]}),
        ):
            body = gql.query(query, variables, token=token)
            assert error_codes(body) == ["FORBIDDEN"], body
    # Another workspace does not even learn that it exists.
    for query, variables in (
        (UPDATE, {"id": members["id"], "input": {"isActive": False}}),
        (DELETE, {"id": members["id"]}),
    ):
        body = gql.query(query, variables, token=tenants.other.admin_token)
        assert error_codes(body) == ["NOT_FOUND"]
        assert body["errors"][0]["extensions"]["field"] == "id"
    assert await stored_row(pool, members["id"]) == before
    assert await count_rows(pool, home.workspace_id) == 2


async def test_an_admin_reads_a_members_automations_and_a_member_only_their_own(
    gql: GraphQL, pool: asyncpg.Pool, tenants: Tenants
) -> None:
    home = await fresh_tenant(pool)
    members = create(gql, home.member_token)
    hook = create(
        gql,
        home.member_token,
        **webhook_to("https://hooks.example.com/services/T0/B0/key-in-the-path"),
    )
    create(gql, home.admin_token, name="Admin's own")

    seen = gql.data(LIST, {"user": str(home.member_id)}, token=home.admin_token)
    assert [a["id"] for a in seen["userAutomations"]] == [members["id"], hook["id"]]
    # A webhook URL is often a credential: someone else sees only where it goes.
    assert seen["userAutomations"][1]["actionConfig"] == {"url": "https://hooks.example.com/..."}
    own = gql.data(LIST, {"user": str(home.member_id)}, token=home.member_token)
    assert own["userAutomations"][1]["actionConfig"]["url"].endswith("/key-in-the-path")
    refused = gql.query(LIST, {"user": str(home.admin_id)}, token=home.member_token)
    assert error_codes(refused) == ["FORBIDDEN"]
    assert refused["errors"][0]["extensions"]["field"] == "userId"
    outsider = gql.query(LIST, {"user": str(tenants.other.member_id)}, token=home.admin_token)
    assert error_codes(outsider) == ["FORBIDDEN"]
    # The same user's automations of another workspace are not listed through this one.
    theirs = gql.data(LIST, {"user": str(tenants.other.member_id)}, token=tenants.other.admin_token)
    assert members["id"] not in str(theirs)


async def test_deleting_removes_it_once_and_every_change_is_audited(
    gql: GraphQL, pool: asyncpg.Pool
) -> None:
    home = await fresh_tenant(pool)
    created = create(gql, home.member_token)
    gql.data(UPDATE, {"id": created["id"], "input": {"isActive": False}}, token=home.member_token)
    assert gql.data(DELETE, {"id": created["id"]}, token=home.member_token) == {
        "deleteUserAutomation": True
    }
    listed = gql.data(LIST, {"user": str(home.member_id)}, token=home.member_token)
    assert listed["userAutomations"] == []
    again = gql.query(DELETE, {"id": created["id"]}, token=home.member_token)
    assert error_codes(again) == ["NOT_FOUND"]
    assert again["errors"][0]["extensions"]["field"] == "id"

    rows = await pool.fetch(
        "SELECT actor_user_id, action, details FROM audit_log WHERE target_id = $1"
        " ORDER BY created_at",
        created["id"],
    )
    assert [(r["actor_user_id"], r["action"]) for r in rows] == [
        (home.member_id, "automation.create"),
        (home.member_id, "automation.update"),
        (home.member_id, "automation.delete"),
    ]
    assert rows[1]["details"]["is_active"] is False


async def test_every_operation_needs_a_token(gql: GraphQL, tenants: Tenants) -> None:
    home = tenants.home
    some_id = str(uuid.uuid4())
    for query, variables in (
        (LIST, {"user": str(home.member_id)}),
        (CREATE, {"input": NOTIFY_ON_APPROVALS}),
        (UPDATE, {"id": some_id, "input": {"isActive": False}}),
        (DELETE, {"id": some_id}),
    ):
        assert error_codes(gql.query(query, variables)) == ["UNAUTHENTICATED"]
    bad = gql.query(DELETE, {"id": "nope"}, token=home.member_token)
    assert bad_input(bad)[0] == "id"


async def test_the_setting_lets_webhooks_reach_private_hosts(
    database_dsn: str, pool: asyncpg.Pool
) -> None:
    home = await fresh_tenant(pool)
    app = build_api_app(settings_for(database_dsn, allow_private=True))
    with serve_asgi(app) as url:
        local = GraphQL(url)
        try:
            created = create(
                local,
                home.member_token,
                actionType="WEBHOOK",
                actionConfig={"url": "https://127.0.0.1:8443/hook"},
            )
            plain_http = local.query(
                CREATE,
                {
                    "input": {
                        **NOTIFY_ON_APPROVALS,
                        "actionType": "WEBHOOK",
                        "actionConfig": {"url": "http://127.0.0.1:8443/hook"},
                    }
                },
                token=home.member_token,
            )
        finally:
            local.http.close()
    assert created["actionConfig"] == {"url": "https://127.0.0.1:8443/hook"}
    assert bad_input(plain_http)[0] == "input.actionConfig.url"
    [stored] = await list_automations(pool, home.workspace_id, home.member_id)
    assert isinstance(stored.action, Webhook)
    assert stored.action.url == "https://127.0.0.1:8443/hook"
