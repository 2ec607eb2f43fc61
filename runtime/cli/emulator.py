"""`crm-agents emulator ...`: local stand-ins for the services the agents talk to."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import typer
import uvicorn
from pydantic import ValidationError

from runtime.cli._common import command_group
from runtime.crm.hubspot.emulator import (
    EmulatorConfig,
    FaultShares,
    LatencyConfig,
    OAuthAppConfig,
    create_app,
)
from runtime.crm.snapshot import load_snapshot
from runtime.errors import InvalidInputError

emulator_app = command_group(
    help="Emulators of external services, over real HTTP, for tests, demos and benchmarks.",
)

_DEFAULTS = EmulatorConfig()
# Held answers would keep a graceful shutdown waiting forever; give up on them after this.
_SHUTDOWN_GRACE_S = 5


def _share(flag: str, what: str) -> Any:  # typer.Option is typed Any so that it can be a default
    return typer.Option(0.0, flag, min=0.0, max=1.0, help=f"Share of API calls that {what}.")


@emulator_app.command("hubspot")
def hubspot_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8081, "--port", min=0, max=65535, help="Port; 0 picks a free one."),
    snapshot: Path | None = typer.Option(
        None,
        "--snapshot",
        help="crm.json to start from (pipelines, companies, contacts, deals); default: empty.",
    ),
    tokens: list[str] | None = typer.Option(
        None,
        "--token",
        help="Accept only this private-app token (repeat for more); default: any 'pat-...'.",
    ),
    ten_second_limit: int = typer.Option(
        _DEFAULTS.ten_second_limit,
        "--ten-second-limit",
        min=1,
        help="Calls per rolling 10 seconds per app (each token is its own app).",
    ),
    daily_limit: int = typer.Option(
        _DEFAULTS.daily_limit, "--daily-limit", min=1, help="Calls per day for the account."
    ),
    no_latency: bool = typer.Option(
        False, "--no-latency", help="Answer at once instead of after HubSpot-like delays."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed of latency jitter and faults."),
    client_id: str = typer.Option(
        _DEFAULTS.oauth.client_id, "--client-id", help="The OAuth app's client id."
    ),
    client_secret: str = typer.Option(
        _DEFAULTS.oauth.client_secret, "--client-secret", help="The OAuth app's client secret."
    ),
    fault_rate_limited: float = _share("--fault-429", "get an injected 429"),
    fault_server_error: float = _share("--fault-5xx", "get a 502 or 503"),
    fault_dropped: float = _share("--fault-drop", "lose their answer (connection closed)"),
    fault_slow: float = _share("--fault-slow", "answer 2-5 s late"),
) -> None:
    """Serve a HubSpot emulator until interrupted; prints its base URL first.

    It answers HubSpot's CRM object, search, association, property, pipeline and OAuth
    endpoints with HubSpot's shapes, validation, 207 partial failures and rate limits.
    Emulator-only endpoints live under /_emulator/ (health, write-log, hold, faults, reset).
    Fault shares can also change while it runs: POST /_emulator/faults. A bad snapshot
    exits with code 2, naming the file, the field and the reason.
    """
    crm = load_snapshot(snapshot) if snapshot is not None else None
    try:
        config = EmulatorConfig(
            tokens=tuple(tokens) if tokens else None,
            ten_second_limit=ten_second_limit,
            daily_limit=daily_limit,
            latency=LatencyConfig(scale=0.0 if no_latency else 1.0),
            faults=FaultShares(
                rate_limited=fault_rate_limited,
                server_error=fault_server_error,
                dropped=fault_dropped,
                slow=fault_slow,
            ),
            oauth=OAuthAppConfig(client_id=client_id, client_secret=client_secret),
            seed=seed,
        )
    except ValidationError as exc:
        # Typer checks each option's range; what is left is the shares' sum.
        raise InvalidInputError.one(
            "--fault-429 + --fault-5xx + --fault-drop", "must not add up to more than 1"
        ) from exc
    app = create_app(config, snapshot=crm)
    listener = listening_socket(host, port)
    bound_port = listener.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    sys.stdout.write(f"http://{url_host}:{bound_port}\n")
    sys.stdout.flush()
    accepted = "the listed tokens" if tokens else "any 'pat-...' token"
    sys.stderr.write(
        f"HubSpot emulator: accepts {accepted}; OAuth client id {client_id!r}. Ctrl+C stops.\n"
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=_SHUTDOWN_GRACE_S,
        )
    )
    server.run(sockets=[listener])


_BACKLOG = 2048  # uvicorn's default


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound socket, so that port 0 resolves to a real port before the URL is printed."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        # Listen now: a client that read the printed URL may connect before uvicorn has
        # started; its connection then waits in the backlog instead of being refused.
        listener.listen(_BACKLOG)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InvalidInputError.one("--port", f"cannot listen on {host}:{port}: {reason}") from exc
    return listener
