"""crm.json loads into port models; a bad one is refused naming file, field and reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runtime.crm.hubspot.standard import DEFAULT_PIPELINE
from runtime.crm.snapshot import load_snapshot, parse_snapshot
from runtime.errors import InvalidInputError

DATA = Path(__file__).resolve().parents[1] / "data" / "crm.json"


def _problems(raw: dict[str, Any] | str) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInputError) as refused:
        parse_snapshot(raw if isinstance(raw, str) else json.dumps(raw), source="crm.json")
    assert refused.value.source == "crm.json"
    return list(refused.value.problems)


def test_the_test_snapshot_loads_with_its_pipeline_stages() -> None:
    snapshot = load_snapshot(DATA)
    assert [len(snapshot.companies), len(snapshot.contacts), len(snapshot.deals)] == [3, 5, 5]
    (pipeline,) = snapshot.deal_pipelines()
    closed = {stage.id for stage in pipeline.stages if stage.is_closed}
    assert closed == {"closedwon", "closedlost"}
    assert pipeline.stages[3].probability == pytest.approx(0.8)


def test_without_pipelines_hubspots_default_pipeline_applies() -> None:
    assert parse_snapshot("{}").deal_pipelines() == (DEFAULT_PIPELINE,)


def test_definitions_are_hubspots_standard_ones_with_pipeline_options() -> None:
    definitions = {d.name: d for d in load_snapshot(DATA).property_definitions("deals")}
    assert definitions["amount"].type == "number"
    assert definitions["closedate"].type == "datetime"
    assert "contractsent" in {o.value for o in definitions["dealstage"].options}
    assert definitions["hs_object_id"].read_only


def test_the_snapshots_own_definitions_replace_and_extend_the_standard_ones() -> None:
    snapshot = parse_snapshot(
        {
            "properties": {
                "deals": [
                    {
                        "name": "amount",
                        "label": "ARR",
                        "type": "string",
                        "fieldType": "text",
                        "groupName": "dealinformation",
                    },
                    {
                        "name": "tier",
                        "type": "enumeration",
                        "fieldType": "select",
                        "options": [{"label": "Gold", "value": "gold"}],
                    },
                ]
            }
        }
    )
    definitions = {d.name: d for d in snapshot.property_definitions("deals")}
    assert (definitions["amount"].label, definitions["amount"].type) == ("ARR", "string")
    assert [o.value for o in definitions["tier"].options] == ["gold"]
    assert "dealname" in definitions


def test_not_json_names_the_position() -> None:
    assert _problems('{"deals": [') == [
        ("(file)", "is not JSON: Expecting value at line 1 column 12")
    ]


def test_an_unknown_top_level_key_is_refused() -> None:
    assert _problems({"tickets": []}) == [("tickets", "is not a known field")]


def test_ids_must_be_numeric_strings() -> None:
    (problem,) = _problems({"deals": [{"id": 301}]})
    assert problem[0] == "deals[0].id"
    (problem,) = _problems({"deals": [{"id": "acme-1"}]})
    assert problem == (
        "deals[0].id",
        "'acme-1' is not a numeric string like \"301\" (HubSpot ids are)",
    )


def test_property_values_must_be_strings() -> None:
    (problem,) = _problems({"deals": [{"id": "1", "properties": {"amount": 20000}}]})
    assert problem == ("deals[0].properties.amount", "Input should be a valid string")


def test_an_association_must_point_at_a_record_of_the_snapshot() -> None:
    raw = {"contacts": [{"id": "201", "associations": {"companies": ["101"]}}]}
    assert _problems(raw) == [
        ("contacts[0].associations.companies[0]", "no companies record has id '101'")
    ]


def test_a_deal_stage_must_be_a_stage_of_its_pipeline() -> None:
    raw = {"deals": [{"id": "301", "properties": {"dealstage": "won"}}]}
    assert _problems(raw) == [
        ("deals[0].properties.dealstage", "'won' is not a stage of pipeline 'default'")
    ]


def test_a_deal_pipeline_must_exist() -> None:
    raw = {"deals": [{"id": "301", "properties": {"pipeline": "enterprise"}}]}
    ((field, reason),) = _problems(raw)
    assert field == "deals[0].properties.pipeline"
    assert reason.startswith("'enterprise' is not a pipeline id")


def test_a_duplicate_id_is_refused() -> None:
    assert _problems({"companies": [{"id": "1"}, {"id": "1"}]}) == [
        ("companies[1].id", "'1' appears twice")
    ]


def test_a_stage_probability_must_be_between_zero_and_one() -> None:
    raw = {
        "pipelines": {
            "deals": [
                {
                    "id": "p",
                    "label": "P",
                    "stages": [{"id": "s", "label": "S", "probability": "1.5"}],
                }
            ]
        }
    }
    ((field, _),) = _problems(raw)
    assert field == "pipelines.deals[0].stages[0].probability"


def test_a_missing_file_is_bad_input_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(InvalidInputError) as refused:
        load_snapshot(missing)
    assert str(refused.value) == f"{missing}: (file): cannot be read: No such file or directory"
