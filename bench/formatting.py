"""How the benchmarks' tables and JSON objects show a figure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["at_least", "at_most", "goal_text", "rounded", "shown"]


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


def at_most(value: float | None, target: float) -> dict[str, Any]:
    """A goal of the JSON object: ``value`` must be measured and at most ``target``."""
    met = value is not None and value <= target
    return {"target": f"<= {target:g}", "value": value, "met": met}


def at_least(value: float | None, target: float) -> dict[str, Any]:
    """A goal of the JSON object: ``value`` must be measured and at least ``target``."""
    met = value is not None and value >= target
    return {"target": f">= {target:g}", "value": value, "met": met}
