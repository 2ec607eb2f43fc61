"""Loading a page's related objects ahead (``runtime.api.loaders.load_ahead`` / ``shown``),
the loaders dropped when an operation ends, the meetings the API's loader reads, and the
garbage collector's set-up of a serving process (``runtime.api.gc_tuning``)."""

from __future__ import annotations

import gc
import inspect
from collections.abc import Sequence
from typing import Any, cast

import pytest
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types.base import get_object_definition

from runtime.api.context import ApiContext, Services
from runtime.api.gc_tuning import freeze_startup_objects, unfreeze
from runtime.api.loaders import DropLoaders, keyed_loader, load_ahead, shown
from runtime.api.types.common import Meeting
from runtime.meetings.models import Meeting as StoredMeeting
from runtime.meetings.models import MeetingSummary
from runtime.settings import Settings

KNOWN = {1: "one", 2: "two", 3: "three"}


class Store:
    """A loader's fetch that records its batches, and can fail."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.failing = False

    async def fetch(self, keys: list[int]) -> Sequence[str | None]:
        self.batches.append(sorted(keys))
        if self.failing:
            raise ConnectionError("the database went away")
        return [KNOWN.get(key) for key in keys]


def _loader(store: Store) -> DataLoader[int, str | None]:
    return DataLoader(load_fn=store.fetch)


async def test_what_a_page_loaded_ahead_is_shown_at_once_in_one_batch() -> None:
    store = Store()
    loader = _loader(store)
    await load_ahead(loader, [1, None, 2, 1, 4])
    assert store.batches == [[1, 2, 4]]
    assert shown(loader, 1, str.upper) == "ONE"
    assert shown(loader, 4, str.upper) is None  # loaded, not found
    assert store.batches == [[1, 2, 4]]


async def test_what_was_not_loaded_ahead_is_loaded_with_the_next_batch() -> None:
    store = Store()
    loader = _loader(store)
    pending = [shown(loader, key, str.upper) for key in (3, 1, 5)]
    awaitables = [value for value in pending if inspect.isawaitable(value)]
    assert len(awaitables) == 3
    assert [await value for value in awaitables] == ["THREE", "ONE", None]
    assert store.batches == [[1, 3, 5]]


async def test_a_failed_load_ahead_is_left_for_each_field_to_report() -> None:
    store = Store()
    store.failing = True
    loader = _loader(store)
    await load_ahead(loader, [1, 2])  # does not raise: the fields report it
    pending = shown(loader, 1, str.upper)
    assert inspect.isawaitable(pending)
    with pytest.raises(ConnectionError, match="went away"):
        await pending
    assert store.batches == [[1, 2]]  # the failure is not retried within the request


async def test_nothing_to_load_ahead_runs_no_batch() -> None:
    store = Store()
    await load_ahead(_loader(store), [None, None])
    assert store.batches == []


async def test_an_operations_loaders_are_dropped_when_it_ends() -> None:
    batches: list[list[int]] = []
    held: list[list[str]] = []

    async def fetch(keys: list[int]) -> list[tuple[int, str]]:
        batches.append(sorted(keys))
        return [(key, KNOWN[key]) for key in keys if key in KNOWN]

    def key_of(pair: tuple[int, str]) -> int:
        return pair[0]

    @strawberry.type
    class Query:
        @strawberry.field
        async def thing(self, info: strawberry.Info[ApiContext, None]) -> str | None:
            loader = keyed_loader(info.context, "things", fetch, key_of)
            held.append(list(info.context.loaders))
            found = await loader.load(2)
            return None if found is None else found[1]

    # No database: the loader's fetch is the test's.
    services = Services(pool=cast(Any, None), settings=Settings(), clock=cast(Any, None))
    context = ApiContext(services, None)
    result = await strawberry.Schema(query=Query, extensions=[DropLoaders]).execute(
        "{ a: thing b: thing }", context_value=context
    )
    assert result.data == {"a": "two", "b": "two"}
    assert (held, batches) == ([["things"], ["things"]], [[2]])
    assert context.loaders == {}


def test_the_meetings_the_api_loads_carry_every_field_its_meeting_type_shows() -> None:
    shown_fields = {
        field.python_name for field in get_object_definition(Meeting, strict=True).fields
    }
    assert shown_fields - {"stored"} <= set(MeetingSummary.model_fields)
    left_out = set(StoredMeeting.model_fields) - set(MeetingSummary.model_fields)
    assert left_out == {"transcript", "notes", "content_sha256"}


def test_a_serving_process_freezes_what_start_up_left_alive() -> None:
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 0
    finally:
        unfreeze()
    assert gc.get_freeze_count() == 0
