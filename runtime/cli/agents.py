"""`crm-agents preview`, `eval` and `calibrate`: run the agent offline on files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer
from rich.progress import Progress

from runtime.agents.calibration_file import CALIBRATION_FILE
from runtime.agents.config import AgentConfig, parse_agent_config
from runtime.agents.evaluation.corpus import CorpusCase, load_corpus
from runtime.agents.evaluation.fitting import CalibrationFit, check_not_holdout, fit_corpus
from runtime.agents.evaluation.runner import (
    GENERIC_CALL_TYPE,
    config_for_call_type,
    evaluate,
)
from runtime.agents.evaluation.scoring import SCORED_FIELDS, CaseScore, EvalReport
from runtime.agents.extraction import Extractor
from runtime.agents.extractors import EXTRACTORS, RulesExtractor
from runtime.agents.extractors import extractor_named as named_extractor
from runtime.agents.preview import preview_meeting
from runtime.agents.results import AgentPreviewResult
from runtime.cli._common import JSON_OPTION, emit, load_settings, run, stderr
from runtime.crm.memory import InMemoryCrm
from runtime.crm.snapshot import load_snapshot
from runtime.errors import InvalidInputError
from runtime.meetings.models import MeetingIn
from runtime.meetings.service import parse_meeting

__all__ = [
    "EXTRACTORS",
    "EXTRACTOR_HELP",
    "calibrate_command",
    "eval_command",
    "extractor_named",
    "preview_command",
]

EXTRACTOR_HELP = (
    "Extractor: rules (offline rule families, the default), baseline (the weak keyword"
    " baseline rules are measured against) or llm (the OpenAI-compatible endpoint of the"
    " CRM_AGENTS_LLM__* settings)."
)
_WIDE = 48


def preview_command(
    meeting_file: Path = typer.Argument(
        ..., metavar="MEETING.json", help="A meeting in the contract's format."
    ),
    crm_file: Path = typer.Option(
        ..., "--crm", metavar="CRM.json", help="The CRM state the agent sees (a snapshot)."
    ),
    config_file: Path | None = typer.Option(
        None,
        "--config",
        metavar="CONFIG.json",
        help="An agent config; default: the built-in template for the meeting's call type.",
    ),
    extractor_name: str = typer.Option("rules", "--extractor", help=EXTRACTOR_HELP),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show what an agent would do with a meeting, without side effects.

    Matches the meeting to a deal of the snapshot, extracts field values with --extractor
    (the built-in offline one by default) and routes each by its confidence. Prints the
    matched deal and the proposed fields (with --json, the API's AgentPreviewResult in
    camelCase). Nothing is written: the snapshot file is only read. Bad files exit with code
    2, naming the field; a failing LLM endpoint or answer exits with code 1.
    """
    extractor = extractor_named(extractor_name)
    meeting = parse_meeting(_read(meeting_file), source=str(meeting_file))
    snapshot = load_snapshot(crm_file)
    notes: list[str] = []
    if config_file is not None:
        config = parse_agent_config(_read(config_file), source=str(config_file))
    else:
        config, meeting, notes = _default_config(meeting)

    async def body() -> AgentPreviewResult:
        crm = InMemoryCrm.from_snapshot(snapshot)
        return await preview_meeting(meeting, crm=crm, config=config, extractor=extractor)

    preview = run(body)
    if notes:
        preview = preview.model_copy(update={"warnings": (*notes, *preview.warnings)})
    emit(preview.model_dump(mode="json", by_alias=True), _preview_text(preview), as_json=as_json)


def eval_command(
    corpus: Path = typer.Argument(
        ...,
        metavar="CORPUS_DIR",
        help="A folder of cases, each with meeting.json, crm.json and expected.json.",
    ),
    threshold: float = typer.Option(
        0.8, "--threshold", help="Auto-apply threshold to score at, between 0 and 1."
    ),
    extractor_name: str = typer.Option("rules", "--extractor", help=EXTRACTOR_HELP),
    as_json: bool = JSON_OPTION,
) -> None:
    """Score the agent's extraction, matching and confidence on an evaluation corpus.

    Runs every case offline (no database; no network unless --extractor llm) with the case's
    call-type template, every scored field managed and review-only off, and each field
    auto-applied at --threshold. Reports per-field precision, recall and F1, record-match
    accuracy, the expected calibration error of field confidences (10 bins), and at the
    threshold the precision and coverage of the updates that would be written without a
    human. With --json, prints one object with the keys cases, per_field, match_accuracy,
    ece, auto_precision, auto_coverage and threshold. A broken case exits with code 2,
    naming the file and the field; a failing LLM endpoint or answer exits with code 1.
    """
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInputError.one("--threshold", f"must be between 0 and 1, not {threshold}")
    extractor = extractor_named(extractor_name)
    cases = load_corpus(corpus)

    async def body() -> EvalReport:
        with Progress(
            console=stderr, transient=True, disable=as_json or not stderr.is_terminal
        ) as progress:
            task = progress.add_task("evaluating", total=len(cases))

            def advance(case: CorpusCase) -> None:
                progress.update(task, advance=1, description=case.name)

            return await evaluate(cases, threshold=threshold, extractor=extractor, progress=advance)

    report = run(body)
    emit(report.model_dump(mode="json"), _report_text(report, extractor.name), as_json=as_json)


def calibrate_command(
    corpora: list[Path] = typer.Argument(
        ...,
        metavar="CORPUS_DIR...",
        help="One or more development corpora, fitted on together (a path naming 'holdout'"
        " is refused).",
    ),
    out: Path = typer.Option(
        CALIBRATION_FILE, "--out", metavar="PATH", help="Where to write the calibration JSON."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Fit the per-field confidence calibration on development corpora and write it.

    Runs the agent like `eval` (rules extractor) with uncalibrated confidences, labels each
    proposal right or wrong with the scorer, fits one isotonic map per field (shrunk towards
    the field's rate of success) and writes it to --out (default: the calibration the agent
    ships with). Fit on meetings the rules were not written against
    (`tests/data/corpus-calibration`): on the corpus the rules were tuned on, they look
    better than they are. Prints the fitted table and the ECE before and after; with --json,
    one object with calibration, samples, ece_before and ece_after. A corpus path containing
    'holdout' exits with code 2: the held-out set is never fitted on.
    """
    for corpus in corpora:
        check_not_holdout(corpus)
    cases = [case for corpus in corpora for case in load_corpus(corpus)]
    extractor = RulesExtractor()
    source = ", ".join(str(corpus) for corpus in corpora)

    async def body() -> CalibrationFit:
        return await fit_corpus(cases, extractor=extractor, source=source)

    result = run(body)
    out.write_text(result.calibration.model_dump_json(indent=2) + "\n", encoding="utf-8")
    emit(result.model_dump(mode="json"), _calibration_text(result, out), as_json=as_json)


def _calibration_text(result: CalibrationFit, out: Path) -> str:
    rows = [("field", "baseline", "calibrated", "samples", "base rate")]
    for field, fitted in result.calibration.fields.items():
        for x, y, n in zip(fitted.confidences, fitted.rates, fitted.counts, strict=True):
            rows.append((field, f"{x:.3f}", f"{y:.3f}", str(n), f"{fitted.base_rate:.3f}"))
    lines = [
        f"{result.samples} proposals, identity weight {result.calibration.identity_weight}",
        "",
    ]
    lines.extend(_table(rows))
    lines += [
        "",
        f"ECE before  {_num(result.ece_before)}",
        f"ECE after   {_num(result.ece_after)}",
        f"written to  {out}",
    ]
    return "\n".join(lines)


def extractor_named(name: str) -> Extractor:
    """The extractor an ``--extractor`` option names; anything else is bad input."""
    try:
        return named_extractor(name, load_settings().llm)
    except ValueError as exc:
        raise InvalidInputError.one("--extractor", str(exc)) from exc


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInputError.one(
            "(file)", f"cannot be read: {exc.strerror}", source=str(path)
        ) from exc


def _default_config(meeting: MeetingIn) -> tuple[AgentConfig, MeetingIn, list[str]]:
    """The template for the meeting's call type, else a generic config (with a warning)."""
    config, is_template = config_for_call_type(meeting.call_type)
    if is_template:
        return config, meeting, []
    if meeting.call_type is None:
        note = "the meeting has no call_type: previewed with a generic config"
        meeting = meeting.model_copy(update={"call_type": GENERIC_CALL_TYPE})
    else:
        note = f"no built-in template for call type {meeting.call_type!r}: generic config"
    return config, meeting, [f"{note} managing {', '.join(SCORED_FIELDS)}"]


def _preview_text(preview: AgentPreviewResult) -> str:
    lines: list[str] = []
    record = preview.matched_record
    if record is None:
        lines.append("No existing deal matched.")
    else:
        name = record.properties.get("dealname")
        title = f"Deal {record.id} {name!r}" if name else f"Deal {record.id}"
        if preview.match_confidence is not None:
            title += f" (match confidence {preview.match_confidence:.2f})"
        lines.append(title)
    if preview.fields_to_update:
        rows = [("field", "current", "new", "conf", "source")]
        rows.extend(
            (
                u.field_name,
                _cut(u.current_value or "-"),
                _cut(u.new_value),
                f"{u.confidence:.2f}",
                _cut(u.source or "-"),
            )
            for u in preview.fields_to_update
        )
        lines.append("")
        lines.extend(_table(rows))
    else:
        lines.append("No field updates proposed.")
    if preview.warnings:
        lines.append("")
        lines.extend(f"warning: {w}" for w in preview.warnings)
    return "\n".join(lines)


def _report_text(report: EvalReport, extractor: str) -> str:
    lines = [
        f"{report.cases} cases, extractor {extractor}, auto-apply threshold {report.threshold}",
        "",
    ]
    rows = [("field", "precision", "recall", "f1", "tp", "fp", "fn")]
    for field, score in report.per_field.items():
        rows.append(
            (
                field,
                _num(score.precision),
                _num(score.recall),
                _num(score.f1),
                str(score.tp),
                str(score.fp),
                str(score.fn),
            )
        )
    lines.extend(_table(rows))
    details = report.details
    matched = sum(s.match_correct for s in details)
    proposals = [p for s in details for p in s.proposals]
    auto = [p for p in proposals if p.auto_applied]
    right = sum(p.correct for p in auto)
    expected = sum(len(s.expected_fields) for s in details)
    lines += [
        "",
        f"record match accuracy  {_num(report.match_accuracy)}  ({matched}/{report.cases})",
        f"calibration error      {_num(report.ece)}  (ECE, 10 bins, {len(proposals)} proposals)",
        f"auto-apply precision   {_num(report.auto_precision)}  "
        f"({right} of {len(auto)} automatic writes right)",
        f"auto-apply coverage    {_num(report.auto_coverage)}  "
        f"({right} of {expected} expected updates written automatically)",
    ]
    lines += _mistakes(details)
    return "\n".join(lines)


def _mistakes(details: tuple[CaseScore, ...]) -> list[str]:
    lines: list[str] = []
    wrong_match = [s for s in details if not s.match_correct]
    if wrong_match:
        lines += ["", "wrong deal:"]
        lines += [
            f"  {s.name}: chose {s.predicted_deal_id or 'none'},"
            f" expected {s.expected_deal_id or 'none'}"
            for s in wrong_match
        ]
    wrong_writes = [
        (s, p) for s in details for p in s.proposals if p.auto_applied and not p.correct
    ]
    if wrong_writes:
        lines += ["", "wrong automatic writes:"]
        for s, p in wrong_writes:
            wanted = s.expected_fields.get(p.field)
            because = f"expected {_cut(wanted)!r}" if wanted is not None else "must not change"
            lines.append(f"  {s.name}: {p.field} = {_cut(p.value)!r} ({because})")
    return lines


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _WIDE else text[: _WIDE - 1] + "…"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
