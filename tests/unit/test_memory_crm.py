"""InMemoryCrm: the CRM port over a snapshot, answering and refusing as the emulator does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runtime.clock import FakeClock
from runtime.crm.errors import CrmError, CrmNotFoundError, CrmValidationError
from runtime.crm.memory import InMemoryCrm
from runtime.crm.port import (
    AssociationInput,
    CrmPort,
    Filter,
    FilterGroup,
    RecordCreate,
    RecordUpdate,
    SearchRequest,
    Sort,
)
from tests.crm_builders import company, contact, deal, snapshot

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def acme_crm() -> InMemoryCrm:
    return InMemoryCrm.from_snapshot(
        snapshot(
            companies=[company("101", "Acme Corp", "acme.example"), company("102", "Globex")],
            contacts=[
                contact("201", "dana@acme.example", "Dana Ruiz", companies=["101"]),
                contact("202", "lee@acme.example", "Lee Park", companies=["101"]),
            ],
            deals=[
                deal("301", "Acme Expansion", companies=["101"], contacts=["201"], amount="20000"),
                deal("302", "Acme Renewal", "contractsent", companies=["101"], contacts=["202"]),
                deal("303", "Globex Platform", "closedlost", companies=["102"]),
            ],
            properties={"deals": [{"name": "region", "type": "string", "fieldType": "text"}]},
        ),
        clock=FakeClock(START),
    )


def equals(name: str, value: str) -> SearchRequest:
    return SearchRequest(
        filter_groups=(
            FilterGroup(filters=(Filter(property_name=name, operator="EQ", value=value),)),
        )
    )


def test_it_is_a_crm_port() -> None:
    port: CrmPort = acme_crm()
    assert "deals" in repr(port)


async def test_get_returns_default_or_asked_properties_and_associations() -> None:
    crm = acme_crm()
    default = await crm.get("deals", "301")
    assert default.properties["dealname"] == "Acme Expansion"
    assert default.properties["amount"] == "20000"
    assert "hs_next_step" not in default.properties
    asked = await crm.get(
        "deals",
        "301",
        properties=["hs_next_step", "amount"],
        associations=["contacts", "companies"],
    )
    # Asked-for properties without a value are null, as HubSpot answers them.
    assert asked.properties["hs_next_step"] is None
    assert asked.properties["hs_object_id"] == "301"
    assert asked.associations == {"contacts": ("201",), "companies": ("101",)}
    assert asked.created_at == START


async def test_get_of_an_unknown_id_raises_not_found() -> None:
    with pytest.raises(CrmNotFoundError) as raised:
        await acme_crm().get("deals", "999")
    assert raised.value.category == "OBJECT_NOT_FOUND"
    assert "deals/999" in str(raised.value)


async def test_list_pages_in_id_order_with_a_cursor() -> None:
    crm = acme_crm()
    first = await crm.list_page("deals", limit=2)
    assert [r.id for r in first.results] == ["301", "302"]
    assert first.next_after == "303"
    second = await crm.list_page("deals", limit=2, after=first.next_after)
    assert [r.id for r in second.results] == ["303"]
    assert second.next_after is None
    with pytest.raises(ValueError, match="limit"):
        await crm.list_page("deals", limit=101)


async def test_search_matches_emails_case_insensitively_and_association_pseudo_properties() -> None:
    crm = acme_crm()
    by_email = await crm.search("contacts", equals("email", "DANA@acme.example"))
    assert [r.id for r in by_email.results] == ["201"]
    assert by_email.total == 1
    of_acme = await crm.search(
        "deals",
        SearchRequest(
            filter_groups=(
                FilterGroup(
                    filters=(
                        Filter(property_name="associations.company", operator="EQ", value="101"),
                    )
                ),
            ),
            sorts=(Sort(property_name="dealname", direction="DESCENDING"),),
            properties=("dealname",),
        ),
    )
    assert [r.id for r in of_acme.results] == ["302", "301"]
    with_contact = await crm.search("deals", equals("associations.contact", "202"))
    assert [r.id for r in with_contact.results] == ["302"]


async def test_search_pages_and_refuses_what_hubspot_refuses() -> None:
    crm = acme_crm()
    page = await crm.search("deals", SearchRequest(limit=2))
    assert (len(page.results), page.total, page.next_after) == (2, 3, "2")
    too_many = SearchRequest(
        filter_groups=tuple(
            FilterGroup(filters=(Filter(property_name="dealname", operator="HAS_PROPERTY"),))
            for _ in range(6)
        )
    )
    with pytest.raises(CrmValidationError, match="Too many filter groups"):
        await crm.search("deals", too_many)


async def test_batch_read_reports_unknown_ids_as_one_not_found_error() -> None:
    answer = await acme_crm().batch_read("deals", ["302", "998", "301", "999"])
    assert [r.id for r in answer.results] == ["302", "301"]
    (error,) = answer.errors
    assert (error.category, error.ids) == ("OBJECT_NOT_FOUND", ("998", "999"))


async def test_batch_create_validates_associates_and_logs() -> None:
    crm = acme_crm()
    created = await crm.batch_create(
        "deals",
        [
            RecordCreate(
                properties={"dealname": "Acme Pilot", "dealstage": "appointmentscheduled"},
                associations=(
                    AssociationInput(
                        to_object_type="companies", to_id="101", association_type_id=341
                    ),
                ),
            )
        ],
    )
    (record,) = created.results
    assert record.properties["pipeline"] == "default"  # HubSpot's default pipeline
    assert record.created_at == START
    assert await crm.associated_ids("companies", "101", "deals") == ["301", "302", record.id]
    assert [(e.operation, e.id) for e in crm.write_log()] == [("create", record.id)]
    crm.reset()
    assert crm.write_log() == []
    with pytest.raises(CrmNotFoundError):
        await crm.get("deals", record.id)


async def test_one_bad_input_refuses_the_whole_untraced_batch() -> None:
    crm = acme_crm()
    inputs = [
        RecordCreate(properties={"dealname": "Good", "dealstage": "qualifiedtobuy"}),
        RecordCreate(properties={"dealname": "Bad", "dealstage": "nosuchstage"}),
    ]
    with pytest.raises(CrmValidationError) as raised:
        await crm.batch_create("deals", inputs)
    assert [p.property_names for p in raised.value.problems] == [("dealstage",)]
    assert crm.write_log() == []


async def test_traced_inputs_fail_alone() -> None:
    crm = acme_crm()
    inputs = [
        RecordCreate(properties={"dealname": "Good", "dealstage": "qualifiedtobuy"}, trace_id="a"),
        RecordCreate(properties={"dealname": "Bad", "amount": "lots"}, trace_id="b"),
    ]
    answer = await crm.batch_create("deals", inputs)
    assert [r.properties["dealname"] for r in answer.results] == ["Good"]
    (error,) = answer.errors
    assert error.trace_ids == ("b",)
    assert set(error.property_names) == {"amount", "dealstage"}  # bad number; stage required


async def test_a_taken_unique_email_is_a_conflict() -> None:
    with pytest.raises(CrmError) as raised:
        await acme_crm().batch_create(
            "contacts", [RecordCreate(properties={"email": "Dana@Acme.example"})]
        )
    assert (raised.value.status, raised.value.category) == (409, "CONFLICT")
    assert "201" in str(raised.value)


async def test_batch_update_applies_and_reports_unknown_ids_after_the_rest() -> None:
    crm = acme_crm()
    answer = await crm.batch_update(
        "deals",
        [
            RecordUpdate(id="301", properties={"amount": "60000", "closedate": "2026-04-30"}),
            RecordUpdate(id="999", properties={"amount": "1"}),
        ],
    )
    (record,) = answer.results
    assert record.properties["amount"] == "60000"
    assert answer.errors[0].ids == ("999",)
    stored = await crm.get("deals", "301", properties=["amount", "closedate"])
    assert stored.properties["amount"] == "60000"
    assert stored.properties["closedate"] == "2026-04-30T00:00:00.000Z"  # datetime, as HubSpot
    with pytest.raises(CrmValidationError, match="Duplicate IDs"):
        await crm.batch_update(
            "deals", [RecordUpdate(id="301", properties={}), RecordUpdate(id="301", properties={})]
        )


async def test_an_update_to_a_stage_of_no_pipeline_is_refused_and_changes_nothing() -> None:
    crm = acme_crm()
    with pytest.raises(CrmValidationError):
        await crm.batch_update("deals", [RecordUpdate(id="301", properties={"dealstage": "won"})])
    assert (await crm.get("deals", "301")).properties["dealstage"] == "qualifiedtobuy"


async def test_definitions_are_the_standard_ones_with_the_snapshots_own() -> None:
    crm = acme_crm()
    definitions = {d.name: d for d in await crm.property_definitions("deals")}
    assert definitions["region"].type == "string"
    assert definitions["amount"].type == "number"
    assert "closedwon" in {o.value for o in definitions["dealstage"].options}
    contacts = {d.name for d in await crm.property_definitions("contacts")}
    assert {"email", "firstname", "lastname"} <= contacts


async def test_pipelines_come_from_the_snapshot_or_hubspots_default() -> None:
    (default,) = await acme_crm().pipelines()
    assert default.id == "default"
    assert {s.id for s in default.stages if s.is_closed} == {"closedwon", "closedlost"}
    custom = InMemoryCrm(
        snapshot(
            pipelines={
                "deals": [
                    {
                        "id": "renewals",
                        "label": "Renewals",
                        "stages": [
                            {"id": "2", "label": "Lost", "displayOrder": 1, "isClosed": True},
                            {"id": "1", "label": "Open", "displayOrder": 0},
                        ],
                    }
                ]
            }
        )
    )
    (pipeline,) = await custom.pipelines("deals")
    assert [(s.id, s.is_closed) for s in pipeline.stages] == [("1", False), ("2", True)]
    with pytest.raises(CrmNotFoundError):
        await custom.pipelines("contacts")


async def test_an_empty_crm_answers_empty() -> None:
    crm = InMemoryCrm()
    assert (await crm.list_page("companies")).results == ()
    assert (await crm.search("contacts", equals("email", "x@y.example"))).total == 0
    assert await crm.associated_ids("contacts", "1", "companies") == []
