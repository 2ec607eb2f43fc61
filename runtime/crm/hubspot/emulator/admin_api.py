"""Emulator-only endpoints under ``/_emulator/``: no token, not rate limited, no faults.

- ``GET  /_emulator/health``      ``{"status": "ok"}``
- ``GET  /_emulator/write-log``   every applied change, oldest first (``?since=SEQ``)
- ``GET|POST /_emulator/hold``    ``{"on": bool}``; answers ``{"on", "held"}``
- ``GET|POST /_emulator/faults``  fault shares; a POST changes only the keys it names
- ``POST /_emulator/reset``       back to the snapshot, empty write log, fresh limits
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runtime.crm.hubspot.emulator.config import FaultShares
from runtime.crm.hubspot.emulator.state import EmulatorState

__all__ = ["admin_routes"]


def admin_routes(state: EmulatorState) -> list[Route]:
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def write_log(request: Request) -> Response:
        raw = request.query_params.get("since", "0")
        since = int(raw) if raw.isdigit() else 0
        entries = [entry.to_json() for entry in state.store.write_log if entry.seq > since]
        return JSONResponse({"results": entries})

    async def hold(request: Request) -> Response:
        if request.method == "POST":
            body = await _json_object(request)
            if not isinstance(body.get("on"), bool):
                return _bad('"on" must be true or false')
            state.hold.set(body["on"])
        return JSONResponse({"on": state.hold.on, "held": state.hold.held})

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            body = await _json_object(request)
            try:
                merged = {**state.faults.shares.model_dump(), **body}
                state.faults.shares = FaultShares.model_validate(merged)
            except ValidationError as exc:
                return _bad(str(exc))
        return JSONResponse(state.faults.shares.model_dump(mode="json"))

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"status": "ok"})

    return [
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/write-log", write_log, methods=["GET"]),
        Route("/_emulator/hold", hold, methods=["GET", "POST"]),
        Route("/_emulator/faults", faults, methods=["GET", "POST"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
    ]


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _bad(message: str) -> Response:
    return JSONResponse({"status": "error", "message": message}, status_code=400)
