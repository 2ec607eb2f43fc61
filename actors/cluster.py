"""Joining a Ray cluster from a long-running process (``crm-agents worker --ray``)."""

from __future__ import annotations

import os

import ray

from actors.executor import RayRunner, secret_env, worker_env
from actors.options import NAMESPACE
from actors.workspace_actor import RayWorkspaces
from runtime.settings import Settings

__all__ = ["connect_ray", "ray_runner_and_host"]


def connect_ray(settings: Settings) -> None:
    """Join the cluster ``RAY_ADDRESS`` names, else start a local one for this process.

    A local cluster's processes inherit this process's environment, so the settings'
    secrets are put there first (read from a ``.env`` file, they would be missing); they
    never travel in a task's options (``actors.executor.worker_env``). Never a bare
    ``ray.init()``: it would join whatever cluster an earlier run left recorded on this
    machine, even a dead one.
    """
    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS") or "local"
    if address == "local":
        os.environ.update(secret_env(settings))
    ray.init(
        address=address,
        namespace=NAMESPACE,
        include_dashboard=False if address == "local" else None,
        log_to_driver=False,
        configure_logging=False,
    )


def ray_runner_and_host(settings: Settings, *, extractor: str) -> tuple[RayRunner, RayWorkspaces]:
    """A batch runner of executor tasks and the workspace actors' host, on the cluster,
    their processes given this process's settings (``actors.executor.worker_env``)."""
    connect_ray(settings)
    env = worker_env(settings)
    return RayRunner(extractor=extractor, env_vars=env), RayWorkspaces(env_vars=env)
