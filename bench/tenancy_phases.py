"""``bench.tenancy``'s two phases on Ray: traffic under a cap of active workspaces, and many
workspaces active at once (``bench.tenancy`` says what each does and why)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any
from uuid import UUID

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bench.database import insert_backlog
from bench.fleet import (
    LiveSampler,
    ProcessId,
    actor_handle,
    cpu_core_shares,
    cpu_seconds,
    live_actors,
    memory_of,
    process_id,
    ray_system_pids,
    total_uss,
    until_ended,
)
from bench.report import BenchError
from bench.tenancy_report import Capacity, Traffic
from bench.tenants import Visit, backend_pids, flushed_workspaces
from runtime.writes.host import WorkspaceHost

__all__ = ["progress", "queue_visits", "run_capacity", "run_traffic"]

_QUEUE_AT_ONCE = 8
_SAMPLE_S = 0.5
_SETTLE_S = 2.0  # after the last flush, before idle CPU is measured
_VISIT_TIMEOUT_S = 120.0
_WAKE_TIMEOUT_S = 60.0  # per process start it may queue behind
_STOP_TIMEOUT_S = 60.0


async def run_traffic(
    visits: Sequence[Visit],
    ids: Sequence[UUID],
    *,
    pool: asyncpg.Pool,
    host: WorkspaceHost,
    address: str,
    cap: int,
    idle_s: float,
    console: Console,
) -> Traffic:
    """Every visit, at most ``cap`` workspaces active at a time; a visit holds its place from
    the wake-up until its actor's process has ended and Ray has let go of its name."""
    gate = asyncio.Semaphore(cap)
    ended = {v.index: asyncio.Event() for v in visits}
    wake_s: list[float] = []
    active_s: list[float] = []
    cpu_s: list[float] = []
    processes: list[ProcessId] = []
    sampler = LiveSampler(address, interval_s=_SAMPLE_S)
    stop = asyncio.Event()
    sampling = asyncio.create_task(sampler.run(stop))

    async def visit(v: Visit, advance: Callable[[], None]) -> None:
        workspace = ids[v.workspace]
        if v.after is not None:
            await ended[v.after].wait()
        async with gate:
            if v.after is not None:  # traffic arriving while it is idle (no process)
                await insert_backlog(pool, workspace, v.updates, analyze=False)
            started_s = time.monotonic()
            # It queues behind the others' process starts: up to ``cap`` - 1 of them.
            await _woken(host, [workspace], timeout_s=_WAKE_TIMEOUT_S * cap)
            woke_s = time.monotonic()
            process = await _process(workspace)
            try:
                cpu = await until_ended(workspace, process, timeout_s=_VISIT_TIMEOUT_S)
            except TimeoutError:
                raise BenchError(
                    f"workspace {workspace} was still active {_VISIT_TIMEOUT_S:.0f} s after"
                    f" its wake-up (idle_s {idle_s:g} s)"
                ) from None
            wake_s.append(woke_s - started_s)
            active_s.append(time.monotonic() - started_s)
            if process is not None:
                processes.append(process)
            if cpu is not None:
                cpu_s.append(cpu)
        ended[v.index].set()
        advance()

    started_s = time.monotonic()
    with progress(console, f"visits, {cap} at a time", len(visits)) as advance:
        visiting = asyncio.create_task(_all([visit(v, advance) for v in visits]))
        try:
            # The sampler failing (the state API) stops the visits: its figures are the point.
            await asyncio.wait({visiting, sampling}, return_when=asyncio.FIRST_COMPLETED)
            if sampling.done():
                sampling.result()
            await visiting
        finally:
            stop.set()
            visiting.cancel()
            await asyncio.gather(visiting, return_exceptions=True)
            await sampling
    return Traffic(
        visits=len(visits),
        elapsed_s=time.monotonic() - started_s,
        wake_s=tuple(wake_s),
        active_s=tuple(active_s),
        cpu_s=tuple(cpu_s),
        processes=tuple(processes),
        live_max=sampler.max,
        live_mean=sampler.mean,
        samples=len(sampler.counts),
    )


async def run_capacity(
    visits: Sequence[Visit],
    ids: Sequence[UUID],
    *,
    pool: asyncpg.Pool,
    host: WorkspaceHost,
    address: str,
    window_s: float,
    application_name: str,
    console: Console,
) -> Capacity:
    """Wake every visit's workspace at once, measure them active and idle, then end them."""
    import ray

    from actors.options import workspace_actor_name

    chosen = [ids[v.workspace] for v in visits]
    await queue_visits(pool, ids, visits, console, "queueing")
    started_s = time.monotonic()
    with progress(console, "activating at once", len(chosen)) as advance:
        await _woken(host, chosen, timeout_s=_WAKE_TIMEOUT_S * len(chosen), advance=advance)
    activated_s = time.monotonic() - started_s
    await _until(
        lambda: _all_flushed(pool, chosen),
        timeout_s=_VISIT_TIMEOUT_S,
        what="the active workspaces to write their fields",
    )
    flushed_s = time.monotonic() - started_s
    await asyncio.sleep(_SETTLE_S)

    names = {workspace_actor_name(w): w for w in chosen}
    live = [a for a in await asyncio.to_thread(live_actors, address) if a.name in names]
    flushed = await flushed_workspaces(pool, chosen)
    at_once = sum(1 for a in live if a.state == "ALIVE" and names[a.name] in flushed)
    pids = [a.pid for a in live if a.pid is not None]
    backends = await backend_pids(pool, application_name)
    started_cpu_s = cpu_seconds(pids)  # process start, activation, the write, the settling
    console.log(f"{len(live)} actors live; measuring CPU for {window_s:.0f} s")
    shares, machine = await cpu_core_shares(
        {"actors": pids, "ray": ray_system_pids(pids), "postgres": backends}, window_s=window_s
    )
    actors_memory, backends_memory = memory_of(pids), memory_of(backends)
    ray_memory = total_uss(ray_system_pids(pids))

    stop_started_s = time.monotonic()
    for workspace in chosen:
        handle = await actor_handle(workspace)
        if handle is not None:
            ray.kill(handle, no_restart=True)
    left = await _until(lambda: _no_live_actors(address), timeout_s=_STOP_TIMEOUT_S, what=None)
    return Capacity(
        workspaces=len(chosen),
        live_actors=len(live),
        flushed=len(flushed),
        at_once=at_once,
        activated_s=activated_s,
        flushed_s=flushed_s,
        actors=tuple(actors_memory),
        backends=tuple(backends_memory),
        ray_uss=ray_memory,
        started_cpu_s=tuple(started_cpu_s),
        cpu_window_s=window_s,
        cpu_actors=shares["actors"],
        cpu_ray=shares["ray"],
        cpu_postgres=shares["postgres"],
        cpu_machine=machine,
        cores=os.cpu_count() or 1,
        stopped_s=time.monotonic() - stop_started_s,
        live_after_stop=left,
    )


async def _woken(
    host: WorkspaceHost,
    workspaces: Sequence[UUID],
    *,
    timeout_s: float,
    advance: Callable[[], None] | None = None,
) -> None:
    """Wake the workspaces at once; BenchError when they have not answered in ``timeout_s``
    (a hang; Ray starts actor processes a few at a time, so many at once queue)."""

    async def wake(workspace: UUID) -> None:
        await host.wake(workspace)
        if advance is not None:
            advance()

    try:
        async with asyncio.timeout(timeout_s):
            await _all([wake(w) for w in workspaces])
    except TimeoutError:
        raise BenchError(
            f"{len(workspaces)} wake-up(s) not answered within {timeout_s:.0f} s"
        ) from None


async def _process(workspace: UUID) -> ProcessId | None:
    """The workspace's actor process, or None when it has already ended."""
    import ray

    handle = await actor_handle(workspace)
    if handle is None:
        return None
    try:
        return process_id(int(await handle.pid.remote()))
    except ray.exceptions.RayActorError:
        return None


async def queue_visits(
    pool: asyncpg.Pool, ids: Sequence[UUID], visits: Sequence[Visit], console: Console, what: str
) -> None:
    """Queue the visits' fields, each visit in one transaction as a run would."""
    gate = asyncio.Semaphore(_QUEUE_AT_ONCE)
    with progress(console, what, len(visits)) as advance:

        async def queue(v: Visit) -> None:
            async with gate:
                await insert_backlog(pool, ids[v.workspace], v.updates, analyze=False)
            advance()

        await _all([queue(v) for v in visits])


async def _all_flushed(pool: asyncpg.Pool, workspaces: Sequence[UUID]) -> int | None:
    flushed = await flushed_workspaces(pool, workspaces)
    return None if len(flushed) == len(workspaces) else len(workspaces) - len(flushed)


async def _no_live_actors(address: str) -> int | None:
    live = len(await asyncio.to_thread(live_actors, address))
    return None if live == 0 else live


async def _until(
    check: Callable[[], Awaitable[int | None]], *, timeout_s: float, what: str | None
) -> int:
    """Poll ``check`` (None: done; a number: how many are still missing) until done; the
    number left (0 when done). Past ``timeout_s``: BenchError naming ``what``, or, when
    ``what`` is None, the number left."""
    deadline_s = time.monotonic() + timeout_s
    while True:
        missing = await check()
        if missing is None:
            return 0
        if time.monotonic() > deadline_s:
            if what is None:
                return missing
            raise BenchError(f"{missing} still waiting after {timeout_s:.0f} s for {what}")
        await asyncio.sleep(_SAMPLE_S)


async def _all(coroutines: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run them concurrently; the first failure cancels the others and is raised."""
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.contextmanager
def progress(console: Console, what: str, total: int) -> Iterator[Callable[[], None]]:
    """A transient progress bar on stderr; yields the function that advances it by one."""
    columns = (
        TextColumn(what),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(what, total=total)
        yield lambda: progress.advance(task)
