"""A local HubSpot: the REST API's shapes, validation, limits and failures over real HTTP.

``create_app(EmulatorConfig(...), snapshot=..., clock=...)`` returns an ASGI app; the
``crm-agents emulator hubspot`` command serves one with uvicorn.
"""

from runtime.crm.hubspot.emulator.app import EmulatorApp, create_app
from runtime.crm.hubspot.emulator.config import (
    EmulatorConfig,
    FaultShares,
    LatencyConfig,
    OAuthAppConfig,
)

__all__ = [
    "EmulatorApp",
    "EmulatorConfig",
    "FaultShares",
    "LatencyConfig",
    "OAuthAppConfig",
    "create_app",
]
