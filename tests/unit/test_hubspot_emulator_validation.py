"""The emulator refuses the property values HubSpot refuses, with HubSpot's codes (§5)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from runtime.crm.hubspot.emulator.validation import MAX_STRING_CHARS, Problem, validate_write
from runtime.crm.hubspot.standard import (
    DEFAULT_PIPELINE,
    standard_definitions,
    with_pipeline_options,
)
from runtime.crm.port import (
    ObjectType,
    Pipeline,
    PipelineStage,
    PropertyDefinition,
    PropertyOption,
)

RENEWALS = Pipeline(
    id="renewals",
    label="Renewals",
    display_order=1,
    stages=(
        PipelineStage(id="1001", label="Up for renewal", display_order=0, probability=0.5),
        PipelineStage(id="1002", label="Renewed", display_order=1, probability=1.0),
    ),
)
PIPELINES = (DEFAULT_PIPELINE, RENEWALS)
REGIONS = PropertyDefinition(
    name="regions",
    label="Regions",
    type="enumeration",
    field_type="checkbox",
    options=(
        PropertyOption(label="EMEA", value="emea"),
        PropertyOption(label="Americas", value="amer"),
        PropertyOption(label="APAC", value="apac"),
    ),
)
RENEWAL_DATE = PropertyDefinition(
    name="renewal_date", label="Renewal date", type="date", field_type="date"
)
AUTO_RENEW = PropertyDefinition(
    name="auto_renew", label="Auto renew", type="bool", field_type="booleancheckbox"
)


def _definitions(object_type: ObjectType) -> dict[str, PropertyDefinition]:
    found = with_pipeline_options(standard_definitions(object_type), PIPELINES)
    extra = (REGIONS, RENEWAL_DATE, AUTO_RENEW) if object_type == "deals" else ()
    return {d.name: d for d in (*found, *extra)}


def _update(
    values: Mapping[str, str | int | float | bool | None],
    *,
    current: Mapping[str, str] | None = None,
    object_type: ObjectType = "deals",
) -> tuple[dict[str, str], list[Problem]]:
    existing = {"dealname": "Acme", "pipeline": "default", "dealstage": "qualifiedtobuy"}
    return validate_write(
        object_type,
        values,
        definitions=_definitions(object_type),
        pipelines=PIPELINES,
        current=existing if current is None else current,
    )


def _only_problem(values: Mapping[str, str | int | float | bool | None], **kw: object) -> Problem:
    _, problems = _update(values, **kw)  # type: ignore[arg-type]
    assert len(problems) == 1, problems
    return problems[0]


def test_an_unknown_property_does_not_exist() -> None:
    problem = _only_problem({"discount": "10"})
    assert (problem.code, problem.property_name) == ("PROPERTY_DOESNT_EXIST", "discount")
    assert problem.message == 'Property "discount" does not exist'


@pytest.mark.parametrize("name", ["createdate", "hs_lastmodifieddate", "hs_object_id"])
def test_read_only_properties_are_refused(name: str) -> None:
    problem = _only_problem({name: "2026-01-01"})
    assert (problem.code, problem.property_name) == ("READ_ONLY_VALUE", name)


@pytest.mark.parametrize("value", ["abc", "60k", "1,500", "NaN"])
def test_a_number_must_be_a_number(value: str) -> None:
    problem = _only_problem({"amount": value})
    assert problem.code == "INVALID_INTEGER"
    assert problem.message == f"{value} was not a valid number"


def test_numbers_may_come_as_json_numbers_and_are_stored_as_text() -> None:
    stored, problems = _update({"amount": 60000, "hs_priority": "high"})
    assert problems == []
    assert stored == {"amount": "60000", "hs_priority": "high"}


def test_an_owner_id_must_be_numeric() -> None:
    problem = _only_problem({"hubspot_owner_id": "sam"})
    assert problem.code == "INVALID_LONG"
    assert _update({"hubspot_owner_id": "123456"})[1] == []


def test_a_date_in_epoch_ms_must_be_midnight_utc() -> None:
    problem = _only_problem({"renewal_date": "1700000000000"})
    assert problem.code == "INVALID_DATE"
    assert problem.message == "1700000000000 is at 22:13:20.0 UTC, not midnight!"


def test_a_date_may_be_iso_or_midnight_epoch_ms_and_is_stored_as_iso_date() -> None:
    assert _update({"renewal_date": "2026-04-30"})[0] == {"renewal_date": "2026-04-30"}
    assert _update({"renewal_date": "1777507200000"})[0] == {"renewal_date": "2026-04-30"}


def test_a_date_that_is_no_date_is_refused() -> None:
    assert _only_problem({"renewal_date": "next friday"}).code == "INVALID_DATE"


def test_a_datetime_takes_iso_epoch_ms_or_a_date_and_answers_iso() -> None:
    assert _update({"closedate": "2026-04-30"})[0] == {"closedate": "2026-04-30T00:00:00.000Z"}
    assert _update({"closedate": "1777507200000"})[0] == {"closedate": "2026-04-30T00:00:00.000Z"}
    assert _update({"closedate": "2026-04-30T15:30:00+02:00"})[0] == {
        "closedate": "2026-04-30T13:30:00.000Z"
    }
    assert _only_problem({"closedate": "end of April"}).code == "INVALID_DATE"


def test_an_enumeration_value_must_be_an_option_value() -> None:
    problem = _only_problem({"hs_priority": "High"})  # the label, not the value
    assert problem.code == "INVALID_OPTION"
    assert problem.message.startswith("High was not one of the allowed options: [")
    assert 'value: "high"' in problem.message


def test_multi_select_values_are_semicolon_separated_options() -> None:
    assert _update({"regions": "emea;apac"})[0] == {"regions": "emea;apac"}
    problem = _only_problem({"regions": "emea;latam"})
    assert problem.code == "INVALID_OPTION"
    assert problem.message.startswith("latam was not one of the allowed options")


def test_a_leading_semicolon_adds_to_the_current_selection() -> None:
    current = {"pipeline": "default", "dealstage": "qualifiedtobuy", "regions": "emea"}
    stored, problems = _update({"regions": ";apac"}, current=current)
    assert problems == []
    assert stored == {"regions": "emea;apac"}


@pytest.mark.parametrize("value", ["yes", "True", "1"])
def test_a_bool_is_only_true_or_false(value: str) -> None:
    assert _only_problem({"auto_renew": value}).code == "INVALID_BOOLEAN"


def test_json_booleans_are_written_as_true_and_false() -> None:
    assert _update({"auto_renew": True})[0] == {"auto_renew": "true"}


def test_a_string_longer_than_hubspot_allows_is_refused() -> None:
    problem = _only_problem({"description": "x" * (MAX_STRING_CHARS + 1)})
    assert problem.code == "INVALID_STRING_LENGTH"


def test_a_contact_email_must_look_like_one() -> None:
    problem = _only_problem({"email": "dana at acme"}, object_type="contacts", current={})
    assert (problem.code, problem.message) == (
        "INVALID_EMAIL",
        "Email address dana at acme is invalid",
    )


def test_an_empty_string_clears_a_value_whatever_its_type() -> None:
    stored, problems = _update({"amount": "", "closedate": "", "hs_priority": ""})
    assert problems == []
    assert stored == {"amount": "", "closedate": "", "hs_priority": ""}


def test_a_deal_stage_must_belong_to_the_deals_pipeline() -> None:
    problem = _only_problem({"dealstage": "1001"})  # a renewals stage on a default deal
    assert (problem.code, problem.property_name) == ("INVALID_OPTION", "dealstage")
    assert problem.message.startswith("1001 was not one of the allowed options")


def test_the_stage_is_checked_against_the_pipeline_written_with_it() -> None:
    stored, problems = _update({"pipeline": "renewals", "dealstage": "1001"})
    assert problems == []
    assert stored == {"pipeline": "renewals", "dealstage": "1001"}


def test_moving_a_deal_to_another_pipeline_needs_a_stage_of_that_pipeline() -> None:
    problem = _only_problem({"pipeline": "renewals"})  # keeps qualifiedtobuy
    assert (problem.code, problem.property_name) == ("INVALID_OPTION", "dealstage")


def test_an_unknown_pipeline_is_refused() -> None:
    problem = _only_problem({"pipeline": "enterprise", "dealstage": "1001"})
    assert (problem.code, problem.property_name) == ("INVALID_OPTION", "pipeline")


def test_a_new_deal_without_a_pipeline_lands_in_the_default_one() -> None:
    stored, problems = validate_write(
        "deals",
        {"dealname": "New", "dealstage": "appointmentscheduled"},
        definitions=_definitions("deals"),
        pipelines=PIPELINES,
        current=None,
    )
    assert problems == []
    assert stored["pipeline"] == "default"


def test_a_new_deal_needs_a_name_and_a_stage() -> None:
    _, problems = validate_write(
        "deals",
        {"amount": "10"},
        definitions=_definitions("deals"),
        pipelines=PIPELINES,
        current=None,
    )
    assert {(p.code, p.property_name) for p in problems} == {
        ("REQUIRED_PROPERTY", "dealname"),
        ("REQUIRED_PROPERTY", "dealstage"),
    }


def test_a_new_company_needs_a_name_or_a_domain() -> None:
    definitions = _definitions("companies")
    _, problems = validate_write(
        "companies", {"city": "Austin"}, definitions=definitions, pipelines=PIPELINES, current=None
    )
    assert [p.code for p in problems] == ["REQUIRED_PROPERTY"]
    _, problems = validate_write(
        "companies",
        {"domain": "acme.example"},
        definitions=definitions,
        pipelines=PIPELINES,
        current=None,
    )
    assert problems == []


def test_every_problem_of_a_write_is_reported_at_once() -> None:
    _, problems = _update({"amount": "lots", "hs_priority": "urgent", "nope": "1"})
    assert sorted(p.code for p in problems) == [
        "INVALID_INTEGER",
        "INVALID_OPTION",
        "PROPERTY_DOESNT_EXIST",
    ]
