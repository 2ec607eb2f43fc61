"""The evaluation ruler: compare an agent's proposals with a corpus case's expected outcome.

Pure functions; no I/O. Definitions (spec meetings-and-corpus §3, §4):

Values are compared after normalising them per field:

- ``amount`` as a number (``"60000"`` == ``"60000.00"`` == ``"60,000"``);
- ``closedate`` as a calendar date: ``YYYY-MM-DD`` or an ISO-8601 timestamp, which counts by
  its UTC date when it carries a zone (HubSpot stores dates as midnight UTC);
- ``dealstage`` as the stage id: a stage label resolves to its id when the pipeline's
  stages are given, and ids compare case-insensitively;
- ``hs_next_step`` by meaning: ``overlap = |P ∩ E| / max(|P|, |E|)`` over the sets of
  content tokens of the prediction (P) and the expected step (E); ``overlap >= 0.5`` counts
  as right. Dividing by the larger set penalises a prediction that pastes half the
  transcript as much as one that misses half the step. Tokens are lower-cased runs of
  letters and digits with a possessive ``'s`` dropped and ``STOP_WORDS`` removed; numbers
  below 100 become digits (``thirty-five`` → ``35``, ``twelfth`` and ``12th`` → ``12``), day
  and month names their three-letter form (``Friday`` → ``fri``), and words over three
  letters lose a plural ``s`` (``invoices`` → ``invoice``).

A proposal is **correct** when the predicted deal equals the expected deal (``None`` equals
``None``: a create for a meeting that matches no deal), the field is one the expected
outcome lists, and the value is the same after normalising. Only the first correct proposal
for a (case, field) counts as correct; a duplicate is not. When both the expected and the
predicted deal are ``None`` (the agent proposes creating a deal where none exists, which the
spec counts as right), proposals for fields the expected outcome does not list are the new
deal's initial values, not changes: they are left unscored. Per field, per case:

- tp: correct proposals;
- fp: proposals that are not correct (a wrong value, a field that must not change, or any
  proposal on the wrong deal);
- fn: expected fields without a correct proposal (so a wrong value is an fp and an fn).

Counts add up over cases (micro-average). ``None`` marks what is undefined, never a
flattering number: precision ``tp/(tp+fp)`` is ``None`` when nothing was proposed, recall
``tp/(tp+fn)`` is ``None`` when nothing was expected, and F1 ``2tp/(2tp+fp+fn)`` is ``None``
only when all three counts are zero (so proposing into a field nobody expected gives F1 0).

Match accuracy is the share of cases whose predicted deal id equals the expected one.
ECE uses 10 equal-width confidence bins ``[0, 0.1), ..., [0.9, 1.0]`` over every proposal:
``sum over bins of |correct_b - confidence_sum_b| / N`` (``None`` with no proposals).
At the threshold, ``auto_precision = correct auto-applied / auto-applied`` (``None`` when
nothing would be auto-applied) and ``auto_coverage = correct auto-applied / expected field
updates`` over all cases (``None`` when the corpus expects no updates).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ECE_BINS",
    "NEXT_STEP_MIN_OVERLAP",
    "SCORED_FIELDS",
    "STOP_WORDS",
    "CaseScore",
    "EvalReport",
    "FieldCounts",
    "FieldScore",
    "Prediction",
    "Proposal",
    "ScoredField",
    "ScoredProposal",
    "expected_calibration_error",
    "f1_score",
    "next_step_overlap",
    "next_step_tokens",
    "normalise_amount",
    "normalise_date",
    "normalise_stage",
    "ratio",
    "same_value",
    "score_case",
    "summarise",
]

ScoredField = Literal["dealstage", "amount", "closedate", "hs_next_step"]
SCORED_FIELDS: tuple[ScoredField, ...] = ("dealstage", "amount", "closedate", "hs_next_step")
NEXT_STEP_MIN_OVERLAP = 0.5
ECE_BINS = 10

_STOP_WORDS = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could d did do does doing don down during each few for
    from further had has have having he her here hers herself him himself his how i if in into
    is it its itself just let ll m me more most my myself no nor not now o of off on once only
    or other our ours ourselves out over own re s same shall she should so some such t than
    that the their theirs them themselves then there these they this those through to too
    under until up us ve very was we were what when where which while who whom why will with
    would y you your yours yourself yourselves
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
"""English function words that carry no meaning of a next step."""

_SHORT_NAMES = {
    "monday": "mon",
    "tuesday": "tue",
    "tues": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "thur": "thu",
    "thurs": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
    "january": "jan",
    "february": "feb",
    "march": "mar",
    "april": "apr",
    "june": "jun",
    "july": "jul",
    "august": "aug",
    "september": "sep",
    "sept": "sep",
    "october": "oct",
    "november": "nov",
    "december": "dec",
}
# fmt: off
_UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
_UNIT_ORDINALS = (
    "zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
    "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
    "sixteenth", "seventeenth", "eighteenth", "nineteenth",
)
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_TENS_ORDINALS = (
    "twentieth", "thirtieth", "fortieth", "fiftieth", "sixtieth", "seventieth", "eightieth",
    "ninetieth",
)
# fmt: on
_NUMBER_WORDS = {
    **{word: value for value, word in enumerate(_UNITS)},
    **{word: value for value, word in enumerate(_UNIT_ORDINALS)},
    **{word: 20 + 10 * index for index, word in enumerate(_TENS)},
    **{word: 20 + 10 * index for index, word in enumerate(_TENS_ORDINALS)},
}
_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)")
_MODEL = ConfigDict(frozen=True)
_POSSESSIVE = re.compile(r"['\u2019]s\b")
_TOKEN = re.compile(r"[a-z0-9]+")


def normalise_amount(value: str) -> Decimal | None:
    """The amount as a number, or None when it is not one (thousands commas allowed)."""
    try:
        number = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def normalise_date(value: str) -> date | None:
    """The calendar date of ``YYYY-MM-DD`` or an ISO-8601 timestamp (its UTC date if zoned)."""
    text = value.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None and moment.utcoffset() is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def normalise_stage(value: str, stages: Mapping[str, str] | None = None) -> str:
    """The stage id: ``stages`` maps case-folded ids and labels to ids."""
    key = value.strip().casefold()
    if stages is not None and key in stages:
        return stages[key].casefold()
    return key


def next_step_tokens(text: str) -> frozenset[str]:
    """Content tokens of a next step (see the module docstring)."""
    words = _digits(_TOKEN.findall(_POSSESSIVE.sub("", text.lower())))
    return frozenset(_token(w) for w in words if w not in STOP_WORDS)


def _digits(words: list[str]) -> list[str]:
    """Number words and ordinals below 100 as digits; ``thirty five`` is one number."""
    out: list[str] = []
    tens_word = False  # the last word was "twenty".."ninety": "five" may complete it
    for word in words:
        ordinal = _ORDINAL.fullmatch(word)
        value = int(ordinal[1]) if ordinal else _NUMBER_WORDS.get(word)
        if value is None:
            out.append(word)
        elif tens_word and not ordinal and 0 < value < 10:
            out[-1] = str(int(out[-1]) + value)
        else:
            out.append(str(value))
        tens_word = word in _TENS
    return out


def _token(word: str) -> str:
    word = _SHORT_NAMES.get(word, word)
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def next_step_overlap(predicted: str, expected: str) -> float:
    """``|P ∩ E| / max(|P|, |E|)`` over content tokens; 0.0 when either text has none."""
    p, e = next_step_tokens(predicted), next_step_tokens(expected)
    if not p or not e:
        return 0.0
    return len(p & e) / max(len(p), len(e))


def same_value(
    field: str, predicted: str, expected: str, *, stages: Mapping[str, str] | None = None
) -> bool:
    """Whether a predicted value is the expected one, after the field's normalisation."""
    if field == "amount":
        number = normalise_amount(predicted)
        return number is not None and number == normalise_amount(expected)
    if field == "closedate":
        day = normalise_date(predicted)
        return day is not None and day == normalise_date(expected)
    if field == "dealstage":
        return normalise_stage(predicted, stages) == normalise_stage(expected, stages)
    if field == "hs_next_step":
        return next_step_overlap(predicted, expected) >= NEXT_STEP_MIN_OVERLAP
    return predicted.strip() == expected.strip()


class Proposal(BaseModel):
    """One proposed field update, as the agent would route it."""

    model_config = _MODEL

    field: str
    value: str
    confidence: float = Field(ge=0.0, le=1.0)
    auto_applied: bool = Field(description="Would be written without a human.")


class Prediction(BaseModel):
    """What the agent did on one case: the deal it chose (None: no deal, or a create)."""

    model_config = _MODEL

    deal_id: str | None
    proposals: tuple[Proposal, ...] = ()


class ScoredProposal(Proposal):
    correct: bool


class FieldCounts(BaseModel):
    model_config = _MODEL

    tp: int = 0
    fp: int = 0
    fn: int = 0


class CaseScore(BaseModel):
    """One case, scored: kept for the readable report, not part of the JSON contract."""

    model_config = _MODEL

    name: str
    expected_deal_id: str | None
    predicted_deal_id: str | None
    expected_fields: dict[str, str]
    proposals: tuple[ScoredProposal, ...]
    counts: dict[str, FieldCounts]

    @property
    def match_correct(self) -> bool:
        return self.predicted_deal_id == self.expected_deal_id


class FieldScore(BaseModel):
    model_config = _MODEL

    precision: float | None
    recall: float | None
    f1: float | None
    tp: int
    fp: int
    fn: int


class EvalReport(BaseModel):
    """The §4 report; ``model_dump(mode="json")`` is exactly the contract's JSON object."""

    model_config = _MODEL

    cases: int = Field(description="Number of cases scored.")
    per_field: dict[str, FieldScore]
    match_accuracy: float | None
    ece: float | None
    auto_precision: float | None
    auto_coverage: float | None
    threshold: float
    details: tuple[CaseScore, ...] = Field(default=(), exclude=True)


def score_case(
    prediction: Prediction,
    *,
    deal_id: str | None,
    fields: Mapping[str, str],
    name: str = "",
    stages: Mapping[str, str] | None = None,
) -> CaseScore:
    """Score one case's prediction against its expected deal and field updates.

    Proposals on fields outside ``SCORED_FIELDS`` are ignored, and so are a new deal's
    unlisted initial values (see the module docstring).
    """
    right_deal = prediction.deal_id == deal_id
    creating = right_deal and deal_id is None
    counts = {field: FieldCounts() for field in SCORED_FIELDS}
    scored: list[ScoredProposal] = []
    hit: set[str] = set()
    for proposal in prediction.proposals:
        if proposal.field not in counts:
            continue
        wanted = fields.get(proposal.field)
        if creating and wanted is None:
            continue
        correct = (
            right_deal
            and wanted is not None
            and proposal.field not in hit
            and same_value(proposal.field, proposal.value, wanted, stages=stages)
        )
        if correct:
            hit.add(proposal.field)
        was = counts[proposal.field]
        counts[proposal.field] = was.model_copy(
            update={"tp": was.tp + 1} if correct else {"fp": was.fp + 1}
        )
        scored.append(ScoredProposal(**proposal.model_dump(), correct=correct))
    for field in fields:
        if field in counts and field not in hit:
            was = counts[field]
            counts[field] = was.model_copy(update={"fn": was.fn + 1})
    return CaseScore(
        name=name,
        expected_deal_id=deal_id,
        predicted_deal_id=prediction.deal_id,
        expected_fields=dict(fields),
        proposals=tuple(scored),
        counts=counts,
    )


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, None when the denominator is 0."""
    return numerator / denominator if denominator else None


def f1_score(tp: int, fp: int, fn: int) -> float | None:
    """``2tp / (2tp + fp + fn)``: the harmonic mean of precision and recall, None at 0/0."""
    return ratio(2 * tp, 2 * tp + fp + fn)


def expected_calibration_error(
    outcomes: Iterable[tuple[float, bool]], *, bins: int = ECE_BINS
) -> float | None:
    """ECE over (confidence, correct) pairs with equal-width bins; None with no pairs.

    Bin ``i`` holds confidences in ``[i/bins, (i+1)/bins)``; the last bin also holds 1.0.
    """
    count = [0] * bins
    correct = [0] * bins
    confidence = [0.0] * bins
    for value, right in outcomes:
        index = min(math.floor(value * bins), bins - 1)
        count[index] += 1
        correct[index] += int(right)
        confidence[index] += value
    total = sum(count)
    if not total:
        return None
    return sum(abs(correct[i] - confidence[i]) for i in range(bins)) / total


def summarise(scores: Sequence[CaseScore], *, threshold: float) -> EvalReport:
    """Add per-case scores up into the §4 report."""
    per_field: dict[str, FieldScore] = {}
    for field in SCORED_FIELDS:
        tp = sum(s.counts[field].tp for s in scores)
        fp = sum(s.counts[field].fp for s in scores)
        fn = sum(s.counts[field].fn for s in scores)
        per_field[field] = FieldScore(
            precision=ratio(tp, tp + fp),
            recall=ratio(tp, tp + fn),
            f1=f1_score(tp, fp, fn),
            tp=tp,
            fp=fp,
            fn=fn,
        )
    proposals = [p for s in scores for p in s.proposals]
    auto = [p for p in proposals if p.auto_applied]
    auto_right = sum(p.correct for p in auto)
    expected_updates = sum(
        1 for s in scores for field in s.expected_fields if field in SCORED_FIELDS
    )
    return EvalReport(
        cases=len(scores),
        per_field=per_field,
        match_accuracy=ratio(sum(s.match_correct for s in scores), len(scores)),
        ece=expected_calibration_error((p.confidence, p.correct) for p in proposals),
        auto_precision=ratio(auto_right, len(auto)),
        auto_coverage=ratio(auto_right, expected_updates),
        threshold=threshold,
        details=tuple(scores),
    )
