"""What record matching reads from a meeting: its external people and its words.

Pure functions. Words are compared after case folding, dropping stop words and a light
suffix strip ("renewals", "renewed" and "renewal" all read "renew"), so a deal named
"Support Renewal" is recognised in "we want to renew support".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from runtime.meetings.models import MeetingIn

__all__ = [
    "FREE_MAIL_DOMAINS",
    "ExternalPerson",
    "MeetingWords",
    "email_domain",
    "external_people",
    "parent_domains",
    "word_forms",
    "words",
]

# Addresses at these providers say nothing about the company: never matched by domain, and
# never taken for the selling company's domain because one of its people uses them.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "web.de",
        "mail.com",
    }
)

# Function words, and words every deal or company name may carry ("Acme Corp Deal"); kept
# as text because a long word list reads better so than as a one-word-per-line literal.
_STOP_WORDS = frozenset(
    """
    a an and are as at be been but by can co company corp corporation deal did do does
    for from gmbh had has have he her his i if in inc into is it its llc ltd me my no not
    of on or our ours she so that the their them then there these they this those to up
    us was we were what when which who will with would you your
    """.split()  # noqa: SIM905
)
# Stripped once each, longest first, when at least four letters remain: light enough that
# unrelated words rarely collide, strong enough for plurals and -ing/-ed/-al forms.
_SUFFIXES = ("ing", "ed", "al", "s")
_SUFFIX_BY_END = {suffix[-1]: suffix for suffix in _SUFFIXES}
assert len(_SUFFIX_BY_END) == len(_SUFFIXES), "each suffix must end in its own letter"
_WORD = re.compile(r"[^\W_]+")
# The same words in case-folded ASCII text (letters and digits), found faster.
_ASCII_WORD = re.compile(r"[a-z0-9]+")

# A call of these kinds is the start of a sales conversation.
_OPENING_CALL_WORDS = frozenset({"discovery", "demo", "intro", "introduction", "introductory"})
# Said outright: the meeting is about something new, not an existing deal.
_NEW_WORK_PHRASES = (
    "new project",
    "new opportunity",
    "new initiative",
    "new use case",
    "new deal",
    "separate project",
    "separate deal",
    "separate budget",
    "another project",
)
# Typical of a buyer starting to look; weaker, so only read when no open deal matched.
_EXPLORING_PHRASES = (
    "proof of concept",
    "pilot",
    "rfp",
    "request for proposal",
    "evaluating",
    "looking for a solution",
    "looking for a tool",
    "shortlist",
)


def _stem(word: str) -> str:
    for _ in range(2):
        # At most one suffix fits: each ends in its own letter.
        suffix = _SUFFIX_BY_END.get(word[-1:])
        if (
            suffix is None
            or not word.endswith(suffix)
            # "ss" endings (business, process) are not plurals.
            or word.endswith("ss")
            or len(word) - len(suffix) < 4
        ):
            break
        word = word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """The text's content words, case-folded and stemmed, in order."""
    return [_stem(w) for w in _WORD.findall(text.casefold()) if w not in _STOP_WORDS]


def word_forms(text: str) -> dict[str, str]:
    """Each content word of the text (stemmed) with its first spelling there, for reasons."""
    forms: dict[str, str] = {}
    for word in _WORD.findall(text.casefold()):
        if word not in _STOP_WORDS:
            forms.setdefault(_stem(word), word)
    return forms


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def parent_domains(domain: str) -> list[str]:
    """``eu.mail.acme.example`` → itself, ``mail.acme.example``, ``acme.example``."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(max(len(labels) - 1, 1))]


@dataclass(frozen=True)
class ExternalPerson:
    name: str
    email: str | None

    @property
    def domain(self) -> str | None:
        return None if self.email is None else email_domain(self.email)


def external_people(meeting: MeetingIn) -> list[ExternalPerson]:
    """Attendees of the other side: not internal, and not on the selling company's domain.

    The selling company's domains are the owner's and the internal attendees' (free-mail
    providers excepted); an attendee there marked external is taken for a mislabel.
    """
    own = {email_domain(a.email) for a in meeting.attendees if a.internal and a.email}
    if meeting.owner_email:
        own.add(email_domain(meeting.owner_email))
    own -= FREE_MAIL_DOMAINS
    people: dict[str, ExternalPerson] = {}
    for attendee in meeting.attendees:
        if attendee.internal:
            continue
        email = attendee.email.lower() if attendee.email else None
        if email is not None and email_domain(email) in own:
            continue
        people.setdefault(email or f"name:{attendee.name}", ExternalPerson(attendee.name, email))
    return list(people.values())


def _phrase_patterns(phrases: Iterable[str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((phrase, re.compile(rf"\b{re.escape(phrase)}\b")) for phrase in phrases)


_NEW_WORK = _phrase_patterns(_NEW_WORK_PHRASES)
_EXPLORING = _phrase_patterns(_EXPLORING_PHRASES)


def _phrase_in(text: str, phrases: Iterable[tuple[str, re.Pattern[str]]]) -> str | None:
    for phrase, pattern in phrases:
        # The plain substring test first: most phrases are not in the text at all.
        if phrase in text and pattern.search(text):
            return phrase
    return None


def _counted(tokens: Iterable[str]) -> Counter[str]:
    """``Counter(words(text))`` from the text's case-folded tokens: each distinct token is
    stemmed once, however often it occurs (keys in the order of their first occurrence)."""
    counts: dict[str, int] = {}
    for token, count in Counter(tokens).items():
        if token not in _STOP_WORDS:
            stem = _stem(token) if token[-1] in _SUFFIX_BY_END else token
            counts[stem] = counts.get(stem, 0) + count
    return Counter(counts)


@dataclass(frozen=True)
class MeetingWords:
    """The meeting's words: the title (with the call type) weighs more than the body."""

    title: Counter[str]
    body: Counter[str]
    opening_call: str | None
    """``discovery``, ``demo``...: the call type or title names a first sales call."""
    new_work: str | None
    """A phrase saying the meeting is about something new ("new project")."""
    exploring: str | None
    """A phrase typical of a buyer starting to look ("evaluating", "pilot")."""

    @classmethod
    def of(cls, meeting: MeetingIn) -> MeetingWords:
        head = f"{meeting.title} {meeting.call_type or ''}".casefold()
        # The notes and the transcript lines as one text: no word spans the spaces joining
        # them, and case folding goes character by character, so its words are the lines'.
        lines = [meeting.notes or "", *(line.text for line in meeting.transcript)]
        body = " ".join(lines).casefold()
        head_words = _WORD.findall(head)
        text = f"{head} {body}"
        return cls(
            title=_counted(head_words),
            body=_counted((_ASCII_WORD if body.isascii() else _WORD).findall(body)),
            opening_call=min(set(head_words) & _OPENING_CALL_WORDS, default=None),
            new_work=_phrase_in(text, _NEW_WORK),
            exploring=_phrase_in(text, _EXPLORING),
        )
