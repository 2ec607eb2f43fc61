"""Who said a transcript line: the customer's word outweighs the rep's hope."""

from __future__ import annotations

from runtime.agents.extraction import SpeakerRole
from runtime.meetings.models import MeetingIn

__all__ = ["speaker_roles"]


def speaker_roles(meeting: MeetingIn) -> dict[str, SpeakerRole]:
    """The role of every transcript speaker, keyed by the name as the transcript spells it.

    Attendees marked ``internal`` are reps, the others customers. A speaker is matched by
    full name, case-insensitively, or by first name when only one attendee has it ("Dana"
    for attendee "Dana Ruiz"); anyone else is ``unknown``.
    """
    by_name = {a.name.casefold(): a.internal for a in meeting.attendees}
    by_first_name: dict[str, list[bool]] = {}
    for attendee in meeting.attendees:
        by_first_name.setdefault(attendee.name.split()[0].casefold(), []).append(attendee.internal)
    roles: dict[str, SpeakerRole] = {}
    for line in meeting.transcript:
        key = line.speaker.casefold()
        internal = by_name.get(key)
        if internal is None and len(by_first_name.get(key, [])) == 1:
            internal = by_first_name[key][0]
        roles[line.speaker] = "unknown" if internal is None else ("rep" if internal else "customer")
    return roles
