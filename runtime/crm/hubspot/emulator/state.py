"""Everything one emulator instance holds, built from its config, snapshot and clock."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from runtime.clock import Clock
from runtime.crm.hubspot.emulator.config import EmulatorConfig
from runtime.crm.hubspot.emulator.faults import FaultInjector, HoldSwitch
from runtime.crm.hubspot.emulator.limits import RateLimiter
from runtime.crm.hubspot.emulator.oauth import OAuthAuthority
from runtime.crm.hubspot.emulator.objects import LAST_MODIFIED_PROPERTY, default_association_type
from runtime.crm.hubspot.emulator.store import (
    AssociationLink,
    Store,
    StoredRecord,
    stamp_system_properties,
)
from runtime.crm.hubspot.emulator.values import format_date, format_instant, parse_instant_ms
from runtime.crm.port import OBJECT_TYPES, ObjectType, Pipeline, PropertyDefinition
from runtime.crm.snapshot import CrmSnapshot

__all__ = ["EmulatorState", "Schema", "build_state"]


@dataclass(frozen=True)
class Schema:
    """Property definitions per object type and the deal pipelines."""

    definitions: dict[ObjectType, dict[str, PropertyDefinition]]
    pipelines: tuple[Pipeline, ...]

    @classmethod
    def from_snapshot(cls, snapshot: CrmSnapshot) -> Schema:
        return cls(
            definitions={
                object_type: {d.name: d for d in snapshot.property_definitions(object_type)}
                for object_type in OBJECT_TYPES
            },
            pipelines=snapshot.deal_pipelines(),
        )


@dataclass
class EmulatorState:
    config: EmulatorConfig
    clock: Clock
    rng: random.Random
    snapshot: CrmSnapshot
    schema: Schema
    store: Store
    limiter: RateLimiter
    oauth: OAuthAuthority
    faults: FaultInjector
    hold: HoldSwitch

    def today(self) -> date:
        """The account's calendar day, which the daily limit counts in."""
        return self.clock.now().astimezone(ZoneInfo(self.config.account_timezone)).date()

    def reset(self) -> None:
        """Back to the snapshot: records, write log and rate-limit counts (tokens stay)."""
        self.store = load_store(self.snapshot, self.schema, now=self.clock.now())
        self.limiter.reset()


def build_state(
    config: EmulatorConfig, *, snapshot: CrmSnapshot | None, clock: Clock
) -> EmulatorState:
    snapshot = snapshot or CrmSnapshot()
    schema = Schema.from_snapshot(snapshot)
    rng = random.Random(config.seed)
    return EmulatorState(
        config=config,
        clock=clock,
        rng=rng,
        snapshot=snapshot,
        schema=schema,
        store=load_store(snapshot, schema, now=clock.now()),
        limiter=RateLimiter(
            ten_second_limit=config.ten_second_limit,
            daily_limit=config.daily_limit,
            search_per_second=config.search_per_second,
        ),
        oauth=OAuthAuthority(config.oauth),
        faults=FaultInjector(config.faults, rng),
        hold=HoldSwitch(),
    )


def load_store(snapshot: CrmSnapshot, schema: Schema, *, now: datetime) -> Store:
    """Records and associations of a snapshot; dates written the way HubSpot answers them."""
    store = Store()
    for object_type in OBJECT_TYPES:
        definitions = schema.definitions[object_type]
        for row in snapshot.records(object_type):
            properties = {
                name: _answer_form(definitions.get(name), value)
                for name, value in row.properties.items()
                if value != ""
            }
            created_at = _instant(properties.get("createdate"), default=now)
            updated_at = _instant(
                properties.get(LAST_MODIFIED_PROPERTY[object_type]), default=created_at
            )
            record = StoredRecord(row.id, object_type, properties, created_at, updated_at)
            stamp_system_properties(record)
            store.put(record)
    for object_type in OBJECT_TYPES:
        for row in snapshot.records(object_type):
            for to_type, ids in row.associations.items():
                type_id = default_association_type(object_type, to_type)
                if type_id is None:
                    continue
                for to_id in ids:
                    store.associate(object_type, row.id, AssociationLink(to_type, to_id, type_id))
    return store


def _answer_form(definition: PropertyDefinition | None, value: str) -> str:
    if definition is None or definition.type not in ("date", "datetime"):
        return value
    ms = parse_instant_ms(value)
    if ms is None:
        return value
    return format_date(ms) if definition.type == "date" else format_instant(ms)


def _instant(value: str | None, *, default: datetime) -> datetime:
    ms = None if value is None else parse_instant_ms(value)
    if ms is None:
        return default
    return datetime.fromisoformat(format_instant(ms))
