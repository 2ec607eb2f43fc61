"""The HubSpot emulator's edges over real HTTP: auth, OAuth, rate limits, latency, faults,
the hold switch, dropped connections, the write log, and the CLI serving it
(reference §1, §6)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from runtime.crm.hubspot.emulator import EmulatorConfig, FaultShares, LatencyConfig
from tests.hubspot_emulator import (
    NO_LATENCY,
    TEST_SNAPSHOT,
    TOKEN,
    RunningEmulator,
    running_emulator,
)

RATE_HEADERS = (
    "x-hubspot-ratelimit-daily",
    "x-hubspot-ratelimit-daily-remaining",
    "x-hubspot-ratelimit-interval-milliseconds",
    "x-hubspot-ratelimit-max",
    "x-hubspot-ratelimit-remaining",
)
REDIRECT_URI = "http://localhost:3000/oauth/callback"


@pytest.fixture
def hub() -> Iterator[RunningEmulator]:
    with running_emulator() as emulator:
        yield emulator


def _config(**changes: Any) -> EmulatorConfig:
    return EmulatorConfig(latency=NO_LATENCY, **changes)


def _is_uuid(value: Any) -> bool:
    return bool(str(uuid.UUID(str(value))) == value)


def _rate_headers(answer: httpx.Response) -> dict[str, str]:
    return {name: answer.headers[name] for name in RATE_HEADERS if name in answer.headers}


# Authentication ---------------------------------------------------------------------------


def test_a_call_without_a_token_is_401_invalid_authentication(hub: RunningEmulator) -> None:
    with hub.client(token=None) as anonymous:
        answer = anonymous.get("/crm/v3/objects/deals/301")
    assert answer.status_code == 401
    body = answer.json()
    assert (body["status"], body["category"]) == ("error", "INVALID_AUTHENTICATION")
    assert body["message"].startswith("Authentication credentials not found.")
    assert _is_uuid(body["correlationId"])
    assert _rate_headers(answer) == {}


def test_only_private_app_tokens_are_accepted_by_default(hub: RunningEmulator) -> None:
    with hub.client(token="not-a-pat") as stranger:
        answer = stranger.get("/crm/v3/objects/deals/301")
    assert answer.status_code == 401
    assert answer.json()["category"] == "INVALID_AUTHENTICATION"


def test_listed_tokens_restrict_who_may_call() -> None:
    with (
        running_emulator(_config(tokens=("pat-allowed",))) as hub,
        hub.client(token="pat-allowed") as allowed,
        hub.client(token="pat-other") as other,
    ):
        assert allowed.get("/crm/v3/objects/deals/301").status_code == 200
        assert other.get("/crm/v3/objects/deals/301").status_code == 401


def test_emulator_endpoints_need_no_token(hub: RunningEmulator) -> None:
    assert httpx.get(f"{hub.url}/_emulator/health").json() == {"status": "ok"}


# OAuth ------------------------------------------------------------------------------------


def _authorize(hub: RunningEmulator, **params: str) -> httpx.Response:
    query = {
        "client_id": "emulator-client-id",
        "scope": "oauth crm.objects.deals.read",
        "redirect_uri": REDIRECT_URI,
        **params,
    }
    return httpx.get(f"{hub.url}/oauth/authorize", params=query, follow_redirects=False)


def _code(hub: RunningEmulator) -> str:
    location = _authorize(hub).headers["location"]
    return parse_qs(urlsplit(location).query)["code"][0]


def _token(hub: RunningEmulator, **form: str) -> httpx.Response:
    base = {"client_id": "emulator-client-id", "client_secret": "emulator-client-secret"}
    return httpx.post(f"{hub.url}/oauth/v1/token", data={**base, **form})


def _exchange(hub: RunningEmulator, code: str, redirect_uri: str = REDIRECT_URI) -> httpx.Response:
    return _token(hub, grant_type="authorization_code", code=code, redirect_uri=redirect_uri)


def test_authorize_redirects_back_with_a_code_and_the_state(hub: RunningEmulator) -> None:
    answer = _authorize(hub, state="xyz-123")
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["xyz-123"]
    assert query["code"][0]


def test_a_code_buys_tokens_that_call_the_api(hub: RunningEmulator) -> None:
    answer = _exchange(hub, _code(hub))
    assert answer.status_code == 200
    grant = answer.json()
    assert set(grant) == {"token_type", "refresh_token", "access_token", "expires_in"}
    assert (grant["token_type"], grant["expires_in"]) == ("bearer", 1800)
    with hub.client(token=grant["access_token"]) as api:
        called = api.get("/crm/v3/objects/deals/301")
    assert called.status_code == 200
    # reference §6: OAuth answers carry no Daily-Remaining.
    assert "x-hubspot-ratelimit-daily" in called.headers
    assert "x-hubspot-ratelimit-daily-remaining" not in called.headers


def test_a_code_works_once(hub: RunningEmulator) -> None:
    code = _code(hub)
    assert _exchange(hub, code).status_code == 200
    again = _exchange(hub, code)
    assert again.status_code == 400
    assert (again.json()["error"], again.json()["status"]) == ("invalid_grant", "BAD_AUTH_CODE")


def test_the_redirect_uri_must_match_the_authorization(hub: RunningEmulator) -> None:
    answer = _exchange(hub, _code(hub), redirect_uri="http://evil.example/cb")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_invalid_client(hub: RunningEmulator) -> None:
    answer = _token(
        hub,
        grant_type="authorization_code",
        code=_code(hub),
        redirect_uri=REDIRECT_URI,
        client_secret="guess",
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_client"


def test_refresh_issues_a_new_access_token_until_revoked(hub: RunningEmulator) -> None:
    grant = _exchange(hub, _code(hub)).json()
    refreshed = _token(hub, grant_type="refresh_token", refresh_token=grant["refresh_token"])
    assert refreshed.status_code == 200
    assert refreshed.json()["access_token"] != grant["access_token"]
    assert refreshed.json()["refresh_token"] == grant["refresh_token"]
    revoke = httpx.delete(f"{hub.url}/oauth/v1/refresh-tokens/{grant['refresh_token']}")
    assert revoke.status_code == 204
    refused = _token(hub, grant_type="refresh_token", refresh_token=grant["refresh_token"])
    assert refused.status_code == 400
    body = refused.json()
    assert {k: body[k] for k in ("error", "error_description", "status", "message")} == {
        "error": "invalid_grant",
        "error_description": "refresh token is invalid, expired or revoked",
        "status": "BAD_REFRESH_TOKEN",
        "message": "refresh token is invalid, expired or revoked",
    }


def test_access_token_metadata(hub: RunningEmulator) -> None:
    grant = _exchange(hub, _code(hub)).json()
    hub.clock.advance(100)
    meta = httpx.get(f"{hub.url}/oauth/v1/access-tokens/{grant['access_token']}").json()
    assert meta["expires_in"] == 1700
    assert meta["scopes"] == ["oauth", "crm.objects.deals.read"]
    assert meta["token_type"] == "access"
    assert httpx.get(f"{hub.url}/oauth/v1/access-tokens/unknown").status_code == 404


def test_an_expired_access_token_is_401_expired_authentication(hub: RunningEmulator) -> None:
    grant = _exchange(hub, _code(hub)).json()
    hub.clock.advance(1800 + 5)
    with hub.client(token=grant["access_token"]) as api:
        answer = api.get("/crm/v3/objects/deals/301")
    assert answer.status_code == 401
    body = answer.json()
    assert body["category"] == "EXPIRED_AUTHENTICATION"
    assert body["message"] == "The OAuth token used to make this call expired 5 second(s) ago."
    assert _is_uuid(body["correlationId"])


def test_all_tokens_of_the_oauth_app_share_its_window() -> None:
    with running_emulator(_config(ten_second_limit=2)) as hub:
        first = _exchange(hub, _code(hub)).json()["access_token"]
        second = _exchange(hub, _code(hub)).json()["access_token"]
        with hub.client(token=first) as one, hub.client(token=second) as two:
            assert one.get("/crm/v3/objects/deals/301").status_code == 200
            assert two.get("/crm/v3/objects/deals/301").status_code == 200
            assert one.get("/crm/v3/objects/deals/301").status_code == 429


# Rate limits ------------------------------------------------------------------------------


def test_a_burst_over_the_ten_second_window_is_429_until_it_rolls() -> None:
    with (
        running_emulator(_config(ten_second_limit=3, daily_limit=1000)) as hub,
        hub.client() as api,
        hub.client(token="pat-na1-other-app") as other,
    ):
        answers = [api.get("/crm/v3/objects/deals/301") for _ in range(3)]
        assert [a.headers["x-hubspot-ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
        assert _rate_headers(answers[0]) == {
            "x-hubspot-ratelimit-daily": "1000",
            "x-hubspot-ratelimit-daily-remaining": "999",
            "x-hubspot-ratelimit-interval-milliseconds": "10000",
            "x-hubspot-ratelimit-max": "3",
            "x-hubspot-ratelimit-remaining": "2",
        }
        refused = api.get("/crm/v3/objects/deals/301")
        assert refused.status_code == 429
        body = refused.json()
        assert {k: body[k] for k in ("status", "message", "errorType", "policyName")} == {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "policyName": "TEN_SECONDLY_ROLLING",
        }
        assert _is_uuid(body["correlationId"])
        assert _is_uuid(body["requestId"])
        assert refused.headers["x-hubspot-ratelimit-remaining"] == "0"
        assert "retry-after" not in refused.headers
        # Another token is another app, with its own window.
        assert other.get("/crm/v3/objects/deals/301").status_code == 200
        hub.clock.advance(10)
        assert api.get("/crm/v3/objects/deals/301").status_code == 200


def test_calls_refused_with_429_do_not_count() -> None:
    with running_emulator(_config(ten_second_limit=2)) as hub, hub.client() as api:
        api.get("/crm/v3/objects/deals/301")
        api.get("/crm/v3/objects/deals/301")
        hub.clock.advance(5)
        assert [api.get("/crm/v3/objects/deals/301").status_code for _ in range(3)] == [429] * 3
        hub.clock.advance(5)
        answer = api.get("/crm/v3/objects/deals/301")
        assert answer.status_code == 200
        assert answer.headers["x-hubspot-ratelimit-remaining"] == "1"
        assert answer.headers["x-hubspot-ratelimit-daily-remaining"] == str(1_000_000 - 3)


def test_the_daily_limit_is_per_account_and_resets_the_next_day() -> None:
    with (
        running_emulator(_config(daily_limit=3)) as hub,
        hub.client() as one,
        hub.client(token="pat-na1-second-app") as two,
    ):
        assert [c.get("/crm/v3/objects/deals/301").status_code for c in (one, two, one)] == [
            200
        ] * 3
        refused = two.get("/crm/v3/objects/deals/301")
        assert refused.status_code == 429
        assert refused.json()["message"] == "You have reached your daily limit."
        assert refused.json()["policyName"] == "DAILY"
        hub.clock.advance(24 * 3600)
        answer = two.get("/crm/v3/objects/deals/301")
        assert answer.status_code == 200
        assert answer.headers["x-hubspot-ratelimit-daily-remaining"] == "2"


def test_the_day_ends_at_midnight_in_the_accounts_time_zone() -> None:
    # The fake clock starts at 2026-01-01T00:00Z, which is 19:00 on Dec 31 in New York.
    config = _config(daily_limit=1, account_timezone="America/New_York")
    with running_emulator(config) as hub, hub.client() as api:
        assert api.get("/crm/v3/objects/deals/301").status_code == 200
        hub.clock.advance(4 * 3600)
        assert api.get("/crm/v3/objects/deals/301").status_code == 429
        hub.clock.advance(3600)
        assert api.get("/crm/v3/objects/deals/301").status_code == 200


def test_an_unknown_time_zone_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="not an IANA time zone name"):
        EmulatorConfig(account_timezone="Mars/Olympus_Mons")


def test_search_is_limited_per_second_without_rate_limit_headers(hub: RunningEmulator) -> None:
    with hub.client() as api:
        answers = [api.post("/crm/v3/objects/deals/search", json={}) for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        body = answers[-1].json()
        assert body["message"] == "You have reached your secondly limit."
        assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "SECONDLY")
        assert all(_rate_headers(a) == {} for a in answers)
        # Search has its own budget: other calls still go through.
        assert api.get("/crm/v3/objects/deals/301").status_code == 200
        hub.clock.advance(1)
        assert api.post("/crm/v3/objects/deals/search", json={}).status_code == 200


# Latency ----------------------------------------------------------------------------------


def test_latency_waits_on_the_injected_clock_longer_for_batch_writes() -> None:
    config = EmulatorConfig(latency=LatencyConfig(), seed=7)
    with running_emulator(config) as hub, hub.client() as api:
        before = hub.clock.monotonic_s()
        api.get("/crm/v3/objects/deals/301")
        read_s = hub.clock.monotonic_s() - before
        before = hub.clock.monotonic_s()
        api.post(
            "/crm/v3/objects/deals/batch/update",
            json={"inputs": [{"id": "301", "properties": {"amount": "1"}}]},
        )
        batch_s = hub.clock.monotonic_s() - before
    assert 0.05 <= read_s <= 0.1
    assert 0.2 <= batch_s <= 0.4


# Faults -----------------------------------------------------------------------------------


def test_injected_429s_look_like_the_ten_second_limit(hub: RunningEmulator) -> None:
    hub.admin("faults", {"rate_limited": 1.0})
    with hub.client() as api:
        answer = api.get("/crm/v3/objects/deals/301")
        assert answer.status_code == 429
        assert answer.json()["policyName"] == "TEN_SECONDLY_ROLLING"
        assert answer.headers["x-hubspot-ratelimit-remaining"] == "0"
        hub.admin("faults", {"rate_limited": 0.0})
        fine = api.get("/crm/v3/objects/deals/301")
        assert fine.status_code == 200
        assert fine.headers["x-hubspot-ratelimit-remaining"] == "189"  # the 429 did not count


def test_injected_server_errors_are_502_or_503(hub: RunningEmulator) -> None:
    hub.admin("faults", {"server_error": 1.0})
    with hub.client() as api:
        statuses = {api.get("/crm/v3/objects/deals/301").status_code for _ in range(20)}
    assert statuses == {502, 503}


def test_faults_follow_the_seed() -> None:
    def statuses() -> list[int]:
        config = _config(seed=42, faults=FaultShares(server_error=0.3, rate_limited=0.2))
        with running_emulator(config) as hub, hub.client() as api:
            return [api.get("/crm/v3/objects/deals/301").status_code for _ in range(15)]

    first = statuses()
    assert first == statuses()
    assert len(set(first)) > 1


def test_fault_shares_that_add_up_past_one_are_refused(hub: RunningEmulator) -> None:
    answer = httpx.post(f"{hub.url}/_emulator/faults", json={"rate_limited": 0.6, "dropped": 0.6})
    assert answer.status_code == 400


def test_a_dropped_call_gets_no_answer_but_its_write_is_applied(hub: RunningEmulator) -> None:
    hub.admin("faults", {"dropped": 1.0})
    with hub.client() as api, pytest.raises(httpx.RemoteProtocolError):
        api.patch("/crm/v3/objects/deals/301", json={"properties": {"amount": "1"}})
    assert [(e["id"], e["properties"]) for e in hub.write_log()] == [("301", {"amount": "1"})]


def test_a_call_dropped_before_handling_changes_nothing(hub: RunningEmulator) -> None:
    hub.admin("faults", {"dropped": 1.0, "drop_after_apply": False})
    with hub.client() as api:
        with pytest.raises(httpx.RemoteProtocolError):
            api.patch("/crm/v3/objects/deals/301", json={"properties": {"amount": "1"}})
        assert hub.write_log() == []
        hub.admin("faults", {"dropped": 0.0})
        assert api.get("/crm/v3/objects/deals/301").json()["properties"]["amount"] == "20000"


# Hold switch ------------------------------------------------------------------------------


def _hold_state(hub: RunningEmulator) -> dict[str, Any]:
    state: dict[str, Any] = httpx.get(f"{hub.url}/_emulator/hold").json()
    return state


def _wait_for_held(hub: RunningEmulator, count: int) -> None:
    for _ in range(500):
        if _hold_state(hub)["held"] == count:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"never {count} held answers: {_hold_state(hub)}")


def test_hold_applies_a_write_but_keeps_its_answer_until_released(hub: RunningEmulator) -> None:
    hub.admin("hold", {"on": True})
    answers: list[httpx.Response] = []

    def write() -> None:
        with hub.client() as api:
            answers.append(
                api.post(
                    "/crm/v3/objects/deals/batch/update",
                    json={"inputs": [{"id": "301", "properties": {"amount": "60000"}}]},
                )
            )

    writer = threading.Thread(target=write)
    writer.start()
    try:
        _wait_for_held(hub, 1)
        assert [e["properties"] for e in hub.write_log()] == [{"amount": "60000"}]
        with hub.client() as reader:
            deal = reader.get("/crm/v3/objects/deals/301").json()
        assert deal["properties"]["amount"] == "60000"
        assert answers == []
    finally:
        assert hub.admin("hold", {"on": False}) == {"on": False, "held": 0}
        writer.join(timeout=10)
    assert [a.status_code for a in answers] == [200]


def test_a_writer_that_gives_up_on_a_held_answer_still_wrote(hub: RunningEmulator) -> None:
    hub.admin("hold", {"on": True})
    try:
        with hub.client(timeout=0.3) as api, pytest.raises(httpx.ReadTimeout):
            api.post(
                "/crm/v3/objects/deals",
                json={"properties": {"dealname": "Held", "dealstage": "qualifiedtobuy"}},
            )
        assert [e["operation"] for e in hub.write_log()] == ["create"]
    finally:
        hub.admin("hold", {"on": False})


# Write log and reset ----------------------------------------------------------------------


def test_the_write_log_has_one_entry_per_input_even_for_repeats(hub: RunningEmulator) -> None:
    batch = {
        "inputs": [
            {"id": "301", "properties": {"amount": "60000"}, "objectWriteTraceId": "row-1"},
            {"id": "302", "properties": {"hs_next_step": "Call"}, "objectWriteTraceId": "row-2"},
        ]
    }
    with hub.client() as api:
        assert api.post("/crm/v3/objects/deals/batch/update", json=batch).status_code == 200
        assert api.post("/crm/v3/objects/deals/batch/update", json=batch).status_code == 200
        api.delete("/crm/v3/objects/deals/304")
    log = hub.write_log()
    assert [(e["operation"], e["id"], e["objectWriteTraceId"]) for e in log] == [
        ("update", "301", "row-1"),
        ("update", "302", "row-2"),
        ("update", "301", "row-1"),
        ("update", "302", "row-2"),
        ("archive", "304", None),
    ]
    assert log[0]["objectType"] == "deals"
    assert log[0]["properties"] == {"amount": "60000"}
    assert log[0]["at"] == "2026-01-01T00:00:00.000Z"
    assert [e["seq"] for e in log] == [1, 2, 3, 4, 5]
    later = httpx.get(f"{hub.url}/_emulator/write-log", params={"since": 4}).json()["results"]
    assert [e["seq"] for e in later] == [5]


def test_reset_restores_the_snapshot(hub: RunningEmulator) -> None:
    with hub.client() as api:
        api.patch("/crm/v3/objects/deals/301", json={"properties": {"amount": "1"}})
        hub.admin("reset", {})
        assert api.get("/crm/v3/objects/deals/301").json()["properties"]["amount"] == "20000"
    assert hub.write_log() == []


# The CLI ----------------------------------------------------------------------------------


def test_the_cli_serves_the_emulator_and_prints_its_url() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_AGENTS_")}
    command = [
        sys.executable,
        "-m",
        "runtime.cli",
        "emulator",
        "hubspot",
        "--port",
        "0",
        "--no-latency",
        "--snapshot",
        str(TEST_SNAPSHOT),
        "--token",
        "pat-cli",
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "the emulator printed no URL"
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        headers = {"Authorization": "Bearer pat-cli"}
        deal = httpx.get(f"{url}/crm/v3/objects/deals/301", headers=headers)
        assert deal.json()["properties"]["dealname"] == "Acme Expansion"
        other = httpx.get(
            f"{url}/crm/v3/objects/deals/301", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert other.status_code == 401
    finally:
        process.terminate()
        process.communicate(timeout=30)
