"""The authorization matrix: every operation of the schema as {no token, another workspace's
admin, a member, an admin} of the home workspace, against ``runtime/api/context.py``'s rules.

The operations come from introspecting the schema, so a new operation without a row in
``ROWS`` fails ``test_every_operation_has_a_row``. A row holds one or more cases: the
arguments (built afresh for each role, so mutations find their object in the state they
need) and the outcome per role: ``OK`` (no error), ``NULL`` (no error, the field null) or
the error code. Queries and mutations go over HTTP; subscriptions over a websocket, where
``OK`` means an event raised afterwards arrives and no token is a refused connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import asyncpg
import graphql
import pytest

from runtime.anomalies.models import AnomalyCreate
from runtime.anomalies.repo import AnomalyRepo
from runtime.api.schema import build_schema
from tests.api.conftest import GraphQL, Tenants, error_codes
from tests.api.graphql_ws import (
    close_code,
    error_codes_of,
    receive,
    send,
    socket,
    subscribe,
    until_live,
)
from tests.api.graphql_ws import session as ws_session
from tests.api.read_rows import add_agent, add_meeting
from tests.decision_setup import make_item
from tests.meetings import example_meeting

Role = Literal["none", "other", "member", "admin"]
ROLES: tuple[Role, ...] = ("none", "other", "member", "admin")

OK = "OK"
NULL = "NULL"
U, F, NF = "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"

Variables = dict[str, Any]


@dataclass
class World:
    """The home workspace's objects, made on demand; ``other`` acts on them from outside."""

    gql: GraphQL
    tenants: Tenants
    pool: asyncpg.Pool

    @property
    def ws(self) -> str:
        return str(self.tenants.home.workspace_id)

    @property
    def member(self) -> str:
        return str(self.tenants.home.member_id)

    @property
    def admin(self) -> str:
        return str(self.tenants.home.admin_id)

    async def agent(self, *, active: bool = False) -> str:
        home = self.tenants.home
        agent_id = await add_agent(self.pool, home.workspace_id, home.admin_id, _unique("Agent"))
        if active:
            await self.pool.execute(
                "UPDATE agent_configs SET status = 'active' WHERE id = $1", agent_id
            )
        return str(agent_id)

    async def meeting(self) -> str:
        return str(await add_meeting(self.pool, self.tenants.home.workspace_id, _unique("Call")))

    async def item(self, user: str, item_type: Literal["approval", "question"] = "approval") -> str:
        made = await make_item(
            self.pool, self.tenants.home.workspace_id, UUID(user), item_type=item_type
        )
        return str(made.item.id)

    async def anomaly(self) -> str:
        stored = await AnomalyRepo(self.pool).insert(
            self.tenants.home.workspace_id,
            AnomalyCreate(anomaly_type="high_failure_rate", severity="error", title="Failing"),
        )
        return str(stored.id)

    async def automation(self, owner_token: str) -> str:
        created = self.gql.data(
            "mutation($in: CreateUserAutomationInput!) { createUserAutomation(input: $in) { id } }",
            {"in": NOTIFY},
            token=owner_token,
        )
        automation_id: str = created["createUserAutomation"]["id"]
        return automation_id

    async def activity_event(self, _variables: Variables) -> UUID:
        found: UUID = await self.pool.fetchval(
            "INSERT INTO activity_logs (workspace_id, action_type) VALUES ($1, 'update')"
            " RETURNING id",
            self.tenants.home.workspace_id,
        )
        return found

    async def inbox_event(self, variables: Variables) -> UUID:
        found: UUID = await self.pool.fetchval(
            "INSERT INTO inbox_items (workspace_id, user_id, item_type, title)"
            " VALUES ($1, $2, 'alert', 'Look') RETURNING id",
            self.tenants.home.workspace_id,
            UUID(variables["userId"]),
        )
        return found

    async def anomaly_event(self, _variables: Variables) -> UUID:
        return UUID(await self.anomaly())

    async def activity_status_event(self, variables: Variables) -> UUID:
        found = await self.activity_event(variables)
        await self.pool.execute("UPDATE activity_logs SET status = 'success' WHERE id = $1", found)
        return found

    async def anomaly_status_event(self, _variables: Variables) -> UUID:
        found = UUID(await self.anomaly())
        await self.pool.execute("UPDATE anomalies SET status = 'resolved' WHERE id = $1", found)
        return found

    async def inbox_status_event(self, variables: Variables) -> UUID:
        found = await self.inbox_event(variables)
        await self.pool.execute("UPDATE inbox_items SET status = 'rejected' WHERE id = $1", found)
        return found


Arguments = Callable[[World], Awaitable[Variables]]
EventRaiser = Callable[[World, Variables], Awaitable[UUID]]


@dataclass(frozen=True)
class Case:
    label: str
    arguments: Arguments
    expect: dict[Role, str]
    event: EventRaiser | None = None  # subscriptions: what makes one arrive


def case(
    label: str, arguments: Arguments, other: str, member: str, admin: str, none: str = U
) -> Case:
    return Case(label, arguments, {"none": none, "other": other, "member": member, "admin": admin})


def _unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


NOTIFY: Variables = {
    "name": "Tell me",
    "triggerType": "INBOX_ITEM_CREATED",
    "triggerConfig": {},
    "actionType": "NOTIFY",
    "actionConfig": {"channels": ["in_app"]},
}


async def _nothing(_world: World) -> Variables:
    return {}


async def _workspace(world: World) -> Variables:
    return {"workspaceId": world.ws}


async def _member(world: World) -> Variables:
    return {"userId": world.member}


async def _admin(world: World) -> Variables:
    return {"userId": world.admin}


async def _agent(world: World) -> Variables:
    return {"id": await world.agent()}


async def _active_agent(world: World) -> Variables:
    return {"id": await world.agent(active=True)}


async def _member_item(world: World) -> Variables:
    return {"id": await world.item(world.member)}


async def _admin_item(world: World) -> Variables:
    return {"id": await world.item(world.admin)}


async def _member_question(world: World) -> Variables:
    return {"id": await world.item(world.member, "question"), "dealId": "301"}


async def _admin_question(world: World) -> Variables:
    return {"id": await world.item(world.admin, "question"), "dealId": "301"}


async def _anomaly(world: World) -> Variables:
    return {"id": await world.anomaly()}


async def _members_automation(world: World) -> Variables:
    return {"id": await world.automation(world.tenants.home.member_token)}


def _with(arguments: Arguments, **more: Any) -> Arguments:
    async def build(world: World) -> Variables:
        return {**await arguments(world), **more}

    return build


async def _preview(world: World) -> Variables:
    return {"agentConfigId": await world.agent(), "meetingId": await world.meeting()}


async def _ingest(world: World) -> Variables:
    return {"workspaceId": world.ws, "input": example_meeting(external_id=_unique("zoom"))}


async def _member_activity_filter(world: World) -> Variables:
    return {"workspaceId": world.ws, "filters": {"userId": world.admin}}


async def _batch_member(world: World) -> Variables:
    return {"ids": [await world.item(world.member)]}


async def _batch_admin(world: World) -> Variables:
    return {"ids": [await world.item(world.admin)]}


async def _preference_of(world: World, user: str) -> Variables:
    return {
        "input": {
            "channel": "SLACK",
            "notificationType": "ERROR",
            "isEnabled": False,
            "userId": user,
        }
    }


async def _members_preference(world: World) -> Variables:
    return await _preference_of(world, world.member)


async def _admins_preference(world: World) -> Variables:
    return await _preference_of(world, world.admin)


def _users(name: str) -> list[Case]:
    """A ``userId`` operation: the member's data, then the admin's."""
    return [
        case(f"{name} of the member", _member, other=F, member=OK, admin=OK),
        case(f"{name} of the admin", _admin, other=F, member=F, admin=OK),
    ]


ROWS: dict[str, list[Case]] = {
    # Queries
    "agentConfigs": [case("the workspace's agents", _workspace, other=F, member=OK, admin=OK)],
    "agentConfig": [case("an agent by id", _agent, other=NULL, member=OK, admin=OK)],
    # No workspace argument: each token reads its own workspace's templates.
    "agentTemplates": [case("templates", _nothing, other=OK, member=OK, admin=OK)],
    "activityLogs": [
        case("the workspace's activity", _workspace, other=F, member=OK, admin=OK),
        case("filtered to the admin", _member_activity_filter, other=F, member=F, admin=OK),
    ],
    "inboxItems": _users("inbox"),
    "inboxCount": _users("inbox count"),
    "inboxItem": [
        case("the member's item", _member_item, other=NULL, member=OK, admin=OK),
        case("the admin's item", _admin_item, other=NULL, member=F, admin=OK),
    ],
    "workspaceMetrics": [
        case("metrics", _with(_workspace, window="1h"), other=F, member=OK, admin=OK)
    ],
    "auditLog": [case("the audit log", _workspace, other=F, member=F, admin=OK)],
    "meeting": [
        case("a meeting by id", lambda w: _id_of(w.meeting()), other=NULL, member=OK, admin=OK)
    ],
    "meetings": [case("the workspace's meetings", _workspace, other=F, member=OK, admin=OK)],
    # Null data without a connection: OK means no error.
    "crmConnection": [case("connection status", _workspace, other=F, member=OK, admin=OK)],
    # The admin passes authorization and meets the next check: no CRM connection.
    "crmDealProperties": [
        case("the CRM's deal properties", _workspace, other=F, member=F, admin="CONFLICT")
    ],
    "crmDealPipelines": [
        case("the CRM's deal pipelines", _workspace, other=F, member=F, admin="CONFLICT")
    ],
    "anomalies": [case("the workspace's anomalies", _workspace, other=F, member=OK, admin=OK)],
    "userAutomations": _users("automations"),
    "notificationPreferences": _users("preferences"),
    # Mutations
    "createAgentConfig": [
        case(
            "a new agent in the workspace",
            lambda w: _value({"input": {"workspaceId": w.ws, "templateKey": "demo"}}),
            other=F,
            member=F,
            admin=OK,
        )
    ],
    "updateAgentConfig": [
        case(
            "rename an agent",
            _with(_agent, input={"name": "Renamed"}),
            other=NF,
            member=F,
            admin=OK,
        )
    ],
    "activateAgent": [case("activate a draft", _agent, other=NF, member=F, admin=OK)],
    "pauseAgent": [case("pause an active agent", _active_agent, other=NF, member=F, admin=OK)],
    # The admin passes authorization and meets the next check: no CRM connection.
    "previewAgentRun": [
        case("preview on a meeting", _preview, other=NF, member=F, admin="CONFLICT")
    ],
    "ingestMeeting": [case("ingest a meeting", _ingest, other=F, member=OK, admin=OK)],
    # The matrix's server has no OAuth app configured: the admin meets that check.
    "startCrmOAuth": [case("start connecting", _workspace, other=F, member=F, admin="CONFLICT")],
    # An empty token is refused before HubSpot is asked.
    "connectCrmPrivateToken": [
        case(
            "connect with a token",
            _with(_workspace, token=""),
            other=F,
            member=F,
            admin="BAD_USER_INPUT",
        )
    ],
    "disconnectCrm": [case("disconnect", _workspace, other=F, member=F, admin=NF)],
    "approveInboxItem": [
        case("the member's item", _member_item, other=NF, member=OK, admin=OK),
        case("the admin's item", _admin_item, other=NF, member=F, admin=OK),
    ],
    "rejectInboxItem": [
        case("the member's item", _member_item, other=NF, member=OK, admin=OK),
        case("the admin's item", _admin_item, other=NF, member=F, admin=OK),
    ],
    # Past authorization, the next check: this question's activity has no meeting to run.
    "answerInboxQuestion": [
        case(
            "the member's question", _member_question, other=NF, member="CONFLICT", admin="CONFLICT"
        ),
        case("the admin's question", _admin_question, other=NF, member=F, admin="CONFLICT"),
    ],
    "batchApproveInboxItems": [
        case("the member's item", _batch_member, other=NF, member=OK, admin=OK),
        case("the admin's item", _batch_admin, other=NF, member=F, admin=OK),
    ],
    "acknowledgeAnomaly": [case("acknowledge", _anomaly, other=NF, member=OK, admin=OK)],
    "resolveAnomaly": [case("resolve", _anomaly, other=NF, member=F, admin=OK)],
    # The owner is the token's user: another workspace's admin makes their own.
    "createUserAutomation": [
        case("a new automation", lambda w: _value({"input": NOTIFY}), other=OK, member=OK, admin=OK)
    ],
    # Only the owner changes an automation, not even an admin.
    "updateUserAutomation": [
        case(
            "the member's automation",
            _with(_members_automation, input={"name": "Renamed"}),
            other=NF,
            member=OK,
            admin=F,
        )
    ],
    "deleteUserAutomation": [
        case("the member's automation", _members_automation, other=NF, member=OK, admin=F)
    ],
    "updateNotificationPreference": [
        case("the member's preference", _members_preference, other=F, member=OK, admin=OK),
        case("the admin's preference", _admins_preference, other=F, member=F, admin=OK),
    ],
    # Subscriptions
    "activityLogCreated": [
        Case(
            "the workspace's activity",
            _workspace,
            {"none": U, "other": F, "member": OK, "admin": OK},
            World.activity_event,
        )
    ],
    "inboxItemCreated": [
        Case(
            "the member's inbox",
            _member,
            {"none": U, "other": F, "member": OK, "admin": OK},
            World.inbox_event,
        ),
        Case(
            "the admin's inbox",
            _admin,
            {"none": U, "other": F, "member": F, "admin": OK},
            World.inbox_event,
        ),
    ],
    "anomalyDetected": [
        Case(
            "the workspace's anomalies",
            _workspace,
            {"none": U, "other": F, "member": OK, "admin": OK},
            World.anomaly_event,
        )
    ],
    "activityLogUpdated": [
        Case(
            "the workspace's activity",
            _workspace,
            {"none": U, "other": F, "member": OK, "admin": OK},
            World.activity_status_event,
        )
    ],
    "anomalyUpdated": [
        Case(
            "the workspace's anomalies",
            _workspace,
            {"none": U, "other": F, "member": OK, "admin": OK},
            World.anomaly_status_event,
        )
    ],
    "inboxItemUpdated": [
        Case(
            "the member's inbox",
            _member,
            {"none": U, "other": F, "member": OK, "admin": OK},
            World.inbox_status_event,
        ),
        Case(
            "the admin's inbox",
            _admin,
            {"none": U, "other": F, "member": F, "admin": OK},
            World.inbox_status_event,
        ),
    ],
}


async def _value(variables: Variables) -> Variables:
    return variables


async def _id_of(made: Awaitable[str]) -> Variables:
    return {"id": await made}


_SCHEMA = build_schema()._schema


def _operations() -> dict[str, tuple[str, graphql.GraphQLField]]:
    """Every root field: name -> (operation kind, field)."""
    found = {}
    for kind, root in (
        ("query", _SCHEMA.query_type),
        ("mutation", _SCHEMA.mutation_type),
        ("subscription", _SCHEMA.subscription_type),
    ):
        for name, field in (root.fields if root else {}).items():
            found[name] = (kind, field)
    return found


OPERATIONS = _operations()


def _document(name: str, variables: Variables) -> str:
    """``kind($a: T, ...) { name(a: $a, ...) { __typename } }`` for the arguments given."""
    kind, field = OPERATIONS[name]
    declared = ", ".join(f"${arg}: {field.args[arg].type}" for arg in variables)
    passed = ", ".join(f"{arg}: ${arg}" for arg in variables)
    named = graphql.get_named_type(field.type)
    selection = "" if graphql.is_leaf_type(named) else " { __typename }"
    head = f"{kind}({declared})" if variables else kind
    call = f"{name}({passed})" if variables else name
    return f"{head} {{ {call}{selection} }}"


def _token(tenants: Tenants, role: Role) -> str | None:
    return {
        "none": None,
        "other": tenants.other.admin_token,
        "member": tenants.home.member_token,
        "admin": tenants.home.admin_token,
    }[role]


PARAMS = [
    pytest.param(name, index, role, id=f"{name}[{row.label}]-{role}")
    for name, cases in ROWS.items()
    for index, row in enumerate(cases)
    for role in ROLES
]


@pytest.fixture(scope="module")
def world(gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool) -> World:
    return World(gql, tenants, pool)


def test_every_operation_has_a_row(gql: GraphQL, tenants: Tenants) -> None:
    introspected = gql.data(
        "{ __schema { queryType { fields { name } } mutationType { fields { name } }"
        " subscriptionType { fields { name } } } }",
        token=tenants.home.member_token,
    )["__schema"]
    served = {
        field["name"]
        for root in ("queryType", "mutationType", "subscriptionType")
        for field in (introspected[root] or {}).get("fields", [])
    }
    assert served == set(OPERATIONS)  # the served schema is the one built here
    missing = sorted(served - set(ROWS))
    assert not missing, f"operations without a row in the authorization matrix: {missing}"
    assert not sorted(set(ROWS) - served), "rows for operations the schema does not have"


def test_every_row_is_complete() -> None:
    """Checked without a server: a row with a role left out would test nothing for it."""
    problems = []
    for name, cases in ROWS.items():
        for row in cases:
            if set(row.expect) != set(ROLES):
                problems.append(f"{name}[{row.label}]: expectations for {sorted(row.expect)}")
            subscription = name in OPERATIONS and OPERATIONS[name][0] == "subscription"
            if subscription != (row.event is not None):
                problems.append(f"{name}[{row.label}]: an event raiser is for subscriptions")
    assert not problems, problems


@pytest.mark.parametrize(("name", "index", "role"), PARAMS)
async def test_authorization(world: World, name: str, index: int, role: Role) -> None:
    row = ROWS[name][index]
    variables = await row.arguments(world)
    arguments = OPERATIONS[name][1].args
    missing = {a for a, spec in arguments.items() if graphql.is_required_argument(spec)}
    assert not missing - set(variables), f"the row gives no {sorted(missing - set(variables))}"
    assert not set(variables) - set(arguments), (
        f"no such arguments: {set(variables) - set(arguments)}"
    )
    document = _document(name, variables)
    expected = row.expect[role]
    token = _token(world.tenants, role)
    if OPERATIONS[name][0] == "subscription":
        assert row.event is not None
        await _check_subscription(world, document, variables, token, expected, row.event)
        return
    body = world.gql.query(document, variables, token=token)
    if expected in (OK, NULL):
        assert "errors" not in body, body["errors"]
        assert body["data"] is not None
        if expected == NULL:
            assert body["data"][name] is None
        elif not graphql.is_nullable_type(OPERATIONS[name][1].type):
            assert body["data"][name] is not None
    else:
        assert error_codes(body) == [expected], body
        assert not (body.get("data") or {}).get(name), "a refused operation shows nothing"


async def _check_subscription(
    world: World,
    document: str,
    variables: Variables,
    token: str | None,
    expected: str,
    event: EventRaiser,
) -> None:
    api_url = world.gql.url
    if token is None:
        assert expected == U
        async with socket(api_url) as ws:
            await send(ws, {"type": "connection_init", "payload": {}})
            assert await close_code(ws) == 4403
        return
    async with ws_session(api_url, token) as ws:
        await subscribe(ws, "1", document, variables)
        if expected == OK:
            message, raised = await until_live(ws, lambda: event(world, variables))
            assert message["type"] == "next", message
            node = next(iter(message["payload"]["data"].values()))
            assert node["__typename"]
            assert "errors" not in message["payload"]
            assert len(raised) >= 1
        else:
            message = await receive(ws)
            assert error_codes_of(message) == [expected]
