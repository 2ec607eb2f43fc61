"""The budget benchmark's figures from a request log (``bench.figures``)."""

from __future__ import annotations

import pytest

from bench.emulator import CountedRequest
from bench.figures import drain_figures


def _waves(*, burst: int, waves: int, spread_s: float, period_s: float) -> list[CountedRequest]:
    """``waves`` waves of ``burst`` requests of 100 inputs, each spread over ``spread_s``,
    each starting ``period_s`` after the one before."""
    requests = []
    for wave in range(waves):
        for i in range(burst):
            started = wave * period_s + spread_s * i / burst
            requests.append(CountedRequest("writer", "batch_update", 200, 100, started, started))
    return requests


def test_the_steady_rate_follows_the_slot_reuse_period_not_the_window_alignment() -> None:
    # Every 10 s window holds a whole wave (190 requests) although a slot is reused only
    # every 10.5 s: the steady rate is 190 x 100 records per 10.5 s, 95.2% of the limit.
    figures = drain_figures(
        _waves(burst=190, waves=4, spread_s=4.0, period_s=10.5), window_s=10.0, burst=190
    )
    assert [w.requests for w in figures.windows[:3]] == [190, 190, 190]
    assert figures.reuse_period_s == pytest.approx(10.5)
    assert figures.steady_rate_rps == pytest.approx(19_000 / 10.5)


def test_a_drain_within_the_burst_has_no_steady_rate() -> None:
    figures = drain_figures(
        _waves(burst=190, waves=1, spread_s=4.0, period_s=10.0), window_s=10.0, burst=190
    )
    assert figures.steady_windows == 0
    assert figures.steady_rate_rps is None
    assert figures.records == 19_000
