"""The HubSpot adapter: an async client implementing the CRM port, its auth and retry policy.

client.py       HubSpotClient: the port's operations (objects, search, batches, ...)
session.py      one API call: bearer token, typed errors, retries, rate-limit headers
auth.py         TokenSource; private app tokens; OAuth app, grants and refresh
retry.py        RetryPolicy, NO_RETRIES and the pure wait decision
failures.py     HubSpot error answers and transport errors → runtime.crm.errors
rate_limits.py  the X-HubSpot-RateLimit-* headers as a model
wire.py         HubSpot JSON ↔ port models
http_owner.py   the httpx client an API object owns (or borrows), closed with it
"""

from __future__ import annotations

from runtime.crm.hubspot.auth import (
    OAuthApp,
    OAuthTokens,
    OAuthTokenSource,
    PrivateAppToken,
    TokensCallback,
    TokenSource,
)
from runtime.crm.hubspot.client import BATCH_LIMIT, HubSpotClient
from runtime.crm.hubspot.rate_limits import RateLimitHeaders
from runtime.crm.hubspot.retry import NO_RETRIES, Failure, RetryPolicy, retry_delay_s
from runtime.crm.hubspot.session import RateLimitCallback

__all__ = [
    "BATCH_LIMIT",
    "NO_RETRIES",
    "Failure",
    "HubSpotClient",
    "OAuthApp",
    "OAuthTokenSource",
    "OAuthTokens",
    "PrivateAppToken",
    "RateLimitCallback",
    "RateLimitHeaders",
    "RetryPolicy",
    "TokenSource",
    "TokensCallback",
    "retry_delay_s",
]
