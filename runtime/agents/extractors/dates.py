"""Close-date candidates from a meeting: which stated dates are about closing, and which win.

Pure functions over a ``MeetingIn``; dates resolve against the meeting's day (``started_at``
is stored in UTC, so that is the UTC day) with ``date_phrases.resolve_date_phrase``. Rules,
each with an example:

- Topic: a date counts only when it is said about closing: signing (strongest); paperwork,
  purchase order, decision, buying; or (weakest) go-live, budget approval, deadline, timeline,
  "realistic", renewal. "We want to sign by end of March" counts; "let's do the demo
  on Tuesday", "I'll send the order form by Friday", "our current contract ends April 30",
  "talk on the 18th" and "park that until Q1" do not ("call it Friday for a signature"
  does). The words of the date's own clause decide (the nearest one; a clause that opens
  with an action such as "send" or "confirm ... with" is about that action, and so is one
  whose nearest such word is not about closing); a clause without such words takes them
  from its sentence, then from the rest of the turn, then from the two turns before ("Can
  we sign Friday?" / "No. End of the month.").
- Past dates are not close dates ("we renewed last March"), except a signing:
  "I signed it this morning" / "signed on Friday" -> that past day, and it wins.
- Speculation is not a commitment: "it might slip into December, maybe" proposes nothing;
  softer hedges ("should be", "probably", "around") keep the date but mark it hedged.
- A question proposes a date without stating it: "Can we sign by March 31?" counts only when
  the other side answers yes; a "No" (or "That won't work", "not this Friday", "Friday isn't
  up to me") rejects the dates the other side just proposed, and their counter-date counts.
- Corrections: "sign on the 14th, no, sorry, the 15th" drops the 14th; otherwise the last
  stated date breaks ties.
- Who said it: the customer's commitment outweighs the rep's hope, so candidates rank by
  signing, then unhedged, then speaker (customer > unknown > rep; notes count as the rep's),
  then a closing topic (signing, paperwork, approval, decision) before a weak one (go-live,
  timeline), then a topic said in the date's own sentence before one borrowed from the turn,
  then topic strength, then commitment, then the latest statement. "This week" / "next week"
  is timing rather than a date, so it is marked hedged.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from pydantic import BaseModel, ConfigDict

from runtime.agents.extraction import Candidate, Evidence, Signals, SpeakerRole
from runtime.agents.extractors.date_phrases import (
    DateMention,
    Granularity,
    Tense,
    fiscal_year_start_month,
    may_hold_a_date,
    resolve_date_phrase,
)
from runtime.agents.extractors.prefilter import PrefilteredPattern, prefiltered
from runtime.agents.extractors.sentences import notes_evidence, split_sentences, transcript_evidence
from runtime.meetings.models import MeetingIn

__all__ = ["DateCandidate", "extract_close_date_candidates"]


def _words(pattern: str) -> PrefilteredPattern:
    return prefiltered(pattern, re.IGNORECASE)


_SIGNING = _words(
    r"\b(?:sign(?:s|ed|ing|ature|atures)?\b(?![- ]off)|countersign\w*|close\s+(?:the|this)\s+deal"
    r"|close\s+(?:it|this)\b|closing\s+date|close\s+date)"
)
_STRONG = _words(
    r"\b(?:paperwork|purchase\s+order|PO\b|decide|decision|buy|purchase|go\s+ahead"
    r"|approv(?:e|es|al)\b(?!\s+(?:the\s+)?budget))"
)
_WEAK = _words(
    r"\b(?:go(?:es)?[- ]live|live\b|up\s+and\s+running|running\b|in\s+place|budget\s+approv\w*"
    r"|approv\w*|sign(?:ed)?[- ]off|deadline|timeline|timing|realistic|at\s+the\s+latest|target"
    r"|down\s+for|move\s+us\s+to|renew\w*|done\s+by)"
)
_OTHER = _words(
    r"\b(?:send|sent|email|demo|meet\w*|call\b(?!\s+it\b)|follow[- ]?up|check[- ]?in"
    r"|check\s+with|confirm"
    r"|talk|speak|kick[- ]?off|kick\s+(?:\w+\s+)?off|train\w*|invite|walk\s+(?:\w+\s+)?through"
    r"|walkthrough|proposal"
    r"|quote|questionnaire|feedback|back\s+to\s+you|over\s+to\s+you|to\s+you\s+by|review\w*"
    r"|pilot|install\w*|onboard\w*|webinar|board|committee|ends|ended|expires?|runs\s+out|starts?"
    r"|starting|reconnect|reach\s+out|let\s+you\s+know|hear\s+back|report|schema|deck|ship\w*"
    r"|budget\s+(?:round|cycle)|comments|results|reply|respond|present\w*|park\w*|revisit\w*"
    r"|pick\s+(?:it|this|that)\s+(?:back\s+)?up|circle\s+back|table\s+(?:it|this|that))"
)
_ACTION_FIRST = _words(
    r"^\W*(?:(?:i|we|she|he|they)(?:'ll|\u2019ll|\s+will|\s+can)?\s+)?(?:next:?\s*)?"
    r"(?:send|email|confirm|follow|check|call|meet|talk|get\s+(?:it|that|them)\s+(?:back|over))"
)
_CLAUSE_BREAK = _words(
    r",\s+(?=\D)|;\s*|\s+[\u2014\u2013-]\s+|\s+(?:and|but|so|because|once|which|when)\s+"
)
_SPECULATION = _words(
    r"\b(?:might|maybe|perhaps|possibly|who\s+knows|could\s+slip|not\s+sure|don't\s+know"
    r"|no\s+idea)\b"
)
_HEDGE = _words(
    r"\b(?:should\s+be|probably|hopefully|hoping|hope|i\s+think|likely|around|roughly|ideal(?:ly)?"
    r"|aim\w*|love\s+to|tentative\w*|confident)\b"
)
_COMMIT = _words(
    r"\b(?:agree\w*|confirm\w*|commit\w*|(?:i|we)(?:'ll|'d|\s+will|\s+would)\s+sign|deal|done"
    r"|let's\s+say|hard\s+deadline|at\s+the\s+latest|yes|works)\b"
)
_ACCEPT = _words(
    r"^\W*(?:yes|yeah|yep|correct|right|exactly|sure|works|that\s+works|fine|sounds\s+good|ok"
    r"|okay|deal|agreed|perfect|great|done|should\s+be)\b"
)
_REJECT = _words(
    r"^\W*(?:no\b(?!\s+(?:worries|problem))|nope|that\s+won't\s+work|that's\s+not\s+(?:going|how"
    r"|my\s+call|possible|realistic)|not\s+(?:going|possible|realistic)|unfortunately"
    r"|that\s+doesn't\s+work|(?:i|we)\s+can't)"
)
_NEGATED_BEFORE = _words(r"\b(?:not|never)\s+(?:by\s+|on\s+|before\s+|in\s+|until\s+)?$")
_NEGATED_AFTER = _words(r"^\s*(?:isn't|is\s+not|won't|doesn't|does\s+not|can't|is\s+out)\b")
_CORRECTION = _words(
    r"\b(?:no,?\s+sorry|sorry|actually|i\s+mean|i\s+meant|make\s+(?:that|it)|correction"
    r"|scratch\s+that|no\s+wait)\b|\u2014\s*no\b"
)
_SIGNED = _words(r"\b(?:counter)?signed\b(?![- ]off)")
_NOT_YET_SIGNED = _words(
    r"\b(?:will|'ll|to\s+be|be\s+signed|signed\s+(?:by|before)|(?:want|wants|need|needs|like"
    r"|get|have|had)\s+(?:it|this|that|them|everything|the\s+\w+)\s+signed|has\s+to\s+be"
    r"|needs\s+to\s+be|unsigned|if\s+|gets?\s+signed|are\s+signed|usually|typically"
    r"|always)"
)
_SIGNED_ELSEWHERE = _words(r"\bsigned\s+with\b")
_PAST_EVENT = _words(r"\b(?:renewed|decided|bought|purchased|approved|went\s+live|closed)\b")
_ROLE_RANK: dict[SpeakerRole, int] = {"rep": 0, "unknown": 1, "customer": 2}
_CLOSING = 2  # topic strength of signing or another closing step, above go-live and the like


class DateCandidate(BaseModel):
    """A proposed close date ("YYYY-MM-DD") with its evidence and confidence signals."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: str
    evidence: tuple[Evidence, ...]
    signals: Signals
    granularity: Granularity = "day"
    signed: bool = False

    def to_candidate(self) -> Candidate:
        """The candidate for HubSpot's ``closedate`` property."""
        return Candidate(
            field="closedate", value=self.value, evidence=self.evidence, signals=self.signals
        )


@dataclass(slots=True)
class _Turn:
    index: int
    speaker: str | None
    role: SpeakerRole
    text: str
    evidence: Evidence
    triggers: list[tuple[int, int]] = field(default_factory=list)  # (position, strength)


@dataclass(frozen=True, slots=True)
class _Said:
    """One mention of a date in a turn, with what the rules decided about it."""

    mention: DateMention
    turn: _Turn
    order: int
    strength: int  # 3 signing, 2 other closing step, 1 weak topic, 0 not about closing
    explicit: bool
    question: bool
    hedged: bool
    speculative: bool
    committed: bool
    negated: bool
    signed: bool
    role: SpeakerRole


def extract_close_date_candidates(
    meeting: MeetingIn, *, speaker_roles: Mapping[str, SpeakerRole]
) -> list[DateCandidate]:
    """Close-date candidates, best first (see the module docstring for the rules)."""
    anchor = meeting.started_at.date()
    turns = list(_turns(meeting, speaker_roles))
    all_text = "\n".join(t.text for t in turns)
    fy_start = fiscal_year_start_month(all_text) or 1
    said = list(_mentions(turns, anchor, fy_start))
    kept = _apply_dialogue_rules(said, turns)
    kept = [
        s
        for s in kept
        if s.strength > 0
        and not s.speculative
        and (s.mention.value <= anchor if s.signed else s.mention.value >= anchor)
    ]
    return _rank(kept)


def _turns(meeting: MeetingIn, roles: Mapping[str, SpeakerRole]) -> Iterator[_Turn]:
    for index, line in enumerate(meeting.transcript):
        evidence = transcript_evidence(line.text, line.speaker, index, line.start_s)
        yield _Turn(index, line.speaker, roles.get(line.speaker, "unknown"), line.text, evidence)
    offset = len(meeting.transcript)
    notes = [n.strip(" -*\t") for n in (meeting.notes or "").splitlines() if n.strip(" -*\t")]
    for index, text in enumerate(notes, start=offset):
        # The rep types the notes.
        yield _Turn(index, None, "rep", text, notes_evidence(text))


def _sentences(text: str) -> Iterator[tuple[int, str]]:
    position = 0
    for part in split_sentences(text):
        start = text.index(part, position)
        position = start + len(part)
        if part.strip():
            yield start, part


# A turn's text is read for the topic of each date in it and in the two turns after it: the
# triggers of a text are worked out once (a pure function of it).
@functools.lru_cache(maxsize=256)
def _triggers(text: str) -> tuple[tuple[int, int], ...]:
    found = [(m.start(), 3) for m in _SIGNING.finditer(text)]
    found += [(m.start(), 2) for m in _STRONG.finditer(text)]
    found += [(m.start(), 1) for m in _WEAK.finditer(text)]
    found += [(m.start(), 0) for m in _OTHER.finditer(text)]
    return tuple(sorted(found))


@functools.lru_cache(maxsize=256)
def _strongest(text: str, outside: DateMention | None = None) -> int | None:
    """The strength of the strongest trigger in ``text`` (the most of ``_triggers``), leaving
    out those that start inside ``outside``; None when there is none. Looked for strongest
    kind first, so a text is seldom scanned for all four kinds."""
    for strength, pattern in ((3, _SIGNING), (2, _STRONG), (1, _WEAK), (0, _OTHER)):
        found = (m.start() for m in pattern.finditer(text))
        if any(outside is None or not _overlaps(start, outside) for start in found):
            return strength
    return None


def _clause(sentence: str, start: int) -> tuple[int, str]:
    bounds = [0, *(m.end() for m in _CLAUSE_BREAK.finditer(sentence)), len(sentence)]
    begin = max(b for b in bounds if b <= start)
    end = min((b for b in bounds if b > start), default=len(sentence))
    return begin, sentence[begin:end]


def _topic(
    sentence: str, clause: tuple[int, str], mention: DateMention, turn: _Turn, turns: list[_Turn]
) -> tuple[int, bool]:
    """How strongly the date is about closing (2, 1, 0), and whether its own sentence says so;
    ``clause`` is the date's clause, ``_clause(sentence, mention.start)``."""
    begin, clause_text = clause
    inside = [
        (p + begin, s) for p, s in _triggers(clause_text) if not _overlaps(p + begin, mention)
    ]
    if inside:
        if _ACTION_FIRST.match(clause_text) and inside[0][1] == 0:
            return 0, True
        nearest = min(inside, key=lambda t: abs(t[0] - mention.start))[1]
        return (max(s for _, s in inside) if nearest else 0), True
    # Outside the date's clause, any word about closing in the sentence (then the turn) wins.
    if (in_sentence := _strongest(sentence, outside=mention)) is not None:
        return in_sentence, True
    if (in_turn := _strongest(turn.text)) is not None:
        return in_turn, False
    for previous in reversed(turns[max(0, turn.index - 2) : turn.index]):
        if previous.evidence.source == turn.evidence.source and (found := _triggers(previous.text)):
            return found[-1][1], False
    return 0, False


def _overlaps(position: int, mention: DateMention) -> bool:
    return mention.start <= position < mention.end


def _mentions(turns: list[_Turn], anchor: date, fy_start: int) -> Iterator[_Said]:
    order = 0
    for turn in turns:
        for offset, sentence in _sentences(turn.text):
            if not may_hold_a_date(sentence):
                continue  # no date, nothing to say about one
            if _SIGNED_ELSEWHERE.search(sentence):
                continue  # "we signed with TrackRight": someone else's deal
            # Past tense needs a signing or another past event and no "will" or "to be": the
            # events are checked first, as they are far rarer than that wording.
            signing = bool(_SIGNED.search(sentence))
            event = signing or bool(_PAST_EVENT.search(sentence))
            past = event and not _NOT_YET_SIGNED.search(sentence)
            signed = past and signing
            tense: Tense = "past" if past else "future"
            found = resolve_date_phrase(
                sentence, anchor=anchor, fiscal_year_start_month=fy_start, tense=tense
            )
            for mention in found:
                begin, clause = _clause(sentence, mention.start)
                strength, explicit = _topic(sentence, (begin, clause), mention, turn, turns)
                negated = bool(
                    _NEGATED_BEFORE.search(sentence[max(0, mention.start - 12) : mention.start])
                    or _NEGATED_AFTER.match(sentence[mention.end :])
                )
                yield _Said(
                    # (what ``dataclasses.replace`` gives, built directly: a tenth of the cost)
                    mention=DateMention(
                        mention.start + offset,
                        mention.end + offset,
                        mention.text,
                        mention.value,
                        mention.granularity,
                    ),
                    turn=turn,
                    order=order,
                    strength=3 if signed else strength,
                    explicit=explicit,
                    question=sentence.rstrip().endswith("?"),
                    # "this week" / "next week" is timing, not a date.
                    hedged=bool(_HEDGE.search(sentence)) or mention.granularity == "week",
                    speculative=bool(_SPECULATION.search(clause) or _SPECULATION.search(sentence)),
                    committed=bool(_COMMIT.search(sentence)) or signed,
                    negated=negated,
                    signed=signed,
                    role=turn.role,
                )
                order += 1


def _apply_dialogue_rules(said: list[_Said], turns: list[_Turn]) -> list[_Said]:
    """Questions need a yes, a "no" rejects what the other side proposed, corrections win."""
    rejected: dict[date, int] = {}  # value -> order of the rejection
    kept: list[_Said] = []
    by_turn: dict[int, list[_Said]] = {}
    for s in said:
        by_turn.setdefault(s.turn.index, []).append(s)
    for turn in turns:
        reply = turns[turn.index + 1] if turn.index + 1 < len(turns) else None
        if reply is not None and reply.speaker == turn.speaker:
            reply = None
        first = next(iter(by_turn.get(reply.index, [])), None) if reply else None
        for s in by_turn.get(turn.index, []):
            if s.negated:
                rejected[s.mention.value] = s.order
                continue
            if reply is not None and _REJECT.match(reply.text) and reply.role != s.role:
                rejected[s.mention.value] = s.order + 1
                continue
            if s.question:
                if reply is None or not (
                    _ACCEPT.match(reply.text)
                    or (first is not None and first.mention.value == s.mention.value)
                ):
                    continue
                role = max(s.role, reply.role, key=_ROLE_RANK.__getitem__)
                s = replace(
                    s, role=role, committed=True, hedged=s.hedged or bool(_HEDGE.search(reply.text))
                )
            kept.append(s)
    kept = [s for s in kept if rejected.get(s.mention.value, -1) < s.order]
    return _drop_corrected(kept)


def _drop_corrected(said: list[_Said]) -> list[_Said]:
    superseded: set[int] = set()
    for turn_index in {s.turn.index for s in said}:
        in_turn = [s for s in said if s.turn.index == turn_index]
        text = in_turn[0].turn.text
        for marker in _CORRECTION.finditer(text):
            before = [s for s in in_turn if s.mention.end <= marker.start()]
            after = [s for s in in_turn if s.mention.start >= marker.end()]
            if after and any(b.mention.value != after[0].mention.value for b in before):
                superseded.update(b.order for b in before)
    return [s for s in said if s.order not in superseded]


def _rank(said: list[_Said]) -> list[DateCandidate]:
    by_value: dict[date, list[_Said]] = {}
    for s in said:
        by_value.setdefault(s.mention.value, []).append(s)
    corrected_values = {s.mention.value for s in said if _CORRECTION.search(s.turn.text)}
    candidates: list[tuple[tuple[int, ...], DateCandidate]] = []
    for value, group in by_value.items():
        role = max((s.role for s in group), key=_ROLE_RANK.__getitem__)
        signals = Signals(
            speaker_role=role,
            explicit=any(s.explicit for s in group),
            hedged=all(s.hedged for s in group),
            committed=any(s.committed for s in group),
            corrected=value in corrected_values and len(by_value) > 1,
            mentions=len(group),
            conflicting_mentions=len(said) - len(group),
        )
        candidate = DateCandidate(
            value=value.isoformat(),
            evidence=tuple(dict.fromkeys(s.turn.evidence for s in group)),
            signals=signals,
            granularity=min((s.mention.granularity for s in group), key=_GRANULARITY.index),
            signed=any(s.signed for s in group),
        )
        key = (
            int(candidate.signed),
            int(not signals.hedged),
            _ROLE_RANK[role],
            int(max(s.strength for s in group) >= _CLOSING),
            int(signals.explicit),
            max(s.strength for s in group),
            int(signals.committed),
            max(s.order for s in group),
        )
        candidates.append((key, candidate))
    return [c for _, c in sorted(candidates, key=lambda kc: kc[0], reverse=True)]


_GRANULARITY: tuple[Granularity, ...] = ("day", "week", "month", "quarter", "year")
