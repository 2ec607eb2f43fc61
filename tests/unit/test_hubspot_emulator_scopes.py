"""Which scope each emulated path needs (reference §5: 403 MISSING_SCOPES)."""

from __future__ import annotations

import pytest

from runtime.crm.hubspot.emulator.scopes import missing_scopes_body, required_scope


@pytest.mark.parametrize(
    ("path", "write", "scope"),
    [
        ("/crm/v3/objects/deals/301", False, "crm.objects.deals.read"),
        ("/crm/v3/objects/deals/batch/update", True, "crm.objects.deals.write"),
        ("/crm/v3/objects/0-1/search", False, "crm.objects.contacts.read"),
        ("/crm/v4/objects/company/101/associations/deals", False, "crm.objects.companies.read"),
        ("/crm/v3/properties/deals", False, "crm.schemas.deals.read"),
        ("/crm/v3/pipelines/deals", False, "crm.objects.deals.read"),
        ("/oauth/v1/token", True, None),
        ("/crm/v3/objects/tickets/1", False, None),
    ],
)
def test_required_scope(path: str, write: bool, scope: str | None) -> None:
    assert required_scope(path, write=write) == scope


def test_the_403_body_names_the_scope() -> None:
    body = missing_scopes_body("crm.objects.deals.write")
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"] == [
        {
            "message": "One or more of the following scopes are required.",
            "context": {"requiredGranularScopes": ["crm.objects.deals.write"]},
        }
    ]
