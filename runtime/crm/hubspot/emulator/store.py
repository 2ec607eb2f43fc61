"""The emulator's CRM state: records, associations (both directions) and the write log.

Plain in-memory bookkeeping with no awaits, so every method runs whole between two request
handlers' awaits. Values handed in are already validated and normalised; an empty string
clears a value (the record then has no such property, as HubSpot shows it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from runtime.crm.hubspot.emulator.objects import ASSOCIATION_TYPES, LAST_MODIFIED_PROPERTY
from runtime.crm.hubspot.emulator.values import format_instant
from runtime.crm.port import OBJECT_TYPES, ObjectType

__all__ = ["AssociationLink", "Store", "StoredRecord", "WriteLogEntry", "WriteOperation"]

WriteOperation = Literal["create", "update", "archive"]
# Ids of records created here start above every snapshot id and never repeat across types.
_FIRST_NEW_ID = 10_001


@dataclass
class StoredRecord:
    id: str
    object_type: ObjectType
    properties: dict[str, str]
    created_at: datetime
    updated_at: datetime
    archived: bool = False
    archived_at: datetime | None = None


@dataclass(frozen=True)
class AssociationLink:
    """Associate with ``to_id`` of ``to_type`` under HubSpot type id ``type_id``."""

    to_type: ObjectType
    to_id: str
    type_id: int


@dataclass(frozen=True)
class WriteLogEntry:
    """One applied change: one per accepted input, never deduplicated."""

    seq: int
    at: datetime
    operation: WriteOperation
    object_type: ObjectType
    id: str
    properties: dict[str, str]
    object_write_trace_id: str | None
    associations: tuple[AssociationLink, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": format_instant(self.at),
            "operation": self.operation,
            "objectType": self.object_type,
            "id": self.id,
            "properties": self.properties,
            "objectWriteTraceId": self.object_write_trace_id,
            "associations": [
                {"toObjectType": a.to_type, "toObjectId": a.to_id, "associationTypeId": a.type_id}
                for a in self.associations
            ],
        }


@dataclass
class Store:
    records: dict[ObjectType, dict[str, StoredRecord]] = field(
        default_factory=lambda: {object_type: {} for object_type in OBJECT_TYPES}
    )
    # (from type, from id, to type) -> to id -> type ids, in insertion order.
    links: dict[tuple[ObjectType, str, ObjectType], dict[str, set[int]]] = field(
        default_factory=dict
    )
    write_log: list[WriteLogEntry] = field(default_factory=list)
    next_id: int = _FIRST_NEW_ID
    # (type, property) -> case-folded value -> id of the live record holding it; built on the
    # first lookup of a property and kept current by every write, so unique checks stay O(1).
    _index: dict[tuple[ObjectType, str], dict[str, str]] = field(default_factory=dict)

    def put(self, record: StoredRecord) -> None:
        """Place a record as it is (snapshot loading); keeps new ids above it."""
        self.records[record.object_type][record.id] = record
        self._reindex(record, previous={})
        if record.id.isdigit():
            self.next_id = max(self.next_id, int(record.id) + 1)

    def get(
        self, object_type: ObjectType, record_id: str, *, archived: bool = False
    ) -> StoredRecord | None:
        record = self.records[object_type].get(record_id)
        if record is None or record.archived != archived:
            return None
        return record

    def find_by(self, object_type: ObjectType, name: str, value: str) -> StoredRecord | None:
        """The live record whose ``name`` equals ``value`` (case-insensitive), for unique props."""
        index = self._index.get((object_type, name))
        if index is None:
            index = self._index[(object_type, name)] = {
                record.properties[name].casefold(): record.id
                for record in self.records[object_type].values()
                if not record.archived and record.properties.get(name)
            }
        record_id = index.get(value.casefold())
        return None if record_id is None else self.get(object_type, record_id)

    def live(self, object_type: ObjectType, *, archived: bool = False) -> list[StoredRecord]:
        """Records of a type in id order: live ones, or only archived ones."""
        rows = [r for r in self.records[object_type].values() if r.archived == archived]
        return sorted(rows, key=lambda r: int(r.id) if r.id.isdigit() else 0)

    def create(
        self,
        object_type: ObjectType,
        properties: Mapping[str, str],
        *,
        now: datetime,
        trace_id: str | None,
        links: Iterable[AssociationLink] = (),
    ) -> StoredRecord:
        record_id = str(self.next_id)
        self.next_id += 1
        record = StoredRecord(record_id, object_type, {}, created_at=now, updated_at=now)
        _apply(record, properties)
        stamp_system_properties(record)
        self.records[object_type][record_id] = record
        self._reindex(record, previous={})
        links = tuple(links)
        for link in links:
            self.associate(object_type, record_id, link)
        self._log("create", record, dict(properties), trace_id, now, links)
        return record

    def update(
        self,
        record: StoredRecord,
        properties: Mapping[str, str],
        *,
        now: datetime,
        trace_id: str | None,
    ) -> StoredRecord:
        previous = dict(record.properties)
        _apply(record, properties)
        record.updated_at = now
        stamp_system_properties(record)
        self._reindex(record, previous=previous)
        self._log("update", record, dict(properties), trace_id, now)
        return record

    def archive(self, record: StoredRecord, *, now: datetime, trace_id: str | None) -> None:
        record.archived, record.archived_at, record.updated_at = True, now, now
        self._reindex(record, previous=dict(record.properties))
        self._log("archive", record, {}, trace_id, now)

    def associate(self, from_type: ObjectType, from_id: str, link: AssociationLink) -> None:
        """Record an association and its inverse, with the unlabelled type a label implies."""
        association = ASSOCIATION_TYPES[link.type_id]
        type_ids = {link.type_id} | ({association.implies} if association.implies else set())
        forward = self.links.setdefault((from_type, from_id, link.to_type), {})
        forward.setdefault(link.to_id, set()).update(type_ids)
        inverse = {ASSOCIATION_TYPES[t].inverse for t in type_ids}
        backward = self.links.setdefault((link.to_type, link.to_id, from_type), {})
        backward.setdefault(from_id, set()).update(inverse)

    def associated(
        self, from_type: ObjectType, from_id: str, to_type: ObjectType
    ) -> dict[str, set[int]]:
        """Live records of ``to_type`` associated with a record, with their type ids."""
        links = self.links.get((from_type, from_id, to_type), {})
        return {
            to_id: type_ids
            for to_id, type_ids in links.items()
            if self.get(to_type, to_id) is not None
        }

    def _reindex(self, record: StoredRecord, *, previous: Mapping[str, str]) -> None:
        for (object_type, name), index in self._index.items():
            if object_type != record.object_type:
                continue
            old = previous.get(name, "").casefold()
            if old and index.get(old) == record.id:
                del index[old]
            new = record.properties.get(name, "")
            if new and not record.archived:
                index[new.casefold()] = record.id

    def _log(
        self,
        operation: WriteOperation,
        record: StoredRecord,
        properties: dict[str, str],
        trace_id: str | None,
        now: datetime,
        links: tuple[AssociationLink, ...] = (),
    ) -> None:
        entry = WriteLogEntry(
            seq=len(self.write_log) + 1,
            at=now,
            operation=operation,
            object_type=record.object_type,
            id=record.id,
            properties=properties,
            object_write_trace_id=trace_id,
            associations=links,
        )
        self.write_log.append(entry)


def stamp_system_properties(record: StoredRecord) -> None:
    """Keep the read-only properties HubSpot maintains in step with the record."""
    record.properties["hs_object_id"] = record.id
    record.properties["createdate"] = format_instant(record.created_at)
    record.properties[LAST_MODIFIED_PROPERTY[record.object_type]] = format_instant(
        record.updated_at
    )


def _apply(record: StoredRecord, properties: Mapping[str, str]) -> None:
    for name, value in properties.items():
        if value == "":
            record.properties.pop(name, None)
        else:
            record.properties[name] = value
