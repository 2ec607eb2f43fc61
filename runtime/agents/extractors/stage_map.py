"""Where a meeting event lands in a deal's pipeline: stage meaning -> stage of that pipeline.

Pipelines differ per account (HubSpot's default one has ids like ``contractsent``, custom
ones have numeric ids and their own labels), so the stage rules speak of *kinds* of stage
and this module finds the stage of a given pipeline that has that meaning. It reads labels,
``is_closed``, probability and display order, never ids. Mapping, kind by kind:

- ``won``: a closed stage labelled won / renewed / signed / booked, else the closed stage
  at probability 1 ("Closed Won", "Renewed", "Won").
- ``lost``: a closed stage labelled lost / churned / cancelled / disqualified / dead, else
  the closed stage at probability 0 ("Closed Lost", "Churned", "Lost").
- ``qualified``: an open stage labelled "qualified" ("Qualified To Buy"); else the open
  stage right after one labelled "qualification" or "discovery" (those name the work in
  progress, so finishing it moves past them: "Discovery" -> "Solution Validation").
- ``presentation``: an open stage labelled presentation / demo ("Presentation Scheduled",
  "Demo Completed").
- ``bought_in``: an open stage labelled decision maker / bought-in / verbal / commit /
  agreement / approved ("Decision Maker Bought-In", "Verbal Commit", "Verbal Agreement");
  else one labelled legal / procurement, since legal review starts once the buyer said yes
  ("Legal & Procurement"); else, in a pipeline with none of those, one labelled negotiation:
  there the buyer's yes is what ends the open argument over terms ("Negotiation").
- ``contract_sent``: an open stage labelled contract / paperwork / order form / signature /
  DocuSign ("Contract Sent", "Renewal Contract Sent", "Paperwork Sent", "Contract Out");
  else one labelled legal / procurement; else one labelled proposal / quote, the paper such
  a pipeline sends ("Proposal Sent").
- ``proposal_sent``: an open stage labelled proposal / quote ("Proposal Sent", "Quote
  Sent"); else as ``contract_sent``: the default pipeline's "Contract Sent" covers a priced
  proposal too.

When several stages fit, the first in display order wins. A kind with no fitting stage maps
to ``None``: the rules then propose nothing rather than guess.
"""

from __future__ import annotations

import re
from typing import Literal

from runtime.crm.port import Pipeline, PipelineStage

__all__ = ["STAGE_KINDS", "StageKind", "stage_for_kind"]

StageKind = Literal[
    "qualified", "presentation", "bought_in", "proposal_sent", "contract_sent", "won", "lost"
]
STAGE_KINDS: tuple[StageKind, ...] = (
    "qualified",
    "presentation",
    "bought_in",
    "proposal_sent",
    "contract_sent",
    "won",
    "lost",
)


def _label(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_WON = _label(r"\b(?:won|renewed|signed|booked)\b")
_LOST = _label(r"\b(?:lost|churn\w*|cancel\w*|disqualified|dead)\b")
_QUALIFIED = _label(r"\bqualified\b")
_QUALIFYING = _label(r"\b(?:qualification|qualifying|discovery)\b")
_PRESENTATION = _label(r"\b(?:presentation|demo|present\w*)\b")
_BOUGHT_IN = _label(
    r"\b(?:decision[- ]maker|bought[- ]in|buy[- ]in|verbal|commit\w*|agreement|agreed|approv\w*)\b"
)
_CONTRACT = _label(r"\b(?:contract|paperwork|order[- ]form|signature|docusign)\b")
_LEGAL = _label(r"\b(?:legal|procurement)\b")
_NEGOTIATION = _label(r"\bnegotiat\w*\b")
_PROPOSAL = _label(r"\b(?:proposal|quote)\b")


def stage_for_kind(pipeline: Pipeline, kind: StageKind) -> PipelineStage | None:
    """The stage of ``pipeline`` that means ``kind`` (see the module docstring), or None."""
    ordered = sorted(pipeline.stages, key=lambda s: s.display_order)
    closed = [s for s in ordered if s.is_closed]
    open_ = [s for s in ordered if not s.is_closed]
    if kind == "won":
        return _first(closed, _WON) or next((s for s in closed if s.probability == 1.0), None)
    if kind == "lost":
        return _first(closed, _LOST) or next((s for s in closed if s.probability == 0.0), None)
    if kind == "qualified":
        found = _first(open_, _QUALIFIED)
        if found is None:
            qualifying = _first(open_, _QUALIFYING)
            if qualifying is not None and open_.index(qualifying) + 1 < len(open_):
                found = open_[open_.index(qualifying) + 1]
        return found
    if kind == "presentation":
        return _first(open_, _PRESENTATION)
    if kind == "bought_in":
        return _first(open_, _BOUGHT_IN) or _first(open_, _LEGAL) or _first(open_, _NEGOTIATION)
    if kind == "proposal_sent" and (proposal := _first(open_, _PROPOSAL)) is not None:
        return proposal
    return _first(open_, _CONTRACT) or _first(open_, _LEGAL) or _first(open_, _PROPOSAL)


def _first(stages: list[PipelineStage], pattern: re.Pattern[str]) -> PipelineStage | None:
    return next((s for s in stages if pattern.search(s.label)), None)
