"""The LLM extractor's answers: what becomes a candidate, and what fails the run, by name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runtime.agents.extraction import Evidence
from runtime.agents.extractors import LlmExtractor
from runtime.agents.extractors.llm_answer import answer_schema, parse_answer
from runtime.agents.extractors.llm_prompt import messages
from runtime.errors import ExtractionError, InvalidInputError
from runtime.settings import LlmSettings
from tests.fake_llm import (
    CUSTOMER,
    REP,
    answer_item,
    line,
    llm_context,
    notes,
    valid_answer,
)

CONTEXT = llm_context()


def _parse(answer: Any) -> Any:
    return parse_answer(answer if isinstance(answer, str) else json.dumps(answer), CONTEXT)


def _one(*items: dict[str, Any]) -> str:
    return json.dumps({"candidates": list(items)})


def test_a_valid_answer_becomes_candidates_quoting_the_meeting() -> None:
    amount, closedate, stage, step = _parse(valid_answer())
    assert (amount.field, amount.value) == ("amount", "60000")
    assert amount.evidence == (
        Evidence(
            source="transcript",
            text="Agreed, $60,000 works for us and we will sign by April 30.",
            speaker=CUSTOMER,
            line=1,
            start_s=10.0,
        ),
        # The notes' own spelling, not the model's.
        Evidence(source="notes", text="Budget   approved at 60k."),
    )
    assert amount.signals.mentions == 2
    assert amount.signals.committed
    assert (closedate.value, closedate.raw_confidence) == ("2026-04-30", 0.9)
    assert stage.value == "contractsent"
    assert stage.signals.hedged
    assert not stage.signals.explicit
    assert step.evidence[0].speaker == REP


def test_the_attendee_list_decides_who_spoke_a_transcript_line() -> None:
    (step,) = _parse(_one(answer_item("hs_next_step", "Send the MSA", line(3))))
    assert step.signals.speaker_role == "rep"  # the model said "customer"
    (amount,) = _parse(_one(answer_item("amount", "60000", notes("Budget approved at 60k"))))
    assert amount.signals.speaker_role == "customer"  # notes: only the model can say


def test_other_values_of_a_field_count_as_conflicting_mentions() -> None:
    first, second = _parse(
        _one(
            answer_item("amount", "60000", line(1), line(2)),
            answer_item("amount", "20000", line(0)),
        )
    )
    assert (first.signals.mentions, first.signals.conflicting_mentions) == (2, 1)
    assert (second.signals.mentions, second.signals.conflicting_mentions) == (1, 2)


def test_an_empty_answer_proposes_nothing() -> None:
    assert _parse({"candidates": []}) == []


def test_malformed_json_names_where_it_broke() -> None:
    with pytest.raises(
        ExtractionError, match=r"^LLM answer is not valid JSON at line 1 column 6: Expecting ':'"
    ):
        _parse('{"a" 1}')
    with pytest.raises(ExtractionError, match=r"^LLM answer must be a JSON object, not list$"):
        _parse("[]")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            _one(answer_item("foo", "1")),
            "LLM answer: candidates[0].field: 'foo' is not a managed field",
        ),
        (
            _one(answer_item("amount", "60000", line(4))),
            "LLM answer: candidates[0].evidence[0].line: 4 is not a transcript line index (0 to 3)",
        ),
        (
            _one(answer_item("amount", "60000", line(-1))),
            "LLM answer: candidates[0].evidence[0].line: -1 is not a transcript line index",
        ),
        (
            _one(answer_item("amount", "60000", {"source": "transcript", "line": 1})),
            "LLM answer: candidates[0].evidence[0].excerpt: is required",
        ),
        (
            _one(answer_item("amount", "60000", notes("Budget approved at 90k"))),
            "LLM answer: candidates[0].evidence[0].excerpt: 'Budget approved at 90k' is not in"
            " the meeting's notes",
        ),
        (
            _one(answer_item("amount", 60000)),
            "LLM answer: candidates[0].value: Input should be a valid string",
        ),
        (
            _one(answer_item("amount", "$60k")),
            "LLM answer: candidates[0].value: '$60k' is not a plain number such as 60000",
        ),
        (
            _one(answer_item("closedate", "April 30")),
            "LLM answer: candidates[0].value: 'April 30' is not a date YYYY-MM-DD",
        ),
        (
            _one(answer_item("closedate", "2026-02-30")),
            "LLM answer: candidates[0].value: '2026-02-30' is not a date YYYY-MM-DD",
        ),
        (
            _one(answer_item("dealstage", "Contract Sent")),
            "LLM answer: candidates[0].value: 'Contract Sent' is not a stage id of pipeline"
            " 'default'",
        ),
        (
            _one(answer_item("amount", "60000", hedged="sometimes")),
            "LLM answer: candidates[0].hedged: Input should be a valid boolean",
        ),
        (
            _one(answer_item("amount", "60000", confidence=1.5)),
            "LLM answer: candidates[0].confidence: Input should be less than or equal to 1",
        ),
        (
            _one(answer_item("amount", "60000", source="call")),
            "LLM answer: candidates[0].source: is not a known field",
        ),
        (_one(answer_item("amount", "60000"))[:-3] + "]}", "LLM answer is not valid JSON"),
        ('{"candidates": [], "notes": "none"}', "LLM answer: notes: is not a known field"),
        ("{}", "LLM answer: candidates: is required"),
    ],
    ids=[
        "unknown-field",
        "line-past-the-end",
        "negative-line",
        "evidence-without-excerpt",
        "invented-notes",
        "number-not-string",
        "amount-with-currency",
        "date-in-words",
        "impossible-date",
        "stage-label",
        "bool-as-word",
        "confidence-above-1",
        "extra-key",
        "truncated",
        "extra-top-level-key",
        "no-candidates",
    ],
)
def test_an_out_of_schema_answer_fails_naming_the_path(answer: str, message: str) -> None:
    with pytest.raises(ExtractionError) as caught:
        _parse(answer)
    assert str(caught.value).startswith(message)


def test_a_missing_transcript_line_is_reported_under_line() -> None:
    with pytest.raises(ExtractionError, match=r"evidence\[0\]\.line: is required"):
        _parse(
            _one(
                answer_item(
                    "amount", "60000", {"source": "transcript", "line": None, "excerpt": None}
                )
            )
        )


def test_one_bad_candidate_fails_the_whole_answer() -> None:
    answer = valid_answer()
    answer["candidates"].append(answer_item("dealname", "Acme"))
    with pytest.raises(ExtractionError, match=r"candidates\[4\]\.field: 'dealname'"):
        _parse(answer)


def test_the_schema_is_strict_enough_for_structured_outputs() -> None:
    """OpenAI's strict mode wants every property required and no extra properties."""
    schema = answer_schema()
    objects = [schema, *schema["$defs"].values()]
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert set(obj["required"]) == set(obj["properties"])
    candidate = schema["$defs"]["LlmCandidate"]["properties"]
    assert candidate["speaker_role"]["enum"] == ["customer", "rep", "unknown"]


def test_the_prompt_carries_the_meeting_the_deal_and_the_stages() -> None:
    system, user = messages(CONTEXT)
    assert (system["role"], user["role"]) == ("system", "user")
    for field in CONTEXT.fields:
        assert f"- {field}:" in system["content"]
    facts = json.loads(user["content"])
    assert facts["fields"] == list(CONTEXT.fields)
    assert facts["meeting"]["started_at"] == "2026-03-02T15:00:00+00:00"
    assert facts["meeting"]["transcript"][2] == {
        "index": 2,
        "speaker": CUSTOMER,
        "start_s": 20.0,
        "text": "Maybe we can move to contract sent next week.",
    }
    assert {a["name"]: a["internal"] for a in facts["meeting"]["attendees"]} == {
        REP: True,
        CUSTOMER: False,
    }
    assert facts["meeting"]["notes"].startswith("Legal review")
    assert facts["deal"]["current"]["amount"] == "20000"
    assert [s["id"] for s in facts["pipeline"]["stages"]][:2] == [
        "appointmentscheduled",
        "qualifiedtobuy",
    ]


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        (LlmSettings(model="m"), "CRM_AGENTS_LLM__BASE_URL"),
        (LlmSettings(base_url="http://127.0.0.1:1/v1"), "CRM_AGENTS_LLM__MODEL"),
    ],
)
def test_the_extractor_refuses_missing_settings_by_variable(
    settings: LlmSettings, variable: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        LlmExtractor(settings)
    assert caught.value.field == variable
