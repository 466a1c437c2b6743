"""The admin UI in a real browser: Debian's Chromium driven by Playwright, against `offerengine
serve` on 127.0.0.1 with the demo loaded. One journey, step by step, a screenshot of each under
var/screenshots/. Outside CI the tests skip when Chromium is not installed; with CI=true they run
(.ci/run installs it)."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.browser.conftest import PASSWORD, demo_server, require_chromium, watched_page

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
EMAIL = "editor.browser@oe.example"
PLATFORM_EMAIL = "root.browser@offerengine.example"

pytestmark = pytest.mark.slow

require_chromium()


@pytest.fixture(scope="module")
def base_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_server(
        sqlite_template,
        tmp_path_factory.mktemp("browser"),
        [("OE", EMAIL, "owner"), (None, PLATFORM_EMAIL, "platform")],
    ) as demo:
        assert "demo@oe.example" in demo.printed  # the demo prints its users' passwords
        yield demo.base_url


@pytest.fixture(scope="module")
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    SHOTS.mkdir(parents=True)
    with watched_page(browser, base_url, console_csp=True) as opened:
        yield opened


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_log_in(page: Page) -> None:
    page.goto("/admin/products")
    expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin/products"))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#login-error")).to_have_text("Wrong email or password.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/admin/products$"))  # back where she was going
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    shot(page, "01-catalog")


def test_create_a_product(page: Page) -> None:
    page.goto("/admin/products/new")
    page.get_by_label("Code").fill("SEAT-BROWSER")
    page.get_by_label("Name").fill("Browser test seat")
    page.get_by_label("Type").fill("SEAT")
    page.get_by_label("Base price").fill("not a price")
    page.get_by_role("button", name="Save").click()
    # The API's 422 shows next to the field it names, and nothing is created.
    error = page.locator('[data-error-for="base_price"]')
    expect(error).not_to_be_empty()
    shot(page, "02-product-error")
    page.get_by_label("Base price").fill("40.00")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/admin/products/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name=re.compile("Browser test seat"))).to_be_visible()
    shot(page, "03-product-saved")
    page.goto("/admin/products?q=BROWSER")
    expect(page.get_by_role("link", name="SEAT-BROWSER")).to_be_visible()


def test_a_bad_csv_imports_nothing_and_names_its_rows(page: Page) -> None:
    page.goto("/admin/products")
    csv = (
        "product_type,product_code,name,base_price,currency\n"
        "BAG,BAG-CSV-OK,Good bag,20.00,USD\n"
        "BAG,BAG-CSV-BAD,Bad bag,twenty,USD\n"
    )
    page.locator("#csv-file").set_input_files(
        files=[{"name": "products.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    page.get_by_role("button", name="Import").click()
    status = page.locator("#import-form .form-status")
    expect(status).to_contain_text("base_price")
    expect(status).to_contain_text("2")  # the bad row, by number
    shot(page, "03b-csv-errors")
    page.goto("/admin/products?q=BAG-CSV")
    expect(page.get_by_text("No products match.")).to_be_visible()  # all or nothing


def test_create_a_pricing_rule_with_a_formula_and_test_it(page: Page) -> None:
    page.goto("/admin/pricing-rules/new")
    form = page.locator("#rule-form")
    form.get_by_label("Name").fill("Browser demand")
    form.get_by_label("Type", exact=True).select_option("DEMAND")
    form.get_by_label("Product", exact=True).select_option(label="SEAT-BROWSER · Browser test seat")
    form.get_by_label("Adjustment").select_option("MULTIPLIER")
    formula = form.get_by_label("Formula")
    formula.fill("1.0 + utilization *")
    expect(page.locator("#v-adjustments-formula")).to_contain_text("at ")  # live validation
    formula.fill("1.0 + utilization * 0.5")
    expect(page.locator("#v-adjustments-formula")).to_contain_text("valid (number)")
    # The condition builder writes the JSON condition.
    page.get_by_role("button", name="Add a test").click()
    page.get_by_label("Fact of test 1").select_option("utilization")
    page.get_by_label("Operator of test 1").select_option("gte")
    page.get_by_label("Value of test 1").fill("0.5")
    expect(form.get_by_role("textbox", name=re.compile("^Condition"))).to_have_value(
        re.compile(r'"utilization":\s*\{\s*"gte":\s*0\.5')
    )
    shot(page, "04-rule-editor")
    form.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/admin/pricing-rules/[0-9a-f-]{36}$"))
    test_panel = page.locator("#test-form")
    test_panel.get_by_label("Product").select_option(label="SEAT-BROWSER · Browser test seat")
    test_panel.get_by_label("Scenario (facts, JSON)").fill('{"utilization": 0.6}')
    test_panel.get_by_role("button", name="Run test").click()
    result = page.locator("#test-result")
    expect(result).to_contain_text("Browser demand")
    final = result.locator("[data-final-price]").get_attribute("data-final-price")
    assert Decimal(str(final)) == Decimal("40.00") * Decimal("1.3")
    shot(page, "05-rule-test-trace")


def test_roll_a_rule_back(page: Page) -> None:
    page.goto("/admin/pricing-rules?q=Browser")
    page.get_by_role("link", name="Browser demand").first.click()
    page.wait_for_load_state()  # the form saves through admin.js once it has bound it
    page.get_by_label("Formula").fill("1.0 + utilization * 0.9")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name=re.compile("version 2"))).to_be_visible()
    page.get_by_role("link", name="History").click()
    expect(page.locator("#v2")).to_contain_text("utilization * 0.9")
    shot(page, "06-history")
    page.locator("#v1").get_by_role("button", name="Roll back to this version").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.locator("#v3")).to_contain_text("utilization * 0.5")
    shot(page, "07-rolled-back")


def test_shop_search_shows_offers(page: Page) -> None:
    page.goto("/admin/shop")
    page.get_by_label("Route").select_option(index=1)
    page.get_by_role("button", name="Search offers").click()
    offers = page.locator("article.offer")
    expect(offers.first).to_be_visible()
    expect(offers.first).to_contain_text("Total")
    shot(page, "08-shop")


def test_shop_a_round_trip_with_connections(page: Page) -> None:
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    page.goto("/admin/shop")
    page.get_by_label("Origin").fill("BOS")
    page.get_by_label("Destination").fill("CDG")
    page.get_by_label("Date", exact=True).fill((today + timedelta(days=2)).isoformat())
    page.get_by_label("Trip").select_option("round_trip")
    page.get_by_label("Return date").fill((today + timedelta(days=5)).isoformat())
    page.get_by_role("button", name="Search offers").click()
    offer = page.locator("article.offer").first
    expect(offer).to_contain_text("round trip")
    expect(offer).to_contain_text("Slice 1: BOS→CDG")
    expect(offer).to_contain_text("Slice 2: CDG→BOS")
    expect(offer).to_contain_text("via")
    shot(page, "08-shop-round-trip")


def test_simulate_a_decision(page: Page) -> None:
    page.goto("/admin/decide")
    page.get_by_role("button", name="Simulate the decision").click()
    result = page.locator("#result")
    expect(result).to_contain_text("dry run")
    expect(result.locator("article.proposition").first).to_be_visible()
    expect(result).to_contain_text("What became of every candidate")
    shot(page, "09-decision")


def test_dashboard_charts_render(page: Page) -> None:
    page.goto("/admin")
    canvas = page.locator("#chart-offers-shown")
    expect(canvas).to_have_attribute("data-drawn", "true")
    shown = page.evaluate(
        "() => document.getElementById('chart-offers-shown').chart.data.datasets"
        ".flatMap(d => d.data).reduce((a, b) => a + b, 0)"
    )
    assert shown > 0  # the search above shows up
    shot(page, "10-dashboard")


def test_the_dashboard_is_drawn_once_below_the_menu(page: Page) -> None:
    page.goto("/admin")
    expect(page).to_have_title("Dashboard · OfferEngine admin")  # no HTML in the tab
    menu = page.locator("header.top").bounding_box()
    assert menu is not None
    for heading in page.locator("h1:visible, h2:visible").all():  # nothing above the menu
        box = heading.bounding_box()
        assert box is not None
        assert box["y"] >= menu["y"] + menu["height"], heading.inner_text()
    headings = page.locator("main h2").all_inner_texts()
    assert headings == ["Offer performance", "Inventory", "Decisioning", "Experiments"]
    # An airline's tiles; an empty chart says what to do rather than drawing zeros.
    expect(page.locator(".tiles")).to_contain_text("load factor")
    expect(page.locator("#empty-orders")).to_contain_text("No order in the last 30 days")
    expect(page.locator("#empty-orders").get_by_role("link", name="offer rules")).to_be_visible()
    # Counts tick in whole numbers: one search shows 0 and 1, no "0.1 offers shown".
    ticks = page.evaluate(
        "() => document.getElementById('chart-offers-shown').chart.scales.y.ticks.map(t => t.label)"
    )
    assert all(re.fullmatch(r"\d+", str(t)) for t in ticks), ticks
    assert len(ticks) == len(set(ticks)), ticks  # no label repeated
    shot(page, "10b-dashboard-airline")


def test_a_new_flag_starts_empty_and_is_not_saved_without_a_key(page: Page) -> None:
    page.goto("/admin/flags/new")
    page.wait_for_load_state()
    key = page.locator('[name="root[key]"]')
    expect(key).to_have_value("")
    expect(key).to_have_attribute("placeholder", "e.g. dynamic_pricing")
    form = page.locator("#resource-form")
    for leaked in ("FeatureFlagIn", "RolloutIn", "VariantIn", "Is Enabled"):
        expect(form).not_to_contain_text(leaked)
    expect(form.get_by_role("button", name="Add Variant")).to_be_visible()
    enabled = page.locator('[name="root[is_enabled]"]')  # a checkbox, not a true/false list
    expect(enabled).to_have_attribute("type", "checkbox")
    expect(enabled).not_to_be_checked()
    # Each help text once: the rollout's start and end each say what a time looks like once.
    helps = form.get_by_text(re.compile("with a zone"))
    expect(helps).to_have_count(2)
    assert all(text.count("zone") == 1 for text in helps.all_inner_texts())
    page.get_by_role("button", name="Save").click()
    errors = page.locator('[data-error-for="*"]')
    expect(errors).to_contain_text("Key: ")
    expect(errors).to_contain_text("Name: ")
    expect(key).to_have_attribute("aria-invalid", "true")
    expect(key).to_be_focused()
    expect(page).to_have_url(re.compile(r"/admin/flags/new$"))  # nothing was made
    shot(page, "11a-new-flag-refused")
    key.fill("browser-flag")
    page.locator('[name="root[name]"]').fill("Browser flag")
    enabled.check()
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/admin/flags/[0-9a-f-]{36}$"))
    expect(page.locator("#flash")).to_have_text("Saved: feature flag version 1.")  # confirmed
    expect(page.locator('[name="root[is_enabled]"]')).to_be_checked()
    page.goto("/admin/flags")
    expect(page.get_by_role("link", name="browser-flag")).to_be_visible()
    expect(page.get_by_role("link", name="new-flag")).to_have_count(0)  # no junk flag


def test_the_menu_shows_where_a_history_page_belongs(page: Page) -> None:
    page.goto("/admin/pricing-rules?q=Browser")
    page.get_by_role("link", name="History").first.click()
    expect(page).to_have_url(re.compile(r"/admin/history/pricing_rule/"))
    current = page.locator("#nav a[aria-current]")
    expect(current).to_have_text(["Catalog & pricing"])  # not Dashboard
    expect(page.locator("nav.sub a[aria-current=page]")).to_have_text(["Pricing rules"])


def test_times_read_to_the_second_in_the_tenants_zone(page: Page) -> None:
    page.goto("/admin/audit")
    first = page.locator("td.time").first
    # The demo airline is in New York: its times say so, with no T and no microseconds.
    expect(first).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T$"))
    # And the object by its name, with its kind and version.
    row = page.locator("tr", has=page.get_by_role("link", name="Browser demand")).first
    expect(row).to_contain_text(re.compile(r"pricing rule · v\d"))
    shot(page, "11b-audit")


def test_tables_scroll_inside_their_frame_at_800_px(page: Page) -> None:
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto("/admin/pricing-rules")
    frame = page.locator(".table-scroll").first
    box, main = frame.bounding_box(), page.locator("main").bounding_box()
    assert box is not None
    assert main is not None
    assert box["x"] + box["width"] <= main["x"] + main["width"] + 1  # within the page
    assert page.evaluate("document.documentElement.scrollWidth") <= 800  # nothing cut off
    history = frame.get_by_role("link", name="History").first
    history.scroll_into_view_if_needed()  # the frame scrolls to the last column
    expect(history).to_be_in_viewport()
    expect(frame).to_have_attribute("tabindex", "0")  # and scrolls from the keyboard
    shot(page, "11c-table-800")
    page.set_viewport_size({"width": 1366, "height": 900})


def test_the_api_reference_works_with_no_internet(browser: Browser, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 1366, "height": 900})
    outside: list[str] = []

    def local_only(route: Route) -> None:
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", local_only)
    opened = context.new_page()
    opened.goto(f"{base_url}/docs")
    operations = opened.locator(".opblock")
    expect(operations.first).to_be_visible(timeout=30_000)
    expect(opened.locator(".opblock", has_text="/v1/decisions").first).to_be_visible()
    assert operations.count() > 100  # every operation of the document
    opened.screenshot(path=str(SHOTS / "17-api-reference.png"))
    context.close()
    assert outside == []


def test_preview_a_bundle_template(page: Page) -> None:
    page.goto("/admin/bundles")
    page.get_by_role("link", name="Comfort Bundle").click()
    page.wait_for_url(re.compile(r"/admin/bundles/[0-9a-f-]{36}$"))
    page.wait_for_load_state()  # the route picker fills the form once admin.js has bound it
    preview = page.locator("#preview-form")
    preview.get_by_label("Route").select_option(index=1)
    preview.get_by_role("button", name="Preview offers").click()
    offer = page.locator("#result article.offer").first
    expect(offer).to_contain_text("COMFORT")
    expect(offer).to_contain_text("Pricing rules applied")
    shot(page, "11-bundle-preview")


def test_a_form_made_from_the_schema_shows_the_api_errors_at_their_fields(page: Page) -> None:
    page.goto("/admin/inventory-rules/new")
    hold = page.locator('[name="root[hold_duration_seconds]"]')
    hold.fill("-5")
    page.get_by_role("button", name="Save").click()
    expect(page.locator('[data-error-for="*"]')).to_contain_text("Hold duration seconds:")
    expect(hold).to_have_attribute("aria-invalid", "true")
    shot(page, "12-form-error")
    # The same document as JSON, edited there, saved from there.
    page.get_by_role("button", name="JSON", exact=True).click()
    editor = page.get_by_label(re.compile("Inventory rule \\(JSON"))
    editor.fill('{"resource_type": "LOUNGE", "resource": "JFK", "min_availability_threshold": 3}')
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/admin/inventory-rules/[0-9a-f-]{36}$"))
    expect(page.locator('[name="root[resource]"]')).to_have_value("JFK")


def test_a_platform_user_switches_to_the_marketplace(page: Page) -> None:
    page.goto("/admin")
    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Email").fill(PLATFORM_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/admin/tenants$"))  # she picks a tenant first
    page.get_by_role("button", name="Work on MKT").click()
    expect(page.locator(".who select")).to_have_value("MKT")


def test_quote_a_basket(page: Page) -> None:
    page.goto("/admin/quote")
    page.get_by_role("button", name="Quote the basket").click()
    result = page.locator("#result")
    expect(result).to_contain_text("How the total is made")
    expect(result).to_contain_text("item_total")
    expect(result).to_contain_text("Commission")
    expect(result).to_contain_text(re.compile(r"valid until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d"))
    shot(page, "13-quote")


def test_the_marketplace_dashboard_leads_with_quotes_and_commission(page: Page) -> None:
    deadline = time.monotonic() + 10
    page.goto("/admin")
    while not page.locator("#chart-quotes").count() and time.monotonic() < deadline:
        page.wait_for_timeout(200)  # the quote is stored behind its answer
        page.goto("/admin")
    expect(page.locator("main h2")).to_have_text(
        ["Quotes and commission", "Coupons", "Decisioning", "Experiments"]
    )
    tiles = page.locator(".tiles").first  # the quotes' (the coupons' follow)
    expect(tiles).to_contain_text("quotes (the last 30 days)")
    expect(tiles).not_to_contain_text("offers shown")  # no airline tiles
    expect(page.locator("#chart-quotes")).to_have_attribute("data-drawn", "true")
    quoted = page.evaluate(
        "() => document.getElementById('chart-quotes').chart.data.datasets"
        ".find(d => d.label === 'quotes').data.reduce((a, b) => a + b, 0)"
    )
    assert quoted >= 1  # the basket just quoted
    expect(page.locator("#chart-load")).to_have_count(0)
    shot(page, "13b-dashboard-marketplace")


def test_roll_a_flag_out_with_the_slider(page: Page) -> None:
    page.goto("/admin/flags")
    page.locator("table tbody tr td a").first.click()
    slider = page.get_by_label(re.compile("^Rollout"))
    slider.fill("75")
    expect(page.get_by_label(re.compile("Feature flag \\(JSON"))).to_have_value(
        re.compile(r'"percentage": 75')
    )
    before = page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text(before)  # a new version
    expect(page.get_by_label(re.compile("^Rollout"))).to_have_value("75")
    shot(page, "14-flag-rollout")


def test_start_an_experiment_and_read_its_results(page: Page) -> None:
    page.goto("/admin/experiments/new")
    page.wait_for_load_state()  # the form editor, built by admin.js
    page.locator('[name="root[key]"]').fill("browser-experiment")
    page.locator('[name="root[name]"]').fill("Browser experiment")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/admin/experiments/[0-9a-f-]{36}$"))
    page.get_by_role("button", name="Start").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("running")
    expect(page.locator("#flash")).to_have_text("Experiment started.")
    expect(page.locator("#results-title")).to_be_visible()
    expect(page.locator("#chart-lift")).to_have_attribute("data-drawn", "true")
    shot(page, "15-experiment")


MAIN_PAGES = (
    "/admin",
    "/admin/products",
    "/admin/products/new",
    "/admin/pricing-rules",
    "/admin/pricing-rules/new",
    "/admin/bundles",
    "/admin/commission-rates",
    "/admin/quote",
    "/admin/flags",
    "/admin/flags/new",
    "/admin/experiments",
    "/admin/experiments/new",
    "/admin/audit",
)


def test_no_page_breaks_the_content_security_policy(page: Page) -> None:
    for path in MAIN_PAGES:
        response = page.goto(path)
        assert response is not None
        assert response.ok, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__cspViolations") == [], path
    page.goto("/admin/login")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__cspViolations") == []


def test_tablet_width(page: Page) -> None:
    page.set_viewport_size({"width": 820, "height": 1100})
    page.goto("/admin/pricing-rules")
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("link", name="Airline")).to_be_visible()
    shot(page, "16-tablet")


def test_log_out(page: Page) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/admin")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/admin/login"))
    page.goto("/admin")
    expect(page).to_have_url(re.compile(r"/admin/login"))
