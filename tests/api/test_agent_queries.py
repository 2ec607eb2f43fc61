"""Reading agents and templates over HTTP, and who may."""

from __future__ import annotations

import logging

import pytest

from tests.api.conftest import GraphQL, Tenants, error_codes

AGENTS = "query($ws: ID!) { agentConfigs(workspaceId: $ws) { id name status createdBy { email } } }"
TEMPLATES = "query($t: String) { agentTemplates(callType: $t) { name isTemplate callType config } }"


def test_a_member_lists_the_workspaces_templates(gql: GraphQL, tenants: Tenants) -> None:
    data = gql.data(TEMPLATES, token=tenants.home.member_token)
    assert data["agentTemplates"], "a workspace with an admin has the built-in templates"
    assert all(t["isTemplate"] for t in data["agentTemplates"])
    demo = gql.data(TEMPLATES, {"t": "Demo"}, token=tenants.home.member_token)
    assert all("demo" in t["config"]["call_types"] for t in demo["agentTemplates"])


def test_agents_of_another_workspace_are_forbidden(gql: GraphQL, tenants: Tenants) -> None:
    body = gql.query(
        AGENTS, {"ws": str(tenants.other.workspace_id)}, token=tenants.home.admin_token
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["data"] is None


def test_no_token_is_unauthenticated_and_a_bad_one_is_401(gql: GraphQL, tenants: Tenants) -> None:
    body = gql.query(AGENTS, {"ws": str(tenants.home.workspace_id)})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    refused = gql.post(AGENTS, {"ws": str(tenants.home.workspace_id)}, token="cra_nonsense")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert error_codes(refused.json()) == ["UNAUTHENTICATED"]


def test_a_bad_id_names_the_argument(gql: GraphQL, tenants: Tenants) -> None:
    body = gql.query('{ agentConfig(id: "nope") { id } }', token=tenants.home.member_token)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "id"


def test_an_agent_of_another_workspace_reads_as_null(gql: GraphQL, tenants: Tenants) -> None:
    theirs = gql.data(TEMPLATES, token=tenants.other.admin_token)["agentTemplates"]
    assert theirs
    data = gql.data(
        "query($id: ID!) { agentConfig(id: $id) { id } }",
        {"id": _id_of_first_template(gql, tenants.other.admin_token)},
        token=tenants.home.admin_token,
    )
    assert data["agentConfig"] is None


def _id_of_first_template(gql: GraphQL, token: str) -> str:
    data = gql.data("{ agentTemplates { id } }", token=token)
    ident: str = data["agentTemplates"][0]["id"]
    return ident


def test_a_variable_of_the_wrong_type_is_bad_input(gql: GraphQL, tenants: Tenants) -> None:
    body = gql.query(
        "query($ws: ID!) { agentConfigs(workspaceId: $ws) { id } }",
        {"ws": {"not": "an id"}},
        token=tenants.home.member_token,
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "$ws" in body["errors"][0]["message"]


def test_a_clients_mistake_is_not_logged_as_an_error(
    gql: GraphQL, tenants: Tenants, caplog: pytest.LogCaptureFixture
) -> None:
    other = {"ws": str(tenants.other.workspace_id)}
    with caplog.at_level(logging.WARNING):
        body = gql.query(AGENTS, other, token=tenants.home.admin_token)
        typo = gql.query("{ agentConfigz { id } }", token=tenants.home.admin_token)
    assert error_codes(body) == ["FORBIDDEN"]
    assert error_codes(typo) == ["GRAPHQL_VALIDATION_FAILED"]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
