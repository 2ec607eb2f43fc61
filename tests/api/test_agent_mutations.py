"""Configuring agents over HTTP: create, update, activate, pause, preview, and who may."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from runtime.agents.templates import all_templates, template_for
from runtime.api.http import build_api_app
from runtime.connections.service import connect_private_token
from runtime.crm.hubspot.emulator import EmulatorConfig
from tests.api.conftest import GraphQL, ModuleKeys, Tenants, api_settings, error_codes
from tests.http_server import serve_asgi
from tests.hubspot_emulator import NO_LATENCY, TOKEN, RunningEmulator, running_emulator
from tests.meetings import example_meeting, transcript
from tests.pipeline_setup import PRICE_AGREED

KEYS = ModuleKeys()
AGENT_FIELDS = "id name status crmType callType config isTemplate description createdBy { id }"
CREATE = f"mutation($in: CreateAgentConfigInput!) {{ createAgentConfig(input: $in) {{ {AGENT_FIELDS} }} }}"  # noqa: E501
UPDATE = f"mutation($id: ID!, $in: UpdateAgentConfigInput!) {{ updateAgentConfig(id: $id, input: $in) {{ {AGENT_FIELDS} }} }}"  # noqa: E501
ACTIVATE = "mutation($id: ID!) { activateAgent(id: $id) { id status updatedAt } }"
PAUSE = "mutation($id: ID!) { pauseAgent(id: $id) { id status updatedAt } }"
PREVIEW = """
mutation($agent: ID!, $meeting: ID!) {
  previewAgentRun(agentConfigId: $agent, meetingId: $meeting) {
    matchedRecord { id objectType properties }
    matchConfidence
    fieldsToUpdate { fieldName currentValue newValue confidence source }
    warnings
  }
}
"""
INGEST = """
mutation($ws: ID!, $in: JSON!) { ingestMeeting(workspaceId: $ws, input: $in) { meeting { id } } }
"""
SAID = transcript(*PRICE_AGREED)
TEMPLATE_KEYS = [t.call_type for t in all_templates()]
# Every table a run would leave rows in; a preview must leave none of them.
RUN_TABLES = ("agent_runs", "activity_logs", "inbox_items", "proposals", "write_outbox")


@pytest.fixture(scope="module")
def api_url(database_dsn: str) -> Iterator[str]:
    """The API with a key ring of its own, so that it opens the connections tests store."""
    with serve_asgi(build_api_app(KEYS.settings(api_settings(database_dsn)))) as url:
        yield url


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator(EmulatorConfig(tokens=(TOKEN,), latency=NO_LATENCY)) as running:
        yield running


@pytest.fixture(scope="module")
async def connected(pool: asyncpg.Pool, tenants: Tenants, emulator: RunningEmulator) -> str:
    """The home workspace connected to the emulator (the other one has no connection)."""
    await connect_private_token(
        pool,
        KEYS.keyring,
        tenants.home.workspace_id,
        token=TOKEN,
        base_url=emulator.url,
        created_by=tenants.home.admin_id,
    )
    return emulator.url


def _config(*call_types: str, threshold: float = 0.9) -> dict[str, Any]:
    return {
        "call_types": list(call_types),
        "fields": {"amount": {"auto_apply_threshold": threshold}},
    }


def _create(gql: GraphQL, token: str, **fields: Any) -> dict[str, Any]:
    agent: dict[str, Any] = gql.data(CREATE, {"in": fields}, token=token)["createAgentConfig"]
    return agent


def _template_id(gql: GraphQL, token: str, key: str) -> str:
    templates = gql.data("{ agentTemplates { id templateKey } }", token=token)["agentTemplates"]
    return next(str(t["id"]) for t in templates if t["templateKey"] == key)


async def _count(pool: asyncpg.Pool, table: str, workspace_id: UUID) -> int:
    found: int = await pool.fetchval(
        f"SELECT count(*) FROM {table} WHERE workspace_id = $1", workspace_id
    )
    return found


def _ingest(gql: GraphQL, token: str, workspace_id: UUID, **changes: Any) -> str:
    meeting = example_meeting(external_id=f"zoom-{uuid.uuid4().hex[:10]}", **changes)
    data = gql.data(INGEST, {"ws": str(workspace_id), "in": meeting}, token=token)
    meeting_id: str = data["ingestMeeting"]["meeting"]["id"]
    return meeting_id


def test_an_admin_creates_a_draft_from_a_config_as_themselves(
    gql: GraphQL, tenants: Tenants
) -> None:
    agent = _create(
        gql,
        tenants.home.admin_token,
        name="  Renewals  ",
        config=_config("Renewal", "QBR"),
        callType="qbr",
        description="Renewal calls",
    )
    assert (agent["name"], agent["status"], agent["crmType"]) == ("Renewals", "DRAFT", "HUBSPOT")
    assert (agent["callType"], agent["config"]["call_types"]) == ("qbr", ["renewal", "qbr"])
    assert (agent["isTemplate"], agent["description"]) == (False, "Renewal calls")
    assert agent["createdBy"]["id"] == str(tenants.home.admin_id)  # the token's user
    listed = gql.data(
        "query($ws: ID!) { agentConfigs(workspaceId: $ws) { id } }",
        {"ws": str(tenants.home.workspace_id)},
        token=tenants.home.member_token,
    )
    assert agent["id"] in {a["id"] for a in listed["agentConfigs"]}


def test_the_creator_cannot_be_chosen_in_the_request(gql: GraphQL, tenants: Tenants) -> None:
    chosen = f'templateKey: "demo", createdBy: "{tenants.home.member_id}"'
    body = gql.query(
        f"mutation {{ createAgentConfig(input: {{{chosen}}}) {{ id }} }}",
        token=tenants.home.admin_token,
    )
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "createdBy" in body["errors"][0]["message"]


def test_an_admin_creates_agents_from_templates(gql: GraphQL, tenants: Tenants) -> None:
    token = tenants.home.admin_token
    by_key = _create(gql, token, templateKey=" Discovery ")
    discovery = template_for("discovery")
    assert discovery is not None
    assert (by_key["name"], by_key["status"], by_key["isTemplate"]) == (
        discovery.name,
        "DRAFT",
        False,
    )
    assert by_key["config"] == discovery.config.model_dump(mode="json")
    assert by_key["description"] == discovery.description

    by_id = _create(gql, token, templateId=_template_id(gql, token, "demo"), name="EMEA demos")
    demo = template_for("demo")
    assert demo is not None
    assert (by_id["name"], by_id["callType"]) == ("EMEA demos", "demo")
    assert by_id["config"] == demo.config.model_dump(mode="json")


BAD_CREATES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "threshold above 1",
        {"name": "A", "config": _config("demo", threshold=1.5)},
        "input.config.fields.amount.auto_apply_threshold",
        "less than or equal to 1",
    ),
    (
        "unknown config key",
        {"name": "A", "config": {**_config("demo"), "colour": "red"}},
        "input.config.colour",
        "not a known field",
    ),
    (
        "empty call type in the list",
        {"name": "A", "config": _config("demo", " ")},
        "input.config.call_types",
        "must not be empty",
    ),
    ("blank name", {"name": "  ", "config": _config("demo")}, "input.name", "must not be empty"),
    ("no name with a config", {"config": _config("demo")}, "input.name", "required"),
    ("neither config nor template", {"name": "A"}, "input.config", "required"),
    ("config not an object", {"name": "A", "config": [1, 2]}, "input.config", "JSON object"),
    (
        "primary call type not configured",
        {"name": "A", "config": _config("demo"), "callType": "renewal"},
        "input.callType",
        "not one of the config's call_types",
    ),
    (
        "salesforce",
        {"name": "A", "config": _config("demo"), "crmType": "SALESFORCE"},
        "input.crmType",
        "only HUBSPOT",
    ),
    (
        "salesforce in the config",
        {"name": "A", "config": {**_config("demo"), "crm_type": "salesforce"}},
        "input.config.crm_type",
        "not supported",
    ),
    (
        "config and template",
        {"templateKey": "demo", "config": _config("demo")},
        "input.config",
        "not both",
    ),
    ("unknown template", {"templateKey": "webinar"}, "input.templateKey", "known: discovery"),
    ("template id not an id", {"templateId": "nope"}, "input.templateId", "not an id"),
    (
        "template with an unconfigured call type",
        {"templateKey": "demo", "callType": "renewal"},
        "input.callType",
        "not one of the config's call_types",
    ),
]


@pytest.mark.parametrize(
    ("fields", "path", "words"),
    [case[1:] for case in BAD_CREATES],
    ids=[case[0] for case in BAD_CREATES],
)
async def test_bad_input_names_its_path_and_stores_nothing(
    gql: GraphQL,
    tenants: Tenants,
    pool: asyncpg.Pool,
    fields: dict[str, Any],
    path: str,
    words: str,
) -> None:
    before = await _count(pool, "agent_configs", tenants.home.workspace_id)
    body = gql.query(CREATE, {"in": fields}, token=tenants.home.admin_token)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    error = body["errors"][0]
    assert error["extensions"]["field"] == path
    assert words in error["message"]
    assert body["data"] is None
    assert await _count(pool, "agent_configs", tenants.home.workspace_id) == before


def test_every_problem_of_an_input_is_listed(gql: GraphQL, tenants: Tenants) -> None:
    body = gql.query(
        CREATE,
        {"in": {"name": " ", "config": {**_config("demo", threshold=2), "colour": "red"}}},
        token=tenants.home.admin_token,
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    listed = {p["field"] for p in body["errors"][0]["extensions"]["problems"]}
    assert listed == {
        "input.name",
        "input.config.fields.amount.auto_apply_threshold",
        "input.config.colour",
    }


def test_a_template_of_another_workspace_is_not_found(gql: GraphQL, tenants: Tenants) -> None:
    theirs = _template_id(gql, tenants.other.admin_token, "demo")
    body = gql.query(CREATE, {"in": {"templateId": theirs}}, token=tenants.home.admin_token)
    assert error_codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["extensions"]["field"] == "input.templateId"


def test_an_agent_is_not_a_template_to_start_from(gql: GraphQL, tenants: Tenants) -> None:
    agent = _create(gql, tenants.home.admin_token, name="A", config=_config("demo"))
    body = gql.query(CREATE, {"in": {"templateId": agent["id"]}}, token=tenants.home.admin_token)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "input.templateId"
    assert "not a template" in body["errors"][0]["message"]


def test_another_workspace_in_the_input_is_forbidden(gql: GraphQL, tenants: Tenants) -> None:
    body = gql.query(
        CREATE,
        {
            "in": {
                "workspaceId": str(tenants.other.workspace_id),
                "name": "A",
                "config": _config("demo"),
            }
        },
        token=tenants.home.admin_token,
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["extensions"]["field"] == "input.workspaceId"
    mine = _create(
        gql,
        tenants.home.admin_token,
        workspaceId=str(tenants.home.workspace_id),
        name="Mine",
        config=_config("demo"),
    )
    assert mine["status"] == "DRAFT"


async def test_update_renames_replaces_the_config_and_the_description(
    gql: GraphQL, tenants: Tenants
) -> None:
    token = tenants.home.admin_token
    agent = _create(gql, token, name="Demos", config=_config("demo", "qbr"), description="old")
    renamed = gql.data(UPDATE, {"id": agent["id"], "in": {"name": "EMEA demos"}}, token=token)
    assert renamed["updateAgentConfig"]["name"] == "EMEA demos"
    assert renamed["updateAgentConfig"]["config"] == agent["config"]
    assert renamed["updateAgentConfig"]["description"] == "old"

    new_config = _config("Renewal", threshold=0.7)
    replaced = gql.data(
        UPDATE, {"id": agent["id"], "in": {"config": new_config, "description": " "}}, token=token
    )["updateAgentConfig"]
    assert replaced["config"]["fields"]["amount"]["auto_apply_threshold"] == 0.7
    assert (replaced["callType"], replaced["name"]) == ("renewal", "EMEA demos")
    assert replaced["description"] is None  # a blank description removes it


async def test_a_bad_update_names_the_field_and_changes_nothing(
    gql: GraphQL, tenants: Tenants
) -> None:
    token = tenants.home.admin_token
    agent = _create(gql, token, name="Demos", config=_config("demo"))
    body = gql.query(
        UPDATE,
        {"id": agent["id"], "in": {"name": "New", "config": _config("demo", threshold=-1)}},
        token=token,
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == (
        "input.config.fields.amount.auto_apply_threshold"
    )
    nothing = gql.query(UPDATE, {"id": agent["id"], "in": {}}, token=token)
    assert error_codes(nothing) == ["BAD_USER_INPUT"]
    assert nothing["errors"][0]["extensions"]["field"] == "input"
    assert "nothing to change" in nothing["errors"][0]["message"]
    now = gql.data(
        "query($id: ID!) { agentConfig(id: $id) { name config } }", {"id": agent["id"]}, token=token
    )
    assert now["agentConfig"] == {"name": "Demos", "config": agent["config"]}


def test_activate_and_pause_follow_the_allowed_transitions(gql: GraphQL, tenants: Tenants) -> None:
    token = tenants.home.admin_token
    agent = _create(gql, token, name="Demos", config=_config("demo"))
    draft_pause = gql.query(PAUSE, {"id": agent["id"]}, token=token)
    assert error_codes(draft_pause) == ["CONFLICT"]
    assert draft_pause["errors"][0]["extensions"]["field"] == "id"
    assert "is draft" in draft_pause["errors"][0]["message"]

    first = gql.data(ACTIVATE, {"id": agent["id"]}, token=token)["activateAgent"]
    again = gql.data(ACTIVATE, {"id": agent["id"]}, token=token)["activateAgent"]
    assert first["status"] == again["status"] == "ACTIVE"
    assert again["updatedAt"] == first["updatedAt"]  # already active: nothing changed
    paused = gql.data(PAUSE, {"id": agent["id"]}, token=token)["pauseAgent"]
    assert paused["status"] == "PAUSED"
    resumed = gql.data(ACTIVATE, {"id": agent["id"]}, token=token)["activateAgent"]
    assert resumed["status"] == "ACTIVE"

    template = _template_id(gql, token, "demo")
    refused = gql.query(ACTIVATE, {"id": template}, token=token)
    assert error_codes(refused) == ["BAD_USER_INPUT"]
    assert refused["errors"][0]["extensions"]["field"] == "id"
    assert "templates never run" in refused["errors"][0]["message"]


async def test_members_may_not_configure_agents(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    agent = _create(gql, tenants.home.admin_token, name="Demos", config=_config("demo"))
    meeting = _ingest(gql, tenants.home.member_token, tenants.home.workspace_id)
    before = await _count(pool, "agent_configs", tenants.home.workspace_id)
    attempts: list[tuple[str, dict[str, Any]]] = [
        (CREATE, {"in": {"name": "M", "config": _config("demo")}}),
        (CREATE, {"in": {"templateKey": "demo"}}),
        (UPDATE, {"id": agent["id"], "in": {"name": "Mine now"}}),
        (ACTIVATE, {"id": agent["id"]}),
        (PAUSE, {"id": agent["id"]}),
        (PREVIEW, {"agent": agent["id"], "meeting": meeting}),
    ]
    for document, variables in attempts:
        body = gql.query(document, variables, token=tenants.home.member_token)
        assert error_codes(body) == ["FORBIDDEN"], document
        assert body["data"] is None
    assert await _count(pool, "agent_configs", tenants.home.workspace_id) == before
    now = gql.data(
        "query($id: ID!) { agentConfig(id: $id) { name status } }",
        {"id": agent["id"]},
        token=tenants.home.admin_token,
    )
    assert now["agentConfig"] == {"name": "Demos", "status": "DRAFT"}


def test_no_token_is_unauthenticated(gql: GraphQL, tenants: Tenants) -> None:
    some_id = str(uuid.uuid4())
    attempts: list[tuple[str, dict[str, Any]]] = [
        (CREATE, {"in": {"templateKey": "demo"}}),
        (UPDATE, {"id": some_id, "in": {"name": "x"}}),
        (ACTIVATE, {"id": some_id}),
        (PAUSE, {"id": some_id}),
        (PREVIEW, {"agent": some_id, "meeting": some_id}),
    ]
    for document, variables in attempts:
        assert error_codes(gql.query(document, variables)) == ["UNAUTHENTICATED"], document


def test_another_workspaces_agent_is_not_found(gql: GraphQL, tenants: Tenants) -> None:
    theirs = _create(gql, tenants.other.admin_token, name="Theirs", config=_config("demo"))
    their_meeting = _ingest(gql, tenants.other.member_token, tenants.other.workspace_id)
    token = tenants.home.admin_token
    for document, variables, field in [
        (UPDATE, {"id": theirs["id"], "in": {"name": "Stolen"}}, "id"),
        (ACTIVATE, {"id": theirs["id"]}, "id"),
        (PAUSE, {"id": theirs["id"]}, "id"),
        (PREVIEW, {"agent": theirs["id"], "meeting": their_meeting}, "agentConfigId"),
    ]:
        body = gql.query(document, variables, token=token)
        assert error_codes(body) == ["NOT_FOUND"], document
        assert body["errors"][0]["extensions"]["field"] == field
    still = gql.data(
        "query($id: ID!) { agentConfig(id: $id) { name status } }",
        {"id": theirs["id"]},
        token=tenants.other.admin_token,
    )
    assert still["agentConfig"] == {"name": "Theirs", "status": "DRAFT"}


async def test_preview_shows_the_match_and_the_fields_and_writes_nothing(
    gql: GraphQL,
    tenants: Tenants,
    pool: asyncpg.Pool,
    connected: str,
    emulator: RunningEmulator,
) -> None:
    home = tenants.home
    agent = _create(gql, home.admin_token, templateKey="discovery")  # a draft: never ran
    meeting = _ingest(gql, home.member_token, home.workspace_id, transcript=SAID)
    before = {t: await _count(pool, t, home.workspace_id) for t in RUN_TABLES}
    audited_before = await _count(pool, "audit_log", home.workspace_id)

    preview = gql.data(PREVIEW, {"agent": agent["id"], "meeting": meeting}, token=home.admin_token)[
        "previewAgentRun"
    ]

    record = preview["matchedRecord"]
    assert (record["id"], record["objectType"]) == ("301", "deals")
    assert 0.0 < preview["matchConfidence"] <= 1.0
    updates = {u["fieldName"]: u for u in preview["fieldsToUpdate"]}
    assert updates["amount"]["newValue"] == "60000"
    assert updates["amount"]["currentValue"] == record["properties"]["amount"]
    assert 0.0 < updates["amount"]["confidence"] <= 1.0
    assert "Sixty thousand" in updates["amount"]["source"]
    # Nothing of a run is stored, and nothing is written to the CRM.
    assert {t: await _count(pool, t, home.workspace_id) for t in RUN_TABLES} == before
    assert emulator.write_log() == []
    # Only the CRM reads are left behind: in the audit log, under the admin's name.
    reads = await pool.fetch(
        "SELECT action, actor_user_id FROM audit_log WHERE workspace_id = $1"
        " ORDER BY created_at OFFSET $2",
        home.workspace_id,
        audited_before,
    )
    assert reads
    assert {r["actor_user_id"] for r in reads} == {home.admin_id}
    assert {r["action"] for r in reads} <= {
        "crm.read",
        "crm.search",
        "crm.batch_read",
        "crm.associations",
        "crm.definitions",
        "crm.pipelines",
        "crm.list",
    }


def test_preview_of_a_meeting_the_agent_does_not_run_on_says_it_skips(
    gql: GraphQL, tenants: Tenants, connected: str
) -> None:
    home = tenants.home
    agent = _create(gql, home.admin_token, name="Renewals", config=_config("renewal"))
    meeting = _ingest(gql, home.member_token, home.workspace_id, transcript=SAID)
    preview = gql.data(PREVIEW, {"agent": agent["id"], "meeting": meeting}, token=home.admin_token)[
        "previewAgentRun"
    ]
    assert preview["fieldsToUpdate"] == []
    assert preview["matchedRecord"] is None
    assert preview["warnings"][0].startswith("skipped")
    assert "'discovery' is not one of the agent's (renewal)" in " ".join(preview["warnings"])


def test_preview_needs_a_connected_crm_and_a_meeting_of_the_workspace(
    gql: GraphQL, tenants: Tenants, connected: str
) -> None:
    other = tenants.other
    agent = _create(gql, other.admin_token, templateKey="discovery")
    meeting = _ingest(gql, other.admin_token, other.workspace_id)
    unconnected = gql.query(
        PREVIEW, {"agent": agent["id"], "meeting": meeting}, token=other.admin_token
    )
    assert error_codes(unconnected) == ["CONFLICT"]
    assert unconnected["errors"][0]["extensions"]["field"] == "crmConnection"
    assert "no active hubspot connection" in unconnected["errors"][0]["message"]

    home = tenants.home
    mine = _create(gql, home.admin_token, templateKey="discovery")
    elsewhere = gql.query(
        PREVIEW, {"agent": mine["id"], "meeting": meeting}, token=home.admin_token
    )
    assert error_codes(elsewhere) == ["NOT_FOUND"]
    assert elsewhere["errors"][0]["extensions"]["field"] == "meetingId"
    bad = gql.query(PREVIEW, {"agent": mine["id"], "meeting": "nope"}, token=home.admin_token)
    assert error_codes(bad) == ["BAD_USER_INPUT"]
    assert bad["errors"][0]["extensions"]["field"] == "meetingId"
