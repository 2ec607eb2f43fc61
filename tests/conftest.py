"""Markers follow the folder a test lives in, so no test can miss its marker."""

from __future__ import annotations

from pathlib import Path

import pytest

_MARKER_BY_FOLDER = {
    "unit": "unit",
    "integration": "integration",
    "actors": "ray",
    "api": "integration",
    "e2e": "e2e",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        folder = item.path.relative_to(root).parts[0]
        marker = _MARKER_BY_FOLDER.get(folder)
        if marker is not None:
            item.add_marker(getattr(pytest.mark, marker))


# Fixtures: PostgreSQL (server, template, a database per module), Ray, a mock HubSpot.
pytest_plugins = ("tests.postgres", "tests.ray_cluster", "tests.hubspot_fakes")
