"""Large tenants on their own nodes: a second raylet joins the session's cluster offering a
tenant's custom resource and the large-tenant label, as cluster.yaml's node type does; the
tenant's workspace actor lands there, and another workspace's actor does not, even when it
is created from that very node."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from actors.options import LARGE_TENANT_POOL, NAMESPACE, NODE_POOL_LABEL, workspace_actor_name
from actors.workspace_actor import RayWorkspaces
from runtime.settings import ClusterSettings

# The venv's own `ray` first: the raylet must run the Ray of this interpreter.
RAY = shutil.which("ray", path=os.pathsep.join([str(Path(sys.executable).parent), os.defpath]))
RESOURCE = "tenant_placement_test"
_OBJECT_STORE_BYTES = 100 * 1024 * 1024  # Ray's floor is 75 MiB; the default takes 30% of RAM
_TIMEOUT_S = 60.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(RAY is None, reason="the `ray` command (Ray's CLI) is not installed"),
]


def _until(check: Callable[[], bool], what: str, *, timeout_s: float = _TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s:.0f} s"
        time.sleep(0.2)


def _alive_nodes() -> set[str]:
    import ray

    return {node["NodeID"] for node in ray.nodes() if node["Alive"]}


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the raylet we started, by its process group (`ray stop` would end every Ray
    process on the machine, the session's cluster too). SIGTERM lets it drain first."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=45)  # Ray drains a node for up to 30 s
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever of its group is left
    process.wait()


@pytest.fixture(scope="module")
def tenant_node(ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The node id of a second raylet offering ``RESOURCE`` and labelled as a large tenant's."""
    before = _alive_nodes()
    log = tmp_path_factory.mktemp("tenant-node") / "ray-start.log"
    command = [
        str(RAY),
        "start",
        f"--address={ray_cluster.address_info['gcs_address']}",
        "--num-cpus=0",  # as cluster.yaml's large-tenant node type: no tasks, no replicas
        f"--resources={json.dumps({RESOURCE: 1})}",
        f"--labels={json.dumps({NODE_POOL_LABEL: LARGE_TENANT_POOL})}",
        f"--object-store-memory={_OBJECT_STORE_BYTES}",
        "--disable-usage-stats",
        "--block",
    ]
    with log.open("wb") as output:
        # A session of its own: its process group holds the raylet and nothing of ours.
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:

        def joined() -> bool:
            assert process.poll() is None, f"ray start exited:\n{log.read_text()[-3000:]}"
            return bool(_alive_nodes() - before)

        _until(joined, "the second raylet joins")
        (node_id,) = _alive_nodes() - before
        yield node_id
    finally:
        _stop(process)
    # Later tests see a cluster without it, not a node that is still being given up on.
    _until(lambda: node_id not in _alive_nodes(), "the second raylet is marked dead")


def _end(workspace: UUID) -> None:
    """Kill a workspace's actor for good; detached and restartable, it would otherwise wait
    forever for its removed node's resource."""
    import ray

    try:
        handle = ray.get_actor(workspace_actor_name(workspace), namespace=NAMESPACE)
    except ValueError:
        return
    ray.kill(handle, no_restart=True)

    def gone() -> bool:
        try:
            ray.get_actor(workspace_actor_name(workspace), namespace=NAMESPACE)
        except ValueError:
            return True
        return False

    _until(gone, f"workspace {workspace}'s actor ends")


def test_a_large_tenants_actor_runs_on_its_node_and_no_other_workspaces_does(
    tenant_node: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    large, ordinary = uuid4(), uuid4()
    monkeypatch.setenv("CRM_AGENTS_CLUSTER__LARGE_TENANTS", json.dumps({str(large): RESOURCE}))
    cluster = ClusterSettings(large_tenants={large: RESOURCE})

    def created_on_the_tenant_node(workspace: str) -> str:
        # Ray would put a zero-CPU actor next to its creator; only the selector stops it.
        handle = RayWorkspaces(cluster=cluster).handle(UUID(workspace))
        return str(ray.get(handle.node_id.remote(), timeout=_TIMEOUT_S))

    try:
        # Not woken: creating the actor and asking where it runs never touches the database.
        workspaces = RayWorkspaces()  # which workspaces are large: from the settings
        handle = workspaces.handle(large)
        assert ray.get(handle.node_id.remote(), timeout=_TIMEOUT_S) == tenant_node

        on_tenant_node = NodeAffinitySchedulingStrategy(tenant_node, soft=False)
        create = ray.remote(num_cpus=0)(created_on_the_tenant_node)
        placed = ray.get(
            create.options(scheduling_strategy=on_tenant_node).remote(str(ordinary)),
            timeout=_TIMEOUT_S,
        )
        assert placed in _alive_nodes()
        assert placed != tenant_node
    finally:
        _end(large)
        _end(ordinary)
