"""Outgoing webhooks, the pure part: a delivery's signature, which destinations may be called,
and when a failed delivery is tried again.

1. **Signing**, as Stripe and GitHub do: ``v1 = hex(HMAC-SHA256(secret, f"{t}.{body}"))`` with
   ``t`` the Unix time of the attempt, sent as ``OfferEngine-Signature: t=<t>,v1=<hex>`` (one more
   ``v1`` for the previous secret while a rotation's grace lasts). The time is signed with the
   body, so a receiver that refuses old times refuses replays; the delivery id header lets it
   drop the duplicates that at-least-once delivery can bring.
2. **Destinations**: http(s) only, no credentials in the URL, and only public addresses unless
   the deployment allows private networks. The URL as typed is checked when it is saved (its
   literal host); every address its host resolves to is checked again at each delivery (a name
   may point elsewhere by then: DNS rebinding), and the delivery connects to the address checked.
3. **Retries**: after the n-th failed attempt the next waits ``first × 2^(n−1)``, at most
   ``cap``; after the last allowed attempt the delivery is failed (a person may send it again).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

SIGNATURE_HEADER = "OfferEngine-Signature"
DELIVERY_HEADER = "OfferEngine-Delivery"  # the delivery's id: the same on every attempt
EVENT_HEADER = "OfferEngine-Event"
SCHEMES = {"http": 80, "https": 443}
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"  # a delivery's status

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 prefixes that carry an IPv4 address a gateway may forward to: NAT64 (RFC 6052).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``timestamp + "." + body`` under ``secret``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """The ``OfferEngine-Signature`` value: the time, then one ``v1`` per secret given."""
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets)])


def verify(header: str, body: bytes, secret: str, *, now: int, tolerance: int = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` at a time within ``tolerance`` seconds of
    ``now``: what a receiver checks (documented in docs/operations.md, "Webhooks")."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries to a gateway or a dual stack (mapped, 6to4, NAT64)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address: not loopback, private, shared (CGNAT),
    link-local, multicast, reserved or unspecified, nor an IPv6 form of such an IPv4 address.
    (``is_global`` alone lets multicast through, and on older Pythons IPv4-mapped addresses.)"""
    embedded = _embedded_ipv4(address)
    if embedded is not None and not is_public(embedded):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_private
    )


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why a delivery may not connect to ``address`` (None: it may)."""
    if allow_private or is_public(address):
        return None
    return f"{address} is not a public address"


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, if it is one: IPv4 or IPv6, and the legacy IPv4 forms a
    resolver takes as numbers (``127.1``, ``0x7f.0.0.1``, ``2130706433``)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not host or not all(c in "0123456789abcdefx." for c in host.lower()):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class Target:
    """A destination URL taken apart: what to resolve, and what to ask for once connected."""

    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: int
    path: str  # path and query, at least "/"
    host_header: str  # as the URL names the host (and a port that is not the scheme's own)

    def url_at(self, address: IPAddress) -> str:
        """The URL with ``address`` in place of the host: connecting there and nowhere else."""
        where = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{where}:{self.port}{self.path}"


def target(url: str) -> Target | str:
    """``url`` taken apart, or why it is no destination (not http(s), no host, credentials)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "a valid http(s) URL"
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or not parts.hostname:
        return "an http(s) URL with a host"
    if parts.username is not None or parts.password is not None:
        return "a URL without credentials (the signature proves the sender)"
    return Target(
        scheme=scheme,
        host=parts.hostname.lower(),
        port=port or SCHEMES[scheme],
        path=_path_of(parts),
        host_header=parts.netloc.rpartition("@")[2],
    )


def _path_of(parts: SplitResult) -> str:
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def url_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` may not be a webhook destination, from what it says (no name is resolved):
    not http(s), or a literal host that is no public address; None when it may."""
    found = target(url)
    if isinstance(found, str):
        return found
    if allow_private:
        return None
    if found.host == "localhost" or found.host.endswith((".localhost", ".localhost.")):
        return "a public destination (localhost is this machine)"
    address = literal_address(found.host)
    if address is not None and not is_public(address):
        return f"a public destination ({address} is not a public address)"
    return None


def retry_delay(attempt: int, *, first: float, cap: float) -> float:
    """Seconds to wait after the ``attempt``-th failed attempt (1-based): doubling, capped."""
    return float(min(cap, first * 2 ** max(0, attempt - 1)))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to: the receiver's status code, or the error that stopped it."""

    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    address: str | None = None  # the address connected to (or refused)
    refused: bool = False  # the destination was refused: nothing was sent

    @property
    def delivered(self) -> bool:
        """A 2xx answer: the receiver has it (a redirect is not followed: it is a failure)."""
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class Next:
    """What becomes of a delivery after an attempt: its status, and when pending, the wait."""

    status: str
    retry_in: float | None = None


def after(outcome: Outcome, *, attempt: int, limit: int, first: float, cap: float) -> Next:
    """Delivered on a 2xx; failed at once when the destination was refused (trying again would
    only knock again: a person sends it again once the URL is fixed) or after the last allowed
    attempt; otherwise pending, with the backoff's wait."""
    if outcome.delivered:
        return Next(DELIVERED)
    if outcome.refused or attempt >= limit:
        return Next(FAILED)
    return Next(PENDING, retry_delay(attempt, first=first, cap=cap))
