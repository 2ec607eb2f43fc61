"""The committed calibration (``calibration.json`` next to this module), read once."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from runtime.agents.calibration import Calibration

__all__ = ["CALIBRATION_FILE", "default_calibration", "load_calibration"]

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
"""Fitted by ``crm-agents calibrate tests/data/corpus-calibration``: meetings written by
authors who never saw the rules, so the fit reflects how the rules do on unfamiliar ones."""


def load_calibration(path: Path) -> Calibration:
    """A calibration from its JSON file.

    Raises:
        OSError: the file cannot be read.
        pydantic.ValidationError: it is not a calibration.
    """
    return Calibration.model_validate_json(path.read_bytes())


@cache
def default_calibration() -> Calibration:
    """The committed calibration; the result is frozen, so one read serves every run."""
    return load_calibration(CALIBRATION_FILE)
