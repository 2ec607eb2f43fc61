"""Small CRM snapshots and meetings built in tests, in the shapes of spec §1 and §2."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.crm.snapshot import CrmSnapshot, parse_snapshot
from runtime.meetings.models import MeetingIn

OWNER = "sam@ourco.example"


def company(company_id: str, name: str, domain: str | None = None) -> dict[str, Any]:
    properties = {"name": name} | ({"domain": domain} if domain else {})
    return {"id": company_id, "properties": properties}


def contact(
    contact_id: str, email: str, name: str, *, companies: Sequence[str] = ()
) -> dict[str, Any]:
    first, _, last = name.partition(" ")
    row: dict[str, Any] = {
        "id": contact_id,
        "properties": {"firstname": first, "lastname": last, "email": email},
    }
    if companies:
        row["associations"] = {"companies": list(companies)}
    return row


def deal(
    deal_id: str,
    name: str,
    stage: str = "qualifiedtobuy",
    *,
    companies: Sequence[str] = (),
    contacts: Sequence[str] = (),
    **properties: str,
) -> dict[str, Any]:
    associations = {"companies": list(companies), "contacts": list(contacts)}
    return {
        "id": deal_id,
        "properties": {"dealname": name, "pipeline": "default", "dealstage": stage, **properties},
        "associations": {k: v for k, v in associations.items() if v},
    }


def snapshot(
    *,
    companies: Sequence[dict[str, Any]] = (),
    contacts: Sequence[dict[str, Any]] = (),
    deals: Sequence[dict[str, Any]] = (),
    **extra: Any,
) -> CrmSnapshot:
    """A validated snapshot; without ``pipelines`` HubSpot's default pipeline applies."""
    raw = {"companies": list(companies), "contacts": list(contacts), "deals": list(deals), **extra}
    return parse_snapshot(raw)


def meeting(
    *,
    title: str = "Call",
    call_type: str | None = None,
    external: Sequence[tuple[str, str | None]] = (),
    internal: Sequence[tuple[str, str]] = (("Sam Lee", OWNER),),
    said: Sequence[str] = (),
    notes: str | None = None,
    owner_email: str | None = OWNER,
) -> MeetingIn:
    """A meeting with (name, email) attendees; ``said`` lines alternate rep and customer."""
    attendees = [{"name": n, "email": e, "internal": True} for n, e in internal] + [
        {"name": n, "email": e, "internal": False} for n, e in external
    ]
    speakers = [internal[0][0] if internal else "Rep", external[0][0] if external else "Them"]
    transcript = [
        {"speaker": speakers[i % 2], "start_s": float(10 * i), "text": text}
        for i, text in enumerate(said)
    ]
    return MeetingIn.model_validate(
        {
            "external_id": "test-meeting",
            "title": title,
            "call_type": call_type,
            "started_at": "2026-03-02T15:00:00Z",
            "owner_email": owner_email,
            "attendees": attendees,
            "transcript": transcript,
            "notes": notes,
        }
    )
