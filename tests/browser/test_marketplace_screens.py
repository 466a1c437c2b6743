"""The marketplace's own screens in a real browser (Debian's Chromium, Playwright) at 800 px:
a quote built from two item rows and a coupon, a bad row's error shown against that row, and a
coupon edited in its table's form, its field error shown inline, then saved. Screenshots under
var/screenshots/marketplace/. Outside CI the tests skip when Chromium is not installed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (
    demo_server,
    log_in,
    require_chromium,
    sideways,
    watched_page,
)

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "marketplace"
EMAIL = "market.browser@mkt.example"
PORT = 18931

pytestmark = pytest.mark.slow

require_chromium()


@pytest.fixture(scope="module")
def base_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_server(
        sqlite_template,
        tmp_path_factory.mktemp("marketplace-browser"),
        [("MKT", EMAIL, "owner")],
        port=PORT,
    ) as demo:
        yield demo.base_url


@pytest.fixture(scope="module")
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with watched_page(browser, base_url, width=800, height=1000) as opened:
        log_in(opened, EMAIL)
        yield opened


def _fits(page: Page) -> None:
    """The page does not scroll sideways at 800 px and broke no Content-Security-Policy rule."""
    overflow = sideways(page)
    assert overflow <= 1, overflow
    assert page.evaluate("window.__cspViolations") == []


def test_build_a_quote_with_two_rows_and_a_coupon(page: Page) -> None:
    page.goto("/admin/quote")
    items = page.locator("#quote-items tbody tr")
    expect(items).to_have_count(2)
    # Start from one row: remove the second, then add a row with the keyboard.
    page.get_by_role("button", name="Remove item 2").click()
    expect(items).to_have_count(1)
    add = page.get_by_role("button", name="Add an item row")
    add.focus()
    page.keyboard.press("Enter")
    expect(items).to_have_count(2)
    page.get_by_label("Item 1 product or SKU").fill("ELEC-PHONE-CASE")
    page.get_by_label("Item 1 quantity").fill("2")
    page.get_by_label("Item 1 unit price").fill("149.90")
    page.get_by_label("Item 2 product or SKU").fill("BOOK-NOVEL")
    page.get_by_label("Item 2 category").fill("books")
    page.get_by_label("Item 2 quantity").fill("3")
    page.get_by_label("Item 2 unit price").fill("45.00")
    page.get_by_label("Coupon codes").fill("SAVE20")
    page.get_by_role("button", name="Quote the basket").click()
    result = page.locator("#result")
    expect(result).to_contain_text("How the total is made")
    expect(result).to_contain_text(re.compile(r"Commission \d+\.\d\d TRY"))
    expect(result.locator("tr", has_text="applied:")).to_contain_text("SAVE20")
    page.get_by_text("Show request JSON").click()
    sent = json.loads(page.locator("#quote-request").inner_text())
    assert [(i["product_id"], i["quantity"]) for i in sent["items"]] == [
        ("ELEC-PHONE-CASE", 2),
        ("BOOK-NOVEL", 3),
    ]
    assert sent["coupon_codes"] == ["SAVE20"]
    _fits(page)
    page.screenshot(path=str(SHOTS / "quote-two-rows-and-a-coupon.png"), full_page=True)


def test_a_bad_row_is_marked_where_it_is(page: Page) -> None:
    page.goto("/admin/quote")
    page.get_by_label("Item 2 quantity").fill("0")
    page.get_by_role("button", name="Quote the basket").click()
    quantity = page.get_by_label("Item 2 quantity")
    expect(quantity).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#q-items-1-quantity-error")).to_contain_text("at least 1")
    expect(page.get_by_label("Item 1 quantity")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#result")).to_be_empty()
    _fits(page)
    page.screenshot(path=str(SHOTS / "quote-bad-row.png"), full_page=True)


def test_edit_a_coupon_in_its_table(page: Page) -> None:
    page.goto("/admin/marketplace/coupons")
    expect(page.locator("#commerce-table")).to_contain_text("20 % off")
    _fits(page)
    page.screenshot(path=str(SHOTS / "coupons-table.png"), full_page=True)
    page.get_by_role("link", name="Edit 20% off, up to 100").click()
    page.get_by_label("Value", exact=True).fill("120")
    page.get_by_role("button", name=re.compile(r"Save version \d+")).click()
    expect(page.get_by_role("alert")).to_contain_text("at most 100")
    page.get_by_label("Uses in all").fill("0")
    page.get_by_label("Value", exact=True).fill("25")
    page.get_by_role("button", name=re.compile(r"Save version \d+")).click()
    expect(page.locator("#m-usage_limit_total-error")).to_contain_text("at least 1")
    _fits(page)
    page.screenshot(path=str(SHOTS / "coupon-field-error.png"), full_page=True)
    page.get_by_label("Uses in all").fill("500")
    page.get_by_role("button", name=re.compile(r"Save version \d+")).click()
    expect(page).to_have_url(re.compile(r"/admin/marketplace/coupons\?saved="))
    expect(page.get_by_role("status")).to_contain_text("Saved: coupon version 2")
    expect(page.locator("#commerce-table")).to_contain_text("25 % off")
