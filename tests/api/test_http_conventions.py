"""GraphQL over HTTP as the API serves it (``runtime/api/http.py``): methods, status codes,
media types, the document limits, rate limits, masked internal errors and the health check.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from runtime.api.http import build_api_app
from runtime.settings import ApiSettings
from tests.api.conftest import GraphQL, Tenants, api_settings, error_codes
from tests.http_server import serve_asgi

TEMPLATES = "{ agentTemplates { name } }"
JSON = {"Accept": "application/json"}


def _bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def test_a_query_by_get_answers_json(gql: GraphQL, tenants: Tenants) -> None:
    response = gql.http.get(
        "/graphql", params={"query": TEMPLATES}, headers=_bearer(tenants.home.member_token, **JSON)
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["data"]["agentTemplates"]


def test_get_variables_travel_as_json(gql: GraphQL, tenants: Tenants) -> None:
    response = gql.http.get(
        "/graphql",
        params={
            "query": "query($ws: ID!) { agentConfigs(workspaceId: $ws) { id } }",
            "variables": f'{{"ws": "{tenants.home.workspace_id}"}}',
        },
        headers=_bearer(tenants.home.admin_token, **JSON),
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"agentConfigs": []}}


def test_a_browser_gets_graphiql(gql: GraphQL) -> None:
    response = gql.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


def test_a_mutation_by_get_is_405(gql: GraphQL, tenants: Tenants) -> None:
    response = gql.http.get(
        "/graphql",
        params={
            "query": 'mutation { pauseAgent(id: "00000000-0000-0000-0000-000000000000") { id } }'
        },
        headers=_bearer(tenants.home.admin_token, **JSON),
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "mutations are not allowed" in response.json()["errors"][0]["message"]


def test_a_document_that_does_not_parse_is_400(gql: GraphQL, tenants: Tenants) -> None:
    response = gql.post("{ agentTemplates { name ", token=tenants.home.member_token)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert error_codes(response.json()) == ["GRAPHQL_VALIDATION_FAILED"]
    assert response.json()["errors"][0]["message"].startswith("Syntax Error")
    by_get = gql.http.get(
        "/graphql", params={"query": "{ ]"}, headers=_bearer(tenants.home.member_token, **JSON)
    )
    assert by_get.status_code == 400


def test_a_body_that_is_not_graphql_is_refused(gql: GraphQL, tenants: Tenants) -> None:
    no_query = gql.http.post(
        "/graphql", json={"variables": {}}, headers=_bearer(tenants.home.member_token)
    )
    assert no_query.status_code == 400
    not_json = gql.http.post(
        "/graphql",
        content=b"{ agentTemplates { name } }",
        headers=_bearer(tenants.home.member_token, **{"Content-Type": "text/plain"}),
    )
    assert not_json.status_code in (400, 415)
    assert "data" not in not_json.text


def test_an_unknown_field_fails_validation(gql: GraphQL, tenants: Tenants) -> None:
    body = gql.query("{ agentTemplates { name shoeSize } }", token=tenants.home.member_token)
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "shoeSize" in body["errors"][0]["message"]
    assert body.get("data") is None


def test_a_query_deeper_than_the_limit_is_refused(
    gql: GraphQL, tenants: Tenants, database_dsn: str
) -> None:
    limit = ApiSettings().max_query_depth
    # AgentConfig -> recentActivity -> agentConfig -> ... : two levels per turn.
    inner = "id"
    for _ in range(limit // 2 + 1):
        inner = f"recentActivity {{ agentConfig {{ {inner} }} }}"
    deep = f"query($ws: ID!) {{ agentConfigs(workspaceId: $ws) {{ {inner} }} }}"
    body = gql.query(deep, {"ws": str(tenants.home.workspace_id)}, token=tenants.home.admin_token)
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    shallow = f"query($ws: ID!) {{ agentConfigs(workspaceId: $ws) {{ {_nest(limit // 2 - 1)} }} }}"
    assert "errors" not in gql.query(
        shallow, {"ws": str(tenants.home.workspace_id)}, token=tenants.home.admin_token
    )


def test_a_document_longer_than_the_token_limit_is_refused(gql: GraphQL, tenants: Tenants) -> None:
    limit = ApiSettings().max_query_tokens
    long = "{ " + " ".join(["__typename"] * limit) + " }"
    body = gql.query(long, token=tenants.home.member_token)
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "token" in body["errors"][0]["message"].lower()


def test_more_aliases_than_the_limit_are_refused(gql: GraphQL, tenants: Tenants) -> None:
    limit = ApiSettings().max_aliases
    many = "{ " + " ".join(f"a{n}: __typename" for n in range(limit + 1)) + " }"
    body = gql.query(many, token=tenants.home.member_token)
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "alias" in body["errors"][0]["message"].lower()
    allowed = "{ " + " ".join(f"a{n}: __typename" for n in range(limit)) + " }"
    assert "errors" not in gql.query(allowed, token=tenants.home.member_token)


@pytest.fixture(scope="module")
def limited(database_dsn: str) -> Iterator[httpx.Client]:
    """A second app whose tokens may make 2 requests at once, then one every 2 seconds."""
    settings = api_settings(database_dsn, rate_limit_per_s=0.5, rate_limit_burst=2)
    with serve_asgi(build_api_app(settings)) as url, httpx.Client(base_url=url) as client:
        yield client


def test_too_many_requests_are_429_with_retry_after(
    limited: httpx.Client, tenants: Tenants
) -> None:
    headers = _bearer(tenants.home.member_token)
    answers = [
        limited.post("/graphql", json={"query": TEMPLATES}, headers=headers) for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) in (1, 2)
    assert error_codes(refused.json()) == ["RATE_LIMITED"]
    # The limit is per token: another token is still let in.
    other = limited.post(
        "/graphql", json={"query": TEMPLATES}, headers=_bearer(tenants.home.admin_token)
    )
    assert other.status_code == 200


async def test_an_internal_error_is_masked_and_logged(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    # A real failure below the API: the table the query reads has gone.
    await pool.execute("ALTER TABLE anomalies RENAME TO anomalies_gone")
    try:
        with caplog.at_level(logging.ERROR, logger="runtime.api.errors"):
            response = gql.post(
                "query($ws: ID!) { anomalies(workspaceId: $ws) { id } }",
                {"ws": str(tenants.home.workspace_id)},
                token=tenants.home.member_token,
            )
    finally:
        await pool.execute("ALTER TABLE anomalies_gone RENAME TO anomalies")
    assert response.status_code == 200
    body = response.json()
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    message = body["errors"][0]["message"]
    found = re.fullmatch(r"internal error \(incident ([0-9a-f]{12})\); it has been logged", message)
    assert found, message
    assert "anomalies" not in response.text.replace('"anomalies"', "")  # no SQL, no relation
    [logged] = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert logged.exc_info is not None
    assert isinstance(logged.exc_info[1], asyncpg.UndefinedTableError)


def test_health_says_the_database_is_migrated(gql: GraphQL) -> None:
    response = gql.http.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["migrations_pending"] == []
    assert body["migrations_applied"] > 0


def _nest(levels: int) -> str:
    inner = "id"
    for _ in range(levels):
        inner = f"recentActivity {{ agentConfig {{ {inner} }} }}"
    return inner
