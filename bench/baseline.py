"""The per-record baseline: HubSpot's official Python SDK, one PATCH per record, retrying 429s.

This is what an integration written from HubSpot's SDK documentation does: for each record,
``client.crm.deals.basic_api.update(id, SimplePublicObjectInput(properties=...))``, with the
SDK's documented rate-limit retry, ``HubSpot(retry=Retry(total=..., status_forcelist=(429,)))``.
Two changes keep it from failing outright, both stated in the report:

- ``allowed_methods=None``: urllib3 retries only idempotent methods by default
  (``Retry.DEFAULT_ALLOWED_METHODS`` leaves PATCH out), so the documented retry never retries
  an update answered 429; the SDK raises instead.
- ``backoff_factor``: the documented retry waits nothing between attempts (the emulator, like
  HubSpot, sends no Retry-After with a burst 429), so five immediate retries meet the same
  full window. urllib3 sleeps ``backoff_factor * 2 ** (n - 1)`` before the n-th retry after
  the first (0, 1, 2, 4, 8 ... s at 0.5); a Retry-After, when sent, is respected.

``threads`` workers each hold one API object (one connection pool), so calls reuse
connections; the same concurrency as the workspace writer's requests in flight makes the
comparison one of request shape, not of parallelism.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from urllib3.util.retry import Retry

__all__ = ["RETRY_BACKOFF_FACTOR", "RETRY_TOTAL", "PerRecordRun", "run_per_record"]

RETRY_TOTAL = 8
RETRY_BACKOFF_FACTOR = 0.5


@dataclass(frozen=True, slots=True)
class PerRecordRun:
    """How the SDK fared: records written, wall time, and the records it gave up on."""

    records: int
    elapsed_s: float
    failures: tuple[str, ...]

    @property
    def rate_rps(self) -> float:
        return (self.records - len(self.failures)) / self.elapsed_s if self.elapsed_s else 0.0


def run_per_record(
    url: str,
    token: str,
    records: Sequence[tuple[str, Mapping[str, str]]],
    *,
    threads: int,
    stop: threading.Event | None = None,
) -> PerRecordRun:
    """PATCH each ``(deal id, properties)`` with the SDK, ``threads`` at a time.

    Once ``stop`` is set (the run was interrupted) the records not yet started are skipped.
    """
    # Imported here: the SDK comes with the project's test extra.
    from hubspot import HubSpot
    from hubspot.crm.deals import SimplePublicObjectInput

    retry = Retry(
        total=RETRY_TOTAL,
        backoff_factor=RETRY_BACKOFF_FACTOR,
        status_forcelist=(429,),
        allowed_methods=None,
        respect_retry_after_header=True,
    )
    local = threading.local()

    def update(record_id: str, properties: Mapping[str, str]) -> None:
        if stop is not None and stop.is_set():
            return
        api: Any = getattr(local, "api", None)
        if api is None:
            # Each ``basic_api`` access builds a new API client and connection pool: keep one.
            api = local.api = HubSpot(access_token=token, host=url, retry=retry).crm.deals.basic_api
        api.update(record_id, SimplePublicObjectInput(properties=dict(properties)))

    failures: list[str] = []
    started_s = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sdk") as pool:
        futures = {pool.submit(update, rid, props): rid for rid, props in records}
        for future, record_id in futures.items():
            error = future.exception()
            if error is not None:
                failures.append(f"deal {record_id}: {type(error).__name__}: {error}"[:300])
    return PerRecordRun(len(records), time.monotonic() - started_s, tuple(failures))
