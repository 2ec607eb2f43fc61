"""What every benchmark's ``main`` does around its measurement.

- Output: the result as one JSON object on stdout (``--json``), else a table; whatever
  libraries print goes to stderr, so stdout holds nothing else.
- A scratch home (a temporary directory for the embedded PostgreSQL, Ray's session files
  and keys) removed at the end, whatever happened.
- Exit status: 0 measured (goals met or not), 1 the run broke (``BenchError``, or errors
  in the result such as a field not written exactly once), 2 cannot run
  (``CannotRunError``), 130 interrupted. Ctrl-C and SIGTERM both cancel the run, so
  everything it started is still stopped (``loopback-only`` passes Ctrl-C on as SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType

from bench.report import BenchError

__all__ = ["CannotRunError", "Measure", "cancel_on_sigterm", "json_and_quick", "run_benchmark"]

Measure = Callable[[Console, Path, AsyncExitStack], Awaitable[dict[str, Any]]]
"""One measurement: given the console for progress, a scratch home and a stack to register
what it starts, the result as JSON-ready values (with an ``errors`` list)."""


def json_and_quick(prog: str, description: str, argv: Sequence[str] | None) -> tuple[bool, bool]:
    """The two options every benchmark takes, parsed: ``--json`` and ``--quick``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    return bool(args.json), bool(args.quick)


class CannotRunError(Exception):
    """Something the benchmark needs is missing (exit status 2)."""


def run_benchmark(
    measure: Measure,
    *,
    as_json: bool,
    render: Callable[[Mapping[str, Any]], RenderableType],
    console: Console,
) -> int:
    """Run ``measure`` and print its result (see the module docstring); the exit status."""
    out = sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):
            result = asyncio.run(_in_scratch_home(measure, console))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("interrupted; everything it started is stopped")
        return 130
    except CannotRunError as exc:
        console.print(f"[red]cannot run:[/red] {exc}")
        return 2
    except BenchError as exc:
        console.print(f"[red]the benchmark broke:[/red] {exc}")
        return 1
    if as_json:
        out.write(json.dumps(result) + "\n")
    else:
        Console(file=out).print(render(result))
    for error in result["errors"]:
        console.print(f"[red]{error}[/red]")
    return 1 if result["errors"] else 0


async def _in_scratch_home(measure: Measure, console: Console) -> dict[str, Any]:
    cancel_on_sigterm()
    home = Path(tempfile.mkdtemp(prefix="crm-agents-bench-"))
    try:
        async with AsyncExitStack() as stack:
            return await measure(console, home, stack)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def cancel_on_sigterm() -> None:
    """SIGTERM cancels the running task as Ctrl-C does. Call it again once Ray has started
    in this process: its driver installs a SIGTERM handler that aborts the process."""
    task = asyncio.current_task()
    if task is None:
        return
    with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows; not main thread
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
