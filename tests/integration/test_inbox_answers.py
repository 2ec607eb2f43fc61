"""Answering a question item against real Postgres: a real run asks which deal, a person
picks one, and the agent's routing runs again for it, exactly once."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from runtime.agents.config import FieldPolicy
from runtime.agents.extractors.rules import RulesExtractor
from runtime.clock import SystemClock
from runtime.crm.memory import InMemoryCrm
from runtime.crm.port import RecordUpdate
from runtime.crm.snapshot import load_snapshot
from runtime.errors import ConflictError, InvalidInputError, PermissionDeniedError
from runtime.inbox.answers import QuestionAnswers
from runtime.inbox.decisions import InboxDecisions
from runtime.inbox.models import InboxItem
from runtime.inbox.repo import InboxRepo
from runtime.meetings.service import import_meeting
from runtime.runs.executor import RunExecutor
from runtime.runs.repo import RunRepo
from runtime.tokens.models import Principal
from runtime.users.models import UserCreate
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo
from tests.decision_setup import as_user
from tests.meetings import EXAMPLE_PATH, dialogue
from tests.pipeline_setup import PRICE_AGREED, StaticCrms, auto_apply_config, insert_agent

CRM_SNAPSHOT = EXAMPLE_PATH.with_name("crm.json")


@dataclass(frozen=True)
class Asked:
    workspace_id: UUID
    admin: Principal
    owner: Principal
    question: InboxItem


@pytest.fixture
def crms() -> StaticCrms:
    return StaticCrms()


@pytest.fixture
def answers(pool: asyncpg.Pool, crms: StaticCrms) -> QuestionAnswers:
    return QuestionAnswers(pool, SystemClock(), crms, extractor=RulesExtractor())


async def _asked(pool: asyncpg.Pool, crms: StaticCrms) -> Asked:
    """A real run whose deal match is uncertain: a question for the meeting's owner. Once
    the deal is known, the amount is confident enough to write and the close date is not."""
    workspace = await WorkspaceRepo(pool).create(WorkspaceCreate(name=f"w-{uuid.uuid4().hex[:6]}"))
    async with pool.acquire() as conn:
        admin, _ = await add_user_to_workspace(
            conn, workspace.id, UserCreate(email=f"a-{uuid.uuid4().hex[:6]}@ourco.example"),
            role="admin",
        )  # fmt: skip
        owner, _ = await add_user_to_workspace(
            conn, workspace.id, UserCreate(email="sam@ourco.example"), role="member"
        )
    crms.by_workspace[workspace.id] = InMemoryCrm.from_snapshot(load_snapshot(CRM_SNAPSHOT))
    config = auto_apply_config(
        min_match_confidence=0.95,
        fields={
            "amount": FieldPolicy(auto_apply_threshold=0.3),
            "closedate": FieldPolicy(always_review=True),
        },
    )
    await insert_agent(pool, workspace.id, admin.user.id, config)
    meeting = dialogue(*PRICE_AGREED, external_id=f"zoom-{uuid.uuid4().hex[:10]}")
    async with pool.acquire() as conn:
        [run] = (await import_meeting(conn, workspace.id, meeting)).runs
    executor = RunExecutor(pool, crms, extractor=RulesExtractor(), clock=SystemClock())
    claimed = [
        r for r in await RunRepo(pool).claim("test", limit=100, lease_s=60) if r.id == run.id
    ]
    activity = await executor.execute(claimed[0], "test")
    [question] = await InboxRepo(pool).items_for_activity(activity.id)
    assert question.item_type == "question"
    return Asked(
        workspace.id,
        as_user(workspace.id, admin.user.id, "admin"),
        as_user(workspace.id, owner.user.id, "member"),
        question,
    )


async def _rows(pool: asyncpg.Pool, asked: Asked) -> tuple[Any, ...]:
    """Everything an answer changes, to show that a refused one changed nothing."""
    activity_id = asked.question.activity_log_id
    item = await pool.fetchrow(
        "SELECT status, resolved_by, resolution_reason FROM inbox_items WHERE id = $1",
        asked.question.id,
    )
    proposals = await pool.fetch(
        "SELECT field, status, crm_record_id, before_value, inbox_item_id FROM proposals"
        " WHERE activity_log_id = $1 ORDER BY field",
        activity_id,
    )
    activity = await pool.fetchrow(
        "SELECT status, crm_record_id FROM activity_logs WHERE id = $1", activity_id
    )
    counts = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM inbox_items WHERE activity_log_id = $1) AS items,"
        " (SELECT count(*) FROM write_outbox o JOIN proposals p ON p.id = o.proposal_id"
        "  WHERE p.activity_log_id = $1) AS outbox,"
        " (SELECT count(*) FROM audit_log WHERE action = 'decision.answer'"
        "  AND target_id = $2) AS answers",
        activity_id,
        str(asked.question.id),
    )
    return (tuple(item), [tuple(p) for p in proposals], tuple(activity), tuple(counts))


async def test_an_answer_runs_the_routing_again_for_the_picked_deal(
    pool: asyncpg.Pool, crms: StaticCrms, answers: QuestionAnswers
) -> None:
    asked = await _asked(pool, crms)
    assert asked.question.context is not None
    assert {c["id"] for c in asked.question.context["match"]["candidates"]} >= {"301", "302"}

    answer = await answers.answer(asked.owner, asked.question.id, "301")

    assert answer.question.status == "answered"
    assert answer.question.resolved_by == asked.owner.user_id
    # The run's values sit on the picked deal, routed at full match confidence: the
    # confident amount is queued for writing, the close date waits in a follow-up item.
    assert [(p.field, p.crm_record_id, p.before_value, p.status) for p in answer.proposals] == [
        ("amount", "301", "20000", "queued"),
        ("closedate", "301", "2026-06-30T00:00:00.000Z", "pending"),
    ]
    assert answer.follow_up is not None
    assert (answer.follow_up.item_type, answer.follow_up.status) == ("approval", "pending")
    assert answer.follow_up.user_id == asked.question.user_id
    assert answer.follow_up.activity_log_id == asked.question.activity_log_id
    assert answer.proposals[1].inbox_item_id == answer.follow_up.id
    assert (answer.activity.crm_record_id, answer.activity.status) == ("301", "pending")
    assert answer.activity.details["answered"]["deal_id"] == "301"
    assert answer.activity.details["match"]["confidence"] == 1.0
    outbox = await pool.fetch(
        "SELECT o.crm_record_id, o.property, o.value FROM write_outbox o"
        " JOIN proposals p ON p.id = o.proposal_id WHERE p.activity_log_id = $1",
        asked.question.activity_log_id,
    )
    assert [tuple(r) for r in outbox] == [("301", "amount", "60000")]
    row = await pool.fetchrow(
        "SELECT resolution_reason, decided_snapshot FROM inbox_items WHERE id = $1",
        asked.question.id,
    )
    assert row["resolution_reason"] == "the meeting is about deal 301"
    assert row["decided_snapshot"]["answer"] == {"deal_id": "301"}
    assert [p["field"] for p in row["decided_snapshot"]["proposals"]] == ["amount", "closedate"]
    [audit] = await pool.fetch(
        "SELECT actor_user_id, details FROM audit_log WHERE action = 'decision.answer'"
        " AND target_id = $1",
        str(asked.question.id),
    )
    assert audit["actor_user_id"] == asked.owner.user_id
    assert audit["details"]["deal_id"] == "301"
    assert audit["details"]["fields"] == {"amount": "queued", "closedate": "pending"}
    # The follow-up is decided like any approval.
    decided = await InboxDecisions(pool, SystemClock()).approve(asked.owner, answer.follow_up.id)
    assert [(p.field, p.status) for p in decided.proposals] == [("closedate", "queued")]


async def test_a_deal_needing_no_change_settles_the_activity(
    pool: asyncpg.Pool, crms: StaticCrms, answers: QuestionAnswers
) -> None:
    asked = await _asked(pool, crms)
    crm = crms.by_workspace[asked.workspace_id]
    assert isinstance(crm, InMemoryCrm)
    proposed = {
        r["field"]: r["proposed_value"]
        for r in await pool.fetch(
            "SELECT field, proposed_value FROM proposals WHERE activity_log_id = $1",
            asked.question.activity_log_id,
        )
    }
    # Deal 303 already says what the meeting said.
    await crm.batch_update("deals", [RecordUpdate(id="303", properties=proposed)])

    answer = await answers.answer(asked.owner, asked.question.id, "303")

    assert answer.proposals == ()
    assert answer.follow_up is None
    assert answer.activity.status == "success"
    statuses = await pool.fetch(
        "SELECT status FROM proposals WHERE activity_log_id = $1", asked.question.activity_log_id
    )
    assert {r["status"] for r in statuses} == {"superseded"}


async def test_an_unknown_deal_is_named_and_nothing_changes(
    pool: asyncpg.Pool, crms: StaticCrms, answers: QuestionAnswers
) -> None:
    asked = await _asked(pool, crms)
    before = await _rows(pool, asked)
    refused = (("999", "the CRM has no deal '999'"), ("  ", "must name a deal (its CRM id)"))
    for deal_id, reason in refused:
        with pytest.raises(InvalidInputError) as raised:
            await answers.answer(asked.owner, asked.question.id, deal_id)
        assert (raised.value.field, raised.value.reason) == ("deal_id", reason)
    assert await _rows(pool, asked) == before


async def test_two_racing_answers_decide_once_and_the_loser_is_told_who_won(
    pool: asyncpg.Pool, crms: StaticCrms, answers: QuestionAnswers
) -> None:
    asked = await _asked(pool, crms)
    results = await asyncio.gather(
        answers.answer(asked.owner, asked.question.id, "301"),
        answers.answer(asked.admin, asked.question.id, "302"),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1
    assert len(lost) == 1
    assert isinstance(lost[0], ConflictError)
    assert "was already answered by" in lost[0].reason
    after = await _rows(pool, asked)
    assert after[3][2] == 1  # one decision.answer entry
    assert {p[2] for p in after[1]} == {won[0].activity.crm_record_id}

    # A retried answer, an approval or a rejection afterwards change nothing.
    with pytest.raises(ConflictError):
        await answers.answer(asked.owner, asked.question.id, "301")
    with pytest.raises(ConflictError):
        await InboxDecisions(pool, SystemClock()).reject(asked.owner, asked.question.id)
    assert await _rows(pool, asked) == after


async def test_only_a_pending_question_of_ones_own_can_be_answered(
    pool: asyncpg.Pool, crms: StaticCrms, answers: QuestionAnswers
) -> None:
    asked = await _asked(pool, crms)
    before = await _rows(pool, asked)
    async with pool.acquire() as conn:
        stranger, _ = await add_user_to_workspace(
            conn, asked.workspace_id, UserCreate(email="kim@ourco.example"), role="member"
        )
    other_member = as_user(asked.workspace_id, stranger.user.id, "member")
    with pytest.raises(PermissionDeniedError):
        await answers.answer(other_member, asked.question.id, "301")
    assert await _rows(pool, asked) == before

    answer = await answers.answer(asked.admin, asked.question.id, "301")  # an admin may
    assert answer.follow_up is not None
    with pytest.raises(ConflictError) as raised:
        await answers.answer(asked.owner, answer.follow_up.id, "301")
    assert "not a question: approve or reject it" in raised.value.reason


async def test_an_expired_question_cannot_be_answered(
    pool: asyncpg.Pool, crms: StaticCrms, answers: QuestionAnswers
) -> None:
    asked = await _asked(pool, crms)
    decisions = InboxDecisions(pool, SystemClock())
    await decisions.decide_on_expiry(
        asked.workspace_id, asked.question.id, "approve", after_hours=72
    )
    before = await _rows(pool, asked)
    with pytest.raises(ConflictError) as raised:
        await answers.answer(asked.owner, asked.question.id, "301")
    assert "expired" in raised.value.reason
    assert await _rows(pool, asked) == before
