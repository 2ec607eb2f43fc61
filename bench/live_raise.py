"""bench.live's other process: it raises the events, as a worker would, by inserting activity
rows (``migrations/0011``'s trigger NOTIFYs on commit).

``python -m bench.live_raise DSN WORKSPACE_ID USER_ID --events N --rate R``: ``N`` rows, one
transaction each, started every ``1/R`` seconds on a fixed schedule (a late one does not
push the next ones back). Each row's ``created_at`` is ``clock_timestamp()`` at its insert,
the moment the event is raised (``now()`` would be the transaction's start). Prints the
rows' ids as one JSON list on stdout when done.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from uuid import UUID

import asyncpg

__all__ = ["INSERT_ACTIVITY", "main"]

INSERT_ACTIVITY = """
INSERT INTO activity_logs
  (workspace_id, user_id, crm_record_type, crm_record_id, action_type, status, created_at)
VALUES ($1, $2, 'deal', $3, 'update', 'success', clock_timestamp())
RETURNING id
"""


async def raise_events(
    dsn: str, workspace_id: UUID, user_id: UUID, *, events: int, rate: float
) -> list[UUID]:
    """Insert ``events`` rows at ``rate`` per second; their ids in order."""
    conn = await asyncpg.connect(dsn)
    try:
        statement = await conn.prepare(INSERT_ACTIVITY)
        ids: list[UUID] = []
        started = time.monotonic()
        for n in range(events):
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            ids.append(await statement.fetchval(workspace_id, user_id, f"bench-live-{n}"))
        return ids
    finally:
        await conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live_raise")
    parser.add_argument("dsn")
    parser.add_argument("workspace_id", type=UUID)
    parser.add_argument("user_id", type=UUID)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    args = parser.parse_args(argv)
    if args.events < 1 or args.rate <= 0:
        parser.error("--events must be at least 1 and --rate above 0")
    ids = asyncio.run(
        raise_events(args.dsn, args.workspace_id, args.user_id, events=args.events, rate=args.rate)
    )
    sys.stdout.write(json.dumps([str(i) for i in ids]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
