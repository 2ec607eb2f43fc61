"""A person's choice of fields to approve, and their edits checked against the CRM.

A partial approval names the fields to approve; each may carry an edited value. The shape
is checked first (``checked_approvals``: at least one field, each named once, no blank or
oversized value). An edited value is then checked against the CRM's definition of the
property (``canonical_edits``): it must be one of the property's values (a number for a
number, a day for a date, an option for an enumeration, a stage of the deal's own pipeline
for ``dealstage``), and the property must be writable. What is approved is the value in the
CRM's own form (``"60,000.00"`` is approved as ``"60000"``; a stage's label as its id), so
the writer sends what was checked, and the proposal keeps the agent's value apart from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runtime.agents.values import canonical, is_blank
from runtime.crm.hubspot.standard import deal_pipeline
from runtime.crm.port import CrmPort, Pipeline
from runtime.errors import FieldProblem, InvalidInputError
from runtime.inbox.models import Proposal

__all__ = [
    "MAX_VALUE_CHARS",
    "FieldApproval",
    "canonical_edits",
    "checked_approvals",
    "unknown_fields",
]

MAX_VALUE_CHARS = 65_536
"""HubSpot's limit on a property value's length."""


@dataclass(frozen=True, slots=True)
class FieldApproval:
    """One field to approve: as proposed (``value`` None) or with a person's value."""

    field: str
    value: str | None = None


def checked_approvals(approvals: Sequence[FieldApproval]) -> tuple[FieldApproval, ...]:
    """The approvals as given, when their shape is sound.

    Raises:
        InvalidInputError: no field named (``fields``), a field named twice or blank
            (``fields.<i>.field``), a blank or too long value (``fields.<i>.value``).
    """
    if not approvals:
        raise InvalidInputError.one(
            "fields", "name at least one field to approve; to approve none, reject the item"
        )
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for index, approval in enumerate(approvals):
        if not approval.field.strip():
            problems.append((f"fields.{index}.field", "must name a field"))
        elif approval.field in seen:
            problems.append((f"fields.{index}.field", f"{approval.field!r} is named twice"))
        seen.add(approval.field)
        if approval.value is not None:
            if is_blank(approval.value):
                problems.append(
                    (
                        f"fields.{index}.value",
                        "must not be blank: leave `value` out to approve the proposed value",
                    )
                )
            elif len(approval.value) > MAX_VALUE_CHARS:
                problems.append(
                    (
                        f"fields.{index}.value",
                        f"must be at most {MAX_VALUE_CHARS} characters, not {len(approval.value)}",
                    )
                )
    if problems:
        raise InvalidInputError(problems)
    return tuple(approvals)


def unknown_fields(
    approvals: Sequence[FieldApproval], proposals: Sequence[Proposal]
) -> list[FieldProblem]:
    """The approvals naming a field the item does not propose, each with the item's fields."""
    fields = sorted({p.field for p in proposals})
    listed = ", ".join(fields) or "none"
    return [
        (
            f"fields.{index}.field",
            f"the item proposes no {approval.field!r} (its fields: {listed})",
        )
        for index, approval in enumerate(approvals)
        if approval.field not in fields
    ]


async def canonical_edits(
    approvals: Sequence[FieldApproval], proposals: Sequence[Proposal], crm: CrmPort
) -> dict[str, str]:
    """Each edited field's value in the CRM's form, checked against its definition.

    Reads the deal property definitions (and, for ``dealstage``, the pipelines and the
    deal's pipeline) only when a value was edited.

    Raises:
        InvalidInputError: a field the item does not propose, a property the CRM does not
            have or will not let anyone write (``fields.<i>.field``), or a value that is not
            one of the property's values (``fields.<i>.value``, saying why).
        runtime.crm.errors.CrmError: the CRM could not be read.
    """
    problems = unknown_fields(approvals, proposals)
    if problems:
        raise InvalidInputError(problems)
    edited = [(i, a) for i, a in enumerate(approvals) if a.value is not None]
    if not edited:
        return {}
    definitions = {d.name: d for d in await crm.property_definitions("deals")}
    proposal_of = {p.field: p for p in proposals}
    values: dict[str, str] = {}
    for index, approval in edited:
        assert approval.value is not None
        definition = definitions.get(approval.field)
        if definition is None:
            problems.append(
                (f"fields.{index}.field", f"the CRM has no deal property {approval.field!r}")
            )
            continue
        if definition.read_only:
            problems.append(
                (
                    f"fields.{index}.field",
                    f"{approval.field!r} is read-only in the CRM: its value cannot be edited",
                )
            )
            continue
        pipeline = None
        if definition.name == "dealstage":
            pipeline = await _deal_pipeline(crm, proposal_of[approval.field])
        try:
            values[approval.field] = canonical(approval.value, definition, pipeline=pipeline)
        except ValueError as exc:
            problems.append((f"fields.{index}.value", str(exc)))
    if problems:
        raise InvalidInputError(problems)
    return values


async def _deal_pipeline(crm: CrmPort, proposal: Proposal) -> Pipeline | None:
    """The pipeline whose stages the proposal's deal may take (a deal it creates: the
    default one)."""
    record = None
    if proposal.crm_record_id is not None:
        record = await crm.get("deals", proposal.crm_record_id, properties=("pipeline",))
    return deal_pipeline(record, await crm.pipelines("deals"))
