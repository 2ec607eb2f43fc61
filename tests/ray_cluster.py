"""One local Ray cluster per test session (run the suite inside loopback-only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    import ray

    # address="local": never join a stale cluster recorded by an earlier run.
    context = ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        yield context
    finally:
        try:
            from ray import serve

            serve.shutdown()
        finally:
            ray.shutdown()
