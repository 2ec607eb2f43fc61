"""The HubSpot emulator as an ASGI app: ``create_app(config, snapshot=..., clock=...)``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from runtime.clock import Clock, SystemClock
from runtime.crm.hubspot.emulator.admin_api import admin_routes
from runtime.crm.hubspot.emulator.batch_api import batch_routes
from runtime.crm.hubspot.emulator.config import EmulatorConfig
from runtime.crm.hubspot.emulator.faults import serve_with_drops
from runtime.crm.hubspot.emulator.meta_api import meta_routes
from runtime.crm.hubspot.emulator.oauth_api import oauth_routes
from runtime.crm.hubspot.emulator.objects_api import object_routes
from runtime.crm.hubspot.emulator.state import EmulatorState, build_state
from runtime.crm.snapshot import CrmSnapshot

__all__ = ["EmulatorApp", "create_app"]


class EmulatorApp(Starlette):
    """A Starlette app that can also drop a connection without answering (see faults)."""

    emulator: EmulatorState

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Outside Starlette's middleware, which wraps ``send`` and would hide the transport.
        await serve_with_drops(super().__call__, scope, receive, send)


def create_app(
    config: EmulatorConfig | None = None,
    *,
    snapshot: CrmSnapshot | None = None,
    clock: Clock | None = None,
) -> EmulatorApp:
    """An emulator holding ``snapshot`` (an empty CRM by default), timed by ``clock``."""
    state = build_state(config or EmulatorConfig(), snapshot=snapshot, clock=clock or SystemClock())
    routes = [
        # Batch paths come before /{record_id}, which would otherwise take "batch".
        *batch_routes(state),
        *object_routes(state),
        *meta_routes(state),
        *oauth_routes(state),
        *admin_routes(state),
    ]
    app = EmulatorApp(routes=routes)
    app.emulator = state
    return app
