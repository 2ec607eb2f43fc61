"""What ``bench.budget`` measures: its command line, the backlog and the per-record sample.

Default shape: 60,000 deals x 1 field. HubSpot counts requests, and a request carries up to
100 records whatever their fields, so records, not fields, decide how many requests a drain
needs: 60,000 records are 600 requests, about three 10-second windows past the initial
burst of 190 even at the full limit; 20,000 deals x 3 fields would be 200 requests, nearly
all inside the burst, and would measure the burst instead of the steady state.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.database import FieldUpdate
from bench.emulator import deal_id
from runtime.settings import Settings

__all__ = ["FIELDS", "SDK_THREADS", "Options", "backlog", "parse_options", "sample"]

FIELDS: tuple[tuple[str, str | None, Callable[[int], str]], ...] = (
    ("amount", "1000", lambda i: str(2000 + i)),
    ("hs_next_step", None, lambda i: f"Send the order form to deal {i}"),
    ("description", None, lambda i: f"Benchmark update of deal {i}"),
)
"""Fields a deal's updates set, in order: name, the seeded deal's value, deal i's new value."""
SDK_THREADS = 4
"""The per-record baseline's calls at once: ``OutboxWriter``'s default ``max_in_flight``,
which the workspace runtime uses, so both send as many requests at once."""
_FULL_DEALS, _QUICK_DEALS = 60_000, 2_000
_FULL_SAMPLE, _QUICK_SAMPLE = 300, 40


@dataclass(frozen=True)
class Options:
    deals: int
    fields_per_deal: int
    sample: int
    sdk_threads: int
    flush_interval_s: float
    timeout_s: float
    analyze: bool
    mode: str
    """``full`` or ``quick`` with the documented sizes and settings, else ``custom``."""
    json: bool


def parse_options(argv: Sequence[str] | None = None) -> Options:
    args = _parser().parse_args(argv)
    quick = bool(args.quick)
    deals = args.deals or (_QUICK_DEALS if quick else _FULL_DEALS)
    size = args.sample or (_QUICK_SAMPLE if quick else _FULL_SAMPLE)
    if deals < 1 or size < 1 or args.sdk_threads < 1:
        raise SystemExit("--deals, --sample and --sdk-threads must be at least 1")
    default_flush_s = Settings().writes.flush_interval_s
    flush_s = default_flush_s if args.flush_interval_s is None else args.flush_interval_s
    custom = (
        args.deals is not None
        or args.sample is not None
        or args.fields_per_deal != 1
        or args.sdk_threads != SDK_THREADS
        or flush_s != default_flush_s
        or args.no_analyze
    )
    return Options(
        deals=deals,
        fields_per_deal=args.fields_per_deal,
        sample=min(size, deals),
        sdk_threads=args.sdk_threads,
        flush_interval_s=flush_s,
        # Generous: ten times the drain at the physical limit (1,900 records/s), >= 2 min.
        timeout_s=args.timeout_s or max(120.0, 10 * deals / 1900),
        analyze=not args.no_analyze,
        mode="custom" if custom else "quick" if quick else "full",
        json=bool(args.json),
    )


def backlog(options: Options) -> list[FieldUpdate]:
    """Deal ``i`` gets its first ``fields_per_deal`` fields set to values unique to it."""
    return [
        FieldUpdate(deal_id(i), field, before, value(i))
        for i in range(options.deals)
        for field, before, value in FIELDS[: options.fields_per_deal]
    ]


def sample(updates: Sequence[FieldUpdate], size: int) -> list[tuple[str, dict[str, str]]]:
    """``size`` deals spread evenly over the backlog, each with its queued fields."""
    by_record: dict[str, dict[str, str]] = {}
    for update in updates:
        by_record.setdefault(update.record_id, {})[update.field] = update.value
    records = list(by_record.items())
    step = max(len(records) // max(size, 1), 1)
    return records[::step][:size]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.budget",
        description=(
            "Drain a backlog of field updates through one workspace actor against the HubSpot"
            " emulator at its default limits and latency, and compare with the official SDK"
            " writing one record per request. Run it through ../shared/tools/loopback-only."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small sizes for a smoke test ({_QUICK_DEALS:,} deals, sample {_QUICK_SAMPLE})",
    )
    parser.add_argument(
        "--deals", type=int, help=f"deals in the backlog ({_FULL_DEALS:,}; quick {_QUICK_DEALS:,})"
    )
    parser.add_argument(
        "--fields-per-deal",
        type=int,
        choices=range(1, len(FIELDS) + 1),
        default=1,
        help="fields queued per deal (1)",
    )
    parser.add_argument(
        "--sample",
        type=int,
        help=f"records the SDK writes ({_FULL_SAMPLE}; quick {_QUICK_SAMPLE})",
    )
    parser.add_argument(
        "--sdk-threads",
        type=int,
        default=SDK_THREADS,
        help=f"SDK calls at once ({SDK_THREADS}: as many as the writer's requests in flight)",
    )
    parser.add_argument(
        "--flush-interval-s",
        type=float,
        help="the writer's CRM_AGENTS_WRITES__FLUSH_INTERVAL_S (default: the product's)",
    )
    parser.add_argument("--timeout-s", type=float, help="give up on the drain after this")
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="leave the backlog's tables without statistics (shows the writer's slow queries)",
    )
    return parser
