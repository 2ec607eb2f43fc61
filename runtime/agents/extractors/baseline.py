"""The baseline extractor: keyword and pattern rules, offline, deliberately simple.

It is the yardstick a better extractor must beat, not the product's answer. It reads each
sentence of the transcript and the notes (questions are ignored) and proposes:

- ``amount``: a currency figure (``$60,000``, ``60k``, ``60 thousand``, ``EUR 1.2 million``)
  said by the customer (or an unknown speaker) or written in the notes; a bare number
  without a currency or a multiplier is not an amount, nor is one followed by a unit such as
  ``seats`` or ``users``;
- ``closedate``: an explicit ISO date (``2026-04-30``) or a month and day (``April 30``,
  ``Apr 30th, 2026``) in a sentence about closing, signing or going live; a date without a
  year is the next such day on or after the meeting; dates before the meeting are ignored;
- ``hs_next_step``: the last sentence that names a next step or in which someone says
  "I'll send" / "we'll send"; "I'll send X" becomes "Send X";
- no stage changes.

Every mention of the same value becomes one candidate; signals come from words in the
sentence (hedges, commitments, corrections) and from who spoke (attendees' ``internal``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from runtime.agents.extraction import (
    Candidate,
    Evidence,
    ExtractionContext,
    Signals,
    SpeakerRole,
)
from runtime.agents.extractors.speakers import speaker_roles
from runtime.meetings.models import MeetingIn

__all__ = ["KeywordExtractor"]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_MONEY = re.compile(
    r"(?P<cur>[$€£]\s?|\b(?:usd|eur|gbp)\s?)?"
    r"(?<![\w.,])(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?"
    r"(?:\s?(?P<mult>k|mm|m|thousand|million|grand)\b)?"
    r"(?P<word>\s?(?:dollars|bucks|euros|pounds|usd|eur|gbp)\b)?",
    re.IGNORECASE,
)
_NOT_MONEY_AFTER = re.compile(
    r"\s*(?:%|percent|users?|seats?|licen[cs]es?|employees|people|reps|months?|weeks?|days?"
    r"|minutes?|hours?|years?)\b",
    re.IGNORECASE,
)
_MULTIPLIER = {"k": 1_000, "thousand": 1_000, "grand": 1_000, "m": 1_000_000}
_MULTIPLIER |= {"mm": 1_000_000, "million": 1_000_000}
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_DAY = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november"
    r"|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?\s+(\d{1,2})(?:st|nd|rd|th)?"
    r"\b(?:,?\s+(\d{4})\b)?",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"\b(?:clos(?:e|es|ed|ing)|sign(?:s|ed|ing|ature)?|contract|decision|decide|purchase"
    r"|go[- ]live|launch|deadline|renew(?:al|s|ed)?|kick[- ]?off|start date)\b",
    re.IGNORECASE,
)
_NEXT_STEP = re.compile(
    r"\bnext steps?\b(?:\s+(?:is|are|will be|would be)\s+(?:to\s+)?|\s*:\s*)?", re.IGNORECASE
)
_SEND = re.compile(r"\b(?:i|we)(?:'ll|\u2019ll| will)\s+(?=send\b)", re.IGNORECASE)
_HEDGE = re.compile(
    r"\b(?:maybe|might|probably|possibly|perhaps|hopefully|hope|likely|roughly|approximately"
    r"|ballpark|guess|tentative(?:ly)?|not sure|i think|we think|or so|could be"
    r"|(?:about|around)\s+[$€£]?\d)",
    re.IGNORECASE,
)
_COMMIT = re.compile(
    r"\b(?:agree[ds]?|confirm(?:ed|s)?|commit(?:ted|s)?|approved|signed|works for us"
    r"|go ahead|let's do|sounds good|we're good with|final)\b",
    re.IGNORECASE,
)
_CORRECTION = re.compile(
    r"\b(?:actually|correction|scratch that|make (?:that|it)|instead|i mean|i meant)\b",
    re.IGNORECASE,
)
_ROLE_RANK: dict[SpeakerRole, int] = {"rep": 0, "unknown": 1, "customer": 2}


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str
    role: SpeakerRole
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class _Mention:
    value: str
    sentence: _Sentence


class KeywordExtractor:
    """The offline baseline (see the module docstring); to be replaced by a better one."""

    name = "baseline"

    async def extract(self, context: ExtractionContext) -> list[Candidate]:
        sentences = [s for s in _sentences(context.meeting) if not s.text.endswith("?")]
        day = context.meeting.started_at.date()
        next_steps = [_Mention(step, s) for s in sentences if (step := _next_step(s.text))]
        found: dict[str, list[_Mention]] = {
            "amount": [
                _Mention(value, s)
                for s in sentences
                if s.role != "rep" or s.evidence.source == "notes"
                for value in _amounts(s.text)
            ],
            "closedate": [
                _Mention(value, s)
                for s in sentences
                if _CLOSING.search(s.text)
                for value in _dates(s.text, day)
            ],
            # The latest stated next step wins: earlier ones were usually superseded.
            "hs_next_step": next_steps[-1:],
        }
        return [
            candidate
            for field, mentions in found.items()
            if field in context.fields
            for candidate in _candidates(field, mentions)
        ]


def _sentences(meeting: MeetingIn) -> Iterator[_Sentence]:
    roles = speaker_roles(meeting)
    for index, line in enumerate(meeting.transcript):
        role = roles.get(line.speaker, "unknown")
        evidence = Evidence(
            source="transcript",
            text=line.text,
            speaker=line.speaker,
            line=index,
            start_s=line.start_s,
        )
        for text in _SENTENCE_END.split(line.text):
            if text.strip():
                yield _Sentence(text.strip(), role, evidence)
    for text in _SENTENCE_END.split(meeting.notes or ""):
        if text.strip():
            # The rep types the notes.
            yield _Sentence(text.strip(), "rep", Evidence(source="notes", text=text.strip()))


def _amounts(text: str) -> Iterator[str]:
    for found in _MONEY.finditer(text):
        cur, mult, word = found["cur"], (found["mult"] or "").lower(), found["word"]
        if mult in ("m", "mm") and not cur:
            continue  # "30m" is more often minutes than millions
        if not (cur or mult or word) or _NOT_MONEY_AFTER.match(text, found.end()):
            continue
        number = Decimal(found["num"].replace(",", "") + (found["frac"] or ""))
        number *= _MULTIPLIER.get(mult, 1)
        if number > 0:
            yield str(number.quantize(Decimal(1)) if number == int(number) else number)


def _dates(text: str, meeting_day: date) -> Iterator[str]:
    for found in _ISO_DATE.finditer(text):
        day = _valid_date(int(found[1]), int(found[2]), int(found[3]))
        if day is not None and day >= meeting_day:
            yield day.isoformat()
    for found in _MONTH_DAY.finditer(text):
        month = _MONTHS.index(found[1].lower()[:3]) + 1
        if found[3]:
            day = _valid_date(int(found[3]), month, int(found[2]))
        else:
            day = next(
                (
                    d
                    for year in (meeting_day.year, meeting_day.year + 1)
                    if (d := _valid_date(year, month, int(found[2]))) and d >= meeting_day
                ),
                None,
            )
        if day is not None and day >= meeting_day:
            yield day.isoformat()


def _valid_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _next_step(text: str) -> str | None:
    found = _NEXT_STEP.search(text) or _SEND.search(text)
    if found is None:
        return None
    step = text[found.end() :].strip(" ,.;:-") or text.strip(" .")
    if (send := _SEND.match(step)) is not None:
        step = step[send.end() :]
    return step[:1].upper() + step[1:]


def _candidates(field: str, mentions: list[_Mention]) -> Iterator[Candidate]:
    by_value: dict[str, list[_Sentence]] = {}
    for mention in mentions:
        by_value.setdefault(mention.value, []).append(mention.sentence)
    for value, said in by_value.items():
        evidence = tuple(dict.fromkeys(s.evidence for s in said))
        yield Candidate(
            field=field,
            value=value,
            evidence=evidence,
            signals=Signals(
                speaker_role=max((s.role for s in said), key=_ROLE_RANK.__getitem__),
                explicit=True,
                hedged=all(_HEDGE.search(s.text) for s in said),
                committed=any(_COMMIT.search(s.text) or _SEND.search(s.text) for s in said),
                corrected=any(_CORRECTION.search(s.text) for s in said),
                mentions=len(said),
                conflicting_mentions=len(mentions) - len(said),
            ),
        )
