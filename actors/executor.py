"""Executor tasks: batches of agent runs executed as Ray tasks anywhere in the cluster.

The dispatcher (``runtime.runs.dispatcher``) claims runs and hands each batch to
``RayRunner``, which submits it as one ``execute_runs`` task and awaits the answer; the
dispatcher bounds how many batches are in flight (its ``concurrency``), so a backlog never
turns into an unbounded pile of tasks, and Ray places each task on a node with a free CPU.

In the task's worker process, kept across tasks (``actors.process``): one event loop on a
background thread, the database pool, and the executor with its connected CRMs, whose
per-workspace caches stay warm from one batch to the next. The batch runs there through
``RunExecutor.execute_batch``, the very code a single asyncio process runs, and its
outcomes are recorded in one transaction. The runs' CRM reads spend their workspace's
budget in its workspace actor, where the writer spends it too (``ActorBudgets``).

A task whose process dies (killed, out of memory, node lost) is not retried by Ray: the
dispatcher is told (``ExecutorLostError``) and hands the batch's runs back to the queue,
their attempt counted, so a run that keeps killing its process is given up in the end.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import ray
from pydantic import AliasChoices, SecretStr

from actors.options import executor_task_options
from actors.process import background_loop, process_pool
from actors.workspace_actor import ActorBudgets, RayWorkspaces
from runtime.agents.extractors import extractor_named
from runtime.clock import SystemClock
from runtime.runs.crm_source import ConnectedCrms
from runtime.runs.dispatcher import ExecutorLostError
from runtime.runs.executor import RunExecutor, RunResult
from runtime.runs.models import AgentRun
from runtime.settings import Settings, env_variables

__all__ = ["RayRunner", "execute_runs", "secret_env", "secret_names", "worker_env"]


@dataclass(slots=True)
class _Process:
    settings: Settings
    crms: ConnectedCrms
    executors: dict[str, RunExecutor]


_process: _Process | None = None
_process_lock: asyncio.Lock | None = None


async def _executor(extractor: str) -> RunExecutor:
    """This process's executor for ``extractor``, everything built on first use."""
    global _process, _process_lock
    if _process_lock is None:
        _process_lock = asyncio.Lock()
    async with _process_lock:
        if _process is None:
            settings = Settings()
            pool = await process_pool(settings)
            clock = SystemClock()
            workspaces = RayWorkspaces(env_vars=worker_env(settings))
            crms = ConnectedCrms.from_settings(
                pool, settings, clock=clock, budgets=ActorBudgets(workspaces)
            )
            _process = _Process(settings, crms, {})
        found = _process.executors.get(extractor)
        if found is None:
            settings = _process.settings
            found = _process.executors[extractor] = RunExecutor(
                await process_pool(settings),
                _process.crms,
                extractor=extractor_named(extractor, settings.llm),
                clock=SystemClock(),
                max_attempts=settings.worker.max_attempts,
            )
        return found


async def _execute(runs: Sequence[dict[str, Any]], owner: str, extractor: str) -> list[Any]:
    executor = await _executor(extractor)
    batch = [AgentRun.model_validate(run) for run in runs]
    results = await executor.execute_batch(batch, owner)
    return [(str(result.run_id), result.status) for result in results]


def execute_runs(runs: list[dict[str, Any]], owner: str, extractor: str) -> list[Any]:
    """Execute a batch of runs claimed by ``owner`` and record their outcomes (the Ray
    task's body); answers (run id, activity status or None when the lease was lost)."""
    future = asyncio.run_coroutine_threadsafe(_execute(runs, owner, extractor), background_loop())
    return future.result()


_ExecuteRuns: Any = ray.remote(execute_runs)


class RayRunner:
    """Implements ``runtime.runs.dispatcher.BatchRunner`` with ``execute_runs`` tasks."""

    def __init__(self, *, extractor: str = "rules", env_vars: Mapping[str, str] | None = None):
        """Args:
        extractor: the extractor the tasks run (``runtime.agents.extractors.EXTRACTORS``).
        env_vars: the settings the tasks' processes read (``worker_env``).
        """
        self._extractor = extractor
        self._options = executor_task_options(env_vars=dict(env_vars or {}))

    async def __call__(self, runs: Sequence[AgentRun], owner: str) -> list[RunResult]:
        ref = _ExecuteRuns.options(**self._options).remote(
            [run.model_dump(mode="json") for run in runs], owner, self._extractor
        )
        try:
            answer = await ref
        except (
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.ObjectLostError,
            ray.exceptions.LocalRayletDiedError,
        ) as exc:
            raise ExecutorLostError(f"{type(exc).__name__}: {exc}") from exc
        return [RunResult(UUID(run_id), status) for run_id, status in answer]


def worker_env(settings: Settings) -> dict[str, str]:
    """What a Ray worker process is told to act as this one: this process's ``CRM_AGENTS_*``
    settings that are not secrets, and the home as an absolute path (a worker's working
    directory is not ours).

    Never the secrets (``DATABASE_URL``, the encryption keys, API keys): Ray hands a task's
    environment to its worker process on the command line, which every user of the machine
    can read. Workers get them from their node's environment instead: a local cluster's
    processes inherit this process's (``actors.cluster.connect_ray`` puts the settings'
    secrets there first), a launched cluster's nodes read their settings file
    (``cluster.yaml``).
    """
    secret = secret_names()
    env = {
        name: value
        for name, value in os.environ.items()
        if name.startswith("CRM_AGENTS_") and name not in secret
    }
    env["CRM_AGENTS_HOME"] = str(Path(settings.home).resolve())
    return env


def secret_names() -> set[str]:
    """The environment variables of settings that hold secrets (``SecretStr`` fields)."""
    names: set[str] = set()
    for variable in env_variables():
        if "SecretStr" in str(variable.info.annotation):
            alias = variable.info.validation_alias
            names.add(variable.name)
            if isinstance(alias, AliasChoices):
                names.update(str(choice) for choice in alias.choices)
    return names


def secret_env(settings: Settings) -> dict[str, str]:
    """The settings' secrets that are set, by the variable that sets each (the first
    spelling), wherever they were read from (the environment or a ``.env`` file)."""
    found: dict[str, str] = {}
    for variable in env_variables():
        value = variable.value(settings)
        if isinstance(value, SecretStr):
            found[variable.name] = value.get_secret_value()
    return found
