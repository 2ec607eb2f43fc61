"""CachedCrm: repeated reads answered from memory, writes and expiry respected."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from runtime.clock import FakeClock
from runtime.crm.cached import CachedCrm, CacheStats
from runtime.crm.errors import CrmNotFoundError, CrmValidationError
from runtime.crm.memory import InMemoryCrm
from runtime.crm.port import (
    AssociationInput,
    BatchResult,
    CrmPort,
    CrmRecord,
    Filter,
    FilterGroup,
    ObjectType,
    Page,
    Pipeline,
    PropertyDefinition,
    RecordCreate,
    RecordUpdate,
    SearchRequest,
)
from tests.crm_builders import company, contact, deal, snapshot

TTL_S = 300.0


class CountingCrm:
    """A CrmPort that counts the calls reaching the CRM. ``hold("get")`` keeps the answers
    of later ``get`` calls (read from the CRM at call time) until ``release()``, as a slow
    network would: the test decides what happens while they are in flight."""

    def __init__(self, inner: CrmPort) -> None:
        self.inner = inner
        self.calls: list[tuple[str, Any]] = []
        self._held_methods: set[str] = set()
        self._gate = asyncio.Event()

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)

    def hold(self, *methods: str) -> None:
        self._held_methods = set(methods)
        self._gate.clear()

    def release(self) -> None:
        self._held_methods = set()
        self._gate.set()

    async def _held(self, method: str) -> None:
        if method in self._held_methods:
            await self._gate.wait()

    async def get(
        self,
        object_type: ObjectType,
        record_id: str,
        *,
        properties: Sequence[str] = (),
        associations: Sequence[ObjectType] = (),
    ) -> CrmRecord:
        self.calls.append(("get", (object_type, record_id, tuple(properties))))
        answer = await self.inner.get(
            object_type, record_id, properties=properties, associations=associations
        )
        await self._held("get")
        return answer

    async def list_page(
        self,
        object_type: ObjectType,
        *,
        properties: Sequence[str] = (),
        limit: int = 100,
        after: str | None = None,
    ) -> Page:
        self.calls.append(("list_page", object_type))
        return await self.inner.list_page(
            object_type, properties=properties, limit=limit, after=after
        )

    async def search(self, object_type: ObjectType, request: SearchRequest) -> Page:
        self.calls.append(("search", object_type))
        return await self.inner.search(object_type, request)

    async def batch_read(
        self, object_type: ObjectType, ids: Sequence[str], *, properties: Sequence[str] = ()
    ) -> BatchResult:
        self.calls.append(("batch_read", tuple(ids)))
        answer = await self.inner.batch_read(object_type, ids, properties=properties)
        await self._held("batch_read")
        return answer

    async def batch_create(
        self, object_type: ObjectType, inputs: Sequence[RecordCreate]
    ) -> BatchResult:
        self.calls.append(("batch_create", len(inputs)))
        return await self.inner.batch_create(object_type, inputs)

    async def batch_update(
        self, object_type: ObjectType, inputs: Sequence[RecordUpdate]
    ) -> BatchResult:
        self.calls.append(("batch_update", len(inputs)))
        return await self.inner.batch_update(object_type, inputs)

    async def associated_ids(
        self, from_type: ObjectType, record_id: str, to_type: ObjectType
    ) -> list[str]:
        self.calls.append(("associated_ids", record_id))
        return await self.inner.associated_ids(from_type, record_id, to_type)

    async def property_definitions(self, object_type: ObjectType) -> list[PropertyDefinition]:
        self.calls.append(("property_definitions", object_type))
        answer = await self.inner.property_definitions(object_type)
        await self._held("property_definitions")
        return answer

    async def pipelines(self, object_type: ObjectType = "deals") -> list[Pipeline]:
        self.calls.append(("pipelines", object_type))
        answer = await self.inner.pipelines(object_type)
        await self._held("pipelines")
        return answer


async def settle() -> None:
    """Let every task that can run, run (until they all wait on something)."""
    for _ in range(10):
        await asyncio.sleep(0)


def acme() -> InMemoryCrm:
    return InMemoryCrm.from_snapshot(
        snapshot(
            companies=[company("101", "Acme Corp", "acme.example")],
            contacts=[contact("201", "dana@acme.example", "Dana Ruiz", companies=["101"])],
            deals=[
                deal("301", "Acme Expansion", companies=["101"], contacts=["201"], amount="20000"),
                deal("302", "Acme Renewal", "contractsent", companies=["101"]),
                deal("303", "Acme Pilot", "closedwon", companies=["101"]),
            ],
        ),
        clock=FakeClock(datetime(2026, 3, 1, tzinfo=UTC)),
    )


def cached(
    *, max_records: int = 100, ttl_s: float = TTL_S
) -> tuple[CachedCrm, CountingCrm, FakeClock]:
    counting = CountingCrm(acme())
    clock = FakeClock()
    return CachedCrm(counting, clock=clock, ttl_s=ttl_s, max_records=max_records), counting, clock


def stats(cache: CachedCrm) -> tuple[int, int, int, int]:
    s = cache.stats
    return (s.hits, s.misses, s.coalesced, s.evictions)


def test_it_is_a_crm_port() -> None:
    port: CrmPort = cached()[0]
    assert isinstance(port, CachedCrm)
    with pytest.raises(ValueError, match="max_records"):
        CachedCrm(acme(), clock=FakeClock(), max_records=0)


async def test_a_repeated_get_is_answered_from_memory() -> None:
    cache, crm, _ = cached()
    first = await cache.get("deals", "301", properties=["amount"])
    again = await cache.get("deals", "301", properties=["amount"])
    assert again == first
    assert again.properties["amount"] == "20000"
    assert crm.count("get") == 1
    assert stats(cache) == (1, 1, 0, 0)
    assert cache.stats.hit_ratio == 0.5


async def test_a_get_asking_for_more_than_is_cached_reads_through_and_merges() -> None:
    cache, crm, _ = cached()
    await cache.get("deals", "301", properties=["amount"])
    wider = await cache.get("deals", "301", properties=["amount", "dealstage"])
    assert crm.count("get") == 2
    assert wider.properties["dealstage"] == "qualifiedtobuy"
    # Both reads are now held: either set, or a part of their union, is a hit.
    narrower = await cache.get("deals", "301", properties=["dealstage"])
    assert narrower.properties["dealstage"] == "qualifiedtobuy"
    assert crm.count("get") == 2
    # Associations are part of what was asked.
    linked = await cache.get("deals", "301", properties=["amount"], associations=["contacts"])
    assert linked.associations["contacts"] == ("201",)
    assert crm.count("get") == 3
    await cache.get("deals", "301", properties=["dealstage"], associations=["contacts"])
    assert crm.count("get") == 3


async def test_default_properties_are_answered_only_by_a_defaults_read() -> None:
    cache, crm, _ = cached()
    await cache.get("deals", "301", properties=["amount"])
    defaults = await cache.get("deals", "301")
    assert crm.count("get") == 2  # which properties are the CRM's defaults is its business
    assert defaults.properties["dealname"] == "Acme Expansion"
    await cache.get("deals", "301")
    await cache.get("deals", "301", properties=["dealname"])  # returned by the defaults read
    assert crm.count("get") == 2


async def test_records_definitions_and_pipelines_expire_after_the_ttl() -> None:
    cache, crm, clock = cached()
    await cache.get("deals", "301", properties=["amount"])
    await cache.property_definitions("deals")
    await cache.pipelines("deals")
    clock.advance(TTL_S - 1)
    await cache.get("deals", "301", properties=["amount"])
    definitions = await cache.property_definitions("deals")
    await cache.pipelines("deals")
    assert [crm.count(m) for m in ("get", "property_definitions", "pipelines")] == [1, 1, 1]
    assert "amount" in {d.name for d in definitions}
    clock.advance(1)
    await cache.get("deals", "301", properties=["amount"])
    await cache.property_definitions("deals")
    await cache.pipelines("deals")
    assert [crm.count(m) for m in ("get", "property_definitions", "pipelines")] == [2, 2, 2]
    assert stats(cache) == (3, 6, 0, 0)


async def test_a_merged_record_expires_with_its_oldest_part() -> None:
    cache, crm, clock = cached()
    await cache.get("deals", "301", properties=["amount"])
    clock.advance(200)
    await cache.get("deals", "301", properties=["dealstage"])
    clock.advance(100)
    # The amount was read 300 s ago: neither property is served from that entry now.
    await cache.get("deals", "301", properties=["dealstage"])
    assert crm.count("get") == 3


async def test_a_cached_list_is_a_copy() -> None:
    cache, _, _ = cached()
    definitions = await cache.property_definitions("deals")
    definitions.clear()
    assert await cache.property_definitions("deals") != []


async def test_batch_read_makes_one_call_for_the_ids_not_cached() -> None:
    cache, crm, _ = cached()
    await cache.get("deals", "302", properties=["amount"])
    answer = await cache.batch_read(
        "deals", ["301", "302", "999", "303", "301"], properties=["amount"]
    )
    assert crm.calls[-1] == ("batch_read", ("301", "999", "303"))
    assert crm.count("batch_read") == 1
    assert [r.id for r in answer.results] == ["301", "302", "303"]
    (error,) = answer.errors
    assert (error.category, error.ids) == ("OBJECT_NOT_FOUND", ("999",))
    assert stats(cache) == (1, 4, 0, 0)
    # Everything found is cached now; the unknown id is asked again.
    again = await cache.batch_read("deals", ["303", "301"], properties=["amount"])
    assert [r.id for r in again.results] == ["303", "301"]
    assert again.errors == ()
    assert crm.count("batch_read") == 1
    await cache.get("deals", "301", properties=["amount"])
    assert crm.count("get") == 1


BY_NAME = SearchRequest(
    filter_groups=(
        FilterGroup(filters=(Filter(property_name="dealname", operator="HAS_PROPERTY"),)),
    ),
    properties=("amount",),
)


async def test_searches_and_association_lists_are_kept_for_their_own_ttl() -> None:
    crm, clock = CountingCrm(acme()), FakeClock()
    cache = CachedCrm(crm, clock=clock, lookup_ttl_s=60.0)
    for _ in range(2):
        assert (await cache.search("deals", BY_NAME)).total == 3
        assert len((await cache.list_page("deals")).results) == 3
        assert await cache.associated_ids("companies", "101", "deals") == ["301", "302", "303"]
    assert [crm.count(m) for m in ("search", "list_page", "associated_ids")] == [1, 2, 1]
    # Search answers do not fill the record cache (the search index trails writes).
    await cache.get("deals", "301", properties=["amount"])
    assert crm.count("get") == 1
    clock.advance(60.0)
    await cache.search("deals", BY_NAME)
    await cache.associated_ids("companies", "101", "deals")
    assert [crm.count(m) for m in ("search", "associated_ids")] == [2, 2]


async def test_concurrent_identical_searches_share_one_call() -> None:
    cache, crm, _ = cached()
    pages = await asyncio.gather(*(cache.search("deals", BY_NAME) for _ in range(5)))
    assert {page.total for page in pages} == {3}
    assert crm.count("search") == 1
    assert stats(cache)[:3] == (0, 1, 4)


async def test_writes_drop_the_searches_of_their_type_and_the_lists_of_their_records() -> None:
    cache, crm, _ = cached()
    await cache.search("deals", BY_NAME)
    await cache.associated_ids("companies", "101", "deals")
    await cache.associated_ids("companies", "102", "deals")
    await cache.batch_update("deals", [RecordUpdate(id="301", properties={"amount": "1"})])
    await cache.search("deals", BY_NAME)
    assert crm.count("search") == 2  # a deal changed: its search answer may have too
    await cache.associated_ids("companies", "101", "deals")
    assert crm.count("associated_ids") == 2  # the company's list is no deal's record: kept
    await cache.batch_create(
        "deals",
        [
            RecordCreate(
                properties={"dealname": "Acme Add-on", "dealstage": "qualifiedtobuy"},
                associations=(
                    AssociationInput(
                        to_object_type="companies", to_id="101", association_type_id=341
                    ),
                ),
            )
        ],
    )
    assert len(await cache.associated_ids("companies", "101", "deals")) == 4
    await cache.associated_ids("companies", "102", "deals")
    assert crm.count("associated_ids") == 3  # only the new deal's company was read again
    await cache.search("deals", BY_NAME)
    assert crm.count("search") == 3  # a new deal: deal searches read again


async def test_an_update_drops_the_records_it_touched() -> None:
    cache, crm, _ = cached()
    await cache.get("deals", "301", properties=["amount"])
    await cache.get("deals", "302", properties=["amount"])
    await cache.batch_update("deals", [RecordUpdate(id="301", properties={"amount": "60000"})])
    fresh = await cache.get("deals", "301", properties=["amount"])
    assert fresh.properties["amount"] == "60000"
    await cache.get("deals", "302", properties=["amount"])
    assert crm.count("get") == 3


async def test_a_refused_update_still_drops_what_it_named() -> None:
    cache, crm, _ = cached()
    await cache.get("deals", "301", properties=["amount"])
    with pytest.raises(CrmValidationError):
        await cache.batch_update("deals", [RecordUpdate(id="301", properties={"amount": "x"})])
    await cache.get("deals", "301", properties=["amount"])
    assert crm.count("get") == 2


async def test_a_create_drops_the_records_it_was_associated_with() -> None:
    cache, crm, _ = cached()
    before = await cache.get("companies", "101", associations=["deals"])
    assert before.associations["deals"] == ("301", "302", "303")
    created = await cache.batch_create(
        "deals",
        [
            RecordCreate(
                properties={"dealname": "Acme Add-on", "dealstage": "qualifiedtobuy"},
                associations=(
                    AssociationInput(
                        to_object_type="companies", to_id="101", association_type_id=341
                    ),
                ),
            )
        ],
    )
    (new_deal,) = created.results
    after = await cache.get("companies", "101", associations=["deals"])
    assert after.associations["deals"] == ("301", "302", "303", new_deal.id)
    assert crm.count("get") == 2


async def test_invalidate_and_invalidate_all() -> None:
    cache, crm, _ = cached()
    for record_id in ("301", "302"):
        await cache.get("deals", record_id, properties=["amount"])
    await cache.pipelines()
    cache.invalidate("deals", ["301"])
    assert cache.stats.records == 1
    await cache.get("deals", "301", properties=["amount"])
    await cache.get("deals", "302", properties=["amount"])
    assert crm.count("get") == 3
    cache.invalidate_all()
    assert cache.stats.records == 0
    await cache.get("deals", "302", properties=["amount"])
    await cache.pipelines()
    assert (crm.count("get"), crm.count("pipelines")) == (4, 2)


async def test_the_least_recently_used_record_is_evicted() -> None:
    cache, crm, _ = cached(max_records=2)
    await cache.get("deals", "301")
    await cache.get("deals", "302")
    await cache.get("deals", "301")  # 302 is now the least recently used
    await cache.get("deals", "303")
    assert cache.stats == CacheStats(hits=1, misses=3, coalesced=0, evictions=1, records=2)
    await cache.get("deals", "301")
    await cache.get("deals", "303")
    assert crm.count("get") == 3
    await cache.get("deals", "302")
    assert crm.count("get") == 4
    assert cache.stats.evictions == 2


async def test_concurrent_identical_misses_share_one_call() -> None:
    cache, crm, _ = cached()
    crm.hold("get")
    both = ["amount", "closedate"]
    readers = [asyncio.create_task(cache.get("deals", "301", properties=both)) for _ in range(5)]
    # A narrower read waits for a wider one in flight; a wider one cannot.
    narrower = asyncio.create_task(cache.get("deals", "301", properties=["amount"]))
    wider = asyncio.create_task(cache.get("deals", "301", properties=["amount", "dealstage"]))
    await settle()
    assert crm.count("get") == 2
    crm.release()
    records = await asyncio.gather(*readers, narrower, wider)
    assert {r.properties["amount"] for r in records} == {"20000"}
    assert stats(cache) == (0, 2, 5, 0)
    await cache.get("deals", "301", properties=["closedate", "dealstage"])
    assert crm.count("get") == 2


async def test_concurrent_definition_and_pipeline_reads_share_one_call() -> None:
    cache, crm, _ = cached()
    crm.hold("property_definitions", "pipelines")
    definitions = [asyncio.create_task(cache.property_definitions("deals")) for _ in range(3)]
    pipelines = [asyncio.create_task(cache.pipelines("deals")) for _ in range(2)]
    await settle()
    crm.release()
    answers = await asyncio.gather(*definitions)
    assert answers[0] == answers[1] == answers[2] != []
    assert len(await asyncio.gather(*pipelines)) == 2
    assert (crm.count("property_definitions"), crm.count("pipelines")) == (1, 1)
    assert stats(cache) == (0, 2, 3, 0)


async def test_a_shared_failure_reaches_every_waiter_and_is_not_cached() -> None:
    cache, crm, _ = cached()
    outcomes = await asyncio.gather(
        cache.get("deals", "999"), cache.get("deals", "999"), return_exceptions=True
    )
    assert [type(o) for o in outcomes] == [CrmNotFoundError, CrmNotFoundError]
    assert crm.count("get") == 1
    with pytest.raises(CrmNotFoundError):
        await cache.get("deals", "999")
    assert crm.count("get") == 2


async def test_a_cancelled_waiter_leaves_the_shared_read_to_the_others() -> None:
    cache, crm, _ = cached()
    crm.hold("get")
    first = asyncio.create_task(cache.get("deals", "301"))
    second = asyncio.create_task(cache.get("deals", "301"))
    await settle()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    crm.release()
    assert (await second).properties["dealname"] == "Acme Expansion"
    await cache.get("deals", "301")
    assert crm.count("get") == 1


async def test_a_read_answering_after_an_update_is_not_cached() -> None:
    cache, crm, _ = cached()
    crm.hold("get")
    slow = asyncio.create_task(cache.get("deals", "301", properties=["amount"]))
    await settle()  # the CRM has answered 20000; the answer is on its way
    await cache.batch_update("deals", [RecordUpdate(id="301", properties={"amount": "1"})])
    crm.release()
    # Its caller gets what the CRM said (the read ran before the write)...
    assert (await slow).properties["amount"] == "20000"
    # ...but nobody after the write does.
    assert (await cache.get("deals", "301", properties=["amount"])).properties["amount"] == "1"
    assert crm.count("get") == 2


async def test_a_read_in_flight_when_invalidated_is_not_joined_by_later_reads() -> None:
    cache, crm, _ = cached()
    crm.hold("get")
    before = asyncio.create_task(cache.get("deals", "301", properties=["amount"]))
    await settle()
    cache.invalidate("deals", ["301"])
    after = asyncio.create_task(cache.get("deals", "301", properties=["amount"]))
    await settle()
    assert crm.count("get") == 2
    crm.release()
    await asyncio.gather(before, after)
    await cache.get("deals", "301", properties=["amount"])
    assert crm.count("get") == 2  # the read started after the invalidation was kept
    assert stats(cache) == (1, 2, 0, 0)


async def test_a_batch_read_answering_after_invalidate_all_is_not_cached() -> None:
    cache, crm, _ = cached()
    crm.hold("batch_read")
    slow = asyncio.create_task(cache.batch_read("deals", ["301", "302"]))
    await settle()
    cache.invalidate_all()
    crm.release()
    assert len((await slow).results) == 2
    assert cache.stats.records == 0
