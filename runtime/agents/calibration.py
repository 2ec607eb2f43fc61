"""Per-field calibration of the baseline confidence into a probability of being right.

Pure: ``fit`` turns (field, baseline confidence, correct) samples into a ``Calibration``
and ``Calibration.calibrate`` applies it. Per field the fit is:

1. isotonic regression of correctness on the baseline confidence (pool-adjacent-violators,
   ``isotonic_blocks``): a non-decreasing rate per block of adjacent confidences;
2. a floor on block size: a block of fewer than ``min_block`` samples is pooled with its
   smaller neighbour, so no rate rests on two or three cases;
3. shrinkage: a block of ``n`` samples, ``k`` right, gets ``(k + m * p0) / (n + m)`` with
   ``m = prior_strength`` and ``p0`` the field's rate of success smoothed by Laplace's rule
   ``(K + 1) / (N + 2)``: small data cannot give a 0 or a 1, and a field without a single
   error on the corpus still keeps some doubt. Isotonic regression runs again on the shrunk
   rates (weighted by ``n``) since shrinking unequal blocks may break their order;
4. the map is linear between the blocks' (mean confidence, rate) points and flat beyond the
   first and last one.

``calibrate`` then blends ``(1 - identity_weight) * map(c) + identity_weight * c``: the map
is only non-decreasing, and a flat stretch would tie candidates the routing ranks by
confidence; the blend keeps the map strictly increasing (ranking unchanged) and keeps the
hand-set formula's view where the corpus has none. A field without a fitted map keeps its
baseline confidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Block",
    "Calibration",
    "CalibrationSample",
    "FieldCalibration",
    "fit",
    "isotonic_blocks",
]

_MODEL = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class CalibrationSample:
    """One proposal of a fitting run: its field, baseline confidence and whether it was right."""

    field: str
    confidence: float
    correct: bool


@dataclass(frozen=True, slots=True)
class Block:
    """Adjacent samples pooled by isotonic regression: their count, successes, confidences."""

    count: float
    successes: float
    confidence_sum: float

    @property
    def rate(self) -> float:
        return self.successes / self.count

    @property
    def mean_confidence(self) -> float:
        return self.confidence_sum / self.count

    def __add__(self, other: Block) -> Block:
        return Block(
            self.count + other.count,
            self.successes + other.successes,
            self.confidence_sum + other.confidence_sum,
        )


def isotonic_blocks(blocks: Iterable[Block]) -> list[Block]:
    """Pool adjacent violators: merge neighbours until the rates are non-decreasing.

    ``blocks`` come in increasing confidence; each output block's rate is the weighted mean
    of the inputs it pools (the least-squares non-decreasing fit).
    """
    stack: list[Block] = []
    for block in blocks:
        stack.append(block)
        while len(stack) > 1 and stack[-2].rate > stack[-1].rate:
            last = stack.pop()
            stack[-1] = stack[-1] + last
    return stack


def _floor_blocks(blocks: list[Block], min_block: int) -> list[Block]:
    """Pool every block of fewer than ``min_block`` samples with its smaller neighbour."""
    blocks = list(blocks)
    while len(blocks) > 1:
        small = [i for i, b in enumerate(blocks) if b.count < min_block]
        if not small:
            break
        i = min(small, key=lambda j: blocks[j].count)
        if i == 0:
            j = 1
        elif i == len(blocks) - 1:
            j = i - 1
        else:
            j = i - 1 if blocks[i - 1].count <= blocks[i + 1].count else i + 1
        lo, hi = min(i, j), max(i, j)
        blocks[lo : hi + 1] = [blocks[lo] + blocks[hi]]
    return blocks


class FieldCalibration(BaseModel):
    """One field's map: breakpoints (baseline confidence -> rate), increasing in both."""

    model_config = _MODEL

    confidences: tuple[float, ...] = Field(description="Mean baseline confidence per block.")
    rates: tuple[float, ...] = Field(description="Shrunk rate of success per block.")
    counts: tuple[int, ...] = Field(description="Samples per block, for the record.")
    base_rate: float = Field(description="The field's Laplace-smoothed rate of success.")

    def map(self, confidence: float) -> float:
        """The rate at ``confidence``: linear between breakpoints, flat beyond them."""
        xs, ys = self.confidences, self.rates
        if confidence <= xs[0]:
            return ys[0]
        for i in range(1, len(xs)):
            if confidence <= xs[i]:
                share = (confidence - xs[i - 1]) / (xs[i] - xs[i - 1])
                return ys[i - 1] + share * (ys[i] - ys[i - 1])
        return ys[-1]


class Calibration(BaseModel):
    """The fitted maps per field and the blend with the baseline; JSON-serialisable.

    ``Calibration()`` maps every field to its baseline confidence (the identity).
    """

    model_config = _MODEL

    fields: dict[str, FieldCalibration] = Field(default_factory=dict)
    identity_weight: float = Field(default=0.15, ge=0.0, le=1.0)
    min_block: int = Field(default=5, ge=1)
    prior_strength: float = Field(default=5.0, ge=0.0)
    source: str | None = Field(default=None, description="What it was fitted on.")

    def calibrate(self, field: str, confidence: float) -> float:
        """The calibrated probability that a ``field`` value of this confidence is right."""
        fitted = self.fields.get(field)
        if fitted is None:
            return confidence
        w = self.identity_weight
        return min(1.0, max(0.0, (1.0 - w) * fitted.map(confidence) + w * confidence))


def _fit_field(
    samples: Sequence[CalibrationSample], *, min_block: int, prior_strength: float
) -> FieldCalibration:
    ordered = sorted(samples, key=lambda s: s.confidence)
    # Equal confidences are one block: isotonic regression cannot split a tie.
    raw: list[Block] = []
    previous: float | None = None
    for s in ordered:
        block = Block(1.0, float(s.correct), s.confidence)
        if previous is not None and s.confidence == previous:
            raw[-1] = raw[-1] + block
        else:
            raw.append(block)
        previous = s.confidence
    blocks = _floor_blocks(isotonic_blocks(raw), min_block)
    total, right = len(ordered), sum(s.correct for s in ordered)
    base_rate = (right + 1.0) / (total + 2.0)
    m = prior_strength
    shrunk = [
        Block(b.count, (b.successes + m * base_rate) / (b.count + m) * b.count, b.confidence_sum)
        for b in blocks
    ]
    final = isotonic_blocks(shrunk)
    return FieldCalibration(
        confidences=tuple(b.mean_confidence for b in final),
        rates=tuple(b.rate for b in final),
        counts=tuple(round(b.count) for b in final),
        base_rate=base_rate,
    )


def fit(
    samples: Iterable[CalibrationSample],
    *,
    min_block: int = 5,
    prior_strength: float = 5.0,
    identity_weight: float = 0.15,
    source: str | None = None,
) -> Calibration:
    """Fit one map per field present in ``samples`` (see the module docstring)."""
    by_field: dict[str, list[CalibrationSample]] = {}
    for sample in samples:
        by_field.setdefault(sample.field, []).append(sample)
    return Calibration(
        fields={
            field: _fit_field(group, min_block=min_block, prior_strength=prior_strength)
            for field, group in sorted(by_field.items())
        },
        identity_weight=identity_weight,
        min_block=min_block,
        prior_strength=prior_strength,
        source=source,
    )
