"""The demo's sample meetings: a few scenarios, each in several variants, sent in turn.

``data/meetings.json`` holds the scenarios: a call with one of the demo account's customers
(``data/crm.json``), its transcript written with ``{placeholders}``, and variants that fill
them (another amount, close date, next step). Meeting ``n`` of a run is scenario
``n % S`` in variant ``(n // S) % V``: the first round visits every deal once, the next
rounds bring changed values, so the agent keeps finding something to write and to ask
about however long the demo runs. Each meeting gets a fresh external id (the run's tag and
its number), so a re-run of the demo stores new meetings instead of answering with the old.
"""

from __future__ import annotations

import string
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runtime.errors import parse_json_model
from runtime.meetings.models import MeetingIn

__all__ = ["DemoMeetings", "Scenario", "demo_meeting", "demo_meetings"]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Person(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1)
    email: str | None = None
    title: str | None = None


class Scenario(BaseModel):
    """One recurring call with one customer; ``{name}`` in its lines is filled per variant."""

    model_config = _STRICT

    key: str = Field(min_length=1)
    title: str = Field(min_length=1)
    call_type: str = Field(min_length=1)
    duration_s: int = Field(gt=0)
    customers: tuple[Person, ...] = Field(min_length=1)
    transcript: tuple[tuple[str, str], ...] = Field(
        min_length=1, description="(speaker, text) pairs; the text may hold {placeholders}."
    )
    notes: str | None = None
    variants: tuple[dict[str, str], ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _variants_fill_every_placeholder(self) -> Self:
        texts = [text for _, text in self.transcript]
        if self.notes:
            texts.append(self.notes)
        wanted = {
            name for text in texts for _, name, _, _ in string.Formatter().parse(text) if name
        }
        for index, variant in enumerate(self.variants):
            if set(variant) != wanted:
                missing = sorted(wanted - set(variant))
                extra = sorted(set(variant) - wanted)
                raise ValueError(
                    f"variant {index} of {self.key!r} must fill exactly"
                    f" {sorted(wanted)} (missing {missing}, unused {extra})"
                )
        return self


class DemoMeetings(BaseModel):
    """The sample meetings file: the rep who holds every call, and the scenarios."""

    model_config = _STRICT

    rep: Person
    scenarios: tuple[Scenario, ...] = Field(min_length=1)


@cache
def demo_meetings() -> DemoMeetings:
    """The scenarios shipped with the package (``runtime/demo/data/meetings.json``)."""
    raw = resources.files("runtime.demo").joinpath("data/meetings.json").read_bytes()
    return parse_json_model(DemoMeetings, raw, source="runtime/demo/data/meetings.json")


def demo_meeting(
    sequence: int,
    *,
    run_tag: str,
    owner_email: str,
    ended_at: datetime,
    meetings: DemoMeetings | None = None,
) -> MeetingIn:
    """Meeting number ``sequence`` (from 0) of the demo run ``run_tag``, as the meeting
    service would send it when the call has just ended at ``ended_at``.

    The rep attends as ``owner_email`` (the demo's admin, so inbox items are theirs).
    """
    if sequence < 0:
        raise ValueError("sequence must not be negative")
    meetings = meetings or demo_meetings()
    scenarios = meetings.scenarios
    scenario = scenarios[sequence % len(scenarios)]
    variant = scenario.variants[(sequence // len(scenarios)) % len(scenario.variants)]
    rep = meetings.rep
    gap_s = scenario.duration_s / (len(scenario.transcript) + 1)
    return MeetingIn.model_validate(
        {
            "external_id": f"demo-{run_tag}-{sequence + 1:05d}",
            "title": scenario.title,
            "call_type": scenario.call_type,
            "started_at": (ended_at - timedelta(seconds=scenario.duration_s)).isoformat(),
            "duration_s": scenario.duration_s,
            "owner_email": owner_email,
            "attendees": [
                {"name": rep.name, "email": owner_email, "internal": True, "title": rep.title},
                *(
                    {"name": c.name, "email": c.email, "internal": False, "title": c.title}
                    for c in scenario.customers
                ),
            ],
            "transcript": [
                {
                    "speaker": speaker,
                    "start_s": round(gap_s * (index + 1), 1),
                    "text": text.format_map(variant),
                }
                for index, (speaker, text) in enumerate(scenario.transcript)
            ],
            "notes": scenario.notes.format_map(variant) if scenario.notes else None,
        }
    )
