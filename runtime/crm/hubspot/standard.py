"""HubSpot's standard property definitions and default deal pipeline, as port models.

A portal's real definitions carry hundreds of properties; these are the ones agents read and
write, with HubSpot's internal names, types and option values (reference §5). A snapshot may
bring its own definitions (``crm.json`` key ``properties``); ``merge_definitions`` lays them
over these. ``pipeline`` and ``dealstage`` take their options from the pipelines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from runtime.crm.port import (
    CrmRecord,
    ObjectType,
    Pipeline,
    PipelineStage,
    PropertyDefinition,
    PropertyOption,
    PropertyType,
)

__all__ = [
    "DEFAULT_PIPELINE",
    "DEFAULT_PIPELINE_ID",
    "deal_pipeline",
    "default_pipeline_id",
    "merge_definitions",
    "standard_definitions",
    "with_pipeline_options",
]

DEFAULT_PIPELINE_ID = "default"


def _stage(stage_id: str, label: str, order: int, probability: float) -> PipelineStage:
    # HubSpot forces closed won to 100% and closed lost to 0%; only those two are closed.
    closed = stage_id in ("closedwon", "closedlost")
    return PipelineStage(
        id=stage_id, label=label, display_order=order, probability=probability, is_closed=closed
    )


DEFAULT_PIPELINE = Pipeline(
    id=DEFAULT_PIPELINE_ID,
    label="Sales Pipeline",
    display_order=0,
    stages=(
        _stage("appointmentscheduled", "Appointment Scheduled", 0, 0.2),
        _stage("qualifiedtobuy", "Qualified To Buy", 1, 0.4),
        _stage("presentationscheduled", "Presentation Scheduled", 2, 0.6),
        _stage("decisionmakerboughtin", "Decision Maker Bought-In", 3, 0.8),
        _stage("contractsent", "Contract Sent", 4, 0.9),
        _stage("closedwon", "Closed Won", 5, 1.0),
        _stage("closedlost", "Closed Lost", 6, 0.0),
    ),
)


def _options(*pairs: tuple[str, str]) -> tuple[PropertyOption, ...]:
    return tuple(
        PropertyOption(value=value, label=label, display_order=order)
        for order, (value, label) in enumerate(pairs)
    )


def _prop(
    name: str,
    label: str,
    kind: PropertyType = "string",
    field_type: str = "text",
    *,
    options: tuple[PropertyOption, ...] = (),
    unique: bool = False,
    read_only: bool = False,
) -> PropertyDefinition:
    return PropertyDefinition(
        name=name,
        label=label,
        type=kind,
        field_type=field_type,
        options=options,
        has_unique_value=unique,
        read_only=read_only,
    )


_LIFECYCLE_STAGES = _options(
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
)

# Owners are options that HubSpot fills from the portal's users; their values are numeric
# owner ids. With no owners known the list is empty and any numeric id is accepted.
_OWNER = _prop("hubspot_owner_id", "Owner", "enumeration", "select")


def _record_id() -> PropertyDefinition:
    return _prop("hs_object_id", "Record ID", "number", "number", read_only=True)


def _timestamp(name: str, label: str) -> PropertyDefinition:
    return _prop(name, label, "datetime", "date", read_only=True)


_DEALS = (
    _prop("dealname", "Deal Name"),
    _prop("amount", "Amount", "number", "number"),
    _prop("closedate", "Close Date", "datetime", "date"),
    _prop("pipeline", "Pipeline", "enumeration", "select"),
    _prop("dealstage", "Deal Stage", "enumeration", "radio"),
    _prop("hs_next_step", "Next Step", "string", "textarea"),
    _prop("description", "Deal Description", "string", "textarea"),
    _prop(
        "dealtype",
        "Deal Type",
        "enumeration",
        "radio",
        options=_options(
            ("newbusiness", "New Business"), ("existingbusiness", "Existing Business")
        ),
    ),
    _prop(
        "hs_priority",
        "Priority",
        "enumeration",
        "select",
        options=_options(("low", "Low"), ("medium", "Medium"), ("high", "High")),
    ),
    _OWNER.model_copy(update={"label": "Deal owner"}),
    _timestamp("createdate", "Create Date"),
    _timestamp("hs_lastmodifieddate", "Last Modified Date"),
    _record_id(),
)

_CONTACTS = (
    _prop("firstname", "First Name"),
    _prop("lastname", "Last Name"),
    _prop("email", "Email", unique=True),
    _prop("phone", "Phone Number", "string", "phonenumber"),
    _prop("jobtitle", "Job Title"),
    _prop("company", "Company Name"),
    _prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=_LIFECYCLE_STAGES),
    _prop(
        "hs_lead_status",
        "Lead Status",
        "enumeration",
        "radio",
        options=_options(
            ("NEW", "New"),
            ("OPEN", "Open"),
            ("IN_PROGRESS", "In Progress"),
            ("OPEN_DEAL", "Open Deal"),
            ("UNQUALIFIED", "Unqualified"),
            ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
            ("CONNECTED", "Connected"),
            ("BAD_TIMING", "Bad Timing"),
        ),
    ),
    _prop("city", "City"),
    _prop("country", "Country/Region"),
    _OWNER.model_copy(update={"label": "Contact owner"}),
    _timestamp("createdate", "Create Date"),
    # Contacts name their modification time without the hs_ prefix (reference §2).
    _timestamp("lastmodifieddate", "Last Modified Date"),
    _record_id(),
)

_COMPANIES = (
    _prop("name", "Company name"),
    _prop("domain", "Company Domain Name"),
    _prop(
        "industry",
        "Industry",
        "enumeration",
        "select",
        options=_options(
            ("ACCOUNTING", "Accounting"),
            ("COMPUTER_SOFTWARE", "Computer Software"),
            ("FINANCIAL_SERVICES", "Financial Services"),
            ("HOSPITAL_HEALTH_CARE", "Hospital & Health Care"),
            ("INFORMATION_TECHNOLOGY_AND_SERVICES", "Information Technology and Services"),
            ("MANUFACTURING", "Manufacturing"),
            ("MARKETING_AND_ADVERTISING", "Marketing and Advertising"),
            ("RETAIL", "Retail"),
        ),
    ),
    _prop("phone", "Phone Number", "string", "phonenumber"),
    _prop("city", "City"),
    _prop("country", "Country/Region"),
    _prop("numberofemployees", "Number of Employees", "number", "number"),
    _prop("annualrevenue", "Annual Revenue", "number", "number"),
    _prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=_LIFECYCLE_STAGES),
    _prop("description", "Description", "string", "textarea"),
    _OWNER.model_copy(update={"label": "Company owner"}),
    _timestamp("createdate", "Create Date"),
    _timestamp("hs_lastmodifieddate", "Last Modified Date"),
    _record_id(),
)

_STANDARD: dict[ObjectType, tuple[PropertyDefinition, ...]] = {
    "deals": _DEALS,
    "contacts": _CONTACTS,
    "companies": _COMPANIES,
}


def default_pipeline_id(pipelines: Sequence[Pipeline]) -> str | None:
    """The pipeline a deal created without one lands in (reference §2: ``default``)."""
    if any(pipeline.id == DEFAULT_PIPELINE_ID for pipeline in pipelines):
        return DEFAULT_PIPELINE_ID
    return min(pipelines, key=lambda p: p.display_order).id if pipelines else None


def deal_pipeline(deal: CrmRecord | None, pipelines: Sequence[Pipeline]) -> Pipeline | None:
    """The pipeline whose stages ``deal`` may take: its own (its ``pipeline`` property), or
    the default one for a deal without one or not created yet (``deal`` None)."""
    wanted = deal.properties.get("pipeline") if deal is not None else None
    wanted = wanted or default_pipeline_id(pipelines)
    return next((p for p in pipelines if p.id == wanted), None)


def standard_definitions(object_type: ObjectType) -> tuple[PropertyDefinition, ...]:
    """HubSpot's standard definitions of one object type (options of pipeline fields empty)."""
    return _STANDARD[object_type]


def merge_definitions(
    standard: Iterable[PropertyDefinition], overrides: Iterable[PropertyDefinition]
) -> tuple[PropertyDefinition, ...]:
    """``overrides`` replace standard definitions of the same name; new names are added."""
    merged = {definition.name: definition for definition in standard}
    for definition in overrides:
        merged[definition.name] = definition
    return tuple(merged.values())


def with_pipeline_options(
    definitions: Iterable[PropertyDefinition], pipelines: Sequence[Pipeline]
) -> tuple[PropertyDefinition, ...]:
    """Fill the options of deals' ``pipeline`` and ``dealstage`` from the pipelines.

    HubSpot lists every stage of every pipeline as a ``dealstage`` option; which of them a
    deal may take depends on its pipeline, which validation checks separately.
    """
    pipeline_options = tuple(
        PropertyOption(label=p.label, value=p.id, display_order=p.display_order) for p in pipelines
    )
    stage_options = tuple(
        PropertyOption(label=s.label, value=s.id, display_order=s.display_order)
        for p in pipelines
        for s in p.stages
    )
    filled = []
    for definition in definitions:
        if definition.name == "pipeline" and not definition.options:
            definition = definition.model_copy(update={"options": pipeline_options})
        elif definition.name == "dealstage" and not definition.options:
            definition = definition.model_copy(update={"options": stage_options})
        filled.append(definition)
    return tuple(filled)
