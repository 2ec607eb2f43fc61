"""Waiting for the first of several things, with a timeout, leaving nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

__all__ = ["first_of"]


async def first_of(
    *waits: Coroutine[Any, Any, Any], timeout_s: float | None
) -> asyncio.Task[Any] | None:
    """Run ``waits`` until the first one finishes or ``timeout_s`` passes; the others are
    cancelled and awaited. The task that finished first (its result is ready), or None."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        done, _ = await asyncio.wait(tasks, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        return next((task for task in tasks if task in done), None)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
