"""Scores of open deals against a meeting, and the confidence of the best one.

Pure and deterministic. A deal's score adds two kinds of evidence.

Link, how the meeting's external attendees reach the deal (only the strongest tier counts):

- ``contact``: an attending contact is associated with the deal: 3.0, and 1.0 more for each
  further attending contact (at most 2.0 more);
- ``company``: the company of an attending contact holds the deal: 1.0;
- ``domain``: a company whose domain is an attendee's email domain holds the deal: 0.6.

Words, what the deal is about, heard in the meeting:

- each word of the deal's name: 2.0 if in the title or call type, plus 1.0 for a first
  mention in the notes or transcript and 0.5 for each further one (at most 2.5 there);
- each other word of its description and next step: 0.3 when heard, at most 1.0 in all.

Words of the reached companies' names are left out (they say whose deal, not which one). A
word in every candidate tells none apart and is ignored; a word in k of them counts 1/k.

Confidence: the best deal's tier sets a ceiling (0.95 contact, 0.88 company, 0.85 domain),
which a lone open deal gets; a deal named in the title (or its name's words heard often: a
name score of 2.0 or more) has the contact ceiling whatever its tier. Among n deals it
rises from 1/n (a tie: a guess) towards the ceiling as the lead over the runner-up grows:
``1/n + (ceiling - 1/n) * (1 - e^(-lead/1.5))`` (two deals, contact ceiling: lead 1 → 0.72,
2 → 0.83, 3 → 0.89). When the meeting says it is about something new ("new project") and
no word of the deal's name was heard, it is at most 0.6.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from runtime.agents.matching_text import MeetingWords, word_forms, words
from runtime.crm.port import CrmRecord

__all__ = [
    "DEAL_TEXT_KEPT_MAX",
    "DEAL_WORDS_KEPT",
    "TIER_CEILINGS",
    "DealCandidate",
    "LinkTier",
    "ScoredDeal",
    "deal_words",
    "match_confidence",
    "rank_deals",
]

LinkTier = Literal["contact", "company", "domain"]

CONTACT_LINK = 3.0
EXTRA_CONTACT = 1.0
EXTRA_CONTACTS_MAX = 2.0
COMPANY_LINK = 1.0
DOMAIN_LINK = 0.6
TITLE_WORD = 2.0
BODY_WORD = 1.0
BODY_REPEAT = 0.5
BODY_WORD_MAX = 2.5
OTHER_WORD = 0.3
OTHER_WORDS_MAX = 1.0
TIER_CEILINGS: dict[LinkTier, float] = {"contact": 0.95, "company": 0.88, "domain": 0.85}
LEAD_SCALE = 1.5
NEW_WORK_CEILING = 0.6
NAMED_SCORE = 2.0
_TIER_ORDER: dict[LinkTier, int] = {"contact": 0, "company": 1, "domain": 2}
_OTHER_PROPERTIES = ("description", "hs_next_step")
DEAL_WORDS_KEPT = 4096
"""How many deals' words ``deal_words`` keeps (least recently used go first)."""
DEAL_TEXT_KEPT_MAX = 4000
"""A deal with more text than this (name, description and next step) is not kept."""


@dataclass(frozen=True)
class DealCandidate:
    """An open deal and how the external attendees reach it."""

    deal: CrmRecord
    contacts: tuple[str, ...] = ()
    """Attendees (by name) who are contacts on the deal."""
    companies: tuple[str, ...] = ()
    """Companies of attending contacts that hold the deal."""
    domains: tuple[str, ...] = ()
    """Email domains of attendees whose company (found by domain) holds the deal."""

    @property
    def tier(self) -> LinkTier:
        if self.contacts:
            return "contact"
        return "company" if self.companies else "domain"


@dataclass(frozen=True)
class ScoredDeal:
    candidate: DealCandidate
    link_score: float
    name_score: float
    other_score: float
    name_words_heard: tuple[str, ...]
    """Words of the deal's name heard in the meeting, as the name spells them."""
    other_words_heard: tuple[str, ...]

    @property
    def deal(self) -> CrmRecord:
        return self.candidate.deal

    @property
    def score(self) -> float:
        return self.link_score + self.name_score + self.other_score


def rank_deals(
    candidates: Sequence[DealCandidate],
    meeting: MeetingWords,
    *,
    company_words: Collection[str] = (),
) -> list[ScoredDeal]:
    """Every candidate scored, best first; ties go to the stronger link, then the lower id.

    Args:
        candidates: the open deals the attendees reach.
        meeting: the meeting's words.
        company_words: words (stemmed) of the reached companies' names, left out.
    """
    excluded = set(company_words)
    names: list[dict[str, str]] = []
    others: list[set[str]] = []
    for candidate in candidates:
        name_forms, other_words = deal_words(candidate.deal)
        names.append({stem: form for stem, form in name_forms if stem not in excluded})
        others.append(set(other_words) - excluded)
    spread = Counter(w for name, other in zip(names, others, strict=True) for w in {*name, *other})
    count = len(candidates)

    def weight(word: str) -> float:
        return 0.0 if count > 1 and spread[word] == count else 1.0 / spread[word]

    scored = []
    for candidate, name, other in zip(candidates, names, others, strict=True):
        heard_name = {w: _heard(w, meeting) * weight(w) for w in name}
        heard_name = {w: s for w, s in heard_name.items() if s > 0}
        heard_other = sorted(w for w in other if weight(w) > 0 and _said(w, meeting))
        other_score = min(OTHER_WORDS_MAX, sum(OTHER_WORD * weight(w) for w in heard_other))
        strongest = sorted(heard_name, key=lambda w: (-heard_name[w], w))
        scored.append(
            ScoredDeal(
                candidate=candidate,
                link_score=_link_score(candidate),
                name_score=sum(heard_name.values()),
                other_score=other_score,
                name_words_heard=tuple(name[w] for w in strongest),
                other_words_heard=tuple(heard_other),
            )
        )
    return sorted(scored, key=_rank_key)


def match_confidence(ranked: Sequence[ScoredDeal], meeting: MeetingWords) -> float:
    """How sure we are that ``ranked[0]`` is the meeting's deal (0 when there is none)."""
    if not ranked:
        return 0.0
    best = ranked[0]
    tier: LinkTier = "contact" if best.name_score >= NAMED_SCORE else best.candidate.tier
    ceiling = TIER_CEILINGS[tier]
    if len(ranked) == 1:
        confidence = ceiling
    else:
        prior = 1.0 / len(ranked)
        lead = max(0.0, best.score - ranked[1].score)
        confidence = prior + (ceiling - prior) * (1.0 - math.exp(-lead / LEAD_SCALE))
    if meeting.new_work and not best.name_words_heard:
        confidence = min(confidence, NEW_WORK_CEILING)
    return round(confidence, 3)


def deal_words(deal: CrmRecord) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
    """The words of the deal's name (stem, first spelling), in order, and the other words
    of its description and next step (stems not in its name)."""
    properties = deal.properties
    name = properties.get("dealname") or ""
    description, next_step = (properties.get(p) or "" for p in _OTHER_PROPERTIES)
    if len(name) + len(description) + len(next_step) > DEAL_TEXT_KEPT_MAX:
        return _words_of_deal(name, description, next_step)
    return _deal_words(deal.id, name, description, next_step)


@functools.lru_cache(maxsize=DEAL_WORDS_KEPT)
def _deal_words(
    deal_id: str, name: str, description: str, next_step: str
) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
    # Kept per deal and the values its words come from: the answer is a function of the
    # values alone, so a deal whose name, description or next step changed is a new key
    # and never answered from an older one. The deals matched are read from the workspace's
    # CRM cache and come back meeting after meeting; the bounds keep memory flat.
    del deal_id  # part of the key only
    return _words_of_deal(name, description, next_step)


def _words_of_deal(
    name: str, description: str, next_step: str
) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
    forms = word_forms(name)
    return tuple(forms.items()), frozenset(words(f"{description} {next_step}")) - set(forms)


def _link_score(candidate: DealCandidate) -> float:
    match candidate.tier:
        case "contact":
            extra = EXTRA_CONTACT * (len(candidate.contacts) - 1)
            return CONTACT_LINK + min(EXTRA_CONTACTS_MAX, extra)
        case "company":
            return COMPANY_LINK
        case _:
            return DOMAIN_LINK


def _heard(word: str, meeting: MeetingWords) -> float:
    score = TITLE_WORD if meeting.title[word] else 0.0
    mentions = meeting.body[word]
    if mentions:
        score += min(BODY_WORD_MAX, BODY_WORD + BODY_REPEAT * (mentions - 1))
    return score


def _said(word: str, meeting: MeetingWords) -> bool:
    return bool(meeting.title[word] or meeting.body[word])


def _rank_key(scored: ScoredDeal) -> tuple[float, int, int, str]:
    deal_id = scored.deal.id
    # Rounded so that float noise in equal sums cannot decide a tie.
    return (
        -round(scored.score, 6),
        _TIER_ORDER[scored.candidate.tier],
        int(deal_id) if deal_id.isdigit() else 0,
        deal_id,
    )
