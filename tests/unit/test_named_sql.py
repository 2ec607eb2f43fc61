"""Named SQL blocks: parsed strictly, and every domain's file loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.db.named_sql import load_queries, parse_queries

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"


def test_blocks_are_split_by_name() -> None:
    queries = parse_queries("-- a comment\n-- name: one\nSELECT 1;\n\n-- name: two\nSELECT\n 2;\n")
    assert dict(queries) == {"one": "SELECT 1;", "two": "SELECT\n 2;"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;", "defined twice"),
        ("-- name: a\n\n-- name: b\nSELECT 1;", "'a' is empty"),
        ("SELECT 1;\n-- name: a\nSELECT 2;", "before the first"),
        ("-- name: Bad-Name\nSELECT 1;", "not an identifier"),
    ],
)
def test_malformed_files_are_refused(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_queries(text)


def test_the_mapping_is_read_only() -> None:
    queries = parse_queries("-- name: a\nSELECT 1;")
    with pytest.raises(TypeError):
        queries["b"] = "SELECT 2;"  # type: ignore[index]


@pytest.mark.parametrize("path", sorted(RUNTIME.rglob("queries.sql")), ids=lambda p: p.parent.name)
def test_every_domain_query_file_loads(path: Path) -> None:
    assert load_queries(path)
