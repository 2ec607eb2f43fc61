"""A cheap test before a regular expression: text without the words that every match must
contain cannot match, so its scan is skipped.

The rule families run dozens of case-insensitive patterns over every sentence and most
sentences match none of them. Such a pattern usually names words (``\\bsigned\\s+with\\b``),
and the regex engine tries every alternative at every position of the sentence (a leading
``\\b`` keeps it from skipping ahead), while a few substring tests on the lowered sentence
tell in a fraction of that time that none of the words is there.

``needles.py`` reads the words off the pattern; ``PrefilteredPattern`` tests for them before
each scan. Its answers are exactly the pattern's own:

- every set of needles tested is required (see ``needles.py``): a text without any needle of
  one of them holds no match, and so does one that holds no needle of any branch's sets when
  every match goes through one alternation;
- the test runs only on ASCII text, for which the needles are derived; in any other text
  Unicode case folding breaks a lowercase substring test (``"k"`` matches the Kelvin sign,
  ``"s"`` the long s), so that text is scanned as if there were no test.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterator, Sequence

from runtime.agents.extractors.needles import (
    Needles,
    anchored,
    cost,
    frequency,
    implied,
    needle_pattern,
    required_texts,
    required_ways,
    shortest,
    word_runs,
)

__all__ = [
    "NeedleTest",
    "PrefilteredPattern",
    "any_may_match",
    "any_may_match_words",
    "prefiltered",
]

_SELDOM = 0.7  # a second set of needles found more often than this filters too little
_FEW_NEEDLES = 12  # up to this many, plain substring tests beat one scan for all of them
_MOST_WAYS = 12  # testing more branches one by one costs more than the scans it spares

# A set of needles as tested: the needles themselves, each looked for with "in", or a scan for
# all of them (written as a trie, or a character class). A substring test costs a fraction of
# a scan's overhead, but one scan for many needles costs little more than for one.
_Set = tuple[tuple[str, ...], Callable[[str], object] | None]


class NeedleTest:
    """Whether a text may hold a match: ASCII text must contain a needle of every ``required``
    set and, when ``ways`` are given, of every set of at least one of them (compared lowercased
    when ``folded``); any other text always may (see the module docstring)."""

    __slots__ = ("_folded", "_required", "_ways")

    def __init__(
        self,
        required: Sequence[Needles],
        *,
        ways: Sequence[Sequence[Needles]] = (),
        folded: bool,
    ) -> None:
        self._folded = folded
        self._required = tuple(_prepared(needles) for needles in required)
        self._ways = tuple(tuple(_prepared(needles) for needles in way) for way in ways)

    def __call__(self, text: str, lowered: str | None = None) -> bool:
        """Whether ``text`` may hold a match; ``lowered``, when given, is ``text.lower()`` and
        ``text`` is ASCII (a caller testing one text for many patterns lowers it once)."""
        if lowered is not None:
            haystack = lowered if self._folded else text
        elif text.isascii():
            haystack = text.lower() if self._folded else text
        else:
            return True
        # The required sets are tested here rather than by a helper: this runs hundreds of
        # times per meeting, and a call costs as much as a few substring tests.
        for few, scan in self._required:
            if scan is not None:
                if scan(haystack) is None:
                    return False
                continue
            for needle in few:
                if needle in haystack:
                    break
            else:
                return False
        return not self._ways or any(_holds_all(way, haystack) for way in self._ways)


def _prepared(needles: Needles) -> _Set:
    ordered = sorted(needles, key=frequency, reverse=True)  # the likeliest first
    if not ordered:
        raise ValueError("a set of needles needs at least one")
    if len(ordered) <= _FEW_NEEDLES and any(len(n) > 1 for n in ordered):
        return tuple(ordered), None
    return (), re.compile(needle_pattern(ordered)).search


def _holds_all(sets: tuple[_Set, ...], haystack: str) -> bool:
    """Whether ``haystack`` holds a needle of every set."""
    for few, scan in sets:
        if scan is not None:
            if scan(haystack) is None:
                return False
        elif not any(needle in haystack for needle in few):
            return False
    return True


class PrefilteredPattern:
    """A compiled pattern whose scans are skipped for text that cannot match (see the module
    docstring); every method answers exactly what ``re.Pattern``'s does."""

    __slots__ = ("_test", "needles", "pattern", "required")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        clauses = required_texts(pattern)
        self.needles = clauses[0] if clauses else None  # the most telling required set
        self.required = _telling(clauses) if clauses else []  # the sets worth testing
        self._test: NeedleTest | None = None
        # A pattern anchored at the start is tried at one position only: cheaper than a test.
        if clauses and not anchored(pattern):
            required = self.required
            ways = [_telling(way) for way in required_ways(pattern) or []]
            # Branch by branch is worth testing (after the pooled needles) only when there are
            # few branches and together they let far fewer texts through.
            if len(ways) > _MOST_WAYS or _passing(ways) > _passing([required]) / 2:
                ways = []
            folded = bool(pattern.flags & re.IGNORECASE)
            self._test = NeedleTest(required, ways=ways, folded=folded)

    def __repr__(self) -> str:
        return f"prefiltered({self.pattern!r})"

    def may_match(self, text: str, lowered: str | None = None) -> bool:
        """False only when no part of ``text`` can match (``lowered``: see ``NeedleTest``)."""
        return self._test is None or self._test(text, lowered)

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        if self._test is None or self._test(text):
            return self.pattern.search(text, pos, endpos)
        return None

    def finditer(
        self, text: str, pos: int = 0, endpos: int = sys.maxsize
    ) -> Iterator[re.Match[str]]:
        if self._test is None or self._test(text):
            return self.pattern.finditer(text, pos, endpos)
        return iter(())

    def sub(self, repl: str | Callable[[re.Match[str]], str], text: str, count: int = 0) -> str:
        if self._test is None or self._test(text):
            return self.pattern.sub(repl, text, count)
        return text

    # Matching at one position costs less than the test: these always try.
    def match(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.pattern.match(text, pos, endpos)

    def fullmatch(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.pattern.fullmatch(text, pos, endpos)


def _telling(clauses: list[Needles]) -> list[Needles]:
    """The sets worth testing, out of required ones ranked best first: the best, and a second
    one if it is seldom found and tells something the first does not ("the", then a digit or
    an ordinal: "the 14th")."""
    second = [c for c in clauses[1:] if cost(c)[0] < _SELDOM and not implied(c, clauses[0])]
    return clauses[:1] + second[:1]


def _passing(ways: list[list[Needles]]) -> float:
    """Roughly how often text holds a needle of every set of one of ``ways``."""
    return sum(math.prod(cost(needles)[0] for needles in way) for way in ways)


def prefiltered(pattern: str, flags: int = 0) -> PrefilteredPattern:
    """``re.compile(pattern, flags)``, scanning only text that may match."""
    return PrefilteredPattern(re.compile(pattern, flags))


def any_may_match(*patterns: PrefilteredPattern) -> Callable[[str], bool]:
    """One test for several patterns: False only when none of them can match a text."""
    pooled: set[str] = set()
    for pattern in patterns:
        if pattern.needles is None:
            return lambda text: True
        # Compared lowercased, a case-sensitive pattern's needle is still found where it is.
        pooled |= {needle.lower() for needle in pattern.needles}
    return NeedleTest([shortest(pooled)], folded=True)


def any_may_match_words(*patterns: PrefilteredPattern) -> Callable[[str], bool]:
    """A test like ``any_may_match``'s that reads only the runs of word characters in the
    patterns' needles ("ll" for "'ll"): False only when none of the patterns can match the
    text, nor any other text whose runs of word characters all occur in it (such as the text
    with words dropped, see ``next_steps._MAY_COMMIT``)."""
    ways: list[list[Needles]] = []
    for pattern in patterns:
        runs = [word_runs(needles) for needles in pattern.required]
        if not runs or runs[0] is None:
            return lambda text: True
        # Compared lowercased, a case-sensitive pattern's run is still found where it is.
        ways.append([frozenset(run.lower() for run in r) for r in runs if r is not None])
    pooled = shortest(run for way in ways for run in way[0])
    return NeedleTest([pooled], ways=ways, folded=True)
