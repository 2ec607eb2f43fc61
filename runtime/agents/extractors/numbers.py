"""Numbers as people say and type them in sales meetings: parse one, or scan a text for all.

Pure functions, no I/O. What is read:

- digits with thousands separators and decimals: ``60,000``, ``1.2``, ``45,500.50``;
  European grouping (``€45.000``) is not read as thousands;
- a multiplier suffix or word: ``45k``, ``1.2m``, ``$2.5M``, ``3mm``, ``2bn``, ``60 thousand``,
  ``sixty-five grand``, ``a hundred k``;
- number words: ``sixty thousand``, ``one hundred and twelve thousand five hundred``,
  ``one point two million``, ``eighteen hundred``;
- spoken shorthand, flagged ``shorthand=True`` and left *unscaled*: ``one eighty-six`` is 186
  and ``one twelve five`` / ``forty-three two`` are 112.5 / 43.2 (a digit word after a number
  reads as its first decimal), except before a two-digit one: ``fifty-four seven twenty`` is
  54,720 said in full. Whether that means thousands is a money-context decision the
  caller makes (``runtime.agents.extractors.amounts`` does: "one eighty-six per year" is 186k);
- what follows the number, as hints: a currency (``$``, ``EUR``, ``dollars``), a percent, a
  per-unit price (``$540 per seat``, ``35 a month per user``, ``$1,050/agent``, ``$1,200
  each``), a period (``84k/yr``, ``a month``), or a counted noun (``40 seats``, ``nine thousand
  parcels``).

Dates and times typed in digits (``9/30``, ``3:40pm``), years (``2026``) and codes (``Q3``,
``SOC 2``, ``net-45``) are not numbers here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from runtime.agents.extractors.prefilter import prefiltered

__all__ = ["AmountKind", "AmountMention", "find_amounts", "parse_number"]

AmountKind = Literal["money", "per_unit", "count", "percent", "bare"]

_UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_UNITS |= {"seven": 7, "eight": 8, "nine": 9}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14}
_TEENS |= {"fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70}
_TENS |= {"eighty": 80, "ninety": 90}
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_SUFFIXES = {"k": 1_000, "grand": 1_000, "m": 1_000_000, "mm": 1_000_000, "bn": 1_000_000_000}
_SUFFIXES |= {"b": 1_000_000_000, "thousand": 1_000, "million": 1_000_000}
_SUFFIXES |= {"billion": 1_000_000_000}
_WORD_VALUES = _UNITS | _TEENS | _TENS
_NUMBER_WORDS = set(_WORD_VALUES) | {"hundred"} | set(_SCALES)
_RUN_WORDS = _NUMBER_WORDS | {"a", "an", "and", "point", "k", "grand", "half"}
# A text with none of these words has no number in words: a run needs one ("a" and "an"
# count only before one). Checked first, it spares most sentences the tokenizing below.
_NUMBER_WORD = (
    r"(?<![a-z])(?:"
    + "|".join(sorted(_RUN_WORDS - {"a", "an", "and"}, key=len, reverse=True))
    + r")(?![a-z])"
)
_ANY_NUMBER_WORD = re.compile(_NUMBER_WORD, re.IGNORECASE)
# The same check for ASCII text, made on it lowered: there, ignoring case is lowercase
# equality (the pattern's letters are all lowercase), and a case-sensitive scan is about
# three times quicker.
_ANY_NUMBER_WORD_LOWERED = re.compile(_NUMBER_WORD)

_CURRENCY_SYMBOL = {"$": "USD", "€": "EUR", "£": "GBP"}
_CURRENCY_CODE = {"usd": "USD", "eur": "EUR", "gbp": "GBP", "cad": "CAD", "aud": "AUD"}
_CURRENCY_WORD = {"dollars": "USD", "dollar": "USD", "bucks": "USD", "euros": "EUR"}
_CURRENCY_WORD |= {"euro": "EUR", "pounds": "GBP", "quid": "GBP"} | _CURRENCY_CODE

_DIGITS = prefiltered(
    r"(?P<cur>[$€£]\s?|\b(?:usd|eur|gbp|cad|aud)\s?)?"
    r"(?<![\w/:.,-])(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?(?!\d|[/:]\d|,\d|\.\d)"
    r"(?:\s?(?P<mult>k|mm|m|bn|b|thousand|million|billion|grand)\b)?",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*", re.IGNORECASE)
_AFTER_CURRENCY = re.compile(r"\s*(dollars?|bucks|euros?|pounds|quid|usd|eur|gbp)\b", re.I)
_PERCENT = re.compile(r"\s*(?:%|percent\b|per cent\b)", re.IGNORECASE)
_TIME = re.compile(r"\s*(?:am|pm|a\.m\.|p\.m\.|o'clock)\b", re.IGNORECASE)
_PER = re.compile(r"\s*(?:(?:/|\bper\b|\ba\b|\ban\b)\s*(?P<noun>[a-z]+)|\b(?P<each>each)\b)", re.I)
# Nouns that make "ninety a seat" a unit price; "sixty a lot" or "a hundred" are not.
_UNIT_NOUNS = frozenset(
    {
        *("seat", "user", "agent", "licence", "license", "endpoint", "device", "truck"),
        *("vehicle", "van", "site", "location", "store", "clinic", "unit", "door", "bed"),
        *("head", "employee", "person", "driver", "technician", "tech", "line", "yard"),
        *("hub", "depot", "account", "member", "server", "node", "camera", "sensor"),
        *("machine", "asset", "property", "building", "room", "desk", "student", "patient"),
        *("provider", "rep", "mailbox", "terminal", "lane", "dock"),
    }
)
_PERIODS = {"month": "month", "mo": "month", "months": "month", "year": "year", "yr": "year"}
_PERIODS |= {"annum": "year", "years": "year", "week": "week", "day": "day", "hour": "hour"}
_PERIODS |= {"quarter": "quarter"}
_FUNCTION_WORDS = {"a", "an", "the", "for", "to", "at", "in", "on", "of", "by", "with", "and"}
_FUNCTION_WORDS |= {"or", "if", "is", "are", "was", "that", "it", "we", "i", "you", "they", "per"}
_FUNCTION_WORDS |= {"each", "all", "up", "down", "from", "off", "over", "under", "than", "this"}
_FUNCTION_WORDS |= {"a", "so", "but", "which", "what", "who", "too", "fine", "yes", "no", "not"}
_FUNCTION_WORDS |= {"annually", "annual", "total", "flat", "even", "plus", "including", "incl"}
_COUNT_NOUNS = {"staff", "people", "headcount", "personnel", "crew", "fleet", "head"}
_NOT_NOUNS = {"is", "was", "has", "this", "thus", "as", "plus", "us", "yes", "its", "his"}
_NOT_NOUNS |= {"less", "unless", "across", "always", "perhaps", "whereas", "towards"}
_NOT_NOUNS |= {"dollars", "bucks", "euros", "pounds", "thanks", "percent", "does"}
_MULTIPLIED = prefiltered(
    r"(?:\d\s?|\b)(?:k|mm|m|bn|b|grand)$|\b(?:thousand|million|billion)\b", re.IGNORECASE
)
_AT = re.compile(r"@\s*$")
# Verbs that look like plural nouns after a figure: "48k works for us", "65k covers it".
_NOT_NOUNS |= {"works", "goes", "stays", "comes", "seems", "looks", "sounds", "includes"}
_NOT_NOUNS |= {"covers", "means", "makes", "gets", "gives", "needs", "helps", "fits", "says"}
_NOT_NOUNS |= {"takes", "runs", "pays", "costs", "buys", "remains", "holds", "hits", "lands"}
_YEAR = re.compile(r"(?:19|20)\d\d")
_HALF_OF_SCALE = ("a", "half")


@dataclass(frozen=True, slots=True)
class AmountMention:
    """One number in a text, with what the words around it say it counts.

    ``value`` includes any multiplier said with it (``45k`` -> 45000) but never a guessed
    one: ``shorthand`` marks spoken forms such as ``one eighty-six`` whose scale is unsaid.
    """

    start: int
    end: int
    raw: str
    value: Decimal
    kind: AmountKind
    currency: str | None = None
    multiplied: bool = False
    words: bool = False
    shorthand: bool = False
    unit: str | None = None
    period: str | None = None


def parse_number(text: str) -> Decimal | None:
    """The number ``text`` says as a whole (``"$1.2m"``, ``"sixty-five grand"``), else None."""
    stripped = text.strip().rstrip(".")
    if not stripped:
        return None
    found = _DIGITS.fullmatch(stripped)
    if found is not None:
        return _digits_value(found)
    words = _words_of(stripped)
    if words is None:
        return None
    parsed = _parse_words([w for w, _, _ in words])
    if parsed is None or parsed[1] != len(words):
        return None
    return parsed[0]


def find_amounts(text: str) -> list[AmountMention]:
    """Every number in ``text``, in order, each with its kind hints (see the module docstring)."""
    mentions = [m for found in _DIGITS.finditer(text) if (m := _digit_mention(text, found))]
    taken = [(m.start, m.end) for m in mentions]
    spans = [
        span
        for span in _word_numbers(text)
        if not any(span[0] < e and s < span[1] for s, e in taken)
    ]
    merged: set[int] = set()
    for index, (start, end, value, shorthand) in enumerate(spans):
        if index in merged:
            continue
        following = spans[index + 1] if index + 1 < len(spans) else None
        if following is not None and _dollars_and_cents(text, (start, end, value), following):
            cents = following[2] / Decimal(100)
            mentions.append(_describe(text, start, following[1], value + cents, words=True))
            merged.add(index + 1)
            continue
        mentions.append(_describe(text, start, end, value, words=True, shorthand=shorthand))
    return sorted(mentions, key=lambda m: m.start)


def _dollars_and_cents(
    text: str, first: tuple[int, int, Decimal], second: tuple[int, int, Decimal, bool]
) -> bool:
    """ "Fifteen seventy-five an endpoint": a unit price said as dollars then cents."""
    if text[first[1] : second[0]].strip() or not 10 <= first[2] <= 99 or not 10 <= second[2] <= 99:
        return False
    if first[2] != first[2].to_integral_value() or second[2] != second[2].to_integral_value():
        return False
    per = _PER.match(text, second[1])
    return per is not None and (per["noun"] or "").lower() in _UNIT_NOUNS


def _digits_value(found: re.Match[str]) -> Decimal:
    number = Decimal(found["num"].replace(",", "") + (found["frac"] or ""))
    return _whole(number * _SUFFIXES.get((found["mult"] or "").lower(), 1))


def _digit_mention(text: str, found: re.Match[str]) -> AmountMention | None:
    cur, mult = found["cur"], (found["mult"] or "").lower()
    before = text[max(0, found.start() - 1) : found.start()]
    if not cur and before.isalpha():
        return None  # "Q3", "SOC2"
    if (
        not cur
        and before == " "
        and re.search(r"(?:\bsoc|\bq|\bnet|\bver)\s$", text[: found.start()], re.I)
    ):
        return None  # "SOC 2", "Q 3"
    if mult in ("m", "b") and not (
        cur or found["frac"] or _AFTER_CURRENCY.match(text, found.end())
    ):
        return None  # "30m" is more often minutes; "1.2m" or "$30m" is money
    if not (cur or mult or found["frac"] or "," in found["num"]) and _YEAR.fullmatch(found["num"]):
        return None
    if _TIME.match(text, found.end()):
        return None
    mention = _describe(text, found.start(), found.end(), _digits_value(found), words=False)
    currency = _CURRENCY_SYMBOL.get((cur or "").strip()) or _CURRENCY_CODE.get(
        (cur or "").strip().lower()
    )
    if currency is None:
        return mention
    kind: AmountKind = mention.kind if mention.kind in ("per_unit", "percent") else "money"
    return AmountMention(
        start=mention.start,
        end=mention.end,
        raw=mention.raw,
        value=mention.value,
        kind=kind,
        currency=currency,
        multiplied=bool(mult),
        unit=mention.unit if kind == "per_unit" else None,
        period=mention.period,
    )


def _describe(
    text: str, start: int, end: int, value: Decimal, *, words: bool, shorthand: bool = False
) -> AmountMention:
    """Read what follows the number: currency, percent, per-unit, period, counted noun."""
    raw = text[start:end]
    multiplied = bool(_MULTIPLIED.search(raw))
    currency: str | None = None
    position = end
    if (after := _AFTER_CURRENCY.match(text, position)) is not None:
        currency = _CURRENCY_WORD[after[1].lower()]
        position = after.end()
        end = position if not words else end
    if _PERCENT.match(text, position):
        return AmountMention(start, end, raw, value, "percent", words=words, shorthand=shorthand)
    unit, period, each = None, None, False
    while (per := _PER.match(text, position)) is not None:
        if per["each"]:
            each = True
        else:
            noun = per["noun"].lower()
            if noun in _PERIODS:
                period = period or _PERIODS[noun]
            elif per[0].strip().lower().startswith(("a ", "an ")) and noun not in _UNIT_NOUNS:
                break  # "a hundred", "a lot": not a per-unit phrase; "an endpoint" is one
            else:
                unit = unit or _singular(noun)
        position = per.end()
    kind: AmountKind = "money" if currency or multiplied else "bare"
    if unit is not None or each or _AT.search(text[:start]):
        kind = "per_unit"
    elif currency is None and (noun := _counted_noun(text, end)) is not None:
        kind, unit = "count", noun
    return AmountMention(
        start=start,
        end=end,
        raw=raw,
        value=value,
        kind=kind,
        currency=currency,
        multiplied=multiplied,
        words=words,
        shorthand=shorthand,
        unit=unit,
        period=period if kind != "count" else None,
    )


def _counted_noun(text: str, end: int) -> str | None:
    """The noun a number counts: "40 seats", "two thousand active vendor contracts"."""
    gap = text[end : end + 1]
    if gap and gap not in " -":
        return None
    for word in re.findall(r"[a-z][a-z'-]*", text[end : end + 60].lower())[:3]:
        if word in _COUNT_NOUNS or (
            len(word) > 3
            and word.endswith("s")
            and not word.endswith("ss")
            and word not in _NOT_NOUNS
        ):
            return _singular(word)
        if word in _FUNCTION_WORDS or word in _CURRENCY_WORD or word in _RUN_WORDS:
            return None
    return None


def _singular(noun: str) -> str:
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    if noun.endswith("s") and not noun.endswith("ss"):
        return noun[:-1]
    return noun


def _words_of(text: str) -> list[tuple[str, int, int]] | None:
    """The words of a text that is only number words, split at hyphens, else None."""
    parts: list[tuple[str, int, int]] = []
    for found in _WORD.finditer(text):
        offset = found.start()
        for piece in found[0].split("-"):
            parts.append((piece.lower(), offset, offset + len(piece)))
            offset += len(piece) + 1
    leftover = _WORD.sub("", text).replace(",", "").strip()
    if leftover or not parts or any(w not in _RUN_WORDS for w, _, _ in parts):
        return None
    return parts


def _parse_words(words: list[str]) -> tuple[Decimal, int, bool] | None:
    """Parse number words from the start: (value, words used, shorthand) or None.

    A grammatical number ("one hundred and twelve thousand five hundred") is read whole; a
    digit word before a two-digit one ("one eighty-six") is hundreds shorthand, and a digit
    word after a number ("forty-three two") its first decimal.
    """
    chunks: list[tuple[Decimal, int, int]] = []  # value, start, end (word indexes)
    index = 0
    while index < len(words):
        parsed = _grammatical(words, index)
        if parsed is None:
            break
        value, end = parsed
        chunks.append((value, index, end))
        index = end
        if index < len(words) and words[index] in ("k", "grand"):
            chunks[-1] = (_whole(value * 1_000), chunks[-1][1], index + 1)
            index += 1
            break
        if not _plain(words[chunks[-1][1] : end]):
            break  # "sixty thousand" is whole; shorthand only joins plain small words
    if not chunks:
        return None
    value, _, end = chunks[0]
    if len(chunks) == 1:
        return value, end, False
    first, second = chunks[0][0], chunks[1][0]
    if not all(_plain(words[s:e]) for _, s, e in chunks[:3]):
        return value, end, False
    if 1 <= first <= 9 and 10 <= second <= 99:
        value, end = first * 100 + second, chunks[1][2]  # "one eighty-six"
        if len(chunks) > 2 and 1 <= chunks[2][0] <= 9 and chunks[2][2] - chunks[2][1] == 1:
            value, end = value + chunks[2][0] / Decimal(10), chunks[2][2]  # "one twelve five"
        return value, end, True
    single_second = chunks[1][2] - chunks[1][1] == 1
    if (
        10 <= first <= 99
        and 1 <= second <= 9
        and single_second
        and len(chunks) > 2
        and 10 <= chunks[2][0] <= 99
    ):
        # "fifty-four seven twenty": thousands, hundreds, then the rest, said in full
        return first * 1000 + second * 100 + chunks[2][0], chunks[2][2], False
    if 10 <= first <= 99 and 0 <= second <= 9 and single_second:
        return first + second / Decimal(10), chunks[1][2], True  # "forty-three two"
    return value, end, False


def _grammatical(words: list[str], start: int) -> tuple[Decimal, int] | None:
    """The longest grammatical number starting at ``start``: (value, end) or None."""
    total, group = Decimal(0), Decimal(0)
    last: str | None = None
    index, end = start, start
    seen = False
    while index < len(words):
        word = words[index]
        if word in ("a", "an") and last is None:
            if index + 1 < len(words) and words[index + 1] in ("hundred", *_SCALES):
                group, last = Decimal(1), "unit"
                index += 1
                continue
            break
        if word == "and" and tuple(words[index + 1 : index + 3]) == _HALF_OF_SCALE:
            # "eighteen and a half thousand", "three and a half k": only before a scale
            scale = words[index + 3] if index + 3 < len(words) else None
            if last in ("unit", "teen", "tens") and scale in (*_SCALES, "k", "grand"):
                group += Decimal("0.5")
                index = end = index + 3
                last = "point"
                continue
            break
        if word == "and":
            if (
                last in ("hundred", "scale")
                and index + 1 < len(words)
                and words[index + 1] in _WORD_VALUES
            ):
                last = "and"
                index += 1
                continue
            break
        if word == "point":
            digits = []
            look = index + 1
            while look < len(words) and words[look] in _UNITS:
                digits.append(str(_UNITS[words[look]]))
                look += 1
            if not seen or not digits or last not in ("unit", "teen", "tens"):
                break
            group += Decimal("0." + "".join(digits))
            index = end = look
            last = "point"
            continue
        if word in _UNITS and last in (None, "tens", "hundred", "scale", "and"):
            if last == "tens" and group % 10:
                break
            group += _UNITS[word]
            last = "unit"
        elif word in _TEENS and last in (None, "hundred", "scale", "and"):
            group += _TEENS[word]
            last = "teen"
        elif word in _TENS and last in (None, "hundred", "scale", "and"):
            group += _TENS[word]
            last = "tens"
        elif word in _TENS and last == "unit" and total >= 1000 and group < 10:
            # "sixty thousand four eighty": hundreds shorthand after a scale word
            group = group * 100 + _TENS[word]
            last = "tens"
        elif word == "hundred" and last in ("unit", "teen", "tens") and group < 100:
            group *= 100
            last = "hundred"
        elif word in _SCALES and last in ("unit", "teen", "tens", "hundred", "point"):
            if total and total < _SCALES[word]:
                break
            total += group * _SCALES[word]
            group = Decimal(0)
            last = "scale"
        else:
            break
        seen = True
        index += 1
        end = index
    if not seen:
        return None
    return _whole(total + group), end


def _word_numbers(text: str) -> list[tuple[int, int, Decimal, bool]]:
    """Spans of number words in ``text``: (start, end, value, shorthand); runs stop at
    punctuation, so "thirty, fourteen and three" is three numbers."""
    if text.isascii():
        if _ANY_NUMBER_WORD_LOWERED.search(text.lower()) is None:
            return []
    elif _ANY_NUMBER_WORD.search(text) is None:
        return []
    pieces: list[tuple[str, int, int]] = []
    for found in _WORD.finditer(text):
        offset = found.start()
        parts = found[0].lower().split("-")
        if len(parts) > 1 and not all(part in _NUMBER_WORDS for part in parts):
            pieces.append((found[0].lower(), found.start(), found.end()))  # "twenty-second"
            continue
        for piece in parts:
            pieces.append((piece, offset, offset + len(piece)))
            offset += len(piece) + 1
    spans: list[tuple[int, int, Decimal, bool]] = []
    index = 0
    while index < len(pieces):
        if pieces[index][0] not in _NUMBER_WORDS and pieces[index][0] not in ("a", "an"):
            index += 1
            continue
        run_end = index + 1
        while (
            run_end < len(pieces)
            and pieces[run_end][0] in _RUN_WORDS
            and text[pieces[run_end - 1][2] : pieces[run_end][1]].strip(" -") == ""
        ):
            run_end += 1
        words = [w for w, _, _ in pieces[index:run_end]]
        parsed = _parse_words(words)
        if parsed is None:
            index += 1
            continue
        value, used, shorthand = parsed
        spans.append((pieces[index][1], pieces[index + used - 1][2], value, shorthand))
        index += used
    return spans


def _whole(number: Decimal) -> Decimal:
    """``1200000.0`` as ``1200000``; decimals that matter stay (``45500.50``)."""
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number


def _plain(words: list[str]) -> bool:
    return all(word in _WORD_VALUES for word in words)
