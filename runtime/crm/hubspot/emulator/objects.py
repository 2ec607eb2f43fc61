"""Object type names, association type ids and per-type defaults, as HubSpot has them."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.crm.port import OBJECT_TYPES, ObjectType

__all__ = [
    "ASSOCIATION_TYPES",
    "DEFAULT_PROPERTIES",
    "ERROR_NAMES",
    "LAST_MODIFIED_PROPERTY",
    "OBJECT_TYPE_IDS",
    "SINGULAR",
    "TEXT_SEARCH_PROPERTIES",
    "AssociationType",
    "default_association_type",
    "resolve_object_type",
]

OBJECT_TYPE_IDS: dict[ObjectType, str] = {"contacts": "0-1", "companies": "0-2", "deals": "0-3"}
SINGULAR: dict[ObjectType, str] = {"deals": "deal", "contacts": "contact", "companies": "company"}
# How batch errors name the type: "Could not get some DEAL objects, ..." (reference §5).
ERROR_NAMES: dict[ObjectType, str] = {
    "deals": "DEAL",
    "contacts": "CONTACT",
    "companies": "COMPANY",
}
# Contacts name it without the hs_ prefix (reference §2).
LAST_MODIFIED_PROPERTY: dict[ObjectType, str] = {
    "deals": "hs_lastmodifieddate",
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
}
# Returned when a read names no properties (reference §2).
DEFAULT_PROPERTIES: dict[ObjectType, tuple[str, ...]] = {
    "deals": (
        "dealname",
        "amount",
        "closedate",
        "pipeline",
        "dealstage",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    ),
    "contacts": (
        "firstname",
        "lastname",
        "email",
        "lastmodifieddate",
        "hs_object_id",
        "createdate",
    ),
    "companies": ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
}
# What a search ``query`` looks in: HubSpot's default searchable properties per type.
TEXT_SEARCH_PROPERTIES: dict[ObjectType, tuple[str, ...]] = {
    "deals": ("dealname", "pipeline", "dealstage", "description", "dealtype"),
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "companies": ("name", "domain", "phone", "website"),
}

_NAMES: dict[str, ObjectType] = {
    **{name: name for name in OBJECT_TYPES},
    **{singular: plural for plural, singular in SINGULAR.items()},
    **{type_id: name for name, type_id in OBJECT_TYPE_IDS.items()},
}


def resolve_object_type(name: str) -> ObjectType | None:
    """``deals``, ``deal``, ``0-3`` (any case) all name deals, as in HubSpot's paths."""
    return _NAMES.get(name.strip().lower())


@dataclass(frozen=True)
class AssociationType:
    """One HUBSPOT_DEFINED association type; ``inverse`` is the type seen from the other side."""

    type_id: int
    from_type: ObjectType
    to_type: ObjectType
    inverse: int
    label: str | None = None
    # A labelled (primary) association always comes with the unlabelled one.
    implies: int | None = None


# Reference §4. Primary types are labelled "Primary" in v4 answers.
ASSOCIATION_TYPES: dict[int, AssociationType] = {
    t.type_id: t
    for t in (
        AssociationType(279, "contacts", "companies", inverse=280),
        AssociationType(280, "companies", "contacts", inverse=279),
        AssociationType(1, "contacts", "companies", inverse=2, label="Primary", implies=279),
        AssociationType(2, "companies", "contacts", inverse=1, label="Primary", implies=280),
        AssociationType(3, "deals", "contacts", inverse=4),
        AssociationType(4, "contacts", "deals", inverse=3),
        AssociationType(341, "deals", "companies", inverse=342),
        AssociationType(342, "companies", "deals", inverse=341),
        AssociationType(5, "deals", "companies", inverse=6, label="Primary", implies=341),
        AssociationType(6, "companies", "deals", inverse=5, label="Primary", implies=342),
    )
}


def default_association_type(from_type: ObjectType, to_type: ObjectType) -> int | None:
    """The unlabelled type id between two object types (None for a type with itself)."""
    for association in ASSOCIATION_TYPES.values():
        if (association.from_type, association.to_type) == (from_type, to_type) and (
            association.label is None
        ):
            return association.type_id
    return None
