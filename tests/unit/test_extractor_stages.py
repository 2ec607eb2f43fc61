"""The deal-stage rules: which stage a meeting moves the deal to, on any pipeline."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.agents.extractors.speakers import speaker_roles
from runtime.agents.extractors.stage_map import StageKind, stage_for_kind
from runtime.agents.extractors.stages import StageCandidate, extract_stage_candidates
from runtime.crm.hubspot.standard import DEFAULT_PIPELINE
from runtime.crm.port import Pipeline, PipelineStage
from runtime.meetings.models import MeetingIn
from tests.meetings import dialogue

pytestmark = pytest.mark.unit

R, C = "Sam Lee", "Dana Ruiz"  # the rep and the customer of the example meeting


def _stage(stage_id: str, label: str, order: int, probability: float) -> PipelineStage:
    return PipelineStage(
        id=stage_id,
        label=label,
        display_order=order,
        probability=probability,
        is_closed=probability in (0.0, 1.0),
    )


# A custom pipeline: numeric ids, its own labels ("Verbal Agreement", "Contract Out", "Won").
CUSTOM = Pipeline(
    id="62110000",
    label="EMEA New Business",
    stages=(
        _stage("62110001", "Qualification", 0, 0.1),
        _stage("62110002", "Demo Completed", 1, 0.3),
        _stage("62110003", "Proposal Sent", 2, 0.5),
        _stage("62110004", "Verbal Agreement", 3, 0.8),
        _stage("62110005", "Contract Out", 4, 0.9),
        _stage("62110006", "Won", 5, 1.0),
        _stage("62110007", "Lost", 6, 0.0),
    ),
)
RENEWALS = Pipeline(
    id="88412200",
    label="Renewals",
    stages=(
        _stage("88412201", "Renewal Upcoming", 0, 0.3),
        _stage("88412202", "Renewal Negotiation", 1, 0.6),
        _stage("88412203", "Paperwork Sent", 2, 0.9),
        _stage("88412204", "Renewed", 3, 1.0),
        _stage("88412205", "Churned", 4, 0.0),
    ),
)
# No verbal-commit, contract or legal stage: a yes ends the negotiation, the paper is a proposal.
MIDMARKET = Pipeline(
    id="14890236",
    label="Mid-Market",
    stages=(
        _stage("discovery", "Discovery", 0, 0.1),
        _stage("solution_fit", "Solution Fit", 1, 0.3),
        _stage("proposal", "Proposal", 2, 0.5),
        _stage("negotiation", "Negotiation", 3, 0.75),
        _stage("won", "Won", 4, 1.0),
        _stage("lost", "Lost", 5, 0.0),
    ),
)
ENTERPRISE = Pipeline(
    id="55012000",
    label="Enterprise",
    stages=(
        _stage("55012001", "Discovery", 0, 0.1),
        _stage("55012002", "Solution Validation", 1, 0.3),
        _stage("55012004", "Commercial Negotiation", 3, 0.7),
        _stage("55012005", "Legal & Procurement", 4, 0.85),
        _stage("55012006", "Closed Won", 5, 1.0),
        _stage("55012007", "Closed Lost", 6, 0.0),
    ),
)


def _meeting(
    *lines: tuple[str, str], notes: str = "", call_type: str = "check_in", title: str = "Check-in"
) -> MeetingIn:
    return dialogue(*lines, notes=notes, call_type=call_type, title=title)


def _stages(
    *lines: tuple[str, str],
    pipeline: Pipeline = DEFAULT_PIPELINE,
    current: str | None = "appointmentscheduled",
    notes: str = "",
    call_type: str = "check_in",
) -> list[StageCandidate]:
    meeting = _meeting(*lines, notes=notes, call_type=call_type)
    return extract_stage_candidates(
        meeting, pipeline=pipeline, current_stage=current, speaker_roles=speaker_roles(meeting)
    )


def _top(*lines: tuple[str, str], **kwargs: Any) -> str | None:
    found = _stages(*lines, **kwargs)
    return found[0].value if found else None


DISCOVERY = [
    (C, "Invoices are a mess, my team keys everything in by hand."),
    (C, "It's my call on the vendor, I sign."),
    (C, "I want this running before the end of June."),
]
DEMO_BOOKED = [
    (C, "Our CFO wants to see it, so a proper demo for the partners and her."),
    (R, "Absolutely. When works?"),
    (C, "Next Tuesday, the twenty-second, at ten."),
]
YES = [(R, "So forty seats at six hundred."), (C, "I'll approve the forty seats. Let's do it.")]
SENT = [(R, "I've just sent the contract through DocuSign."), (C, "Got it, it's in my inbox.")]
SIGNED = [(C, "I signed it in DocuSign this morning.")]
LOST = [(C, "I should have called you. We went another way, we signed with TrackRight.")]
CHURN = [(C, "I'll just say it, we're not renewing. The decision's made.")]


# (rule, dialogue, notes, call type, current stage, expected top stage)
DEFAULT_RULES: list[tuple[str, list[tuple[str, str]], str, str, str, str | None]] = [
    ("discovery qualified", DISCOVERY, "", "discovery", "appointmentscheduled", "qualifiedtobuy"),
    ("demo booked", DEMO_BOOKED, "", "check_in", "qualifiedtobuy", "presentationscheduled"),
    ("demo call", [(C, "This looks good.")], "", "demo", "qualifiedtobuy", "presentationscheduled"),
    ("customer says yes", YES, "", "qbr", "presentationscheduled", "decisionmakerboughtin"),
    (
        "deal accepted",
        [(R, "I can do thirty."), (C, "Deal.")],
        "",
        "qbr",
        "qualifiedtobuy",
        "decisionmakerboughtin",
    ),
    (
        "notes record a yes",
        [],
        "Sofia said yes, she's good with 84k.",
        "renewal",
        "qualifiedtobuy",
        "decisionmakerboughtin",
    ),
    ("contract sent", SENT, "", "negotiation", "decisionmakerboughtin", "contractsent"),
    (
        "notes: contract sent",
        [],
        "Sent contract via DocuSign at 3:40pm to Ravi.",
        "negotiation",
        "decisionmakerboughtin",
        "contractsent",
    ),
    ("signed", SIGNED, "", "check_in", "contractsent", "closedwon"),
    (
        "PO received",
        [(C, "Good news, we received the PO from finance today.")],
        "",
        "check_in",
        "contractsent",
        "closedwon",
    ),
    ("lost to a competitor", LOST, "", "check_in", "contractsent", "closedlost"),
    (
        "notes: went with a named competitor",
        [],
        "Bad news: they went w/ Transvoy. Decision is final.",
        "check_in",
        "contractsent",
        "closedlost",
    ),
    (
        "the decision maker says they are renewing",
        [(C, "To be clear, we're renewing. I'm the one who signs, it's just the seat count.")],
        "",
        "renewal",
        "qualifiedtobuy",
        "decisionmakerboughtin",
    ),
    (
        "the PO went out",
        [(C, "Yeah, the PO went out this morning, PO number RB-4471.")],
        "",
        "check_in",
        "contractsent",
        "closedwon",
    ),
    (
        "the customer will sign it",
        [(C, "Forty-one five works. I'll sign it by Friday the thirteenth.")],
        "",
        "renewal",
        "qualifiedtobuy",
        "decisionmakerboughtin",
    ),
    (
        "decided not to proceed",
        [(C, "We've decided not to proceed this year.")],
        "",
        "check_in",
        "presentationscheduled",
        "closedlost",
    ),
    (
        "the project is cancelled",
        [(C, "I'll be blunt. Our project is cancelled for 2026, cancelled, not paused.")],
        "",
        "check_in",
        "contractsent",
        "closedlost",
    ),
    (
        "spending is frozen",
        [(C, "The grant was cut and spending is frozen until further notice.")],
        "",
        "check_in",
        "presentationscheduled",
        "closedlost",
    ),
    (
        "building it in-house",
        [(C, "Engineering convinced the board, we're going to build it in-house.")],
        "",
        "check_in",
        "presentationscheduled",
        "closedlost",
    ),
    (
        "not renewing on a renewal call",
        [(C, "Honestly, we've decided not to renew. It's final.")],
        "",
        "renewal",
        "qualifiedtobuy",
        "closedlost",
    ),
    (
        "going ahead with you",
        [(C, "I control this budget, and we're going ahead with you.")],
        "",
        "negotiation",
        "qualifiedtobuy",
        "decisionmakerboughtin",
    ),
    (
        "the customer has the sign-off",
        [(C, "I've got sign-off from our CFO for all four yards. This is happening.")],
        "",
        "check_in",
        "presentationscheduled",
        "decisionmakerboughtin",
    ),
    (
        "notes: verbal go-ahead",
        [],
        "Ruth gave verbal go-ahead on the rollout. She's the signer.",
        "check_in",
        "presentationscheduled",
        "decisionmakerboughtin",
    ),
    (
        "emailed the proposal",
        [],
        "Emailed the proposal before we hung up; Priya confirmed it landed.",
        "demo",
        "decisionmakerboughtin",
        "contractsent",
    ),
    (
        "authority named by role",
        [
            (C, "The front desks double book and we lose thirty appointments a week, by hand."),
            (C, "Amara and I recommend, our CFO, Dennis, signs."),
            (C, "The contract has to be signed by the end of August at the latest."),
        ],
        "",
        "discovery",
        "appointmentscheduled",
        "qualifiedtobuy",
    ),
    (
        "yes then contract: furthest wins",
        [*YES, *SENT],
        "",
        "negotiation",
        "qualifiedtobuy",
        "contractsent",
    ),
]


@pytest.mark.parametrize(
    ("lines", "notes", "call_type", "current", "expected"),
    [pytest.param(*rule[1:], id=rule[0]) for rule in DEFAULT_RULES],
)
def test_default_pipeline_rules(
    lines: list[tuple[str, str]], notes: str, call_type: str, current: str, expected: str | None
) -> None:
    assert _top(*lines, notes=notes, call_type=call_type, current=current) == expected


# (rule, dialogue, call type, current stage, nothing must be proposed)
NOTHING: list[tuple[str, list[tuple[str, str]], str, str]] = [
    (
        "rep optimism",
        [(R, "Sounds like you're ready to go! Let's do it.")],
        "qbr",
        "qualifiedtobuy",
    ),
    (
        "rep marks it ready",
        [(R, "I'll mark this as ready, we're basically there.")],
        "qbr",
        "qualifiedtobuy",
    ),
    ("conditional yes", [(C, "If the board approves, we'll go ahead.")], "qbr", "qualifiedtobuy"),
    ("speculative yes", [(C, "We might go ahead next year, maybe.")], "qbr", "qualifiedtobuy"),
    (
        "customer can't commit",
        [(C, "Let's do it... but I can't commit, it's not my call.")],
        "qbr",
        "qualifiedtobuy",
    ),
    (
        "promise to send",
        [(R, "I'll send the order form by Friday.")],
        "negotiation",
        "decisionmakerboughtin",
    ),
    (
        "wished signature",
        [(C, "I'd like it signed well before the end of April.")],
        "check_in",
        "contractsent",
    ),
    ("question", [(R, "Is it fully signed?")], "check_in", "contractsent"),
    (
        "a PO still to come",
        [(C, "We need the PO issued by Friday, then the PO will be sent over.")],
        "check_in",
        "contractsent",
    ),
    (
        "a conditional signature",
        [(C, "I'll sign it once legal has looked at it.")],
        "check_in",
        "decisionmakerboughtin",
    ),
    (
        "speculative churn",
        [(C, "We might not renew if prices go up.")],
        "renewal",
        "qualifiedtobuy",
    ),
    (
        "walkthrough without a day",
        [(R, "Once we have results we'll set up a walkthrough."), (C, "Sounds good.")],
        "check_in",
        "qualifiedtobuy",
    ),
    (
        "deadline is not a demo day",
        [(R, "You'll see accuracy on your data, not a canned demo."), (C, "Give me until Friday.")],
        "check_in",
        "qualifiedtobuy",
    ),
    (
        "an incumbent's contract not renewed on a new-business call",
        [(C, "Our current Routemaster contract ends Dec 31 and we won't renew it.")],
        "demo",
        "presentationscheduled",
    ),
    (
        "signed together with the renewal",
        [(C, "I'd rather sign the expansion together with the renewal, to be signed with it.")],
        "qbr",
        "decisionmakerboughtin",
    ),
    (
        "a delay in signing is not a loss",
        [(C, "It won't be signed by Friday, legal is slow this month.")],
        "check_in",
        "decisionmakerboughtin",
    ),
    (
        "a budget trimmed is not a loss",
        [(C, "Our budget was cut by ten percent, so we need a sharper price.")],
        "negotiation",
        "decisionmakerboughtin",
    ),
    (
        "renewing what we have is a yes on a renewal",
        [(C, "We'll just renew with what we have. Flat renewal, we'll sign.")],
        "renewal",
        "decisionmakerboughtin",
    ),
    (
        "notes: no verbal commit",
        [],
        "So no verbal commit yet, Raj needs Mei first.",
        "qualifiedtobuy",
    ),
    (
        "a demo the customer turns down",
        [
            (R, "Would it make sense to get a demo on the calendar with the three of you?"),
            (C, "Not before Jess has cleared security. Send her the packet first."),
            (C, "Friday the seventeenth works for the packet."),
        ],
        "check_in",
        "qualifiedtobuy",
    ),
    (
        "a yes the committee still has to approve",
        [
            (C, "Okay, I can live with that for the new buildings."),
            (R, "Great, so nine thousand six hundred seventy-two."),
            (C, "No. Anything new goes through our operations committee on the twenty-fifth."),
        ],
        "qbr",
        "presentationscheduled",
    ),
    ("the current stage", YES, "qbr", "decisionmakerboughtin"),
    ("never backwards", DEMO_BOOKED, "check_in", "contractsent"),
    ("closed deal stays closed", LOST, "check_in", "closedwon"),
    ("qualified needs a discovery call", DISCOVERY, "qbr", "appointmentscheduled"),
]


@pytest.mark.parametrize(
    ("lines", "call_type", "current"), [pytest.param(*rule[1:], id=rule[0]) for rule in NOTHING]
)
def test_nothing_proposed(lines: list[tuple[str, str]], call_type: str, current: str) -> None:
    assert _stages(*lines, call_type=call_type, current=current) == []


def test_lost_is_the_one_move_backwards_and_beats_a_signature() -> None:
    found = _stages(*LOST, current="contractsent")
    assert [c.value for c in found] == ["closedlost"]  # "it's signed" with TrackRight is theirs
    assert found[0].signals.speaker_role == "customer"
    assert found[0].signals.committed


def test_hedged_yes_is_marked_and_ranks_below_a_plain_one() -> None:
    found = _stages(
        (C, "I think we'll go ahead."), *SENT, call_type="negotiation", current="qualifiedtobuy"
    )
    assert [(c.value, c.signals.hedged) for c in found] == [
        ("contractsent", False),
        ("decisionmakerboughtin", True),
    ]


def test_evidence_names_the_line_and_speaker() -> None:
    (found,) = _stages(*SIGNED, current="contractsent")
    assert found.to_candidate().field == "dealstage"
    assert found.evidence[0].speaker == C
    assert found.evidence[0].line == 0


def test_inferred_stages_are_not_explicit() -> None:
    (found,) = _stages(*DISCOVERY, call_type="discovery")
    assert found.value == "qualifiedtobuy"
    assert not found.signals.explicit


# Custom pipelines: the same events, mapped by label and order.
CUSTOM_RULES: list[tuple[str, Pipeline, list[tuple[str, str]], str, str, str]] = [
    ("verbal agreement", CUSTOM, YES, "", "62110003", "62110004"),
    ("contract out", CUSTOM, SENT, "", "62110004", "62110005"),
    ("won", CUSTOM, SIGNED, "", "62110005", "62110006"),
    ("lost", CUSTOM, LOST, "", "62110003", "62110007"),
    ("demo completed", CUSTOM, DEMO_BOOKED, "", "62110001", "62110002"),
    ("renewed", RENEWALS, SIGNED, "", "88412203", "88412204"),
    ("churned", RENEWALS, CHURN, "", "88412202", "88412205"),
    (
        "notes: churn",
        RENEWALS,
        [],
        "Churn: not renewing, moving to a bundle.",
        "88412202",
        "88412205",
    ),
    ("paperwork sent", RENEWALS, SENT, "", "88412202", "88412203"),
    ("yes goes to legal & procurement", ENTERPRISE, YES, "", "55012004", "55012005"),
    ("a yes ends the negotiation", MIDMARKET, YES, "", "proposal", "negotiation"),
    (
        "a proposal sent lands on the proposal stage",
        CUSTOM,
        [(R, "I've just emailed the updated proposal to you, Dana.")],
        "",
        "62110002",
        "62110003",
    ),
    (
        "notes: the PO was received",
        MIDMARKET,
        [],
        "PO RB-4471 received 7/9 - $72,400 annual.",
        "negotiation",
        "won",
    ),
]


@pytest.mark.parametrize(
    ("pipeline", "lines", "notes", "current", "expected"),
    [pytest.param(*rule[1:], id=rule[0]) for rule in CUSTOM_RULES],
)
def test_custom_pipeline_rules(
    pipeline: Pipeline, lines: list[tuple[str, str]], notes: str, current: str, expected: str
) -> None:
    assert _top(*lines, pipeline=pipeline, notes=notes, current=current) == expected


def test_custom_pipeline_without_such_a_stage_proposes_nothing() -> None:
    # Past the negotiation already, a yes has nowhere forward to go in the renewals pipeline.
    assert _stages(*YES, pipeline=RENEWALS, current="88412202") == []


def test_qualified_on_a_custom_pipeline_moves_past_the_qualifying_stage() -> None:
    found = _stages(*DISCOVERY, pipeline=ENTERPRISE, current="55012001", call_type="discovery")
    assert [c.value for c in found] == ["55012002"]


@pytest.mark.parametrize(
    ("pipeline", "kind", "expected"),
    [
        (DEFAULT_PIPELINE, "qualified", "qualifiedtobuy"),
        (DEFAULT_PIPELINE, "presentation", "presentationscheduled"),
        (DEFAULT_PIPELINE, "bought_in", "decisionmakerboughtin"),
        (DEFAULT_PIPELINE, "contract_sent", "contractsent"),
        (DEFAULT_PIPELINE, "proposal_sent", "contractsent"),
        (CUSTOM, "proposal_sent", "62110003"),
        (RENEWALS, "proposal_sent", "88412203"),
        (DEFAULT_PIPELINE, "won", "closedwon"),
        (DEFAULT_PIPELINE, "lost", "closedlost"),
        (CUSTOM, "qualified", "62110002"),
        (RENEWALS, "bought_in", "88412202"),
        (MIDMARKET, "bought_in", "negotiation"),
        (MIDMARKET, "contract_sent", "proposal"),
        (RENEWALS, "contract_sent", "88412203"),
        (ENTERPRISE, "contract_sent", "55012005"),
        (ENTERPRISE, "presentation", None),
    ],
)
def test_stage_map(pipeline: Pipeline, kind: StageKind, expected: str | None) -> None:
    stage = stage_for_kind(pipeline, kind)
    assert (stage.id if stage else None) == expected
