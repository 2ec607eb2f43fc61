"""RecordMatcher through the real HubSpotClient against the emulator, over loopback HTTP.

The matcher only needs the CRM port: on HubSpot's wire it decides exactly as on the
in-memory CRM holding the same snapshot (``tests/data/crm.json``).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from runtime.agents.matching import RecordMatcher
from runtime.agents.results import MatchResult
from runtime.crm.hubspot import HubSpotClient, PrivateAppToken, RetryPolicy
from runtime.crm.memory import InMemoryCrm
from runtime.crm.snapshot import load_snapshot
from runtime.meetings.models import MeetingIn
from tests.crm_builders import meeting
from tests.hubspot_emulator import TEST_SNAPSHOT, TOKEN, RunningEmulator, running_emulator


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator() as running:
        yield running


@pytest.fixture(scope="module")
def in_memory(emulator: RunningEmulator) -> InMemoryCrm:
    # Made while the emulator's clock still reads its start, so both stamp records alike.
    return InMemoryCrm(load_snapshot(TEST_SNAPSHOT), clock=emulator.clock)


@pytest.fixture
async def client(emulator: RunningEmulator) -> AsyncIterator[HubSpotClient]:
    async with (
        httpx.AsyncClient(timeout=10) as http,
        HubSpotClient(
            PrivateAppToken(TOKEN),
            base_url=emulator.url,
            http=http,
            clock=emulator.clock,
            # Search allows five calls a second: the client waits (on the fake clock) and retries.
            retry=RetryPolicy(rng=random.Random(3)),
        ) as hubspot,
    ):
        yield hubspot


# (meeting, expected deal id or None, expected open candidates, opens an opportunity)
CASES: dict[str, tuple[MeetingIn, str | None, list[str], bool]] = {
    "contact on the deal": (
        meeting(external=[("Dana Ruiz", "dana@acme.example")], call_type="discovery"),
        "301",
        ["301", "302"],
        False,
    ),
    "deal named in the title": (
        meeting(
            external=[("Dana Ruiz", "dana@acme.example")],
            title="Support renewal",
            said=["Lee asked me to go over the renewal quote."],
        ),
        "302",
        ["302", "301"],
        False,
    ),
    "closed deal of the company left out": (
        meeting(external=[("Maria Chen", "maria.chen@globex.example")]),
        "303",
        ["303"],
        False,
    ),
    "new attendee, two deals by domain": (
        meeting(external=[("Kim Ode", "kim@acme.example")], call_type="qbr"),
        "301",
        ["301", "302"],
        False,
    ),
    "only a closed deal, discovery call": (
        meeting(external=[("Peter Gibbons", "peter@initech.example")], call_type="discovery"),
        None,
        [],
        True,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_the_matcher_decides_the_same_through_hubspot_and_in_memory(
    case: str, client: HubSpotClient, in_memory: InMemoryCrm, emulator: RunningEmulator
) -> None:
    meeting_in, deal_id, candidates, opens = CASES[case]
    through_hubspot = await RecordMatcher(client).match(meeting_in)
    offline = await RecordMatcher(in_memory).match(meeting_in)
    assert _summary(through_hubspot) == (deal_id, candidates, opens)
    assert through_hubspot == offline
    assert emulator.write_log() == []  # matching only reads


def _summary(result: MatchResult) -> tuple[str | None, list[str], bool]:
    record_id = None if result.record is None else result.record.id
    return record_id, [c.id for c in result.candidates], result.opens_opportunity
