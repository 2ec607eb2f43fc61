"""Numbers as people say and type them: the values and hints the amount rules build on."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runtime.agents.extractors.numbers import find_amounts, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("60,000", "60000"),
        ("1.2", "1.2"),
        ("45,500.50", "45500.50"),
        ("45k", "45000"),
        ("45K", "45000"),
        ("1.2m", "1200000"),
        ("$2.5M", "2500000"),
        ("3mm", "3000000"),
        ("2bn", "2000000000"),
        ("60 thousand", "60000"),
        ("sixty thousand", "60000"),
        ("one hundred and twelve thousand five hundred", "112500"),
        ("one point two million", "1200000"),
        ("a hundred k", "100000"),
        ("sixty-five grand", "65000"),
        ("eighteen hundred", "1800"),
        ("twenty-five hundred", "2500"),
        ("six thousand nine hundred and twelve", "6912"),
        ("a hundred and twenty-eight thousand seven hundred fifty", "128750"),
        ("eighteen and a half thousand", "18500"),
        ("two and a half million", "2500000"),
        ("three and a half k", "3500"),
        # Spoken shorthand stays unscaled: the caller decides whether it means thousands.
        ("one eighty-six", "186"),
        ("two-forty", "240"),
        ("one twelve five", "112.5"),
        ("forty-three two", "43.2"),
        ("fifty-four seven twenty", "54720"),
        ("thirty-one six eighty", "31680"),
        ("sixty thousand four eighty", "60480"),
        ("sixty thousand four eighty-five", "60485"),
    ],
)
def test_a_number_is_read_whole(text: str, value: str) -> None:
    assert parse_number(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "hello", "sixty apples", "Q3", "9/30"])
def test_what_is_not_a_number_is_none(text: str) -> None:
    assert parse_number(text) is None


def test_shorthand_is_flagged_and_a_grammatical_number_is_not() -> None:
    [shorthand] = find_amounts("I can come down to one eighty-six per year.")
    assert (shorthand.value, shorthand.shorthand) == (Decimal(186), True)
    [whole] = find_amounts("That's one hundred and eighty-six thousand.")
    assert (whole.value, whole.shorthand, whole.kind) == (Decimal(186000), False, "money")


@pytest.mark.parametrize(
    ("text", "value", "kind", "currency", "unit", "period"),
    [
        ("We have budget of about 60k.", "60000", "money", None, None, None),
        ("It's $84,000/yr all in.", "84000", "money", "USD", None, "year"),
        ("GBP 186k for the platform.", "186000", "money", "GBP", None, None),
        ("sixty thousand dollars", "60000", "money", "USD", None, None),
        ("$540 per seat", "540", "per_unit", "USD", "seat", None),
        ("35 a month per user", "35", "per_unit", None, "user", "month"),
        ("$1,050/agent", "1050", "per_unit", "USD", "agent", None),
        ("$1,200 each", "1200", "per_unit", "USD", None, None),
        ("eight dollars per employee per month", "8", "per_unit", "USD", "employee", "month"),
        ("We need 40 seats.", "40", "count", None, "seat", None),
        ("about nine thousand parcels a month", "9000", "count", None, "parcel", None),
        ("sixty refrigerated trucks", "60", "count", None, "truck", None),
        ("six hundred staff", "600", "count", None, "staff", None),
        ("ten percent off", "10", "percent", None, None, None),
        ("a 3% uplift", "3", "percent", None, None, None),
        ("We're not paying seventy.", "70", "bare", None, None, None),
        ("Then ninety a seat.", "90", "per_unit", None, "seat", None),
        ("Fifteen seventy-five an endpoint.", "15.75", "per_unit", None, "endpoint", None),
    ],
)
def test_each_mention_says_what_it_counts(
    text: str, value: str, kind: str, currency: str | None, unit: str | None, period: str | None
) -> None:
    [mention] = find_amounts(text)
    assert (mention.value, mention.kind) == (Decimal(value), kind)
    assert (mention.currency, mention.unit, mention.period) == (currency, unit, period)
    assert text[mention.start : mention.end] == mention.raw


@pytest.mark.parametrize(
    "text",
    [
        "Sign by 9/30 at 3:40pm.",
        "SOC 2 and Q3 and net-45.",
        "We started in 2019.",
        "Let's meet in 30m.",
        "Tuesday the twenty-second works.",
    ],
)
def test_dates_times_years_and_codes_are_not_numbers(text: str) -> None:
    assert find_amounts(text) == []


def test_a_run_stops_at_punctuation() -> None:
    found = find_amounts("Thirty, fourteen and three days before.")
    assert [m.value for m in found] == [Decimal(30), Decimal(14), Decimal(3)]
    assert found[-1].kind == "count"


def test_a_number_before_a_or_an_is_a_unit_price_only_before_a_unit() -> None:
    [lot] = find_amounts("We'd buy sixty a lot sooner.")
    assert (lot.value, lot.kind) == (Decimal(60), "bare")
    assert [m.value for m in find_amounts("fifty seventy")] == [Decimal(50), Decimal(70)]
