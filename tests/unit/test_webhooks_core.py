"""Outgoing webhooks' pure core: signatures a receiver can check, destinations that may be
called, and the retry schedule."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offerengine.webhooks import core

SECRET = "whsec_test-secret"
BODY = b'{"type":"low_inventory","sellable":3}'


def test_a_receiver_verifies_the_signature_of_the_body_and_time_it_got() -> None:
    header = core.signature_header([SECRET], 1_700_000_000, BODY)
    assert header.startswith("t=1700000000,v1=")
    assert core.verify(header, BODY, SECRET, now=1_700_000_010)


def test_a_changed_body_another_secret_or_an_old_time_fails_verification() -> None:
    header = core.signature_header([SECRET], 1_700_000_000, BODY)
    assert not core.verify(header, BODY.replace(b"3", b"4"), SECRET, now=1_700_000_000)
    assert not core.verify(header, BODY, "whsec_other", now=1_700_000_000)
    assert not core.verify(header, BODY, SECRET, now=1_700_000_000 + 301)  # a replay
    assert not core.verify("v1=abc", BODY, SECRET, now=1_700_000_000)  # no time


def test_the_signature_is_hmac_sha256_of_time_dot_body_in_hex() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert core.signature(SECRET, 1_700_000_000, BODY) == expected


def test_during_a_rotation_either_secret_verifies() -> None:
    header = core.signature_header(["whsec_new", "whsec_old"], 1_700_000_000, BODY)
    assert header.count("v1=") == 2
    assert core.verify(header, BODY, "whsec_new", now=1_700_000_000)
    assert core.verify(header, BODY, "whsec_old", now=1_700_000_000)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space (CGNAT)
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2001:db8::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    found = ipaddress.ip_address(address)
    assert not core.is_public(found)
    assert core.address_refusal(found, allow_private=False) == f"{found} is not a public address"
    assert core.address_refusal(found, allow_private=True) is None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert core.is_public(ipaddress.ip_address(address))


@given(st.ip_addresses(v=4))
def test_an_ipv4_address_refused_is_refused_in_its_ipv6_forms_too(
    address: ipaddress.IPv4Address,
) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(address))
    if not core.is_public(address):
        assert not core.is_public(mapped)
        assert not core.is_public(nat64)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://hooks.example.com/x", "an http(s) URL with a host"),
        ("http:///path", "an http(s) URL with a host"),
        ("http://hooks.example.com:99999/", "a valid http(s) URL"),
        ("https://user:pw@hooks.example.com/", "a URL without credentials"),
        ("http://localhost:8000/hook", "localhost is this machine"),
        ("http://api.localhost/hook", "localhost is this machine"),
        ("http://127.0.0.1:8000/hook", "127.0.0.1 is not a public address"),
        ("http://127.1/hook", "127.0.0.1 is not a public address"),
        ("http://2130706433/hook", "127.0.0.1 is not a public address"),
        ("http://0x7f.0.0.1/hook", "127.0.0.1 is not a public address"),
        ("http://[::1]:8000/hook", "::1 is not a public address"),
        ("http://[::ffff:10.0.0.1]/hook", "is not a public address"),  # printed per Python
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is not a public address"),
    ],
)
def test_urls_that_are_no_public_http_destination_are_refused_as_typed(url: str, why: str) -> None:
    refusal = core.url_refusal(url, allow_private=False)
    assert refusal is not None
    assert why in refusal


def test_public_names_and_addresses_pass_the_check_as_typed() -> None:
    for url in (
        "https://hooks.example.com/in?x=1",
        "http://8.8.8.8:8080/",
        "https://[2606:4700::1]/",
    ):
        assert core.url_refusal(url, allow_private=False) is None


def test_a_deployment_that_allows_private_networks_takes_them_but_still_only_http() -> None:
    assert core.url_refusal("http://127.0.0.1:8000/hook", allow_private=True) is None
    assert core.url_refusal("http://localhost/hook", allow_private=True) is None
    assert core.url_refusal("file:///etc/passwd", allow_private=True) is not None


def test_the_target_connects_to_the_address_and_keeps_the_host_for_the_header() -> None:
    found = core.target("https://Hooks.Example.com:8443/in?x=1")
    assert isinstance(found, core.Target)
    assert (found.host, found.port, found.path) == ("hooks.example.com", 8443, "/in?x=1")
    assert found.host_header == "Hooks.Example.com:8443"
    assert found.url_at(ipaddress.ip_address("203.0.113.7")) == "https://203.0.113.7:8443/in?x=1"
    assert (
        found.url_at(ipaddress.ip_address("2001:4860::1")) == "https://[2001:4860::1]:8443/in?x=1"
    )


def test_retries_wait_twice_as_long_each_time_up_to_the_cap() -> None:
    waits = [core.retry_delay(n, first=30, cap=3600) for n in range(1, 10)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_after_an_attempt_a_delivery_is_delivered_retried_or_failed() -> None:
    ok = core.Outcome(5, status_code=204)
    server_error = core.Outcome(5, status_code=500)
    refused = core.Outcome(1, error="refused: 127.0.0.1 is not a public address", refused=True)
    redirect = core.Outcome(5, status_code=302)
    assert core.after(ok, attempt=1, limit=3, first=1, cap=10) == core.Next(core.DELIVERED)
    assert core.after(server_error, attempt=2, limit=3, first=1, cap=10) == core.Next(
        core.PENDING, 2.0
    )
    assert core.after(redirect, attempt=1, limit=3, first=1, cap=10).status == core.PENDING
    assert core.after(server_error, attempt=3, limit=3, first=1, cap=10) == core.Next(core.FAILED)
    assert core.after(refused, attempt=1, limit=3, first=1, cap=10) == core.Next(core.FAILED)
