"""Wording of a next step: turn a spoken commitment into the short line a careful rep writes.

Pure string helpers for ``next_steps.py``. ``phrase_action`` rewrites the words after "I'll"
into an imperative ("get the order form over to you by tomorrow" -> "Send the order form to
Marcus by Fri Mar 6"): fillers and stutters go, "you" becomes the person spoken to, a date
phrase becomes a concrete day, and trailing asides ("if I haven't heard", "since ...") go.
"""

from __future__ import annotations

import functools
import operator
import re
from datetime import date

from runtime.agents.extractors.date_phrases import DateMention, resolve_date_phrase
from runtime.agents.extractors.prefilter import PrefilteredPattern, prefiltered

__all__ = ["clean_text", "format_day", "phrase_action", "place_deadline"]


def _words(pattern: str) -> PrefilteredPattern:
    return prefiltered(pattern, re.IGNORECASE)


_FILLER = _words(r"\b(?:um+|uh+|erm|er|hmm+|you\s+know|i\s+mean|like,|basically|so,)\s*,?\s*")
_STUTTER = _words(r"\b(\w+)(?:[\s,]+\1\b)+")
_TAIL = _words(
    r"(?:,\s*|\s+)(?:if\s+(?:i|we)\s+haven't|if\s+it's\s+not|if\s+(?:i|we)\s+don't|since\b"
    r"|because\b|when\s+(?:you|i|we)\s+(?:have|get)\b|so\s+(?:that|you|we)\b|as\s+(?:we|i)\s+(?:said|discussed)|and\s+we'll\s+keep"
    r"|,?\s*and\s+(?:i|we)(?:'ll|\s+will)\s+(?:wait|keep|set|be|let)|and\s+(?:then\s+)?we'll\s+(?!build|walk|review)|right\s+after\s+this"
    r"|,\s*(?:okay|ok|right|then|too)\b).*$"
)
# "get the order form over to you" / "have both to you" / "get you the quote": a sending.
_GET_OVER = _words(
    r"^(?:get|have)\s+(?P<obj>.+?)\s+(?:over|across|back)?\s*(?:to\s+(?P<to>you|\w+))\b"
)
_GET_YOU = _words(r"^(?:get|have)\s+(?P<to>you|him|her|them)\s+(?P<obj>.+)$")
_GET_BACK = _words(r"^get\s+(?P<obj>it|that|them|this)\s+back\s+to\s+(?P<to>you|\w+)")
_SEND_YOU = _words(r"^(?P<verb>send|email|forward|share)\s+(?P<to>you|him|her)\s+(?P<obj>.+)$")
_TO_YOU = _words(r"\b(?:to|with|for)\s+you\b")
_YOU = _words(r"\byou\b")
_WORD_RUN = re.compile(r"\w+")
_LEADING = _words(r"^(?:also|then|just|definitely|absolutely|of\s+course|go\s+ahead\s+and)\s+")


# The next-step rules clean most sentences more than once (as a commitment, as a request,
# as an action): the result is a pure function of the text, so it is remembered.
@functools.lru_cache(maxsize=4096)
def clean_text(text: str) -> str:
    """Fillers ("um", "uh") and stutters ("the the") dropped, spaces squeezed."""
    text = _FILLER.sub("", text)
    if _may_stutter(text):
        text = _STUTTER.sub(r"\1", text)
    # What squeezing each run of whitespace (``\s``: exactly ``str.isspace``) to one space
    # gives, but for spaces at either end, which the strip drops anyway.
    return " ".join(text.split()).strip(" ,")


def _may_stutter(text: str) -> bool:
    """False only when ``_STUTTER`` has nothing to drop. A stutter is a word said twice with
    only spaces or commas between: in ASCII text (where ignoring case is lowercase equality)
    two equal neighbours among the runs of word characters, which one C-level scan finds
    several times quicker than the pattern, whose backreference no prefilter can read."""
    if not text.isascii():
        return True
    runs = _WORD_RUN.findall(text.lower())
    return any(map(operator.eq, runs, runs[1:]))


def format_day(day: date) -> str:
    """A day as reps write it in the CRM: ``Fri Mar 6``."""
    return f"{day:%a %b} {day.day}"


def place_deadline(text: str, mention: DateMention | None, day: date | None) -> str:
    """The text with its date phrase replaced by ``by Fri Mar 6`` (or appended when absent)."""
    if day is None:
        return text
    if mention is None:
        return f"{text.rstrip(' ,.;')} by {format_day(day)}"
    if mention.text.lower() in ("today", "tonight", "this afternoon"):
        return text  # "today" is what a rep writes
    before = text[: mention.start].rstrip()
    after = text[mention.end :]
    found = re.search(r"\b(by|on|before|until|for|after|in)$", before, re.IGNORECASE)
    preposition = "by"
    if found is not None:
        preposition = found[1].lower()
        before = before[: found.start()].rstrip()
    if preposition in ("in", "for", "until"):
        preposition = "by"
    return f"{before} {preposition} {format_day(day)}{after}".strip()


def phrase_action(action: str, *, addressee: str | None, anchor: date) -> str:
    """The imperative next step for the words after "I'll" (see the module docstring)."""
    text = _LEADING.sub("", clean_text(action)).strip(" .,!")
    text = _TAIL.sub("", text).strip(" .,")
    who = addressee or "them"
    for pattern in (_GET_BACK, _GET_OVER):
        if (found := pattern.match(text)) is not None:
            to = who if found["to"].lower() == "you" else found["to"]
            text = f"Send {found['obj']} to {to}{text[found.end() :]}"
            break
    else:
        if (found := _GET_YOU.match(text) or _SEND_YOU.match(text)) is not None:
            to = who if found["to"].lower() == "you" else found["to"]
            verb = found.groupdict().get("verb") or "send"
            text = f"{verb} {found['obj']} to {to}"
    text = re.sub(r"\s+(?:over|across)(?=\s+to\b)", "", text, flags=re.IGNORECASE)
    if addressee is not None:
        text = _TO_YOU.sub(lambda m: m[0].rsplit(" ", 1)[0] + f" {addressee}", text)
        text = _YOU.sub(addressee, text)
    mentions = resolve_date_phrase(text, anchor=anchor)
    future = [m for m in mentions if m.value >= anchor]
    if future:
        text = place_deadline(text, future[-1], future[-1].value)
    return text[:1].upper() + text[1:]
