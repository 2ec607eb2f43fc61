"""The query limits and the documents kept once checked (``runtime.api.documents``), and
which fields a connection's nodes are asked for (``runtime.api.pagination.node_fields``),
on a small schema executed in process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import strawberry
import strawberry.schema.schema as strawberry_schema
from graphql import parse

from runtime.api.documents import CheckedDocuments, DocumentChecks
from runtime.api.errors import ErrorCodes
from runtime.api.pagination import node_fields


@strawberry.type
class Node:
    name: str

    @strawberry.field
    def child(self) -> Node:
        return Node(name=f"{self.name}'")


@strawberry.type
class Edge:
    node: Node


@strawberry.type
class Page:
    edges: list[Edge]


_asked: list[frozenset[str]] = []  # node_fields of each `page` resolved


@strawberry.type
class Query:
    @strawberry.field
    def node(self) -> Node:
        return Node(name="a")

    @strawberry.field
    def page(self, info: strawberry.Info) -> Page:
        _asked.append(node_fields(info))
        return Page(edges=[Edge(node=Node(name="p"))])


def _checked(maxsize: int = 8) -> CheckedDocuments:
    return CheckedDocuments(maxsize=maxsize, max_depth=6, max_tokens=60, max_aliases=2)


def _schema(checked: CheckedDocuments) -> strawberry.Schema:
    return strawberry.Schema(query=Query, extensions=[ErrorCodes, lambda: DocumentChecks(checked)])


def _counted(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Count the calls of strawberry's ``name`` (its parse or validate step)."""
    calls: list[int] = []
    original: Callable[..., Any] = getattr(strawberry_schema, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, name, counting)
    return calls


def _codes(result: Any) -> list[str]:
    return [error.extensions["code"] for error in result.errors or ()]


async def test_a_document_that_passed_is_neither_parsed_nor_validated_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parses, validations = _counted(monkeypatch, "parse"), _counted(monkeypatch, "validate")
    checked = _checked()
    schema = _schema(checked)
    text = "{ node { name child { name } } }"
    results = [await schema.execute(text) for _ in range(3)]
    assert [r.data for r in results] == [{"node": {"name": "a", "child": {"name": "a'"}}}] * 3
    assert all(r.errors is None for r in results)
    assert (len(parses), len(validations), len(checked)) == (1, 1, 1)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{ node { child { child { child { child { child { child { name } } } } } } } }", "depth"),
        ("{ " + "node { name } " * 20 + "}", "token"),
        ("{ a: node { name } b: node { name } c: node { name } }", "alias"),
        ("{ node { shoeSize } }", "shoeSize"),
        ("{ node { name ", "Syntax Error"),
    ],
)
async def test_a_refused_document_is_refused_each_time_and_not_kept(
    monkeypatch: pytest.MonkeyPatch, text: str, problem: str
) -> None:
    parses = _counted(monkeypatch, "parse")
    checked = _checked()
    schema = _schema(checked)
    for _ in range(2):
        result = await schema.execute(text)
        assert result.data is None
        assert _codes(result) == ["GRAPHQL_VALIDATION_FAILED"]
        assert problem.lower() in (result.errors or [])[0].message.lower()
    assert (len(parses), len(checked)) == (2, 0)


async def test_a_kept_document_runs_the_operation_each_request_names() -> None:
    schema = _schema(_checked())
    text = "query A { node { name } } query B { node { child { name } } }"
    first = await schema.execute(text, operation_name="A")
    second = await schema.execute(text, operation_name="B")
    assert first.data == {"node": {"name": "a"}}
    assert second.data == {"node": {"child": {"name": "a'"}}}


def test_the_least_recently_used_document_goes_first() -> None:
    checked = _checked(maxsize=2)
    documents = {text: parse(text) for text in ("{ a }", "{ b }", "{ c }")}
    checked.put("{ a }", documents["{ a }"])
    checked.put("{ b }", documents["{ b }"])
    assert checked.get("{ a }") is documents["{ a }"]  # now the most recently used
    checked.put("{ c }", documents["{ c }"])
    assert (checked.get("{ a }"), checked.get("{ b }")) == (documents["{ a }"], None)
    assert len(checked) == 2


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("{ page { edges { node { name } } } }", {"name"}),
        ("{ page { edges { node { name child { name } } } } }", {"name", "child"}),
        ("{ page { edges { n: node { c: child { name } } } } }", {"child"}),
        (
            "fragment F on Node { child { name } } "
            "{ page { ... on Page { edges { node { ...F } } } edges { node { name } } } }",
            {"child", "name"},
        ),
        ("{ page { __typename } }", set()),
    ],
)
async def test_the_fields_asked_of_a_connections_nodes_are_named(
    text: str, fields: set[str]
) -> None:
    _asked.clear()
    result = await _schema(_checked()).execute(text)
    assert result.errors is None
    assert _asked == [frozenset(fields)]
