"""Next-step candidates (``hs_next_step``): the action agreed at the end of the call.

Pure functions over a ``MeetingIn``; relative days resolve against the meeting's day with
``date_phrases.resolve_date_phrase`` and are written the way reps write them ("by Fri Mar 6").
Wording lives in ``next_step_phrases.py``. Rules, each with an example:

- Notes first: a "Next:" / "Next steps:" / "TODO:" line in the rep's notes is the rep's own
  summary and wins: "- NEXT: I send the order form to Sofia by Fri 11/21" ->
  "Send the order form to Sofia by Fri Nov 21".
- Commitments to act: "I'll / we'll / let me / I can" followed by an action verb (send, get
  over, set up, schedule, follow up, check in, reconnect, present, walk through ...):
  "I'll send the renewal order form by Friday" -> "Send the renewal order form to Gemma by
  Fri Apr 24". "Let's schedule the demo for Tuesday" counts too.
- Who does what by when: the rep's own action is written as an imperative; anyone else's
  keeps their first name: customer "I'll send it by Friday" -> "Nadia to send it by Fri
  Mar 13"; "Priscilla will send you the questionnaire" -> "Priscilla to send the
  questionnaire to Ben". A sending gets its recipient: the customer who says "send it to me,
  copy Hannah" in the next turns ("to Marcus (cc Hannah)"), else the customer the rep was
  answering; "you" becomes that person's name. A deadline not in the sentence is taken from
  the next two turns ("By the middle of next week?" / "Wednesday the twelfth.").
- Requests that are accepted: customer "Can you send me the integration list?" answered by
  "Will do" / "Absolutely" / "Today." -> "Send the integration list to Jasmine".
- "It" is replaced by what was asked for when the turns before name it: "Send the MSA and
  order form" / "I'll get both over by Monday" -> "Send the MSA and order form to Oliver by
  Mon Dec 15".
- The end of the call wins: the last commitment is the next step; when the wrap-up (the last
  six turns) holds two different agreed actions they are joined, earlier first ("Send
  recording to Maria today; Follow up with Robert by Fri Sep 12").
- Not a next step: questions ("Should I reach out to Lucy?"), pleasantries ("talk soon",
  "talk on the 18th"), housekeeping ("I'll set you up in our system"), and speculation
  ("maybe we look at that next year"). No commitment -> no candidate.
- Lost deals: when the customer says they are not renewing or went another way, nothing is
  proposed (an offboarding chore is not a sales next step).
- Already recorded: a proposal whose content words overlap the current ``hs_next_step`` by
  at least half (the evaluation's measure) is dropped: "I'll keep our follow-up on the
  eighteenth" when the CRM says "Follow up with Lena on Jun 18".
- Hedged wording ("I'll try to", "probably") is kept but marked hedged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict

from runtime.agents.evaluation.scoring import NEXT_STEP_MIN_OVERLAP, next_step_overlap
from runtime.agents.extraction import Candidate, Evidence, Signals, SpeakerRole
from runtime.agents.extractors.date_phrases import resolve_date_phrase
from runtime.agents.extractors.next_step_phrases import clean_text, phrase_action
from runtime.agents.extractors.prefilter import (
    PrefilteredPattern,
    any_may_match_words,
    prefiltered,
)
from runtime.agents.extractors.sentences import split_sentences, transcript_evidence
from runtime.meetings.models import MeetingIn

__all__ = ["NextStepCandidate", "extract_next_step_candidates"]


def _words(pattern: str) -> PrefilteredPattern:
    return prefiltered(pattern, re.IGNORECASE)


_VERBS = (
    r"(?:send|email|forward|share|get|have|put\s+together|prepare|draft|set\s+up|schedule|book"
    r"|follow\s+up|check\s+in|check\s+back|reconnect|call|circle\s+back|loop\s+in|introduce"
    r"|walk|present|confirm|route|return|propose|export|build|hold|invite|reach\s+out|turn"
    r"|come\s+back|bring|run|arrange|organi[sz]e|review|nominate|ping|touch\s+base)\b"
)
_SELF = _words(
    rf"\b(?:i|we)(?:'ll|\u2019ll|\s+will|\s+can|\s+shall|'m\s+going\s+to|\s+am\s+going\s+to"
    rf"|\s+are\s+going\s+to|'re\s+going\s+to)\s+(?:also\s+|then\s+|just\s+|definitely\s+)?"
    rf"(?P<hedge>try\s+to\s+)?(?P<action>{_VERBS}.*)"
)
_LET_ME = _words(rf"\blet\s+me\s+(?P<action>{_VERBS}.*)")
_LETS = _words(r"\blet's\s+(?P<action>(?:schedule|book|set\s+up|plan|meet|do\s+the)\b.*)")
_THIRD = prefiltered(
    rf"\b(?P<name>[A-Z][a-z]+)\s+(?:will|is\s+going\s+to)\s+(?P<action>{_VERBS}.*)"
)
_REQUEST = _words(
    r"^(?:(?:and\s+)?(?:can|could|would)\s+you\s+(?:please\s+)?|(?:and\s+)?please\s+)?"
    r"(?P<verb>send|email|forward|share)\s+(?:me|us)\s+(?P<obj>.+)$"
    r"|^(?:and\s+)?(?P<obj2>the\s+[^,?]+?)\s+to\s+me,?\s*(?:please)?$"
)
_ACCEPT = _words(
    r"^\W*(?:will\s+do|absolutely|of\s+course|sure|definitely|yes|today|i\s+can|we\s+can"
    r"|done|no\s+problem)\b"
)
_SEND_TO_ME = _words(
    r"\bsend\s+(?:it|them|that|both)\s+to\s+me\b(?P<rest>[^.]*)|\bto\s+me\s+directly\b"
)
_CC = _words(r"\b(?:cc|copy(?:ing)?)\s+(?:in\s+)?(?P<name>[a-z]+)\b")
_SENDING = _words(r"^(?:send|email|forward|share)\b")
_HAS_RECIPIENT = _words(r"\bto\s+(?!be\b|the\s+board|legal|review)[A-Z]?[a-z]+\b")
_PRONOUN_OBJECT = _words(r"^(?P<verb>send|get|have|email)\s+(?P<pro>it|them|both|that|those)\b")
_ASKED_FOR = _words(
    r"\b(?:send|need|want|get)\s+(?:me\s+|us\s+)?(?P<obj>(?:the|a|an|your)\s+[^,.?]+?)"
    r"(?=\s+(?:and\s+i'll|to\s+me|by|for\s+our|so|when|once|if)\b|[,.?]|$)"
)
_NOT_A_STEP = _words(
    r"\b(?:in\s+our\s+system|new\s+account|as\s+a\s+new|leave\s+that|be\s+honest|watch\s+for"
    r"|think\s+about|set\s+(?:you|them|\w+)\s+up\b|get\s+(?:started|going|back\s+to\s+work)"
    r"|have\s+a\s+(?:look|good|great)|take\s+(?:it|that)\s+to)\b"
)
_HEDGE = _words(r"\b(?:try|probably|maybe|might|hopefully|perhaps|possibly)\b")
_LOST = _words(
    r"\b(?:not\s+renewing|went\s+(?:another|a\s+different)\s+way|going\s+with\s+(?:another"
    r"|a\s+different)|decided\s+against|decision's\s+made|sorry\s+to\s+lose|signed\s+with\s+"
    r"(?!us|you)\w+)\b"
)
# Cleaning a sentence (``clean_text``) cuts out fillers and repeated words and squeezes spaces;
# every cut has a space or punctuation on one side (a filler starts a word, a repeat is cut
# after the word it repeats), so any run of letters and digits in the cleaned sentence is in
# the raw one too. A raw sentence without the runs that every first-person commitment needs
# cannot hold one once cleaned.
_MAY_COMMIT = any_may_match_words(_SELF, _LET_ME, _LETS)
_NOTES_MARKER = _words(
    r"^\W*(?:next(?:\s+steps?)?|todo|to\s+do|action(?:\s+items?)?|follow[- ]?ups?)\s*[:\-]\s*"
)
_NOTES_SELF = _words(r"^(?:i|we)(?:'ll|\s+will)?\s+(?=\w)")
_WRAP_UP_TURNS = 6
_SUBSTANTIVE_WORDS = 4
_BARE_PRONOUN = _words(r"^\w+(?:\s+\w+)?\s+(?:it|that|them|this)(?:\s+\w+)?$")
_AGREED = _words(r"\b(?:good|fine|works|great|perfect|okay|ok)\b")


class NextStepCandidate(BaseModel):
    """A proposed next step: one short sentence, with its evidence and confidence signals."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: str
    evidence: tuple[Evidence, ...]
    signals: Signals

    def to_candidate(self) -> Candidate:
        """The candidate for HubSpot's ``hs_next_step`` property."""
        return Candidate(
            field="hs_next_step", value=self.value, evidence=self.evidence, signals=self.signals
        )


# Not frozen: one is built for every transcript line, and a frozen dataclass, which sets each
# field through ``object.__setattr__``, takes three times as long to build. Nothing changes it.
@dataclass(slots=True)
class _Turn:
    index: int
    speaker: str
    role: SpeakerRole
    text: str
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class _Step:
    value: str
    turn: _Turn
    hedged: bool


def extract_next_step_candidates(
    meeting: MeetingIn,
    *,
    speaker_roles: Mapping[str, SpeakerRole],
    current_next_step: str | None,
) -> list[NextStepCandidate]:
    """Next-step candidates, best first (see the module docstring for the rules)."""
    anchor = meeting.started_at.date()
    turns = [
        _Turn(i, line.speaker, speaker_roles.get(line.speaker, "unknown"), line.text,
              transcript_evidence(line.text, line.speaker, i, line.start_s))
        for i, line in enumerate(meeting.transcript)
    ]  # fmt: skip
    if _LOST.search("\n".join([*(t.text for t in turns), meeting.notes or ""])):
        return []
    found = _from_notes(meeting.notes or "", anchor)
    if not found:
        steps = list(_commitments(turns, anchor))
        found = _choose(steps, len(turns))
    current = (current_next_step or "").strip()
    return [
        c
        for c in found
        if not current or next_step_overlap(c.value, current) < NEXT_STEP_MIN_OVERLAP
    ]


def _from_notes(notes: str, anchor: date) -> list[NextStepCandidate]:
    for line in reversed(notes.splitlines()):
        text = line.strip(" -*\t")
        marker = _NOTES_MARKER.match(text)
        if marker is None:
            continue
        body = _NOTES_SELF.sub("", text[marker.end() :].strip())
        value = phrase_action(body, addressee=None, anchor=anchor)
        if value:
            evidence = Evidence(source="notes", text=text)
            signals = Signals(speaker_role="rep", committed=True, hedged=bool(_HEDGE.search(body)))
            return [NextStepCandidate(value=value, evidence=(evidence,), signals=signals)]
    return []


def _sentences(text: str) -> Iterator[str]:
    yield from (s.strip() for s in split_sentences(text) if s.strip())


def _commitments(turns: list[_Turn], anchor: date) -> Iterator[_Step]:
    for turn in turns:
        for sentence in _sentences(turn.text):
            if sentence.endswith("?"):
                step = _accepted_request(sentence, turn, turns, anchor)
                if step is None and _agreed(turn, turns):
                    # "I'll send it back with pricing by Friday?" / "Friday's good."
                    step = _commitment(sentence, turn, turns, anchor)
                if step is not None:
                    yield step
                continue
            step = _commitment(sentence, turn, turns, anchor)
            step = step or _accepted_request(sentence, turn, turns, anchor)
            if step is not None:
                yield step


def _commitment(sentence: str, turn: _Turn, turns: list[_Turn], anchor: date) -> _Step | None:
    # A sentence that cannot hold a commitment in the first person is not cleaned (see
    # ``_MAY_COMMIT``): only a third person's commitment is looked for in it.
    text = clean_text(sentence) if _MAY_COMMIT(sentence) else ""
    found = (_SELF.search(text) or _LET_ME.search(text)) if text else None
    owner: str | None
    if found is not None:
        owner = None if turn.role == "rep" else _first_name(turn.speaker)
    elif text and (found := _LETS.search(text)) is not None:
        owner = None
    elif (found := _THIRD.search(sentence)) is not None:
        owner = found["name"]
    else:
        return None
    text = text or clean_text(sentence)
    action = found["action"].strip(" .,")
    if _NOT_A_STEP.search(action) or _BARE_PRONOUN.match(action):
        return None  # "I'll hold it", "I'll set you up in our system"
    hedged = bool(_HEDGE.search(text))
    action = _resolve_object(action, turn, turns)
    recipient = _recipient(turn, turns) if owner is None else None
    if not resolve_date_phrase(action, anchor=anchor):
        action = f"{action.rstrip(' .,;')} {_later_deadline(turn, turns, anchor)}".strip()
    value = phrase_action(action, addressee=recipient, anchor=anchor)
    if owner is None and recipient and _SENDING.match(value) and not _HAS_RECIPIENT.search(value):
        value = _add_recipient(value, recipient)
    if owner is not None:
        value = f"{owner} to {value[:1].lower()}{value[1:]}"
    return _Step(value, turn, hedged)


def _accepted_request(sentence: str, turn: _Turn, turns: list[_Turn], anchor: date) -> _Step | None:
    """A customer's "send me X" that the rep accepts in the next turn."""
    if turn.role == "rep":
        return None
    reply = turns[turn.index + 1] if turn.index + 1 < len(turns) else None
    if reply is None or reply.role != "rep" or not _ACCEPT.match(reply.text):
        return None
    found = _REQUEST.match(clean_text(sentence).rstrip("?. "))
    if found is None:
        return None
    what = found["obj"] or found["obj2"]
    deadline = _later_deadline(turn, turns, anchor, include_self=True)
    action = f"send {what} to {_first_name(turn.speaker)} {deadline}".strip()
    return _Step(phrase_action(action, addressee=None, anchor=anchor), reply, False)


def _agreed(turn: _Turn, turns: list[_Turn]) -> bool:
    """The other side's next turn agrees ("Friday's good")."""
    reply = turns[turn.index + 1] if turn.index + 1 < len(turns) else None
    return (
        reply is not None
        and reply.role != turn.role
        and bool(_ACCEPT.match(reply.text) or _AGREED.search(reply.text))
    )


def _first_name(speaker: str) -> str:
    parts = [p for p in speaker.split() if not p.endswith(".")]
    return parts[0] if parts else speaker


def _recipient(turn: _Turn, turns: list[_Turn]) -> str | None:
    """The customer a rep's action is for: "send it to me, cc Kim" next, else who spoke last."""
    for later in turns[turn.index + 1 : turn.index + 3]:
        if later.role == "rep":
            continue
        if (to_me := _SEND_TO_ME.search(later.text)) is not None:
            name = _first_name(later.speaker)
            cc = _CC.search(later.text[to_me.start() :])
            return f"{name} (cc {cc['name'].capitalize()})" if cc else name
    earlier = [t for t in turns[max(0, turn.index - 3) : turn.index] if t.role != "rep"]
    # A one-word "Finally." is a remark; the person the rep answers said more.
    substantive = [t for t in earlier if len(t.text.split()) >= _SUBSTANTIVE_WORDS]
    chosen = (substantive or earlier)[-1:]
    return _first_name(chosen[0].speaker) if chosen else None


def _add_recipient(value: str, recipient: str) -> str:
    """Insert "to Name" before the deadline ("Send X by Fri" -> "Send X to Name by Fri")."""
    found = re.search(r"\s+(?:by|on|today|tomorrow)\b", value)
    if found is None:
        return f"{value} to {recipient}"
    return f"{value[: found.start()]} to {recipient}{value[found.start() :]}"


def _resolve_object(action: str, turn: _Turn, turns: list[_Turn]) -> str:
    """ "send it" -> "send the MSA" when one of the three turns before asked for it."""
    found = _PRONOUN_OBJECT.match(action)
    if found is None:
        return action
    for earlier in reversed(turns[max(0, turn.index - 3) : turn.index]):
        asked = list(_ASKED_FOR.finditer(earlier.text))
        if asked:
            thing = asked[-1]["obj"]
            if found["verb"].lower() in ("get", "have"):
                return f"send {thing}{action[found.end() :]}"
            return f"{found['verb']} {thing}{action[found.end() :]}"
    return action


def _later_deadline(
    turn: _Turn, turns: list[_Turn], anchor: date, *, include_self: bool = False
) -> str:
    """A date said in the next two turns ("Wednesday the twelfth."), as a phrase."""
    start = turn.index if include_self else turn.index + 1
    mentions = [
        m
        for later in turns[start : turn.index + 3]
        for m in resolve_date_phrase(later.text, anchor=anchor)
        if m.value >= anchor and m.granularity in ("day", "week")
    ]
    # A named day ("Wednesday the eleventh") beats the week it answers ("next week?").
    days = [m for m in mentions if m.granularity == "day"] or mentions
    return f"by {days[-1].text}" if days else ""


def _choose(steps: list[_Step], turn_count: int) -> list[NextStepCandidate]:
    """The last commitment wins; two different ones in the wrap-up are joined."""
    if not steps:
        return []
    last = steps[-1]
    chosen = [last]
    wrap_up = turn_count - _WRAP_UP_TURNS
    for earlier in reversed(steps[:-1]):
        if earlier.turn.index < wrap_up:
            break
        if next_step_overlap(earlier.value, last.value) < NEXT_STEP_MIN_OVERLAP:
            chosen.insert(0, earlier)
            break
    value = "; ".join(s.value for s in chosen)
    roles = [s.turn.role for s in chosen]
    signals = Signals(
        speaker_role="customer" if "customer" in roles else roles[-1],
        committed=True,
        hedged=any(s.hedged for s in chosen),
        mentions=len(chosen),
    )
    evidence = tuple(dict.fromkeys(s.turn.evidence for s in chosen))
    best = NextStepCandidate(value=value, evidence=evidence, signals=signals)
    alternatives = [
        NextStepCandidate(
            value=s.value,
            evidence=(s.turn.evidence,),
            signals=Signals(speaker_role=s.turn.role, committed=True, hedged=s.hedged),
        )
        for s in reversed(steps)
        if s.value != value
    ]
    return [best, *alternatives]
