"""One LISTEN connection per process, fanned out to every subscriber in it.

GraphQL subscriptions (``types/subscriptions.py``), and later anything else that wants
events in a Serve replica, subscribe here instead of each holding a database connection.
The hub listens on the event channels (``runtime.events``) with one pooled connection,
taken on the first subscription and given back on ``close()`` (the app's shutdown).

- Fan-out: subscribers are indexed by (channel, workspace), so an event costs a dict lookup
  plus one non-blocking put per subscriber of its workspace, whatever the total count.
- A slow subscriber never blocks others: each has a bounded queue, and when it is full the
  *oldest* event is dropped (and counted) so the subscriber stays current. Events are
  wake-ups, not a log (``runtime.events``): a client that must see everything rereads the
  tables, as after a reconnect.
- A lost connection is retried every ``retry_s`` seconds; events raised meanwhile are not
  delivered.
- ``shared`` loads what an event refers to once for all its subscribers (one query per
  event, not one per subscriber). With a ``loaders`` entry for its channel, the hub starts
  that load as the event arrives and hands the event to the subscribers only once it is
  loaded (events still in the order they came): a thousand subscribers then find the row
  ready instead of all waiting on the one query, and waking twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any, TypeVar
from uuid import UUID

import asyncpg

from runtime.events import ACTIVITY_LOGS, ANOMALIES, INBOX_ITEMS, Event

__all__ = ["API_CHANNELS", "EventHub", "Loader", "Subscriber", "event_key"]

_log = logging.getLogger(__name__)

API_CHANNELS: tuple[str, ...] = (ACTIVITY_LOGS, INBOX_ITEMS, ANOMALIES)
"""What the API's subscriptions are fed from."""

_SHARED_KEPT = 1024  # loads ``shared`` remembers after they finish (recent events only)

T = TypeVar("T")

Acquire = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]

Loader = Callable[[Event], Awaitable[object]]
"""What an event of a channel refers to, loaded (e.g. its row); shared under ``event_key``."""


def event_key(event: Event) -> Hashable:
    """The ``EventHub.shared`` key of what ``event`` refers to (the key ``loaders`` use): the
    row as it is after this change, so a status change is loaded again, not taken from the
    insert's load."""
    return (event.channel, event.id, event.op, event.status)


class Subscriber:
    """One subscriber's events, in order, at most ``size`` of them waiting.

    Waiting for an event costs one future (no queue coroutines): a wait lives until the
    next event, long enough to reach the garbage collector's oldest generation, and with a
    thousand subscribers the objects each event's waits put there add up to the full
    collections that stall the process (``python -m bench.live``).
    """

    def __init__(self, size: int, accept: Callable[[Event], bool] | None) -> None:
        self._size = size
        self._accept = accept
        self._waiting: deque[Event] = deque()
        self._waiter: asyncio.Future[Event] | None = None
        self._loop = asyncio.get_running_loop()
        self.dropped = 0

    def offer(self, event: Event) -> None:
        """Queue ``event`` if the subscriber wants it; never waits."""
        if self._accept is not None and not self._accept(event):
            return
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():  # done: its reader was cancelled
            waiter.set_result(event)
            return
        if len(self._waiting) >= self._size:
            self._waiting.popleft()
            self.dropped += 1
            if self.dropped == 1:
                _log.warning("a subscriber is too slow: its oldest events are being dropped")
        self._waiting.append(event)

    def next(self) -> Awaitable[Event]:
        """The next event, once there is one (one reader at a time)."""
        future: asyncio.Future[Event] = self._loop.create_future()
        if self._waiting:
            future.set_result(self._waiting.popleft())
        else:
            if self._waiter is not None and not self._waiter.done():
                raise RuntimeError("a subscriber has one reader")
            self._waiter = future
        return future

    def __aiter__(self) -> Subscriber:
        return self

    def __anext__(self) -> Awaitable[Event]:
        return self.next()


class EventHub:
    """Listens for this process and hands each event to the subscribers of its workspace."""

    def __init__(
        self,
        acquire: Acquire,
        *,
        channels: Sequence[str] = API_CHANNELS,
        loaders: Mapping[str, Loader] | None = None,
        queue_size: int = 256,
        retry_s: float = 1.0,
        ready_timeout_s: float = 10.0,
    ) -> None:
        """Args:
        acquire: gives the listening connection (``pool.acquire``); it is held until
            ``close()`` or until it is lost.
        channels: the channels listened on.
        loaders: per channel, what its events refer to, loaded before they are handed
            out and kept as ``shared(event_key(event), ...)`` for the subscribers.
        queue_size: events one subscriber may have waiting before its oldest is dropped.
        retry_s: pause before listening again after the connection was lost.
        ready_timeout_s: how long a first subscriber waits for the listener to start.
        """
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._acquire = acquire
        self._channels = tuple(channels)
        self._loaders = dict(loaders or {})
        self._queue_size = queue_size
        self._retry_s = retry_s
        self._ready_timeout_s = ready_timeout_s
        self._subscribers: dict[tuple[str, UUID], set[Subscriber]] = {}
        self._listening = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._closed = False
        self._shared: OrderedDict[Hashable, asyncio.Future[Any]] = OrderedDict()
        # Events whose load is under way, in arrival order: each is handed out once it and
        # every event before it are loaded (None: nothing to load).
        self._loading: deque[tuple[Event, asyncio.Future[Any] | None]] = deque()
        self.delivered = 0  # events handed to at least one subscriber

    @property
    def subscriber_count(self) -> int:
        return sum(len(group) for group in self._subscribers.values())

    @asynccontextmanager
    async def subscribe(
        self,
        channel: str,
        workspace_id: UUID,
        *,
        accept: Callable[[Event], bool] | None = None,
        queue_size: int | None = None,
    ) -> AsyncIterator[Subscriber]:
        """Events of ``workspace_id`` on ``channel`` (those ``accept`` takes), from the moment
        this returns until the block ends; at most ``queue_size`` (default: the hub's) wait.

        Raises:
            RuntimeError: the hub is closed, or its listener did not start in time.
        """
        if channel not in self._channels:
            raise ValueError(f"the hub does not listen on {channel}")
        await self._started()
        subscriber = Subscriber(queue_size or self._queue_size, accept)
        key = (channel, workspace_id)
        self._subscribers.setdefault(key, set()).add(subscriber)
        try:
            yield subscriber
        finally:
            group = self._subscribers.get(key)
            if group is not None:
                group.discard(subscriber)
                if not group:
                    del self._subscribers[key]

    async def shared(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        """``fetch()`` once for everyone asking with ``key`` (e.g. the row an event names);
        a failed fetch is not remembered."""
        found = self._fetched(key, fetch)
        if found.done():  # the usual case: loaded before the event was handed out
            done: T = found.result()
            return done
        result: T = await asyncio.shield(found)
        return result

    def _fetched(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """The fetch of ``key``: the one under way or done, else a new one."""
        found = self._shared.get(key)
        if found is None or found.cancelled() or (found.done() and found.exception()):
            found = asyncio.ensure_future(fetch())
            found.add_done_callback(_retrieve)
            self._shared[key] = found
            while len(self._shared) > _SHARED_KEPT:
                self._shared.popitem(last=False)
        return found

    async def close(self) -> None:
        """Stop listening and give the connection back; subscriptions get nothing more."""
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        for pending in self._shared.values():
            pending.cancel()
        self._shared.clear()
        self._loading.clear()

    async def _started(self) -> None:
        if self._closed:
            raise RuntimeError("the event hub is closed")
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen_forever(), name="event-hub")
        try:
            await asyncio.wait_for(self._listening.wait(), timeout=self._ready_timeout_s)
        except TimeoutError:
            raise RuntimeError("the event hub could not listen to the database") from None

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen_until_lost()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                _log.warning("event listener: %s; listening again in %.1f s", exc, self._retry_s)
            except Exception:
                # A bug here must not leave subscriptions waiting forever without a word.
                _log.exception("event listener failed; listening again in %.1f s", self._retry_s)
            finally:
                self._listening.clear()
            await asyncio.sleep(self._retry_s)

    async def _listen_until_lost(self) -> None:
        lost = asyncio.Event()

        def on_lost(_conn: object) -> None:
            lost.set()

        def deliver(_conn: object, _pid: int, channel: str, payload: object) -> None:
            try:
                event = Event.parse(channel, str(payload))
            except ValueError as exc:
                _log.warning("%s", exc)
                return
            self._fan_out(event)

        async with self._acquire() as conn:
            conn.add_termination_listener(on_lost)
            for channel in self._channels:
                await conn.add_listener(channel, deliver)
            try:
                self._listening.set()
                await lost.wait()
                _log.warning("event listener: the database connection was lost")
            finally:
                self._listening.clear()
                conn.remove_termination_listener(on_lost)
                if not conn.is_closed():
                    for channel in self._channels:
                        with contextlib.suppress(asyncpg.InterfaceError, OSError):
                            await conn.remove_listener(channel, deliver)

    def _fan_out(self, event: Event) -> None:
        if not self._subscribers.get((event.channel, event.workspace_id)):
            return
        load = self._loaders.get(event.channel)
        loading = None if load is None else self._fetched(event_key(event), partial(load, event))
        if not self._loading and (loading is None or loading.done()):
            self._hand_out(event)
            return
        self._loading.append((event, loading))
        if loading is not None and not loading.done():
            loading.add_done_callback(self._loaded)

    def _loaded(self, _done: object = None) -> None:
        """Hands out the events at the front of ``_loading`` that are loaded (a failed load
        too: its subscribers' ``shared`` tries again and reports it)."""
        while self._loading:
            event, loading = self._loading[0]
            if loading is not None and not loading.done():
                return
            self._loading.popleft()
            self._hand_out(event)

    def _hand_out(self, event: Event) -> None:
        group = self._subscribers.get((event.channel, event.workspace_id))
        if not group:
            return
        for subscriber in group:
            subscriber.offer(event)
        self.delivered += 1


def _retrieve(fetch: asyncio.Future[Any]) -> None:
    """Marks a failed fetch as seen: the hub may have started it with no one waiting."""
    if not fetch.cancelled():
        fetch.exception()
