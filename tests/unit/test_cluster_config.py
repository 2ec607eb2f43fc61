"""cluster.yaml passes Ray's own launcher checks and pins the large tenant the settings in it
declare; the cluster settings refuse bad resource names; the options pin or keep off."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
import ray
import yaml  # type: ignore[import-untyped]  # the parser `ray up` reads cluster.yaml with
from pydantic import ValidationError
from ray._private.accelerators import get_all_accelerator_resource_names
from ray.autoscaler._private.util import prepare_config, validate_config

from actors.options import (
    LARGE_TENANT_POOL,
    LARGE_TENANT_SHARE,
    NODE_POOL_LABEL,
    large_tenant_resources,
    workspace_actor_options,
)
from actors.workspace_actor import WorkspaceActor
from runtime.settings import ClusterSettings, Settings, env_variables

REPO = Path(__file__).resolve().parents[2]
ENV_FILE = "crm-agents.env"  # the file cluster.yaml's setup writes on every node
# Resources Ray itself defines on a node; any other name a node offers is a custom one.
RAY_RESOURCES = {"CPU", "memory", "object_store_memory", *get_all_accelerator_resource_names()}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in env_variables():
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def _cluster_yaml() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "cluster.yaml").read_text())
    return loaded


def _launcher_checks(config: dict[str, Any]) -> None:
    """What `ray up` checks before it calls the cloud: defaults merged, then validated
    against ray-schema.json and the node-type rules."""
    validate_config(prepare_config(copy.deepcopy(config)))


def _node_environment(config: dict[str, Any], home: Path) -> dict[str, str]:
    """The environment a node's processes get: the setup commands that write and hook the
    settings file run in bash under ``home``, then ~/.bashrc is sourced as the launcher
    does before every command."""
    clean = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for command in config["setup_commands"]:
        if ENV_FILE in command:
            subprocess.run(["bash", "-c", command], env=clean, check=True)
    shown = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", "source ~/.bashrc && env -0"],
        env=clean,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(entry.split("=", 1) for entry in shown.split("\0") if entry)


def _large_tenant_node_types(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: node_type
        for name, node_type in config["available_node_types"].items()
        if node_type.get("labels", {}).get(NODE_POOL_LABEL) == LARGE_TENANT_POOL
    }


def _custom_resources(node_type: dict[str, Any]) -> dict[str, int]:
    return {k: v for k, v in node_type["resources"].items() if k not in RAY_RESOURCES}


def test_cluster_yaml_passes_the_checks_of_rays_cluster_launcher() -> None:
    _launcher_checks(_cluster_yaml())


def test_the_launcher_checks_refuse_what_ray_up_would() -> None:
    config = _cluster_yaml()
    config["available_node_types"]["large-tenant"]["min_worker"] = 1  # misspelt
    with pytest.raises(Exception, match="min_worker"):
        _launcher_checks(config)
    config = _cluster_yaml()
    config["head_node_type"] = "no-such-type"
    with pytest.raises(ValueError, match="head_node_type"):
        _launcher_checks(config)


def test_the_image_runs_the_ray_of_this_checkout() -> None:
    # The launcher writes the autoscaler's config for the head to read: same Ray on both.
    image = _cluster_yaml()["docker"]["image"]
    assert image.partition(":")[2].startswith(f"{ray.__version__}-"), (
        f"cluster.yaml's image {image} is not Ray {ray.__version__}"
    )


def test_large_tenant_nodes_offer_the_resources_the_file_declares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _cluster_yaml()
    environment = _node_environment(config, tmp_path)
    known = {v.name for v in env_variables()}
    declared_names = {n for n in environment if n.startswith("CRM_AGENTS_")}
    assert declared_names <= known, f"unknown settings: {declared_names - known}"

    cluster_variables = {n: v for n, v in environment.items() if "_CLUSTER__" in n}
    assert cluster_variables, "cluster.yaml declares no large tenant"
    for name, value in cluster_variables.items():
        monkeypatch.setenv(name, value)
    declared = set(Settings().cluster.large_tenants.values())

    dedicated = _large_tenant_node_types(config)
    offered = {r for t in dedicated.values() for r in _custom_resources(t)}
    assert declared == offered
    for name, node_type in dedicated.items():
        # No executor task or Serve replica on a tenant's own nodes (they ask for CPUs).
        assert node_type["resources"].get("CPU") == 0, name
        for resource, amount in _custom_resources(node_type).items():
            assert amount >= LARGE_TENANT_SHARE, f"{name}: no actor fits in {resource}"
    for name, node_type in config["available_node_types"].items():
        if name not in dedicated:
            assert not set(_custom_resources(node_type)) & declared, name


def test_the_large_tenant_setting_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workspace = uuid4()
    monkeypatch.setenv(
        "CRM_AGENTS_CLUSTER__LARGE_TENANTS", json.dumps({str(workspace): "tenant_acme"})
    )
    assert Settings().cluster.large_tenants == {workspace: "tenant_acme"}


@pytest.mark.parametrize("name", ["Tenant_Acme", "tenant-acme", "9lives", "", "a" * 64])
def test_a_bad_resource_name_is_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    workspace = uuid4()
    monkeypatch.setenv("CRM_AGENTS_CLUSTER__LARGE_TENANTS", json.dumps({str(workspace): name}))
    with pytest.raises(ValidationError, match=f"cluster.large_tenants.{workspace}"):
        Settings()


@pytest.mark.parametrize("name", sorted(RAY_RESOURCES))
def test_rays_own_resources_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="large_tenants"):
        ClusterSettings(large_tenants={uuid4(): name})


def test_a_large_tenant_asks_a_share_of_its_resource_and_others_nothing() -> None:
    large, other = uuid4(), uuid4()
    cluster = ClusterSettings(large_tenants={large: "tenant_acme"})
    assert large_tenant_resources(cluster, large) == {"tenant_acme": LARGE_TENANT_SHARE}
    assert large_tenant_resources(cluster, other) is None


def _options(workspace: UUID, cluster: ClusterSettings) -> dict[str, Any]:
    options = workspace_actor_options(
        workspace, resources=large_tenant_resources(cluster, workspace)
    )
    WorkspaceActor.options(**options)  # Ray checks the options here, with no cluster running
    return options


def test_a_pinned_actor_asks_its_resource_and_the_others_keep_off_tenant_nodes() -> None:
    large, other = uuid4(), uuid4()
    cluster = ClusterSettings(large_tenants={large: "tenant_acme"})

    pinned = _options(large, cluster)
    assert pinned["resources"] == {"tenant_acme": LARGE_TENANT_SHARE}
    assert pinned["num_cpus"] == 0
    assert "label_selector" not in pinned

    ordinary = _options(other, cluster)
    assert "resources" not in ordinary
    assert ordinary["label_selector"] == {NODE_POOL_LABEL: f"!{LARGE_TENANT_POOL}"}
