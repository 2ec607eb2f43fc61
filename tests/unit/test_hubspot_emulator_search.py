"""CRM search matches, sorts, pages and refuses like HubSpot's (reference §3)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from runtime.crm.hubspot.emulator.search import SearchBody, limit_problems, run_search
from runtime.crm.hubspot.standard import (
    DEFAULT_PIPELINE,
    standard_definitions,
    with_pipeline_options,
)
from runtime.crm.port import ObjectType


@dataclass(frozen=True)
class Row:
    id: str
    properties: Mapping[str, str]
    linked: Mapping[ObjectType, tuple[str, ...]] = field(default_factory=dict)


DEALS = [
    Row(
        "301",
        {
            "dealname": "Acme Expansion",
            "amount": "20000",
            "dealstage": "appointmentscheduled",
            "closedate": "2026-06-30T00:00:00.000Z",
            "hs_priority": "high",
        },
        {"companies": ("101",), "contacts": ("201",)},
    ),
    Row(
        "302",
        {
            "dealname": "Acme Support Renewal",
            "amount": "8000",
            "dealstage": "contractsent",
            "closedate": "2026-04-15T00:00:00.000Z",
        },
        {"companies": ("101",), "contacts": ("202",)},
    ),
    Row(
        "303",
        {
            "dealname": "Globex Platform",
            "amount": "120000",
            "dealstage": "qualifiedtobuy",
            "closedate": "2026-09-30T00:00:00.000Z",
            "hs_priority": "low",
        },
        {"companies": ("102",)},
    ),
    Row("304", {"dealname": "Initech pilot", "dealstage": "closedlost"}),
]
DEFINITIONS = {
    d.name: d for d in with_pipeline_options(standard_definitions("deals"), [DEFAULT_PIPELINE])
}


def _ids(body: dict[str, Any], rows: list[Row] = DEALS) -> list[str]:
    return [row.id for row in _search(body, rows).results]


def _search(body: dict[str, Any], rows: list[Row] = DEALS) -> Any:
    parsed = SearchBody.model_validate(body)
    assert limit_problems(parsed) == []
    by_id = {row.id: row for row in rows}

    def associated(record_id: str, to_type: ObjectType) -> Collection[str]:
        return by_id[record_id].linked.get(to_type, ())

    return run_search("deals", parsed, rows, definitions=DEFINITIONS, associated=associated)


def _where(*filters: dict[str, Any]) -> dict[str, Any]:
    return {"filterGroups": [{"filters": list(filters)}]}


def _f(name: str, operator: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    item = {"propertyName": name, "operator": operator, **extra}
    if value is not None:
        item["value"] = value
    return item


def test_eq_on_a_string_ignores_case() -> None:
    assert _ids(_where(_f("dealname", "EQ", "acme expansion"))) == ["301"]


def test_eq_on_an_enumeration_is_case_sensitive() -> None:
    assert _ids(_where(_f("dealstage", "EQ", "contractsent"))) == ["302"]
    assert _ids(_where(_f("dealstage", "EQ", "ContractSent"))) == []


def test_neq_also_matches_records_without_the_property() -> None:
    assert _ids(_where(_f("hs_priority", "NEQ", "high"))) == ["302", "303", "304"]


def test_number_comparisons_are_numeric_not_lexical() -> None:
    assert _ids(_where(_f("amount", "GT", "9000"))) == ["301", "303"]
    assert _ids(_where(_f("amount", "GTE", 20000))) == ["301", "303"]
    assert _ids(_where(_f("amount", "LT", "20000"))) == ["302"]
    assert _ids(_where(_f("amount", "LTE", "20000"))) == ["301", "302"]


def test_between_is_inclusive_at_both_ends() -> None:
    assert _ids(_where(_f("amount", "BETWEEN", "8000", highValue="20000"))) == ["301", "302"]


def test_date_filters_take_epoch_ms_or_iso() -> None:
    may_first_ms = "1777593600000"  # 2026-05-01T00:00:00Z
    assert _ids(_where(_f("closedate", "LT", may_first_ms))) == ["302"]
    assert _ids(_where(_f("closedate", "GTE", "2026-05-01"))) == ["301", "303"]
    assert _ids(_where(_f("closedate", "EQ", "2026-06-30"))) == ["301"]


def test_in_on_a_string_property_wants_lower_case_values() -> None:
    # reference §3: values of IN for string properties must be lower case.
    assert _ids(_where(_f("dealname", "IN", values=["globex platform", "initech pilot"]))) == [
        "303",
        "304",
    ]
    assert _ids(_where(_f("dealname", "IN", values=["Globex Platform"]))) == []


def test_in_and_not_in_on_an_enumeration() -> None:
    assert _ids(_where(_f("dealstage", "IN", values=["closedlost", "contractsent"]))) == [
        "302",
        "304",
    ]
    assert _ids(_where(_f("dealstage", "NOT_IN", values=["closedlost", "contractsent"]))) == [
        "301",
        "303",
    ]


def test_has_property_and_not_has_property() -> None:
    assert _ids(_where(_f("amount", "HAS_PROPERTY"))) == ["301", "302", "303"]
    assert _ids(_where(_f("amount", "NOT_HAS_PROPERTY"))) == ["304"]


def test_contains_token_matches_whole_words_with_star_wildcards() -> None:
    assert _ids(_where(_f("dealname", "CONTAINS_TOKEN", "acme"))) == ["301", "302"]
    assert _ids(_where(_f("dealname", "CONTAINS_TOKEN", "renew"))) == []
    assert _ids(_where(_f("dealname", "CONTAINS_TOKEN", "renew*"))) == ["302"]
    assert _ids(_where(_f("dealname", "NOT_CONTAINS_TOKEN", "acme"))) == ["303", "304"]


def test_associations_pseudo_property() -> None:
    assert _ids(_where(_f("associations.company", "EQ", "101"))) == ["301", "302"]
    assert _ids(_where(_f("associations.contact", "IN", values=["202", "999"]))) == ["302"]


def test_filters_in_a_group_and_groups_or() -> None:
    both = _where(_f("associations.company", "EQ", "101"), _f("amount", "GT", "10000"))
    assert _ids(both) == ["301"]
    either = {
        "filterGroups": [
            {"filters": [_f("dealstage", "EQ", "closedlost")]},
            {"filters": [_f("amount", "GT", "100000")]},
        ]
    }
    assert _ids(either) == ["303", "304"]


def test_query_searches_default_text_properties_by_word_prefix() -> None:
    assert _ids({"query": "acme"}) == ["301", "302"]
    assert _ids({"query": "acme ren"}) == ["302"]
    assert _ids({"query": "umbrella"}) == []


def test_sorting_by_a_number_puts_records_without_a_value_last() -> None:
    descending = {"sorts": [{"propertyName": "amount", "direction": "DESCENDING"}]}
    assert _ids(descending) == ["303", "301", "302", "304"]
    ascending = {"sorts": [{"propertyName": "amount", "direction": "ASCENDING"}]}
    assert _ids(ascending) == ["302", "301", "303", "304"]


def test_paging_uses_offsets_and_reports_the_total() -> None:
    first = _search({"limit": 3})
    assert (first.total, [r.id for r in first.results], first.next_after) == (
        4,
        ["301", "302", "303"],
        "3",
    )
    last = _search({"limit": 3, "after": first.next_after})
    assert ([r.id for r in last.results], last.next_after) == (["304"], None)


def test_no_page_past_ten_thousand_results() -> None:
    rows = [Row(str(i), {"dealname": f"d{i}"}) for i in range(1, 10_006)]
    page = _search({"limit": 200, "after": "9900"}, rows)
    assert len(page.results) == 100
    assert page.total == 10_005
    assert page.next_after is None


def _problems(body: dict[str, Any]) -> list[str]:
    return limit_problems(SearchBody.model_validate(body))


def test_at_most_five_filter_groups() -> None:
    groups = [{"filters": [_f("amount", "HAS_PROPERTY")]} for _ in range(6)]
    assert _problems({"filterGroups": groups}) == ["Too many filter groups: 6; the maximum is 5"]
    assert _problems({"filterGroups": groups[:5]}) == []


def test_at_most_six_filters_per_group_and_eighteen_in_all() -> None:
    seven = [_f("amount", "HAS_PROPERTY")] * 7
    assert any(
        "maximum per group is 6" in p for p in _problems({"filterGroups": [{"filters": seven}]})
    )
    six = {"filters": [_f("amount", "HAS_PROPERTY")] * 6}
    assert _problems({"filterGroups": [six] * 3}) == []
    four = {"filters": [_f("amount", "HAS_PROPERTY")] * 4}
    assert _problems({"filterGroups": [six] * 3 + [four]})[0].startswith("Too many filters: 22")


def test_at_most_one_sort_and_a_limit_of_two_hundred() -> None:
    sorts = [{"propertyName": "amount"}, {"propertyName": "dealname"}]
    assert _problems({"sorts": sorts}) == ["Too many sorts: 2; the maximum is 1"]
    assert _problems({"limit": 201}) == ["limit 201 is over the maximum of 200"]
    assert _problems({"limit": 200}) == []


def test_paging_past_ten_thousand_is_refused() -> None:
    assert _problems({"after": "10000"}) == [
        "after 10000 pages past the 10000 results a search can reach"
    ]
    assert _problems({"after": "soon"}) == ["after 'soon' is not a non-negative integer offset"]


@pytest.mark.parametrize(
    ("item", "needs"),
    [
        (_f("amount", "GT"), "needs a value"),
        (_f("dealstage", "IN"), "needs values"),
        (_f("amount", "BETWEEN", "1"), "needs value and highValue"),
    ],
)
def test_a_filter_without_its_value_is_refused(item: dict[str, Any], needs: str) -> None:
    problems = _problems(_where(item))
    assert len(problems) == 1
    assert problems[0].endswith(needs)
