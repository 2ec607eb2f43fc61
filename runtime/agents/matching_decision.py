"""The match decision: ranked open deals (or none) → ``MatchResult`` with a one-line reason.

Pure. With open deals, the best one is the record, at the confidence of
``matching_scores.match_confidence``, and every open deal is listed best first, so a human
can pick another when the confidence is under the agent's ``min_match_confidence``.

Without an open deal the record is None at confidence 0, and ``opens_opportunity`` is set
only when both hold:

- someone from the other side attended (an external attendee not on the selling
  company's domains);
- the meeting starts a sales conversation: its call type or title says discovery, demo or
  intro, or it speaks of new work ("new project", "new initiative", ...) or of a buyer
  starting to look ("evaluating", "proof of concept", "pilot", "RFP", ...).

So a renewal, QBR or check-in that matches no deal is not taken for a new opportunity:
that is missing CRM data, for a human to look at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runtime.agents.matching_scores import ScoredDeal, match_confidence
from runtime.agents.matching_text import ExternalPerson, MeetingWords
from runtime.agents.results import MatchResult
from runtime.crm.port import CrmRecord

__all__ = ["MatchContext", "decide", "opening_reason"]


@dataclass(frozen=True)
class MatchContext:
    """What the CRM lookups found besides the open deals, for reasons and the no-match rule."""

    people: tuple[ExternalPerson, ...] = ()
    contacts_found: tuple[str, ...] = ()
    """Names of external attendees who are CRM contacts."""
    companies: tuple[str, ...] = ()
    """Names of the companies the attendees lead to."""
    closed_deals: tuple[str, ...] = ()
    """Names of the closed deals the attendees lead to (never candidates)."""


def decide(
    ranked: Sequence[ScoredDeal], meeting: MeetingWords, context: MatchContext
) -> MatchResult:
    if not ranked:
        why = opening_reason(meeting, context)
        ending = f"; {why}, so the meeting opens a new opportunity." if why else "."
        return MatchResult(
            record=None,
            confidence=0.0,
            reason=_nothing_found(context) + ending,
            opens_opportunity=why is not None,
        )
    best = ranked[0]
    tied = [s for s in ranked if round(best.score - s.score, 6) <= 0]
    if len(ranked) == 1:
        reason = (
            f"{_label(best.deal)} is the only open deal the attendees lead to: {_evidence(best)}"
        )
    elif len(tied) > 1:
        reason = (
            f"{len(tied)} of {len(ranked)} open deals fit equally well"
            f" ({', '.join(_label(s.deal) for s in tied)}): nothing in the attendees or the"
            " meeting's words tells them apart, so a human should pick"
        )
    else:
        runner = ranked[1]
        reason = (
            f"{_label(best.deal)} fits best of {len(ranked)} open deals ({best.score:.1f} points"
            f" against {runner.score:.1f} for {_label(runner.deal)}): {_evidence(best)}"
        )
    if meeting.new_work and not best.name_words_heard:
        reason += f", but the meeting speaks of a {meeting.new_work!r} and never names the deal"
    return MatchResult(
        record=best.deal,
        confidence=match_confidence(ranked, meeting),
        candidates=tuple(s.deal for s in ranked),
        reason=reason + ".",
    )


def opening_reason(meeting: MeetingWords, context: MatchContext) -> str | None:
    """Why the meeting opens a new opportunity, or None when it does not (module docs)."""
    if not context.people:
        return None
    if meeting.opening_call:
        return f"it is a {meeting.opening_call} call with {_people(context.people)}"
    phrase = meeting.new_work or meeting.exploring
    if phrase:
        return f"the meeting with {_people(context.people)} speaks of {phrase!r}"
    return None


def _nothing_found(context: MatchContext) -> str:
    if not context.people:
        return "No external attendee to look up in the CRM"
    if not context.contacts_found and not context.companies:
        listed = ", ".join(p.email or p.name for p in context.people)
        return f"No contact or company in the CRM matches the external attendees ({listed})"
    owners = context.companies or context.contacts_found
    if context.closed_deals:
        return f"The deals of {_names(owners)} are all closed ({_names(context.closed_deals)})"
    return f"{_names(owners)} {'has' if len(owners) == 1 else 'have'} no deals"


def _evidence(scored: ScoredDeal) -> str:
    candidate = scored.candidate
    match candidate.tier:
        case "contact":
            verb = "is a contact" if len(candidate.contacts) == 1 else "are contacts"
            link = f"{_names(candidate.contacts)} attended and {verb} on it"
        case "company":
            link = f"it belongs to {_names(candidate.companies)}, whose contact attended"
        case _:
            link = f"its company has the attendees' email domain {_names(candidate.domains)}"
    heard = [*scored.name_words_heard, *scored.other_words_heard]
    if not heard:
        return link
    return f"{link}, and the meeting mentions {_names([repr(w) for w in heard[:4]])}"


def _label(deal: CrmRecord) -> str:
    name = deal.properties.get("dealname")
    return f"{name} ({deal.id})" if name else f"deal {deal.id}"


def _people(people: Sequence[ExternalPerson]) -> str:
    return _names([p.name for p in people])


def _names(items: Sequence[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
