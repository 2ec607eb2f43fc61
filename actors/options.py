"""Every Ray actor and task option in one place: names, namespace, restarts, concurrency,
resources.

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
- Placement: a large tenant's nodes (``cluster.yaml``) carry the label
  ``crm-agents/node-pool: large-tenant``, and every actor that is not pinned selects nodes
  without it, so those nodes serve their tenant alone. Without the selector Ray places a
  zero-CPU actor near its creator or on any node below half load, dedicated ones included.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from runtime.settings import ClusterSettings

__all__ = [
    "EXECUTOR_TASK_CPUS",
    "LARGE_TENANT_POOL",
    "LARGE_TENANT_SHARE",
    "NAMESPACE",
    "NODE_POOL_LABEL",
    "executor_task_options",
    "large_tenant_resources",
    "workspace_actor_name",
    "workspace_actor_options",
]

NAMESPACE = "crm-agents"
_MAX_CONCURRENCY = 64
NODE_POOL_LABEL = "crm-agents/node-pool"
LARGE_TENANT_POOL = "large-tenant"
LARGE_TENANT_SHARE = 0.01
"""Of its custom resource each large-tenant workspace actor asks: a node offering 1 of it hosts
up to 100 such actors (~50 MiB and ~0.65% of a core each when idle), so one dedicated node
serves every workspace listed under its resource and a second node of the type is needed
only past 100. Asking 1 would cost a whole node per workspace."""


def workspace_actor_name(workspace_id: UUID) -> str:
    return f"workspace:{workspace_id}"


def workspace_actor_options(
    workspace_id: UUID,
    *,
    env_vars: dict[str, str] | None = None,
    resources: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The options of a workspace's actor; ``env_vars`` reach its process (the database
    and secrets settings of a local cluster), ``resources`` pin it (a large tenant);
    without them it keeps off the large tenants' nodes."""
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
    else:
        options["label_selector"] = {NODE_POOL_LABEL: f"!{LARGE_TENANT_POOL}"}
    return options


def large_tenant_resources(cluster: ClusterSettings, workspace_id: UUID) -> dict[str, float] | None:
    """The custom resource that pins a large tenant's workspace actor; ``None`` for others."""
    resource = cluster.large_tenants.get(workspace_id)
    return None if resource is None else {resource: LARGE_TENANT_SHARE}


EXECUTOR_TASK_CPUS = 1.0
"""CPUs an executor task reserves: extraction is CPU-bound Python, so one task per core
keeps the cores busy without piling tasks onto one GIL; the batch's I/O waits overlap
inside the task (its runs are awaited side by side)."""


def executor_task_options(*, env_vars: dict[str, str] | None = None) -> dict[str, Any]:
    """The options of an ``actors.executor.execute_runs`` task.

    No retries by Ray: a batch whose process died is claimed again by the dispatcher, which
    counts the attempt (a run that keeps killing its process is given up, not retried
    forever). Tasks go to any node with a free CPU; a large tenant's nodes offer none
    (``cluster.yaml``), so they keep to the general ones.
    """
    options: dict[str, Any] = {"num_cpus": EXECUTOR_TASK_CPUS, "max_retries": 0}
    if env_vars:
        options["runtime_env"] = {"env_vars": dict(env_vars)}
    return options
