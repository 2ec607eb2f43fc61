"""Record matching: which open deal a meeting is about, looked up through the CRM port only.

Works on any ``CrmPort`` (``HubSpotClient``, ``InMemoryCrm``). The lookups, in order:

1. the external attendees' emails → contacts (search, ``email`` EQ, five per request);
   an attendee listed without an email, by first and last name (kept only when one
   contact bears that name);
2. those contacts → their companies and their deals (associations);
3. email domains where no attending contact leads to a company → companies by ``domain``
   (search EQ on the domain and its parents; free-mail domains are never looked up);
4. the companies → their deals; deals read in one batch, and the pipelines, so that deals
   in a closed stage (``is_closed``; closedwon/closedlost when the stage is unknown) drop out.

Scoring and the decision are pure: ``matching_scores`` and ``matching_decision``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from runtime.agents.matching_decision import MatchContext, decide
from runtime.agents.matching_scores import DealCandidate, rank_deals
from runtime.agents.matching_text import (
    FREE_MAIL_DOMAINS,
    ExternalPerson,
    MeetingWords,
    external_people,
    parent_domains,
    words,
)
from runtime.agents.results import MatchResult
from runtime.crm.port import (
    CrmPort,
    CrmRecord,
    Filter,
    FilterGroup,
    ObjectType,
    Pipeline,
    SearchRequest,
)
from runtime.meetings.models import MeetingIn

__all__ = ["DEAL_PROPERTIES", "RecordMatcher"]

DEAL_PROPERTIES = (
    "dealname",
    "dealstage",
    "pipeline",
    "amount",
    "closedate",
    "hs_next_step",
    "description",
    "dealtype",
)
"""Deal properties the matcher reads (and the matched record carries)."""
_NAME_PROPERTIES = ("firstname", "lastname")
_CONTACT_PROPERTIES = ("email", *_NAME_PROPERTIES)
_COMPANY_PROPERTIES = ("name", "domain")
# HubSpot ORs at most five filter groups in one search.
_GROUPS_PER_SEARCH = 5
# Each group asks for one email, domain or full name: five groups find far fewer than 100
# records, so one page is all.
_SEARCH_LIMIT = 100
_CLOSED_STAGE_IDS = frozenset({"closedwon", "closedlost"})


@dataclass(frozen=True)
class _Found:
    """What the lookups found; the ids of each mapping in the order first reached."""

    attended: list[tuple[ExternalPerson, CrmRecord]]
    """External attendees who are CRM contacts, with their contact."""
    contact_deals: dict[str, set[str]]
    companies: dict[str, CrmRecord]
    via_contacts: list[str]
    """Ids of the companies reached through attending contacts."""
    by_domain: dict[str, str]
    """Company id → the domain it was found by."""
    company_deals: dict[str, set[str]]
    deals: dict[str, CrmRecord]
    pipelines: list[Pipeline]

    def company_name(self, company_id: str) -> str:
        props = self.companies[company_id].properties
        return props.get("name") or props.get("domain") or f"company {company_id}"


class RecordMatcher:
    """Finds the open deal a meeting is about, with a confidence and the alternatives."""

    def __init__(self, crm: CrmPort, *, deal_properties: Sequence[str] = ()) -> None:
        """A matcher reading through ``crm`` and nothing else.

        Args:
            crm: where contacts, companies, deals and pipelines are read.
            deal_properties: more deal properties for the matched record to carry (the
                fields an agent manages, say), besides ``DEAL_PROPERTIES``.
        """
        self._crm = crm
        self._deal_properties = tuple(dict.fromkeys([*DEAL_PROPERTIES, *deal_properties]))

    async def match(self, meeting: MeetingIn) -> MatchResult:
        """The meeting's open deal, its confidence, the alternatives, and why.

        Raises:
            runtime.crm.errors.CrmError: the CRM could not be read.
        """
        meeting_words = MeetingWords.of(meeting)
        people = external_people(meeting)
        found = await self._look_up(people)
        candidates: list[DealCandidate] = []
        closed: list[str] = []
        for deal in found.deals.values():
            if _is_closed(deal, found.pipelines):
                closed.append(deal.properties.get("dealname") or f"deal {deal.id}")
                continue
            holds = [c for c in found.companies if deal.id in found.company_deals[c]]
            candidates.append(
                DealCandidate(
                    deal=deal,
                    contacts=tuple(
                        p.name for p, c in found.attended if deal.id in found.contact_deals[c.id]
                    ),
                    companies=tuple(
                        found.company_name(c) for c in holds if c in found.via_contacts
                    ),
                    domains=tuple(found.by_domain[c] for c in holds if c in found.by_domain),
                )
            )
        company_names = [found.company_name(c) for c in found.companies]
        ranked = rank_deals(
            candidates,
            meeting_words,
            company_words={w for name in company_names for w in words(name)},
        )
        context = MatchContext(
            people=tuple(people),
            contacts_found=tuple(p.name for p, _ in found.attended),
            companies=tuple(company_names),
            closed_deals=tuple(closed),
        )
        decided = decide(ranked, meeting_words, context)
        # Who the meeting was with, for the associations of a deal it may create.
        return decided.model_copy(
            update={
                "company_id": next(iter(found.companies), None),
                "contact_ids": tuple(dict.fromkeys(c.id for _, c in found.attended)),
            }
        )

    async def _look_up(self, people: Sequence[ExternalPerson]) -> _Found:
        by_email = await self._contacts_by_email([p.email for p in people if p.email])
        by_name = await self._contacts_by_name([p.name for p in people if not p.email])
        attended = [
            (p, contact)
            for p in people
            if (contact := by_email.get(p.email) if p.email else by_name.get(p.name))
        ]
        contact_ids = list(dict.fromkeys(c.id for _, c in attended))
        contact_companies, contact_deals = await self._linked(
            "contacts", contact_ids, ("companies", "deals")
        )
        covered = {p.domain for p, c in attended if contact_companies[c.id]}
        domains = [
            d
            for d in dict.fromkeys(p.domain for p in people if p.domain)
            if d not in covered and d not in FREE_MAIL_DOMAINS
        ]
        by_domain = await self._companies_by_domain(domains)
        via_contacts = list(dict.fromkeys(_flat(contact_companies.values())))
        companies = await self._read("companies", [*via_contacts, *by_domain], _COMPANY_PROPERTIES)
        (company_deals,) = await self._linked("companies", list(companies), ("deals",))
        deal_ids = [*_flat(contact_deals.values()), *_flat(company_deals.values())]
        deals = await self._read("deals", deal_ids, self._deal_properties)
        return _Found(
            attended=attended,
            contact_deals=contact_deals,
            companies=companies,
            via_contacts=via_contacts,
            by_domain=by_domain,
            company_deals=company_deals,
            deals=deals,
            pipelines=await self._crm.pipelines("deals") if deals else [],
        )

    async def _contacts_by_email(self, emails: Sequence[str]) -> dict[str, CrmRecord]:
        """Contacts by (lower-cased) email."""
        groups = [_group(("email", email)) for email in emails]
        found: dict[str, CrmRecord] = {}
        for record in await _search(self._crm, "contacts", groups, _CONTACT_PROPERTIES):
            found.setdefault((record.properties.get("email") or "").lower(), record)
        return found

    async def _contacts_by_name(self, names: Sequence[str]) -> dict[str, CrmRecord]:
        """Contacts by full name, for attendees listed without an email; a name that more
        than one contact bears is left out rather than guessed."""
        split = {name: _first_and_last(name) for name in names}
        wanted = {name: parts for name, parts in split.items() if parts is not None}
        groups = [
            _group(("firstname", first), ("lastname", last)) for first, last in wanted.values()
        ]
        holders: dict[tuple[str, str], list[CrmRecord]] = {}
        for record in await _search(self._crm, "contacts", groups, _CONTACT_PROPERTIES):
            key = tuple((record.properties.get(p) or "").casefold() for p in _NAME_PROPERTIES)
            holders.setdefault((key[0], key[1]), []).append(record)
        found: dict[str, CrmRecord] = {}
        for name, (first, last) in wanted.items():
            bearers = holders.get((first.casefold(), last.casefold()), [])
            if len(bearers) == 1:
                found[name] = bearers[0]
        return found

    async def _companies_by_domain(self, domains: Sequence[str]) -> dict[str, str]:
        """Company id → the domain it was found by, for companies at ``domains``."""
        variants = dict.fromkeys(v for d in domains for v in parent_domains(d))
        groups = [_group(("domain", variant)) for variant in variants]
        found: dict[str, str] = {}
        for record in await _search(self._crm, "companies", groups, _COMPANY_PROPERTIES):
            found.setdefault(record.id, (record.properties.get("domain") or "").lower())
        return found

    async def _linked(
        self, from_type: ObjectType, ids: Sequence[str], to_types: Sequence[ObjectType]
    ) -> list[dict[str, set[str]]]:
        """Per type of ``to_types``: each record's associated ids of that type, all read
        side by side."""
        reads = [
            self._crm.associated_ids(from_type, record_id, to_type)
            for to_type in to_types
            for record_id in ids
        ]
        # One read needs no task of its own (the answers come from a cache mostly).
        linked = [await reads[0]] if len(reads) == 1 else await asyncio.gather(*reads)
        count = len(ids)
        return [
            {record_id: set(linked[t * count + i]) for i, record_id in enumerate(ids)}
            for t in range(len(to_types))
        ]

    async def _read(
        self, object_type: ObjectType, ids: Sequence[str], properties: Sequence[str]
    ) -> dict[str, CrmRecord]:
        """Records by id in the order asked; ids gone meanwhile are left out."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        answer = await self._crm.batch_read(object_type, wanted, properties=properties)
        by_id = {record.id: record for record in answer.results}
        return {record_id: by_id[record_id] for record_id in wanted if record_id in by_id}


def _group(*equals: tuple[str, str]) -> FilterGroup:
    return FilterGroup(
        filters=tuple(Filter(property_name=n, operator="EQ", value=v) for n, v in equals)
    )


async def _search(
    crm: CrmPort,
    object_type: ObjectType,
    groups: Sequence[FilterGroup],
    properties: Sequence[str],
) -> list[CrmRecord]:
    """Records matching any of ``groups``, five groups per search, in id order per search."""
    found: list[CrmRecord] = []
    # One after the other: HubSpot allows few searches per second.
    for start in range(0, len(groups), _GROUPS_PER_SEARCH):
        request = SearchRequest(
            filter_groups=tuple(groups[start : start + _GROUPS_PER_SEARCH]),
            properties=tuple(properties),
            limit=_SEARCH_LIMIT,
        )
        found.extend((await crm.search(object_type, request)).results)
    return found


def _first_and_last(name: str) -> tuple[str, str] | None:
    """``Dr. Emily Hart`` → (Emily, Hart): titles ending in a dot are dropped."""
    parts = [part for part in name.split() if not part.endswith(".")]
    return (parts[0], " ".join(parts[1:])) if len(parts) >= 2 else None


def _is_closed(deal: CrmRecord, pipelines: Sequence[Pipeline]) -> bool:
    stage_id = deal.properties.get("dealstage")
    if not stage_id:
        return False
    pipeline_id = deal.properties.get("pipeline")
    # The deal's own pipeline first; should the deal name none, its stage id still tells.
    ordered = sorted(pipelines, key=lambda p: p.id != pipeline_id)
    for pipeline in ordered:
        for stage in pipeline.stages:
            if stage.id == stage_id:
                return stage.is_closed
    return stage_id in _CLOSED_STAGE_IDS


def _flat(groups: Iterable[Iterable[str]]) -> list[str]:
    return [item for group in groups for item in sorted(group, key=_id_order)]


def _id_order(record_id: str) -> tuple[int, str]:
    return (int(record_id) if record_id.isdigit() else 0, record_id)
