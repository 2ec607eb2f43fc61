"""The confidence calibration: isotonic fit, shrinkage, serialisation, the holdout guard."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from runtime.agents.calibration import (
    Block,
    Calibration,
    CalibrationSample,
    fit,
    isotonic_blocks,
)
from runtime.agents.calibration_file import default_calibration
from runtime.agents.evaluation.fitting import check_not_holdout
from runtime.errors import InvalidInputError

pytestmark = pytest.mark.unit


def _samples(field: str, pairs: list[tuple[float, bool]]) -> list[CalibrationSample]:
    return [CalibrationSample(field=field, confidence=c, correct=r) for c, r in pairs]


def test_pool_adjacent_violators_gives_the_known_isotonic_fit() -> None:
    rates = [1.0, 0.0, 0.0, 1.0, 1.0]
    blocks = isotonic_blocks(Block(1.0, r, 0.1 * i) for i, r in enumerate(rates))
    # 1, 0, 0 violate the order: pooled to their mean 1/3; the two 1s stay.
    assert [b.rate for b in blocks] == pytest.approx([1 / 3, 1.0, 1.0])
    assert [b.count for b in blocks] == [3.0, 1.0, 1.0]


def test_a_fit_is_monotone_and_bounded_away_from_zero_and_one() -> None:
    pairs = [(0.1 * i, i >= 5) for i in range(10)] * 3
    calibration = fit(_samples("amount", pairs), min_block=5, prior_strength=5.0)
    grid = [i / 100 for i in range(101)]
    values = [calibration.calibrate("amount", c) for c in grid]
    assert all(b > a for a, b in pairwise(values))
    assert min(values) > 0.0
    assert max(values) < 1.0
    assert calibration.calibrate("amount", 0.0) < 0.3
    assert calibration.calibrate("amount", 0.95) > 0.7


def test_small_blocks_are_pooled_and_shrunk_towards_the_field_rate() -> None:
    # Three right answers alone would be a rate of 1; pooled and shrunk they are not.
    pairs = [(0.3, False)] * 6 + [(0.9, True)] * 3
    fitted = fit(_samples("closedate", pairs), min_block=5, prior_strength=5.0).fields["closedate"]
    assert min(fitted.counts) >= 5
    assert fitted.base_rate == pytest.approx(4 / 11)
    assert max(fitted.rates) < 0.5


def test_a_field_without_a_map_keeps_its_baseline_confidence() -> None:
    calibration = fit(_samples("amount", [(0.5, True)] * 5))
    assert calibration.calibrate("hs_next_step", 0.42) == 0.42
    assert Calibration().calibrate("amount", 0.42) == 0.42


def test_a_calibration_round_trips_through_json() -> None:
    calibration = fit(_samples("dealstage", [(0.2, False), (0.6, True), (0.9, True)] * 4))
    again = Calibration.model_validate_json(calibration.model_dump_json())
    assert again == calibration
    assert again.calibrate("dealstage", 0.7) == calibration.calibrate("dealstage", 0.7)


@pytest.mark.parametrize("path", ["tests/data/corpus-holdout", "/data/HoldOut/cases"])
def test_a_holdout_corpus_is_refused(path: str) -> None:
    with pytest.raises(InvalidInputError, match="held-out"):
        check_not_holdout(Path(path))


def test_the_development_corpus_is_accepted() -> None:
    check_not_holdout(Path("tests/data/corpus"))


def test_the_committed_calibration_loads_and_is_monotone_per_field() -> None:
    calibration = default_calibration()
    assert set(calibration.fields) == {"amount", "closedate", "dealstage", "hs_next_step"}
    grid = [i / 50 for i in range(51)]
    for field in calibration.fields:
        values = [calibration.calibrate(field, c) for c in grid]
        assert all(b > a for a, b in pairwise(values)), field
        assert all(0.0 < v < 1.0 for v in values), field
