"""The outbox writer against the HubSpot emulator over loopback, with real Postgres.

Every CRM effect is checked in the emulator's write log: HubSpot does not deduplicate
writes, so one outbox row (merged per record) must be one entry there, never two.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from runtime.activity.models import ActivityLog
from runtime.activity.repo import ActivityRepo, NewActivity
from runtime.agents.config import AgentConfig, FieldPolicy
from runtime.agents.extractors.rules import RulesExtractor
from runtime.crm.audited import AuditedCrm
from runtime.crm.hubspot import NO_RETRIES, HubSpotClient, PrivateAppToken
from runtime.crm.hubspot.emulator import EmulatorConfig
from runtime.crm.memory import InMemoryCrm
from runtime.crm.port import RecordUpdate
from runtime.crm.snapshot import load_snapshot, parse_snapshot
from runtime.events import ACTIVITY_LOGS, INBOX_ITEMS, Event, listen
from runtime.inbox.repo import InboxRepo
from runtime.meetings.service import import_meeting
from runtime.outbox.repo import OutboxRepo
from runtime.runs.executor import RunExecutor, WorkspaceCrm
from runtime.runs.outcome import InboxDraft, ProposalDraft
from runtime.runs.repo import RunRepo
from runtime.users.models import UserCreate
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo
from runtime.writes.budget import RateBudget, RateLimits
from runtime.writes.writer import CREATE_OUTCOME_UNKNOWN, FlushReport, OutboxWriter
from tests.crm_builders import deal
from tests.hubspot_emulator import NO_LATENCY, TEST_SNAPSHOT, TOKEN, RunningEmulator
from tests.hubspot_emulator import running_emulator as emulator_on
from tests.meetings import dialogue

BULK_IDS = [str(1000 + i) for i in range(300)]
SAID = (
    ("Sam Lee", "So where did you land on price?"),
    ("Dana Ruiz", "Sixty thousand works for us. We'll sign by the end of next month."),
    ("Sam Lee", "Great. I'll send the order form tomorrow."),
)


def stored(values: dict[str, str]) -> dict[str, str]:
    """Values as HubSpot keeps them: ``closedate`` is a datetime, a date becomes midnight UTC."""
    return {k: f"{v}T00:00:00.000Z" if k == "closedate" else v for k, v in values.items()}


def _snapshot() -> Any:
    """The test CRM (deals 301-305, company 101, contacts 201-) plus 300 plain deals."""
    raw = json.loads(TEST_SNAPSHOT.read_text())
    raw["deals"] += [
        deal(record_id, f"Deal {record_id}", amount="100", closedate="2026-06-30")
        for record_id in BULK_IDS
    ]
    return parse_snapshot(raw)


@dataclass
class Env:
    pool: asyncpg.Pool
    emulator: RunningEmulator
    client: HubSpotClient
    budget: RateBudget
    workspace_id: UUID
    user_id: UUID
    written: list[tuple[str, list[str]]] = field(default_factory=list)

    def writer(self, **options: Any) -> OutboxWriter:
        return OutboxWriter(
            self.pool,
            self.workspace_id,
            self.client,
            self.budget,
            clock=self.emulator.clock,
            on_written=lambda kind, ids: self.written.append((kind, list(ids))),
            **options,
        )

    def log(self, since: int = 0) -> list[dict[str, Any]]:
        return [e for e in self.emulator.write_log() if e["seq"] > since]

    def faults(self, **shares: Any) -> None:
        self.emulator.admin("faults", shares)


@pytest.fixture
async def env(pool: asyncpg.Pool) -> AsyncIterator[Env]:
    workspace = await WorkspaceRepo(pool).create(WorkspaceCreate(name=f"w-{uuid.uuid4().hex[:6]}"))
    async with pool.acquire() as conn:
        member, _ = await add_user_to_workspace(
            conn,
            workspace.id,
            UserCreate(email=f"rep-{uuid.uuid4().hex[:6]}@ourco.example"),
            role="admin",
        )
    config = EmulatorConfig(latency=NO_LATENCY, seed=7)
    with emulator_on(config, snapshot=_snapshot()) as emulator:
        async with HubSpotClient(
            PrivateAppToken(TOKEN), base_url=emulator.url, retry=NO_RETRIES
        ) as client:
            budget = RateBudget(RateLimits(), clock=emulator.clock)
            yield Env(pool, emulator, client, budget, workspace.id, member.user.id)


@dataclass
class Queued:
    activity_id: UUID
    proposal_ids: list[UUID]
    outbox_ids: list[int]
    item_id: UUID | None = None


async def queue(
    env: Env,
    record_id: str | None,
    fields: dict[str, tuple[str | None, str]],
    *,
    approved: dict[str, str] | None = None,
    context: dict[str, Any] | None = None,
) -> Queued:
    """One activity's proposals for ``{field: (before, after)}``, queued for writing.

    ``approved`` makes them reviewed proposals a human approved, with these values (an
    edited value differs from the proposed one); otherwise they are auto-applied.
    """
    reviewed = approved is not None
    activity = await ActivityRepo(env.pool).insert(
        NewActivity(
            workspace_id=env.workspace_id,
            agent_config_id=None,
            user_id=env.user_id,
            meeting_id=None,
            crm_record_id=record_id,
            crm_record_type="deal",
            action_type="update" if record_id else "create",
            fields_updated={
                f: {"before": before, "after": after, "confidence": 0.9}
                for f, (before, after) in fields.items()
            },
            overall_confidence=0.9,
            status="pending",
            error_message=None,
            agent_run_id=None,
            details={},
        )
    )
    inbox = InboxRepo(env.pool)
    item_id = None
    if reviewed:
        item = await inbox.insert_item(
            InboxDraft("approval", "Review", "", context or {}, 0.5),
            workspace_id=env.workspace_id,
            user_id=env.user_id,
            activity_log_id=activity.id,
        )
        item_id = item.id
    drafts = [
        ProposalDraft(
            field=f,
            before=before,
            proposed=after,
            confidence=0.5 if reviewed else 0.9,
            route="review" if reviewed else "auto_apply",
            reason="test",
            evidence=[],
        )
        for f, (before, after) in fields.items()
    ]
    proposals = await inbox.insert_proposals(
        drafts,
        workspace_id=env.workspace_id,
        activity_log_id=activity.id,
        crm_record_type="deal",
        crm_record_id=record_id,
        inbox_item_id=item_id,
    )
    if approved is not None:
        # What a human's decision leaves behind: the proposal queued with its approved value.
        for proposal in proposals:
            await env.pool.execute(
                "UPDATE proposals SET status = 'queued', approved_value = $2, decided_by = $3,"
                " decided_at = now() WHERE id = $1",
                proposal.id,
                approved.get(proposal.field, proposal.proposed_value),
                env.user_id,
            )
        await env.pool.execute(
            "UPDATE inbox_items SET status = 'approved', resolved_by = $2, resolved_at = now()"
            " WHERE id = $1",
            item_id,
            env.user_id,
        )
        proposals = await inbox.proposals_for_activity(activity.id)
    outbox_ids = await OutboxRepo(env.pool).enqueue(env.workspace_id, proposals)
    return Queued(activity.id, [p.id for p in proposals], outbox_ids, item_id)


async def outbox_rows(env: Env, queued: Queued) -> list[dict[str, Any]]:
    rows = await env.pool.fetch(
        "SELECT o.property, o.status, o.error_message, o.attempts, o.crm_record_id,"
        " o.batch_id, p.status AS proposal_status, p.written_value, p.error_message AS"
        " proposal_error, p.reason, p.before_value, p.decided_by, p.crm_record_id AS"
        " proposal_record_id FROM write_outbox o JOIN proposals p ON p.id = o.proposal_id"
        " WHERE o.id = ANY($1::bigint[]) ORDER BY o.id",
        queued.outbox_ids,
    )
    return [dict(r) for r in rows]


async def statuses(env: Env, queued: Queued) -> set[tuple[str, str]]:
    return {(r["status"], r["proposal_status"]) for r in await outbox_rows(env, queued)}


async def activity(env: Env, queued: Queued) -> ActivityLog:
    return await ActivityRepo(env.pool).get(queued.activity_id)


async def unsent(env: Env) -> int:
    count = await env.pool.fetchval(
        "SELECT count(*) FROM write_outbox WHERE workspace_id = $1"
        " AND status IN ('pending', 'in_flight')",
        env.workspace_id,
    )
    assert isinstance(count, int)
    return count


async def crm_values(env: Env, ids: Sequence[str], *names: str) -> dict[str, dict[str, Any]]:
    result = await env.client.batch_read("deals", ids, properties=names)
    return {r.id: {n: r.properties.get(n) for n in names} for r in result.results}


async def claim_as_a_crashed_writer(env: Env, queued: Sequence[Queued]) -> UUID:
    """Leave rows in flight the way a writer that died after marking them would."""
    batch_id = uuid.uuid4()
    ids = [i for q in queued for i in q.outbox_ids]
    async with env.pool.acquire() as conn, conn.transaction():
        claimed = await OutboxRepo(conn).claim(
            env.workspace_id, ids, batch_id=batch_id, sent_at=env.emulator.clock.now()
        )
    assert claimed == set(ids)
    return batch_id


async def _events(queue: asyncio.Queue[Event], workspace_id: UUID, count: int) -> list[Event]:
    found: list[Event] = []
    while len(found) < count:
        event = await asyncio.wait_for(queue.get(), timeout=10)
        if event.workspace_id == workspace_id and event.op == "update":
            found.append(event)
    return found


# Merging ------------------------------------------------------------------------------------


class _EmulatorCrms:
    """The run's CRM: the same deals as the emulator's, read in memory."""

    def __init__(self, env: Env) -> None:
        self._env = env

    async def for_workspace(self, workspace_id: UUID) -> WorkspaceCrm:
        crm = InMemoryCrm.from_snapshot(load_snapshot(TEST_SNAPSHOT))
        audited = AuditedCrm(crm, workspace_id=workspace_id, clock=self._env.emulator.clock)
        return WorkspaceCrm(port=audited, audit=audited)


async def test_a_runs_fields_are_one_input_and_one_write_and_the_activity_succeeds(
    env: Env,
) -> None:
    fields = {f: FieldPolicy(auto_apply_threshold=0.3) for f in ("amount", "closedate")}
    fields["hs_next_step"] = FieldPolicy(auto_apply_threshold=0.3)
    config = AgentConfig(call_types=("discovery",), fields=fields, review_only=False)
    await env.pool.execute(
        "INSERT INTO agent_configs (workspace_id, created_by, name, crm_type, call_type, config,"
        " status) VALUES ($1, $2, 'auto', 'hubspot', 'discovery', $3, 'active')",
        env.workspace_id,
        env.user_id,
        config.model_dump(mode="json"),
    )
    meeting = dialogue(*SAID, external_id=f"zoom-{uuid.uuid4().hex[:10]}")
    async with env.pool.acquire() as conn:
        [run] = (await import_meeting(conn, env.workspace_id, meeting)).runs
    [claimed] = await RunRepo(env.pool).claim("test", limit=1, lease_s=60)
    assert claimed.id == run.id
    executor = RunExecutor(
        env.pool, _EmulatorCrms(env), extractor=RulesExtractor(), clock=env.emulator.clock
    )
    logged = await executor.execute(claimed, "test")
    assert (logged.crm_record_id, logged.status) == ("301", "pending")
    proposals = await InboxRepo(env.pool).proposals_for_activity(logged.id)
    assert len(proposals) == 3
    assert {p.status for p in proposals} == {"queued"}

    async with env.pool.acquire() as conn, listen(conn, (ACTIVITY_LOGS,)) as events:
        report = await env.writer().flush()
        [event] = await _events(events, env.workspace_id, 1)

    assert (report.requests, report.inputs, report.records_written) == (1, 1, 1)
    [entry] = env.log()
    assert (entry["operation"], entry["id"]) == ("update", "301")
    proposed = {p.field: p.proposed_value for p in proposals}
    assert entry["properties"] == stored(proposed)
    assert (await crm_values(env, ["301"], *proposed))["301"] == stored(proposed)
    after = await InboxRepo(env.pool).proposals_for_activity(logged.id)
    # written_value is what HubSpot made of the value: the close date at midnight UTC.
    assert {p.field: (p.status, p.written_value) for p in after} == {
        f: ("written", v) for f, v in stored(proposed).items()
    }
    rows = await env.pool.fetch(
        "SELECT status, done_at, batch_id, attempts FROM write_outbox WHERE proposal_id ="
        " ANY($1::uuid[])",
        [p.id for p in proposals],
    )
    assert {(r["status"], r["attempts"]) for r in rows} == {("done", 1)}
    assert all(r["done_at"] is not None for r in rows)
    assert len({r["batch_id"] for r in rows}) == 1
    done = await ActivityRepo(env.pool).get(logged.id)
    assert (done.status, done.error_message) == ("success", None)
    assert (event.id, event.status) == (logged.id, "success")
    assert env.written == [("deals", ["301"])]
    # The budget learned the account's daily limit from the answer's headers (1,000,000
    # on the emulator, where it was configured with HubSpot Professional's 625,000).
    assert env.budget.snapshot().daily_limit == 1_000_000
    audit = await env.pool.fetch(
        "SELECT details FROM audit_log WHERE workspace_id = $1 AND action = 'crm.update'",
        env.workspace_id,
    )
    assert [r["details"]["ids"] for r in audit] == [["301"]]


async def test_250_records_are_three_requests_and_one_write_each(env: Env) -> None:
    ids = BULK_IDS[:250]
    queued = [
        await queue(
            env, i, {"amount": ("100", f"{n + 1}000"), "closedate": ("2026-06-30", "2026-07-31")}
        )
        for n, i in enumerate(ids)
    ]

    report = await env.writer().flush()

    assert (report.requests, report.inputs, report.records_written) == (3, 250, 250)
    assert report.records_failed == report.rate_limited == report.superseded == 0
    log = env.log()
    assert Counter(e["id"] for e in log) == dict.fromkeys(ids, 1)
    stored = await crm_values(env, ids, "amount", "closedate")
    assert stored == {
        i: {"amount": f"{n + 1}000", "closedate": "2026-07-31T00:00:00.000Z"}
        for n, i in enumerate(ids)
    }
    audit = await env.pool.fetch(
        "SELECT details FROM audit_log WHERE workspace_id = $1 AND action = 'crm.update'",
        env.workspace_id,
    )
    assert sorted(r["details"]["ids_count"] for r in audit) == [50, 100, 100]
    for q in (queued[0], queued[-1]):
        assert await statuses(env, q) == {("done", "written")}
        assert (await activity(env, q)).status == "success"
    assert await unsent(env) == 0


async def test_two_values_for_one_field_send_the_newer_and_supersede_the_older(env: Env) -> None:
    older = await queue(
        env, "1000", {"amount": ("100", "500"), "closedate": ("2026-06-30", "2026-08-31")}
    )
    newer = await queue(env, "1000", {"amount": ("100", "700")})

    report = await env.writer().flush()

    assert (report.inputs, report.superseded, report.records_written) == (1, 1, 1)
    [entry] = env.log()
    assert entry["properties"] == stored({"amount": "700", "closedate": "2026-08-31"})
    rows = await outbox_rows(env, older)
    assert [(r["property"], r["status"], r["proposal_status"]) for r in rows] == [
        ("amount", "cancelled", "superseded"),
        ("closedate", "done", "written"),
    ]
    assert f"superseded by outbox row {newer.outbox_ids[0]}" in rows[0]["error_message"]
    assert await statuses(env, newer) == {("done", "written")}
    assert (await activity(env, older)).status == "success"
    assert (await activity(env, newer)).status == "success"


# Refusals -----------------------------------------------------------------------------------


async def test_a_refused_record_fails_alone_with_hubspots_message(env: Env) -> None:
    bad_amount = await queue(
        env, "1000", {"amount": ("100", "sixty grand"), "closedate": ("2026-06-30", "2026-09-30")}
    )
    bad_stage = await queue(env, "1001", {"dealstage": ("qualifiedtobuy", "nosuchstage")})
    fine = [await queue(env, i, {"amount": ("100", "900")}) for i in ("1002", "1003")]

    report = await env.writer().flush()

    assert (report.requests, report.records_written, report.records_failed) == (1, 2, 2)
    assert sorted(e["id"] for e in env.log()) == ["1002", "1003"]
    for q in fine:
        assert await statuses(env, q) == {("done", "written")}
        assert (await activity(env, q)).status == "success"
    [stage] = await outbox_rows(env, bad_stage)
    assert (stage["status"], stage["proposal_status"]) == ("failed", "failed")
    assert "nosuchstage" in stage["proposal_error"]
    assert stage["error_message"] == stage["proposal_error"]
    failed = await activity(env, bad_stage)
    assert failed.status == "failed"
    assert failed.error_message is not None
    assert failed.error_message.startswith("the CRM refused dealstage: ")
    assert "nosuchstage" in failed.error_message

    # The bad amount fails; the close date HubSpot did not object to goes again alone.
    amount, closedate = await outbox_rows(env, bad_amount)
    assert (amount["status"], amount["proposal_status"]) == ("failed", "failed")
    assert "sixty grand was not a valid number" in amount["proposal_error"]
    assert (closedate["status"], closedate["proposal_status"]) == ("pending", "queued")
    assert (await activity(env, bad_amount)).status == "pending"

    again = await env.writer().flush()
    assert (again.inputs, again.records_written, again.resent) == (1, 1, 1)
    [entry] = env.log(since=2)
    assert (entry["id"], entry["properties"]) == ("1000", stored({"closedate": "2026-09-30"}))
    settled = await activity(env, bad_amount)
    assert settled.status == "failed"
    assert settled.error_message is not None
    assert "amount: " in settled.error_message
    assert "closedate" not in settled.error_message


async def test_an_unknown_record_fails_with_hubspots_not_found(env: Env) -> None:
    gone = await queue(env, "999999", {"amount": (None, "5")})
    fine = await queue(env, "1000", {"amount": ("100", "5")})
    report = await env.writer().flush()
    assert (report.records_written, report.records_failed) == (1, 1)
    [row] = await outbox_rows(env, gone)
    assert row["proposal_status"] == "failed"
    assert "Could not get some DEAL objects" in row["proposal_error"]
    assert await statuses(env, fine) == {("done", "written")}


# Human-approved values ----------------------------------------------------------------------


async def test_an_approved_value_whose_record_changed_goes_back_to_review(env: Env) -> None:
    with env.emulator.client() as http:
        http.patch("/crm/v3/objects/deals/1000", json={"properties": {"amount": "150"}})
        # The same amount written another way is no change.
        http.patch("/crm/v3/objects/deals/1001", json={"properties": {"amount": "100.00"}})
    seen = len(env.log())
    stale = await queue(env, "1000", {"amount": ("100", "200")}, approved={"amount": "250"})
    same = await queue(env, "1001", {"amount": ("100", "300")}, approved={})
    auto = await queue(env, "1002", {"amount": ("999", "400")})

    async with env.pool.acquire() as conn, listen(conn, (INBOX_ITEMS,)) as events:
        report = await env.writer().flush()
        [reopened] = await _events(events, env.workspace_id, 1)

    assert report.returned_to_review == 1
    assert (report.inputs, report.records_written) == (2, 2)
    assert sorted(e["id"] for e in env.log(since=seen)) == ["1001", "1002"]
    [row] = await outbox_rows(env, stale)
    assert (row["status"], row["proposal_status"]) == ("cancelled", "pending")
    assert row["reason"] == "changed in the CRM meanwhile: was 100, now 150"
    assert row["error_message"] == row["reason"]
    assert (row["before_value"], row["decided_by"]) == ("150", None)
    item = await InboxRepo(env.pool).get_item(stale.item_id or uuid.uuid4())
    assert (item.status, item.resolved_by) == ("pending", None)
    assert (reopened.id, reopened.status) == (stale.item_id, "pending")
    assert (await activity(env, stale)).status == "pending"
    assert (await crm_values(env, ["1000"], "amount"))["1000"] == {"amount": "150"}
    # Approved and unchanged: written with the human's value; auto-applied: as proposed.
    assert [(r["status"], r["written_value"]) for r in await outbox_rows(env, same)] == [
        ("done", "300")
    ]
    assert [(r["status"], r["written_value"]) for r in await outbox_rows(env, auto)] == [
        ("done", "400")
    ]


async def test_an_approved_create_makes_the_deal_with_its_links(env: Env) -> None:
    fields: dict[str, tuple[str | None, str]] = {
        "dealname": (None, "Acme Pilot"),
        "pipeline": (None, "default"),
        "dealstage": (None, "appointmentscheduled"),
        "amount": (None, "5000"),
    }
    context = {"company": {"id": "101"}, "contacts": [{"id": "201"}]}
    created = await queue(env, None, fields, approved={}, context=context)

    report = await env.writer().flush()

    assert (report.inputs, report.records_written) == (1, 1)
    [entry] = env.log()
    assert entry["operation"] == "create"
    assert entry["properties"]["dealname"] == "Acme Pilot"
    assert {(a["toObjectType"], a["toObjectId"]) for a in entry["associations"]} == {
        ("companies", "101"),
        ("contacts", "201"),
    }
    rows = await outbox_rows(env, created)
    assert {(r["status"], r["proposal_status"]) for r in rows} == {("done", "written")}
    assert {(r["crm_record_id"], r["proposal_record_id"]) for r in rows} == {
        (entry["id"], entry["id"])
    }
    made = await activity(env, created)
    assert (made.status, made.crm_record_id) == ("success", entry["id"])


# Rate limits --------------------------------------------------------------------------------


async def test_a_429_storm_loses_nothing_and_fails_nothing(env: Env) -> None:
    ids = BULK_IDS[:120]
    queued = [await queue(env, i, {"amount": ("100", "777")}) for i in ids[:115]]
    queued += [await queue(env, i, {"amount": ("100", "888")}, approved={}) for i in ids[115:]]
    env.faults(rate_limited=0.5)
    writer = env.writer(batch_size=10)

    reports: list[FlushReport] = []
    for _ in range(100):
        reports.append(await writer.flush())
        if await unsent(env) == 0:
            break

    assert await unsent(env) == 0
    assert sum(r.rate_limited for r in reports) > 0
    assert env.budget.snapshot().rate_limited_count == sum(r.rate_limited for r in reports)
    assert sum(r.records_failed for r in reports) == 0
    assert Counter(e["id"] for e in env.log()) == dict.fromkeys(ids, 1)
    for q in queued:
        assert await statuses(env, q) == {("done", "written")}
    assert (
        await env.pool.fetchval(
            "SELECT count(*) FROM activity_logs WHERE workspace_id = $1 AND status <> 'success'",
            env.workspace_id,
        )
        == 0
    )


# Crashes and lost answers -------------------------------------------------------------------


async def test_recovery_marks_done_what_reached_the_crm_without_sending_it_again(
    env: Env,
) -> None:
    queued = [await queue(env, i, {"amount": ("100", "4242")}) for i in BULK_IDS[:3]]
    await claim_as_a_crashed_writer(env, queued)
    # The dead writer's request had reached HubSpot: the values are there.
    await env.client.batch_update(
        "deals", [RecordUpdate(id=i, properties={"amount": "4242"}) for i in BULK_IDS[:3]]
    )
    writes = len(env.log())

    report = await env.writer().recover()

    assert (report.marked_done, report.resent) == (3, 0)
    assert len(env.log()) == writes
    for q in queued:
        assert [
            (r["status"], r["proposal_status"], r["written_value"])
            for r in await outbox_rows(env, q)
        ] == [("done", "written", "4242")]
        assert (await activity(env, q)).status == "success"
    again = await env.writer().flush()
    assert (again.requests, again.inputs) == (0, 0)
    assert len(env.log()) == writes


async def test_recovery_requeues_what_never_reached_the_crm_and_it_is_written_once(
    env: Env,
) -> None:
    queued = [await queue(env, i, {"amount": ("100", "5151")}) for i in BULK_IDS[:3]]
    await claim_as_a_crashed_writer(env, queued)
    writer = env.writer()
    # Pending rows of a record in flight wait: nothing is sent before recovery.
    assert (await writer.flush()).inputs == 0

    report = await writer.recover()

    assert (report.marked_done, report.resent) == (0, 3)
    for q in queued:
        assert [(r["status"], r["attempts"]) for r in await outbox_rows(env, q)] == [("pending", 1)]
    flushed = await writer.flush()
    assert (flushed.records_written, flushed.resent) == (3, 3)
    assert Counter(e["id"] for e in env.log()) == dict.fromkeys(BULK_IDS[:3], 1)
    for q in queued:
        assert [(r["status"], r["attempts"]) for r in await outbox_rows(env, q)] == [("done", 2)]


async def test_a_create_in_flight_at_a_crash_is_never_sent_again(env: Env) -> None:
    fields: dict[str, tuple[str | None, str]] = {
        "dealname": (None, "Globex Rollout"),
        "dealstage": (None, "appointmentscheduled"),
    }
    created = await queue(env, None, fields, approved={})
    await env.pool.execute(
        "UPDATE inbox_items SET status = 'approved' WHERE id = $1", created.item_id
    )
    await claim_as_a_crashed_writer(env, [created])

    report = await env.writer().recover()

    assert report.returned_to_review == 2
    rows = await outbox_rows(env, created)
    assert {(r["status"], r["error_message"]) for r in rows} == {("failed", CREATE_OUTCOME_UNKNOWN)}
    assert {(r["proposal_status"], r["reason"], r["decided_by"]) for r in rows} == {
        ("pending", CREATE_OUTCOME_UNKNOWN, None)
    }
    item = await InboxRepo(env.pool).get_item(created.item_id or uuid.uuid4())
    assert item.status == "pending"
    assert (await env.writer().flush()).requests == 0
    assert env.log() == []


async def test_an_answer_lost_after_the_write_is_settled_without_writing_twice(
    env: Env,
) -> None:
    queued = [
        await queue(env, i, {"closedate": ("2026-06-30", "2026-10-31")}) for i in BULK_IDS[:4]
    ]
    env.faults(dropped=1.0)
    writer = env.writer()

    lost = await writer.flush()

    assert (lost.inputs, lost.outcome_unknown, lost.records_written) == (4, 4, 0)
    for q in queued:
        assert await statuses(env, q) == {("in_flight", "queued")}
    assert len(env.log()) == 4  # applied, but the answer never came
    env.faults(dropped=0.0)

    settled = await writer.flush()

    assert (settled.marked_done, settled.inputs, settled.resent) == (4, 0, 0)
    assert Counter(e["id"] for e in env.log()) == dict.fromkeys(BULK_IDS[:4], 1)
    for q in queued:
        assert await statuses(env, q) == {("done", "written")}
        assert (await activity(env, q)).status == "success"


# Concurrency --------------------------------------------------------------------------------


async def _held(env: Env, count: int) -> None:
    for _ in range(500):
        answer = env.emulator.admin("hold", {"on": True})
        if answer["held"] >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never {count} requests held")


async def test_batches_go_side_by_side_but_never_two_for_one_record(env: Env) -> None:
    ids = BULK_IDS[:6]
    for i in ids:
        await queue(env, i, {"amount": ("100", "1")})
    env.emulator.admin("hold", {"on": True})
    first = asyncio.create_task(env.writer(batch_size=2, max_in_flight=3).flush())
    try:
        await _held(env, 3)
        in_flight = await env.pool.fetch(
            "SELECT batch_id, crm_record_id FROM write_outbox WHERE workspace_id = $1"
            " AND status = 'in_flight'",
            env.workspace_id,
        )
        assert len({r["batch_id"] for r in in_flight}) == 3
        assert Counter(r["crm_record_id"] for r in in_flight) == dict.fromkeys(ids, 1)

        # A newer value for a record whose batch is on its way waits, even for another writer.
        newer = await queue(env, ids[0], {"amount": ("1", "2")})
        # (Bounded: a writer that sent it anyway would wait on the hold forever.)
        other = await asyncio.wait_for(env.writer().flush(), timeout=5)
        assert (other.requests, other.inputs) == (0, 0)
        assert await statuses(env, newer) == {("pending", "queued")}
    finally:
        env.emulator.admin("hold", {"on": False})
    report = await asyncio.wait_for(first, timeout=10)
    assert report.records_written == 6

    assert (await env.writer().flush()).records_written == 1
    assert [e["properties"]["amount"] for e in env.log() if e["id"] == ids[0]] == ["1", "2"]
    assert (await crm_values(env, [ids[0]], "amount"))[ids[0]] == {"amount": "2"}
