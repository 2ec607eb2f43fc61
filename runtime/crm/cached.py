"""A read-through cache in front of a CRM port: the workspace's CRM cache of the main flow.

Matching a meeting reads the same deals, contacts, property definitions and pipelines run
after run; ``CachedCrm`` answers repeats from memory so they spend none of the HubSpot
budget. Rules:

- ``property_definitions`` and ``pipelines`` are kept ``ttl_s`` per object type;
- records are kept ``ttl_s`` per (object type, id), with the property names and association
  types they were read with. A cached record answers a later ``get`` or ``batch_read`` only
  when it holds every property and association type asked for: after
  ``get("deals", "1", properties=["amount"])``, a ``get`` of ``["amount"]`` is a hit and one
  of ``["amount", "closedate"]`` reads through. ``properties=()`` means the CRM's default
  properties, answered only by a record once read with the defaults;
- an answer read through is merged into what is cached (its values win) and the merged
  record expires with its oldest part, so no value is served more than ``ttl_s`` after it
  was read. A hit may carry more properties or association types than asked for, never
  fewer;
- ``batch_read`` answers the ids it can from the cache and reads all the others in one call
  (ids the CRM does not know come back as its input error and are not cached);
- ``search`` answers and ``associated_ids`` lists are kept ``lookup_ttl_s`` per request
  (matching a meeting looks its attendees' contacts up by email, and HubSpot allows 5
  searches per second per account: without this, 5 meetings per second per account would
  be the ceiling). They do not fill the record cache: HubSpot's search index trails its
  writes. A write of an object type drops the searches of that type, and a write touching
  a record (or a new record associated with it) drops the association lists of that record;
  ``invalidate`` does the same; ``list_page`` always reads through;
- ``batch_create`` and ``batch_update`` go through, then drop the records they touched
  (updated ids; for creates, the records the new ones were associated with, whose
  association lists changed), also when the call fails: it may have been applied in part.
  ``invalidate`` and ``invalidate_all`` do the same for writes made elsewhere;
- a read already in flight when its record is invalidated still answers its callers (it ran
  concurrently with the write) but is not cached, and no later caller shares it;
- beyond ``max_records`` records, the least recently used is evicted;
- concurrent identical reads share one call to the CRM: while ``get("deals", "1")`` is in
  flight, a second identical ``get`` (or one asking for less) waits for its answer. A
  caller that is cancelled leaves the shared read running for the others.

``stats`` counts lookups (one per ``get``, per ``batch_read`` id, per definitions or
pipelines read, per search or association list): each is a hit, a miss (it read through)
or coalesced (it waited for a read already in flight); evictions count records dropped to
stay within ``max_records`` (searches and association lists have a bound of their own, the
same number).

Every dictionary is read and written with no ``await`` in between, so concurrent callers
on one event loop never see half an update.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from runtime.clock import Clock
from runtime.crm.port import (
    BatchResult,
    CrmPort,
    CrmRecord,
    InputError,
    ObjectType,
    Page,
    Pipeline,
    PropertyDefinition,
    RecordCreate,
    RecordUpdate,
    SearchRequest,
)

__all__ = ["CacheStats", "CachedCrm"]

_Key = tuple[ObjectType, str]
_ItemT = TypeVar("_ItemT", PropertyDefinition, Pipeline)


@dataclass(frozen=True)
class CacheStats:
    """Counters since the cache was built; ``records`` is how many it holds now."""

    hits: int
    misses: int
    coalesced: int
    evictions: int
    records: int

    @property
    def hit_ratio(self) -> float:
        """Share of lookups answered without a CRM call of their own (0.0 when none)."""
        lookups = self.hits + self.misses + self.coalesced
        return (self.hits + self.coalesced) / lookups if lookups else 0.0


@dataclass(frozen=True)
class _Want:
    """What a record read asks for; empty ``properties`` means the CRM's defaults."""

    properties: frozenset[str]
    associations: frozenset[ObjectType]

    @classmethod
    def of(cls, properties: Sequence[str], associations: Sequence[ObjectType] = ()) -> _Want:
        return cls(frozenset(properties), frozenset(associations))


@dataclass(frozen=True)
class _Entry:
    """A cached record and what it can answer for."""

    record: CrmRecord
    names: frozenset[str]
    """Properties it answers for: those asked for (the CRM leaves out names it does not
    know, and would again) and those the CRM returned."""
    default_names: frozenset[str] | None
    """The properties a defaults read returned, when one filled this entry."""
    associations: frozenset[ObjectType]
    expires_at_s: float

    @classmethod
    def read(cls, record: CrmRecord, want: _Want, expires_at_s: float) -> _Entry:
        returned = frozenset(record.properties)
        return cls(
            record=record,
            names=want.properties | returned,
            default_names=None if want.properties else returned,
            associations=want.associations,
            expires_at_s=expires_at_s,
        )

    def covers(self, want: _Want) -> bool:
        if not want.associations <= self.associations:
            return False
        if not want.properties:
            return self.default_names is not None
        return want.properties <= self.names

    def covers_entry(self, other: _Entry) -> bool:
        return (
            other.names <= self.names
            and other.associations <= self.associations
            and (other.default_names is None or self.default_names is not None)
        )

    def merged(self, newer: _Entry) -> _Entry:
        """``newer``'s answer laid over this one; it expires when this one does."""
        if newer.covers_entry(self):
            return newer
        # Association types the newer read asked for are replaced even when it found none
        # (the CRM leaves a type with no ids out of the answer).
        kept = {
            to_type: ids
            for to_type, ids in self.record.associations.items()
            if to_type not in newer.associations
        }
        record = newer.record.model_copy(
            update={
                "properties": {**self.record.properties, **newer.record.properties},
                "associations": {**kept, **newer.record.associations},
            }
        )
        return _Entry(
            record=record,
            names=self.names | newer.names,
            default_names=(
                newer.default_names if newer.default_names is not None else self.default_names
            ),
            associations=self.associations | newer.associations,
            expires_at_s=min(self.expires_at_s, newer.expires_at_s),
        )


@dataclass(frozen=True)
class _Kept:
    """A search answer or an association list, and what a write must drop it for."""

    answer: Page | list[str]
    expires_at_s: float
    searched: ObjectType | None
    """The object type searched (writes of that type drop it)."""
    record: _Key | None
    """The record whose associations these are (writes touching it drop them)."""


@dataclass(frozen=True)
class _Flight:
    """A record read in flight that later identical (or smaller) reads may wait for."""

    want: _Want
    task: asyncio.Task[CrmRecord]


@dataclass(frozen=True)
class _Timed(Generic[_ItemT]):
    items: tuple[_ItemT, ...]
    expires_at_s: float


@dataclass
class _SchemaPart(Generic[_ItemT]):
    """Definitions or pipelines: the lists kept per object type and the reads in flight."""

    entries: dict[ObjectType, _Timed[_ItemT]] = field(default_factory=dict)
    flights: dict[ObjectType, asyncio.Task[tuple[_ItemT, ...]]] = field(default_factory=dict)

    def land(self, object_type: ObjectType, task: asyncio.Task[tuple[_ItemT, ...]]) -> None:
        _consume(task)
        if self.flights.get(object_type) is task:
            del self.flights[object_type]

    def clear(self) -> None:
        self.entries.clear()
        self.flights.clear()


class CachedCrm:
    """Implements ``CrmPort`` over ``inner``, answering repeated reads from memory."""

    def __init__(
        self,
        inner: CrmPort,
        *,
        clock: Clock,
        ttl_s: float = 300.0,
        max_records: int = 10_000,
        lookup_ttl_s: float = 60.0,
    ) -> None:
        """Args:
        inner: the port reads go through to.
        clock: decides expiry (its monotonic seconds), so tests move time by hand.
        ttl_s: how long an answer is served from memory.
        max_records: how many records are kept; the least recently used go first.
        lookup_ttl_s: how long a search answer or an association list is served.
        """
        if ttl_s < 0:
            raise ValueError(f"ttl_s must not be negative, not {ttl_s}")
        if lookup_ttl_s < 0:
            raise ValueError(f"lookup_ttl_s must not be negative, not {lookup_ttl_s}")
        if max_records < 1:
            raise ValueError(f"max_records must be at least 1, not {max_records}")
        self._inner = inner
        self._clock = clock
        self._ttl_s = ttl_s
        self._max_records = max_records
        self._records: OrderedDict[_Key, _Entry] = OrderedDict()
        self._flights: dict[_Key, list[_Flight]] = {}
        self._lookup_ttl_s = lookup_ttl_s
        self._kept: OrderedDict[tuple[str, ...], _Kept] = OrderedDict()
        self._lookups: dict[tuple[str, ...], asyncio.Task[Page | list[str]]] = {}
        self._lookups_dropped_at = 0
        self._definitions: _SchemaPart[PropertyDefinition] = _SchemaPart()
        self._pipelines: _SchemaPart[Pipeline] = _SchemaPart()
        # Invalidation versus reads in flight: every read start and every invalidation takes
        # the next number; a read may fill the cache only if nothing it covers was
        # invalidated after it started. Numbers are kept only while reads are in flight.
        self._seq = 0
        self._reads_in_flight = 0
        self._invalidated_at: dict[_Key, int] = {}
        self._all_invalidated_at = 0
        self._hits = 0
        self._misses = 0
        self._coalesced = 0
        self._evictions = 0

    @property
    def stats(self) -> CacheStats:
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            coalesced=self._coalesced,
            evictions=self._evictions,
            records=len(self._records),
        )

    def invalidate(self, object_type: ObjectType, ids: Iterable[str]) -> None:
        """Forget these records; reads in flight for them will not be cached."""
        self._seq += 1
        keys = {(object_type, record_id) for record_id in ids}
        for key in keys:
            self._records.pop(key, None)
            self._flights.pop(key, None)
            if self._reads_in_flight:
                self._invalidated_at[key] = self._seq
        self._drop_lookups(lambda kept: kept.searched == object_type or kept.record in keys)

    def invalidate_all(self) -> None:
        """Forget every record, property definition and pipeline."""
        self._seq += 1
        self._all_invalidated_at = self._seq
        self._records.clear()
        self._flights.clear()
        self._definitions.clear()
        self._pipelines.clear()
        self._drop_lookups(lambda _: True)

    # Cached reads -------------------------------------------------------------------------

    async def get(
        self,
        object_type: ObjectType,
        record_id: str,
        *,
        properties: Sequence[str] = (),
        associations: Sequence[ObjectType] = (),
    ) -> CrmRecord:
        key = (object_type, record_id)
        want = _Want.of(properties, associations)
        cached = self._lookup(key, want)
        if cached is not None:
            self._hits += 1
            return cached
        flight = next((f for f in self._flights.get(key, ()) if _flight_covers(f, want)), None)
        if flight is None:
            self._misses += 1
            flight = self._start_get(key, want, properties, associations)
        else:
            self._coalesced += 1
        # shield: a caller cancelled while waiting must not cancel the read others share.
        return await asyncio.shield(flight.task)

    async def batch_read(
        self, object_type: ObjectType, ids: Sequence[str], *, properties: Sequence[str] = ()
    ) -> BatchResult:
        want = _Want.of(properties)
        wanted = list(dict.fromkeys(ids))
        found: dict[str, CrmRecord] = {}
        for record_id in wanted:
            cached = self._lookup((object_type, record_id), want)
            if cached is not None:
                found[record_id] = cached
        missing = [record_id for record_id in wanted if record_id not in found]
        self._hits += len(found)
        self._misses += len(missing)
        errors: tuple[InputError, ...] = ()
        if missing:
            started = self._begin_read()
            try:
                answer = await self._inner.batch_read(object_type, missing, properties=properties)
                for record in answer.results:
                    self._store((object_type, record.id), record, want, started)
            finally:
                self._end_read()
            found.update((record.id, record) for record in answer.results)
            errors = answer.errors
        # In the order asked, as the CRM answers.
        results = tuple(found[record_id] for record_id in wanted if record_id in found)
        return BatchResult(results=results, errors=errors)

    async def property_definitions(self, object_type: ObjectType) -> list[PropertyDefinition]:
        return await self._schema_read(
            self._definitions,
            object_type,
            lambda: self._inner.property_definitions(object_type),
        )

    async def pipelines(self, object_type: ObjectType = "deals") -> list[Pipeline]:
        return await self._schema_read(
            self._pipelines,
            object_type,
            lambda: self._inner.pipelines(object_type),
        )

    # Reads through ------------------------------------------------------------------------

    async def list_page(
        self,
        object_type: ObjectType,
        *,
        properties: Sequence[str] = (),
        limit: int = 100,
        after: str | None = None,
    ) -> Page:
        return await self._inner.list_page(
            object_type, properties=properties, limit=limit, after=after
        )

    async def search(self, object_type: ObjectType, request: SearchRequest) -> Page:
        answer = await self._looked_up(
            ("search", object_type, request.model_dump_json()),
            lambda: self._inner.search(object_type, request),
            searched=object_type,
            record=None,
        )
        assert isinstance(answer, Page)
        return answer

    async def associated_ids(
        self, from_type: ObjectType, record_id: str, to_type: ObjectType
    ) -> list[str]:
        answer = await self._looked_up(
            ("associations", from_type, record_id, to_type),
            lambda: self._inner.associated_ids(from_type, record_id, to_type),
            searched=None,
            record=(from_type, record_id),
        )
        assert isinstance(answer, list)
        return list(answer)  # a copy: callers may change their list

    # Writes -------------------------------------------------------------------------------

    async def batch_create(
        self, object_type: ObjectType, inputs: Sequence[RecordCreate]
    ) -> BatchResult:
        try:
            return await self._inner.batch_create(object_type, inputs)
        finally:
            # A new record is in no cached read, but the records it was associated with now
            # list it among their associations.
            linked: dict[ObjectType, set[str]] = {}
            for item in inputs:
                for link in item.associations:
                    linked.setdefault(link.to_object_type, set()).add(link.to_id)
            for to_type, ids in linked.items():
                self.invalidate(to_type, ids)
            self._drop_lookups(lambda kept: kept.searched == object_type)

    async def batch_update(
        self, object_type: ObjectType, inputs: Sequence[RecordUpdate]
    ) -> BatchResult:
        try:
            return await self._inner.batch_update(object_type, inputs)
        finally:
            self.invalidate(object_type, [i.id for i in inputs])

    # --------------------------------------------------------------------------------------

    async def _looked_up(
        self,
        key: tuple[str, ...],
        read: Callable[[], Awaitable[Page | list[str]]],
        *,
        searched: ObjectType | None,
        record: _Key | None,
    ) -> Page | list[str]:
        """A kept answer, a read in flight to share, or a new read that is then kept."""
        kept = self._kept.get(key)
        if kept is not None and kept.expires_at_s > self._clock.monotonic_s():
            self._hits += 1
            self._kept.move_to_end(key)
            return kept.answer
        task = self._lookups.get(key)
        if task is not None:
            self._coalesced += 1
        else:
            self._misses += 1
            self._seq += 1
            started = self._seq

            async def read_and_keep() -> Page | list[str]:
                answer = await read()
                # Kept only when no write dropped lookups since the read began.
                if started > self._lookups_dropped_at:
                    expires_at_s = self._clock.monotonic_s() + self._lookup_ttl_s
                    self._kept[key] = _Kept(answer, expires_at_s, searched, record)
                    self._kept.move_to_end(key)
                    while len(self._kept) > self._max_records:
                        self._kept.popitem(last=False)
                        self._evictions += 1
                return answer

            task = asyncio.get_running_loop().create_task(read_and_keep())
            self._lookups[key] = task

            def land(done: asyncio.Task[Page | list[str]]) -> None:
                _consume(done)
                if self._lookups.get(key) is done:
                    del self._lookups[key]

            task.add_done_callback(land)
        return await asyncio.shield(task)

    def _drop_lookups(self, dropped: Callable[[_Kept], bool]) -> None:
        """Forget the kept lookups ``dropped`` selects; reads in flight are not kept."""
        self._seq += 1
        self._lookups_dropped_at = self._seq
        self._lookups.clear()
        for key in [key for key, kept in self._kept.items() if dropped(kept)]:
            del self._kept[key]

    def _lookup(self, key: _Key, want: _Want) -> CrmRecord | None:
        entry = self._records.get(key)
        if entry is None:
            return None
        if entry.expires_at_s <= self._clock.monotonic_s():
            del self._records[key]
            return None
        if not entry.covers(want):
            return None
        self._records.move_to_end(key)
        return entry.record

    def _store(self, key: _Key, record: CrmRecord, want: _Want, started: int) -> None:
        if started < self._all_invalidated_at or started < self._invalidated_at.get(key, 0):
            return
        now_s = self._clock.monotonic_s()
        entry = _Entry.read(record, want, now_s + self._ttl_s)
        previous = self._records.pop(key, None)
        if previous is not None and previous.expires_at_s > now_s:
            entry = previous.merged(entry)
        self._records[key] = entry
        while len(self._records) > self._max_records:
            self._records.popitem(last=False)
            self._evictions += 1

    def _begin_read(self) -> int:
        self._seq += 1
        self._reads_in_flight += 1
        return self._seq

    def _end_read(self) -> None:
        self._reads_in_flight -= 1
        if not self._reads_in_flight:
            # Every later read starts after these invalidations: they no longer matter.
            self._invalidated_at.clear()

    def _start_get(
        self,
        key: _Key,
        want: _Want,
        properties: Sequence[str],
        associations: Sequence[ObjectType],
    ) -> _Flight:
        started = self._begin_read()

        async def read() -> CrmRecord:
            try:
                record = await self._inner.get(
                    key[0], key[1], properties=properties, associations=associations
                )
                self._store(key, record, want, started)
                return record
            finally:
                self._end_read()

        flight = _Flight(want, asyncio.get_running_loop().create_task(read()))
        self._flights.setdefault(key, []).append(flight)
        flight.task.add_done_callback(lambda _: self._land(key, flight))
        return flight

    def _land(self, key: _Key, flight: _Flight) -> None:
        """A read finished: later callers look in the cache instead of waiting for it."""
        _consume(flight.task)
        flights = self._flights.get(key)
        if flights is None or not any(f is flight for f in flights):
            return  # invalidated meanwhile
        flights[:] = [f for f in flights if f is not flight]
        if not flights:
            del self._flights[key]

    async def _schema_read(
        self,
        part: _SchemaPart[_ItemT],
        object_type: ObjectType,
        read: Callable[[], Awaitable[list[_ItemT]]],
    ) -> list[_ItemT]:
        cached = part.entries.get(object_type)
        if cached is not None and cached.expires_at_s > self._clock.monotonic_s():
            self._hits += 1
            return list(cached.items)
        task = part.flights.get(object_type)
        if task is not None:
            self._coalesced += 1
        else:
            self._misses += 1
            started = self._begin_read()

            async def read_and_keep() -> tuple[_ItemT, ...]:
                try:
                    items = tuple(await read())
                    if started > self._all_invalidated_at:
                        expires_at_s = self._clock.monotonic_s() + self._ttl_s
                        part.entries[object_type] = _Timed(items, expires_at_s)
                    return items
                finally:
                    self._end_read()

            task = asyncio.get_running_loop().create_task(read_and_keep())
            part.flights[object_type] = task
            task.add_done_callback(lambda done: part.land(object_type, done))
        # A copy: callers may sort or extend their list without changing the cache.
        return list(await asyncio.shield(task))


def _flight_covers(flight: _Flight, want: _Want) -> bool:
    """Whether a read in flight answers ``want`` (its answer's default names are unknown)."""
    if not want.associations <= flight.want.associations:
        return False
    if not want.properties:
        return not flight.want.properties
    return want.properties <= flight.want.properties


def _consume(task: asyncio.Task[object]) -> None:
    # Mark a failed shared read's error as seen: its waiters may all have been cancelled,
    # and asyncio would otherwise log "exception was never retrieved".
    if not task.cancelled():
        task.exception()
