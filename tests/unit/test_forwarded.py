"""Forwarded headers are believed from trusted proxies only, and read from the right."""

from __future__ import annotations

from typing import Any

from offerengine.forwarded import TrustedProxies

PROXIES = TrustedProxies.parse("10.0.0.0/8, ::1")


def scope(peer: str, scheme: str = "http", **headers: str) -> dict[str, Any]:
    return {
        "client": (peer, 5000),
        "scheme": scheme,
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }


def test_the_client_is_the_first_untrusted_address_from_the_right() -> None:
    forwarded = scope("10.0.0.2", x_forwarded_for="1.2.3.4, 198.51.100.7, 10.0.0.9")
    assert PROXIES.client(forwarded) == "198.51.100.7"  # 1.2.3.4 is what the client claimed
    assert PROXIES.client(scope("10.0.0.2")) == "10.0.0.2"  # a proxy that says nothing
    assert PROXIES.client(scope("::1", x_forwarded_for="2001:db8::5")) == "2001:db8::5"


def test_an_untrusted_peers_headers_are_ignored() -> None:
    claimed = scope("203.0.113.9", x_forwarded_for="10.0.0.5", x_forwarded_proto="https")
    assert PROXIES.client(claimed) == "203.0.113.9"
    assert not PROXIES.is_https(claimed)
    assert TrustedProxies.parse("").client(scope("10.0.0.2", x_forwarded_for="1.2.3.4")) == (
        "10.0.0.2"
    )


def test_https_is_the_connections_or_the_nearest_trusted_proxys_word() -> None:
    assert PROXIES.is_https(scope("203.0.113.9", scheme="https"))
    assert PROXIES.is_https(scope("10.0.0.2", x_forwarded_proto="https"))
    assert not PROXIES.is_https(scope("10.0.0.2", x_forwarded_proto="https, http"))
    assert not PROXIES.is_https(scope("10.0.0.2"))
