"""A CRM port inside the workspace's rate budget: reads and writes spend the same one."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from runtime.clock import FakeClock
from runtime.crm.errors import CrmRateLimitedError
from runtime.crm.memory import InMemoryCrm
from runtime.crm.port import Filter, FilterGroup, SearchRequest
from runtime.settings import WriteSettings
from runtime.writes.budget import RateLimits
from runtime.writes.budgeted import BudgetedCrm, Budgets
from tests.crm_builders import company, deal, snapshot


def _crm() -> InMemoryCrm:
    return InMemoryCrm.from_snapshot(
        snapshot(companies=[company("101", "Acme")], deals=[deal("301", "Acme", companies=["101"])])
    )


class Limited(InMemoryCrm):
    async def pipelines(self, *args: Any, **kwargs: Any) -> Any:
        raise CrmRateLimitedError("ten_secondly_rolling", "TEN_SECONDLY_ROLLING", 3.0)


async def test_reads_and_searches_each_spend_their_own_kind_of_slot() -> None:
    budgets = Budgets(WriteSettings(), clock=FakeClock())
    workspace = uuid.uuid4()
    crm = BudgetedCrm(_crm(), budgets.for_workspace(workspace))

    await crm.get("deals", "301", properties=("dealname",))
    await crm.pipelines("deals")
    request = SearchRequest(
        filter_groups=(
            FilterGroup(filters=(Filter(property_name="name", operator="EQ", value="Acme"),)),
        )
    )
    await crm.search("companies", request)

    spent = budgets.for_workspace(workspace).snapshot()
    assert (spent.calls_in_window, spent.searches_in_window) == (2, 1)


async def test_the_budget_waits_when_the_burst_is_spent() -> None:
    clock = FakeClock()
    settings = WriteSettings(burst_per_10s=2)
    crm = BudgetedCrm(_crm(), Budgets(settings, clock=clock).for_workspace(uuid.uuid4()))
    before = clock.monotonic_s()
    for _ in range(3):
        await crm.pipelines("deals")
    # The third waited a window (and the margin for the first call's trip to HubSpot).
    assert clock.monotonic_s() - before == pytest.approx(10.3)


async def test_a_429_that_keeps_coming_back_tells_the_budget_each_time_then_is_raised() -> None:
    clock = FakeClock()
    budgets = Budgets(WriteSettings(), clock=clock)
    workspace = uuid.uuid4()
    crm = BudgetedCrm(Limited.from_snapshot(snapshot()), budgets.for_workspace(workspace))
    with pytest.raises(CrmRateLimitedError):
        await crm.pipelines("deals")
    assert budgets.for_workspace(workspace).snapshot().rate_limited_count == 3
    assert clock.monotonic_s() == pytest.approx(6.0)  # two Retry-After waits of 3 s


class LimitedOnce(InMemoryCrm):
    calls = 0

    async def pipelines(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise CrmRateLimitedError("secondly", "SECONDLY", None)
        return await super().pipelines(*args, **kwargs)


async def test_a_call_that_met_a_429_is_sent_again_when_the_budget_lets_it() -> None:
    # Another workspace on the same HubSpot account spent the limit our budget cannot see.
    clock = FakeClock()
    crm = BudgetedCrm(
        LimitedOnce.from_snapshot(snapshot()),
        Budgets(WriteSettings(), clock=clock).for_workspace(uuid.uuid4()),
    )
    assert await crm.pipelines("deals")
    assert clock.monotonic_s() == 0.0  # a SECONDLY 429 holds searches, not this call


class DailySpent(InMemoryCrm):
    calls = 0

    async def pipelines(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        raise CrmRateLimitedError("daily", "DAILY", None)


async def test_a_daily_429_is_raised_at_once() -> None:
    inner = DailySpent.from_snapshot(snapshot())
    assert isinstance(inner, DailySpent)
    crm = BudgetedCrm(
        inner, Budgets(WriteSettings(), clock=FakeClock()).for_workspace(uuid.uuid4())
    )
    with pytest.raises(CrmRateLimitedError):
        await crm.pipelines("deals")
    assert inner.calls == 1


def test_one_budget_per_workspace_with_its_own_limits() -> None:
    large = uuid.uuid4()
    settings = WriteSettings.model_validate({"large_tenant_limits": {str(large): {"burst": 250}}})
    budgets = Budgets(settings, clock=FakeClock())
    assert budgets.for_workspace(large) is budgets.for_workspace(large)
    assert budgets.for_workspace(large).limits == RateLimits(burst=250)
    assert budgets.for_workspace(uuid.uuid4()).limits == RateLimits(burst=190)
