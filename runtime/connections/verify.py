"""Checking a private app token before it is stored: the CLI's `crm connect` and the API's
`connectCrmPrivateToken` ask HubSpot the same question the agents will ask first.

The question is a read of the deal property definitions: it needs the deal schema scope the
agents need, and it changes nothing in the CRM.
"""

from __future__ import annotations

from pydantic import SecretStr

from runtime.crm.errors import CrmAuthError, CrmConnectionError, CrmError
from runtime.crm.hubspot.auth import PrivateAppToken
from runtime.crm.hubspot.client import HubSpotClient
from runtime.crm.hubspot.retry import RetryPolicy
from runtime.errors import IntegrationError, InvalidInputError
from runtime.settings import HubSpotSettings

__all__ = ["CrmCheckError", "verify_private_token"]


class CrmCheckError(IntegrationError):
    """The CRM at ``base_url`` could not say whether the token works: no answer, or a failure."""

    def __init__(self, message: str, base_url: str) -> None:
        self.base_url = base_url
        Exception.__init__(self, message, base_url)


async def verify_private_token(token: SecretStr, base_url: str, hubspot: HubSpotSettings) -> None:
    """Read the deal property definitions at ``base_url`` with ``token``, as the agents will.

    Raises:
        InvalidInputError: field ``token``: the CRM refused it (invalid, expired, or missing
            the scopes the agents need); the message says why, never the token.
        CrmCheckError: nothing answered at ``base_url``, or the CRM failed (5xx, rate limit).
    """
    # One retry at most: a person is waiting, and asking again is cheap.
    retry = RetryPolicy(
        max_retries=min(1, hubspot.max_retries),
        base_delay_s=hubspot.retry_base_delay_s,
        max_delay_s=hubspot.retry_max_delay_s,
    )
    client = HubSpotClient(
        PrivateAppToken(token), base_url=base_url, timeout_s=hubspot.timeout_s, retry=retry
    )
    async with client:
        try:
            await client.property_definitions("deals")
        except CrmAuthError as exc:
            raise InvalidInputError.one("token", f"{base_url} refused it: {exc}") from exc
        except CrmConnectionError as exc:
            raise CrmCheckError(f"cannot reach {base_url}: {exc}", base_url) from exc
        except CrmError as exc:
            raise CrmCheckError(f"{base_url} could not check the token: {exc}", base_url) from exc
