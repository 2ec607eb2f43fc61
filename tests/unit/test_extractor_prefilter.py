"""The prefilter before the rule families' patterns: the needles read off a pattern, and the
guarantee that a prefiltered pattern answers exactly what the pattern itself answers."""

from __future__ import annotations

import importlib
import random
import re

import pytest

from runtime.agents.extractors.date_phrases import may_hold_a_date, resolve_date_phrase
from runtime.agents.extractors.needles import (
    needle_pattern,
    required_text,
    required_ways,
    word_runs,
)
from runtime.agents.extractors.next_step_phrases import clean_text
from runtime.agents.extractors.prefilter import (
    PrefilteredPattern,
    any_may_match,
    any_may_match_words,
    prefiltered,
)
from runtime.agents.extractors.sentences import (
    CAPITAL_SENTENCE_END,
    SENTENCE_END,
    split_sentences,
)

pytestmark = pytest.mark.unit

_FAMILIES = [
    *("stage_phrases", "stages", "dates", "date_phrases", "next_steps"),
    *("next_step_phrases", "amounts", "numbers"),
]


def _needles(pattern: str, flags: int = 0) -> set[str] | None:
    found = required_text(re.compile(pattern, flags))
    return None if found is None else set(found)


@pytest.mark.parametrize(
    ("pattern", "flags", "needles"),
    [
        (r"\bsigned\s+with\b", re.I, {"signed"}),  # the rarer of two words
        (r"Signed", 0, {"Signed"}),  # case kept for a case-sensitive pattern
        (r"SIGNED", re.I, {"signed"}),  # lowercased for a case-insensitive one
        (r"\b(?:probably|maybe)\b", re.I, {"probably", "maybe"}),  # branches pooled
        (r"\b(?:fiscal|financial)\s+year", re.I, {"fiscal", "financial"}),  # "fi" put back
        (r"closed[- ]lost", re.I, {"closed-lost", "closed lost"}),  # a small class spelled out
        (r"um+\b", re.I, {"um"}),  # a repeat that must match once
        (r"\d+k", 0, set("0123456789")),  # the digits tell more than "0k" ... "9k"
        (r"Q[1-4]", 0, {"Q1", "Q2", "Q3", "Q4"}),
        (r"\u2019ll", re.I, {"\u2019ll"}),  # cannot match ASCII text without one
    ],
)
def test_needles_every_match_contains(pattern: str, flags: int, needles: set[str]) -> None:
    assert _needles(pattern, flags) == needles


@pytest.mark.parametrize(
    ("pattern", "flags"),
    [
        (r"(?:maybe)?", 0),  # optional
        (r"(?=maybe)\w+", 0),  # a lookahead consumes nothing
        (r"(?<!not )\w+", 0),  # nor does a lookbehind
        (r"\b(\w+)\s+\1\b", re.I),  # a backreference
        (r"maybe|\w+", 0),  # a branch without needles
        (r"[a-z]+", 0),  # a large class
        (r"[^x]", 0),  # a negated one
        (r".", 0),
        (r"(?i:maybe)", 0),  # case-insensitive inside a case-sensitive pattern
        (r"\u212a", re.I),  # the Kelvin sign matches "k" and "K"
        (r"\u017f", re.I),  # the long s matches "s"
        (r"\u0130", re.I),  # the dotted capital I matches "i"
    ],
)
def test_no_needles_where_none_can_be_vouched_for(pattern: str, flags: int) -> None:
    assert _needles(pattern, flags) is None


def test_a_branch_at_heart_gives_its_branches_sets() -> None:
    ways = required_ways(re.compile(r"\b(?:went\s+with|sorry\s+to\s+lose)\b", re.I))
    assert ways is not None
    assert [set().union(*way) for way in ways] == [{"went", "with"}, {"sorry", "to", "lose"}]
    assert required_ways(re.compile(r"\bsigned\b")) is None


def test_word_runs() -> None:
    assert word_runs(frozenset({"'ll", "will"})) == frozenset({"ll"})
    assert word_runs(frozenset({"'ll", "-"})) is None


@pytest.mark.parametrize(
    "needles",
    [
        ["mon", "month", "monday"],
        ["a", "ab", "abc", "b"],
        ["day", "today", "sun", "sunday", "fri"],
        [".", "$", "(", "x*"],
    ],
)
def test_needle_pattern_finds_any_needle(needles: list[str]) -> None:
    scan = re.compile(needle_pattern(needles))
    rng = random.Random(0)
    alphabet = "".join(sorted(set("".join(needles)))) + " z"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(8)))
        assert (scan.search(text) is not None) == any(n in text for n in needles), text


# Texts that a lowercase substring test would misjudge, and the text that a test may skip.
_TRICKY = [
    "We signed with TrackRight.",
    "WE SIGNED WITH TRACKRIGHT.",
    "we \u017figned with them",  # long s: matches "s" when ignoring case
    "we sign\u212aed with them",  # Kelvin sign
    "\u0130'll send it over",  # dotted capital I
    "I\u2019ll send it over by Friday",
    "the \u0663rd of March",  # an Arabic-Indic digit is a digit too
    "Caf\u00e9 \u2014 probably by the 14th",
    "",
    "no match here at all",
]


def _all_patterns() -> list[PrefilteredPattern]:
    found: list[PrefilteredPattern] = []
    for name in _FAMILIES:
        module = importlib.import_module(f"runtime.agents.extractors.{name}")
        found += [v for v in vars(module).values() if isinstance(v, PrefilteredPattern)]
    rules = importlib.import_module("runtime.agents.extractors.date_phrases")._RULES
    found += [pattern for pattern, _ in rules]
    return found


def _texts() -> list[str]:
    """Texts near what the patterns look for: their own needles in various cases, mixed with
    words, spaces, punctuation and characters that fold onto ASCII letters."""
    rng = random.Random(20260310)
    words = sorted({n for p in _all_patterns() for needles in p.required for n in needles})
    words += ["we", "the", "I", "by", "not", "end", "of", "next", "12", "3/14", "2026-04-30"]
    extra = [" ", "  ", ", ", ". ", "'", "\u2019", "-", "\u212a", "\u017f", "\u0131", "\u00e9"]
    texts = list(_TRICKY)
    for _ in range(800):
        pieces = [rng.choice(words if rng.random() < 0.7 else extra) for _ in range(6)]
        text = " ".join(pieces)
        if rng.random() < 0.3:
            text = text.upper() if rng.random() < 0.5 else text.title()
        texts.append(text)
    return texts


def _spans(found: re.Match[str] | None) -> object:
    return None if found is None else (found.span(), found.groups())


def test_prefiltered_patterns_answer_as_their_patterns() -> None:
    texts = _texts()
    for pattern in _all_patterns():
        raw = pattern.pattern
        for text in texts:
            assert _spans(pattern.search(text)) == _spans(raw.search(text)), (raw, text)
            assert [m.span() for m in pattern.finditer(text)] == [
                m.span() for m in raw.finditer(text)
            ], (raw, text)
            assert pattern.sub("", text) == raw.sub("", text), (raw, text)
            assert _spans(pattern.match(text)) == _spans(raw.match(text))


@pytest.mark.parametrize(
    ("pattern", "flags", "text"),
    [
        (r"\bsigned\b", re.I, "we \u017figned it"),  # the long s folds onto "s"
        (r"\bkicked\b", re.I, "\u212aicked off"),  # the Kelvin sign onto "k"
        (r"\bi'll\b", re.I, "\u0130'll do it"),  # the dotted capital I onto "i"
        (r"\d", 0, "the \u0663rd"),  # an Arabic-Indic digit is a digit
        (r"\bprobably\b", re.I, "PROBABLY"),
        (r"\bprobably\b", re.I, "Caf\u00e9, probably"),
    ],
)
def test_a_prefilter_never_skips_a_match(pattern: str, flags: int, text: str) -> None:
    assert prefiltered(pattern, flags).search(text) is not None
    assert re.compile(pattern, flags).search(text) is not None


def test_a_prefilter_skips_ascii_text_without_needles() -> None:
    pattern = prefiltered(r"\bsigned\s+with\b", re.I)
    assert not pattern.may_match("we went with another vendor")
    assert pattern.may_match("We SIGNED with them")
    assert pattern.may_match("we \u017figned")  # not ASCII: always scanned


def test_any_may_match() -> None:
    either = any_may_match(prefiltered(r"\bsigned\b", re.I), prefiltered(r"\bPO\b"))
    assert either("it is SIGNED")
    assert either("the po came")  # compared lowercased: "PO" would be there as written
    assert not either("nothing to see")


def test_any_may_match_words_holds_through_dropped_words() -> None:
    commit = prefiltered(r"\b(?:i|we)(?:'ll|\s+will)\s+send\b", re.I)
    test = any_may_match_words(commit)
    for text in ["I'll um send it", "we will, will send it", "I' uh ll send it"]:
        cleaned = clean_text(text)
        if commit.search(cleaned):
            assert test(text), text
    assert not test("nothing to do")


def test_may_hold_a_date_is_a_necessary_condition() -> None:
    from datetime import date

    for text in [*_texts()[:500], "by the fifteenth", "end of Q3", "EOQ"]:
        if not may_hold_a_date(text):
            assert resolve_date_phrase(text, anchor=date(2026, 3, 10)) == []


@pytest.mark.parametrize("boundary", [SENTENCE_END, CAPITAL_SENTENCE_END])
def test_split_sentences_is_the_boundary_split(boundary: re.Pattern[str]) -> None:
    texts = [
        "One. Two! three? Four",
        "e.g. this and that.  'Quoted' next",
        "Sure.\u00a0Then\u2003we go!\u00a0yes",
        "Line one\nline two.\n\nThree",
        "$1.2 million. Yes. no",
        "Really?! Yes",
        "",
        " ",
        "...",
        ". X",
        "a.\rB",
    ]
    for text in texts:
        assert split_sentences(text, boundary) == tuple(boundary.split(text)), text


@pytest.mark.parametrize(
    "text",
    [
        "I'll, um, send the the order form",
        "We we will send it",
        "The, the THE end",
        "so, basically I mean we'll send it",
        "error handling",  # "er" at a word start is dropped: as before
        "I \u0130 i send",
        "  spaced\tout , ",
    ],
)
def test_clean_text_as_before(text: str) -> None:
    filler = re.compile(
        r"\b(?:um+|uh+|erm|er|hmm+|you\s+know|i\s+mean|like,|basically|so,)\s*,?\s*", re.I
    )
    stutter = re.compile(r"\b(\w+)(?:[\s,]+\1\b)+", re.I)
    expected = re.sub(r"\s+", " ", stutter.sub(r"\1", filler.sub("", text))).strip(" ,")
    assert clean_text(text) == expected
