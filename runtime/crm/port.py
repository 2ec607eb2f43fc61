"""The CRM port: what agent code may ask of a CRM, in CRM-neutral models.

Values follow HubSpot's conventions because HubSpot is the first adapter: object ids and
property values are strings (``None`` when empty), dates are ``YYYY-MM-DD`` or ISO-8601.
An adapter for another CRM converts at its edge. Every method may raise the errors of
``runtime.crm.errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "OBJECT_TYPES",
    "AssociationInput",
    "BatchResult",
    "CrmPort",
    "CrmRecord",
    "Filter",
    "FilterGroup",
    "FilterOperator",
    "InputError",
    "ObjectType",
    "Page",
    "Pipeline",
    "PipelineStage",
    "PropertyDefinition",
    "PropertyOption",
    "PropertyType",
    "RecordCreate",
    "RecordUpdate",
    "SearchRequest",
    "Sort",
]

ObjectType = Literal["deals", "contacts", "companies"]
OBJECT_TYPES: tuple[ObjectType, ...] = ("deals", "contacts", "companies")

PropertyType = Literal[
    "string", "number", "date", "datetime", "enumeration", "bool", "phone_number", "json"
]
FilterOperator = Literal[
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
]

_MODEL = ConfigDict(frozen=True)


class CrmRecord(BaseModel):
    """One CRM object as read: id, string properties, and associated ids per object type.

    ``model_dump(by_alias=True)`` gives camelCase keys (the API's ``CRMRecord``).
    """

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    id: str
    object_type: ObjectType
    properties: dict[str, str | None]
    created_at: datetime | None = None
    updated_at: datetime | None = None
    archived: bool = False
    associations: dict[ObjectType, tuple[str, ...]] = Field(default_factory=dict)


class PropertyOption(BaseModel):
    model_config = _MODEL

    label: str
    value: str
    display_order: int = 0
    hidden: bool = False


class PropertyDefinition(BaseModel):
    """A property's definition: its type decides which values a write may carry."""

    model_config = _MODEL

    name: str
    label: str
    type: PropertyType
    field_type: str
    options: tuple[PropertyOption, ...] = ()
    has_unique_value: bool = False
    read_only: bool = False
    description: str = ""


class PipelineStage(BaseModel):
    model_config = _MODEL

    id: str
    label: str
    display_order: int
    probability: float | None = None
    is_closed: bool = False


class Pipeline(BaseModel):
    model_config = _MODEL

    id: str
    label: str
    display_order: int = 0
    stages: tuple[PipelineStage, ...]


class Filter(BaseModel):
    model_config = _MODEL

    property_name: str
    operator: FilterOperator
    value: str | None = None
    high_value: str | None = None
    values: tuple[str, ...] | None = None


class FilterGroup(BaseModel):
    """Filters in one group must all hold (AND); groups are alternatives (OR)."""

    model_config = _MODEL

    filters: tuple[Filter, ...]


class Sort(BaseModel):
    model_config = _MODEL

    property_name: str
    direction: Literal["ASCENDING", "DESCENDING"] = "ASCENDING"


class SearchRequest(BaseModel):
    model_config = _MODEL

    filter_groups: tuple[FilterGroup, ...] = ()
    sorts: tuple[Sort, ...] = ()
    query: str | None = None
    properties: tuple[str, ...] = ()
    limit: int = Field(default=10, ge=1, le=200)
    after: str | None = None


class Page(BaseModel):
    """One page of records; ``next_after`` is the opaque cursor of the next page, if any."""

    model_config = _MODEL

    results: tuple[CrmRecord, ...]
    next_after: str | None = None
    total: int | None = None


class AssociationInput(BaseModel):
    """Associate a new record with an existing one (HubSpot's association type id)."""

    model_config = _MODEL

    to_object_type: ObjectType
    to_id: str
    association_type_id: int
    category: Literal["HUBSPOT_DEFINED", "USER_DEFINED"] = "HUBSPOT_DEFINED"


class RecordCreate(BaseModel):
    model_config = _MODEL

    properties: dict[str, str]
    associations: tuple[AssociationInput, ...] = ()
    trace_id: str | None = Field(
        default=None, description="Ties a per-input error of a batch answer to this input."
    )


class RecordUpdate(BaseModel):
    model_config = _MODEL

    id: str
    properties: dict[str, str]
    trace_id: str | None = None


class InputError(BaseModel):
    """Why one input of a batch failed, as the CRM said it."""

    model_config = _MODEL

    category: str
    message: str
    code: str | None = None
    ids: tuple[str, ...] = ()
    trace_ids: tuple[str, ...] = ()
    property_names: tuple[str, ...] = ()


class BatchResult(BaseModel):
    """What a batch call did: the records it returned and the inputs that failed."""

    model_config = _MODEL

    results: tuple[CrmRecord, ...]
    errors: tuple[InputError, ...] = ()


class CrmPort(Protocol):
    """The CRM operations agent code uses."""

    async def get(
        self,
        object_type: ObjectType,
        record_id: str,
        *,
        properties: Sequence[str] = (),
        associations: Sequence[ObjectType] = (),
    ) -> CrmRecord: ...

    async def list_page(
        self,
        object_type: ObjectType,
        *,
        properties: Sequence[str] = (),
        limit: int = 100,
        after: str | None = None,
    ) -> Page: ...

    async def search(self, object_type: ObjectType, request: SearchRequest) -> Page: ...

    async def batch_read(
        self, object_type: ObjectType, ids: Sequence[str], *, properties: Sequence[str] = ()
    ) -> BatchResult: ...

    async def batch_create(
        self, object_type: ObjectType, inputs: Sequence[RecordCreate]
    ) -> BatchResult: ...

    async def batch_update(
        self, object_type: ObjectType, inputs: Sequence[RecordUpdate]
    ) -> BatchResult: ...

    async def associated_ids(
        self, from_type: ObjectType, record_id: str, to_type: ObjectType
    ) -> list[str]: ...

    async def property_definitions(self, object_type: ObjectType) -> list[PropertyDefinition]: ...

    async def pipelines(self, object_type: ObjectType = "deals") -> list[Pipeline]: ...
