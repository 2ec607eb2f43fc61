"""One HubSpot API call: bearer token, rate-limit headers, typed errors, and retries.

The client's operations all go through ``ApiSession.call``; it is safe to use from many
concurrent tasks (its only state is the last rate-limit reading, replaced whole).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from runtime.clock import Clock
from runtime.crm.errors import CrmError, CrmRateLimitedError
from runtime.crm.hubspot.auth import TokenSource
from runtime.crm.hubspot.failures import (
    error_from_response,
    error_from_transport,
    unreadable_answer,
)
from runtime.crm.hubspot.rate_limits import RateLimitHeaders, parse_rate_limit_headers
from runtime.crm.hubspot.retry import Failure, RetryPolicy, retry_delay_s

__all__ = ["ApiSession", "RateLimitCallback"]

logger = logging.getLogger(__name__)

RateLimitCallback = Callable[[RateLimitHeaders], None]
"""Told the rate-limit headers of every answer that carries them; must be quick."""

_Outcome = tuple[Any, None] | tuple[CrmError, Failure | None]


class ApiSession:
    """Sends requests to one HubSpot base URL with one token source and retry policy."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        tokens: TokenSource,
        clock: Clock,
        retry: RetryPolicy,
        on_rate_limit_headers: RateLimitCallback | None = None,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._clock = clock
        self._retry = retry
        self._on_rate_limit_headers = on_rate_limit_headers
        self.last_rate_limit: RateLimitHeaders | None = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        replay_safe: bool = True,
    ) -> Any:
        """The decoded JSON answer (None for 204), after the retries the policy allows.

        ``replay_safe=False`` marks a request that must not run twice (batch create):
        it is retried only when it provably never reached HubSpot.

        Raises:
            CrmError: the subclass for the last failure, once retrying stops.
        """
        action = f"{method} {path}"
        retry_number = 0
        while True:
            answer, failure = await self._attempt(
                method, path, action=action, params=params, json=json, attempt=retry_number + 1
            )
            if not isinstance(answer, CrmError):
                return answer
            retry_number += 1
            wait_s = (
                None
                if failure is None
                else retry_delay_s(
                    failure, retry_number=retry_number, policy=self._retry, replay_safe=replay_safe
                )
            )
            if wait_s is None:
                logger.debug("HubSpot %s: giving up after %d attempt(s)", action, retry_number)
                raise answer
            logger.debug("HubSpot %s: retry %d in %.3f s", action, retry_number, wait_s)
            await self._clock.sleep(wait_s)

    async def _attempt(
        self,
        method: str,
        path: str,
        *,
        action: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        attempt: int,
    ) -> _Outcome:
        try:
            token = (await self._tokens.access_token()).get_secret_value()
        except CrmError as exc:
            # The token endpoint failed before our request was sent, so any retry is a
            # first send; an auth refusal (bad refresh token) cannot be retried away.
            if exc.status is None or exc.status >= 500:
                return exc, Failure(sent=False)
            return exc, None
        sent_s = self._clock.monotonic_s()
        try:
            response = await self._http.request(
                method,
                self._base_url + path,
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
        except httpx.RequestError as exc:
            error, failure = error_from_transport(exc, action=action)
            error.__cause__ = exc
            logger.debug("HubSpot %s attempt %d: %s", action, attempt, type(exc).__name__)
            return error, failure
        logger.debug("HubSpot %s attempt %d: %d", action, attempt, response.status_code)
        self._observe_rate_limit(response, round_trip_s=self._clock.monotonic_s() - sent_s)
        if response.is_success:
            return self._decode(response, action), None
        error, failure = error_from_response(response, action=action, secrets=(token,))
        if isinstance(error, CrmRateLimitedError):
            logger.debug("HubSpot %s: rate limited (%s)", action, error.policy)
        return error, failure

    def _decode(self, response: httpx.Response, action: str) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise unreadable_answer(response, action=action, detail="not JSON") from exc

    def _observe_rate_limit(self, response: httpx.Response, *, round_trip_s: float) -> None:
        limits = parse_rate_limit_headers(response.headers)
        if limits is None:
            return
        limits = limits.model_copy(update={"round_trip_s": round_trip_s})
        self.last_rate_limit = limits
        if self._on_rate_limit_headers is None:
            return
        try:
            self._on_rate_limit_headers(limits)
        except Exception:
            # A faulty observer must not turn a write HubSpot carried out into a failure
            # the caller might retry (and duplicate).
            logger.exception("the rate-limit observer failed")
