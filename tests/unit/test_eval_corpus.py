"""Loading an evaluation corpus: good cases load, every broken file is named with its field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runtime.agents.evaluation.corpus import CASE_FILES, load_corpus
from runtime.errors import InvalidInputError
from tests.corpus_cases import DATA, write_case
from tests.meetings import example_meeting

CORPUS = DATA / "corpus"


def problems_of(root: Path) -> dict[str, str]:
    with pytest.raises(InvalidInputError) as raised:
        load_corpus(root)
    return dict(raised.value.problems)


def test_cases_load_sorted_by_name_and_stray_files_are_ignored(tmp_path: Path) -> None:
    write_case(tmp_path, "case-010")
    write_case(tmp_path, "case-002", expected={"deal_id": None})
    (tmp_path / "README.md").write_text("not a case")
    (tmp_path / ".hidden").mkdir()
    cases = load_corpus(tmp_path)
    assert [c.name for c in cases] == ["case-002", "case-010"]
    assert cases[0].expected.deal_id is None
    assert cases[0].expected.fields == {}
    assert cases[1].expected.fields == {"amount": "60000"}
    assert cases[1].meeting.external_id == "zoom-88123"
    assert [d.id for d in cases[1].snapshot.deals][:2] == ["301", "302"]


def test_stage_labels_and_ids_resolve_to_the_id(tmp_path: Path) -> None:
    write_case(tmp_path, "case-001")
    stages = load_corpus(tmp_path)[0].stage_ids()
    assert stages["contract sent"] == "contractsent"
    assert stages["contractsent"] == "contractsent"


def test_every_broken_file_is_named_with_its_field(tmp_path: Path) -> None:
    write_case(tmp_path, "case-001")
    write_case(tmp_path, "case-002", skip="expected.json")
    write_case(tmp_path, "case-003", meeting=example_meeting(started_at=None))
    write_case(tmp_path, "case-004", crm="{not json")
    write_case(
        tmp_path,
        "case-005",
        expected={
            "deal_id": "999",
            "fields": {
                "colour": "red",
                "amount": "sixty thousand",
                "closedate": "end of April",
                "dealstage": "won",
                "hs_next_step": "to the",
            },
        },
    )
    write_case(tmp_path, "case-006", expected={"fields": {}, "extra": 1})
    write_case(tmp_path, "case-007", expected=["not", "an", "object"])
    found = problems_of(tmp_path)
    assert found == {
        f"{tmp_path}/case-002/expected.json": "is missing",
        f"{tmp_path}/case-003/meeting.json: started_at": "is required",
        f"{tmp_path}/case-004/crm.json: (file)": found[f"{tmp_path}/case-004/crm.json: (file)"],
        f"{tmp_path}/case-005/expected.json: deal_id": "no deal in crm.json has id '999'",
        f"{tmp_path}/case-005/expected.json: fields.colour": (
            "is not a scored field (dealstage, amount, closedate, hs_next_step)"
        ),
        f"{tmp_path}/case-005/expected.json: fields.amount": "'sixty thousand' is not a number",
        f"{tmp_path}/case-005/expected.json: fields.closedate": (
            "'end of April' is not a date (YYYY-MM-DD or ISO-8601)"
        ),
        f"{tmp_path}/case-005/expected.json: fields.dealstage": (
            "'won' is not a stage id of any pipeline"
        ),
        f"{tmp_path}/case-005/expected.json: fields.hs_next_step": (
            "'to the' has no words to compare"
        ),
        f"{tmp_path}/case-006/expected.json: deal_id": "is required",
        f"{tmp_path}/case-006/expected.json: extra": "is not a known field",
        f"{tmp_path}/case-007/expected.json: (file)": "must be a JSON object, not list",
    }
    assert found[f"{tmp_path}/case-004/crm.json: (file)"].startswith("is not JSON")


def test_a_stage_must_belong_to_the_expected_deals_pipeline(tmp_path: Path) -> None:
    crm = json.loads((DATA / "crm.json").read_text())
    crm["pipelines"]["deals"].append(
        {"id": "renewals", "label": "Renewals", "stages": [{"id": "renewed", "label": "Renewed"}]}
    )
    expected = {"deal_id": "301", "fields": {"dealstage": "renewed"}}
    write_case(tmp_path, "case-001", crm=crm, expected=expected)
    assert problems_of(tmp_path) == {
        f"{tmp_path}/case-001/expected.json: fields.dealstage": (
            "'renewed' is not a stage id of pipeline 'default'"
        )
    }


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda root: root / "absent", "does not exist"),
        (lambda root: root, "has no case folders (each holds " + ", ".join(CASE_FILES) + ")"),
    ],
    ids=["missing folder", "empty folder"],
)
def test_a_folder_without_cases_is_refused(tmp_path: Path, make: Any, reason: str) -> None:
    root = make(tmp_path)
    assert problems_of(root) == {str(root): reason}


def test_every_case_of_the_development_corpus_loads() -> None:
    folders = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
    cases = load_corpus(CORPUS)
    assert [c.name for c in cases] == folders
    assert len(cases) >= 60
    assert any(c.expected.deal_id is None for c in cases)


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("corpus-calibration", 40),
        ("corpus-holdout", 20),
        ("corpus-holdout-2", 30),
        ("corpus-holdout-3", 30),
    ],
)
def test_every_case_of_the_blind_corpora_loads(name: str, size: int) -> None:
    # Only that they are well-formed: their contents are for fitting the calibration and
    # measuring, never for writing rules against.
    folder = CORPUS.parent / name
    cases = load_corpus(folder)
    assert len(cases) >= size
    assert [c.name for c in cases] == sorted(p.name for p in folder.iterdir() if p.is_dir())
