"""Keyset pages of rows ordered newest first, with optional filters.

A page query is a named SQL block whose WHERE clause ends in ``{conditions}`` and whose
LIMIT reads ``{limit}``; ``Conditions`` fills them with constant SQL conditions and numbered
parameters. Only values travel as parameters: no input ever becomes SQL text.

Why not one statement with ``($n IS NULL OR column = $n)`` for every optional filter:
Postgres switches a prepared statement to a generic plan after a few executions, and a
generic plan of such a statement can use none of the per-filter indexes (nor the cursor's
row comparison as an index bound), so some filters and every deep page would scan the
workspace's rows. Each combination of filters here is its own statement text, planned for
the index that serves it (``migrations/0016_create_api_read_indexes.sql``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

__all__ = ["After", "Conditions"]


@dataclass(frozen=True, slots=True)
class After:
    """A page starts strictly after the row with this ``created_at`` and id (newest first)."""

    created_at: datetime
    id: UUID


class Conditions:
    """AND-ed conditions and their parameters, numbered after the statement's fixed ones."""

    def __init__(self, *fixed: Any) -> None:
        """Args:
        fixed: the values of the statement's own parameters, ``$1`` onwards.
        """
        self.args: list[Any] = list(fixed)
        self._sql: list[str] = []

    def add(self, condition: str, *values: Any) -> Conditions:
        """``condition`` with a ``{}`` where each of ``values`` goes, e.g. ``"status = {}"``."""
        first = len(self.args) + 1
        self.args.extend(values)
        self._sql.append(condition.format(*(f"${first + i}" for i in range(len(values)))))
        return self

    def when(self, value: Any, condition: str) -> Conditions:
        """``condition`` on ``value`` unless it is None (a filter not given)."""
        return self if value is None else self.add(condition, value)

    def after(self, start: After | None) -> Conditions:
        """The cursor: rows strictly older than ``start`` in (created_at DESC, id DESC).

        A row comparison, which a btree index on (..., created_at, id) takes as one range
        bound, where ``created_at < x OR (created_at = x AND id < y)`` would not be.
        """
        if start is None:
            return self
        return self.add("(created_at, id) < ({}, {})", start.created_at, start.id)

    def statement(self, template: str, *, limit: int | None = None) -> tuple[str, list[Any]]:
        """``template`` with ``{conditions}`` (each as `` AND ...``) and ``{limit}`` filled,
        and the parameters to run it with."""
        conditions = "".join(f" AND {condition}" for condition in self._sql)
        if limit is None:
            return template.format(conditions=conditions), list(self.args)
        args = [*self.args, limit]
        return template.format(conditions=conditions, limit=f"${len(args)}"), args
