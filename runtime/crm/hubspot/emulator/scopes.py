"""Which OAuth scope an API call needs, so a token without it gets 403 MISSING_SCOPES.

Private app tokens are configured with their scopes inside HubSpot; the emulator treats
them as holding every scope. OAuth tokens hold the scopes granted at authorization.
"""

from __future__ import annotations

from runtime.crm.hubspot.emulator.objects import resolve_object_type
from runtime.crm.hubspot.emulator.responses import error_body

__all__ = ["missing_scopes_body", "required_scope"]


def required_scope(path: str, *, write: bool) -> str | None:
    """The granular scope HubSpot checks for ``path``; None for paths it does not guard."""
    parts = path.strip("/").split("/")
    if len(parts) < 4 or parts[0] != "crm" or parts[1] not in ("v3", "v4"):
        return None
    kind, object_type = parts[2], resolve_object_type(parts[3])
    if object_type is None:
        return None
    if kind == "properties":
        return f"crm.schemas.{object_type}.read"
    if kind in ("objects", "associations", "pipelines"):
        return f"crm.objects.{object_type}.{'write' if write else 'read'}"
    return None


def missing_scopes_body(scope: str) -> dict[str, object]:
    """403 body (reference §5): the required scopes in ``errors[0].context``."""
    return error_body(
        "This app hasn't been granted all required scopes to make this call."
        " Read more about required scopes here: https://developers.hubspot.com/scopes.",
        "MISSING_SCOPES",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": [scope]},
            }
        ],
    )
