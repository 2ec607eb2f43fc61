"""The workspace actors as the operating system and Ray see them: live actors from Ray's state
API, each actor's process, its memory and its CPU.

- Live actors: ``ray.util.state.list_actors`` with every state but ``DEAD`` (an actor still
  being created is a process being started), asked of this cluster's own address: without
  it the state API picks "the latest cluster" on the machine, maybe someone else's. The
  state API is served by Ray's dashboard (``bench.cluster.local_ray(dashboard=True)``).
- An actor has ended when its process is gone (a zombie counts as gone; a process is its pid
  and start time, since pids are reused) and Ray no longer resolves its name; only then
  may a workspace count as idle.
- Memory: USS (what ending the process frees), PSS (its share of pages it shares with other
  processes) and RSS (what ``top`` shows), from ``/proc/<pid>/smaps`` through psutil.
- CPU: user + system seconds of a group of processes over a window, as a share of one core.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psutil

from actors.options import NAMESPACE, workspace_actor_name
from bench.report import BenchError

__all__ = [
    "LiveActor",
    "LiveSampler",
    "ProcessId",
    "ProcessMemory",
    "actor_handle",
    "cpu_core_shares",
    "cpu_seconds",
    "live_actors",
    "memory_of",
    "mib",
    "process_id",
    "ray_system_pids",
    "running",
    "total_uss",
    "until_ended",
    "uss_by_name",
]

_LIST_LIMIT = 10_000  # the state API answers 100 unless told, and at most 10,000
_POLL_S = 0.1
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class LiveActor:
    name: str
    state: str
    pid: int | None


@dataclass(frozen=True, slots=True)
class ProcessId:
    """A process, not just a pid: pids are reused (``pid_max`` is often 32,768 and a run
    starts thousands of processes), a pid with its start time is not."""

    pid: int
    started: float


@dataclass(frozen=True, slots=True)
class ProcessMemory:
    pid: int
    uss: int
    pss: int
    rss: int


def live_actors(address: str) -> list[LiveActor]:
    """Every actor of the cluster at ``address`` (its GCS) that is not dead (blocking)."""
    from ray.util.state import list_actors
    from ray.util.state.exception import RayStateApiException

    try:
        found = list_actors(
            address=address, filters=[("state", "!=", "DEAD")], limit=_LIST_LIMIT, timeout=30
        )
    except RayStateApiException as exc:
        raise BenchError(f"Ray's state API: {exc}") from exc
    return [LiveActor(str(a.name or ""), str(a.state), a.pid or None) for a in found]


class LiveSampler:
    """Counts live actors every ``interval_s`` until stopped: max and mean over the run."""

    def __init__(self, address: str, *, interval_s: float) -> None:
        self._address = address
        self._interval_s = interval_s
        self.counts: list[int] = []

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.counts.append(len(await asyncio.to_thread(live_actors, self._address)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval_s)

    @property
    def max(self) -> int | None:
        return max(self.counts) if self.counts else None

    @property
    def mean(self) -> float | None:
        return sum(self.counts) / len(self.counts) if self.counts else None


async def actor_handle(workspace_id: UUID) -> Any:
    """The workspace's running actor, or None: looked up by name, never created."""
    import ray

    def lookup() -> Any:
        try:
            return ray.get_actor(workspace_actor_name(workspace_id), namespace=NAMESPACE)
        except ValueError:  # no live actor holds the name
            return None

    return await asyncio.to_thread(lookup)


async def until_ended(
    workspace_id: UUID, process: ProcessId | None, *, timeout_s: float
) -> float | None:
    """Wait until the workspace's actor process is gone and Ray has let go of its name.

    Returns the CPU seconds (user + system) the process had used when last seen alive, its
    whole life but its last ``_POLL_S``; None without a process.

    Raises:
        TimeoutError: ``timeout_s`` passed first.
    """
    deadline_s = time.monotonic() + timeout_s
    cpu_s: float | None = None
    while process is not None:
        seen = _cpu_seconds_if_running(process.pid, process.started)
        if seen is None:
            break
        cpu_s = seen
        if time.monotonic() > deadline_s:
            raise TimeoutError
        await asyncio.sleep(_POLL_S)
    while await actor_handle(workspace_id) is not None:
        if time.monotonic() > deadline_s:
            raise TimeoutError
        await asyncio.sleep(_POLL_S)
    return cpu_s


def process_id(pid: int) -> ProcessId | None:
    """The process running as ``pid`` now, or None."""
    try:
        return ProcessId(pid, psutil.Process(pid).create_time())
    except psutil.NoSuchProcess:
        return None


def memory_of(pids: Iterable[int]) -> list[ProcessMemory]:
    """USS, PSS and RSS of each process that still runs and may be read."""
    found: list[ProcessMemory] = []
    for pid in pids:
        try:
            info = psutil.Process(pid).memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        found.append(ProcessMemory(pid, info.uss, getattr(info, "pss", 0), info.rss))
    return found


def total_uss(pids: Iterable[int]) -> int:
    """USS of these processes together: what ending all of them frees."""
    return sum(m.uss for m in memory_of(pids))


def ray_system_pids(excluded: Iterable[int]) -> list[int]:
    """Ray's own processes (GCS, raylet, dashboard, agents, idle workers): every descendant
    of this driver process but the ``excluded`` ones (the actors)."""
    skip = set(excluded)
    return [p.pid for p in psutil.Process().children(recursive=True) if p.pid not in skip]


def uss_by_name(pids: Iterable[int]) -> dict[str, int]:
    """USS of these processes summed by process name (``gcs_server``, ``raylet``, ...)."""
    found: dict[str, int] = {}
    for pid in pids:
        try:
            process = psutil.Process(pid)
            name, uss = process.name(), process.memory_full_info().uss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found[name] = found.get(name, 0) + uss
    return found


async def cpu_core_shares(
    groups: Mapping[str, Sequence[int]], *, window_s: float
) -> tuple[dict[str, float], float]:
    """Each group's CPU over ``window_s`` as a share of one core (1.0 = a whole core), and
    the whole machine's busy share of all its cores. A process that ends meanwhile drops
    out of both ends of its group's sum."""
    before = {name: _cpu_seconds(pids) for name, pids in groups.items()}
    machine_before = psutil.cpu_times()
    started_s = time.monotonic()
    await asyncio.sleep(window_s)
    elapsed_s = time.monotonic() - started_s
    machine_after = psutil.cpu_times()
    shares: dict[str, float] = {}
    for name, pids in groups.items():
        after = _cpu_seconds(pids)
        used = sum(after[pid] - before[name][pid] for pid in after if pid in before[name])
        shares[name] = used / elapsed_s
    busy = _busy(machine_after) - _busy(machine_before)
    total = sum(machine_after) - sum(machine_before)
    return shares, (busy / total if total > 0 else 0.0)


def mib(value: float) -> float:
    return value / _MIB


def running(process: ProcessId) -> bool:
    """Whether the process runs (a zombie has ended: only its exit status is left)."""
    return _cpu_seconds_if_running(process.pid, process.started) is not None


def cpu_seconds(pids: Iterable[int]) -> list[float]:
    """User + system CPU seconds each process has used so far (those still running)."""
    return [s for s in map(_cpu_seconds_if_running, pids) if s is not None]


def _cpu_seconds_if_running(pid: int, started: float | None = None) -> float | None:
    """The process's CPU seconds, or None when it is gone, a zombie, or (``started`` given)
    another process under the same pid."""
    try:
        process = psutil.Process(pid)
        if started is not None and process.create_time() != started:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        times = process.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return float(times.user + times.system)


def _cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    seconds: dict[int, float] = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        seconds[pid] = times.user + times.system
    return seconds


def _busy(times: Any) -> float:
    idle = float(times.idle) + float(getattr(times, "iowait", 0.0))
    return float(sum(times)) - idle
