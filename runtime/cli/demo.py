"""`crm-agents demo`: `serve`, a HubSpot emulator with a demo account, and meetings to watch.

The emulator runs in this process, in a thread of its own with its own event loop (uvicorn,
as `crm-agents emulator hubspot` runs it): one process to start and to stop, nothing left
behind if the demo is killed outright, and its port bound before anything else starts. It
only serves this process's run executor and writers (runs execute here, not on Ray), so it
need not outlive or be shared beyond it.
"""

from __future__ import annotations

import json
import logging
import secrets
import shlex
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import typer
import uvicorn

from runtime.agents.extractors.rules import RulesExtractor
from runtime.cli._common import load_settings, result_line, results_only_on_stdout, run
from runtime.cli.emulator import listening_socket
from runtime.cli.serve import check_port_free, migrated_database, serve_until_stopped
from runtime.connections.cipher import KeyRing
from runtime.crm.hubspot.emulator import EmulatorConfig, create_app
from runtime.demo.account import demo_snapshot
from runtime.demo.feed import FedMeeting, MeetingFeed, describe
from runtime.demo.seed import DemoWorkspace, seed_demo
from runtime.demo.sender import WebhookSender
from runtime.errors import BackendUnavailableError, InvalidInputError
from runtime.settings import Settings

__all__ = ["demo_command"]

_EMULATOR_HOST = "127.0.0.1"
_EMULATOR_START_S = 15.0
_EMULATOR_STOP_S = 10.0


def demo_command(
    port: int | None = typer.Option(
        None,
        "--port",
        min=1,
        max=65535,
        help="Port of the API (default CRM_AGENTS_API__PORT, 8000).",
    ),
    emulator_port: int = typer.Option(
        8081,
        "--emulator-port",
        min=0,
        max=65535,
        help="Port of the HubSpot emulator; 0 picks a free one.",
    ),
    every_s: float = typer.Option(
        5.0,
        "--every",
        min=0.2,
        max=3600.0,
        help="Seconds between two sample meetings.",
    ),
    meetings: int | None = typer.Option(
        None,
        "--meetings",
        min=1,
        help="Send this many meetings, then stop sending (the API keeps serving); default: no end.",
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print JSON Lines for machines: `ready`, one `meeting` each, `stopped`.",
    ),
) -> None:
    """Watch agents work: the API, a HubSpot emulator with a demo account, and a sample
    meeting every few seconds, until Ctrl-C or SIGTERM.

    What starts, in this one process:

    * a **HubSpot emulator** (http://127.0.0.1:8081) holding the demo account: five
      companies, their contacts and one open deal each;
    * everything `crm-agents serve` runs: the database (embedded, or DATABASE_URL),
      migrated; Ray with the GraphQL API on Ray Serve (http://127.0.0.1:8000/graphql,
      GraphiQL in a browser); the run dispatcher, the CRM writers and the expiry sweeper;
    * a **demo workspace** (`crm-agents demo`, admin alex.morgan@ourco.example) connected
      to the emulator with a private app token, with an active **Demo agent** made from the
      `demo` template: it writes the next step and the close date on its own and leaves the
      amount and the deal stage to a human;
    * a **meeting feed**: every --every seconds a sample sales call (five scenarios in turns,
      each with new figures every round) is posted to the API's signed meeting webhook
      (POST /webhooks/meetings), as a meeting service would.

    Once the API answers it prints the API's URL, a GraphiQL link with the admin's token
    filled in, the token, the emulator's URL, a curl command and a subscription to try;
    then one line per meeting: the deal it was about, the fields the agent writes and the
    ones it asks about in the inbox. The emulator's write log
    (http://127.0.0.1:8081/_emulator/write-log) shows each write HubSpot received.

    Running it again reuses the workspace, its admin and its agent, and prints a new token;
    the emulator starts from the demo account again, and the meetings get new ids.

    With --json, standard output is JSON Lines: one `ready` object (URLs, token, ids), one
    `meeting` object per meeting, one `stopped` object at the end.

    The runtime's own log (standard error) shows warnings and errors only;
    CRM_AGENTS_LOG_LEVEL=DEBUG shows all of it. Ctrl-C or SIGTERM stops everything (exit 0).
    Examples:

        crm-agents demo
        crm-agents demo --port 8010 --emulator-port 8091 --every 2
        crm-agents demo --meetings 10 --json
    """
    settings = load_settings()
    if settings.log_level == "INFO":
        # One line per meeting says what the runs did; the runtime's INFO lines would repeat it.
        logging.getLogger("runtime").setLevel(logging.WARNING)
    api = settings.api.model_copy(update={"port": port or settings.api.port})
    settings = settings.model_copy(update={"api": api})
    if emulator_port == api.port:
        raise InvalidInputError.one(
            "--emulator-port", f"must differ from the API's port ({api.port})"
        )
    check_port_free(api.host, api.port)
    crm_token = "pat-demo-" + secrets.token_hex(16)
    run_tag = datetime.now(UTC).strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(2)

    # Ray's driver prints to stdout too: keep it for the demo's own lines.
    with results_only_on_stdout(), _running_emulator(emulator_port, crm_token) as emulator_url:
        result = run(
            lambda: _demo(
                settings,
                emulator_url=emulator_url,
                crm_token=crm_token,
                run_tag=run_tag,
                every_s=every_s,
                meetings=meetings,
                as_json=as_json,
            )
        )
    human = (
        f"stopped: {result['meetings_sent']} meeting(s) sent; {result['runs_completed']} agent"
        f" run(s) completed, {result['runs_failed']} failed\n"
    )
    if as_json:
        result_line(json.dumps(result))
    sys.stderr.write(human)


async def _demo(
    settings: Settings,
    *,
    emulator_url: str,
    crm_token: str,
    run_tag: str,
    every_s: float,
    meetings: int | None,
    as_json: bool,
) -> dict[str, Any]:
    """Seed the workspace, then serve with the meeting feed alongside until stopped."""
    api = settings.api
    async with migrated_database(settings) as pool:
        keyring = KeyRing.from_settings(settings)
        async with pool.acquire() as conn:
            demo = await seed_demo(conn, keyring, crm_base_url=emulator_url, crm_token=crm_token)
        base_url = f"http://{_url_host(api.host)}:{api.port}"
        async with httpx.AsyncClient(timeout=30.0) as http:
            feed = MeetingFeed(
                sender=WebhookSender(
                    http,
                    url=f"{base_url}/webhooks/meetings",
                    workspace_id=demo.workspace_id,
                    secret=demo.webhook_secret,
                ),
                db=pool,
                owner_email=demo.admin_email,
                run_tag=run_tag,
                every_s=every_s,
                limit=meetings,
                report=lambda fed: _report(fed, as_json=as_json),
            )

            def announce(url: str) -> None:
                _announce(
                    url,
                    base_url=base_url,
                    demo=demo,
                    emulator_url=emulator_url,
                    every_s=every_s,
                    as_json=as_json,
                )

            async def feeding() -> None:
                await feed.run()
                sys.stderr.write(
                    f"sent {feed.sent} meeting(s) (--meetings); the API keeps serving until"
                    " Ctrl-C\n"
                )

            dispatcher = await serve_until_stopped(
                pool,
                settings,
                extractor=RulesExtractor(),
                extractor_name="rules",
                ray_runs=False,
                limit=settings.worker.concurrency,
                announce=announce,
                alongside=feeding,
            )
    return {
        "event": "stopped",
        "meetings_sent": feed.sent,
        "runs_completed": dispatcher.completed,
        "runs_failed": dispatcher.failed,
        "workspace_id": str(demo.workspace_id),
    }


@contextmanager
def _running_emulator(port: int, token: str) -> Iterator[str]:
    """The HubSpot emulator with the demo account, accepting only ``token``, in a thread."""
    try:
        listener = listening_socket(_EMULATOR_HOST, port)
    except InvalidInputError as exc:
        raise InvalidInputError.one("--emulator-port", exc.problems[0][1]) from exc
    app = create_app(EmulatorConfig(tokens=(token,)), snapshot=demo_snapshot())
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=5)
    )
    # Not the main thread: uvicorn leaves the signals to the demo.
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="hubspot-emulator", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + _EMULATOR_START_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise BackendUnavailableError("the HubSpot emulator did not start")
            time.sleep(0.02)
        yield f"http://{_EMULATOR_HOST}:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=_EMULATOR_STOP_S)
        listener.close()


def _announce(
    url: str,
    *,
    base_url: str,
    demo: DemoWorkspace,
    emulator_url: str,
    every_s: float,
    as_json: bool,
) -> None:
    query = _sample_query(demo)
    graphiql = f"{url}?" + urlencode(
        {"headers": json.dumps({"Authorization": f"Bearer {demo.token}"}), "q": query}
    )
    subscription = (
        f'subscription {{ activityLogCreated(workspaceId: "{demo.workspace_id}")'
        " { createdAt status crmRecordId fieldsUpdated } }"
    )
    curl = " ".join(
        [
            "curl -s",
            shlex.quote(url),
            "-H",
            shlex.quote(f"Authorization: Bearer {demo.token}"),
            "-H 'Content-Type: application/json'",
            "-d",
            shlex.quote(json.dumps({"query": _inbox_query(demo)})),
        ]
    )
    if as_json:
        result_line(
            json.dumps(
                {
                    "event": "ready",
                    "graphql_url": url,
                    "graphiql_url": graphiql,
                    "token": demo.token,
                    "workspace_id": str(demo.workspace_id),
                    "admin_user_id": str(demo.admin_id),
                    "admin_email": demo.admin_email,
                    "agent_id": str(demo.agent_id),
                    "emulator_url": emulator_url,
                    "webhook_url": f"{base_url}/webhooks/meetings",
                    "every_s": every_s,
                    "reused_workspace": demo.reused,
                    "curl": curl,
                    "subscription": subscription,
                }
            )
        )
        return
    workspace = "the demo workspace from an earlier run" if demo.reused else "a new demo workspace"
    result_line(
        f"""
crm-agents demo is running; Ctrl-C stops it.

  GraphQL API       {url}
  API token         {demo.token}
                    (admin {demo.admin_email} of {workspace}, {demo.workspace_id})
  GraphiQL          open this link in a browser (the token and a query are filled in), then Run:
                    {graphiql}
  HubSpot emulator  {emulator_url}  (what the agent wrote: {emulator_url}/_emulator/write-log)

The admin's inbox from a shell:
  {curl}

Live activity over a websocket (graphql-transport-ws at {url}, with {{"token": "<the API token>"}}
in connection_init; docs/api.md):
  {subscription}

A sample meeting goes to the signed webhook {base_url}/webhooks/meetings every {every_s:g} s:
"""
    )


def _inbox_query(demo: DemoWorkspace) -> str:
    return (
        f'{{ inboxItems(userId: "{demo.admin_id}", status: PENDING, pagination: {{first: 5}})'
        " { totalCount edges { node { title confidence createdAt } } } }"
    )


def _sample_query(demo: DemoWorkspace) -> str:
    return f"""# The demo admin's pending inbox and the agent's latest activity.
query Demo {{
  inboxItems(userId: "{demo.admin_id}", status: PENDING, pagination: {{first: 5}}) {{
    totalCount
    edges {{ node {{ id title confidence createdAt }} }}
  }}
  activityLogs(workspaceId: "{demo.workspace_id}", pagination: {{first: 5}}) {{
    totalCount
    edges {{ node {{ createdAt status crmRecordId fieldsUpdated }} }}
  }}
}}
"""


def _report(fed: FedMeeting, *, as_json: bool) -> None:
    result_line(json.dumps(fed.to_json()) if as_json else describe(fed))


def _url_host(host: str) -> str:
    """Where a client on this machine reaches a server listening on ``host``."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
