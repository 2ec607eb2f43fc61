"""HubSpotClient batch operations: 100 inputs per request, merged results, 207 failures.

HubSpot is played by ``httpx.MockTransport`` handlers answering in the shapes of
reference/hubspot.md; the behaviour against a full HubSpot is proven with the emulator.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from runtime.crm.errors import CrmValidationError
from runtime.crm.port import AssociationInput, RecordCreate, RecordUpdate
from tests.hubspot_fakes import Recorder, record


async def test_batch_read_sends_ids_and_reports_unknown_ones_per_input(connect):
    answer = {
        "status": "COMPLETE",
        "results": [record("1", dealname="A")],
        "numErrors": 1,
        "errors": [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": "Could not get some DEAL objects, they may be deleted or not exist.",
                "context": {"ids": ["999"]},
            }
        ],
        "startedAt": "2026-01-01T00:00:00Z",
        "completedAt": "2026-01-01T00:00:01Z",
    }
    hubspot = Recorder(lambda _: httpx.Response(207, json=answer))
    client = connect(hubspot)

    result = await client.batch_read("deals", ["1", "999"], properties=["dealname"])

    assert hubspot.requests[0].url.path == "/crm/v3/objects/deals/batch/read"
    assert hubspot.bodies[0] == {
        "properties": ["dealname"],
        "propertiesWithHistory": [],
        "inputs": [{"id": "1"}, {"id": "999"}],
    }
    assert [r.properties["dealname"] for r in result.results] == ["A"]
    (error,) = result.errors
    assert (error.category, error.ids) == ("OBJECT_NOT_FOUND", ("999",))


async def test_batch_create_sends_associations_and_trace_ids_and_keeps_207_failures(connect):
    answer = {
        "status": "COMPLETE",
        "results": [record("11", dealname="Good")],
        "numErrors": 1,
        "errors": [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": 'Property "amount" was not a valid number',
                "context": {"objectWriteTraceId": ["t-2"], "propertyName": ["amount"]},
                "errors": [{"code": "INVALID_INTEGER", "message": "not a number"}],
            }
        ],
    }
    hubspot = Recorder(lambda _: httpx.Response(207, json=answer))
    client = connect(hubspot)
    contact = AssociationInput(to_object_type="contacts", to_id="201", association_type_id=3)

    result = await client.batch_create(
        "deals",
        [
            RecordCreate(properties={"dealname": "Good"}, associations=(contact,), trace_id="t-1"),
            RecordCreate(properties={"dealname": "Bad", "amount": "x"}, trace_id="t-2"),
        ],
    )

    assert hubspot.requests[0].url.path == "/crm/v3/objects/deals/batch/create"
    assert hubspot.bodies[0] == {
        "inputs": [
            {
                "properties": {"dealname": "Good"},
                "associations": [
                    {
                        "to": {"id": "201"},
                        "types": [
                            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}
                        ],
                    }
                ],
                "objectWriteTraceId": "t-1",
            },
            {
                "properties": {"dealname": "Bad", "amount": "x"},
                "associations": [],
                "objectWriteTraceId": "t-2",
            },
        ]
    }
    assert [r.id for r in result.results] == ["11"]
    (error,) = result.errors
    assert error.trace_ids == ("t-2",)
    assert error.property_names == ("amount",)
    assert (error.category, error.code) == ("VALIDATION_ERROR", "INVALID_INTEGER")


async def test_batch_update_of_250_inputs_goes_out_as_100_100_50_and_merges(connect):
    def answer(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        results = [record(i["id"], **i["properties"]) for i in inputs if i["id"] != "77"]
        body: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if len(results) < len(inputs):
            body["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "gone",
                    "context": {"ids": ["77"]},
                }
            ]
        return httpx.Response(207 if "errors" in body else 200, json=body)

    hubspot = Recorder(answer)
    client = connect(hubspot)
    updates = [
        RecordUpdate(id=str(n), properties={"dealstage": "closedwon"}, trace_id=f"t{n}")
        for n in range(250)
    ]

    result = await client.batch_update("deals", updates)

    assert [len(b["inputs"]) for b in hubspot.bodies] == [100, 100, 50]
    assert {r.url.path for r in hubspot.requests} == {"/crm/v3/objects/deals/batch/update"}
    assert hubspot.bodies[2]["inputs"][0] == {
        "id": "200",
        "properties": {"dealstage": "closedwon"},
        "objectWriteTraceId": "t200",
    }
    assert [r.id for r in result.results] == [str(n) for n in range(250) if n != 77]
    assert [e.ids for e in result.errors] == [("77",)]


async def test_a_later_batch_refused_whole_reports_unconfirmed_inputs_instead_of_raising(connect):
    def answer(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        if inputs[0]["id"] == "100":
            body = {
                "status": "error",
                "message": "Property values were not valid",
                "category": "VALIDATION_ERROR",
            }
            return httpx.Response(400, json=body)
        return httpx.Response(
            200, json={"status": "COMPLETE", "results": [record(i["id"]) for i in inputs]}
        )

    hubspot = Recorder(answer)
    client = connect(hubspot)
    updates = [RecordUpdate(id=str(n), properties={"amount": "1"}) for n in range(250)]

    result = await client.batch_update("deals", updates)

    # The first 100 were written; the second request was refused, the third never sent.
    assert len(hubspot.requests) == 2
    assert len(result.results) == 100
    codes = [(e.ids[0], e.code) for e in result.errors]
    assert codes[0] == ("100", "REFUSED")
    assert codes[-1] == ("249", "NOT_SENT")
    assert len(codes) == 150


async def test_a_first_batch_refused_whole_raises_because_nothing_was_written(connect):
    body = {
        "status": "error",
        "message": "Property values were not valid",
        "correlationId": "c-1",
        "category": "VALIDATION_ERROR",
        "errors": [
            {
                "message": 'Property "x" does not exist',
                "code": "PROPERTY_DOESNT_EXIST",
                "context": {"propertyName": ["x"]},
            }
        ],
    }
    hubspot = Recorder(lambda _: httpx.Response(400, json=body))
    client = connect(hubspot)

    with pytest.raises(CrmValidationError) as caught:
        await client.batch_update(
            "deals", [RecordUpdate(id=str(n), properties={"x": "1"}) for n in range(150)]
        )

    assert len(hubspot.requests) == 1
    (problem,) = caught.value.problems
    assert (problem.code, problem.property_names) == ("PROPERTY_DOESNT_EXIST", ("x",))


async def test_a_later_create_batch_lost_without_an_answer_is_reported_unknown_not_resent(connect):
    def answer(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        if inputs[0]["objectWriteTraceId"] == "t100":
            return httpx.Response(504, json={"status": "error", "message": "gateway timeout"})
        results = [record(str(n)) for n in range(len(inputs))]
        return httpx.Response(201, json={"status": "COMPLETE", "results": results})

    hubspot = Recorder(answer)
    client = connect(hubspot)
    creates = [RecordCreate(properties={"dealname": f"d{n}"}, trace_id=f"t{n}") for n in range(150)]

    result = await client.batch_create("deals", creates)

    # The second request may have created its records: it is neither resent nor called failed.
    assert len(hubspot.requests) == 2
    assert len(result.results) == 100
    assert {e.code for e in result.errors} == {"OUTCOME_UNKNOWN"}
    assert [e.trace_ids for e in result.errors] == [(f"t{n}",) for n in range(100, 150)]
