"""The pure parts of record matching: words, people, scores, confidence, the no-match rule."""

from __future__ import annotations

import pytest

from runtime.agents.matching_decision import MatchContext, decide, opening_reason
from runtime.agents.matching_scores import DealCandidate, match_confidence, rank_deals
from runtime.agents.matching_text import (
    ExternalPerson,
    MeetingWords,
    external_people,
    parent_domains,
    words,
)
from runtime.crm.port import CrmRecord
from tests.crm_builders import meeting


def deal(deal_id: str, name: str, **properties: str) -> CrmRecord:
    return CrmRecord(id=deal_id, object_type="deals", properties={"dealname": name, **properties})


def heard(title: str = "Call", *said: str, notes: str | None = None) -> MeetingWords:
    return MeetingWords.of(meeting(title=title, said=said, notes=notes))


def test_words_fold_case_drop_stop_words_and_strip_common_endings() -> None:
    assert words("The Renewals, renewed; RENEWAL renewing") == ["renew"] * 4
    assert words("Business process for the seats") == ["business", "process", "seat"]
    assert words("Acme Corp Deal - EMEA regional") == ["acme", "emea", "region"]


def test_parent_domains_stop_before_the_top_level() -> None:
    assert parent_domains("eu.mail.acme.example") == [
        "eu.mail.acme.example",
        "mail.acme.example",
        "acme.example",
    ]
    assert parent_domains("acme.example") == ["acme.example"]


def test_external_people_leave_out_the_selling_companys_domains_but_not_free_mail() -> None:
    meeting_in = meeting(
        internal=[("Sam Lee", "sam@ourco.example"), ("Al Ng", "al.ng@gmail.com")],
        external=[
            ("Dana Ruiz", "Dana@Acme.example"),
            ("Jo Colleague", "jo@ourco.example"),
            ("Max Roe", "max@gmail.com"),
            ("Dana again", "dana@acme.example"),
            ("No Mail", None),
        ],
        owner_email="sam@ourco.example",
    )
    assert external_people(meeting_in) == [
        ExternalPerson("Dana Ruiz", "dana@acme.example"),
        ExternalPerson("Max Roe", "max@gmail.com"),
        ExternalPerson("No Mail", None),
    ]


def test_words_every_candidate_shares_or_the_company_carries_tell_nothing() -> None:
    candidates = [
        DealCandidate(deal("1", "Acme Platform Expansion"), companies=("Acme",)),
        DealCandidate(deal("2", "Acme Platform Renewal"), companies=("Acme",)),
    ]
    ranked = rank_deals(
        candidates, heard("Acme platform sync", "acme platform"), company_words={"acme"}
    )
    assert [s.score for s in ranked] == [1.0, 1.0]
    assert ranked[0].name_words_heard == ()


def test_title_words_outweigh_body_words_and_repeats_add_up_to_a_cap() -> None:
    candidates = [
        DealCandidate(deal("1", "Analytics"), companies=("Acme",)),
        DealCandidate(deal("2", "Payroll"), companies=("Acme",)),
    ]
    in_title = rank_deals(candidates, heard("Payroll review"))
    assert (in_title[0].deal.id, in_title[0].name_score) == ("2", 2.0)
    repeated = rank_deals(candidates, heard("Call", *["analytics"] * 10))
    assert (repeated[0].deal.id, repeated[0].name_score) == ("1", 2.5)


def test_description_and_next_step_words_count_a_little() -> None:
    candidates = [
        DealCandidate(
            deal("1", "Expansion", hs_next_step="Send the SOC2 report"), domains=("a.b",)
        ),
        DealCandidate(deal("2", "Renewal"), domains=("a.b",)),
    ]
    (best, other) = rank_deals(candidates, heard("Call", "Did the SOC2 report arrive?"))
    assert best.deal.id == "1"
    assert best.other_words_heard == ("report", "soc2")
    assert best.score - other.score == pytest.approx(0.6)


def test_link_tiers_and_extra_attending_contacts() -> None:
    candidates = [
        DealCandidate(deal("1", "A"), domains=("a.example",)),
        DealCandidate(deal("2", "B"), companies=("Acme",)),
        DealCandidate(deal("3", "C"), contacts=("Dana",)),
        DealCandidate(deal("4", "D"), contacts=("Dana", "Lee", "Kim", "Jo")),
    ]
    ranked = rank_deals(candidates, heard())
    assert [(s.deal.id, s.link_score) for s in ranked] == [
        ("4", 5.0),
        ("3", 3.0),
        ("2", 1.0),
        ("1", 0.6),
    ]


def test_a_lone_deal_gets_its_tiers_ceiling() -> None:
    def alone(candidate: DealCandidate) -> float:
        return match_confidence(rank_deals([candidate], heard()), heard())

    assert alone(DealCandidate(deal("1", "X"), contacts=("Dana",))) == 0.95
    assert alone(DealCandidate(deal("1", "X"), companies=("Acme",))) == 0.88
    assert alone(DealCandidate(deal("1", "X"), domains=("acme.example",))) == 0.85
    named = rank_deals([DealCandidate(deal("1", "Expansion"), domains=("a",))], heard("Expansion"))
    assert match_confidence(named, heard("Expansion")) == 0.95


def test_ties_are_a_guess_and_confidence_grows_with_the_lead() -> None:
    three = [DealCandidate(deal(str(i), f"D{i}"), companies=("Acme",)) for i in (1, 2, 3)]
    assert match_confidence(rank_deals(three, heard()), heard()) == pytest.approx(0.333)
    two = three[:2]
    confidences = [
        match_confidence(rank_deals(two, heard("Call", *["d1"] * n)), heard("Call", *["d1"] * n))
        for n in (1, 2, 3)
    ]
    assert confidences == sorted(confidences)
    assert confidences[0] == pytest.approx(0.5 + 0.38 * (1 - 2.718281828 ** (-1 / 1.5)), abs=1e-3)
    assert confidences[-1] < 0.88


def test_no_open_deal_opens_an_opportunity_only_for_a_first_sales_conversation() -> None:
    ann = (ExternalPerson("Ann Bo", "ann@newco.example"),)
    context = MatchContext(people=ann)
    assert opening_reason(MeetingWords.of(meeting(call_type="demo")), context)
    assert opening_reason(MeetingWords.of(meeting(title="Intro call - NewCo")), context)
    assert opening_reason(heard("Call", "We're evaluating vendors for this."), context)
    assert opening_reason(heard("Call", notes="Separate project for the EU team"), context)
    assert opening_reason(MeetingWords.of(meeting(call_type="qbr")), context) is None
    assert opening_reason(heard("Call", "Status update on the rollout."), context) is None
    assert opening_reason(MeetingWords.of(meeting(call_type="demo")), MatchContext()) is None
    result = decide([], MeetingWords.of(meeting(call_type="demo")), context)
    assert (result.record, result.confidence, result.opens_opportunity) == (None, 0.0, True)
