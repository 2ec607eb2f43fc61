"""What a flush or a recovery of the outbox did, in counts."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TypeVar

__all__ = ["FlushReport", "RecoveryReport", "Tally", "WriteCounts"]


@dataclass(frozen=True)
class WriteCounts:
    """Counts of one flush or recovery. Inputs are records (or creates), not outbox rows.

    requests: CRM calls made (reads, writes, property definitions);
    inputs: inputs sent in write requests;
    records_written / records_failed: inputs the CRM confirmed / refused;
    returned_to_review: proposals sent back to a human;
    rate_limited: calls answered 429;
    resent: inputs sent again (a flush), or records put back in the queue (a recovery);
    marked_done: records found already written (a recovery);
    superseded: rows replaced by a newer row for the same field;
    outcome_unknown: inputs whose answer never came (left in flight).
    """

    requests: int = 0
    inputs: int = 0
    records_written: int = 0
    records_failed: int = 0
    returned_to_review: int = 0
    rate_limited: int = 0
    resent: int = 0
    marked_done: int = 0
    superseded: int = 0
    outcome_unknown: int = 0


@dataclass(frozen=True)
class FlushReport(WriteCounts):
    """What one ``OutboxWriter.flush`` did (see ``WriteCounts``)."""


@dataclass(frozen=True)
class RecoveryReport(WriteCounts):
    """What one ``OutboxWriter.recover`` did (see ``WriteCounts``)."""


_ReportT = TypeVar("_ReportT", bound=WriteCounts)


@dataclass
class Tally:
    """The counts while a flush or recovery runs (its tasks add to one tally)."""

    requests: int = 0
    inputs: int = 0
    records_written: int = 0
    records_failed: int = 0
    returned_to_review: int = 0
    rate_limited: int = 0
    resent: int = 0
    marked_done: int = 0
    superseded: int = 0
    outcome_unknown: int = 0

    def report(self, kind: type[_ReportT]) -> _ReportT:
        return kind(**{f.name: getattr(self, f.name) for f in fields(WriteCounts)})
