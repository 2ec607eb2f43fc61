"""A meeting as a list of sentences, each with who said it and where it came from.

The rule families read sentences rather than whole transcript lines: one line often
holds a figure in one sentence and its rejection in the next. The rep's notes come last,
as the rep's own sentences.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from runtime.agents.extraction import Evidence, SpeakerRole
from runtime.meetings.models import MeetingIn

__all__ = [
    "CAPITAL_SENTENCE_END",
    "SENTENCE_END",
    "Sentence",
    "meeting_sentences",
    "notes_evidence",
    "split_sentences",
    "transcript_evidence",
]

SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
"""Where a sentence ends: after . ! or ? followed by space, and at every line break."""
CAPITAL_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])|(?<=[!?])\s+|\n+")
"""Where a sentence ends for figures: after a full stop only before a capital or a quote
(so "1.2 million" and "approx. 40" stay whole), after ! or ?, and at every line break."""


class Sentence(NamedTuple):
    """One sentence, who said it and where. A named tuple rather than a frozen dataclass:
    the rule families build a meeting's sentences twice over, and a frozen dataclass, which
    sets each field through ``object.__setattr__``, takes three times as long to build."""

    order: int
    text: str
    role: SpeakerRole
    evidence: Evidence
    turn: int  # transcript line index; notes get one past the last line

    @property
    def from_notes(self) -> bool:
        return self.evidence.source == "notes"


# Every rule family reads every line of a meeting: the helpers below work a line out once per
# meeting rather than once per family (a validated Evidence costs more than the rest of a
# line's reading). They are pure, and an Evidence is frozen, so sharing one is safe.
_LINES_REMEMBERED = 4096
# Both boundaries follow ".", "!" or "?" and a space, or are a line break: a text with
# neither is one sentence, which this scan tells in a fraction of a split's time.
_STOP_BOUNDARIES = (SENTENCE_END, CAPITAL_SENTENCE_END)
_MAY_BREAK = re.compile(r"[.!?]\s|\n")
# In a text without line breaks, the boundaries are the spaces after the stops: a scan for
# the stops finds them in half the time the boundaries' look-behind lets a split take.
_STOP_AND_SPACE = re.compile(r"[.!?](\s+)")
_CAPITAL_NEXT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ\"'")


@functools.lru_cache(maxsize=_LINES_REMEMBERED, typed=True)
def transcript_evidence(text: str, speaker: str, line: int, start_s: float) -> Evidence:
    """The evidence for transcript line number ``line``."""
    return Evidence(source="transcript", text=text, speaker=speaker, line=line, start_s=start_s)


@functools.lru_cache(maxsize=_LINES_REMEMBERED)
def notes_evidence(text: str) -> Evidence:
    """The evidence for a span of the rep's notes."""
    return Evidence(source="notes", text=text)


@functools.lru_cache(maxsize=_LINES_REMEMBERED)
def split_sentences(text: str, boundary: re.Pattern[str] = SENTENCE_END) -> tuple[str, ...]:
    """``boundary.split(text)``: the pieces between boundaries, blank ones included."""
    if boundary in _STOP_BOUNDARIES:
        if _MAY_BREAK.search(text) is None:
            return (text,)
        if "\n" not in text:
            return _split_at_stops(text, capital_next=boundary == CAPITAL_SENTENCE_END)
    return tuple(boundary.split(text))


def _split_at_stops(text: str, *, capital_next: bool) -> tuple[str, ...]:
    """What ``SENTENCE_END`` (``CAPITAL_SENTENCE_END`` with ``capital_next``) splits a text
    without line breaks into: the pieces between the runs of space after a stop (after a full
    stop, with ``capital_next``, only a run before a capital or a quote)."""
    pieces: list[str] = []
    last = 0
    for stop in _STOP_AND_SPACE.finditer(text):
        start, end = stop.span(1)
        if capital_next and stop[0][0] == "." and text[end : end + 1] not in _CAPITAL_NEXT:
            continue
        pieces.append(text[last:start])
        last = end
    pieces.append(text[last:])
    return tuple(pieces)


def meeting_sentences(
    meeting: MeetingIn,
    roles: Mapping[str, SpeakerRole],
    *,
    boundary: re.Pattern[str] = SENTENCE_END,
) -> Iterator[Sentence]:
    """Every sentence of the transcript, then of the notes, in order.

    ``roles`` maps case-folded speaker names to roles; unknown speakers are ``unknown``.
    """
    order = 0
    for index, line in enumerate(meeting.transcript):
        evidence = transcript_evidence(line.text, line.speaker, index, line.start_s)
        role = roles.get(line.speaker.casefold(), "unknown")
        for text in split_sentences(line.text, boundary):
            if stripped := text.strip():
                yield Sentence(order, stripped, role, evidence, index)
                order += 1
    for text in split_sentences(meeting.notes or "", boundary):
        clean = text.strip(" -*\t")
        if clean:
            notes = notes_evidence(clean)
            yield Sentence(order, clean, "rep", notes, len(meeting.transcript))
            order += 1
