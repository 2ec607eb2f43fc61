"""What text every match of a regular expression must contain, read off its parse tree.

The parse tree is the standard library's own (the one ``re.compile`` builds). A *needle* is a
string; a set of needles is *required* when every match of the pattern contains at least one
of them, compared lowercased for a case-insensitive pattern. ``prefilter.py`` tests for them
before it lets the pattern scan a text.

Why a required set is required, in ASCII text (the only text the tests are run on):

- Needles come only from parts of the pattern that every match consumes: literal characters
  and small character classes (a run of them gives one needle per way to spell it), groups,
  repeats that must match at least once, and alternations whose every branch gives needles
  (the branches' needles are pooled). Optional parts, lookarounds, anchors, wildcards,
  backreferences, conditionals and large classes give none, and end a run.
- In ASCII text, case-insensitive matching of ASCII letters is lowercase equality and ``\\d``
  is 0-9. A non-ASCII character of a case-insensitive pattern that matches an ASCII one (the
  Kelvin sign matches "k") gives no needle; any other cannot occur in ASCII text, and neither
  can a match that needs it.
- A part's needles are in every match because the part's match is a piece of it; so any one
  part's set is required, and so is each of them at once.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

__all__ = [
    "Needles",
    "anchored",
    "cost",
    "frequency",
    "implied",
    "needle_pattern",
    "required_text",
    "required_texts",
    "required_ways",
    "shortest",
    "word_runs",
]

# The parser ``re.compile`` itself uses; imported by name because its old public alias
# (``sre_parse``) warns that it is deprecated, and typeshed describes only that alias.
_PARSER: Any = importlib.import_module("re._parser")
_OPCODES: Any = importlib.import_module("re._constants")

_WORD_RUN = re.compile(r"\w+", re.ASCII)
_LARGEST_CLASS = 10  # a class of more characters than this ("\d" is ten) tells too little
_REPEATS = {_OPCODES.MAX_REPEAT, _OPCODES.MIN_REPEAT, _OPCODES.POSSESSIVE_REPEAT}
_MOST_SPELLINGS = 40  # a needle spelled more ways than this costs more to test than it tells

Needles = frozenset[str]
"""Strings at least one of which occurs in every match."""


def required_text(pattern: re.Pattern[str]) -> Needles | None:
    """The most telling required set of needles, or None when none can be vouched for."""
    return next(iter(required_texts(pattern)), None)


def required_texts(pattern: re.Pattern[str]) -> list[Needles]:
    """Every required set of needles the pattern's parts vouch for, the most telling first."""
    if pattern.flags & re.LOCALE:
        return []
    folded = bool(pattern.flags & re.IGNORECASE)
    return _ranked(_choices(_parse(pattern), folded))


def required_ways(pattern: re.Pattern[str]) -> list[list[Needles]] | None:
    """For a pattern whose every match goes through one alternation (``\\b(?:went\\s+with
    |sorry\\s+to\\s+lose)``): each branch's required sets, the most telling first. A match then
    holds a needle of every set of at least one branch ("went" and "with", or "sorry" and
    "lose"), which tells more than the branches' pooled needles. None for any other pattern,
    or when a branch vouches for nothing."""
    if pattern.flags & re.LOCALE:
        return None
    folded = bool(pattern.flags & re.IGNORECASE)
    branches = _main_alternation(_parse(pattern), folded)
    if branches is None:
        return None
    ways = [_ranked(_choices(branch, folded)) for branch in branches]
    return ways if all(ways) else None


def anchored(pattern: re.Pattern[str]) -> bool:
    """Whether every match must start where the text does ("^..."), so that the pattern is
    tried at one position only."""
    items = list(_parse(pattern))
    if not items or items[0][0] is not _OPCODES.AT:
        return False
    at = items[0][1]
    multiline = bool(pattern.flags & re.MULTILINE)  # "^" then starts every line
    return at is _OPCODES.AT_BEGINNING_STRING or (at is _OPCODES.AT_BEGINNING and not multiline)


def needle_pattern(needles: Iterable[str]) -> str:
    """One case-sensitive pattern that finds any of ``needles``, written as a trie ("d(?:one
    |own)"): at each position the regex engine then tries one branch per first letter rather
    than every needle, which makes the scan several times faster than the needles' plain
    alternation, let alone a case-insensitive pattern's scan. It finds a needle where one
    starts, though not always the longest one there."""
    if "" in needles:
        return ""  # a needle ends here: the longer ones add nothing
    by_first: dict[str, list[str]] = {}
    for needle in sorted(needles):
        by_first.setdefault(needle[0], []).append(needle[1:])
    branches = [re.escape(first) + needle_pattern(rest) for first, rest in by_first.items()]
    return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"


def word_runs(needles: Needles) -> Needles | None:
    """Each needle's longest run of word characters ("ll" for "'ll"), or None when a needle
    has none: text holding a needle holds its run."""
    runs = [max(_WORD_RUN.findall(needle), key=len, default="") for needle in needles]
    return shortest(runs) if all(runs) else None


def implied(needles: Needles, by: Needles) -> bool:
    """Whether text holding one of ``by`` always holds one of ``needles``."""
    return all(any(n in found for n in needles) for found in by)


def shortest(needles: Iterable[str]) -> Needles:
    """The needles without those that contain another: finding "jan" is enough for "january"."""
    found = set(needles)
    return frozenset(n for n in found if not any(o != n and o in n for o in found))


# How often a needle turns up in a sentence, roughly: a letter nearly always, a common word
# or two letters often, longer text seldom. Only which needles are tested depends on this,
# never whether an answer is right.
_COMMON_WORDS = frozenset(
    {"and", "are", "but", "can", "for", "get", "going", "got", "has", "have", "not", "our"}
    | {"that", "the", "this", "will", "with", "you", "your"}
)


def frequency(needle: str) -> float:
    """Roughly how likely a sentence is to hold ``needle``."""
    if needle.isdigit():
        return 0.03 / len(needle)
    core = needle.strip()  # " to" is about as common as "to"
    if len(core) <= 2 or core in _COMMON_WORDS:
        return 1.0 if len(core) <= 1 else 0.3
    return {3: 0.05, 4: 0.02, 5: 0.01}.get(len(core), 0.005)


def cost(needles: Iterable[str]) -> tuple[float, int]:
    """How often the needles let a sentence through, then how many there are to test: the
    best set costs least."""
    found = list(needles)
    return sum(map(frequency, found)), len(found)


def _parse(pattern: re.Pattern[str]) -> Any:
    return _PARSER.parse(pattern.pattern, pattern.flags)


def _ranked(choices: Iterable[Needles]) -> list[Needles]:
    return sorted(set(choices), key=lambda needles: (cost(needles), sorted(needles)))


def _main_alternation(items: Iterable[tuple[Any, Any]], folded: bool) -> list[Any] | None:
    """The branches of the first alternation that every match consumes, at the top of the
    pattern or in one of its top groups, or None."""
    for op, arg in items:
        if op is _OPCODES.BRANCH:
            branches: list[Any] = arg[1]
            return branches
        usable = op is _OPCODES.SUBPATTERN and not (arg[1] & re.IGNORECASE and not folded)
        if usable and (found := _main_alternation(arg[3], folded)) is not None:
            return found
    return None


def _choices(items: Iterable[tuple[Any, Any]], folded: bool) -> list[Needles]:
    """Every set of needles a sequence offers: each consumed part is in every match, so any
    one part's needles will do. Text of known spelling (literal characters, small classes
    such as ``[- ]``) runs together into one needle per spelling: "closed[- ]lost" gives
    "closed-lost" and "closed lost". (Spelling out ``\\s`` too was tried: needles such as
    "in " tell a little more than "in", but a scan for needles that start with a space stops
    at every word, which cost more than it spared.)"""
    found: list[Needles] = []
    run: set[str] = set()  # the text just read, in each of its spellings

    def close() -> None:
        if run:
            found.append(shortest(run))
            run.clear()

    for op, arg in items:
        if (spellings := _spellings((op, arg), folded)) is not None:
            if (joined := _joined(run, spellings)) is None:
                close()  # too many spellings to go on: a new run starts
                joined = set(spellings)
            run = joined
            continue
        if op in _REPEATS and arg[0] >= 1 and (body := _fixed_texts(arg[2], folded)):
            # "um+": the first repetition follows the text before ("um"), the last one
            # precedes the text after.
            if (joined := _joined(run, body)) is None:
                close()
                joined = set(body)
            run = joined
            close()
            run = set(body)
            continue
        # The parser moves a prefix common to all branches out in front of them
        # ("fi(?:scal|nancial)"): put it back for longer needles.
        leads = _leading_texts(arg[1], folded) if op is _OPCODES.BRANCH and run else None
        if leads and (joined := _joined(run, leads)) is not None:
            found.append(shortest(joined))
        found.extend(_part_choices(op, arg, folded))
        close()
    close()
    return found


def _joined(before: set[str], after: Iterable[str]) -> set[str] | None:
    """Every spelling of ``before`` followed by one of ``after`` (just ``after``'s when there
    is nothing before), or None when that makes too many spellings to test."""
    joined = {b + a for b in before or {""} for a in after}
    return joined if len(joined) <= _MOST_SPELLINGS else None


def _part_choices(op: Any, arg: Any, folded: bool) -> list[Needles]:
    """The sets of needles one consumed part of a sequence offers (none: empty list)."""
    if op is _OPCODES.IN:
        chars = _class(arg, folded)
        return [] if chars is None else [chars]
    if op is _OPCODES.SUBPATTERN:
        _, added, _, items = arg
        if added & re.IGNORECASE and not folded:
            return []  # "(?i:...)" inside a case-sensitive pattern: needles would need folding
        return _choices(items, folded)
    if op is _OPCODES.ATOMIC_GROUP:
        return _choices(arg, folded)
    if op is _OPCODES.BRANCH:
        return _pooled([_choices(branch, folded) for branch in arg[1]])
    if op in _REPEATS and arg[0] >= 1:
        return _choices(arg[2], folded)
    # Anchors and lookarounds consume nothing; wildcards, negated characters, backreferences
    # and conditionals match text no literal describes.
    return []


def _pooled(branches: list[list[Needles]]) -> list[Needles]:
    """Needles of an alternation: one set from every branch, pooled. Several ways of choosing
    give several pools, each telling something: each branch's best set, its second best, and
    the set that adds least to those chosen before ("\\d+" and "\\d{1,3}(?:,\\d{3})+" share
    the digits, so the comma is not needed)."""
    if not all(branches):
        return []  # a branch without needles may match text without any
    ranked = [_ranked(choices) for choices in branches]
    pools = [set().union(*(r[min(rank, len(r) - 1)] for r in ranked)) for rank in (0, 1)]
    cheapest: set[str] = set()
    for choices in sorted(ranked, key=len):
        cheapest |= min(choices, key=lambda c: cost(c - cheapest))
    return [shortest(pool) for pool in (*pools, cheapest)]


def _leading_texts(branches: list[Any], folded: bool) -> set[str] | None:
    """The literal text each branch starts with, or None when one starts otherwise."""
    leads: set[str] = set()
    for branch in branches:
        lead = ""
        for op, arg in branch:
            char = _char(arg, folded) if op is _OPCODES.LITERAL else None
            if char is None:
                break
            lead += char
        if not lead:
            return None
        leads.add(lead)
    return leads


def _fixed_texts(items: Iterable[tuple[Any, Any]], folded: bool) -> set[str]:
    """Every spelling of a sequence made only of text of known spelling, else none."""
    texts = {""}
    for item in items:
        spellings = _spellings(item, folded)
        if spellings is None:
            return set()
        texts = {t + s for t in texts for s in spellings}
        if len(texts) > _MOST_SPELLINGS:
            return set()
    return texts if texts != {""} else set()


def _spellings(item: tuple[Any, Any], folded: bool) -> Needles | None:
    """The characters a literal or a small class may be, or None for any other part."""
    op, arg = item
    if op is _OPCODES.LITERAL:
        char = _char(arg, folded)
        return None if char is None else frozenset({char})
    if op is _OPCODES.IN:
        return _class(arg, folded)
    return None


def _class(members: list[tuple[Any, Any]], folded: bool) -> Needles | None:
    """The characters of a small character class, each a needle; None for a negated or
    large class."""
    chars: set[str] = set()
    for op, arg in members:
        if op is _OPCODES.LITERAL:
            codes: Iterable[int] = (arg,)
        elif op is _OPCODES.RANGE and arg[1] - arg[0] < _LARGEST_CLASS:
            codes = range(arg[0], arg[1] + 1)
        elif op is _OPCODES.CATEGORY and arg is _OPCODES.CATEGORY_DIGIT:
            codes = range(ord("0"), ord("9") + 1)  # in ASCII text a Unicode digit is 0-9
        else:
            return None
        for code in codes:
            char = _char(code, folded)
            if char is None:
                return None
            chars.add(char)
    return frozenset(chars) if len(chars) <= _LARGEST_CLASS else None


def _char(code: int, folded: bool) -> str | None:
    """The needle form of a literal character, or None when it has none."""
    char = chr(code)
    if char.isascii():
        return char.lower() if folded else char
    if folded and _folds_to_ascii(char):
        return None
    return char  # cannot occur in ASCII text; nor can any match that needs it


def _folds_to_ascii(char: str) -> bool:
    """Whether ``char`` matches an ASCII character case-insensitively (the Kelvin sign)."""
    pattern = re.compile(re.escape(char), re.IGNORECASE)
    return any(pattern.fullmatch(chr(code)) for code in range(128))
