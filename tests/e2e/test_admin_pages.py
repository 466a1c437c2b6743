"""Every admin page renders for the demo's people, with what their role allows; the resource
editors start from documents the API takes."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from offerengine.auth import users
from offerengine.auth.core import Role
from offerengine.demo import service as demo
from offerengine.flags.schemas import FeatureFlagIn
from offerengine.settings import Settings
from offerengine.tenants import service as tenants
from offerengine.units import run_in_transaction
from offerengine.web.pages.layout import NAV, OWN_SCREENS, current_menu, show_time
from offerengine.web.resources import (
    RESOURCES,
    cell,
    dig,
    form_schema,
    human_label,
    model_label,
)
from tests.conftest import make_settings
from tests.e2e._admin import PASSWORD, SYSTEM, demo_with_people, logged_in


@pytest.fixture(scope="module")
def demo_settings(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return demo_with_people(
        sqlite_template,
        tmp_path_factory.mktemp("pages"),
        [
            ("OE", "own@oe.example", "owner"),
            ("OE", "see@oe.example", "viewer"),
            ("MKT", "own@mkt.example", "owner"),
        ],
    )


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


# What a person types into a new form: ids she picks, and the name, key or code she gives it.
TYPED = ("name", "key", "code", "bundle_name")


def test_starters_are_what_the_api_takes_but_for_what_a_person_types() -> None:
    for resource in RESOURCES.values():
        assert not set(TYPED) & set(resource.starter), resource.slug  # never a junk "new-flag"
        try:
            resource.schema.model_validate(resource.starter)
        except ValueError as exc:
            missing = [e["loc"][-1] for e in exc.errors()]  # type: ignore[attr-defined]
            assert all(str(name).endswith("_id") or name in TYPED for name in missing), (
                resource.slug,
                missing,
            )


def _walk(node: object, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _walk(value, f"{path}/{n}")


def test_generated_forms_speak_to_people_not_in_schema_names() -> None:
    for resource in RESOURCES.values():
        schema = form_schema(resource.schema, resource.one.capitalize())
        assert schema["title"] == resource.one.capitalize()
        for path, node in _walk(schema):
            title = node.get("title")
            if isinstance(title, str):  # "Rollout", "Variant", never "RolloutIn"
                assert not re.search(r"[a-z][A-Z]|(?:In|Read)$|_", title), (resource.slug, path)
            if node.get("type") == "boolean":  # a checkbox, ticked or not: no opt-in box
                assert node.get("format") == "checkbox", (resource.slug, path)
            if isinstance(node.get("properties"), dict):
                for name, child in node["properties"].items():
                    assert child.get("title"), (resource.slug, path, name)
                    if child.get("type") == "boolean":
                        assert name in node.get("required", []), (resource.slug, path, name)
            described = node.get("description")
            if isinstance(described, str):  # each help text once
                sentences = [t.strip() for t in re.split(r"(?<=\.)\s", described) if t.strip()]
                assert len(sentences) == len(set(sentences)), (resource.slug, path, described)
                assert described.count("zone") <= 1, (resource.slug, path, described)
    flag = form_schema(FeatureFlagIn)["properties"]
    assert flag["rollout"]["title"] == "Rollout"
    assert flag["variants"]["items"]["title"] == "Variant"  # its button: "Add Variant"
    assert flag["is_enabled"]["title"] == "Enabled"
    assert flag["key"]["options"]["inputAttributes"]["placeholder"] == "e.g. dynamic_pricing"


def test_labels_read_as_words() -> None:
    assert human_label("is_enabled") == "Enabled"
    assert human_label("default_value") == "Default value"
    assert human_label("placement_id") == "Placement ID"
    assert human_label("rollout.percentage") == "Rollout percentage"
    assert model_label("FeatureFlagIn") == "Feature flag"
    assert model_label("ForceRule") == "Force rule"
    assert model_label("SRMCheck") == "SRM check"


def test_a_new_form_starts_empty_with_examples_to_follow(demo_settings: Settings) -> None:
    client = logged_in(demo_settings, "own@oe.example")
    try:
        page = client.get("/admin/flags/new").text
        start = json.loads(
            html.unescape(re.search(r'id="start-flags">(.*?)</script>', page).group(1))
        )  # type: ignore[union-attr]
        assert "key" not in start
        assert "name" not in start
        assert "e.g. dynamic_pricing" in page  # the key's placeholder
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
        assert token
        # Saved untouched, it is refused naming the key and the name; nothing is made.
        saved = client.post(
            "/v1/admin/tenants/OE/feature-flags",
            json=start,
            headers={"X-CSRF-Token": token.group(1)},
        )
        assert saved.status_code == 422, saved.text
        assert {tuple(e["loc"]) for e in saved.json()["errors"]} >= {
            ("body", "key"),
            ("body", "name"),
        }
    finally:
        client.__exit__(None, None, None)


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


def _visible_html(page: str) -> str:
    """A page without the documents it carries as they are (JSON for its scripts, editors,
    a refused record shown whole)."""
    return re.sub(
        r'<script type="application/json".*?</script>|<textarea.*?</textarea>|<pre>.*?</pre>',
        "",
        page,
        flags=re.S,
    )


@pytest.mark.parametrize(
    ("email", "shown", "not_shown"),
    [
        (
            "own@oe.example",
            ["Offer performance", "Inventory", "offers shown", "load factor"],
            ["Quotes and commission", "quotes ("],
        ),
        (
            "own@mkt.example",
            ["Quotes and commission", "quotes (", "commission quoted", "No quote in the last"],
            ["Offer performance", "Inventory", "offers shown", "load factor"],
        ),
    ],
)
def test_the_dashboard_is_drawn_once_under_the_menu_with_what_applies_to_the_tenant(
    demo_settings: Settings, email: str, shown: list[str], not_shown: list[str]
) -> None:
    client = logged_in(demo_settings, email)
    try:
        page = client.get("/admin").text
        assert "<title>Dashboard · OfferEngine admin</title>" in page
        head, body = page.split("<body", 1)
        assert "<h2" not in head
        before_menu = body[: body.index('<header class="top">')]
        assert "<h2" not in before_menu
        assert "chart" not in before_menu
        headings = re.findall(r"<h2>(.*?)</h2>", body)
        assert len(headings) == len(set(headings)), headings  # each section once
        assert {"Decisioning", "Experiments"} <= set(headings)
        for text in shown:
            assert text in body, text
        for text in not_shown:
            assert text not in body, text
        # Nothing drawn is all zeros: an empty chart is a sentence saying what to do.
        for config in re.findall(
            r'<script type="application/json" id="cfg-[^"]+">(.*?)</script>', body
        ):
            values = [v for d in json.loads(config)["data"]["datasets"] for v in d["data"]]
            assert any(v for v in values), config[:200]
        assert re.search(
            r'<figure class="chart empty"[^>]*>\s*<div class="empty-state">\s*<p>No ', body
        )
    finally:
        client.__exit__(None, None, None)


def test_counts_are_charted_in_whole_numbers_with_a_legend_only_to_tell_series_apart() -> None:
    from offerengine.web import dashboards

    day = dashboards.last_days(2)
    board = dashboards.quotes_and_commission(
        {
            "quoted": [
                {
                    "key": day[1].isoformat(),
                    "currency": "EUR",
                    "quotes": 1,
                    "measures": {"total_commission": "2.50", "seller_commission": "2.50"},
                }
            ],
            "accepted": [],
        },
        {
            "quoted": [
                {
                    "key": "shoes",
                    "currency": "EUR",
                    "quotes": 1,
                    "measures": {"total_commission": "2.50"},
                }
            ]
        },
        None,
        span=day,
    )
    quotes = board.charts["quotes"]
    assert quotes["options"]["scales"]["y"]["ticks"] == {"precision": 0}  # 0 and 1, not 0.1 …
    assert quotes["options"]["plugins"]["legend"]["display"] is True  # quotes and accepted
    single = board.charts["by_category"]
    assert single["options"]["plugins"]["legend"]["display"] is False  # the caption names it
    assert board.totals == {
        "quotes": "1",
        "accepted": "0",
        "conversion": "0.0 %",
        "commission": "2.50 EUR",
    }
    assert dashboards.has_data(single)
    assert not dashboards.has_data(board.charts["by_seller"])


def test_the_menu_shows_where_the_page_is() -> None:
    assert current_menu("/admin") == ("Dashboard", "/admin")
    assert current_menu("/admin/pricing-rules/1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed") == (
        "Catalog & pricing",
        "/admin/pricing-rules",
    )
    # An object's history belongs to its kind's page, never the dashboard.
    assert current_menu("/admin/history/pricing_rule/1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed") == (
        "Catalog & pricing",
        "/admin/pricing-rules",
    )
    for slug, resource in RESOURCES.items():
        _, page = current_menu(f"/admin/history/{resource.history}/x")
        assert page == OWN_SCREENS.get(f"/admin/{slug}", f"/admin/{slug}"), slug
    assert current_menu("/admin/tenants") == (None, None)


def test_a_history_page_highlights_its_kinds_menu(demo_settings: Settings) -> None:
    client = logged_in(demo_settings, "own@oe.example")
    try:
        rules = client.get("/admin/pricing-rules").text
        found = re.search(r'href="/admin/history/pricing_rule/([0-9a-f-]{36})"', rules)
        assert found
        page = client.get(f"/admin/history/pricing_rule/{found.group(1)}").text
        current = re.findall(r'<a href="([^"]+)" aria-current="(?:true|page)">([^<]+)</a>', page)
        assert current == [
            ("/admin/products", "Catalog &amp; pricing"),
            ("/admin/pricing-rules", "Pricing rules"),
        ]
    finally:
        client.__exit__(None, None, None)


def test_times_are_shown_to_the_second_in_the_tenants_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert show_time("2026-12-07T20:45:58.123456Z", paris) == "2026-12-07 21:45:58 CET"
    assert show_time("2026-07-07T20:45:58+00:00", paris) == "2026-07-07 22:45:58 CEST"
    naive_utc = datetime(2026, 12, 7, 20, 45, 58, 999, tzinfo=UTC).replace(tzinfo=None)
    assert show_time(naive_utc, paris) == "2026-12-07 21:45:58 CET"  # as the database keeps it
    assert show_time("2026-12-07", paris) == "2026-12-07"  # a date stays a date
    assert show_time("not a time", paris) == "not a time"


def test_no_page_shows_a_raw_timestamp_and_the_audit_log_names_objects(
    demo_settings: Settings,
) -> None:
    client = logged_in(demo_settings, "own@oe.example")
    try:
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/admin").text)
        assert token
        headers = {"X-CSRF-Token": token.group(1)}
        made = client.post(
            "/v1/admin/tenants/OE/experiments",
            json={
                "key": "timed",
                "name": "Timed experiment",
                "end": "2099-01-31T23:59:59.500000Z",
                "variants": [{"key": "control", "weight": 0.5}, {"key": "b", "weight": 0.5}],
                "primary_metric": {"key": "conversion", "kind": "conversion", "event": "purchase"},
            },
            headers=headers,
        )
        assert made.status_code == 201, made.text
        started = client.post(f"/v1/admin/experiments/{made.json()['id']}/start", headers=headers)
        assert started.status_code == 200, started.text
        raw = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\d\d:\d\d:\d\d\.\d+")
        for path in [*PAGES, "/admin/experiments"]:
            page = _visible_html(client.get(path).text)
            assert not raw.search(page), (path, raw.findall(page)[:3])
        listing = client.get("/admin/experiments").text
        assert "<td>2099-01-31 18:59:59 EST</td>" in listing  # its end, in New York's time
        audit = client.get("/admin/audit").text
        assert re.search(r'<td class="time">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T</td>', audit)
        # The object by its name, with its kind and version: not "experiment v2".
        assert re.search(
            r'<a href="/admin/history/experiment/[0-9a-f-]{36}">Timed experiment</a>\s*'
            r'<small class="muted">experiment · v2</small>',
            audit,
        ), audit[audit.index("experiment.") - 200 : audit.index("experiment.") + 600]
    finally:
        client.__exit__(None, None, None)


# Where a page names what the browser loads: an element's source or link, a form's target, a
# style's url() or @import.
LOADS = re.compile(
    r"""(?:\b(?:src|href|action|srcset|poster|data)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])"""
    r"""\s*((?:https?:)?//[^"'\s)>]+)""",
    re.I,
)


def test_no_page_refers_to_anything_outside_the_server(demo_settings: Settings) -> None:
    client = logged_in(demo_settings, "own@oe.example")
    try:
        paths = [*PAGES, "/admin/login", "/docs", "/admin/flags/new", "/admin/experiments/new"]
        for slug in RESOURCES:
            listing = client.get(f"/admin/{slug}").text
            paths += [
                f"/admin/{slug}/{i}"
                for i in re.findall(rf'href="/admin/{slug}/([0-9a-f-]{{36}})"', listing)[:1]
            ]
        pages = {path: client.get(path) for path in paths}
        assert all(p.status_code == 200 for p in pages.values()), [
            (path, p.status_code) for path, p in pages.items() if p.status_code != 200
        ]
        loaded = set()
        for path, found in pages.items():
            assert not LOADS.findall(found.text), (path, LOADS.findall(found.text))
            loaded |= set(
                re.findall(r'(?:src|href)="(/(?:admin/static|docs/assets)/[^"]+)"', found.text)
            )
        assert "/docs/assets/swagger-ui-bundle.js" in loaded
        for path in loaded:  # what they load is here, and loads nothing from outside in turn
            asset = client.get(path)
            assert asset.status_code == 200, path
            if path.endswith(".css"):
                assert not LOADS.findall(asset.text), (path, LOADS.findall(asset.text))
    finally:
        client.__exit__(None, None, None)


def test_every_table_scrolls_in_a_frame_of_its_own(demo_settings: Settings) -> None:
    client = logged_in(demo_settings, "own@oe.example")
    try:
        for path in PAGES:
            page = client.get(path).text
            assert page.count("<table") == page.count('<div class="table-scroll"><table'), path
    finally:
        client.__exit__(None, None, None)
