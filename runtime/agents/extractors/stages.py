"""Deal-stage candidates: what happened in a meeting, mapped onto the deal's own pipeline.

Pure functions over a ``MeetingIn``; events are found in sentences of the transcript and the
rep's notes, each event names a kind of stage, and ``stage_map.stage_for_kind`` finds the
stage of the deal's pipeline with that meaning (labels, order, probability, ``is_closed``;
never fixed ids). Rules, each with an example:

Events
    - lost (``lost``): the customer says the deal is off: "We went another way", "we signed
      with TrackRight", "we're not renewing", "we've decided not to proceed", "we're staying
      with our current provider", "the project is cancelled", "spending is frozen", "we'll
      build it in-house"; or the notes record it ("Churn: not renewing", "lost to X"). Not
      renewing ("we won't renew", "we've decided not to renew") is a loss only on a
      renewal (call type, meeting title, deal or pipeline name): on a new-business call it
      is said of the incumbent's contract.
    - won (``won``): a signature or purchase order that happened: "I signed it in DocuSign
      this morning", "the signed copy came through", "we received the PO", notes "SIGNED" /
      "Renewal signed Fri". Future or wished signatures ("I'd like it signed by April", "we'll
      sign by June") are not events.
    - contract sent (``contract_sent``): the paper went out: "I've just sent it through
      DocuSign", notes "Sent contract via DocuSign at 3:40pm", the customer "got the order
      form". "I'll send the order form by Friday" is a promise, not an event. A proposal or
      quote that went out (``proposal_sent``, "Emailed the proposal") lands on a pipeline's
      proposal stage when it has one.
    - decision maker bought in (``bought_in``): the customer says yes: "we're going to move
      forward", "we'll go ahead", "let's do it", "then we have a deal", "I'll approve the forty
      seats", "I'm happy to renew", "I'll sign whatever you send me", a turn that opens with
      "Deal." or "Done."; or the notes record it ("Sofia said yes", "Renewal agreed").
    - presentation (``presentation``): a demo or presentation is booked: "a proper demo for the
      partners and Aoife" / "Next Tuesday, the twenty-second, at ten" (a day or time after the
      demo is mentioned, accepted or stated by the customer, or written in the notes: "He
      booked a slot ... wants me to present"). A call of type ``demo`` is itself a
      presentation (inferred, ``explicit=False``). "We'll set up a walkthrough" with no day is
      not booked, nor is a demo the customer turns down ("Not before Jess has cleared
      security", "Not yet").
    - qualified (``qualified``): on a discovery call, the customer confirms authority ("it's my
      call", "I sign", "owns the budget") and timing ("signed before the end of the quarter",
      "live before Q2") and a need or a budget ("payroll's a mess", "budget set aside").
      Inferred from the whole call, so ``explicit=False``.

Who and how sure
    - Only the customer's statements (or an unknown speaker's, ranked lower) and events that
      happened count. The rep's optimism is never evidence: "sounds like you're ready to go",
      "I'll mark this as ready". A rep's past-tense event ("I've just sent it through DocuSign",
      "the signed copy came through") counts; notes count as the rep's record of events.
    - Questions are not statements ("Is it fully signed?").
    - Speculation and conditions propose nothing: "we might not renew", "if the board approves
      we'll go ahead", "I'll sign it once legal has looked". Softer hedges ("probably",
      "should", "I think") keep the event but mark it ``hedged``.
    - Denials cancel a yes in the same turn: "Let's do it... but I can't commit, it's not my
      call".

Moving the deal
    - Never the current stage; never backwards, except to lost; nothing for a deal already in
      a closed stage, and nothing when the deal's pipeline has no stage of that meaning.
    - Ranking, best first: unhedged before hedged; lost (the customer's word ends the deal),
      then the furthest stage forward; then the customer's word before notes and the rep's;
      then the latest statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from runtime.agents.extraction import Candidate, Evidence, Signals, SpeakerRole
from runtime.agents.extractors.prefilter import any_may_match, prefiltered
from runtime.agents.extractors.sentences import Sentence, meeting_sentences
from runtime.agents.extractors.stage_map import StageKind, stage_for_kind
from runtime.agents.extractors.stage_phrases import (
    ACCEPT_TURN,
    BOUGHT_IN,
    CONDITION,
    CONTRACT_SENT,
    CONTRACT_SENT_CUSTOMER,
    DATE_OR_TIME,
    DEMO_TOPIC,
    DENIAL,
    HEDGE,
    LOST,
    LOST_RENEWAL,
    NOTES_BOUGHT_IN,
    NOTES_LOST,
    QUALIFY_AUTHORITY,
    QUALIFY_NEED,
    QUALIFY_TIMING,
    REFUSAL,
    SCHEDULE_ACCEPT,
    SCHEDULED,
    SPECULATION,
    WISHED_SIGNATURE,
    WON,
)
from runtime.crm.port import Pipeline, PipelineStage
from runtime.meetings.models import MeetingIn

__all__ = ["StageCandidate", "extract_stage_candidates"]

_RENEWAL = prefiltered(r"\brenew", re.IGNORECASE)
_DISCOVERY_CALL = prefiltered(r"\b(?:discovery|qualif\w*)\b", re.IGNORECASE)
_ROLE_RANK: dict[SpeakerRole, int] = {"rep": 0, "unknown": 1, "customer": 2}
_DEMO_TURNS = 6  # turns after a demo mention in which its day or time may be agreed
_PROPOSAL_PAPER = prefiltered(r"\b(?:proposal|quote)\b", re.IGNORECASE)
_CONTRACT_PAPER = prefiltered(r"\b(?:contract|order\s+form|msa|docusign)\b", re.IGNORECASE)
_DENIAL_REACH = 2
_NEGATED = prefiltered(r"\b(?:no|not|never|without|nor)\s+(?:\w+\s+)?$", re.IGNORECASE)
# Every statement event needs one of the phrases ``_statement_events`` reads for the speaker:
# in the rep's words only a signature or the paper going out counts, in the notes the
# notes' own phrases too, in anyone else's words the customer's. Most sentences hold none,
# and one test for all of a speaker's phrases costs less than the checks it spares.
_MAY_STATE_AN_EVENT = {
    "rep": any_may_match(WON, CONTRACT_SENT),
    "notes": any_may_match(LOST, LOST_RENEWAL, NOTES_LOST, WON, CONTRACT_SENT, NOTES_BOUGHT_IN),
    "other": any_may_match(
        LOST, LOST_RENEWAL, WON, CONTRACT_SENT, CONTRACT_SENT_CUSTOMER, BOUGHT_IN, ACCEPT_TURN
    ),
}
_DEADLINE_BEFORE = prefiltered(r"\b(?:until|by|before|till)\s+(?:the\s+|next\s+)?$", re.I)


@dataclass(frozen=True, slots=True)
class StageCandidate:
    """A proposed stage: the stage id of the deal's pipeline, its kind, evidence and signals."""

    value: str
    kind: StageKind
    evidence: tuple[Evidence, ...]
    signals: Signals

    def to_candidate(self) -> Candidate:
        """The extractor interface's form, for the ``dealstage`` property."""
        return Candidate(
            field="dealstage", value=self.value, evidence=self.evidence, signals=self.signals
        )


@dataclass(frozen=True, slots=True)
class _Event:
    kind: StageKind
    sentences: tuple[Sentence, ...]
    hedged: bool
    explicit: bool = True

    @property
    def role(self) -> SpeakerRole:
        said = [s for s in self.sentences if not s.from_notes]
        return max((s.role for s in said), key=_ROLE_RANK.__getitem__, default="rep")


def extract_stage_candidates(
    meeting: MeetingIn,
    *,
    pipeline: Pipeline,
    current_stage: str | None,
    speaker_roles: Mapping[str, SpeakerRole],
    deal_name: str | None = None,
) -> list[StageCandidate]:
    """Deal-stage candidates for a meeting, best first (see the module docstring).

    Args:
        meeting: the meeting; transcript and notes are both read.
        pipeline: the deal's pipeline; candidate values are ids of its stages.
        current_stage: the deal's ``dealstage`` now, or None for a deal without one.
        speaker_roles: role per speaker name, case-insensitive (``speaker_roles(meeting)``).
        deal_name: the deal's name, which tells a renewal from new business.
    """
    current = next((s for s in pipeline.stages if s.id == current_stage), None)
    if current is not None and current.is_closed:
        return []
    roles = {name.casefold(): role for name, role in speaker_roles.items()}
    sentences = list(meeting_sentences(meeting, roles))
    call_type = meeting.call_type or ""
    context = f"{call_type} {meeting.title} {deal_name or ''} {pipeline.label}"
    renewal = bool(_RENEWAL.search(context))
    events = [*_statement_events(sentences, renewal=renewal), *_presentation_events(sentences)]
    if call_type.casefold() == "demo":
        events.append(_Event("presentation", (), hedged=False, explicit=False))
    if _DISCOVERY_CALL.search(f"{call_type} {meeting.title}"):
        events.extend(_qualified_events(sentences))
    return _rank(events, pipeline, current)


def _statement_events(sentences: list[Sentence], *, renewal: bool) -> Iterator[_Event]:
    """Lost, won, contract-sent and bought-in events, one per sentence that states one."""
    denied_turns: set[int] | None = None  # worked out when a yes needs it
    previous_role: SpeakerRole | None = None
    previous_turn = -1
    for sentence in sentences:
        text = sentence.text
        opens_turn = sentence.turn != previous_turn
        after_other = opens_turn and previous_role is not None and previous_role != sentence.role
        previous_turn, previous_role = sentence.turn, sentence.role
        said_by = "notes" if sentence.from_notes else "rep" if sentence.role == "rep" else "other"
        if not _MAY_STATE_AN_EVENT[said_by](text):
            continue  # none of the phrases below that count for this speaker is there
        if text.rstrip().endswith("?") or SPECULATION.search(text):
            continue
        hedged = bool(HEDGE.search(text))
        customer = sentence.role != "rep"
        said_lost = (customer or sentence.from_notes) and (
            LOST.search(text) or (renewal and LOST_RENEWAL.search(text))
        )
        if said_lost or (sentence.from_notes and NOTES_LOST.search(text)):
            if not CONDITION.search(text):
                yield _Event("lost", (sentence,), hedged)
            continue
        if WON.search(text) and not WISHED_SIGNATURE.search(text):
            yield _Event("won", (sentence,), hedged)
        elif sent := (
            CONTRACT_SENT.search(text) or (customer and CONTRACT_SENT_CUSTOMER.search(text))
        ):
            proposal = _PROPOSAL_PAPER.search(sent.group()) and not _CONTRACT_PAPER.search(text)
            yield _Event("proposal_sent" if proposal else "contract_sent", (sentence,), hedged)
        elif customer and not sentence.from_notes:
            said_yes = BOUGHT_IN.search(text) or (after_other and ACCEPT_TURN.search(text))
            if said_yes and not CONDITION.search(text):
                denied_turns = _denied_turns(sentences) if denied_turns is None else denied_turns
                if sentence.turn not in denied_turns:
                    yield _Event("bought_in", (sentence,), hedged)
        elif sentence.from_notes and not DENIAL.search(text):
            found = NOTES_BOUGHT_IN.search(text)
            if found and not _NEGATED.search(text, 0, found.start()):
                yield _Event("bought_in", (sentence,), hedged)


def _denied_turns(sentences: list[Sentence]) -> set[int]:
    """The turns whose yes a denial cancels: its own turn and the two before it ("I can live
    with that." ... "No. Anything new goes through our operations committee.")."""
    return {
        turn
        for s in sentences
        if not s.from_notes and s.role != "rep" and DENIAL.search(s.text)
        for turn in range(s.turn - _DENIAL_REACH, s.turn + 1)
    }


def _presentation_events(sentences: list[Sentence]) -> Iterator[_Event]:
    """A demo or presentation with a day or time agreed after it is mentioned."""
    for index, sentence in enumerate(sentences):
        topic = DEMO_TOPIC.search(sentence.text)
        if topic is None or any(p.search(sentence.text) for p in (SPECULATION, DENIAL, CONDITION)):
            continue
        if sentence.from_notes:
            if SCHEDULED.search(sentence.text) and _meeting_day(sentence.text):
                yield _Event("presentation", (sentence,), hedged=False)
            continue
        window = [
            s
            for s in sentences[index + 1 :]
            if not s.from_notes and s.turn - sentence.turn <= _DEMO_TURNS
        ]
        if _refused(sentence, sentences, window):
            continue
        dated = [s for s in window if _meeting_day(s.text)]
        if _meeting_day(sentence.text[topic.start() :]):
            dated.insert(0, sentence)
        agreed = [
            s
            for s in [sentence, *window]
            if s.role == "customer"
            and (
                SCHEDULE_ACCEPT.search(s.text)
                or (_meeting_day(s.text) and not s.text.rstrip().endswith("?"))
            )
        ]
        if dated and agreed:
            chosen = dict.fromkeys([sentence, dated[0], agreed[-1]])
            yield _Event("presentation", tuple(chosen), hedged=bool(HEDGE.search(sentence.text)))
            return


def _refused(topic: Sentence, sentences: list[Sentence], window: list[Sentence]) -> bool:
    """The customer turns the demo down: their reply, or their own turn, opens with a no."""
    if topic.role == "customer":
        opening = next(s for s in sentences if s.turn == topic.turn)
        return bool(REFUSAL.search(opening.text))
    reply = next((s for s in window if s.role == "customer"), None)
    return reply is not None and bool(REFUSAL.search(reply.text))


def _meeting_day(text: str) -> bool:
    """A day or time to meet on; "until Friday" or "by the 14th" is a deadline, not a meeting."""
    return any(not _DEADLINE_BEFORE.search(text, 0, m.start()) for m in DATE_OR_TIME.finditer(text))


def _qualified_events(sentences: list[Sentence]) -> Iterator[_Event]:
    """Authority, timing and need (or budget) all confirmed by the customer or the notes."""
    heard = [s for s in sentences if s.role == "customer" or s.from_notes]
    found: list[Sentence] = []
    for pattern in (QUALIFY_AUTHORITY, QUALIFY_TIMING, QUALIFY_NEED):
        match = next(
            (s for s in heard if pattern.search(s.text) and not SPECULATION.search(s.text)),
            None,
        )
        if match is None:
            return
        found.append(match)
    yield _Event("qualified", tuple(dict.fromkeys(found)), hedged=False, explicit=False)


def _rank(
    events: list[_Event], pipeline: Pipeline, current: PipelineStage | None
) -> list[StageCandidate]:
    """One candidate per target stage, best first; backward and current stages dropped."""
    by_stage: dict[str, tuple[PipelineStage, list[_Event]]] = {}
    for event in events:
        stage = stage_for_kind(pipeline, event.kind)
        if stage is None or (current is not None and stage.id == current.id):
            continue
        backwards = current is not None and stage.display_order <= current.display_order
        if backwards and event.kind != "lost":
            continue
        by_stage.setdefault(stage.id, (stage, []))[1].append(event)
    ranked: list[tuple[tuple[int, int, int, int, int], StageCandidate]] = []
    total = sum(len(found) for _, found in by_stage.values())
    for stage, found in by_stage.values():
        kind = found[0].kind
        evidence = tuple(dict.fromkeys(s.evidence for e in found for s in e.sentences))
        role = max((e.role for e in found), key=_ROLE_RANK.__getitem__)
        hedged = all(e.hedged for e in found)
        signals = Signals(
            speaker_role=role,
            explicit=any(e.explicit for e in found),
            hedged=hedged,
            committed=kind in ("won", "lost", "bought_in", "proposal_sent", "contract_sent")
            and not hedged,
            mentions=len(found),
            conflicting_mentions=total - len(found),
        )
        latest = max((s.order for e in found for s in e.sentences), default=-1)
        key = (
            0 if hedged else 1,
            1 if kind == "lost" else 0,
            1 if any(e.explicit for e in found) else 0,
            stage.display_order * 10 + _ROLE_RANK[role],
            latest,
        )
        ranked.append((key, StageCandidate(stage.id, kind, evidence, signals)))
    ranked.sort(key=lambda item: item[0], reverse=True)
    return [candidate for _, candidate in ranked]
