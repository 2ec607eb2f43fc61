"""What one Ray worker process keeps for its whole life: its database pool, and the event loop
that executor tasks run their coroutines on.

The one process-level cache the runtime allows (ARCHITECTURE "Actors and scale"): a pool is
created on first use and reused by every later call in the process, instead of a connection
per task. A pool belongs to the event loop it was created on; a workspace actor has its own
loop (Ray's), an executor task's process gets one from ``background_loop``.
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import ExitStack

import asyncpg

from runtime.db.connect import server_dsn
from runtime.db.pool import create_pool
from runtime.settings import Settings

__all__ = ["background_loop", "process_pool"]

_pools: dict[asyncio.AbstractEventLoop, asyncpg.Pool] = {}
_pool_lock = threading.Lock()
_held = ExitStack()  # keeps an embedded server attached for as long as this process lives
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


async def process_pool(settings: Settings) -> asyncpg.Pool:
    """This process's pool on the running loop, created on first use."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        with _pool_lock:
            dsn = _held.enter_context(server_dsn(settings))
        pool = _pools.setdefault(loop, await create_pool(dsn, settings.db))
    return pool


def background_loop() -> asyncio.AbstractEventLoop:
    """An event loop running on a daemon thread for the rest of the process.

    Ray tasks are plain functions (Ray refuses ``async def`` tasks), but a pool, a CRM
    client and a cache must outlive one task: each task hands its coroutine to this loop
    (``asyncio.run_coroutine_threadsafe``) rather than ``asyncio.run``, which would close
    the loop, and everything bound to it, when the task ends.
    """
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="crm-agents loop", daemon=True).start()
            _loop = loop
        return _loop
