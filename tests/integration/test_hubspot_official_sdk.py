"""HubSpot's own Python SDK, pointed at the emulator, works as it does against HubSpot."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hubspot import HubSpot
from hubspot.crm.deals import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
)

from runtime.crm.hubspot.emulator import EmulatorConfig
from tests.hubspot_emulator import NO_LATENCY, TOKEN, RunningEmulator, running_emulator


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator(EmulatorConfig(latency=NO_LATENCY, ten_second_limit=5)) as running:
        yield running


def _sdk(emulator: RunningEmulator) -> HubSpot:
    return HubSpot(access_token=TOKEN, host=emulator.url)


def test_the_sdk_reads_searches_and_batch_updates_deals(emulator: RunningEmulator) -> None:
    deals = _sdk(emulator).crm.deals
    deal = deals.basic_api.get_by_id("301", properties=["dealname", "amount"])
    assert deal.properties["dealname"] == "Acme Expansion"

    found = deals.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[Filter(property_name="dealstage", operator="EQ", value="closedwon")]
                )
            ],
            properties=["dealname"],
            limit=10,
        )
    )
    assert [d.id for d in found.results] == ["305"]
    assert found.total == 1

    updated = deals.batch_api.update(
        batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id="301", properties={"amount": "60000"})]
        )
    )
    assert updated.status == "COMPLETE"
    assert updated.results[0].properties["amount"] == "60000"
    assert deals.basic_api.get_by_id("301").properties["amount"] == "60000"


def test_the_sdk_sees_the_emulators_429_as_hubspots(emulator: RunningEmulator) -> None:
    deals = _sdk(emulator).crm.deals
    for _ in range(5):
        deals.basic_api.get_by_id("301")
    with pytest.raises(ApiException) as caught:
        deals.basic_api.get_by_id("301")
    assert caught.value.status == 429
    body = json.loads(caught.value.body)
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["errorType"] == "RATE_LIMIT"
    assert caught.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert caught.value.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
