"""CRM search (reference §3): the request body, its limits, filters, sorting and paging.

Pure functions over records handed in; the caller answers HTTP. Matching follows HubSpot's
documented rules where they exist: groups are OR-ed, filters in a group AND-ed; values
compare case-insensitively except for enumerations; ``IN`` on string properties wants the
values in lower case. Negative operators (NEQ, NOT_IN, NOT_CONTAINS_TOKEN) match records
without a value, as an inverted index does; the reference is silent on that.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from runtime.crm.hubspot.emulator.objects import TEXT_SEARCH_PROPERTIES, resolve_object_type
from runtime.crm.hubspot.emulator.values import parse_instant_ms, parse_number
from runtime.crm.port import FilterOperator, ObjectType, PropertyDefinition

__all__ = [
    "MAX_BODY_CHARS",
    "MAX_REACHABLE_RESULTS",
    "SearchBody",
    "SearchPage",
    "SearchableRecord",
    "limit_problems",
    "run_search",
]

MAX_BODY_CHARS = 3_000
MAX_REACHABLE_RESULTS = 10_000
MAX_LIMIT = 200
MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_SORTS = 1

Scalar = str | int | float | bool
AssociatedIds = Callable[[str, ObjectType], Collection[str]]
_NEEDS_VALUE = frozenset({"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "CONTAINS_TOKEN"})
_NEEDS_VALUES = frozenset({"IN", "NOT_IN"})
_TOKEN_SPLIT = re.compile(r"[^\w]+")
_NUMERIC_KINDS = frozenset({"number", "date", "datetime"})


class SearchFilter(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    property_name: str = Field(alias="propertyName", min_length=1)
    operator: FilterOperator = "EQ"
    value: Scalar | None = None
    high_value: Scalar | None = Field(default=None, alias="highValue")
    values: list[Scalar] | None = None


class SearchFilterGroup(BaseModel):
    model_config = ConfigDict(extra="ignore")

    filters: list[SearchFilter] = Field(default_factory=list)


class SearchSort(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    property_name: str = Field(alias="propertyName", min_length=1)
    direction: Literal["ASCENDING", "DESCENDING"] = "ASCENDING"


class SearchBody(BaseModel):
    """``POST /crm/v3/objects/{type}/search``'s body; limits are checked separately."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    filter_groups: list[SearchFilterGroup] = Field(default_factory=list, alias="filterGroups")
    sorts: list[SearchSort] = Field(default_factory=list)
    query: str | None = None
    properties: list[str] = Field(default_factory=list)
    limit: int = Field(default=10, ge=0)
    after: str | int | None = None


class SearchableRecord(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def properties(self) -> Mapping[str, str]: ...


Rec = TypeVar("Rec", bound=SearchableRecord)


@dataclass(frozen=True)
class SearchPage(Generic[Rec]):
    total: int
    results: list[Rec]
    next_after: str | None


def limit_problems(body: SearchBody) -> list[str]:
    """Why HubSpot would refuse this body with 400 VALIDATION_ERROR (reference §3)."""
    problems: list[str] = []
    groups = body.filter_groups
    total = sum(len(group.filters) for group in groups)
    if len(groups) > MAX_GROUPS:
        problems.append(f"Too many filter groups: {len(groups)}; the maximum is {MAX_GROUPS}")
    for index, group in enumerate(groups):
        if len(group.filters) > MAX_FILTERS_PER_GROUP:
            problems.append(
                f"filterGroups[{index}] has {len(group.filters)} filters;"
                f" the maximum per group is {MAX_FILTERS_PER_GROUP}"
            )
    if total > MAX_FILTERS:
        problems.append(f"Too many filters: {total}; the maximum is {MAX_FILTERS} in total")
    if len(body.sorts) > MAX_SORTS:
        problems.append(f"Too many sorts: {len(body.sorts)}; the maximum is {MAX_SORTS}")
    if body.limit > MAX_LIMIT:
        problems.append(f"limit {body.limit} is over the maximum of {MAX_LIMIT}")
    offset = _offset(body.after)
    if offset is None:
        problems.append(f"after {body.after!r} is not a non-negative integer offset")
    elif offset >= MAX_REACHABLE_RESULTS:
        problems.append(
            f"after {offset} pages past the {MAX_REACHABLE_RESULTS} results a search can reach"
        )
    for gi, group in enumerate(groups):
        for fi, item in enumerate(group.filters):
            where = f"filterGroups[{gi}].filters[{fi}] ({item.property_name} {item.operator})"
            if item.operator in _NEEDS_VALUE and item.value is None:
                problems.append(f"{where} needs a value")
            elif item.operator in _NEEDS_VALUES and not item.values:
                problems.append(f"{where} needs values")
            elif item.operator == "BETWEEN" and (item.value is None or item.high_value is None):
                problems.append(f"{where} needs value and highValue")
    return problems


def run_search(
    object_type: ObjectType,
    body: SearchBody,
    records: Sequence[Rec],
    *,
    definitions: Mapping[str, PropertyDefinition],
    associated: AssociatedIds,
) -> SearchPage[Rec]:
    """Match, sort and page; ``body`` must have passed ``limit_problems``."""
    matched = [
        record
        for record in records
        if _matches_groups(record, body.filter_groups, definitions, associated)
        and _matches_query(object_type, record, body.query)
    ]
    matched = _sorted(matched, body.sorts, definitions)
    offset = _offset(body.after) or 0
    end = min(offset + body.limit, len(matched), MAX_REACHABLE_RESULTS)
    page = matched[offset:end]
    more = end < len(matched) and end < MAX_REACHABLE_RESULTS
    return SearchPage(total=len(matched), results=page, next_after=str(end) if more else None)


def _offset(after: str | int | None) -> int | None:
    if after is None or after == "":
        return 0
    text = str(after).strip()
    return int(text) if text.isdigit() else None


def _matches_groups(
    record: SearchableRecord,
    groups: Sequence[SearchFilterGroup],
    definitions: Mapping[str, PropertyDefinition],
    associated: AssociatedIds,
) -> bool:
    if not groups:
        return True
    return any(
        all(_matches(record, item, definitions, associated) for item in group.filters)
        for group in groups
    )


def _matches(
    record: SearchableRecord,
    item: SearchFilter,
    definitions: Mapping[str, PropertyDefinition],
    associated: AssociatedIds,
) -> bool:
    if item.property_name.startswith("associations."):
        return _matches_association(record, item, associated)
    definition = definitions.get(item.property_name)
    kind = definition.type if definition else "string"
    multi = definition is not None and definition.field_type == "checkbox"
    stored = record.properties.get(item.property_name, "")
    has_value = stored != ""
    match item.operator:
        case "HAS_PROPERTY":
            return has_value
        case "NOT_HAS_PROPERTY":
            return not has_value
        case "EQ":
            return has_value and _equal(kind, stored, _text(item.value), multi=multi)
        case "NEQ":
            return not (has_value and _equal(kind, stored, _text(item.value), multi=multi))
        case "IN":
            return has_value and _in(kind, stored, item.values or [], multi=multi)
        case "NOT_IN":
            return not (has_value and _in(kind, stored, item.values or [], multi=multi))
        case "CONTAINS_TOKEN":
            return has_value and _contains_token(stored, _text(item.value))
        case "NOT_CONTAINS_TOKEN":
            return not (has_value and _contains_token(stored, _text(item.value)))
        case "BETWEEN":
            low = _compare(kind, stored, _text(item.value))
            high = _compare(kind, stored, _text(item.high_value))
            return has_value and low is not None and high is not None and low >= 0 >= high
        case _:
            order = _compare(kind, stored, _text(item.value)) if has_value else None
            if order is None:
                return False
            return {"LT": order < 0, "LTE": order <= 0, "GT": order > 0, "GTE": order >= 0}[
                item.operator
            ]


def _matches_association(
    record: SearchableRecord, item: SearchFilter, associated: AssociatedIds
) -> bool:
    """``associations.contact EQ 201``: the record is associated with contact 201."""
    to_type = resolve_object_type(item.property_name.removeprefix("associations."))
    ids = set(associated(record.id, to_type)) if to_type else set()
    wanted = {_text(v) for v in item.values or ()}
    match item.operator:
        case "EQ":
            return _text(item.value) in ids
        case "NEQ":
            return _text(item.value) not in ids
        case "IN":
            return bool(ids & wanted)
        case "NOT_IN":
            return not ids & wanted
        case "HAS_PROPERTY":
            return bool(ids)
        case "NOT_HAS_PROPERTY":
            return not ids
        case _:
            return False


def _text(value: Scalar | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _equal(kind: str, stored: str, given: str, *, multi: bool) -> bool:
    if multi:
        return given in stored.split(";")
    return _compare(kind, stored, given) == 0


def _in(kind: str, stored: str, values: Sequence[Scalar], *, multi: bool) -> bool:
    texts = [_text(value) for value in values]
    if multi:
        return any(part in texts for part in stored.split(";"))
    if kind == "string":
        # reference §3: IN on string properties compares with lower-case values as given.
        return stored.lower() in texts
    return any(_compare(kind, stored, text) == 0 for text in texts)


def _compare(kind: str, stored: str, given: str) -> int | None:
    """-1, 0 or 1 comparing a stored value with a filter value; None if not comparable."""
    if kind in _NUMERIC_KINDS:
        left, right = _numeric(kind, stored), _numeric(kind, given)
        if left is None or right is None:
            return None
        return (left > right) - (left < right)
    left_text, right_text = _textual(kind, stored), _textual(kind, given)
    return (left_text > right_text) - (left_text < right_text)


def _numeric(kind: str, text: str) -> Decimal | None:
    """Numbers as themselves, dates and datetimes as epoch milliseconds."""
    if kind == "number":
        return parse_number(text)
    ms = parse_instant_ms(text)
    return None if ms is None else Decimal(ms)


def _textual(kind: str, text: str) -> str:
    # Enumeration values compare case-sensitively, other text case-insensitively (§3).
    return text if kind == "enumeration" else text.casefold()


def _contains_token(stored: str, pattern: str) -> bool:
    """A token of the value equals ``pattern``; ``*`` in the pattern matches any run."""
    regex = re.compile(
        "^" + ".*".join(re.escape(part) for part in pattern.casefold().split("*")) + "$",
        re.DOTALL,
    )
    value = stored.casefold()
    tokens = {value, *value.split(), *(t for t in _TOKEN_SPLIT.split(value) if t)}
    return any(regex.match(token) for token in tokens)


def _matches_query(object_type: ObjectType, record: SearchableRecord, query: str | None) -> bool:
    """Every word of ``query`` starts a token of one of the type's default text properties."""
    if not query or not query.strip():
        return True
    tokens: set[str] = set()
    for name in TEXT_SEARCH_PROPERTIES[object_type]:
        value = record.properties.get(name, "").casefold()
        tokens.update({value, *value.split(), *(t for t in _TOKEN_SPLIT.split(value) if t)})
    return all(any(token.startswith(word) for token in tokens) for word in query.casefold().split())


def _sorted(
    records: list[Rec],
    sorts: Sequence[SearchSort],
    definitions: Mapping[str, PropertyDefinition],
) -> list[Rec]:
    by_id = sorted(records, key=lambda r: int(r.id) if r.id.isdigit() else 0)
    if not sorts:
        return by_id
    sort = sorts[0]
    definition = definitions.get(sort.property_name)
    kind = definition.type if definition else "string"
    descending = sort.direction == "DESCENDING"
    missing: list[Rec] = []
    # Python's sort is stable (also reversed), so ties keep id order; no value sorts last.
    if kind in _NUMERIC_KINDS:
        numbers: list[tuple[Decimal, Rec]] = []
        for record in by_id:
            number = _numeric(kind, record.properties.get(sort.property_name, ""))
            if number is None:
                missing.append(record)
            else:
                numbers.append((number, record))
        numbers.sort(key=lambda pair: pair[0], reverse=descending)
        return [record for _, record in numbers] + missing
    texts: list[tuple[str, Rec]] = []
    for record in by_id:
        stored = record.properties.get(sort.property_name, "")
        if stored == "":
            missing.append(record)
        else:
            texts.append((_textual(kind, stored), record))
    texts.sort(key=lambda pair: pair[0], reverse=descending)
    return [record for _, record in texts] + missing
