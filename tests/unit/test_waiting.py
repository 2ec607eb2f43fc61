"""Waiting for the first of several things."""

from __future__ import annotations

import asyncio

from runtime.waiting import first_of


async def test_the_first_to_finish_is_returned_and_the_others_cancelled() -> None:
    never = asyncio.Event()
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await never.wait()
        finally:
            cancelled.set()

    async def soon() -> str:
        await asyncio.sleep(0)
        return "done"

    got = await first_of(forever(), soon(), timeout_s=5)
    assert got is not None
    assert got.result() == "done"
    assert cancelled.is_set()


async def test_a_timeout_returns_none() -> None:
    assert await first_of(asyncio.Event().wait(), timeout_s=0.01) is None
