"""Answering a question over HTTP: a real run against the HubSpot emulator asks which deal,
the person answers with ``answerInboxQuestion`` and the fields move to the picked deal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from runtime.agents.extractors.rules import RulesExtractor
from runtime.api.http import build_api_app
from runtime.clock import SystemClock
from runtime.connections.service import connect_private_token
from runtime.runs.crm_source import ConnectedCrms
from runtime.runs.dispatcher import Dispatcher
from runtime.runs.executor import RunExecutor
from runtime.settings import HubSpotSettings
from tests.api.conftest import GraphQL, ModuleKeys, Tenants, api_settings, error_codes
from tests.http_server import serve_asgi
from tests.hubspot_emulator import TOKEN, RunningEmulator, running_emulator
from tests.meetings import dialogue
from tests.pipeline_setup import PRICE_AGREED

KEYS = ModuleKeys()
CREATE = "mutation($in: CreateAgentConfigInput!) { createAgentConfig(input: $in) { id } }"
ACTIVATE = "mutation($id: ID!) { activateAgent(id: $id) { id } }"
INGEST = """
mutation($ws: ID!, $in: JSON!) { ingestMeeting(workspaceId: $ws, input: $in) { meeting { id } } }
"""
ITEMS = """query($user: ID!) {
  inboxItems(userId: $user, status: PENDING) { edges { node { id itemType context } } }
}"""
ANSWER = """mutation($id: ID!, $deal: String!) {
  answerInboxQuestion(id: $id, dealId: $deal) {
    question { id status resolvedBy { email } }
    followUp { itemType status proposals { field before proposed status } }
    activityLog { crmRecordId status proposals { field status } }
  }
}"""


@pytest.fixture(scope="module")
def api_url(database_dsn: str) -> Iterator[str]:
    """The API with a key ring of its own, so that it opens the connection stored here."""
    with serve_asgi(build_api_app(KEYS.settings(api_settings(database_dsn)))) as url:
        yield url


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator() as running:
        yield running


async def _question(
    gql: GraphQL, pool: asyncpg.Pool, tenants: Tenants, emulator: RunningEmulator
) -> dict[str, Any]:
    """A run of an agent unsure of deal matches (every field reviewed): the admin's question."""
    home = tenants.home
    await connect_private_token(
        pool, KEYS.keyring, home.workspace_id, token=TOKEN, base_url=emulator.url
    )
    config = {
        "call_types": ["discovery"],
        "fields": {"amount": {"auto_apply_threshold": 0.3}, "closedate": {"always_review": True}},
        "min_match_confidence": 0.95,
        "review_only": False,
    }
    agent = gql.data(CREATE, {"in": {"name": "Unsure", "config": config}}, token=home.admin_token)
    gql.data(ACTIVATE, {"id": agent["createAgentConfig"]["id"]}, token=home.admin_token)
    meeting = dialogue(*PRICE_AGREED, external_id="zoom-question-1").model_dump(mode="json")
    gql.data(INGEST, {"ws": str(home.workspace_id), "in": meeting}, token=home.admin_token)
    crms = ConnectedCrms(pool, KEYS.keyring, HubSpotSettings(max_retries=0), clock=SystemClock())
    executor = RunExecutor(pool, crms, extractor=RulesExtractor(), clock=SystemClock())
    try:
        await Dispatcher(pool, executor, owner="test").drain()
    finally:
        await crms.aclose()
    # The meeting's owner is not a member: the question goes to the agent's creator.
    edges = gql.data(ITEMS, {"user": str(home.admin_id)}, token=home.admin_token)
    nodes: list[dict[str, Any]] = [e["node"] for e in edges["inboxItems"]["edges"]]
    [question] = [n for n in nodes if n["itemType"] == "QUESTION"]
    return question


async def test_an_answer_moves_the_fields_to_the_picked_deal(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool, emulator: RunningEmulator
) -> None:
    question = await _question(gql, pool, tenants, emulator)
    token = tenants.home.admin_token
    assert "301" in {c["id"] for c in question["context"]["match"]["candidates"]}

    unknown = gql.query(ANSWER, {"id": question["id"], "deal": "999"}, token=token)
    assert error_codes(unknown) == ["BAD_USER_INPUT"]
    assert unknown["errors"][0]["extensions"]["field"] == "dealId"
    assert "has no deal '999'" in unknown["errors"][0]["message"]

    answer = gql.data(ANSWER, {"id": question["id"], "deal": "301"}, token=token)
    answered = answer["answerInboxQuestion"]
    assert answered["question"]["status"] == "ANSWERED"
    assert answered["question"]["resolvedBy"] == {"email": "admin@home.example"}
    follow_up = answered["followUp"]
    assert (follow_up["itemType"], follow_up["status"]) == ("APPROVAL", "PENDING")
    assert [(p["field"], p["before"], p["status"]) for p in follow_up["proposals"]] == [
        ("closedate", "2026-06-30T00:00:00.000Z", "PENDING")
    ]
    activity = answered["activityLog"]
    assert (activity["crmRecordId"], activity["status"]) == ("301", "PENDING")
    assert {(p["field"], p["status"]) for p in activity["proposals"]} == {
        ("amount", "QUEUED"),
        ("closedate", "PENDING"),
    }

    again = gql.query(ANSWER, {"id": question["id"], "deal": "302"}, token=token)
    assert error_codes(again) == ["CONFLICT"]
    assert "already answered by admin@home.example" in again["errors"][0]["message"]
