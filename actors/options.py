"""Every Ray actor option in one place: names, namespace, restarts, concurrency, resources.

- Names: ``workspace:<uuid>`` in the ``crm-agents`` namespace, so any process (a worker,
  a Serve replica, a notebook of the data team) finds a workspace's actor by name.
- Lifetime ``detached``: a workspace outlives the process that first woke it; it ends
  itself when idle (passivation), not with its creator.
- Restarts: unlimited; a restarted actor rebuilds its state from Postgres on the next
  wake-up (the coordinator's sweep sends one), and its writer recovers the batch the crash
  left in flight. Calls are not retried by Ray: a wake-up is idempotent and the sweep
  repeats it.
- Concurrency: wake-ups, snapshots and flushes interleave on the actor's event loop.
- Resources: no CPU reserved (it mostly waits on HubSpot and Postgres), so many fit on a
  node; a large tenant's actor can be pinned to nodes offering a custom resource.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

__all__ = ["NAMESPACE", "workspace_actor_name", "workspace_actor_options"]

NAMESPACE = "crm-agents"
_MAX_CONCURRENCY = 64


def workspace_actor_name(workspace_id: UUID) -> str:
    return f"workspace:{workspace_id}"


def workspace_actor_options(
    workspace_id: UUID,
    *,
    env_vars: dict[str, str] | None = None,
    resources: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The options of a workspace's actor; ``env_vars`` reach its process (the database
    and secrets settings of a local cluster), ``resources`` pin it (a large tenant)."""
    options: dict[str, Any] = {
        "name": workspace_actor_name(workspace_id),
        "namespace": NAMESPACE,
        "get_if_exists": True,
        "lifetime": "detached",
        "max_restarts": -1,
        "max_task_retries": 0,
        "max_concurrency": _MAX_CONCURRENCY,
        "num_cpus": 0,
    }
    if env_vars:
        options["runtime_env"] = {"env_vars": dict(env_vars)}
    if resources:
        options["resources"] = dict(resources)
    return options
