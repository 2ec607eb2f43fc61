"""The demo's data and pieces, without Ray or a database: the account, the sample meetings
(and what the agent makes of them), the delivery signing and the lines a person reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID, uuid4

import httpx
import pytest

from runtime.agents.extractors.rules import RulesExtractor
from runtime.agents.matching import RecordMatcher
from runtime.agents.pipeline import run_agent
from runtime.agents.results import AgentResult
from runtime.agents.templates import template_for
from runtime.cli import main
from runtime.crm.memory import InMemoryCrm
from runtime.crm.port import RecordUpdate
from runtime.demo.account import (
    DEMO_CALL_TYPES,
    DEMO_TEMPLATE,
    demo_agent_config,
    demo_snapshot,
)
from runtime.demo.feed import FedMeeting, RunOutcome, describe
from runtime.demo.meetings import DemoMeetings, demo_meeting, demo_meetings
from runtime.demo.seed import DEMO_ADMIN
from runtime.demo.sender import Delivery, WebhookSender
from runtime.errors import InvalidInputError, parse_json_model
from runtime.meeting_webhooks.service import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WORKSPACE_HEADER,
    read_headers,
    sign,
)
from runtime.meetings.models import MeetingIn
from runtime.meetings.service import parse_meeting

OWNER = DEMO_ADMIN.email
# A mid-month Monday and a month's last day: the close-date phrases resolve differently.
ENDINGS = [datetime(2026, 3, 2, 16, 0, tzinfo=UTC), datetime(2026, 1, 31, 9, 30, tzinfo=UTC)]


def meeting(sequence: int, *, tag: str = "t1", ended_at: datetime = ENDINGS[0]) -> MeetingIn:
    return demo_meeting(sequence, run_tag=tag, owner_email=OWNER, ended_at=ended_at)


def test_the_account_is_a_valid_snapshot_with_an_open_deal_per_company() -> None:
    account = demo_snapshot()
    companies = {c.id for c in account.companies}
    assert len(companies) == 5
    assert {company for d in account.deals for company in d.associations["companies"]} == (
        companies
    )


def test_the_agent_config_is_the_demo_template_past_its_trust_ramp() -> None:
    template = template_for(DEMO_TEMPLATE)
    assert template is not None
    config = demo_agent_config()
    assert not config.review_only
    assert set(config.fields) == set(template.config.fields)
    scenario_types = {s.call_type for s in demo_meetings().scenarios}
    assert scenario_types <= set(DEMO_CALL_TYPES) == set(config.call_types)


def test_meetings_cycle_through_scenarios_then_variants_with_fresh_ids() -> None:
    scenarios = demo_meetings().scenarios
    first_round = [meeting(n) for n in range(len(scenarios))]
    assert [m.title for m in first_round] == [s.title for s in scenarios]
    again = meeting(len(scenarios))
    assert again.title == first_round[0].title
    assert again.transcript != first_round[0].transcript  # the next variant's figures
    ids = {meeting(n).external_id for n in range(40)} | {
        meeting(n, tag="t2").external_id for n in range(40)
    }
    assert len(ids) == 80  # a re-run (another tag) never repeats an id


def test_a_meeting_is_what_a_meeting_service_sends_ending_when_asked() -> None:
    ended_at = ENDINGS[0]
    sample = meeting(3, ended_at=ended_at)
    # The webhook parses the raw body the sender posts.
    parsed = parse_meeting(sample.model_dump_json(exclude_none=True).encode())
    assert parsed == sample
    assert sample.owner_email == OWNER
    assert sample.started_at.timestamp() + (sample.duration_s or 0) == ended_at.timestamp()
    assert [a.email for a in sample.attendees if a.internal] == [OWNER]
    assert all("{" not in line.text for line in sample.transcript)
    starts = [line.start_s for line in sample.transcript]
    assert starts == sorted(starts)
    assert starts[-1] < (sample.duration_s or 0)


def test_a_variant_that_leaves_a_placeholder_open_is_refused() -> None:
    raw = json.loads(json.dumps(demo_meetings().model_dump()))
    del raw["scenarios"][0]["variants"][1]["next_step"]
    with pytest.raises(InvalidInputError) as refused:
        parse_json_model(DemoMeetings, json.dumps(raw), source="meetings.json")
    [(field, reason)] = refused.value.problems
    assert field == "scenarios[0]"
    assert "variant 1 of 'northwind-demo' must fill exactly" in reason
    assert "missing ['next_step']" in reason


@pytest.mark.parametrize("ended_at", ENDINGS, ids=["mid-month", "month-end"])
async def test_every_meeting_writes_and_asks_round_after_round(ended_at: datetime) -> None:
    """The demo's promise: each meeting, over two rounds, gives CRM writes and an inbox
    item, on its customer's deal, while the CRM keeps what was written before."""
    account = demo_snapshot()
    crm = InMemoryCrm.from_snapshot(account)
    deal_of_contact = {
        email: deal.id
        for deal in account.deals
        for contact in account.contacts
        if contact.id in deal.associations.get("contacts", [])
        for email in [contact.properties["email"]]
    }
    rounds = 2 * len(demo_meetings().scenarios)
    for sequence in range(rounds):
        sample = meeting(sequence, ended_at=ended_at)
        result = await _run(crm, sample)
        customer = next(a.email or "" for a in sample.attendees if not a.internal)
        assert result.match.record is not None
        assert result.match.record.id == deal_of_contact[customer], sample.title
        routes = {d.field: d.route for d in result.decisions}
        written = {f for f, r in routes.items() if r == "auto_apply"}
        assert written, (sequence, sample.title, routes)
        assert "review" in routes.values(), (sequence, sample.title, routes)
        assert written <= {"hs_next_step", "closedate"}  # the fields the config trusts
        # As the writer would: the auto-applied values reach the CRM before the next one.
        update = {d.field: d.after for d in result.decisions if d.route == "auto_apply"}
        await crm.batch_update(
            "deals", [RecordUpdate(id=result.match.record.id, properties=update)]
        )


async def _run(crm: InMemoryCrm, sample: MeetingIn) -> AgentResult:
    config = demo_agent_config()
    return await run_agent(
        sample,
        crm=crm,
        config=config,
        extractor=RulesExtractor(),
        matcher=RecordMatcher(crm, deal_properties=tuple(config.fields)),
    )


async def test_the_sender_signs_what_the_webhook_checks_and_reads_its_answers() -> None:
    workspace_id, meeting_id, run_id = uuid4(), uuid4(), uuid4()
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(
                201,
                json={
                    "created": True,
                    "meeting": {"id": str(meeting_id)},
                    "runs": [{"id": str(run_id)}],
                },
            )
        return httpx.Response(
            401, json={"errors": [{"message": "X-CRM-Agents-Signature: does not verify"}]}
        )

    now = datetime.now(UTC)
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        sender = WebhookSender(
            http,
            url="http://api.test/webhooks/meetings",
            workspace_id=workspace_id,
            secret="whsec_test",
            now_s=now.timestamp,
        )
        sample = meeting(0)
        stored = await sender.send(sample)
        refused = await sender.send(sample)

    assert stored == Delivery(status=201, meeting_id=meeting_id, run_ids=(run_id,))
    assert refused.status == 401
    assert not refused.accepted
    assert refused.error == "X-CRM-Agents-Signature: does not verify"
    request = seen[0]
    headers = request.headers
    delivery = read_headers(
        headers[WORKSPACE_HEADER],
        headers[TIMESTAMP_HEADER],
        headers[SIGNATURE_HEADER],
        now=now,
        tolerance_s=300,
    )
    assert delivery.workspace_id == workspace_id
    assert headers[SIGNATURE_HEADER] == sign("whsec_test", delivery.timestamp, request.content)
    assert parse_meeting(request.content) == sample


async def test_a_sender_without_a_server_reports_no_answer() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(unreachable)) as http:
        sender = WebhookSender(http, url="http://api.test/x", workspace_id=uuid4(), secret="s")
        delivery = await sender.send(meeting(0))
    assert delivery.status == 0
    assert "connection refused" in (delivery.error or "")


SENT_AT = datetime(2026, 3, 2, 16, 0, 5, tzinfo=UTC)
ITEM = UUID("5f81393a-0000-4000-8000-000000000000")


@pytest.mark.parametrize(
    ("fed", "line"),
    [
        pytest.param(
            FedMeeting(
                0,
                "demo-x-00001",
                "Product demo - Northwind Traders",
                SENT_AT,
                Delivery(201, uuid4(), (uuid4(),)),
                (
                    RunOutcome(
                        uuid4(),
                        "pending",
                        "301",
                        auto_applied=("closedate", "hs_next_step"),
                        for_review=("amount",),
                        inbox_item_id=ITEM,
                    ),
                ),
            ),
            "16:00:05  #1   Product demo - Northwind Traders -> deal 301: writes closedate,"
            " hs_next_step; asks about amount (inbox item 5f81393a)",
            id="writes and asks",
        ),
        pytest.param(
            FedMeeting(
                4,
                "demo-x-00005",
                "Check-in",
                SENT_AT,
                Delivery(201, uuid4(), (uuid4(), uuid4())),
                (RunOutcome(uuid4(), "failed", None, error="no CRM connection"),),
                unfinished=1,
            ),
            "16:00:05  #5   Check-in -> run failed: no CRM connection | 1 run(s) still queued",
            id="a failed run and a queued one",
        ),
        pytest.param(
            FedMeeting(
                1, "demo-x-00002", "Check-in", SENT_AT, Delivery(401, error="does not verify")
            ),
            "16:00:05  #2   Check-in: HTTP 401: does not verify",
            id="refused",
        ),
        pytest.param(
            FedMeeting(1, "demo-x-00002", "Check-in", SENT_AT, Delivery(201, uuid4(), ())),
            "16:00:05  #2   Check-in: stored; no active agent runs on its call type",
            id="no runs",
        ),
    ],
)
def test_each_meeting_is_one_line_saying_what_came_of_it(fed: FedMeeting, line: str) -> None:
    assert describe(fed) == line
    assert json.loads(json.dumps(fed.to_json()))["external_id"] == fed.external_id


def test_demo_help_teaches_without_a_database(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--help"])
    assert exited.value.code == 0
    said = capsys.readouterr().out
    for option in ("--port", "--emulator-port", "--every", "--meetings", "--json"):
        assert option in said
