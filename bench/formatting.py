"""How the benchmarks' tables and JSON objects show a figure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["goal_text", "rounded", "shown"]


def rounded(value: float | None, digits: int) -> float | None:
    """``value`` rounded for the JSON object; None stays None (not measured)."""
    return None if value is None else round(value, digits)


def shown(value: object) -> str:
    """A figure in a table: thousands separated, "n/a" when not measured."""
    if value is None:
        return "n/a"
    return f"{value:,}" if isinstance(value, int | float) else str(value)


def goal_text(goals: Mapping[str, Mapping[str, Any]], name: str) -> str:
    """A goal's cell: its target and whether it was met."""
    found = goals[name]
    return f"{found['target']} {'met' if found['met'] else 'NOT met'}"
