"""The evaluation ruler on synthetic predictions whose scores are computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from runtime.agents.evaluation.scoring import (
    SCORED_FIELDS,
    Prediction,
    Proposal,
    expected_calibration_error,
    next_step_overlap,
    next_step_tokens,
    normalise_amount,
    normalise_date,
    normalise_stage,
    same_value,
    score_case,
    summarise,
)

NEXT_STEP = "Send the MSA to Dana's legal team by Friday"
STAGES = {"contract sent": "contractsent", "contractsent": "contractsent"}


def _p(field: str, value: str, confidence: float, *, auto: bool = False) -> Proposal:
    return Proposal(field=field, value=value, confidence=confidence, auto_applied=auto)


def _three_cases():
    """Case a: right deal, mixed values; b: wrong deal; c: right deal, nothing proposed."""
    a = score_case(
        Prediction(
            deal_id="301",
            proposals=(
                _p("amount", "60000.00", 0.9, auto=True),  # right
                _p("closedate", "2026-05-01", 0.8, auto=True),  # wrong value: fp and fn
                _p("hs_next_step", "Send MSA to Dana legal team Friday", 0.6),  # right
                _p("dealstage", "contractsent", 0.7),  # must not change: fp
            ),
        ),
        deal_id="301",
        fields={"amount": "60000", "closedate": "2026-04-30", "hs_next_step": NEXT_STEP},
        name="a",
    )
    b = score_case(
        Prediction(deal_id="302", proposals=(_p("amount", "5000", 0.95, auto=True),)),
        deal_id=None,
        fields={},
        name="b",
    )
    c = score_case(
        Prediction(deal_id="303"), deal_id="303", fields={"dealstage": "closedwon"}, name="c"
    )
    return [a, b, c]


def test_per_field_counts_precision_recall_and_f1() -> None:
    report = summarise(_three_cases(), threshold=0.8)
    fields = {name: score.model_dump() for name, score in report.per_field.items()}
    assert list(fields) == list(SCORED_FIELDS)
    assert fields["amount"] == pytest.approx(
        {"tp": 1, "fp": 1, "fn": 0, "precision": 0.5, "recall": 1.0, "f1": 2 / 3}
    )
    assert fields["closedate"] == {
        "tp": 0, "fp": 1, "fn": 1, "precision": 0.0, "recall": 0.0, "f1": 0.0
    }  # fmt: skip
    assert fields["hs_next_step"] == {
        "tp": 1, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0, "f1": 1.0
    }  # fmt: skip
    assert fields["dealstage"] == {
        "tp": 0, "fp": 1, "fn": 1, "precision": 0.0, "recall": 0.0, "f1": 0.0
    }  # fmt: skip


def test_match_accuracy_ece_and_the_auto_apply_figures() -> None:
    report = summarise(_three_cases(), threshold=0.8)
    assert report.cases == 3
    assert report.match_accuracy == pytest.approx(2 / 3)
    # Bins: [0.9,1.0] {0.9 right, 0.95 wrong} |1-1.85|; [0.8,0.9) {0.8 wrong} 0.8;
    # [0.7,0.8) {0.7 wrong} 0.7; [0.6,0.7) {0.6 right} 0.4 -> (0.85+0.8+0.7+0.4)/5.
    assert report.ece == pytest.approx(0.55)
    # Auto-applied: amount a (right), closedate a (wrong), amount b (wrong deal).
    assert report.auto_precision == pytest.approx(1 / 3)
    # One right automatic write out of four expected updates (three in a, one in c).
    assert report.auto_coverage == pytest.approx(1 / 4)
    assert report.threshold == 0.8


def test_the_json_has_exactly_the_contract_keys() -> None:
    dumped = summarise(_three_cases(), threshold=0.8).model_dump(mode="json")
    assert set(dumped) == {
        "cases",
        "per_field",
        "match_accuracy",
        "ece",
        "auto_precision",
        "auto_coverage",
        "threshold",
    }
    assert set(dumped["per_field"]["amount"]) == {"precision", "recall", "f1", "tp", "fp", "fn"}


def test_undefined_ratios_are_null_not_flattering() -> None:
    nothing = score_case(Prediction(deal_id=None), deal_id=None, fields={})
    report = summarise([nothing], threshold=0.9)
    assert report.match_accuracy == 1.0  # null == null
    assert report.ece is None
    assert report.auto_precision is None
    assert report.auto_coverage is None
    assert report.per_field["amount"].model_dump() == {
        "precision": None, "recall": None, "f1": None, "tp": 0, "fp": 0, "fn": 0
    }  # fmt: skip
    empty = summarise([], threshold=0.9)
    assert empty.cases == 0
    assert empty.match_accuracy is None


def test_a_proposal_nobody_expected_gives_f1_zero_and_recall_null() -> None:
    case = score_case(
        Prediction(deal_id="301", proposals=(_p("amount", "1", 0.5),)), deal_id="301", fields={}
    )
    amount = summarise([case], threshold=0.9).per_field["amount"]
    assert (amount.precision, amount.recall, amount.f1) == (0.0, None, 0.0)


def test_nothing_auto_applied_leaves_precision_null_and_coverage_zero() -> None:
    case = score_case(
        Prediction(deal_id="301", proposals=(_p("amount", "60000", 0.5),)),
        deal_id="301",
        fields={"amount": "60000"},
    )
    report = summarise([case], threshold=0.9)
    assert report.auto_precision is None
    assert report.auto_coverage == 0.0
    assert report.per_field["amount"].tp == 1


def test_a_right_value_on_the_wrong_deal_is_a_false_positive_and_a_miss() -> None:
    case = score_case(
        Prediction(deal_id="302", proposals=(_p("amount", "60000", 0.9, auto=True),)),
        deal_id="301",
        fields={"amount": "60000"},
    )
    assert case.counts["amount"].model_dump() == {"tp": 0, "fp": 1, "fn": 1}
    assert not case.match_correct


def test_a_create_is_scored_on_the_fields_expected_for_the_new_deal() -> None:
    case = score_case(
        Prediction(deal_id=None, proposals=(_p("amount", "25000", 0.7),)),
        deal_id=None,
        fields={"amount": "25000"},
    )
    assert case.match_correct
    assert case.counts["amount"].tp == 1


def test_a_create_where_no_deal_exists_changes_nothing_so_its_values_are_not_scored() -> None:
    proposals = (_p("amount", "25000", 0.7), _p("hs_next_step", "Send a proposal", 0.6))
    create = score_case(Prediction(deal_id=None, proposals=proposals), deal_id=None, fields={})
    assert create.match_correct
    assert create.proposals == ()
    assert all(c.model_dump() == {"tp": 0, "fp": 0, "fn": 0} for c in create.counts.values())
    # The same values written onto an existing deal are changes nobody asked for.
    update = score_case(Prediction(deal_id="301", proposals=proposals), deal_id=None, fields={})
    assert update.counts["amount"].fp == 1
    assert update.counts["hs_next_step"].fp == 1


def test_a_duplicate_right_proposal_counts_once() -> None:
    case = score_case(
        Prediction(
            deal_id="301",
            proposals=(_p("amount", "60000", 0.9, auto=True), _p("amount", "60,000", 0.8)),
        ),
        deal_id="301",
        fields={"amount": "60000"},
    )
    assert case.counts["amount"].model_dump() == {"tp": 1, "fp": 1, "fn": 0}
    assert [p.correct for p in case.proposals] == [True, False]


def test_unscored_fields_are_ignored() -> None:
    case = score_case(
        Prediction(deal_id="301", proposals=(_p("dealname", "Acme", 0.9, auto=True),)),
        deal_id="301",
        fields={},
    )
    assert case.proposals == ()
    assert summarise([case], threshold=0.5).auto_precision is None


def test_ece_bins_are_equal_width_with_one_in_the_top_bin() -> None:
    assert expected_calibration_error([]) is None
    assert expected_calibration_error([(1.0, True), (0.0, False)]) == 0.0
    # Both in [0.2, 0.3): mean confidence 0.25, accuracy 0.5.
    assert expected_calibration_error([(0.2, True), (0.3 - 1e-9, False)]) == pytest.approx(0.25)
    # Separate bins: |1-0.95| and |0-0.05| -> 0.1 / 2.
    assert expected_calibration_error([(0.95, True), (0.05, False)]) == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("text", "number"),
    [("60000", Decimal(60000)), (" 60000.00 ", Decimal(60000)), ("60,000", Decimal(60000))],
)
def test_amounts_compare_as_numbers(text: str, number: Decimal) -> None:
    assert normalise_amount(text) == number


@pytest.mark.parametrize("text", ["sixty thousand", "", "NaN", "Infinity", "60k"])
def test_an_amount_that_is_no_number_matches_nothing(text: str) -> None:
    assert normalise_amount(text) is None
    assert not same_value("amount", text, "60000")


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-04-30", date(2026, 4, 30)),
        ("2026-04-30T00:00:00Z", date(2026, 4, 30)),
        ("2026-04-30T00:00:00.000Z", date(2026, 4, 30)),
        ("2026-04-30T22:30:00-05:00", date(2026, 5, 1)),  # the UTC day
        ("2026-04-30T12:00:00", date(2026, 4, 30)),
    ],
)
def test_close_dates_compare_as_dates(text: str, day: date) -> None:
    assert normalise_date(text) == day


def test_a_close_date_that_is_no_date_matches_nothing() -> None:
    assert normalise_date("end of April") is None
    assert not same_value("closedate", "end of April", "2026-04-30")


def test_stages_compare_by_id_and_a_label_resolves_to_its_id() -> None:
    assert normalise_stage(" ContractSent ") == "contractsent"
    assert same_value("dealstage", "Contract Sent", "contractsent", stages=STAGES)
    assert not same_value("dealstage", "Contract Sent", "contractsent")
    assert not same_value("dealstage", "closedwon", "contractsent", stages=STAGES)


def test_next_step_tokens_drop_case_stop_words_and_possessives() -> None:
    assert next_step_tokens(NEXT_STEP) == {"send", "msa", "dana", "legal", "team", "fri"}


def test_next_step_tokens_shorten_day_and_month_names_and_drop_plurals() -> None:
    assert next_step_tokens("Send invoices by Friday, February 14") == {
        "send", "invoice", "fri", "feb", "14"
    }  # fmt: skip
    assert next_step_tokens("Fri Feb 14: process docs") == {"fri", "feb", "14", "process", "doc"}


@pytest.mark.parametrize(
    ("words", "digits"),
    [
        ("thirty-five agents", {"35", "agent"}),
        ("forty seats", {"40", "seat"}),
        ("Friday the twelfth", {"fri", "12"}),
        ("the 21st", {"21"}),
        ("twenty-first of May", {"21", "may"}),
        ("20 5-year terms", {"20", "5", "year", "term"}),  # digits are never added up
    ],
)
def test_next_step_numbers_become_digits(words: str, digits: set[str]) -> None:
    assert next_step_tokens(words) == digits


@pytest.mark.parametrize(
    ("predicted", "overlap", "right"),
    [
        ("Dana's legal team gets the MSA; we send it Friday", 6 / 7, True),
        ("send MSA, Dana", 3 / 6, True),  # exactly the bar
        ("Email pricing to Dana", 1 / 6, False),
        # The expected words plus as many others is the bar; one more and the longer set wins.
        (
            NEXT_STEP + " and book a pricing demo with procurement, security and finance",
            6 / 12,
            True,
        ),
        (
            NEXT_STEP + " and book a pricing demo with procurement, security, finance and HR",
            6 / 13,
            False,
        ),
        ("", 0.0, False),
    ],
)
def test_next_steps_compare_by_token_overlap(predicted: str, overlap: float, right: bool) -> None:
    assert next_step_overlap(predicted, NEXT_STEP) == pytest.approx(overlap)
    assert same_value("hs_next_step", predicted, NEXT_STEP) is right
