"""The expiry sweeper against real Postgres: each agent's policy (reject, approve, remind)
applied once to the items nobody decided in time, whoever else sweeps or decides at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
import pytest

from runtime.agents.config import AgentConfig, ExpiryPolicy
from runtime.clock import FakeClock
from runtime.errors import ConflictError
from runtime.inbox.decisions import InboxDecisions
from runtime.inbox.expiry import ExpirySweeper
from tests.decision_setup import Made, Team, make_item, make_team, member
from tests.pipeline_setup import auto_apply_config, insert_agent

HOUR_S = 3600.0
Then = Literal["reject", "approve", "remind"]


@pytest.fixture
async def team(pool: asyncpg.Pool) -> Team:
    return await make_team(pool)


@pytest.fixture
def clock() -> FakeClock:
    """Now, as the database sees it (items are created at the database's time)."""
    return FakeClock(datetime.now(UTC))


async def agent_item(
    pool: asyncpg.Pool,
    team: Team,
    config: AgentConfig | dict[str, Any],
    *,
    item_type: Literal["approval", "question"] = "approval",
) -> Made:
    """A pending item (deal 301's amount) of a new agent with ``config`` (a dict: stored as
    it is, valid or not)."""
    stored = config if isinstance(config, AgentConfig) else auto_apply_config()
    agent_id = await insert_agent(pool, team.workspace_id, team.admin_id, stored)
    if isinstance(config, dict):
        await pool.execute("UPDATE agent_configs SET config = $2 WHERE id = $1", agent_id, config)
    made = await make_item(
        pool, team.workspace_id, team.member_id, item_type=item_type, record_id="301"
    )
    await pool.execute(
        "UPDATE activity_logs SET agent_config_id = $2 WHERE id = $1", made.activity_id, agent_id
    )
    return made


def policy(then: Then, after_hours: float = 2.0) -> AgentConfig:
    return auto_apply_config(
        review_only=True, expiry=ExpiryPolicy(after_hours=after_hours, then=then)
    )


async def state(pool: asyncpg.Pool, made: Made) -> dict[str, Any]:
    item = await pool.fetchrow(
        "SELECT status, resolved_by, resolved_at, reminded_at, resolution_reason"
        " FROM inbox_items WHERE id = $1",
        made.item.id,
    )
    proposals = await pool.fetch(
        "SELECT field, status, approved_value, decided_by FROM proposals WHERE inbox_item_id = $1",
        made.item.id,
    )
    outbox = await pool.fetch(
        "SELECT o.property, o.value FROM write_outbox o JOIN proposals p ON p.id = o.proposal_id"
        " WHERE p.inbox_item_id = $1",
        made.item.id,
    )
    audit = await pool.fetch(
        "SELECT action, actor_user_id, details FROM audit_log WHERE target_id = $1",
        str(made.item.id),
    )
    activity = await pool.fetchval(
        "SELECT status FROM activity_logs WHERE id = $1", made.activity_id
    )
    return {
        **dict(item),
        "proposals": {
            r["field"]: (r["status"], r["approved_value"], r["decided_by"]) for r in proposals
        },
        "outbox": [(r["property"], r["value"]) for r in outbox],
        "audit": [(r["action"], r["actor_user_id"]) for r in audit],
        "activity": activity,
    }


async def test_reject_expires_the_item_and_its_fields_once_the_time_is_up(
    pool: asyncpg.Pool, team: Team, clock: FakeClock
) -> None:
    made = await agent_item(pool, team, policy("reject", after_hours=2))
    sweeper = ExpirySweeper(pool, clock)

    clock.advance(1.5 * HOUR_S)
    await sweeper.sweep()
    assert (await state(pool, made))["status"] == "pending", "not yet"

    clock.advance(HOUR_S)
    report = await sweeper.sweep()

    assert report.expired >= 1
    after = await state(pool, made)
    assert after["status"] == "expired"
    assert after["resolved_by"] is None
    assert after["resolved_at"] == clock.now()
    assert "within 2 hours" in after["resolution_reason"]
    assert after["proposals"] == {"amount": ("expired", None, None)}
    assert after["outbox"] == []
    assert after["activity"] == "rejected", "settled as a rejection"
    assert after["audit"] == [("expiry.reject", None)]
    with pytest.raises(ConflictError, match="expired at"):
        await InboxDecisions(pool, clock).approve(member(team), made.item.id)

    await sweeper.sweep()
    assert await state(pool, made) == after, "an expiry happens once"


async def test_approve_queues_the_fields_as_an_approval_by_the_system(
    pool: asyncpg.Pool, team: Team, clock: FakeClock
) -> None:
    made = await agent_item(pool, team, policy("approve"))
    clock.advance(3 * HOUR_S)

    report = await ExpirySweeper(pool, clock).sweep()

    assert report.approved >= 1
    after = await state(pool, made)
    assert (after["status"], after["resolved_by"]) == ("approved", None)
    assert after["proposals"] == {"amount": ("queued", "60000", None)}
    assert after["outbox"] == [("amount", "60000")]
    assert after["activity"] == "pending", "the writer settles it once written"
    assert after["audit"] == [("expiry.approve", None)]
    with pytest.raises(ConflictError, match="already approved by the agent's expiry policy"):
        await InboxDecisions(pool, clock).reject(member(team), made.item.id)


async def test_approve_expires_a_question_only_an_answer_can_approve(
    pool: asyncpg.Pool, team: Team, clock: FakeClock
) -> None:
    made = await agent_item(pool, team, policy("approve"), item_type="question")
    clock.advance(3 * HOUR_S)

    await ExpirySweeper(pool, clock).sweep()

    after = await state(pool, made)
    assert after["status"] == "expired"
    assert after["outbox"] == []
    assert after["audit"] == [("expiry.reject", None)]


async def test_remind_records_one_reminder_and_leaves_the_item_pending(
    pool: asyncpg.Pool, team: Team, clock: FakeClock
) -> None:
    made = await agent_item(pool, team, policy("remind"))
    sweeper = ExpirySweeper(pool, clock)
    clock.advance(3 * HOUR_S)

    await sweeper.sweep()
    reminded_at = clock.now()
    clock.advance(10 * HOUR_S)
    await sweeper.sweep()

    after = await state(pool, made)
    assert (after["status"], after["reminded_at"]) == ("pending", reminded_at)
    assert after["proposals"] == {"amount": ("pending", None, None)}
    assert after["audit"] == [("expiry.remind", None)]
    decision = await InboxDecisions(pool, clock).approve(member(team), made.item.id)
    assert decision.item.status == "approved", "a reminded item is decided as usual"


async def test_two_sweepers_at_once_expire_an_item_once(
    pool: asyncpg.Pool, team: Team, clock: FakeClock
) -> None:
    rejected = await agent_item(pool, team, policy("reject"))
    approved = await agent_item(pool, team, policy("approve"))
    reminded = await agent_item(pool, team, policy("remind"))
    clock.advance(3 * HOUR_S)

    await asyncio.gather(ExpirySweeper(pool, clock).sweep(), ExpirySweeper(pool, clock).sweep())

    assert (await state(pool, rejected))["audit"] == [("expiry.reject", None)]
    approved_state = await state(pool, approved)
    assert approved_state["audit"] == [("expiry.approve", None)]
    assert approved_state["outbox"] == [("amount", "60000")]
    assert (await state(pool, reminded))["audit"] == [("expiry.remind", None)]


async def test_two_expiries_of_one_item_at_once_decide_it_once(
    pool: asyncpg.Pool, team: Team, clock: FakeClock
) -> None:
    made = await agent_item(pool, team, policy("approve"))
    decisions = InboxDecisions(pool, clock)

    outcomes = await asyncio.gather(
        *(
            decisions.decide_on_expiry(team.workspace_id, made.item.id, "approve", after_hours=2)
            for _ in range(2)
        ),
        return_exceptions=True,
    )

    assert sorted(type(o).__name__ for o in outcomes) == ["ConflictError", "Decision"]
    assert len((await state(pool, made))["outbox"]) == 1


async def test_a_human_approval_that_commits_first_wins_over_the_expiry(
    pool: asyncpg.Pool, team: Team, clock: FakeClock
) -> None:
    made = await agent_item(pool, team, policy("reject"))
    clock.advance(3 * HOUR_S)
    async with pool.acquire() as holding:
        transaction = holding.transaction()
        await transaction.start()
        # The approval's first step: the item locked until its transaction ends.
        await holding.execute("SELECT 1 FROM inbox_items WHERE id = $1 FOR UPDATE", made.item.id)
        sweeping = asyncio.ensure_future(ExpirySweeper(pool, clock).sweep())
        await asyncio.sleep(0.3)
        assert not sweeping.done(), "the expiry waits for the item"
        await holding.execute(
            "UPDATE inbox_items SET status = 'approved', resolved_by = $2 WHERE id = $1",
            made.item.id,
            team.member_id,
        )
        await transaction.commit()
        report = await sweeping

    assert report.lost_races >= 1
    after = await state(pool, made)
    assert (after["status"], after["resolved_by"]) == ("approved", team.member_id)
    assert after["audit"] == []


async def test_an_expiry_that_commits_first_wins_over_a_human_approval(
    pool: asyncpg.Pool, team: Team, clock: FakeClock
) -> None:
    made = await agent_item(pool, team, policy("reject"))
    decisions = InboxDecisions(pool, clock)

    expiring = decisions.decide_on_expiry(team.workspace_id, made.item.id, "reject", after_hours=2)
    approving = decisions.approve(member(team), made.item.id)
    outcomes = await asyncio.gather(expiring, approving, return_exceptions=True)

    assert sum(isinstance(o, ConflictError) for o in outcomes) == 1
    after = await state(pool, made)
    assert after["status"] in ("expired", "approved")
    assert len(after["audit"]) == 1
    assert len(after["outbox"]) == (1 if after["status"] == "approved" else 0)


async def test_items_of_agents_without_an_expiring_policy_never_expire(
    pool: asyncpg.Pool, team: Team, clock: FakeClock
) -> None:
    default = await agent_item(pool, team, auto_apply_config(review_only=True))
    no_agent = await make_item(pool, team.workspace_id, team.member_id)
    broken = await agent_item(pool, team, {"call_types": [], "expiry": {"then": "reject"}})
    clock.advance(1000 * HOUR_S)

    await ExpirySweeper(pool, clock).sweep()

    default_state = await state(pool, default)
    assert default_state["status"] == "pending"
    assert default_state["audit"] == [("expiry.remind", None)], "the default policy reminds"
    for made in (no_agent, broken):
        after = await state(pool, made)
        assert (after["status"], after["reminded_at"], after["audit"]) == ("pending", None, [])
