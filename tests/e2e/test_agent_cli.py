"""`crm-agents preview` and `crm-agents eval` as a user runs them: offline, on files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli import crm_agents
from tests.corpus_cases import DATA, write_case
from tests.meetings import example_meeting

CORPUS_CASE = DATA / "corpus" / "case-001"
REPORT_KEYS = {
    "cases",
    "per_field",
    "match_accuracy",
    "ece",
    "auto_precision",
    "auto_coverage",
    "threshold",
}
SCORED = {"dealstage", "amount", "closedate", "hs_next_step"}
NO_ENV: dict[str, str] = {}


def globex_meeting() -> dict[str, Any]:
    """A negotiation with Globex: only deal 303 is open for them in tests/data/crm.json."""
    return example_meeting(
        external_id="zoom-90001",
        title="Negotiation - Globex Platform",
        call_type="negotiation",
        attendees=[
            {"name": "Sam Lee", "email": "sam@ourco.example", "internal": True},
            {"name": "Hank Scorpio", "email": "hank@globex.example", "internal": False},
        ],
        transcript=[
            {"speaker": "Sam Lee", "start_s": 5.0, "text": "Thanks for joining, Hank."},
            {
                "speaker": "Hank Scorpio",
                "start_s": 9.0,
                "text": "We agreed on $150,000 for the platform. We will sign the contract by"
                " April 30, 2026.",
            },
            {
                "speaker": "Sam Lee",
                "start_s": 30.0,
                "text": "Great. Next step: I'll send the order form to Maria by Friday.",
            },
        ],
        notes=None,
    )


@pytest.fixture
def case(tmp_path: Path) -> Path:
    return write_case(
        tmp_path / "corpus",
        "case-001",
        meeting=globex_meeting(),
        expected={"deal_id": "303", "fields": {"amount": "150000", "closedate": "2026-04-30"}},
    )


def test_preview_prints_the_seeds_preview_result_in_camel_case(case: Path) -> None:
    crm_before = (case / "crm.json").read_bytes()
    result = crm_agents(
        "preview", str(case / "meeting.json"), "--crm", str(case / "crm.json"), "--json", env=NO_ENV
    )
    assert result.returncode == 0, result.stderr
    preview = json.loads(result.stdout)
    assert set(preview) == {"matchedRecord", "matchConfidence", "fieldsToUpdate", "warnings"}
    assert preview["matchedRecord"]["id"] == "303"
    assert 0.0 < preview["matchConfidence"] <= 1.0
    updates = {u["fieldName"]: u for u in preview["fieldsToUpdate"]}
    assert set(next(iter(updates.values()))) == {
        "fieldName",
        "currentValue",
        "newValue",
        "confidence",
        "source",
    }
    assert updates["amount"]["currentValue"] == "120000"
    assert updates["amount"]["newValue"] == "150000"
    assert updates["closedate"]["newValue"] == "2026-04-30"
    assert (case / "crm.json").read_bytes() == crm_before  # no side effects


def test_preview_reads_as_a_table_without_json(case: Path) -> None:
    result = crm_agents(
        "preview", str(case / "meeting.json"), "--crm", str(case / "crm.json"), env=NO_ENV
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Deal 303 'Globex Platform' (match confidence ")
    assert "amount" in result.stdout
    assert "150000" in result.stdout


def test_preview_takes_a_config(case: Path, tmp_path: Path) -> None:
    config = {"call_types": ["negotiation"], "fields": {"amount": {}}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = crm_agents(
        "preview",
        str(case / "meeting.json"),
        "--crm",
        str(case / "crm.json"),
        "--config",
        str(tmp_path / "config.json"),
        "--json",
        env=NO_ENV,
    )
    assert result.returncode == 0, result.stderr
    assert [u["fieldName"] for u in json.loads(result.stdout)["fieldsToUpdate"]] == ["amount"]


def test_preview_of_a_call_type_without_template_warns_and_uses_a_generic_config(
    tmp_path: Path,
) -> None:
    case = write_case(tmp_path, "case", meeting={**globex_meeting(), "call_type": "intro"})
    result = crm_agents(
        "preview", str(case / "meeting.json"), "--crm", str(case / "crm.json"), "--json", env=NO_ENV
    )
    assert result.returncode == 0, result.stderr
    preview = json.loads(result.stdout)
    assert preview["warnings"][0].startswith("no built-in template for call type 'intro'")
    assert "amount" in {u["fieldName"] for u in preview["fieldsToUpdate"]}


def test_preview_of_a_corpus_case_finds_its_deal() -> None:
    result = crm_agents(
        "preview",
        str(CORPUS_CASE / "meeting.json"),
        "--crm",
        str(CORPUS_CASE / "crm.json"),
        "--json",
        env=NO_ENV,
    )
    assert result.returncode == 0, result.stderr
    expected = json.loads((CORPUS_CASE / "expected.json").read_text())
    assert json.loads(result.stdout)["matchedRecord"]["id"] == expected["deal_id"]


def test_eval_json_has_exactly_the_contract_keys(case: Path) -> None:
    write_case(case.parent, "case-002", expected={"deal_id": "301", "fields": {}})
    result = crm_agents("eval", str(case.parent), "--threshold", "0.5", "--json", env=NO_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress bar off a terminal
    report = json.loads(result.stdout)
    assert set(report) == REPORT_KEYS
    assert report["cases"] == 2
    assert report["threshold"] == 0.5
    assert set(report["per_field"]) == SCORED
    for score in report["per_field"].values():
        assert set(score) == {"precision", "recall", "f1", "tp", "fp", "fn"}
    assert report["per_field"]["amount"]["tp"] == 1
    assert report["per_field"]["closedate"]["tp"] == 1


def test_eval_reads_as_a_report_without_json(case: Path) -> None:
    result = crm_agents("eval", str(case.parent), env=NO_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 cases, extractor rules, auto-apply threshold 0.8")
    assert "record match accuracy  1.000  (1/1)" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--threshold", "1.5"), "error: --threshold: must be between 0 and 1, not 1.5"),
        (("--threshold", "-0.1"), "error: --threshold: must be between 0 and 1, not -0.1"),
        (("--extractor", "gpt"), "error: --extractor: 'gpt' is not one of rules, baseline, llm"),
    ],
)
def test_eval_refuses_bad_options_with_exit_code_2(
    case: Path, args: tuple[str, ...], message: str
) -> None:
    result = crm_agents("eval", str(case.parent), *args, env=NO_ENV)
    assert result.returncode == 2
    assert message in result.stderr


def test_eval_names_the_broken_file_and_field(case: Path) -> None:
    write_case(case.parent, "case-002", meeting=example_meeting(started_at="soon"))
    (case.parent / "case-003").mkdir()
    result = crm_agents("eval", str(case.parent), "--json", env=NO_ENV)
    assert result.returncode == 2
    assert result.stdout == ""
    root = case.parent
    assert f"error: {root}/case-002/meeting.json: started_at: 'soon' is not" in result.stderr
    assert f"error: {root}/case-003/meeting.json: is missing" in result.stderr


def test_eval_of_a_missing_folder_exits_2(tmp_path: Path) -> None:
    result = crm_agents("eval", str(tmp_path / "nowhere"), env=NO_ENV)
    assert result.returncode == 2
    assert f"error: {tmp_path}/nowhere: does not exist" in result.stderr


@pytest.mark.parametrize(
    ("file", "payload", "message"),
    [
        ("meeting.json", example_meeting(started_at=None), "meeting.json: started_at: is required"),
        ("crm.json", {"deals": [{"id": "abc"}]}, "crm.json: deals[0].id: 'abc' is not a numeric"),
        (
            "config.json",
            {"call_types": ["demo"], "fields": {"amount": {"auto_apply_threshold": 2}}},
            "config.json: fields.amount.auto_apply_threshold: Input should be less than",
        ),
        ("config.json", "{", "config.json: (file): is not JSON"),
    ],
)
def test_preview_refuses_bad_files_with_exit_code_2(
    tmp_path: Path, file: str, payload: Any, message: str
) -> None:
    case = write_case(tmp_path, "case", meeting=globex_meeting())
    (case / "config.json").write_text(
        json.dumps({"call_types": ["negotiation"], "fields": {"amount": {}}})
    )
    (case / file).write_text(payload if isinstance(payload, str) else json.dumps(payload))
    result = crm_agents(
        "preview",
        str(case / "meeting.json"),
        "--crm",
        str(case / "crm.json"),
        "--config",
        str(case / "config.json"),
        env=NO_ENV,
    )
    assert result.returncode == 2, result.stderr
    assert f"error: {case}/{message}" in result.stderr
    assert result.stdout == ""


def test_preview_names_a_file_it_cannot_read(tmp_path: Path) -> None:
    case = write_case(tmp_path, "case", meeting=globex_meeting())
    result = crm_agents(
        "preview", str(case / "meeting.json"), "--crm", str(tmp_path / "none.json"), env=NO_ENV
    )
    assert result.returncode == 2
    assert f"error: {tmp_path}/none.json: (file): cannot be read" in result.stderr


def test_calibrate_fits_writes_and_reports(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "calibration.json"
    result = crm_agents("calibrate", str(case.parent), "--out", str(out), "--json", env=NO_ENV)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"calibration", "samples", "ece_before", "ece_after"} <= set(report)
    assert json.loads(out.read_text()) == report["calibration"]


def test_calibrate_fits_several_corpora_together(case: Path, tmp_path: Path) -> None:
    one = crm_agents(
        "calibrate", str(case.parent), "--out", str(tmp_path / "1.json"), "--json", env=NO_ENV
    )
    two = crm_agents(
        "calibrate",
        str(case.parent),
        str(case.parent),
        "--out",
        str(tmp_path / "2.json"),
        "--json",
        env=NO_ENV,
    )
    assert one.returncode == two.returncode == 0, two.stderr
    assert json.loads(two.stdout)["samples"] == 2 * json.loads(one.stdout)["samples"] > 0


def test_calibrate_refuses_the_held_out_corpus(case: Path, tmp_path: Path) -> None:
    holdout = tmp_path / "corpus-holdout"
    write_case(holdout, "case-h01", meeting=globex_meeting())
    result = crm_agents(
        "calibrate", str(case.parent), str(holdout), "--out", str(tmp_path / "c.json"), env=NO_ENV
    )
    assert result.returncode == 2
    assert "holdout" in result.stderr
    assert not (tmp_path / "c.json").exists()
