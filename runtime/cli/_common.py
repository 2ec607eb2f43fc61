"""What every command shares: settings, the database, output, errors and exit codes."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

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
