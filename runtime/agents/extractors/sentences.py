"""A meeting as a list of sentences, each with who said it and where it came from.

The rule families read sentences rather than whole transcript lines: one line often
holds a figure in one sentence and its rejection in the next. The rep's notes come last,
as the rep's own sentences.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from runtime.agents.extraction import Evidence, SpeakerRole
from runtime.meetings.models import MeetingIn

__all__ = ["SENTENCE_END", "Sentence", "meeting_sentences"]

SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
"""Where a sentence ends: after . ! or ? followed by space, and at every line break."""


@dataclass(frozen=True, slots=True)
class Sentence:
    order: int
    text: str
    role: SpeakerRole
    evidence: Evidence
    turn: int  # transcript line index; notes get one past the last line

    @property
    def from_notes(self) -> bool:
        return self.evidence.source == "notes"


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
        evidence = Evidence(
            source="transcript",
            text=line.text,
            speaker=line.speaker,
            line=index,
            start_s=line.start_s,
        )
        role = roles.get(line.speaker.casefold(), "unknown")
        for text in boundary.split(line.text):
            if text.strip():
                yield Sentence(order, text.strip(), role, evidence, index)
                order += 1
    for text in boundary.split(meeting.notes or ""):
        clean = text.strip(" -*\t")
        if clean:
            notes = Evidence(source="notes", text=clean)
            yield Sentence(order, clean, "rep", notes, len(meeting.transcript))
            order += 1
