"""Where a webhook may send the owner's data: HTTPS to a public host.

The checks here read the URL only (pure, no DNS). A name can still resolve to a private
address, now or later (DNS rebinding), so a delivery resolves the host and checks the
address it connects to with ``private_host_reason`` again.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

__all__ = ["check_webhook_url", "private_host_reason"]

# Host names that resolve inside the network they are used in, whatever DNS says.
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet")
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*$")


def check_webhook_url(value: str, *, allow_private: bool) -> str:
    """The URL if it is HTTPS to a public host; a delivery re-checks the resolved address."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"is not a URL: {exc}") from None
    if parts.scheme.lower() != "https":
        raise ValueError("must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials; use the secret to sign requests")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError("has no host")
    if port == 0:
        raise ValueError("has port 0")
    if not allow_private:
        reason = private_host_reason(host)
        if reason is not None:
            raise ValueError(f"host {host!r} {reason}; webhooks go to public hosts only")
    return parts.geturl()


def private_host_reason(host: str) -> str | None:
    """Why ``host`` (lower-case, no brackets) is not a public destination, or None."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return None if address.is_global else "is a private, loopback or reserved address"
    if _NUMERIC_HOST.match(host):
        # "127.1", "0x7f000001", "2130706433": resolvers read these as addresses.
        return "is not a canonical IP address"
    if host == "localhost" or host.endswith(_PRIVATE_SUFFIXES):
        return "is a local name"
    if "." not in host:
        return "is not a fully qualified domain name"
    return None
