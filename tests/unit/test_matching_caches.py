"""The words kept per deal for matching: a hit, a changed deal read afresh, and the bound."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runtime.agents import matching_scores
from runtime.agents.matching_scores import DEAL_TEXT_KEPT_MAX, DEAL_WORDS_KEPT, deal_words
from runtime.agents.matching_text import word_forms, words
from runtime.crm.port import CrmRecord


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    matching_scores._deal_words.cache_clear()
    yield
    matching_scores._deal_words.cache_clear()


def deal(deal_id: str = "7", name: str = "Support Renewals", **properties: str) -> CrmRecord:
    return CrmRecord(id=deal_id, object_type="deals", properties={"dealname": name, **properties})


def test_a_deal_read_again_is_answered_from_the_cache() -> None:
    record = deal(description="Renewing the seats", hs_next_step="Send the quote")
    first = deal_words(record)
    again = deal_words(deal(description="Renewing the seats", hs_next_step="Send the quote"))

    assert again == first
    assert first == (
        tuple(word_forms("Support Renewals").items()),
        frozenset(words("Renewing the seats Send the quote")) - {"support", "renew"},
    )
    info = matching_scores._deal_words.cache_info()
    assert (info.hits, info.misses) == (1, 1)


def test_a_deal_whose_values_changed_is_read_afresh() -> None:
    before = deal_words(deal(description="Pilot for the warehouse"))
    renamed = deal_words(deal(name="Warehouse Expansion", description="Pilot for the warehouse"))
    described = deal_words(deal(description="Rollout to every site"))
    stepped = deal_words(deal(description="Pilot for the warehouse", hs_next_step="Demo"))

    assert before[0] == (("support", "support"), ("renew", "renewals"))
    assert renamed[0] == (("warehouse", "warehouse"), ("expansion", "expansion"))
    assert renamed[1] == frozenset({"pilot"})  # words of the name are not counted twice
    assert described[1] == frozenset({"rollout", "every", "site"})
    assert stepped[1] == frozenset({"pilot", "warehouse", "demo"})
    assert matching_scores._deal_words.cache_info().misses == 4


def test_another_deal_with_the_same_values_is_kept_on_its_own() -> None:
    deal_words(deal("1"))
    deal_words(deal("2"))

    info = matching_scores._deal_words.cache_info()
    assert (info.hits, info.misses, info.currsize) == (0, 2, 2)


def test_the_cache_keeps_at_most_its_bound_dropping_the_least_recently_used() -> None:
    for number in range(DEAL_WORDS_KEPT + 10):
        deal_words(deal(str(number)))
    assert matching_scores._deal_words.cache_info().currsize == DEAL_WORDS_KEPT

    deal_words(deal(str(DEAL_WORDS_KEPT + 9)))  # among the most recent: kept
    deal_words(deal("0"))  # among the oldest: dropped, read again
    info = matching_scores._deal_words.cache_info()
    assert (info.hits, info.misses) == (1, DEAL_WORDS_KEPT + 11)


def test_a_deal_with_a_long_text_is_not_kept() -> None:
    long = "rollout " * (DEAL_TEXT_KEPT_MAX // 8 + 1)
    record = deal(description=long)

    assert deal_words(record) == deal_words(record)
    assert deal_words(record)[1] == frozenset({"rollout"})
    info = matching_scores._deal_words.cache_info()
    assert (info.hits, info.misses, info.currsize) == (0, 0, 0)
