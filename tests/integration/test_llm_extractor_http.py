"""The LLM extractor against a fake OpenAI-compatible endpoint over real HTTP on loopback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from runtime.agents.config import AgentConfig, FieldPolicy
from runtime.agents.extractors import LlmExtractor
from runtime.agents.extractors.llm_answer import answer_schema
from runtime.agents.pipeline import run_agent
from runtime.agents.results import MatchResult
from runtime.crm.memory import InMemoryCrm
from runtime.crm.port import CrmRecord
from runtime.crm.snapshot import load_snapshot
from runtime.errors import ExtractionError
from runtime.meetings.models import MeetingIn
from runtime.settings import LlmSettings
from tests.cli import crm_agents
from tests.corpus_cases import DATA
from tests.fake_llm import (
    FakeLlm,
    answer_item,
    line,
    llm_context,
    llm_meeting,
    running_fake_llm,
    valid_answer,
)

API_KEY = "sk-test-0123456789"
CONTEXT = llm_context()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeLlm, str]]:
    with running_fake_llm() as served:
        yield served


@pytest.fixture
def fake(served: tuple[FakeLlm, str]) -> FakeLlm:
    served[0].reset()
    return served[0]


@pytest.fixture
def settings(served: tuple[FakeLlm, str]) -> LlmSettings:
    return LlmSettings(
        base_url=served[1] + "/",
        api_key=SecretStr(API_KEY),
        model="fake-model-1",
        timeout_s=0.2,
        max_output_tokens=1000,
        temperature=0.0,
    )


async def test_the_request_asks_for_the_answer_schema_as_json(
    fake: FakeLlm, settings: LlmSettings
) -> None:
    fake.answer(valid_answer())
    await LlmExtractor(settings).extract(CONTEXT)
    (request,) = fake.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    body = request.body
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("fake-model-1", 0.0, 1000)
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "Agreed, $60,000 works for us" in body["messages"][1]["content"]
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "deal_updates", "strict": True, "schema": answer_schema()},
    }


async def test_without_a_key_no_authorization_is_sent(fake: FakeLlm, settings: LlmSettings) -> None:
    fake.answer({"candidates": []})
    keyless = settings.model_copy(update={"api_key": None})
    assert await LlmExtractor(keyless).extract(CONTEXT) == []
    assert "authorization" not in fake.requests[0].headers


async def test_a_valid_answer_becomes_candidates(fake: FakeLlm, settings: LlmSettings) -> None:
    fake.answer(valid_answer())
    async with httpx.AsyncClient() as http:  # a caller's client is used and left open
        candidates = await LlmExtractor(settings, http=http).extract(CONTEXT)
        assert not http.is_closed
    assert [(c.field, c.value) for c in candidates] == [
        ("amount", "60000"),
        ("closedate", "2026-04-30"),
        ("dealstage", "contractsent"),
        ("hs_next_step", "Send the MSA to the legal team"),
    ]
    assert candidates[3].evidence[0].text == CONTEXT.meeting.transcript[3].text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"candidates": [', "LLM answer is not valid JSON at line 1 column 17"),
        (
            json.dumps({"candidates": [answer_item("dealname", "Acme")]}),
            "LLM answer: candidates[0].field: 'dealname' is not a managed field",
        ),
        (
            json.dumps({"candidates": [answer_item("amount", "60000", line(9))]}),
            "LLM answer: candidates[0].evidence[0].line: 9 is not a transcript line index",
        ),
        (
            json.dumps({"candidates": [answer_item("amount", 60000, confidence="high")]}),
            "LLM answer: candidates[0].value: Input should be a valid string;"
            " candidates[0].confidence: Input should be a valid number",
        ),
    ],
    ids=["malformed-json", "unknown-field", "bad-line-index", "wrong-types"],
)
async def test_a_bad_answer_raises_naming_the_problem(
    fake: FakeLlm, settings: LlmSettings, content: str, message: str
) -> None:
    fake.answer(content)
    with pytest.raises(ExtractionError) as caught:
        await LlmExtractor(settings).extract(CONTEXT)
    assert str(caught.value).startswith(message)


async def test_an_http_error_raises_with_the_status(fake: FakeLlm, settings: LlmSettings) -> None:
    fake.status = 500
    with pytest.raises(ExtractionError) as caught:
        await LlmExtractor(settings).extract(CONTEXT)
    assert str(caught.value) == (
        "LLM endpoint answered 500: The server had an error while processing your request."
    )


async def test_the_api_key_never_shows_in_an_error(fake: FakeLlm, settings: LlmSettings) -> None:
    fake.status, fake.error_message = 401, f"Incorrect API key provided: {API_KEY}."
    with pytest.raises(ExtractionError) as caught:
        await LlmExtractor(settings).extract(CONTEXT)
    assert str(caught.value) == "LLM endpoint answered 401: Incorrect API key provided: ***."
    assert API_KEY not in repr(settings)


async def test_a_stalled_endpoint_times_out(fake: FakeLlm, settings: LlmSettings) -> None:
    fake.delay_s = 0.6
    with pytest.raises(ExtractionError) as caught:
        await LlmExtractor(settings).extract(CONTEXT)
    assert str(caught.value) == "LLM endpoint timed out after 0.2 s"


async def test_an_unreachable_endpoint_raises(settings: LlmSettings) -> None:
    with socket.socket() as sock:  # a port nobody listens on once the block ends
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    nowhere = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}/v1"})
    with pytest.raises(ExtractionError, match=r"^LLM endpoint could not be reached: "):
        await LlmExtractor(nowhere).extract(CONTEXT)


async def test_an_answer_cut_off_by_the_token_limit_says_so(
    fake: FakeLlm, settings: LlmSettings
) -> None:
    fake.answer('{"candidates": [{"field": "amo')
    fake.finish_reason = "length"
    with pytest.raises(ExtractionError) as caught:
        await LlmExtractor(settings).extract(CONTEXT)
    assert str(caught.value) == "LLM answer was cut off at max_output_tokens (1000)"


# A whole agent run ---------------------------------------------------------------------------


class StubMatcher:
    async def match(self, meeting: MeetingIn) -> MatchResult:
        record = CrmRecord(id="301", object_type="deals", properties={})
        return MatchResult(record=record, confidence=1.0, reason="stub")


def _config() -> AgentConfig:
    policy = FieldPolicy(auto_apply_threshold=0.8)
    return AgentConfig(
        call_types=("negotiation",),
        fields={"amount": policy, "closedate": policy, "dealstage": policy, "hs_next_step": policy},
    )


async def test_an_agent_run_routes_the_llms_candidates(
    fake: FakeLlm, settings: LlmSettings
) -> None:
    fake.answer(valid_answer())
    crm = InMemoryCrm(load_snapshot(DATA / "crm.json"))
    result = await run_agent(
        llm_meeting(),
        crm=crm,
        config=_config(),
        extractor=LlmExtractor(settings),
        matcher=StubMatcher(),
    )
    assert result.action_type == "update"
    proposed = {d.field: (d.before, d.after) for d in result.decisions if d.route != "skip"}
    assert proposed["amount"] == ("20000", "60000")
    assert proposed["closedate"][1] == "2026-04-30"
    assert proposed["dealstage"][1] == "contractsent"
    assert proposed["hs_next_step"] == (None, "Send the MSA to the legal team")
    facts = json.loads(fake.requests[0].body["messages"][1]["content"])
    assert facts["deal"]["current"]["amount"] == "20000"  # the deal as the CRM holds it
    assert crm.write_log() == []


async def test_an_agent_run_with_a_bad_answer_fails_whole(
    fake: FakeLlm, settings: LlmSettings
) -> None:
    answer = valid_answer()
    answer["candidates"].append(answer_item("amount", "60000", line(42)))
    fake.answer(answer)
    crm = InMemoryCrm(load_snapshot(DATA / "crm.json"))
    with pytest.raises(ExtractionError, match=r"candidates\[4\]\.evidence\[0\]\.line: 42"):
        await run_agent(
            llm_meeting(),
            crm=crm,
            config=_config(),
            extractor=LlmExtractor(settings),
            matcher=StubMatcher(),
        )
    assert crm.write_log() == []


# The command line ----------------------------------------------------------------------------


def test_preview_uses_the_llm_extractor_from_settings(
    fake: FakeLlm, settings: LlmSettings, tmp_path: Path
) -> None:
    meeting = tmp_path / "meeting.json"
    meeting.write_text(llm_meeting().model_dump_json())
    fake.answer(valid_answer())
    env = {
        "CRM_AGENTS_LLM__BASE_URL": str(settings.base_url),
        "CRM_AGENTS_LLM__MODEL": "fake-model-1",
        "CRM_AGENTS_LLM__API_KEY": API_KEY,
    }
    args = ("preview", str(meeting), "--crm", str(DATA / "crm.json"), "--extractor", "llm")
    result = crm_agents(*args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    updates = {u["fieldName"]: u["newValue"] for u in json.loads(result.stdout)["fieldsToUpdate"]}
    assert updates["amount"] == "60000"
    assert fake.requests[0].body["model"] == "fake-model-1"

    fake.status = 503
    failed = crm_agents(*args, env=env)
    assert failed.returncode == 1
    last = failed.stderr.strip().splitlines()[-1]
    assert last == "error: LLM endpoint answered 503: " + fake.error_message
    assert API_KEY not in failed.stderr


@pytest.mark.parametrize("command", ["preview", "eval"])
def test_the_llm_extractor_without_settings_exits_2_naming_the_variable(command: str) -> None:
    args = (
        ("preview", str(DATA / "meeting.json"), "--crm", str(DATA / "crm.json"))
        if command == "preview"
        else ("eval", str(DATA / "corpus"))
    )
    result = crm_agents(*args, "--extractor", "llm", env={})
    assert result.returncode == 2
    assert "CRM_AGENTS_LLM__BASE_URL" in result.stderr
