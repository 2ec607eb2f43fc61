"""What every HubSpot API call goes through, in order, before and after its route code.

1. Authentication (reference §1): 401 before anything is counted; then an OAuth token's
   scopes (reference §5): 403 MISSING_SCOPES.
2. Injected faults: 429, 502/503 or a dropped connection, drawn from the seeded generator;
   injected answers are not counted against any limit.
3. Rate limits (reference §6): 429 with HubSpot's body; refused calls are not counted.
4. Latency: a jittered delay on the injected clock, so a FakeClock makes it instant.
5. The route; then rate-limit headers (never on search answers), the hold switch for
   write answers, and a dropped connection when the fault says so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from runtime.crm.hubspot.emulator.config import LatencyKind
from runtime.crm.hubspot.emulator.faults import FaultDraw, mark_for_dropping
from runtime.crm.hubspot.emulator.limits import INTERVAL_MS, LimitDecision, Policy
from runtime.crm.hubspot.emulator.responses import ApiError, error_body, rate_limit_body
from runtime.crm.hubspot.emulator.scopes import missing_scopes_body, required_scope
from runtime.crm.hubspot.emulator.state import EmulatorState
from runtime.crm.hubspot.emulator.values import format_instant

__all__ = ["Caller", "Handler", "api_call"]

_MISSING_CREDENTIALS = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and"
    " you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
_BAD_GATEWAY_HTML = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


@dataclass(frozen=True)
class Caller:
    """Who is calling: the app whose 10-second window counts the call, and its scopes."""

    app_key: str
    oauth: bool
    scopes: frozenset[str] | None = None  # None: a private app token, every scope


Handler = Callable[[Caller], Awaitable[Response]]


async def api_call(
    state: EmulatorState,
    request: Request,
    handler: Handler,
    *,
    latency: LatencyKind,
    search: bool = False,
    write: bool = False,
) -> Response:
    """Answer one API call the way HubSpot's edge and limits would around ``handler``."""
    caller = _authenticate(state, request)
    if isinstance(caller, Response):
        return caller
    scope = required_scope(request.url.path, write=write)
    if scope is not None and caller.scopes is not None and scope not in caller.scopes:
        return JSONResponse(missing_scopes_body(scope), status_code=403)
    fault = state.faults.draw()
    injected = _injected_answer(state, request, caller, fault, search=search)
    if injected is not None:
        return injected
    now_s, today = state.clock.monotonic_s(), state.today()
    if search:
        decision = state.limiter.admit_search(now_s=now_s, today=today)
    else:
        decision = state.limiter.admit_call(caller.app_key, now_s=now_s, today=today)
    if not decision.allowed and decision.policy is not None:
        return _rate_limited(decision.policy, decision, caller, search=search)
    delay_s = _latency_s(state, latency) + fault.extra_delay_s
    if delay_s > 0:
        await state.clock.sleep(delay_s)
    try:
        response = await handler(caller)
    except ApiError as exc:
        response = exc.response()
    if not search:
        _add_limit_headers(response, decision, caller)
    if write and response.status_code < 400:
        await state.hold.wait()
    if fault.kind == "dropped":
        mark_for_dropping(request.scope)
    return response


def _authenticate(state: EmulatorState, request: Request) -> Caller | Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _unauthorized(_MISSING_CREDENTIALS, "INVALID_AUTHENTICATION")
    access = state.oauth.access_token(token)
    if access is not None:
        now = state.clock.now()
        if access.expires_at <= now:
            seconds = int((now - access.expires_at).total_seconds())
            return _unauthorized(
                f"The OAuth token used to make this call expired {seconds} second(s) ago.",
                "EXPIRED_AUTHENTICATION",
                context={"expire time": [format_instant(access.expires_at)]},
            )
        # Every token of the OAuth app shares the app's 10-second window (reference §6).
        return Caller(
            app_key=f"oauth:{state.config.oauth.client_id}",
            oauth=True,
            scopes=frozenset(access.scopes),
        )
    allowed = state.config.tokens
    if (allowed is None and token.startswith("pat-")) or (allowed is not None and token in allowed):
        return Caller(app_key=f"pat:{token}", oauth=False)
    return _unauthorized(
        "The access token or private app token used to make this call is not valid.",
        "INVALID_AUTHENTICATION",
    )


def _unauthorized(message: str, category: str, **extra: object) -> Response:
    return JSONResponse(error_body(message, category, **extra), status_code=401)


def _injected_answer(
    state: EmulatorState, request: Request, caller: Caller, fault: FaultDraw, *, search: bool
) -> Response | None:
    if fault.kind == "rate_limited":
        decision = state.limiter.peek(
            caller.app_key, now_s=state.clock.monotonic_s(), today=state.today()
        )
        return _rate_limited("TEN_SECONDLY_ROLLING", decision, caller, search=search)
    if fault.kind == "server_error":
        if fault.server_status == 502:
            return HTMLResponse(_BAD_GATEWAY_HTML, status_code=502)
        body = error_body(
            "The service is temporarily unavailable. Please try again later.",
            "SERVICE_UNAVAILABLE",
        )
        return JSONResponse(body, status_code=503)
    if fault.kind == "dropped" and not state.faults.shares.drop_after_apply:
        mark_for_dropping(request.scope)
        return Response(status_code=500)  # never sent: the connection is closed instead
    return None


def _rate_limited(
    policy: Policy, decision: LimitDecision, caller: Caller, *, search: bool
) -> Response:
    response = JSONResponse(rate_limit_body(policy), status_code=429)
    if not search:
        _add_limit_headers(response, decision, caller, exhausted=policy == "TEN_SECONDLY_ROLLING")
    return response


def _add_limit_headers(
    response: Response, decision: LimitDecision, caller: Caller, *, exhausted: bool = False
) -> None:
    headers = response.headers
    headers["X-HubSpot-RateLimit-Daily"] = str(decision.daily)
    if not caller.oauth:  # reference §6: absent for OAuth apps
        headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(decision.daily_remaining)
    headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(INTERVAL_MS)
    headers["X-HubSpot-RateLimit-Max"] = str(decision.interval_max)
    headers["X-HubSpot-RateLimit-Remaining"] = (
        "0" if exhausted else str(decision.interval_remaining)
    )


def _latency_s(state: EmulatorState, kind: LatencyKind) -> float:
    latency = state.config.latency
    if latency.scale == 0:
        return 0.0
    low_ms, high_ms = latency.range_ms(kind)
    return state.rng.uniform(low_ms, high_ms) * latency.scale / 1000
