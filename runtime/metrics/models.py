"""One minute's counters as loaded from the rows, and a window's totals."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

__all__ = ["COUNTERS", "MinuteCounts", "WindowTotals"]

COUNTERS = (
    "runs",
    "runs_failed",
    "fields_proposed",
    "auto_applied",
    "sent_to_review",
    "approved",
    "rejected",
    "writes_ok",
    "writes_failed",
)
"""The integer columns of a metrics frame, in their order (``minute`` before them,
``mean_confidence`` after)."""


class MinuteCounts(BaseModel):
    """What happened in one workspace in the minute starting at ``minute`` (UTC).

    ``confidence_sum`` adds the confidences of the ``fields_proposed`` proposals, so that
    means over several minutes weigh each field once.
    """

    model_config = ConfigDict(frozen=True)

    minute: datetime
    runs: int = 0
    runs_failed: int = 0
    fields_proposed: int = 0
    auto_applied: int = 0
    sent_to_review: int = 0
    approved: int = 0
    rejected: int = 0
    writes_ok: int = 0
    writes_failed: int = 0
    confidence_sum: float = 0.0


class WindowTotals(BaseModel):
    """A window's counters added up; ``mean_confidence`` weighs every proposed field once
    (None when nothing was proposed)."""

    model_config = ConfigDict(frozen=True)

    runs: int = 0
    runs_failed: int = 0
    fields_proposed: int = 0
    auto_applied: int = 0
    sent_to_review: int = 0
    approved: int = 0
    rejected: int = 0
    writes_ok: int = 0
    writes_failed: int = 0
    mean_confidence: float | None = None
