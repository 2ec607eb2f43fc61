"""The HubSpot adapter of the CRM port: deals, contacts and companies over HTTP.

Built on ``ApiSession`` (token, retries, typed errors, rate-limit headers). Batch calls take
any number of inputs and send them 100 at a time, HubSpot's limit per batch request (§2).
When a batch is split and a later request fails as a whole, the earlier requests have been
carried out already, so instead of raising, the result reports every input that was not
confirmed, with ``InputError.code``:

- ``REFUSED``: HubSpot refused the request (4xx: validation, rate limit, auth); not applied.
- ``OUTCOME_UNKNOWN``: the request failed without a clear answer (5xx, connection lost).
- ``NOT_SENT``: a later request that was never sent because an earlier one failed.

An exception therefore means no input of the call was applied (or, for the first request
failing without a clear answer, that its outcome is unknown, as the error type says).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from runtime.clock import Clock, SystemClock
from runtime.crm.errors import CrmError, CrmServerError
from runtime.crm.hubspot.auth import DEFAULT_BASE_URL, TokenSource
from runtime.crm.hubspot.http_owner import HttpClientOwner
from runtime.crm.hubspot.rate_limits import RateLimitHeaders
from runtime.crm.hubspot.retry import RetryPolicy
from runtime.crm.hubspot.session import ApiSession, RateLimitCallback
from runtime.crm.hubspot.wire import (
    batch_create_body,
    batch_read_body,
    batch_result_from_json,
    batch_update_body,
    next_after,
    page_from_json,
    pipeline_from_json,
    property_definition_from_json,
    record_from_json,
    search_body,
)
from runtime.crm.port import (
    BatchResult,
    CrmRecord,
    InputError,
    ObjectType,
    Page,
    Pipeline,
    PropertyDefinition,
    RecordCreate,
    RecordUpdate,
    SearchRequest,
)
from runtime.settings import HubSpotSettings

__all__ = ["BATCH_LIMIT", "LIST_LIMIT", "HubSpotClient"]

BATCH_LIMIT = 100
"""Inputs per object batch request; HubSpot refuses more (§2)."""
LIST_LIMIT = 100
"""Largest page of the list endpoint (§2)."""
_ASSOCIATIONS_PAGE = 500  # v4 association reads page up to 500 targets.

_T = TypeVar("_T")
_P = ParamSpec("_P")


class HubSpotClient(HttpClientOwner):
    """Implements ``CrmPort`` against HubSpot or its emulator; an async context manager."""

    def __init__(
        self,
        tokens: TokenSource,
        *,
        base_url: str = DEFAULT_BASE_URL,
        http: httpx.AsyncClient | None = None,
        timeout_s: float = 30.0,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        on_rate_limit_headers: RateLimitCallback | None = None,
    ) -> None:
        """A client of one HubSpot account (or emulator), as ``tokens`` authorize.

        Args:
            tokens: where each request's bearer token comes from.
            base_url: ``https://api.hubapi.com``, or the emulator's URL (a path prefix is kept).
            http: a client to send with (tests pass one on ``httpx.MockTransport``); the
                caller keeps owning it. Without it, one is made here and closed by ``aclose``.
            timeout_s: per-request timeout of the client made here.
            clock: waits between retries go through its ``sleep``.
            retry: when to retry; ``NO_RETRIES`` to account every attempt yourself.
            on_rate_limit_headers: told the ``X-HubSpot-RateLimit-*`` headers of each answer.
        """
        super().__init__(http, timeout_s=timeout_s)
        self.base_url = base_url.rstrip("/")
        self._session = ApiSession(
            http=self._http,
            base_url=self.base_url,
            tokens=tokens,
            clock=clock or SystemClock(),
            retry=retry or RetryPolicy(),
            on_rate_limit_headers=on_rate_limit_headers,
        )

    @classmethod
    def from_settings(
        cls,
        settings: HubSpotSettings,
        tokens: TokenSource,
        *,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        http: httpx.AsyncClient | None = None,
        on_rate_limit_headers: RateLimitCallback | None = None,
    ) -> HubSpotClient:
        return cls(
            tokens,
            base_url=settings.base_url,
            http=http,
            timeout_s=settings.timeout_s,
            clock=clock,
            retry=retry or RetryPolicy.from_settings(settings),
            on_rate_limit_headers=on_rate_limit_headers,
        )

    @property
    def last_rate_limit(self) -> RateLimitHeaders | None:
        """The rate-limit headers of the latest answer that had them (search answers don't)."""
        return self._session.last_rate_limit

    def __repr__(self) -> str:
        return f"HubSpotClient(base_url={self.base_url!r})"

    # Reads --------------------------------------------------------------------------------

    async def get(
        self,
        object_type: ObjectType,
        record_id: str,
        *,
        properties: Sequence[str] = (),
        associations: Sequence[ObjectType] = (),
    ) -> CrmRecord:
        """One record; ``associations`` holds the first page of each associated type."""
        path = f"/crm/v3/objects/{object_type}/{_segment(record_id)}"
        params: dict[str, str | int] = {}
        if properties:
            params["properties"] = ",".join(properties)
        if associations:
            params["associations"] = ",".join(associations)
        data = await self._session.call("GET", path, params=params)
        return _parsed(path, record_from_json, object_type, data)

    async def list_page(
        self,
        object_type: ObjectType,
        *,
        properties: Sequence[str] = (),
        limit: int = LIST_LIMIT,
        after: str | None = None,
    ) -> Page:
        if not 1 <= limit <= LIST_LIMIT:
            raise ValueError(f"limit must be within 1..{LIST_LIMIT}, not {limit}")
        path = f"/crm/v3/objects/{object_type}"
        params: dict[str, str | int] = {"limit": limit}
        if properties:
            params["properties"] = ",".join(properties)
        if after is not None:
            params["after"] = after
        data = await self._session.call("GET", path, params=params)
        return _parsed(path, page_from_json, object_type, data)

    async def list_pages(
        self,
        object_type: ObjectType,
        *,
        properties: Sequence[str] = (),
        page_size: int = LIST_LIMIT,
    ) -> AsyncIterator[Page]:
        """Every page of the object type, first to last."""
        after: str | None = None
        while True:
            page = await self.list_page(
                object_type, properties=properties, limit=page_size, after=after
            )
            yield page
            if page.next_after is None:
                return
            after = _advanced(after, page.next_after, path=f"/crm/v3/objects/{object_type}")

    async def search(self, object_type: ObjectType, request: SearchRequest) -> Page:
        """One page of search results; ``total`` counts all matches.

        Search allows 5 requests/s per account and pages at most 10,000 results deep (§3).
        """
        path = f"/crm/v3/objects/{object_type}/search"
        data = await self._session.call("POST", path, json=search_body(request))
        return _parsed(path, page_from_json, object_type, data)

    async def search_pages(
        self, object_type: ObjectType, request: SearchRequest
    ) -> AsyncIterator[Page]:
        """Every page of a search, starting at ``request.after``."""
        while True:
            page = await self.search(object_type, request)
            yield page
            if page.next_after is None:
                return
            after = _advanced(
                request.after, page.next_after, path=f"/crm/v3/objects/{object_type}/search"
            )
            request = request.model_copy(update={"after": after})

    async def batch_read(
        self, object_type: ObjectType, ids: Sequence[str], *, properties: Sequence[str] = ()
    ) -> BatchResult:
        """Records by id; unknown ids come back as ``OBJECT_NOT_FOUND`` input errors."""
        bodies = [batch_read_body(chunk, properties) for chunk in _chunks(ids)]
        return await self._send_batches(object_type, "read", bodies, writes=False)

    async def associated_ids(
        self, from_type: ObjectType, record_id: str, to_type: ObjectType
    ) -> list[str]:
        """Ids of every ``to_type`` record associated with the record, all pages read."""
        path = f"/crm/v4/objects/{from_type}/{_segment(record_id)}/associations/{to_type}"
        found: dict[str, None] = {}
        after: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": _ASSOCIATIONS_PAGE}
            if after is not None:
                params["after"] = after
            data = await self._session.call("GET", path, params=params)
            rows, cursor = _parsed(path, _association_page, data)
            found.update(dict.fromkeys(rows))
            if cursor is None:
                return list(found)
            after = _advanced(after, cursor, path=path)

    async def property_definitions(self, object_type: ObjectType) -> list[PropertyDefinition]:
        """Every property of the type whose type the port models, with its options."""
        path = f"/crm/v3/properties/{object_type}"
        data = await self._session.call("GET", path)
        rows = _parsed(path, lambda: [property_definition_from_json(r) for r in data["results"]])
        return [definition for definition in rows if definition is not None]

    async def pipelines(self, object_type: ObjectType = "deals") -> list[Pipeline]:
        """Pipelines with their stages, each in display order."""
        path = f"/crm/v3/pipelines/{object_type}"
        data = await self._session.call("GET", path)
        parsed = _parsed(path, lambda: [pipeline_from_json(r) for r in data["results"]])
        return sorted(parsed, key=lambda p: p.display_order)

    # Writes -------------------------------------------------------------------------------

    async def batch_create(
        self, object_type: ObjectType, inputs: Sequence[RecordCreate]
    ) -> BatchResult:
        """Create records. Give each input a unique ``trace_id``: HubSpot then answers 207
        with per-input errors instead of refusing the whole request for one bad input (§5).
        """
        bodies = [batch_create_body(chunk) for chunk in _chunks(inputs)]
        # HubSpot does not deduplicate creates: a create is replayed only when it provably
        # never reached HubSpot (connection refused), never after a dropped connection or a
        # 5xx, where the records may exist already.
        return await self._send_batches(
            object_type, "create", bodies, writes=True, replay_safe=False
        )

    async def batch_update(
        self, object_type: ObjectType, inputs: Sequence[RecordUpdate]
    ) -> BatchResult:
        """Set properties on existing records, 100 inputs per request, results merged."""
        bodies = [batch_update_body(chunk) for chunk in _chunks(inputs)]
        return await self._send_batches(object_type, "update", bodies, writes=True)

    async def _send_batches(
        self,
        object_type: ObjectType,
        verb: str,
        bodies: Sequence[dict[str, Any]],
        *,
        writes: bool,
        replay_safe: bool = True,
    ) -> BatchResult:
        path = f"/crm/v3/objects/{object_type}/batch/{verb}"
        results: list[CrmRecord] = []
        errors: list[InputError] = []
        for index, body in enumerate(bodies):
            try:
                data = await self._session.call("POST", path, json=body, replay_safe=replay_safe)
            except CrmError as exc:
                if index == 0 or not writes:
                    raise
                errors.extend(_unconfirmed(body, exc, code=_failure_code(exc)))
                for later in bodies[index + 1 :]:
                    errors.extend(_unconfirmed(later, exc, code="NOT_SENT"))
                break
            part = _parsed(path, batch_result_from_json, object_type, data)
            results.extend(part.results)
            errors.extend(part.errors)
        return BatchResult(results=tuple(results), errors=tuple(errors))


def _parsed(path: str, parse: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run a parser over an answer; a shape we cannot read is HubSpot's failure, not ours."""
    try:
        return parse(*args, **kwargs)
    except (KeyError, TypeError, ValueError, AttributeError, ValidationError) as exc:
        raise CrmServerError(f"{path}: unreadable answer ({type(exc).__name__})") from exc


def _association_page(data: Any) -> tuple[list[str], str | None]:
    # v4 answers carry toObjectId as a number; the port's ids are strings.
    return [str(row["toObjectId"]) for row in data["results"]], next_after(data)


def _advanced(previous: str | None, cursor: str, *, path: str) -> str:
    # A cursor that does not move would page forever.
    if cursor == previous:
        raise CrmServerError(f"{path}: paging cursor {cursor!r} did not advance")
    return cursor


def _chunks(items: Sequence[_T]) -> list[Sequence[_T]]:
    return [items[start : start + BATCH_LIMIT] for start in range(0, len(items), BATCH_LIMIT)]


def _segment(record_id: str) -> str:
    return quote(record_id, safe="")


def _failure_code(exc: CrmError) -> str:
    if exc.status is not None and 400 <= exc.status < 500:
        return "REFUSED"
    return "OUTCOME_UNKNOWN"


def _unconfirmed(body: dict[str, Any], exc: CrmError, *, code: str) -> list[InputError]:
    """One error per input of a request that failed whole (or was never sent)."""
    category = exc.category or type(exc).__name__
    message = f"{code.replace('_', ' ').lower()}: {exc}"
    inputs: list[dict[str, Any]] = body["inputs"]
    errors = []
    for row in inputs:
        record_id = row.get("id")
        trace_id = row.get("objectWriteTraceId")
        errors.append(
            InputError(
                category=category,
                message=message,
                code=code,
                ids=() if record_id is None else (str(record_id),),
                trace_ids=() if trace_id is None else (str(trace_id),),
            )
        )
    return errors
