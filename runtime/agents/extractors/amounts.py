"""The deal amount a meeting agreed, read from the figures people said or typed.

Pure functions, no I/O. Numbers come from ``numbers.find_amounts``; these rules decide which
figures are a price for this deal, and how strongly (the ``Signals``). Candidates come out
best first: the strongest commitment, then the latest statement.

Money figures
    A figure with a currency or a multiplier (``$60,000``, ``45k``, ``sixty-five thousand``) is
    money. A bare spoken number under 1,000 (``seventy``, ``one eighty-six``, ``forty-three
    two``) is thousands shorthand when its sentence talks money ("we'll buy it, but at thirty")
    or when it echoes a figure already said in full ("Eighty-four is fine" after "eighty-four
    thousand"). A spoken figure in the thousands without a currency ("seventy-three
    four-forty") is money when its sentence talks money or agrees ("I'm good with ..."), or
    when it echoes a figure already said. Typed bare digits are never shorthand ("85 x 35 x
    12" is arithmetic).

Not the deal amount (the figure is dropped)
    - a question: "Sixty-two?";
    - a budget, a ceiling or an approval threshold: "we have budget of about 60k", "anything
      over fifty thousand goes to the board";
    - a competitor's or the incumbent's price: "another vendor quoted us a hundred and five";
    - past or current spend: "last year we paid thirty-six", "up from a hundred and twenty-five",
      "the old system costs us twenty-two thousand a year", "last year's invoice was 66k";
    - a discount: "ten percent off", "5k off" (percents are never amounts);
    - a one-time fee: "onboarding is a one-time five thousand", "a 3k setup fee";
    - an earlier proposal or estimate: "our proposal was fifty-two";
    - a figure the customer rejects, in the same sentence ("two hundred doesn't fly", "we're
      not paying seventy") or in the next customer turn after the rep said it ("No, too high");
    - a figure taken back by a correction in the same sentence: "sixty... sorry, sixty-five
      thousand" keeps 65,000 (marked ``corrected``), as does "Agreed 72k - CORRECTION: 75k";
    - a hypothetical: "standard support would have been 72k".
    - the customer's answer to a question about budget, spend or a competitor ("What are you
      paying today?" / "About 90k a year.");
    - a rep's figure the customer never accepts or says: a proposal, not the amount (the rep
      confirming the customer's own figure, "That's 31,680, right?" / "Correct.", counts);
    - a reference to a per-unit price ("the eight dollars is fine") and any money figure
      under 100.
    Counts of things ("40 seats", "nine thousand parcels", "eighteen hundred at $8 per user")
    are never money.

Signals
    - ``hedged``: "maybe", "probably", "around", "roughly", "we're hoping", "~" in the sentence;
    - ``committed``: "agreed", "works for us", "we'll sign", "approved", "deal at", "fine",
      "let's do it", "we're in"... in the sentence, or the rep said the figure and the
      customer's next turn accepts it ("At $42 per endpoint that's 84k." / "Fine, let's do it");
    - ``speaker_role``: attendees' ``internal`` flag (internal = rep); a figure the customer
      accepts counts as the customer's; notes are the rep's.
    Ranking: a customer's commitment (or one recorded in the notes) outweighs the rep's, which
    outweighs a plain customer statement, then anything else; ties go to the latest figure,
    so the last agreed figure after corrections wins ("1.35m ... 1.28m, agreed").

Per-unit x units
    A per-unit price ("$540 per seat", "35 a month per user") times a count of that unit ("120
    seats") is an amount only when both are agreed: each is said or accepted by the customer,
    or written in the notes; the latest count wins ("fifty seats - no, fifteen"). A monthly
    price is multiplied by the months stated ("for 6 months"), else by 12 (deal amounts are
    annual values). A product that equals a stated figure adds to that figure's mentions;
    otherwise it is its own, inferred (``explicit=False``) candidate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from runtime.agents.extraction import Candidate, Evidence, Signals, SpeakerRole
from runtime.agents.extractors.numbers import AmountMention, find_amounts
from runtime.agents.extractors.prefilter import PrefilteredPattern, prefiltered
from runtime.agents.extractors.sentences import (
    CAPITAL_SENTENCE_END,
    Sentence,
    meeting_sentences,
)
from runtime.meetings.models import MeetingIn

__all__ = ["AmountCandidate", "extract_amount_candidates"]

_CLAUSE_BREAK = prefiltered(r"[;,]|\s[-\u2013\u2014]\s|\.\.\.|\bbut\b|\bso\b|\(", re.IGNORECASE)
_MONEY_CUE = prefiltered(
    r"[$€£]|\b(?:price[sd]?|pricing|pay|paying|paid|cost|costs|quote[sd]?|proposal|offer"
    r"|deal|budget(?:ed)?|approv\w*|sign\w*|renew\w*|buy|spend|spent|rate|per year|a year"
    r"|for the year|comes? (?:to|out (?:to|at))|total(?:s|ling)?"
    r"|annual(?:ly)?|all[- ]in|dollars|bucks|euros|pounds|grand|come down|go to)\b",
    re.IGNORECASE,
)
_HEDGE = prefiltered(
    r"~|\b(?:maybe|might|probably|possibly|perhaps|hopefully|hoping|hope|likely|roughly"
    r"|approximately|ballpark|guess|tentative(?:ly)?|not sure|i think|or so|around|about"
    r"|give or take|ish|estimate[sd]?|could be|somewhere|something like|depending|between"
    r"|(?:\w+|\d+k?) or (?:\w+|\d+k?) (?:grand|thousand|k)\b)\b",
    re.IGNORECASE,
)
_COMMIT = prefiltered(
    r"\b(?:agree[ds]?|agreement|works for (?:us|me)|we'll sign|i'll sign|sign it|approved?"
    r"|deal(?: at)?|confirm(?:ed|s)?|fine|let's do it|let's go|go ahead|move forward|we're in"
    r"|we'll (?:buy|take|do|go)|i can live with|good with|sounds good|happy to|yes|done"
    r"|we can do|i can do|it is|stays|accept(?:ed)?|correct|exactly|to signature)\b",
    re.IGNORECASE,
)
_REJECT = prefiltered(
    r"\b(?:not paying|won't pay|can't (?:pay|do|go|walk)|doesn't (?:fly|work)|too (?:high|much"
    r"|expensive|steep)|most expensive|no way|not (?:going to|gonna) (?:pay|happen)|out of)\b",
    re.IGNORECASE,
)
_REJECT_TURN = prefiltered(r"^\s*(?:no\b|nope|that's too|too (?:high|much)|we can't)", re.I)
_NOT_AMOUNT: tuple[tuple[str, PrefilteredPattern], ...] = (
    ("budget", prefiltered(r"\bbudget\b|set aside|earmarked|\bceiling\b|\bcap\b", re.I)),
    ("threshold", prefiltered(r"(?:\b(?:over|above|under|below|than|up to|exceed\w*)|[<>])\s*$")),
    (
        "competitor",
        prefiltered(
            r"\b(?:competitor\w*|other (?:vendor|bidder|provider|supplier)s?|another vendor"
            r"|bidder|quoted us|quote from|incumbent|current (?:vendor|provider|supplier)"
            r"|their price)\b",
            re.I,
        ),
    ),
    (
        "past",
        prefiltered(
            r"\b(?:last year|previous(?:ly)?|used to|up from|down from|from|we pay|we paid|paid"
            r"|we spend|we spent|spent|current(?:ly)?|this year's|was|costs? us|(?:we're|we are)"
            r" paying|invoice[sd]?|(?:pay|spend|paying|spending) today)\b",
            re.I,
        ),
    ),
    ("discount", prefiltered(r"\b(?:discount|off)\b", re.I)),
    (
        "one-time fee",
        prefiltered(
            r"\bone[- ]time\b|\b(?:setup|set-up|onboarding|implementation|installation|training)"
            r"\s+(?:fee|cost|charge)s?\b",
            re.I,
        ),
    ),
    (
        "earlier proposal",
        prefiltered(r"\b(?:proposal (?:was|at|is)|last proposal|original\w*|estimate)\b", re.I),
    ),
    ("hypothetical", prefiltered(r"\bwould have been\b|\bif we\b.*\binstead\b", re.I)),
)
_CORRECTION = prefiltered(
    r"\b(?:sorry|no|correction|i mean|i meant|actually|make (?:that|it)|scratch that|rather"
    r"|wrong)\b",
    re.IGNORECASE,
)
_MONTHS_STATED = prefiltered(r"\bfor (\d+|six|three|nine|eighteen|twenty-four) months\b", re.I)
_MONTH_WORDS = {"six": 6, "three": 3, "nine": 9, "eighteen": 18, "twenty-four": 24}
# Units a count and a price may name differently and still mean the same thing; people
# ("220 people total") are not seats ("per agent") unless the price is per person too.
_SEAT_LIKE = {"seat", "user", "agent", "licence", "license", "named"}
_OPERAND_BEFORE = prefiltered(r"(?:\btimes|\bx|\u00d7|\*)\s*$", re.IGNORECASE)
_OPERAND_AFTER = re.compile(r"\s*(?:times\b|x\b|\u00d7|\*)", re.IGNORECASE)
_MIN_AMOUNT = 100  # smaller money figures are unit prices or asides, not deal amounts
_AT_PRICE = re.compile(r"\s+at\b", re.IGNORECASE)
_ROLE_RANK: dict[SpeakerRole, int] = {"rep": 0, "unknown": 1, "customer": 2}


@dataclass(frozen=True, slots=True)
class AmountCandidate:
    """A proposed deal amount: a plain number string ("60000"), evidence and signals."""

    value: str
    evidence: tuple[Evidence, ...]
    signals: Signals

    def to_candidate(self) -> Candidate:
        """The extractor interface's form, for the ``amount`` property."""
        return Candidate(
            field="amount", value=self.value, evidence=self.evidence, signals=self.signals
        )


@dataclass(slots=True)
class _Figure:
    value: Decimal
    sentence: Sentence
    hedged: bool
    committed: bool
    corrected: bool = False
    role: SpeakerRole = "unknown"
    accepted_by: list[Evidence] = field(default_factory=list)
    explicit: bool = True


def extract_amount_candidates(
    meeting: MeetingIn, *, speaker_roles: Mapping[str, SpeakerRole]
) -> list[AmountCandidate]:
    """Deal-amount candidates for a meeting, best first (see the module docstring).

    Args:
        meeting: the meeting; transcript and notes are both read.
        speaker_roles: role per speaker name, case-insensitive (``speaker_roles(meeting)``).
    """
    roles = {name.casefold(): role for name, role in speaker_roles.items()}
    sentences = list(meeting_sentences(meeting, roles, boundary=CAPITAL_SENTENCE_END))
    amounts = _Amounts()
    figures, customer_said = _figures(sentences, amounts)
    _accept_across_turns(figures, sentences)
    product = _agreed_product(sentences, amounts)
    if product is not None:
        figures.append(product)
    return _group(figures, customer_said)


class _Amounts:
    """``find_amounts`` of each sentence text, worked out once per meeting: the rules below
    ask again for the same sentences (a figure's later sentences, every price's echoes)."""

    def __init__(self) -> None:
        self._by_text: dict[str, list[AmountMention]] = {}

    def __call__(self, text: str) -> list[AmountMention]:
        found = self._by_text.get(text)
        if found is None:
            found = self._by_text[text] = find_amounts(text)
        return found


def _figures(sentences: list[Sentence], amounts: _Amounts) -> tuple[list[_Figure], set[Decimal]]:
    """Every money figure said as a price for this deal, with what its sentence says of it,
    and every money value the customer said (in questions too)."""
    known: set[Decimal] = set()
    customer_said: set[Decimal] = set()
    unit_prices = {m.value for s in sentences for m in amounts(s.text) if m.kind == "per_unit"}
    figures: list[_Figure] = []
    for index, sentence in enumerate(sentences):
        money = [
            (mention, value)
            for mention in amounts(sentence.text)
            if (value := _money_value(mention, sentence.text, known, unit_prices)) is not None
        ]
        known.update(value for _, value in money)
        if sentence.role == "customer":
            customer_said.update(value for _, value in money)
        if not money or sentence.text.rstrip().endswith("?"):
            continue  # (a sentence without money has no figure to describe)
        hedged = bool(_HEDGE.search(sentence.text))
        committed = bool(_COMMIT.search(sentence.text))
        kept: list[_Figure] = []
        spoken = [m for m in amounts(sentence.text) if m.kind in ("money", "bare")]
        for mention, value in money:
            later = [m for m in spoken if m.start >= mention.end]
            earlier = [m for m in spoken if m.end <= mention.start]
            if later and _CORRECTION.search(sentence.text[mention.end : later[0].start]):
                continue  # taken back: "sixty... sorry, sixty-five thousand"
            if _excluded(sentence.text, mention, sentence.role) or _answers_other_topic(
                sentences, index
            ):
                continue
            corrected = bool(earlier) and bool(
                _CORRECTION.search(sentence.text[earlier[-1].end : mention.start])
            )
            kept.append(
                _Figure(
                    value=value,
                    sentence=sentence,
                    hedged=hedged,
                    committed=committed,
                    corrected=corrected,
                    role=sentence.role,
                )
            )
        figures.extend(kept)
    return figures, customer_said


def _money_value(
    mention: AmountMention, text: str, known: set[Decimal], unit_prices: set[Decimal]
) -> Decimal | None:
    """The figure as a total in money, or None when it is not one (see "Money figures")."""
    if mention.value in unit_prices and not mention.multiplied:
        return None  # "the eight dollars is fine", "two hundred trucks at twenty-eight"
    if mention.kind == "money":
        total = mention.value * (12 if mention.period == "month" else 1)
        return total if total >= _MIN_AMOUNT else None
    if mention.kind != "bare" or _AT_PRICE.match(text, mention.end):
        return None  # "eighteen hundred at the eight dollars per user" counts users
    if _OPERAND_BEFORE.search(text, 0, mention.start) or _OPERAND_AFTER.match(text, mention.end):
        return None  # "one-forty times twenty-four times twelve": arithmetic, not a price
    if not mention.words:
        return mention.value if mention.value >= 1000 and _MONEY_CUE.search(text) else None
    if mention.value >= 1000:
        # "I'm good with seventy-three four-forty": a spoken figure in the thousands is money
        # when its sentence talks money or agrees, or when it echoes a figure already said
        cue = _MONEY_CUE.search(text) or _COMMIT.search(text) or mention.value in known
        return mention.value if cue else None
    scaled = mention.value * 1000
    if scaled in known or (mention.value >= 10 and _MONEY_CUE.search(text)):
        return scaled
    return None


def _excluded(text: str, mention: AmountMention, role: SpeakerRole) -> str | None:
    """Why the figure at ``mention`` is not this deal's amount, or None."""
    clause_start = max((m.end() for m in _CLAUSE_BREAK.finditer(text, 0, mention.start)), default=0)
    following = _CLAUSE_BREAK.search(text, mention.end)
    clause_end = following.start() if following else len(text)
    before, after = text[clause_start : mention.start], text[mention.end : clause_end]
    for reason, pattern in _NOT_AMOUNT:
        if reason == "threshold":
            if pattern.search(before):
                return reason
        elif reason == "discount":
            if re.match(r"\s*(?:off|discount)\b", after, re.I) or re.search(
                r"discount of\s*$", before, re.I
            ):
                return reason
        elif pattern.search(before) or pattern.search(after):
            return reason
    if role != "rep" and _REJECT.search(text):
        return "rejected"
    if _REJECT.search(before + after):
        return "rejected"
    return None


def _answers_other_topic(sentences: list[Sentence], index: int) -> bool:
    """The first sentence of a turn answering a question about budget, spend or a competitor
    ("How much are you paying today?" / "About ninety thousand a year.")."""
    sentence = sentences[index]
    if index == 0 or sentence.from_notes or sentences[index - 1].turn == sentence.turn:
        return False
    asked = sentences[index - 1]
    if not asked.text.rstrip().endswith("?") or asked.evidence.speaker == sentence.evidence.speaker:
        return False
    topics = ("budget", "competitor", "past")
    return any(p.search(asked.text) for reason, p in _NOT_AMOUNT if reason in topics)


def _accept_across_turns(figures: list[_Figure], sentences: list[Sentence]) -> None:
    """A rep's figure the customer's next turn accepts becomes the customer's commitment; one
    the next customer turn rejects is dropped."""
    for figure in list(figures):
        if figure.role != "rep" or figure.sentence.from_notes:
            continue
        reply = [
            s
            for s in sentences
            if s.turn > figure.sentence.turn and not s.from_notes and s.role == "customer"
        ]
        if not reply:
            continue
        turn = [s for s in reply if s.turn == reply[0].turn]
        if reply[0].turn - figure.sentence.turn > 2:
            continue
        first = turn[0].text
        if _REJECT_TURN.search(first) or _REJECT.search(first):
            figures.remove(figure)
        elif any(_COMMIT.search(s.text) and not _HEDGE.search(s.text) for s in turn):
            figure.committed = True
            figure.role = "customer"
            figure.accepted_by.append(turn[0].evidence)


def _strength(figure: _Figure) -> int:
    if figure.committed and (figure.role == "customer" or figure.sentence.from_notes):
        return 4
    if figure.committed:
        return 3
    if figure.role == "customer" and not figure.hedged:
        return 2
    return 1


def _group(figures: list[_Figure], customer_said: set[Decimal]) -> list[AmountCandidate]:
    """One candidate per value, best first."""
    by_value: dict[Decimal, list[_Figure]] = {}
    for figure in figures:
        by_value.setdefault(figure.value, []).append(figure)
    ranked: list[tuple[AmountCandidate, int, int]] = []
    for value, said in by_value.items():
        if value not in customer_said and all(
            f.role == "rep" and not f.committed and not f.sentence.from_notes for f in said
        ):
            continue  # a rep's figure nobody took up is a proposal, not the amount
        evidence = tuple(
            dict.fromkeys(e for f in said for e in (f.sentence.evidence, *f.accepted_by))
        )
        signals = Signals(
            speaker_role=max((f.role for f in said), key=_ROLE_RANK.__getitem__),
            explicit=any(f.explicit for f in said),
            hedged=all(f.hedged for f in said),
            committed=any(f.committed for f in said),
            corrected=any(f.corrected for f in said),
            mentions=len(said),
            conflicting_mentions=len(figures) - len(said),
        )
        strength = max(_strength(f) for f in said)
        last = max(f.sentence.order for f in said if _strength(f) == strength)
        ranked.append((AmountCandidate(_plain(value), evidence, signals), strength, last))
    ranked.sort(key=lambda item: (item[1], item[2]), reverse=True)
    return [candidate for candidate, _, _ in ranked]


def _agreed_product(sentences: list[Sentence], amounts: _Amounts) -> _Figure | None:
    """The agreed per-unit price x the agreed count of that unit (see "Per-unit x units")."""
    prices: list[tuple[AmountMention, Sentence]] = []
    counts: list[tuple[AmountMention, Sentence]] = []
    for sentence in sentences:
        # Only sentences with a unit price or a count qualify: checked first, as it is cheaper.
        mentions = [
            m
            for m in amounts(sentence.text)
            if m.kind in ("per_unit", "count") and m.unit is not None
        ]
        if not mentions or sentence.text.rstrip().endswith("?") or _HEDGE.search(sentence.text):
            continue
        for mention in mentions:
            if mention.kind == "per_unit":
                prices.append((mention, sentence))
            else:
                counts.append((mention, sentence))
    for price, said in reversed(prices):
        if not _agreed(price.value, said, sentences, amounts):
            continue
        matching = [(c, s) for c, s in counts if _same_unit(c.unit, price.unit)]
        if not matching:
            continue
        count, counted = matching[-1]
        if (
            counted.role == "rep"
            and not counted.from_notes
            and not _agreed(count.value, counted, sentences, amounts)
        ):
            continue
        months = 1
        if price.period == "month":
            stated = next((m for s in sentences if (m := _MONTHS_STATED.search(s.text))), None)
            months = 12 if stated is None else _month_count(stated[1])
        latest, other = (said, counted) if said.order > counted.order else (counted, said)
        return _Figure(
            value=price.value * count.value * months,
            sentence=latest,
            hedged=False,
            committed=bool(_COMMIT.search(said.text) or _COMMIT.search(counted.text)),
            role="customer",
            accepted_by=[other.evidence],
            explicit=False,
        )
    return None


def _agreed(value: Decimal, said: Sentence, sentences: list[Sentence], amounts: _Amounts) -> bool:
    """Said by the customer or in the notes, or repeated or accepted by the customer later."""
    if said.role == "customer" or said.from_notes:
        return True
    for later in sentences:
        if later.order <= said.order or later.role != "customer":
            continue
        echoed = any(m.value == value for m in amounts(later.text))
        if echoed or (later.turn - said.turn <= 2 and _COMMIT.search(later.text)):
            return True
    return False


def _same_unit(count_unit: str | None, price_unit: str | None) -> bool:
    if count_unit is None or price_unit is None:
        return False
    return count_unit == price_unit or (count_unit in _SEAT_LIKE and price_unit in _SEAT_LIKE)


def _month_count(word: str) -> int:
    return int(word) if word.isdigit() else _MONTH_WORDS[word.lower()]


def _plain(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return str(value.normalize())
