"""Who sent a request, and whether it came over HTTPS, believing a reverse proxy's
X-Forwarded-For and X-Forwarded-Proto only when the proxy is one the deployment trusts
(``OFFERENGINE_TRUSTED_PROXIES``).

``offerengine serve`` runs uvicorn with its proxy headers off, so the ASGI scope holds the peer
that connected and the scheme of that connection. Behind a proxy, that is the proxy. Anyone can
send the headers, so they count only when the peer is trusted, and X-Forwarded-For is read from
the right: each proxy appends the address it saw, so the first address that is not a trusted
proxy is the client, and whatever stands to its left is what the client claimed. Plain data in,
plain answers out: no web framework, so the app context can hold one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


def _header(scope: Mapping[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class TrustedProxies:
    """The reverse proxies a deployment trusts, and what their headers say about a request."""

    def __init__(self, networks: Iterable[str]) -> None:
        self._networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(n.strip(), strict=False) for n in networks if n.strip()
        )

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        """From the setting: comma-separated addresses or networks."""
        return cls(text.split(","))

    def trusts(self, address: str | None) -> bool:
        if not self._networks or not address:
            return False
        try:
            found = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(found in network for network in self._networks)

    def client(self, scope: Mapping[str, Any]) -> str:
        """The address of the client behind any trusted proxies."""
        peer = scope.get("client")
        address = str(peer[0]) if peer else UNKNOWN
        if not self.trusts(address):
            return address
        forwarded = _header(scope, b"x-forwarded-for")
        for hop in reversed((forwarded or "").split(",")):
            hop = hop.strip()[:64]
            if not hop:
                continue
            address = hop
            if not self.trusts(hop):
                break
        return address

    def is_https(self, scope: Mapping[str, Any]) -> bool:
        """Whether the client's own connection was HTTPS: this one, or the one a trusted proxy
        says it received (the nearest proxy's word: the last value of X-Forwarded-Proto)."""
        if scope.get("scheme") in ("https", "wss"):
            return True
        peer = scope.get("client")
        if not self.trusts(str(peer[0]) if peer else None):
            return False
        proto = _header(scope, b"x-forwarded-proto")
        return proto is not None and proto.rsplit(",", 1)[-1].strip().lower() == "https"
