"""The drain's figures from the emulator's request log: plain functions, no I/O.

Time is cut into windows of the rate limit's length (10 s), starting at the writer's first
write request: window 0 is the initial burst (a fresh window lets 190 requests go at once);
windows 1..K that end before the last write request started are the steady state, where
only what leaves the rolling window can be spent again. The tail after them (the backlog
running out) counts toward the drain but not toward the steady state. A request counts in
the window in which it arrived, when the emulator's limiter counted it.

The steady rate is not read from those windows: a drain goes in waves (the burst's 190
requests leave within a few seconds, then each slot is spent again when its request leaves
the rolling window), so a window aligned with the waves holds a whole wave and would read
100% whatever the pause between waves. It is measured by the slot reuse instead: request
``i`` (after the burst) reuses the slot of request ``i - burst``, and the mean time between
their arrivals is the period at which the budget turns over; the steady rate is ``burst``
requests of the mean size per period. A period of exactly one window is 100% of the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.emulator import CountedRequest
from bench.formatting import at_least

__all__ = ["DrainFigures", "Goal", "Window", "drain_figures", "goals"]


@dataclass(frozen=True, slots=True)
class Window:
    index: int
    requests: int
    records: int
    rate_limited: int


@dataclass(frozen=True, slots=True)
class DrainFigures:
    """Write requests, records and 429s of one app, overall and in the steady state."""

    write_requests: int
    records: int
    rate_limited: int
    other_requests: int
    windows: tuple[Window, ...]
    steady_windows: int
    window_s: float
    span_s: float
    """From the first write request's arrival to the last one's answer."""
    mean_request_s: float | None
    mean_in_flight: float | None
    reuse_period_s: float | None
    """Mean time from a request's arrival to the arrival of the one that reused its slot."""
    burst: int

    @property
    def records_per_request(self) -> float | None:
        return self.records / self.write_requests if self.write_requests else None

    @property
    def burst_rate_rps(self) -> float | None:
        """Records of the first window over its length (or the drain's, when shorter)."""
        if not self.windows or self.span_s <= 0:
            return None
        return self.windows[0].records / min(self.window_s, self.span_s)

    @property
    def steady_rate_rps(self) -> float | None:
        """Records per second at the slot-reuse period (see the module docstring)."""
        if not self.steady_windows or not self.reuse_period_s:
            return None
        per_request = self.records / self.write_requests
        return self.burst * per_request / self.reuse_period_s

    @property
    def steady_rate_limited(self) -> int | None:
        if not self.steady_windows:
            return None
        return sum(w.rate_limited for w in self.windows[1 : 1 + self.steady_windows])


@dataclass(frozen=True, slots=True)
class Goal:
    target: str
    value: float | None
    met: bool


def drain_figures(
    requests: Sequence[CountedRequest], *, window_s: float, burst: int
) -> DrainFigures:
    """The figures of one app's requests (see the module docstring).

    Write requests are batch updates the emulator answered below 400; their inputs are the
    records written. A 429 of any kind of call counts as rate limited.
    """
    writes = [r for r in requests if r.kind == "batch_update" and r.status < 400]
    limited = [r for r in requests if r.status == 429]
    others = [r for r in requests if r.kind != "batch_update" and r.status != 429]
    if not writes:
        return DrainFigures(
            0, 0, len(limited), len(others), (), 0, window_s, 0.0, None, None, None, burst
        )
    first_s = min(r.started_s for r in writes)
    last_s = max(r.started_s for r in writes)
    count = int((last_s - first_s) // window_s) + 1
    requests_in = [0] * count
    records_in = [0] * count
    limited_in = [0] * count
    for r in writes:
        index = int((r.started_s - first_s) // window_s)
        requests_in[index] += 1
        records_in[index] += r.inputs
    for r in limited:
        index = int((r.started_s - first_s) // window_s)
        if 0 <= index < count:
            limited_in[index] += 1
    windows = tuple(Window(i, requests_in[i], records_in[i], limited_in[i]) for i in range(count))
    # Whole windows after the burst that closed before the last write request started.
    steady = max(int((last_s - first_s) // window_s) - 1, 0)
    span_s = max(r.ended_s for r in writes) - first_s
    busy_s = sum(r.ended_s - r.started_s for r in writes)
    arrivals = sorted(r.started_s for r in writes)
    reuse = [arrivals[i] - arrivals[i - burst] for i in range(burst, len(arrivals))]
    return DrainFigures(
        write_requests=len(writes),
        records=sum(r.inputs for r in writes),
        rate_limited=len(limited),
        other_requests=len(others),
        windows=windows,
        steady_windows=steady,
        window_s=window_s,
        span_s=span_s,
        mean_request_s=busy_s / len(writes),
        mean_in_flight=busy_s / span_s if span_s > 0 else None,
        reuse_period_s=sum(reuse) / len(reuse) if reuse else None,
        burst=burst,
    )


def goals(
    *,
    records_per_request: float | None,
    share_of_limit: float | None,
    rate_limited_in_steady_state: int | None,
    ratio: float | None,
) -> dict[str, Goal]:
    """The issue's goals, each with its target, the measured value and whether it is met."""
    return {
        "records_per_request": _at_least(records_per_request, 95),
        "share_of_limit": _at_least(share_of_limit, 0.95),
        "no_429_in_steady_state": Goal(
            "== 0",
            rate_limited_in_steady_state,
            rate_limited_in_steady_state == 0,
        ),
        "ratio_to_per_record": _at_least(ratio, 50),
    }


def _at_least(value: float | None, target: float) -> Goal:
    return Goal(**at_least(value, target))
