"""The LLM extractor's prompt: a system message with the task, a user message with the facts.

The user message is JSON so that names, quotes and line breaks in a transcript cannot be
mistaken for instructions about the format; transcript lines carry the index the answer
cites as evidence.
"""

from __future__ import annotations

import json
from typing import Any

from runtime.agents.extraction import ExtractionContext

__all__ = ["messages"]

_FIELD_FORMS = {
    "dealstage": "a stage id from `pipeline.stages` (the id, not the label)",
    "amount": "a plain number without currency or separators, e.g. 60000 or 1250.5",
    "closedate": (
        "a date YYYY-MM-DD; resolve relative dates ('end of next month', 'April 30')"
        " against `meeting.started_at`"
    ),
    "hs_next_step": "one short sentence in the imperative, e.g. 'Send the revised quote'",
}

_SYSTEM = """\
You read one sales meeting and propose updates to the CRM deal it is about.

Propose values only for the managed fields listed in `fields`; never for any other field.
Write every value in the CRM's form:
{forms}
Propose a value only when the meeting states it; do not repeat the deal's current value
unless the meeting confirms it, and propose nothing when nothing was said about a field.
When different values were stated for one field, propose each as its own candidate.

For each candidate give as evidence every place the value was stated: a transcript line by
its `index` (source "transcript", excerpt null), or a verbatim excerpt of `meeting.notes`
(source "notes", line null). Report who stated it (speaker_role: "customer" for the buying
company's attendees, "rep" for the selling company's, whose attendees have internal true;
"unknown" otherwise), whether it was explicit or inferred, hedged ("maybe", "around",
"probably"), committed (agreed, confirmed, signed off) or a correction of an earlier
statement, and your confidence between 0 and 1.

Answer with one JSON object matching the given schema and nothing else."""


def messages(context: ExtractionContext) -> list[dict[str, str]]:
    """The chat messages for one extraction: the task, then the meeting and the deal."""
    forms = "\n".join(
        f"- {field}: {_FIELD_FORMS.get(field, 'a string as the CRM stores it')}"
        for field in context.fields
    )
    return [
        {"role": "system", "content": _SYSTEM.format(forms=forms)},
        {"role": "user", "content": json.dumps(_facts(context), ensure_ascii=False, indent=1)},
    ]


def _facts(context: ExtractionContext) -> dict[str, Any]:
    meeting = context.meeting
    record = context.record
    facts: dict[str, Any] = {
        "fields": list(context.fields),
        "meeting": {
            "title": meeting.title,
            "call_type": meeting.call_type,
            "started_at": meeting.started_at.isoformat(),
            "attendees": [
                {"name": a.name, "title": a.title, "internal": a.internal}
                for a in meeting.attendees
            ],
            "transcript": [
                {"index": i, "speaker": line.speaker, "start_s": line.start_s, "text": line.text}
                for i, line in enumerate(meeting.transcript)
            ],
            "notes": meeting.notes,
        },
        "deal": None,
        "pipeline": None,
    }
    if record is not None:
        facts["deal"] = {
            "id": record.id,
            "name": record.properties.get("dealname"),
            "current": {field: record.properties.get(field) for field in context.fields},
        }
    if context.pipeline is not None:
        facts["pipeline"] = {
            "id": context.pipeline.id,
            "label": context.pipeline.label,
            "stages": [
                {"id": s.id, "label": s.label, "closed": s.is_closed}
                for s in sorted(context.pipeline.stages, key=lambda s: s.display_order)
            ],
        }
    return facts
