"""What every command shares: settings, the database, output, errors and exit codes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TextIO, TypeVar

import asyncpg
import typer
from pydantic import ValidationError
from rich.console import Console

from runtime.db.connect import open_pool, server_dsn
from runtime.errors import (
    ClientError,
    CrmAgentsError,
    InvalidInputError,
    invalid_from_pydantic,
)
from runtime.settings import Settings

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILURE",
    "JSON_OPTION",
    "WORKSPACE_OPTION",
    "command_group",
    "database",
    "emit",
    "load_settings",
    "report",
    "result_line",
    "results_only_on_stdout",
    "run",
]

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

T = TypeVar("T")

# For progress bars only; messages go to sys.stderr unwrapped, so that they grep well.
stderr = Console(stderr=True, highlight=False)


def command_group(**options: Any) -> typer.Typer:
    """A typer app with the project's conventions.

    Markdown help: docstrings wrap at 100 columns in the source and should reflow to the
    terminal's width, which typer's default "rich" mode does not do.
    """
    options.setdefault("no_args_is_help", True)
    options.setdefault("rich_markup_mode", "markdown")
    return typer.Typer(**options)


def load_settings() -> Settings:
    """The settings from the environment; a bad value is bad input naming its field."""
    try:
        return Settings()
    except ValidationError as exc:
        raise invalid_from_pydantic(exc, source="settings") from exc


def report(error: CrmAgentsError) -> int:
    """Print one line per problem to stderr; return the exit code (2 bad input, else 1)."""
    if isinstance(error, InvalidInputError):
        where = f"{error.source}: " if error.source else ""
        for field, reason in error.problems:
            sys.stderr.write(f"error: {where}{field}: {reason}\n")
    else:
        sys.stderr.write(f"error: {error}\n")
    return EXIT_BAD_INPUT if isinstance(error, ClientError) else EXIT_FAILURE


def run(body: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run an async command body; our errors propagate to ``main``, which reports them."""
    return asyncio.run(body())


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the product's (migrated) database for the length of a command."""
    with server_dsn(settings) as dsn:
        async with open_pool(dsn, settings) as pool:
            yield pool


def emit(data: dict[str, Any] | list[Any], human: str, *, as_json: bool) -> None:
    """Print the result: one JSON document with --json, else the human line(s)."""
    if as_json:
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
    else:
        sys.stdout.write(human.rstrip("\n") + "\n")


JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document for machines.")
WORKSPACE_OPTION = typer.Option(..., "--workspace", help="Workspace id (see `workspace list`).")


_results: TextIO | None = None


@contextmanager
def results_only_on_stdout() -> Iterator[None]:
    """Keep standard output for the command's own results (``result_line``) while it runs.

    A command that starts Ray in this process shares the process with Ray's driver, which
    prints its workers' and the raylet's lines to standard output; a script reading the
    command's JSON Lines would choke on them. Within this block everything else written to
    standard output (Python's ``sys.stdout``, the file descriptor, child processes) goes to
    standard error instead.
    """
    global _results
    sys.stdout.flush()
    kept = os.dup(1)
    previous = sys.stdout
    _results = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stderr.flush()
        _results.close()
        _results = None
        os.dup2(kept, 1)
        os.close(kept)
        sys.stdout = previous


def result_line(text: str) -> None:
    """One line of the command's results on standard output (``results_only_on_stdout``)."""
    stream = _results if _results is not None else sys.stdout
    stream.write(text.rstrip("\n") + "\n")
    stream.flush()
