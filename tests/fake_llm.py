"""A fake OpenAI-compatible chat-completions endpoint, served over loopback by tests.

It records every request (body and headers) and answers what the test set: a message
content (valid or not), an HTTP error status, or a stall longer than the client's timeout.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from runtime.agents.extraction import ExtractionContext
from runtime.crm.port import CrmRecord
from runtime.crm.snapshot import load_snapshot
from runtime.meetings.models import MeetingIn
from tests.corpus_cases import DATA
from tests.http_server import serve_asgi
from tests.meetings import example_meeting

__all__ = [
    "FIELDS",
    "FakeLlm",
    "Recorded",
    "answer_item",
    "completion",
    "line",
    "llm_context",
    "llm_meeting",
    "notes",
    "running_fake_llm",
    "valid_answer",
]


@dataclass(frozen=True)
class Recorded:
    """One request as the endpoint received it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeLlm:
    """What the endpoint answers next; ``reset`` between tests."""

    content: str | None = None
    status: int = 200
    error_message: str = "The server had an error while processing your request."
    delay_s: float = 0.0
    finish_reason: str = "stop"
    requests: list[Recorded] = field(default_factory=list)

    def reset(self) -> None:
        fresh = FakeLlm()
        self.content, self.status, self.delay_s = fresh.content, fresh.status, fresh.delay_s
        self.error_message, self.finish_reason = fresh.error_message, fresh.finish_reason
        self.requests.clear()

    def answer(self, data: Any) -> None:
        """Answer ``data`` as the message content (a str is sent as is, else as JSON)."""
        self.content = data if isinstance(data, str) else json.dumps(data)

    def app(self) -> Starlette:
        async def chat_completions(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append(Recorded(request.url.path, dict(request.headers), body))
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.status >= 400:
                error = {"message": self.error_message, "type": "server_error"}
                return JSONResponse({"error": error}, status_code=self.status)
            return JSONResponse(
                completion(self.content, model=body.get("model"), finish=self.finish_reason)
            )

        return Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])])


def completion(content: str | None, *, model: Any = "fake", finish: str = "stop") -> dict[str, Any]:
    """A chat completion in OpenAI's shape with one choice."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_770_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@contextmanager
def running_fake_llm() -> Iterator[tuple[FakeLlm, str]]:
    """The fake and its base URL (``.../v1``) for the length of the block."""
    fake = FakeLlm()
    with serve_asgi(fake.app()) as url:
        yield fake, f"{url}/v1"


# A meeting, its extraction context and a valid answer for it, shared by the LLM tests.

CUSTOMER, REP = "Dana Ruiz", "Sam Lee"
TRANSCRIPT = (
    (REP, "So where did finance land?"),
    (CUSTOMER, "Agreed, $60,000 works for us and we will sign by April 30."),
    (CUSTOMER, "Maybe we can move to contract sent next week."),
    (REP, "Great. I'll send the MSA to your legal team by Friday."),
)
NOTES = "Legal review needed before signature.\nBudget   approved at 60k."
FIELDS = ("amount", "closedate", "dealstage", "hs_next_step")


def llm_meeting(call_type: str = "negotiation") -> MeetingIn:
    """The contract's example meeting with a negotiation transcript and notes."""
    transcript = [
        {"speaker": speaker, "start_s": 10.0 * i, "text": text}
        for i, (speaker, text) in enumerate(TRANSCRIPT)
    ]
    return MeetingIn.model_validate(
        example_meeting(transcript=transcript, call_type=call_type, notes=NOTES)
    )


def llm_context() -> ExtractionContext:
    """Deal 301 of tests/data/crm.json, its default pipeline and the four deal fields."""
    snapshot = load_snapshot(DATA / "crm.json")
    (pipeline,) = snapshot.deal_pipelines()
    record = CrmRecord(
        id="301",
        object_type="deals",
        properties={"dealname": "Acme Expansion", "amount": "20000", "dealstage": None},
    )
    return ExtractionContext(meeting=llm_meeting(), fields=FIELDS, record=record, pipeline=pipeline)


def answer_item(
    field: str, value: Any, *evidence: dict[str, Any], **signals: Any
) -> dict[str, Any]:
    """One candidate of an answer; evidence defaults to transcript line 1."""
    return {
        "field": field,
        "value": value,
        "evidence": list(evidence) or [line(1)],
        "speaker_role": "customer",
        "explicit": True,
        "hedged": False,
        "committed": False,
        "corrected": False,
        "confidence": None,
        **signals,
    }


def line(index: int) -> dict[str, Any]:
    return {"source": "transcript", "line": index, "excerpt": None}


def notes(excerpt: str) -> dict[str, Any]:
    return {"source": "notes", "line": None, "excerpt": excerpt}


def valid_answer() -> dict[str, Any]:
    """What a good model answers for ``llm_context()``."""
    return {
        "candidates": [
            answer_item(
                "amount", "60000", line(1), notes("budget approved at 60k."), committed=True
            ),
            answer_item("closedate", "2026-04-30", line(1), committed=True, confidence=0.9),
            answer_item("dealstage", "contractsent", line(2), hedged=True, explicit=False),
            # The model calls the rep a customer: the attendee list knows better.
            answer_item("hs_next_step", "Send the MSA to the legal team", line(3)),
        ]
    }
