"""Admin UI sessions without a browser: logging in and out, CSRF, throttling, roles, tenant
switching, and the JSON API taking the session cookie like a key."""

from __future__ import annotations

import asyncio
import re
import uuid

from fastapi.testclient import TestClient

from offerengine.auth import users
from offerengine.auth.core import Actor, ActorKind, Role
from offerengine.settings import Settings
from offerengine.tenants import service as tenants
from offerengine.units import run_in_transaction
from tests.helpers import SEAT, create_tenant, error_locs, problem

PASSWORD = "a long enough password"
SYSTEM = Actor(ActorKind.SYSTEM, None, "test")


def add_user(settings: Settings, email: str, role: str, tenant: str | None = "AA") -> None:
    async def work(session) -> None:  # type: ignore[no-untyped-def]
        found = await tenants.find(session, tenant) if tenant else None
        await users.create_user(
            session,
            tenant_id=found.id if found else None,
            email=email,
            role=Role(role),
            password=PASSWORD,
            actor=SYSTEM,
        )

    asyncio.run(run_in_transaction(settings, work))


def login_token(client: TestClient) -> str:
    page = client.get("/admin/login")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def log_in(client: TestClient, email: str, password: str = PASSWORD, next: str = "/admin"):  # type: ignore[no-untyped-def]
    token = login_token(client)
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next},
        follow_redirects=False,
    )


def session_csrf(client: TestClient, page: str = "/admin/products") -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get(page).text)
    assert found
    return found.group(1)


def test_a_page_sends_the_visitor_to_log_in_and_back(
    client: TestClient, settings: Settings
) -> None:
    create_tenant(client)
    add_user(settings, "Ann@Example.com", "editor")
    first = client.get("/admin/products?q=x", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/admin/login?next=/admin/products%3Fq%3Dx"
    done = log_in(client, "ann@example.com", next="/admin/products?q=x")  # emails ignore case
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/products?q=x"
    cookie = done.headers["set-cookie"]
    assert "oe_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    page = client.get("/admin/products")
    assert page.status_code == 200
    assert "ann@example.com" in page.text


def test_next_never_leaves_the_admin_ui(client: TestClient, settings: Settings) -> None:
    create_tenant(client)
    add_user(settings, "ann@example.com", "editor")
    done = log_in(client, "ann@example.com", next="https://evil.example/admin")
    assert done.headers["location"] == "/admin"


def test_wrong_password_a_clear_message_then_throttled(
    client: TestClient, settings: Settings
) -> None:
    create_tenant(client)
    add_user(settings, "ann@example.com", "editor")
    wrong = log_in(client, "ann@example.com", "not it at all")
    assert wrong.status_code == 401
    assert "Wrong email or password." in wrong.text
    unknown = log_in(client, "nobody@example.com", "whatever it is")
    assert unknown.status_code == 401
    assert "Wrong email or password." in unknown.text  # the same words: no way to probe emails
    for _ in range(4):
        assert log_in(client, "ann@example.com", "still not it").status_code == 401
    blocked = log_in(client, "ann@example.com")  # even the right password waits now
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.text


def test_the_login_form_needs_its_csrf_token(client: TestClient, settings: Settings) -> None:
    create_tenant(client)
    add_user(settings, "ann@example.com", "editor")
    login_token(client)
    forged = client.post(
        "/admin/login",
        data={"email": "ann@example.com", "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "oe_session" not in forged.headers.get("set-cookie", "")


def test_the_api_takes_the_session_with_its_csrf_token(
    client: TestClient, settings: Settings
) -> None:
    create_tenant(client)
    add_user(settings, "ann@example.com", "editor")
    log_in(client, "ann@example.com")
    assert client.get("/v1/admin/tenants/AA/products").status_code == 200
    no_token = client.post("/v1/admin/tenants/AA/products", json=SEAT)
    body = problem(no_token, 403)
    assert ["header", "X-CSRF-Token"] in error_locs(body)
    assert client.get("/v1/admin/tenants/AA/products").json()["items"] == []  # nothing changed
    token = session_csrf(client)
    made = client.post("/v1/admin/tenants/AA/products", json=SEAT, headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.text
    history = client.get(f"/v1/admin/products/{made.json()['id']}/versions").json()
    assert history["items"][0]["actor"]["kind"] == "user"
    assert history["items"][0]["actor"]["name"] == "ann@example.com"
    # Another tenant's data stays out of reach.
    assert client.get("/v1/admin/tenants/BB/products").status_code in (403, 404)


def test_a_viewer_reads_but_does_not_write(client: TestClient, settings: Settings) -> None:
    create_tenant(client)
    add_user(settings, "vic@example.com", "viewer")
    log_in(client, "vic@example.com")
    page = client.get("/admin/products")
    assert page.status_code == 200
    assert "New product" not in page.text
    token = session_csrf(client)
    refused = client.post(
        "/v1/admin/tenants/AA/products", json=SEAT, headers={"X-CSRF-Token": token}
    )
    problem(refused, 403)
    # Run time takes an owner: the shop playground says so instead of failing later.
    assert "may not run searches" in client.get("/admin/shop").text


def test_logging_out_ends_the_session_even_for_a_copied_cookie(
    client: TestClient, settings: Settings
) -> None:
    create_tenant(client)
    add_user(settings, "ann@example.com", "owner")
    log_in(client, "ann@example.com")
    copied = client.cookies.get("oe_session")
    token = session_csrf(client)
    out = client.post("/admin/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.clear()
    client.cookies.set("oe_session", str(copied))
    problem(client.get("/v1/admin/tenants/AA/products"), 401)
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_a_tampered_cookie_is_no_session(client: TestClient, settings: Settings) -> None:
    create_tenant(client)
    add_user(settings, "ann@example.com", "owner")
    log_in(client, "ann@example.com")
    value = str(client.cookies.get("oe_session"))
    client.cookies.clear()
    client.cookies.set("oe_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/admin", follow_redirects=False).status_code == 303
    problem(client.get("/v1/admin/tenants/AA/products"), 401)


def test_a_platform_user_switches_tenants(client: TestClient, settings: Settings) -> None:
    create_tenant(client, "AA")
    create_tenant(client, "BB")
    add_user(settings, "root@example.com", "platform", tenant=None)
    log_in(client, "root@example.com")
    first = client.get("/admin", follow_redirects=False)
    assert first.headers["location"] == "/admin/tenants"
    page = client.get("/admin/tenants")
    assert "Work on BB" in page.text
    token = session_csrf(client, "/admin/tenants")
    bad = client.post("/admin/tenant", data={"tenant": "BB", "csrf_token": "nope"})
    assert bad.status_code == 422
    moved = client.post(
        "/admin/tenant",
        data={"tenant": "BB", "csrf_token": token, "next": "/admin/products"},
        follow_redirects=False,
    )
    assert moved.headers["location"] == "/admin/products"
    assert "BB · Tenant BB" in client.get("/admin/products").text
    # As the owner of BB she writes BB's catalog through the API.
    made = client.post("/v1/admin/tenants/BB/products", json=SEAT, headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.text


def test_a_suspended_tenant_ends_its_users_sessions(client: TestClient, settings: Settings) -> None:
    tenant = create_tenant(client)
    add_user(settings, "ann@example.com", "owner")
    log_in(client, "ann@example.com")
    assert client.get("/admin/products").status_code == 200
    suspended = client.put(
        f"/v1/admin/tenants/{tenant['id']}",
        json={
            "name": tenant["name"],
            "kind": tenant["kind"],
            "base_currency": tenant["base_currency"],
            "status": "suspended",
        },
        headers={"Authorization": "Bearer oek_test-platform-key-0123456789abcdefghijklmnopq"},
    )
    assert suspended.status_code == 200, suspended.text
    assert client.get("/admin/products", follow_redirects=False).status_code == 303
    assert log_in(client, "ann@example.com").status_code == 401


def test_pages_name_what_is_missing(client: TestClient, settings: Settings) -> None:
    create_tenant(client)
    add_user(settings, "ann@example.com", "owner")
    log_in(client, "ann@example.com")
    missing = client.get(f"/admin/pricing-rules/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert "No pricing rule" in missing.text
    assert client.get(f"/admin/history/product/{uuid.uuid4()}").status_code == 404


def test_nothing_a_visitor_sends_is_a_500(client: TestClient, settings: Settings) -> None:
    create_tenant(client)
    add_user(settings, "ann@example.com", "owner")
    raw = client.post(
        "/admin/login", content=b"\x00\xff" * 100, headers={"content-type": "text/plain"}
    )
    assert raw.status_code < 500
    assert client.post("/admin/login", json={"email": "x"}).status_code < 500
    log_in(client, "ann@example.com")
    for path in (
        "/admin/products?cursor=garbage",
        "/admin/products?active=maybe",
        "/admin/pricing-rules?cursor=%00",
        "/admin/pricing-rules/new?copy=not-a-uuid",
        "/admin/flights?date=someday&origin=12345",
        "/admin/audit?cursor=zz",
        f"/admin/history/{'x' * 300}/{uuid.uuid4()}",
        "/admin/bundles?cursor=nope",
        "/admin/commission-rates?cursor=nope",
        "/admin/products/not-a-uuid",
    ):
        found = client.get(path)
        assert found.status_code < 500, (path, found.text[:300])
    token = session_csrf(client)
    assert (
        client.post("/admin/tenant", data={"csrf_token": token, "tenant": "ZZ"}).status_code < 500
    )
    assert client.post("/admin/logout", data={"x": "y"}).status_code == 422
