"""Named SQL blocks: each domain keeps its queries in ``queries.sql``, loaded once.

A block starts with a ``-- name: <identifier>`` line and runs to the next one::

    -- name: get_workspace
    SELECT id, name, created_at FROM workspaces WHERE id = $1;
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

__all__ = ["load_queries", "parse_queries"]

_NAME_LINE = re.compile(r"^--\s*name:\s*(?P<name>\S+)\s*$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def load_queries(path: Path) -> Mapping[str, str]:
    """Read and parse a ``queries.sql`` file; the mapping is read-only."""
    return parse_queries(path.read_text(encoding="utf-8"), origin=str(path.name))


def parse_queries(text: str, *, origin: str = "<sql>") -> Mapping[str, str]:
    queries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _NAME_LINE.match(line)
        if match:
            name = match["name"]
            if not _IDENTIFIER.match(name):
                raise ValueError(f"{origin}:{number}: query name {name!r} is not an identifier")
            if name in queries:
                raise ValueError(f"{origin}:{number}: query {name!r} is defined twice")
            current = queries[name] = []
        elif current is not None:
            current.append(line)
        elif line.strip() and not line.lstrip().startswith("--"):
            raise ValueError(f"{origin}:{number}: SQL before the first '-- name:' line")
    result = {}
    for name, lines in queries.items():
        sql = "\n".join(lines).strip()
        if not sql:
            raise ValueError(f"{origin}: query {name!r} is empty")
        result[name] = sql
    return MappingProxyType(result)
