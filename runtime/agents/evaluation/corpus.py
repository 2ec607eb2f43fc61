"""An evaluation corpus on disk (spec meetings-and-corpus §3, §4): one folder per case.

    corpus/
      case-001/meeting.json  crm.json  expected.json
      case-002/...

Loading checks every case before any is scored; all problems come back at once, each naming
the file, the field and the reason (a missing file is named too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from runtime.agents.evaluation.scoring import (
    SCORED_FIELDS,
    next_step_tokens,
    normalise_amount,
    normalise_date,
)
from runtime.crm.snapshot import CrmSnapshot, load_snapshot
from runtime.errors import FieldProblem, InvalidInputError, parse_json_model
from runtime.meetings.models import MeetingIn
from runtime.meetings.service import parse_meeting

__all__ = [
    "CASE_FILES",
    "CorpusCase",
    "Expected",
    "load_corpus",
    "parse_expected",
]

T = TypeVar("T")
CASE_FILES = ("meeting.json", "crm.json", "expected.json")


class Expected(BaseModel):
    """``expected.json``: the deal the meeting is about and the updates a careful human makes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    deal_id: str | None = Field(
        description="The deal the meeting is about; null when no existing deal matches."
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Scored field -> right value; an absent field must not be changed.",
    )
    notes: str | None = Field(default=None, description="Why, for the humans reading it.")


@dataclass(frozen=True)
class CorpusCase:
    """One case: the meeting, the CRM the agent sees, and the expected outcome."""

    name: str
    meeting: MeetingIn
    snapshot: CrmSnapshot
    expected: Expected

    def stage_ids(self) -> dict[str, str]:
        """Case-folded stage ids and labels -> stage id; the expected deal's pipeline wins."""
        mapping: dict[str, str] = {}
        pipelines = list(self.snapshot.deal_pipelines())
        home = _deal_pipeline_id(self.snapshot, self.expected.deal_id)
        pipelines.sort(key=lambda pipeline: pipeline.id == home)  # the home pipeline last
        for pipeline in pipelines:
            for stage in pipeline.stages:
                mapping[stage.label.casefold()] = stage.id
            for stage in pipeline.stages:
                mapping[stage.id.casefold()] = stage.id
        return mapping


def parse_expected(
    raw: str | bytes | dict[str, Any], *, snapshot: CrmSnapshot, source: str | None = None
) -> Expected:
    """Validate ``expected.json`` against the scored fields and the case's CRM snapshot.

    Raises:
        InvalidInputError: not JSON, a wrong shape, an unscored field, a value the scoring
            cannot read, or a deal or stage the snapshot does not have.
    """
    expected = parse_json_model(Expected, raw, source=source)
    problems = _expected_problems(expected, snapshot)
    if problems:
        raise InvalidInputError(problems, source)
    return expected


def load_corpus(directory: Path | str) -> list[CorpusCase]:
    """Every case of a corpus folder, sorted by name.

    Raises:
        InvalidInputError: the folder is missing or empty, or any case is broken; one
            problem per broken file, as ``(path: field, reason)``.
    """
    root = Path(directory)
    if not root.is_dir():
        reason = "is not a folder" if root.exists() else "does not exist"
        raise InvalidInputError.one(str(root), reason)
    folders = sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    if not folders:
        raise InvalidInputError.one(
            str(root), "has no case folders (each holds " + ", ".join(CASE_FILES) + ")"
        )
    cases: list[CorpusCase] = []
    problems: list[FieldProblem] = []
    for folder in folders:
        case = _load_case(folder, problems)
        if case is not None:
            cases.append(case)
    if problems:
        raise InvalidInputError(problems)
    return cases


def _load_case(folder: Path, problems: list[FieldProblem]) -> CorpusCase | None:
    paths = {name: folder / name for name in CASE_FILES}
    missing = [path for path in paths.values() if not path.is_file()]
    problems.extend((str(path), "is missing") for path in missing)
    if missing:
        return None
    meeting = _named(problems, paths["meeting.json"], _read_meeting)
    snapshot = _named(problems, paths["crm.json"], load_snapshot)
    if snapshot is None:
        return None
    expected = _named(
        problems,
        paths["expected.json"],
        lambda path: parse_expected(_read(path), snapshot=snapshot, source=str(path)),
    )
    if meeting is None or expected is None:
        return None
    return CorpusCase(name=folder.name, meeting=meeting, snapshot=snapshot, expected=expected)


def _named(problems: list[FieldProblem], path: Path, load: Callable[[Path], T]) -> T | None:
    try:
        result = load(path)
    except InvalidInputError as exc:
        problems.extend((f"{path}: {field}", reason) for field, reason in exc.problems)
        return None
    return result


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInputError.one(
            "(file)", f"cannot be read: {exc.strerror}", source=str(path)
        ) from exc


def _read_meeting(path: Path) -> MeetingIn:
    return parse_meeting(_read(path), source=str(path))


def _deal_pipeline_id(snapshot: CrmSnapshot, deal_id: str | None) -> str | None:
    for deal in snapshot.deals:
        if deal.id == deal_id:
            pipelines = snapshot.deal_pipelines()
            return deal.properties.get("pipeline") or (pipelines[0].id if pipelines else None)
    return None


def _expected_problems(expected: Expected, snapshot: CrmSnapshot) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    deal_ids = [deal.id for deal in snapshot.deals]
    if expected.deal_id is not None and expected.deal_id not in deal_ids:
        problems.append(("deal_id", f"no deal in crm.json has id {expected.deal_id!r}"))
    pipelines = {pipeline.id: pipeline for pipeline in snapshot.deal_pipelines()}
    home = _deal_pipeline_id(snapshot, expected.deal_id)
    for field, value in expected.fields.items():
        where = f"fields.{field}"
        if field not in SCORED_FIELDS:
            problems.append((where, f"is not a scored field ({', '.join(SCORED_FIELDS)})"))
        elif field == "amount" and normalise_amount(value) is None:
            problems.append((where, f"{value!r} is not a number"))
        elif field == "closedate" and normalise_date(value) is None:
            problems.append((where, f"{value!r} is not a date (YYYY-MM-DD or ISO-8601)"))
        elif field == "hs_next_step" and not next_step_tokens(value):
            problems.append((where, f"{value!r} has no words to compare"))
        elif field == "dealstage":
            allowed = pipelines[home].stages if home in pipelines else None
            stage_ids = {s.id for s in allowed or (s for p in pipelines.values() for s in p.stages)}
            if value not in stage_ids:
                scope = f"pipeline {home!r}" if allowed is not None else "any pipeline"
                problems.append((where, f"{value!r} is not a stage id of {scope}"))
    return problems
