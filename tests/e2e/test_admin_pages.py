"""Every admin page renders for the demo's people, with what their role allows; the resource
editors start from documents the API takes."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.auth import users
from offerengine.auth.core import Actor, ActorKind, Role
from offerengine.demo import service as demo
from offerengine.settings import Settings
from offerengine.tenants import service as tenants
from offerengine.units import run_in_transaction
from offerengine.web.pages.layout import NAV
from offerengine.web.resources import RESOURCES, cell, dig
from tests.conftest import make_settings

PASSWORD = "a long enough password"
SYSTEM = Actor(ActorKind.SYSTEM, None, "test")


@pytest.fixture(scope="module")
def demo_settings(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from tests.conftest import fresh_sqlite

    folder = tmp_path_factory.mktemp("pages")
    settings = make_settings(fresh_sqlite(sqlite_template, folder), folder)

    async def load(session) -> None:  # type: ignore[no-untyped-def]
        await demo.load(session, actor=SYSTEM)
        for code, email, role in (
            ("OE", "own@oe.example", "owner"),
            ("OE", "see@oe.example", "viewer"),
            ("MKT", "own@mkt.example", "owner"),
        ):
            found = await tenants.find(session, code)
            await users.create_user(
                session,
                tenant_id=found.id if found else None,
                email=email,
                role=Role(role),
                password=PASSWORD,
                actor=SYSTEM,
            )

    asyncio.run(run_in_transaction(settings, load))
    return settings


def logged_in(settings: Settings, email: str) -> TestClient:
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    client.__enter__()
    page = client.get("/admin/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    done = client.post(
        "/admin/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return client


PAGES = sorted({href for _, links in NAV for _, href in links})


@pytest.mark.parametrize("email", ["own@oe.example", "own@mkt.example", "see@oe.example"])
def test_every_menu_page_and_every_editor_renders(demo_settings: Settings, email: str) -> None:
    client = logged_in(demo_settings, email)
    try:
        for path in PAGES:
            page = client.get(path)
            assert page.status_code == 200, (path, page.text[:500])
            assert "<h1>" in page.text or "<h1" in page.text
        for slug, resource in RESOURCES.items():
            listing = client.get(f"/admin/{slug}")
            ids = re.findall(rf'href="/admin/{slug}/([0-9a-f-]{{36}})"', listing.text)
            for found in ids[:2]:
                editor = client.get(f"/admin/{slug}/{found}")
                assert editor.status_code == 200, (slug, editor.text[:500])
                history = client.get(f"/admin/history/{resource.history}/{found}")
                assert history.status_code == 200, (slug, history.text[:500])
            new = client.get(f"/admin/{slug}/new")
            assert new.status_code == 200
            writes = "New " in listing.text
            assert writes == (not email.startswith("see@")), slug  # a viewer gets no New button
        assert client.get("/admin/no-such-page").status_code == 404
    finally:
        client.__exit__(None, None, None)


def test_the_dashboard_shows_cap_utilisation(demo_settings: Settings) -> None:
    client = logged_in(demo_settings, "own@oe.example")
    try:
        page = client.get("/admin").text
        assert "Cap utilisation" in page
        assert re.search(
            r"<td>decision</td><td>calendar 1? ?day</td><td>\d+</td><td>200</td>", page
        ), page[page.index("Cap utilisation") : page.index("Cap utilisation") + 1500]
    finally:
        client.__exit__(None, None, None)


def test_route_pickers_offer_only_flights_yet_to_leave(demo_settings: Settings) -> None:
    # Accra keeps UTC all year: one flight left ten minutes ago, the next leaves tomorrow.
    now = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)
    client = logged_in(demo_settings, "own@oe.example")
    try:
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/admin").text)
        assert token
        flights = [
            {
                "carrier": "OE",
                "flight_number": number,
                "origin": "ACC",
                "destination": "LOS",
                "departure_local": departs.isoformat(),
                "arrival_local": (departs + timedelta(hours=2)).isoformat(),
                "cabins": {"ECONOMY": 100},
            }
            for number, departs in (
                ("901", now - timedelta(minutes=10)),
                ("902", now + timedelta(days=1)),
            )
        ]
        made = client.post(
            "/v1/admin/tenants/OE/flights", json=flights, headers={"X-CSRF-Token": token.group(1)}
        )
        assert made.status_code == 201, made.text
        shop = client.get("/admin/shop").text
        tomorrow = (now + timedelta(days=1)).date().isoformat()
        assert f'<option value="ACC|LOS|{tomorrow}">' in shop
    finally:
        client.__exit__(None, None, None)


def test_the_models_page_lists_a_bandits_versions(demo_settings: Settings) -> None:
    client = logged_in(demo_settings, "own@oe.example")
    try:
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/admin").text)
        assert token
        headers = {"X-CSRF-Token": token.group(1)}
        base = "/v1/admin/tenants/OE/decisioning"
        (home,) = [
            a
            for a in client.get(f"{base}/activities").json()["items"]
            if a["name"] == "Home page hero"
        ]
        made = client.post(
            f"{base}/activities",
            json={
                **{k: home[k] for k in ("placement_id", "collection_id", "fallback_offer_id")},
                "name": "Learning hero",
                "status": "approved",
                "ranking": {
                    "method": "model",
                    "contextual": {"features": ["profile.tier=GOLD"], "reward_window_seconds": 1},
                },
            },
            headers=headers,
        )
        assert made.status_code == 201, made.text
        trained = client.post("/v1/admin/tenants/OE/models/train", headers=headers)
        assert trained.status_code == 200, trained.text
        page = client.get("/admin/models").text
        assert "Learning hero" in page
        assert "1, profile.tier=GOLD" in page
        assert "Train now" in page
        assert 'href="/admin/models/report"' in page
        report = client.get("/admin/models/report")
        assert report.status_code == 200
        assert "Learning hero · live v1" in report.text
        assert "0 logged decisions" in report.text  # none decided yet
        for n in range(3):
            decided = client.post(
                "/v1/decisions",
                json={"profile": {"id": f"p{n}"}, "activities": [made.json()["id"]]},
                headers=headers,
            )
            assert decided.status_code == 200, decided.text
        time.sleep(3.3)  # the reward window, and the allowance for decisions written behind
        report = client.get("/admin/models/report").text
        assert "3 logged decisions" in report
        assert re.search(r"<td>served \(measured\)</td><td class=\"num\">0\.0000</td>", report)
        assert "<td>dr</td>" in report
    finally:
        client.__exit__(None, None, None)


def test_long_lists_come_a_page_at_a_time(demo_settings: Settings) -> None:
    client = logged_in(demo_settings, "own@oe.example")
    try:
        first = client.get("/admin/decision-offers").text
        ids = set(re.findall(r'href="/admin/decision-offers/([0-9a-f-]{36})"', first))
        assert len(ids) == 25
        assert 'href="?page=2"' in first
        second = client.get("/admin/decision-offers?page=2").text
        more = set(re.findall(r'href="/admin/decision-offers/([0-9a-f-]{36})"', second))
        assert more
        assert not more & ids
        assert "First page" in second
        flights = client.get("/admin/flights").text
        assert len(re.findall(r'href="/admin/flights/[0-9a-f-]{36}"', flights)) == 25
        assert "page=2" in flights
        assert re.search(r"\d+ flights in departure order", flights)
    finally:
        client.__exit__(None, None, None)


def test_a_viewer_gets_no_save_button(demo_settings: Settings) -> None:
    client = logged_in(demo_settings, "see@oe.example")
    try:
        listing = client.get("/admin/products")
        first = re.search(r'href="/admin/products/([0-9a-f-]{36})"', listing.text)
        assert first
        page = client.get(f"/admin/products/{first.group(1)}")
        assert ">Save<" not in page.text
        assert ">Delete<" not in page.text
    finally:
        client.__exit__(None, None, None)


def test_starters_are_what_the_api_takes_but_for_the_ids_to_choose() -> None:
    for resource in RESOURCES.values():
        try:
            resource.schema.model_validate(resource.starter)
        except ValueError as exc:
            missing = [e["loc"][-1] for e in exc.errors()]  # type: ignore[attr-defined]
            assert all(str(name).endswith("_id") for name in missing), (resource.slug, missing)


def test_cells_read_well() -> None:
    assert dig({"ranking": {"method": "model"}}, "ranking.method") == "model"
    assert dig({"ranking": None}, "ranking.method") is None
    assert cell(True) == "yes"
    assert cell(None) == ""
    assert cell({"a": 1}) == '{"a": 1}'
    assert cell(list(range(100))).endswith("…")


@pytest.mark.slow
def test_the_dashboard_and_lists_render_on_each_database(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path)

    async def load(session) -> None:  # type: ignore[no-untyped-def]
        await demo.load(session, actor=SYSTEM)
        found = await tenants.find(session, "OE")
        await users.create_user(
            session,
            tenant_id=found.id if found else None,
            email="pg@oe.example",
            role=Role.OWNER,
            password=PASSWORD,
            actor=SYSTEM,
        )

    asyncio.run(run_in_transaction(settings, load))
    client = logged_in(settings, "pg@oe.example")
    try:
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/admin").text)
        assert token
        shop = client.get("/admin/shop").text
        route = re.search(r'<option value="([A-Z]{3})\|([A-Z]{3})\|([0-9-]{10})">', shop)
        assert route
        searched = client.post(
            "/v1/offers/search",
            json={"origin": route.group(1), "destination": route.group(2), "date": route.group(3)},
            headers={"X-CSRF-Token": token.group(1)},
        )
        assert searched.status_code == 200, searched.text
        assert searched.json()["offers"], "the picker's route has flights yet to leave"
        # Offers are stored behind the answer, in batches: the dashboard counts them once written.
        deadline = time.monotonic() + 10
        while True:
            page = client.get("/admin")
            assert page.status_code == 200, page.text[:500]
            shown = re.search(r'<span class="num">(\d+)</span><span>offers shown', page.text)
            assert shown
            if int(shown.group(1)) == len(searched.json()["offers"]) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert int(shown.group(1)) == len(searched.json()["offers"])
        for path in ("/admin/products", "/admin/pricing-rules", "/admin/audit", "/admin/flights"):
            assert client.get(path).status_code == 200, path
    finally:
        client.__exit__(None, None, None)


def test_the_promotion_usage_page_shows_budgets_grants_and_models(demo_settings: Settings) -> None:
    from tests.e2e.test_promotions import _promotion

    client = logged_in(demo_settings, "own@oe.example")
    try:
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/admin").text)
        assert token
        saved = client.put(
            "/v1/admin/tenants/OE/promotions",
            json={"promotions": [_promotion()]},
            headers={"X-CSRF-Token": token.group(1)},
        )
        assert saved.status_code == 200, saved.text
        page = client.get("/admin/promotion-usage").text
        row = page[page.index('id="promotion-SAVE15"') :]
        row = row[: row.index("</tr>")]
        assert "600.00 EUR" in row
        assert "0.00 EUR" in row
        assert "P0: 0 / 1000; P1: 0 / 1000; P2: 0 / 5" in row
        assert "not trained" in row
    finally:
        client.__exit__(None, None, None)


def test_dead_letters_show_what_the_database_refused_and_offer_a_redrive(
    demo_settings: Settings,
) -> None:
    from offerengine.ids import new_time_uuid
    from offerengine.recording import records

    client = logged_in(demo_settings, "own@oe.example")
    try:
        context = client.app.state.context  # type: ignore[attr-defined]

        async def refused() -> str:
            async with context.session_factory() as session:
                tenant = await tenants.find(session, "OE")
            assert tenant is not None
            record = records.Decision(
                tenant_id=tenant.id,
                id=new_time_uuid(),
                profile_id="lone \ud800 surrogate",
                made_at=datetime.now(UTC),
                propositions=[],
            )
            await context.recorder.record(record)
            await context.recorder.flush()
            return str(record.id)

        record_id = client.portal.call(refused)  # type: ignore[union-attr]
        page = client.get("/admin/dead-letters")
        assert page.status_code == 200
        assert record_id in page.text
        assert "Re-drive" in page.text
        assert "\\ud800" in page.text  # the refused text, shown as its escape
        assert "UnicodeEncodeError" in page.text or "surrogates" in page.text
        redriven = client.get("/admin/dead-letters?show=redriven")
        assert record_id not in redriven.text
    finally:
        client.__exit__(None, None, None)
