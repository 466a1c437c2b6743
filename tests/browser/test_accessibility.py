"""Every admin page reachable from the menu, for the demo's airline (OE) and marketplace (MKT),
at a desktop's width and a phone's: axe-core (vendored from the npm registry, see
vendor/README.md) finds no serious or critical violation, the page never scrolls sideways (tables
scroll inside their frame, forms stack), and the keyboard reaches the skip link and the menu.
Screenshots under tmp/artifacts/accessibility/ (not committed)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from offerengine.web.pages.layout import NAV
from tests.browser.conftest import (
    TENANTS,
    WIDTHS,
    blocking_violations,
    demo_server,
    logged_in_at,
    require_chromium,
    sideways,
)

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tmp" / "artifacts" / "accessibility"
PORT = 18917
# The menu's pages, and the editors of the kinds with screens of their own (new; an existing
# object's editor is test_the_flag_and_experiment_editors_pass_axe's).
PAGES = [
    *(href for _, links in NAV for _, href in links),
    "/admin/feature-flags/new",
    "/admin/ab-tests/new",
    "/admin/decisioning/offers/new",
]

pytestmark = pytest.mark.slow

require_chromium()


@pytest.fixture(scope="module")
def base_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_server(
        sqlite_template,
        tmp_path_factory.mktemp("a11y"),
        [(code, email, "owner") for code, email in TENANTS.items()],
        port=PORT,
    ) as demo:
        yield demo.base_url


@pytest.fixture(scope="module", autouse=True)
def _shots_folder() -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("tenant", list(TENANTS))
def test_every_menu_page_passes_axe_and_fits_the_width(
    browser: Browser, base_url: str, axe_source: str, tenant: str, width: str
) -> None:
    page = logged_in_at(browser, base_url, TENANTS[tenant], width)
    started = time.monotonic()
    failures: dict[str, list[dict[str, Any]]] = {}
    too_wide: dict[str, int] = {}
    try:
        for path in PAGES:
            response = page.goto(path)
            assert response is not None, path
            assert response.status == 200, (path, response.status)
            page.wait_for_load_state("load")
            blocking = blocking_violations(page, axe_source)
            if blocking:
                failures[path] = blocking
            # The page itself never scrolls sideways: wide tables scroll inside their frame.
            overflow = sideways(page)
            if overflow > 1:
                too_wide[path] = overflow
            name = path.strip("/").replace("/", "-") or "admin"
            page.screenshot(path=str(SHOTS / f"{tenant}-{width}-{name}.png"))
    finally:
        page.context.close()
    print(f"{tenant} {width}: {len(PAGES)} pages in {time.monotonic() - started:.1f} s")
    assert failures == {}, "\n".join(
        f"{path}: {v['impact']} {v['id']} ({v['help']}): {v['nodes']}"
        for path, found in failures.items()
        for v in found
    )
    assert too_wide == {}, f"pages wider than the {width} ({WIDTHS[width][0]} px): {too_wide}"


def test_the_keyboard_reaches_the_skip_link_and_the_menu_on_a_phone(
    browser: Browser, base_url: str
) -> None:
    page = logged_in_at(browser, base_url, TENANTS["MKT"], "phone")
    try:
        page.goto("/admin/coupons")
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        box = skip.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["width"] > 0
        outline = skip.evaluate("e => getComputedStyle(e).outlineStyle")
        assert outline != "none"  # a visible focus ring
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_be_focused()
        # The menu is collapsed behind its button at 375 px; the keyboard opens it.
        nav = page.locator("#nav")
        expect(nav).to_be_hidden()
        toggle = page.get_by_role("button", name="Menu")
        toggle.focus()
        page.keyboard.press("Enter")
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(nav).to_be_visible()
        page.keyboard.press("Tab")
        expect(nav.get_by_role("link").first).to_be_focused()
        for _ in range(len(NAV) - 1):
            page.keyboard.press("Tab")
        expect(nav.get_by_role("link").last).to_be_focused()  # every group, in order
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(re.escape(NAV[-1][1][0][1]) + "$"))
        page.screenshot(path=str(SHOTS / "MKT-phone-keyboard-menu.png"))
    finally:
        page.context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_flag_and_experiment_editors_pass_axe(
    browser: Browser, base_url: str, axe_source: str, width: str
) -> None:
    """A saved flag's editor with its rules drawn and its preview filled, and a running
    experiment's editor with its results (tables, interval charts, sample-ratio check)."""
    page = logged_in_at(browser, base_url, TENANTS["MKT"], width)
    try:
        made = page.evaluate(
            """async () => {
              const headers = {"Content-Type": "application/json",
                "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content};
              const body = {key: `a11y_${Date.now()}`, name: "Accessible experiment",
                variants: [{key: "control", weight: 50}, {key: "b", weight: 50}],
                targeting: {country: {$in: ["TR"]}},
                primary_metric: {kind: "conversion", event: "purchase"},
                secondary_metrics: [{kind: "revenue", event: "purchase"}]};
              const made = await (await fetch("/v1/admin/tenants/MKT/experiments",
                {method: "POST", headers, body: JSON.stringify(body)})).json();
              await fetch(`/v1/admin/experiments/${made.id}/start`, {method: "POST", headers});
              return made.id;
            }"""
        )
        page.goto("/admin/feature-flags")
        page.locator("table tbody tr td a").first.click()
        expect(page.locator("#preview-table")).to_be_visible()
        editors = {"flag": page.url}
        page.goto(f"/admin/ab-tests/{made}")
        expect(page.locator("#results .metric")).to_have_count(2)
        editors["experiment"] = page.url
        failures = {}
        for name, url in editors.items():
            page.goto(url)
            page.wait_for_load_state("load")
            blocking = blocking_violations(page, axe_source)
            if blocking:
                failures[name] = blocking
            overflow = sideways(page)
            assert overflow <= 1, (name, overflow)
            page.screenshot(path=str(SHOTS / f"MKT-{width}-{name}-editor.png"), full_page=True)
        assert failures == {}, failures
    finally:
        page.context.close()


def _checker(
    page: Page, axe_source: str, prefix: str, failures: dict[str, list[dict[str, Any]]]
) -> Callable[[str], None]:
    """A check of the page as it stands: axe's blocking violations kept in FAILURES under the
    step's name, no sideways scrolling, and a screenshot named PREFIX-name."""

    def check(name: str) -> None:
        page.wait_for_load_state("load")
        blocking = blocking_violations(page, axe_source)
        if blocking:
            failures[name] = blocking
        overflow = sideways(page)
        assert overflow <= 1, (name, overflow)
        page.screenshot(path=str(SHOTS / f"{prefix}-{name}.png"), full_page=True)

    return check


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_decision_offer_library_and_editor_pass_axe(
    browser: Browser, base_url: str, axe_source: str, width: str
) -> None:
    """The offer library filtered by a placement, a demo offer's editor with its previews
    (a sandboxed HTML frame, text, JSON), the editor showing an error at its field, and a
    new offer's editor."""
    page = logged_in_at(browser, base_url, TENANTS["OE"], width)
    failures: dict[str, list[dict[str, Any]]] = {}
    check = _checker(page, axe_source, f"OE-{width}", failures)

    try:
        page.goto("/admin/decisioning/offers")
        page.select_option("#placement", label="Email")
        page.click(".offer-filters button[type=submit]")
        expect(page.locator("#offer-library tbody tr").first).to_contain_text("Email")
        check("offer-library")
        page.locator("#offer-library tbody tr td a").first.click()
        expect(page.locator(".offer-preview").first).to_be_visible()
        # The HTML placements' content is drawn in its sandboxed frame, scripts off.
        name = page.locator("h1").inner_text().split(" offer ·")[0].strip()
        expect(page.frame_locator(".preview-frame").first.locator("body")).to_contain_text(name)
        check("offer-editor")
        page.fill("#f-eligibility", "profile.tier ==")
        page.click("button[value=save]")
        expect(page.locator('[data-error-for="eligibility"]')).not_to_be_empty()
        check("offer-editor-error")
        page.goto("/admin/decisioning/offers/new")
        check("offer-new")
        assert failures == {}, failures
    finally:
        page.context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_marketplace_editors_and_the_quote_result_pass_axe(
    browser: Browser, base_url: str, axe_source: str, width: str
) -> None:
    """The commission rate, fee rule and coupon edit forms (one of each, then one with an
    error shown inline), and the quote builder with its explained result and with a row's
    error."""
    page = logged_in_at(browser, base_url, TENANTS["MKT"], width)
    failures: dict[str, list[dict[str, Any]]] = {}
    check = _checker(page, axe_source, f"MKT-{width}", failures)

    try:
        for slug in ("commission-rates", "fee-rules", "coupons"):
            page.goto(f"/admin/marketplace/{slug}")
            page.locator("#commerce-table tbody th a").first.click()
            check(f"{slug}-editor")
        page.get_by_label("Uses in all").fill("0")
        page.get_by_role("button", name=re.compile(r"Save version \d+")).click()
        expect(page.locator("#m-usage_limit_total-error")).not_to_be_empty()
        check("coupon-error")
        page.goto("/admin/quote")
        page.get_by_role("button", name="Quote the basket").click()
        expect(page.locator("#result")).to_contain_text("How the total is made")
        check("quote-result")
        page.get_by_label("Item 1 quantity").fill("0")
        page.get_by_role("button", name="Quote the basket").click()
        expect(page.get_by_label("Item 1 quantity")).to_have_attribute("aria-invalid", "true")
        check("quote-error")
        assert failures == {}, failures
    finally:
        page.context.close()
