"""Fit the confidence calibration on development corpora (``crm-agents calibrate``).

The agent runs on every case exactly as ``crm-agents eval`` runs it, but with the identity
calibration, so each proposal carries its *baseline* confidence; the scorer's correctness
of that proposal is the label. The held-out corpus must never be fitted on: a corpus path
that names ``holdout`` is refused (``check_not_holdout``), a guard against slips, not a
security boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from runtime.agents.calibration import Calibration, CalibrationSample, fit
from runtime.agents.evaluation.corpus import CorpusCase
from runtime.agents.evaluation.runner import evaluate
from runtime.agents.evaluation.scoring import EvalReport
from runtime.agents.extraction import Extractor
from runtime.errors import InvalidInputError

__all__ = [
    "CalibrationFit",
    "check_not_holdout",
    "collect_samples",
    "fit_corpus",
    "samples_of",
]

_FITTING_THRESHOLD = 0.8  # proposals and their correctness do not depend on it


class CalibrationFit(BaseModel):
    """A fitted calibration with the corpus's ECE before and after it."""

    model_config = ConfigDict(frozen=True)

    calibration: Calibration
    samples: int
    ece_before: float | None
    ece_after: float | None


def check_not_holdout(path: Path) -> None:
    """Refuse a held-out corpus: fitting on it would make its figures meaningless.

    Raises:
        InvalidInputError: a part of the path contains ``holdout``.
    """
    if any("holdout" in part.lower() for part in path.resolve().parts):
        raise InvalidInputError.one(
            "CORPUS_DIR",
            "is a held-out corpus: calibration is only fitted on development corpora",
            source=str(path),
        )


def samples_of(report: EvalReport) -> list[CalibrationSample]:
    """Every scored proposal of a run as a (field, confidence, correct) sample."""
    return [
        CalibrationSample(field=p.field, confidence=p.confidence, correct=p.correct)
        for case in report.details
        for p in case.proposals
    ]


async def collect_samples(
    cases: Sequence[CorpusCase], *, extractor: Extractor
) -> list[CalibrationSample]:
    """Run the uncalibrated agent on every case; one sample per scored proposal."""
    report = await evaluate(
        cases, threshold=_FITTING_THRESHOLD, extractor=extractor, calibration=Calibration()
    )
    return samples_of(report)


async def fit_corpus(
    cases: Sequence[CorpusCase], *, extractor: Extractor, source: str | None = None
) -> CalibrationFit:
    """Fit on ``cases`` and measure the ECE of a run before and after calibrating."""
    before = await evaluate(
        cases, threshold=_FITTING_THRESHOLD, extractor=extractor, calibration=Calibration()
    )
    samples = samples_of(before)
    calibration = fit(samples, source=source)
    after = await evaluate(
        cases, threshold=_FITTING_THRESHOLD, extractor=extractor, calibration=calibration
    )
    return CalibrationFit(
        calibration=calibration,
        samples=len(samples),
        ece_before=before.ece,
        ece_after=after.ece,
    )
