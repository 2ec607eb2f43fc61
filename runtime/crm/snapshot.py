"""The ``crm.json`` snapshot (spec meetings-and-corpus §2): CRM state in HubSpot's shape.

The emulator starts from one, the offline agent and ``crm-agents eval`` read one per case.
Ids and property values are strings, as HubSpot sends them. Loading checks the shape
(unknown keys are refused) and the references (association targets exist, a deal's stage
belongs to its pipeline); every problem names its field path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from runtime.crm.hubspot.standard import (
    DEFAULT_PIPELINE,
    default_pipeline_id,
    merge_definitions,
    standard_definitions,
    with_pipeline_options,
)
from runtime.crm.port import (
    OBJECT_TYPES,
    ObjectType,
    Pipeline,
    PipelineStage,
    PropertyDefinition,
    PropertyOption,
    PropertyType,
)
from runtime.errors import FieldProblem, InvalidInputError, parse_json_model

__all__ = [
    "CrmSnapshot",
    "SnapshotPipeline",
    "SnapshotProperty",
    "SnapshotRecord",
    "load_snapshot",
    "parse_snapshot",
]


def _numeric_id(value: str) -> str:
    if not value.isascii() or not value.isdigit():
        raise ValueError(f'{value!r} is not a numeric string like "301" (HubSpot ids are)')
    return value


RecordId = Annotated[str, AfterValidator(_numeric_id)]
_STRICT = ConfigDict(extra="forbid", populate_by_name=True)
# Property definitions are pasted from HubSpot's properties API, whose objects carry many keys
# (groupName, calculated, formField, ...) that mean nothing here; they are ignored.
_LENIENT = ConfigDict(extra="ignore", populate_by_name=True)


class SnapshotStage(BaseModel):
    model_config = _STRICT

    id: str = Field(min_length=1)
    label: str
    display_order: int | None = Field(default=None, alias="displayOrder")
    # HubSpot writes probabilities as strings ("0.2"); numbers are accepted too.
    probability: float | None = Field(default=None, ge=0.0, le=1.0)
    is_closed: bool | None = Field(default=None, alias="isClosed")

    def to_port(self, index: int) -> PipelineStage:
        probability = self.probability
        # Without isClosed, the stages HubSpot forces to 100% (won) and 0% (lost) are closed.
        closed = self.is_closed if self.is_closed is not None else probability in (0.0, 1.0)
        order = index if self.display_order is None else self.display_order
        return PipelineStage(
            id=self.id,
            label=self.label,
            display_order=order,
            probability=probability,
            is_closed=closed,
        )


class SnapshotPipeline(BaseModel):
    model_config = _STRICT

    id: str = Field(min_length=1)
    label: str
    display_order: int = Field(default=0, alias="displayOrder")
    stages: list[SnapshotStage] = Field(min_length=1)

    def to_port(self) -> Pipeline:
        return Pipeline(
            id=self.id,
            label=self.label,
            display_order=self.display_order,
            stages=tuple(stage.to_port(i) for i, stage in enumerate(self.stages)),
        )


class SnapshotPipelines(BaseModel):
    model_config = _STRICT

    deals: list[SnapshotPipeline] = Field(default_factory=list)


class SnapshotRecord(BaseModel):
    model_config = _STRICT

    id: RecordId
    properties: dict[str, str] = Field(default_factory=dict)
    associations: dict[ObjectType, list[RecordId]] = Field(default_factory=dict)


class SnapshotOption(BaseModel):
    model_config = _LENIENT

    label: str
    value: str
    display_order: int = Field(default=0, alias="displayOrder")
    hidden: bool = False


class SnapshotModificationMetadata(BaseModel):
    model_config = _LENIENT

    read_only_value: bool = Field(default=False, alias="readOnlyValue")


class SnapshotProperty(BaseModel):
    """A property definition in the shape of ``GET /crm/v3/properties/{type}``."""

    model_config = _LENIENT

    name: str = Field(min_length=1)
    label: str | None = None
    type: PropertyType
    field_type: str = Field(alias="fieldType")
    options: list[SnapshotOption] = Field(default_factory=list)
    has_unique_value: bool = Field(default=False, alias="hasUniqueValue")
    modification_metadata: SnapshotModificationMetadata | None = Field(
        default=None, alias="modificationMetadata"
    )
    description: str = ""

    def to_port(self) -> PropertyDefinition:
        metadata = self.modification_metadata
        return PropertyDefinition(
            name=self.name,
            label=self.label or self.name,
            type=self.type,
            field_type=self.field_type,
            options=tuple(
                PropertyOption(
                    label=o.label, value=o.value, display_order=o.display_order, hidden=o.hidden
                )
                for o in self.options
            ),
            has_unique_value=self.has_unique_value,
            read_only=metadata is not None and metadata.read_only_value,
            description=self.description,
        )


class CrmSnapshot(BaseModel):
    """A whole ``crm.json``; every key is optional, so ``{}`` is an empty CRM."""

    model_config = _STRICT

    pipelines: SnapshotPipelines = Field(default_factory=SnapshotPipelines)
    companies: list[SnapshotRecord] = Field(default_factory=list)
    contacts: list[SnapshotRecord] = Field(default_factory=list)
    deals: list[SnapshotRecord] = Field(default_factory=list)
    properties: dict[ObjectType, list[SnapshotProperty]] | None = None

    def records(self, object_type: ObjectType) -> list[SnapshotRecord]:
        return {"deals": self.deals, "contacts": self.contacts, "companies": self.companies}[
            object_type
        ]

    def deal_pipelines(self) -> tuple[Pipeline, ...]:
        """The snapshot's deal pipelines; HubSpot's default pipeline when it lists none."""
        if not self.pipelines.deals:
            return (DEFAULT_PIPELINE,)
        return tuple(pipeline.to_port() for pipeline in self.pipelines.deals)

    def property_definitions(self, object_type: ObjectType) -> tuple[PropertyDefinition, ...]:
        """HubSpot's standard definitions with the snapshot's own laid over them."""
        own = (self.properties or {}).get(object_type, [])
        merged = merge_definitions(standard_definitions(object_type), (p.to_port() for p in own))
        if object_type == "deals":
            return with_pipeline_options(merged, self.deal_pipelines())
        return merged


def parse_snapshot(raw: str | bytes | dict[str, Any], *, source: str | None = None) -> CrmSnapshot:
    """Validate a snapshot's shape and references.

    Raises:
        InvalidInputError: not JSON, a field of the wrong shape, or a dangling reference;
            every problem names its field path.
    """
    snapshot = parse_json_model(CrmSnapshot, raw, source=source)
    problems = _reference_problems(snapshot)
    if problems:
        raise InvalidInputError(problems, source)
    return snapshot


def load_snapshot(path: Path | str) -> CrmSnapshot:
    """Read and validate ``crm.json``; errors name the file, the field path and the reason."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError.one(
            "(file)", f"cannot be read: {exc.strerror}", source=str(path)
        ) from exc
    return parse_snapshot(raw, source=str(path))


def _reference_problems(snapshot: CrmSnapshot) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    known: dict[ObjectType, set[str]] = {}
    for object_type in OBJECT_TYPES:
        seen: set[str] = set()
        for index, record in enumerate(snapshot.records(object_type)):
            if record.id in seen:
                problems.append((f"{object_type}[{index}].id", f"{record.id!r} appears twice"))
            seen.add(record.id)
        known[object_type] = seen
    for object_type in OBJECT_TYPES:
        for index, record in enumerate(snapshot.records(object_type)):
            for to_type, ids in record.associations.items():
                if to_type == object_type:
                    field = f"{object_type}[{index}].associations.{to_type}"
                    problems.append((field, f"{object_type} cannot be associated with each other"))
                    continue
                for position, to_id in enumerate(ids):
                    if to_id not in known[to_type]:
                        field = f"{object_type}[{index}].associations.{to_type}[{position}]"
                        problems.append((field, f"no {to_type} record has id {to_id!r}"))
    problems.extend(_pipeline_problems(snapshot))
    return problems


def _pipeline_problems(snapshot: CrmSnapshot) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    pipelines = {pipeline.id: pipeline for pipeline in snapshot.deal_pipelines()}
    for index, listed in enumerate(snapshot.pipelines.deals):
        stage_ids = [stage.id for stage in listed.stages]
        for position, stage_id in enumerate(stage_ids):
            if stage_id in stage_ids[:position]:
                field = f"pipelines.deals[{index}].stages[{position}].id"
                problems.append((field, f"{stage_id!r} appears twice"))
    for index, deal in enumerate(snapshot.deals):
        pipeline_id = deal.properties.get("pipeline") or default_pipeline_id(
            snapshot.deal_pipelines()
        )
        pipeline = pipelines.get(pipeline_id or "")
        if pipeline is None:
            problems.append(
                (
                    f"deals[{index}].properties.pipeline",
                    f"{pipeline_id!r} is not a pipeline id (known: {', '.join(pipelines)})",
                )
            )
            continue
        stage = deal.properties.get("dealstage")
        if stage and stage not in {s.id for s in pipeline.stages}:
            problems.append(
                (
                    f"deals[{index}].properties.dealstage",
                    f"{stage!r} is not a stage of pipeline {pipeline_id!r}",
                )
            )
    return problems
