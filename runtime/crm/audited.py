"""A CRM port that notes every call for the audit log, so no CRM operation goes unlogged.

``AuditedCrm`` wraps another port and keeps one ``AuditEntry`` per call, in call order,
until the caller ``drain()``s them into its own transaction (the run executor writes them
with the run's results, so the log and the results commit or roll back together). Rules:

- every call is noted whether it succeeds or raises; a raised error is noted with
  ``outcome`` ``"error"`` and its class name, then re-raised unchanged; a cancelled call is
  noted as ``"cancelled"`` (a cancelled write may still have reached the CRM);
- a batch answer with per-input failures is ``"partial"``, else ``"ok"``;
- details carry object types, ids, property names and counts, never values: a search logs
  the property names its filters and sorts use, not the values or its free-text query,
  e.g. ``{"filter_properties": ["email"], "results": 1, "outcome": "ok"}``;
- batch calls log how many ids they named and the first ``MAX_LOGGED_IDS`` of them, e.g.
  ``{"ids_count": 250, "ids": ["1", ..., "100"], "ids_truncated": true, ...}``.

Actions and targets (``target_type`` is the object type, ``target_id`` a single record's id):

    get                   crm.read          (type, id)   properties, associations
    list_page             crm.list          (type, -)    properties, limit, results
    search                crm.search        (type, -)    filter/sort/returned property names
    batch_read            crm.batch_read    (type, -)    ids, properties, results, errors
    batch_create          crm.create        (type, -)    inputs, created ids, property names
    batch_update          crm.update        (type, -)    ids, property names, results, errors
    associated_ids        crm.associations  (type, id)   to_type, results
    property_definitions  crm.definitions   (type, -)    results
    pipelines             crm.pipelines     (type, -)    results
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from runtime.audit.models import AuditEntry
from runtime.clock import Clock
from runtime.crm.port import (
    BatchResult,
    CrmPort,
    CrmRecord,
    ObjectType,
    Page,
    Pipeline,
    PropertyDefinition,
    RecordCreate,
    RecordUpdate,
    SearchRequest,
)

__all__ = ["MAX_LOGGED_IDS", "AuditedCrm"]

MAX_LOGGED_IDS = 100
"""A batch logs at most this many of its ids (HubSpot batches hold up to 100 inputs)."""

T = TypeVar("T")
Details = dict[str, Any]


class AuditedCrm:
    """Implements ``CrmPort`` over ``inner``, noting one audit entry per call."""

    def __init__(
        self,
        inner: CrmPort,
        *,
        workspace_id: UUID,
        clock: Clock,
        actor_user_id: UUID | None = None,
    ) -> None:
        """Args:
        inner: the port that does the work.
        workspace_id: whose log the entries go to.
        clock: stamps each entry with the time its call started.
        actor_user_id: the user acting through this port; None when the agent acts.
        """
        self._inner = inner
        self._workspace_id = workspace_id
        self._clock = clock
        self._actor_user_id = actor_user_id
        self._entries: list[AuditEntry] = []

    def drain(self) -> list[AuditEntry]:
        """The entries noted since the last drain, oldest first; they are forgotten here."""
        # Swapping the list (no await) keeps entries of calls still running for the next drain.
        entries, self._entries = self._entries, []
        return entries

    # Reads --------------------------------------------------------------------------------

    async def get(
        self,
        object_type: ObjectType,
        record_id: str,
        *,
        properties: Sequence[str] = (),
        associations: Sequence[ObjectType] = (),
    ) -> CrmRecord:
        details: Details = {
            "properties": list(properties),
            "associations": list(associations),
        }
        return await self._noted(
            "crm.read",
            object_type,
            record_id,
            details,
            lambda: self._inner.get(
                object_type, record_id, properties=properties, associations=associations
            ),
        )

    async def list_page(
        self,
        object_type: ObjectType,
        *,
        properties: Sequence[str] = (),
        limit: int = 100,
        after: str | None = None,
    ) -> Page:
        details: Details = {"properties": list(properties), "limit": limit}
        return await self._noted(
            "crm.list",
            object_type,
            None,
            details,
            lambda: self._inner.list_page(
                object_type, properties=properties, limit=limit, after=after
            ),
            on_result=_page_details,
        )

    async def search(self, object_type: ObjectType, request: SearchRequest) -> Page:
        filtered = (f.property_name for g in request.filter_groups for f in g.filters)
        details: Details = {
            "filter_properties": _distinct(filtered),
            "sort_properties": _distinct(s.property_name for s in request.sorts),
            "properties": list(request.properties),
            "limit": request.limit,
        }
        return await self._noted(
            "crm.search",
            object_type,
            None,
            details,
            lambda: self._inner.search(object_type, request),
            on_result=_page_details,
        )

    async def batch_read(
        self, object_type: ObjectType, ids: Sequence[str], *, properties: Sequence[str] = ()
    ) -> BatchResult:
        details: Details = {**_id_details(ids), "properties": list(properties)}
        return await self._noted(
            "crm.batch_read",
            object_type,
            None,
            details,
            lambda: self._inner.batch_read(object_type, ids, properties=properties),
            on_result=_batch_details,
        )

    async def associated_ids(
        self, from_type: ObjectType, record_id: str, to_type: ObjectType
    ) -> list[str]:
        return await self._noted(
            "crm.associations",
            from_type,
            record_id,
            {"to_type": to_type},
            lambda: self._inner.associated_ids(from_type, record_id, to_type),
            on_result=lambda ids: {"results": len(ids)},
        )

    async def property_definitions(self, object_type: ObjectType) -> list[PropertyDefinition]:
        return await self._noted(
            "crm.definitions",
            object_type,
            None,
            {},
            lambda: self._inner.property_definitions(object_type),
            on_result=lambda found: {"results": len(found)},
        )

    async def pipelines(self, object_type: ObjectType = "deals") -> list[Pipeline]:
        return await self._noted(
            "crm.pipelines",
            object_type,
            None,
            {},
            lambda: self._inner.pipelines(object_type),
            on_result=lambda found: {"results": len(found)},
        )

    # Writes -------------------------------------------------------------------------------

    async def batch_create(
        self, object_type: ObjectType, inputs: Sequence[RecordCreate]
    ) -> BatchResult:
        details: Details = {
            "inputs": len(inputs),
            "property_names": _distinct(name for i in inputs for name in i.properties),
            "associated": _distinct(
                f"{a.to_object_type}:{a.to_id}" for i in inputs for a in i.associations
            )[:MAX_LOGGED_IDS],
        }

        def created(result: BatchResult) -> Details:
            # The new ids exist only in the answer; they are what a later audit looks for.
            return {
                **_batch_details(result),
                "created_ids": [r.id for r in result.results[:MAX_LOGGED_IDS]],
            }

        return await self._noted(
            "crm.create",
            object_type,
            None,
            details,
            lambda: self._inner.batch_create(object_type, inputs),
            on_result=created,
        )

    async def batch_update(
        self, object_type: ObjectType, inputs: Sequence[RecordUpdate]
    ) -> BatchResult:
        details: Details = {
            **_id_details([i.id for i in inputs]),
            "property_names": _distinct(name for i in inputs for name in i.properties),
        }
        return await self._noted(
            "crm.update",
            object_type,
            None,
            details,
            lambda: self._inner.batch_update(object_type, inputs),
            on_result=_batch_details,
        )

    # --------------------------------------------------------------------------------------

    async def _noted(
        self,
        action: str,
        target_type: ObjectType,
        target_id: str | None,
        details: Details,
        call: Callable[[], Awaitable[T]],
        *,
        on_result: Callable[[T], Details] | None = None,
    ) -> T:
        """Await ``call`` and note it, whatever happens."""
        started_at = self._clock.now()
        try:
            result = await call()
        except BaseException as exc:
            outcome = "cancelled" if isinstance(exc, asyncio.CancelledError) else "error"
            details = {**details, "outcome": outcome, "error": type(exc).__name__}
            self._note(action, target_type, target_id, details, started_at)
            raise
        extra = on_result(result) if on_result is not None else {}
        outcome = "partial" if isinstance(result, BatchResult) and result.errors else "ok"
        self._note(
            action, target_type, target_id, {**details, **extra, "outcome": outcome}, started_at
        )
        return result

    def _note(
        self,
        action: str,
        target_type: ObjectType,
        target_id: str | None,
        details: Details,
        started_at: datetime,
    ) -> None:
        self._entries.append(
            AuditEntry(
                workspace_id=self._workspace_id,
                actor_user_id=self._actor_user_id,
                action=action,
                target_type=target_type,
                target_id=target_id,
                details=details,
                created_at=started_at,
            )
        )


def _distinct(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _id_details(ids: Sequence[str]) -> Details:
    details: Details = {"ids_count": len(ids), "ids": list(ids[:MAX_LOGGED_IDS])}
    if len(ids) > MAX_LOGGED_IDS:
        details["ids_truncated"] = True
    return details


def _page_details(page: Page) -> Details:
    details: Details = {"results": len(page.results)}
    if page.total is not None:
        details["total"] = page.total
    return details


def _batch_details(result: BatchResult) -> Details:
    details: Details = {"results": len(result.results), "errors": len(result.errors)}
    if result.errors:
        # Categories and the ids they name say which records failed, without the messages
        # (a validation message quotes the refused value).
        details["error_categories"] = _distinct(e.category for e in result.errors)
        failed = _distinct(i for e in result.errors for i in e.ids)
        details["failed_ids"] = failed[:MAX_LOGGED_IDS]
    return details
