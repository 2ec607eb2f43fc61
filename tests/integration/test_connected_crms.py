"""Each workspace's CRM from its stored connection: cached, audited, following changes."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from runtime.clock import SystemClock
from runtime.connections.cipher import KeyRing
from runtime.connections.service import connect_private_token, disconnect
from runtime.crm.hubspot.emulator import EmulatorConfig
from runtime.runs.crm_source import ConnectedCrms
from runtime.runs.executor import NoCrmConnectionError
from runtime.settings import HubSpotSettings
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo
from tests.hubspot_emulator import NO_LATENCY, TOKEN, RunningEmulator, running_emulator

KEYS = KeyRing([("k", os.urandom(32))])


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator(EmulatorConfig(tokens=(TOKEN,), latency=NO_LATENCY)) as running:
        yield running


@pytest.fixture
async def crms(pool: asyncpg.Pool) -> AsyncIterator[ConnectedCrms]:
    source = ConnectedCrms(pool, KEYS, HubSpotSettings(max_retries=0), clock=SystemClock())
    yield source
    await source.aclose()


async def _workspace(pool: asyncpg.Pool) -> uuid.UUID:
    created = await WorkspaceRepo(pool).create(WorkspaceCreate(name=f"w-{uuid.uuid4().hex[:6]}"))
    return created.id


async def test_a_connected_workspace_reads_through_one_cache_and_audits_real_calls(
    pool: asyncpg.Pool, crms: ConnectedCrms, emulator: RunningEmulator
) -> None:
    workspace = await _workspace(pool)
    await connect_private_token(pool, KEYS, workspace, token=TOKEN, base_url=emulator.url)

    crm = await crms.for_workspace(workspace)
    first = await crm.port.pipelines("deals")
    again = await (await crms.for_workspace(workspace)).port.pipelines("deals")

    assert first == again
    assert first[0].id == "default"
    assert (await crms.for_workspace(workspace)) is crm  # same client, same cache
    audited = crm.audit.drain()
    assert [e.action for e in audited] == ["crm.pipelines"]  # the second read was a cache hit
    assert {e.workspace_id for e in audited} == {workspace}


async def test_a_reconnected_workspace_gets_a_new_client_and_a_revoked_one_none(
    pool: asyncpg.Pool, crms: ConnectedCrms, emulator: RunningEmulator
) -> None:
    workspace = await _workspace(pool)
    await connect_private_token(pool, KEYS, workspace, token=TOKEN, base_url=emulator.url)
    before = await crms.for_workspace(workspace)

    await connect_private_token(pool, KEYS, workspace, token=TOKEN, base_url=emulator.url)
    after = await crms.for_workspace(workspace)
    assert after is not before
    assert (await after.port.pipelines("deals"))[0].id == "default"

    await disconnect(pool, workspace)
    with pytest.raises(NoCrmConnectionError, match="crm-agents crm connect"):
        await crms.for_workspace(workspace)


async def test_a_workspace_never_connected_has_no_crm(
    pool: asyncpg.Pool, crms: ConnectedCrms
) -> None:
    with pytest.raises(NoCrmConnectionError):
        await crms.for_workspace(await _workspace(pool))
