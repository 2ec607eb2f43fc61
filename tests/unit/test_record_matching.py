"""RecordMatcher: which open deal a meeting is about, and how sure it is (on InMemoryCrm)."""

from __future__ import annotations

from typing import Any

import httpx

from runtime.agents.config import AgentConfig
from runtime.agents.matching import RecordMatcher
from runtime.agents.results import MatchResult
from runtime.clock import FakeClock
from runtime.crm.hubspot import HubSpotClient, PrivateAppToken
from runtime.crm.hubspot.emulator import EmulatorConfig, LatencyConfig, create_app
from runtime.crm.memory import InMemoryCrm
from runtime.crm.snapshot import load_snapshot
from runtime.meetings.models import MeetingIn
from tests.crm_builders import company, contact, deal, meeting, snapshot
from tests.hubspot_emulator import TEST_SNAPSHOT, TOKEN

THRESHOLD = AgentConfig(call_types=("discovery",), fields={"amount": {}}).min_match_confidence
DANA = ("Dana Ruiz", "dana@acme.example")
LEE = ("Lee Park", "lee@acme.example")
NEWCOMER = ("Kim Ode", "kim@acme.example")
ACME = company("101", "Acme Corp", "acme.example")
ACME_PEOPLE = [
    contact("201", DANA[1], DANA[0], companies=["101"]),
    contact("202", LEE[1], LEE[0], companies=["101"]),
]


async def match(meeting_in: MeetingIn, **crm: Any) -> MatchResult:
    crm_port = InMemoryCrm(snapshot(**crm), clock=FakeClock())
    return await RecordMatcher(crm_port).match(meeting_in)


def ids(result: MatchResult) -> list[str]:
    return [record.id for record in result.candidates]


async def test_one_open_deal_of_an_attending_contact_is_a_confident_match() -> None:
    result = await match(
        meeting(external=[DANA]),
        companies=[ACME],
        contacts=ACME_PEOPLE,
        deals=[deal("301", "Acme Expansion", companies=["101"], contacts=["201"])],
    )
    assert result.record is not None
    assert result.record.id == "301"
    assert result.confidence >= 0.9
    assert ids(result) == ["301"]
    assert "Dana Ruiz attended" in result.reason
    assert not result.opens_opportunity
    # The matched record carries what extraction compares against.
    assert result.record.properties["dealstage"] == "qualifiedtobuy"


async def test_the_only_open_deal_of_the_contacts_company_is_a_bit_less_sure() -> None:
    result = await match(
        meeting(external=[LEE]),
        companies=[ACME],
        contacts=ACME_PEOPLE,
        deals=[deal("301", "Acme Expansion", companies=["101"], contacts=["201"])],
    )
    assert result.record is not None
    assert result.record.id == "301"
    assert THRESHOLD <= result.confidence < 0.9
    assert "Acme Corp" in result.reason


async def test_an_unknown_attendee_is_matched_through_the_company_domain() -> None:
    result = await match(
        meeting(external=[NEWCOMER]),
        companies=[ACME],
        contacts=ACME_PEOPLE,
        deals=[deal("301", "Acme Expansion", companies=["101"])],
    )
    assert result.record is not None
    assert result.record.id == "301"
    assert THRESHOLD <= result.confidence < 0.9
    assert "acme.example" in result.reason


async def test_a_contact_without_a_company_still_finds_it_by_domain() -> None:
    result = await match(
        meeting(external=[DANA]),
        companies=[ACME],
        contacts=[contact("201", DANA[1], DANA[0])],
        deals=[deal("301", "Acme Expansion", companies=["101"])],
    )
    assert result.record is not None
    assert result.record.id == "301"


async def test_a_subdomain_address_finds_the_company_of_the_parent_domain() -> None:
    result = await match(
        meeting(external=[("Ines Vo", "ines@eu.acme.example")]),
        companies=[ACME],
        deals=[deal("301", "Acme Expansion", companies=["101"])],
    )
    assert result.record is not None
    assert result.record.id == "301"


async def test_an_attendee_without_an_email_is_looked_up_by_name_unless_two_bear_it() -> None:
    crm: dict[str, Any] = {
        "companies": [ACME],
        "contacts": ACME_PEOPLE,
        "deals": [deal("301", "Acme Expansion", companies=["101"], contacts=["201"])],
    }
    found = await match(meeting(external=[("Dr. dana RUIZ", None)]), **crm)
    assert found.record is not None
    assert found.record.id == "301"
    assert found.confidence >= 0.9
    namesake = contact("203", "dana.ruiz@other.example", "Dana Ruiz")
    crm["contacts"] = [*ACME_PEOPLE, namesake]
    unsure = await match(meeting(external=[("Dana Ruiz", None)]), **crm)
    assert unsure.record is None
    assert "Dana Ruiz" in unsure.reason


async def test_internal_people_and_the_owners_domain_are_never_looked_up() -> None:
    crm: dict[str, Any] = {
        "companies": [company("109", "OurCo", "ourco.example")],
        "contacts": [contact("209", "sam@ourco.example", "Sam Lee", companies=["109"])],
        "deals": [deal("309", "OurCo internal", companies=["109"], contacts=["209"])],
    }
    # The rep is a contact on a deal of their own company; a colleague is mislabelled external.
    result = await match(
        meeting(external=[("Jo Colleague", "jo@ourco.example")], call_type="discovery"), **crm
    )
    assert result.record is None
    assert result.confidence == 0.0
    assert not result.opens_opportunity
    assert "No external attendee" in result.reason


async def test_closed_deals_are_never_candidates() -> None:
    result = await match(
        meeting(external=[DANA], title="Acme Expansion follow-up"),
        companies=[ACME],
        contacts=ACME_PEOPLE,
        deals=[
            deal("300", "Acme Expansion", "closedwon", companies=["101"], contacts=["201"]),
            deal("301", "Acme Support", "closedlost", companies=["101"], contacts=["201"]),
            deal("302", "Acme Seats", companies=["101"]),
        ],
    )
    assert result.record is not None
    assert result.record.id == "302"
    assert ids(result) == ["302"]


async def test_only_closed_deals_is_no_match_and_the_reason_says_so() -> None:
    result = await match(
        meeting(external=[DANA], call_type="check_in"),
        companies=[ACME],
        contacts=ACME_PEOPLE,
        deals=[deal("300", "Acme Expansion", "closedwon", companies=["101"], contacts=["201"])],
    )
    assert (result.record, result.confidence, result.candidates) == (None, 0.0, ())
    assert not result.opens_opportunity
    assert "all closed" in result.reason
    assert "Acme Expansion" in result.reason


async def test_a_stage_the_pipeline_marks_closed_is_closed_whatever_its_id() -> None:
    pipelines = {
        "deals": [
            {
                "id": "default",
                "label": "Sales",
                "stages": [
                    {"id": "1", "label": "Talking", "probability": "0.3"},
                    {"id": "2", "label": "Signed", "probability": "1.0"},
                    {"id": "3", "label": "Parked", "isClosed": True, "probability": "0.1"},
                ],
            }
        ]
    }
    result = await match(
        meeting(external=[DANA]),
        pipelines=pipelines,
        companies=[ACME],
        contacts=ACME_PEOPLE,
        deals=[
            deal("301", "Acme Expansion", "2", companies=["101"], contacts=["201"]),
            deal("302", "Acme Seats", "3", companies=["101"], contacts=["201"]),
            deal("303", "Acme Support", "1", companies=["101"]),
        ],
    )
    assert ids(result) == ["303"]


TWO_ACME_DEALS = [
    deal("301", "Acme Analytics", companies=["101"], contacts=["201"]),
    deal("302", "Acme Payroll", companies=["101"], contacts=["201"]),
]


async def test_product_words_in_the_transcript_pick_the_deal() -> None:
    said = [
        "How are the analytics dashboards landing with your team?",
        "The analytics rollout is what matters; finance wants the analytics exports too.",
    ]
    result = await match(
        meeting(external=[DANA], said=said),
        companies=[ACME],
        contacts=ACME_PEOPLE,
        deals=TWO_ACME_DEALS,
    )
    assert ids(result) == ["301", "302"]
    assert result.confidence >= THRESHOLD
    assert "'analytics'" in result.reason


async def test_the_deal_name_in_the_title_picks_the_deal() -> None:
    result = await match(
        meeting(external=[DANA], title="Payroll pricing review"),
        companies=[ACME],
        contacts=ACME_PEOPLE,
        deals=TWO_ACME_DEALS,
    )
    assert ids(result) == ["302", "301"]
    assert result.confidence >= THRESHOLD


async def test_the_attending_contact_picks_the_deal() -> None:
    result = await match(
        meeting(external=[LEE], said=["Let's go over where things stand."]),
        companies=[ACME],
        contacts=ACME_PEOPLE,
        deals=[
            deal("301", "Acme Expansion", companies=["101"], contacts=["201"]),
            deal("302", "Acme Renewal", companies=["101"], contacts=["202"]),
        ],
    )
    assert ids(result) == ["302", "301"]
    assert result.confidence >= THRESHOLD
    assert "Lee Park attended" in result.reason


async def test_words_outweigh_a_bare_attendance() -> None:
    # Dana is on the expansion deal, but the call is plainly about the support renewal.
    result = await match(
        meeting(external=[DANA], title="Support renewal", call_type="renewal"),
        companies=[ACME],
        contacts=ACME_PEOPLE,
        deals=[
            deal("301", "Acme Expansion", companies=["101"], contacts=["201"]),
            deal("302", "Acme Support Renewal", companies=["101"], contacts=["202"]),
        ],
    )
    assert ids(result) == ["302", "301"]
    assert result.confidence >= THRESHOLD


async def test_truly_ambiguous_is_low_confidence_with_every_candidate() -> None:
    result = await match(
        meeting(external=[DANA], said=["Thanks for your time today."]),
        companies=[ACME],
        contacts=ACME_PEOPLE,
        deals=[
            *TWO_ACME_DEALS,
            deal("303", "Acme Seats", "closedwon", companies=["101"], contacts=["201"]),
        ],
    )
    assert result.confidence < THRESHOLD
    assert result.confidence == 0.5  # two equal candidates: a coin flip
    assert ids(result) == ["301", "302"]
    assert result.record == result.candidates[0]
    assert "fit equally well" in result.reason
    assert not result.opens_opportunity


async def test_a_weak_lead_stays_under_the_threshold() -> None:
    result = await match(
        meeting(external=[DANA], said=["Payroll came up once."]),
        companies=[ACME],
        contacts=ACME_PEOPLE,
        deals=TWO_ACME_DEALS,
    )
    assert ids(result) == ["302", "301"]
    assert 0.5 < result.confidence < THRESHOLD


async def test_new_project_language_doubts_the_only_deal_when_it_is_not_named() -> None:
    crm: dict[str, Any] = {
        "companies": [ACME],
        "contacts": ACME_PEOPLE,
        "deals": [deal("301", "Acme Expansion", companies=["101"], contacts=["201"])],
    }
    new = await match(
        meeting(external=[DANA], said=["We have a new project in logistics to discuss."]), **crm
    )
    assert new.record is not None
    assert new.confidence < THRESHOLD
    assert "new project" in new.reason
    named = await match(
        meeting(external=[DANA], said=["A new project: the expansion into logistics."]), **crm
    )
    assert named.confidence >= 0.9


async def test_a_discovery_call_with_an_unknown_company_opens_an_opportunity() -> None:
    result = await match(
        meeting(external=[("Ann Bo", "ann@newco.example")], call_type="discovery"),
        companies=[ACME],
        contacts=ACME_PEOPLE,
        deals=TWO_ACME_DEALS,
    )
    assert (result.record, result.confidence, result.candidates) == (None, 0.0, ())
    assert result.opens_opportunity
    assert "ann@newco.example" in result.reason
    assert "discovery" in result.reason


async def test_a_new_deal_is_linked_to_the_attendees_company_and_contacts() -> None:
    # Newco and Ann are in the CRM, without a deal: a create is proposed, and the writer
    # links the new deal to them (runtime.writes.outcome.associations_in).
    newco = company("105", "Newco", "newco.example")
    ann = contact("205", "ann@newco.example", "Ann Bo", companies=["105"])
    result = await match(
        meeting(external=[("Ann Bo", "ann@newco.example")], call_type="discovery"),
        companies=[ACME, newco],
        contacts=[*ACME_PEOPLE, ann],
        deals=TWO_ACME_DEALS,
    )
    assert result.record is None
    assert result.opens_opportunity
    assert (result.company_id, result.contact_ids) == ("105", ("205",))
    by_domain = await match(
        meeting(external=[("Bo Ann", "bo@newco.example")], call_type="discovery"),
        companies=[ACME, newco],
    )
    assert (by_domain.company_id, by_domain.contact_ids) == ("105", ())


async def test_new_project_language_opens_an_opportunity_whatever_the_call_type() -> None:
    result = await match(
        meeting(
            external=[("Ann Bo", "ann@newco.example")],
            call_type="check_in",
            notes="They are evaluating tools for a new initiative in Q3.",
        ),
    )
    assert result.opens_opportunity


async def test_an_unmatched_renewal_call_does_not_open_an_opportunity() -> None:
    result = await match(
        meeting(external=[("Ann Bo", "ann@newco.example")], call_type="renewal"),
        companies=[ACME],
    )
    assert (result.record, result.confidence) == (None, 0.0)
    assert not result.opens_opportunity
    assert result.reason.startswith("No contact or company in the CRM matches")


async def test_a_free_mail_address_is_not_taken_for_a_company() -> None:
    result = await match(
        meeting(external=[("Max Roe", "max.roe@gmail.com")], call_type="check_in"),
        companies=[company("150", "Gmail fans", "gmail.com")],
        deals=[deal("350", "Fan club", companies=["150"])],
    )
    assert result.record is None


async def test_the_same_meeting_matches_the_same_way_whatever_the_snapshot_order() -> None:
    meeting_in = meeting(external=[DANA, LEE])
    forward = await match(meeting_in, companies=[ACME], contacts=ACME_PEOPLE, deals=TWO_ACME_DEALS)
    backward = await match(
        meeting_in,
        companies=[ACME],
        contacts=ACME_PEOPLE[::-1],
        deals=TWO_ACME_DEALS[::-1],
    )
    assert forward == backward


async def test_the_matcher_only_needs_the_port_so_it_runs_on_hubspots_client_too() -> None:
    # The real client and the real emulator app, joined in-process (no socket, so a unit
    # test); tests/integration/test_record_matching_hubspot.py does it over loopback HTTP.
    clock = FakeClock()
    app = create_app(
        EmulatorConfig(latency=LatencyConfig(scale=0.0)),
        snapshot=load_snapshot(TEST_SNAPSHOT),
        clock=clock,
    )
    meeting_in = meeting(external=[LEE], title="Support renewal")
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http,
        HubSpotClient(
            PrivateAppToken(TOKEN), base_url="http://hubspot.test", http=http, clock=clock
        ) as client,
    ):
        through_hubspot = await RecordMatcher(client).match(meeting_in)
    offline = await RecordMatcher(InMemoryCrm(load_snapshot(TEST_SNAPSHOT), clock=clock)).match(
        meeting_in
    )
    assert through_hubspot.record is not None
    assert through_hubspot.record.id == "302"
    assert through_hubspot == offline
