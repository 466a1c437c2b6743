"""The admin UI under attack, through HTTP: login throttling that never locks the owner out,
client addresses and HTTPS believed only from trusted proxies, failed logins logged without the
password or the email, security headers on every admin page, Secure cookies behind HTTPS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import structlog
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.auth.sessions import Passwords
from offerengine.settings import Settings
from tests.conftest import make_settings
from tests.e2e.test_admin_sessions import PASSWORD, add_user, log_in, login_token
from tests.helpers import create_tenant
from tests.unit.test_login_throttle import ThreadNotingHasher

PROXY = "10.0.0.2"
ATTACKER = "203.0.113.9"
HOME = "198.51.100.7"


@pytest.fixture
def proxied_settings(sqlite_url: str, tmp_path: Path) -> Settings:
    return make_settings(sqlite_url, tmp_path, trusted_proxies="10.0.0.0/24, ::1")


@pytest.fixture
def proxied(proxied_settings: Settings) -> Iterator[TestClient]:
    """A client that reaches the app through a trusted reverse proxy at 10.0.0.2."""
    app = create_app(proxied_settings)
    with TestClient(app, raise_server_exceptions=False, client=(PROXY, 40000)) as found:
        yield found


def log_in_from(client: TestClient, address: str, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    client.headers["X-Forwarded-For"] = f"{address}, {PROXY}"
    try:
        return log_in(client, email, password)
    finally:
        del client.headers["X-Forwarded-For"]


def test_the_owner_logs_in_after_an_attackers_twenty_bad_attempts_from_another_address(
    proxied: TestClient, proxied_settings: Settings
) -> None:
    create_tenant(proxied)
    add_user(proxied_settings, "owner@example.com", "owner")
    statuses = [
        log_in_from(proxied, ATTACKER, "owner@example.com", "guess number one").status_code
        for _ in range(20)
    ]
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    # The attacker's address is held back even with the right password …
    assert log_in_from(proxied, ATTACKER, "owner@example.com").status_code == 429
    # … but the owner, from her own address, gets in.
    mine = log_in_from(proxied, HOME, "owner@example.com")
    assert mine.status_code == 303, mine.text
    assert "oe_session=" in mine.headers["set-cookie"]


def test_a_throttled_login_is_a_429_with_retry_after(
    client: TestClient, settings: Settings
) -> None:
    create_tenant(client)
    add_user(settings, "ann@example.com", "editor")
    for _ in range(5):
        assert log_in(client, "ann@example.com", "not it at all").status_code == 401
    refused = log_in(client, "ann@example.com")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "Too many failed attempts" in refused.text
    assert 'id="login-error"' in refused.text  # the login page again, with the reason


def test_a_client_cannot_dodge_the_throttle_by_claiming_other_addresses(
    client: TestClient, settings: Settings
) -> None:
    create_tenant(client)
    add_user(settings, "ann@example.com", "editor")
    statuses = []
    for n in range(7):  # no proxy is trusted: X-Forwarded-For is the client's word
        client.headers["X-Forwarded-For"] = f"192.0.2.{n}"
        statuses.append(log_in(client, "ann@example.com", "not it at all").status_code)
    assert statuses == [401] * 5 + [429] * 2


def test_a_failed_login_is_logged_without_the_password_or_the_email(
    proxied: TestClient, proxied_settings: Settings
) -> None:
    create_tenant(proxied)
    add_user(proxied_settings, "ann.smith@example.com", "editor")
    with structlog.testing.capture_logs() as logged:
        log_in_from(proxied, ATTACKER, "ann.smith@example.com", "hunter2 but longer")
    failed = [e for e in logged if e["event"] == "login_failed"]
    assert len(failed) == 1
    assert failed[0]["address"] == ATTACKER
    assert failed[0]["account"]  # a keyed digest, the same for every attempt on the account
    text = repr(logged)
    assert "hunter2" not in text
    assert "ann.smith" not in text


def test_a_bad_login_checks_the_password_off_the_event_loop(
    client: TestClient, settings: Settings
) -> None:
    create_tenant(client)
    add_user(settings, "ann@example.com", "editor")
    hasher = ThreadNotingHasher()
    client.app.state.context.admin.passwords = Passwords(hasher=hasher)  # type: ignore[attr-defined]
    assert log_in(client, "ann@example.com", "not it at all").status_code == 401
    assert log_in(client, "nobody@example.com", "not it at all").status_code == 401
    assert hasher.on_event_loop == [False, False]


CSP_PARTS = ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'")


def csp_of(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    found = {}
    for part in response.headers["content-security-policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        found[name] = value
    return found


def test_admin_pages_carry_the_security_headers(client: TestClient, settings: Settings) -> None:
    create_tenant(client)
    add_user(settings, "ann@example.com", "editor")
    pages = [client.get("/admin/login")]
    log_in(client, "ann@example.com")
    pages += [client.get("/admin/products"), client.get("/admin/static/admin.js")]
    for page in pages:
        assert page.status_code == 200
        for part in CSP_PARTS:
            assert part in page.headers["content-security-policy"]
        assert "unsafe" not in csp_of(page)["script-src"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in page.headers  # plain HTTP
    # Run time and the API get the cheap ones only.
    health = client.get("/healthz")
    assert health.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in health.headers


def test_behind_a_trusted_proxy_saying_https_cookies_are_secure_and_hsts_is_sent(
    proxied: TestClient, proxied_settings: Settings
) -> None:
    create_tenant(proxied)
    add_user(proxied_settings, "ann@example.com", "editor")
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": f"{HOME}, {PROXY}"}
    page = proxied.get("/admin/login", headers=https)
    assert "max-age=" in page.headers["strict-transport-security"]
    login_cookie = page.headers["set-cookie"]
    assert re.search(r"oe_login=.*; Secure", login_cookie, re.IGNORECASE)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    value = re.search(r"oe_login=([^;]+)", login_cookie)
    assert token
    assert value
    done = proxied.post(
        "/admin/login",
        data={"email": "ann@example.com", "password": PASSWORD, "csrf_token": token.group(1)},
        headers={**https, "Cookie": f"oe_login={value.group(1)}"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    session = done.headers["set-cookie"]
    assert "oe_session=" in session
    for flag in ("Secure", "HttpOnly", "SameSite=lax"):
        assert flag.lower() in session.lower()


def test_an_untrusted_peer_saying_https_is_not_believed(
    client: TestClient, settings: Settings
) -> None:
    page = client.get("/admin/login", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in page.headers
    assert "secure" not in page.headers["set-cookie"].lower()
    login_token(client)


@pytest.mark.redis
def test_two_workers_with_redis_count_one_addresss_failures_together(
    sqlite_url: str, tmp_path: Path, redis_url: str
) -> None:
    settings = make_settings(sqlite_url, tmp_path, redis_url=redis_url)
    with (
        TestClient(create_app(settings), raise_server_exceptions=False) as first,
        TestClient(create_app(settings), raise_server_exceptions=False) as second,
    ):
        create_tenant(first)
        add_user(settings, "ann@example.com", "editor")
        for worker in (first, second, first, second, first):
            assert log_in(worker, "ann@example.com", "not it at all").status_code == 401
        assert log_in(second, "ann@example.com").status_code == 429
        assert log_in(first, "ann@example.com").status_code == 429
    cleanup = redis.Redis.from_url(redis_url)
    try:
        keys = list(cleanup.scan_iter(f"{settings.redis_prefix}:*"))
        assert any(b":{login}:" in key for key in keys)
        cleanup.delete(*keys)
    finally:
        cleanup.close()
