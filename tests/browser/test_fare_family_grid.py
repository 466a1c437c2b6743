"""The shop playground's fare-family grid in Chromium: the demo airline gets an economy fare
family set, a search shows each offer's families as a table (a column per family, a row per price
and attribute, the one sold marked), a column's button shops again in that family, and axe-core
finds no serious or critical violation in the page with the grid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import (
    TENANTS,
    blocking_violations,
    demo_server,
    logged_in_at,
    require_chromium,
)

pytestmark = pytest.mark.slow

require_chromium()


PORT = 18803
FAMILIES = {
    "cabin": "ECONOMY",
    "families": [
        {
            "code": "FLEX",
            "name": "Flex",
            "multiplier": "1.5",
            "attributes": {"checked_bags": 2, "changes": "free", "refunds": "full"},
        },
        {
            "code": "STANDARD",
            "name": "Standard",
            "multiplier": "1",
            "attributes": {"checked_bags": 1, "changes": "fee", "change_fee": "75"},
        },
        {"code": "BASIC", "name": "Basic", "multiplier": "0.8", "attributes": {"carry_on": False}},
    ],
}


def _keys(folder: Path) -> dict[str, str]:
    keys = {}
    for line in (folder / "demo-keys.env").read_text().splitlines():
        if line.startswith("export "):
            name, value = line.removeprefix("export ").split("=", 1)
            keys[name] = value.strip("'\"")
    return keys


@pytest.fixture(scope="module")
def base_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("fare-family-grid")
    with demo_server(sqlite_template, folder, [("OE", TENANTS["OE"], "owner")], port=PORT) as demo:
        base = demo.base_url
        made = httpx.post(
            f"{base}/v1/admin/tenants/OE/fare-family-sets",
            json=FAMILIES,
            headers={"Authorization": f"Bearer {_keys(folder)['DEMO_OE_EDITOR_KEY']}"},
        )
        assert made.status_code == 201, made.text
        yield base


def test_the_playground_compares_an_offers_fare_families_and_shops_one(
    browser: Browser,
    base_url: str,
    axe_source: str,
) -> None:
    page = logged_in_at(browser, base_url, TENANTS["OE"], "desktop")
    try:
        page.goto("/admin/shop")
        page.get_by_label("Route").select_option(index=1)
        page.get_by_role("button", name="Search offers").click()
        expect(page.locator("article.offer").first).to_be_visible()
        # Economy has the families; the Premium bundle sells business, which has none.
        titled = page.locator("caption", has_text="Fare families")
        offer = page.locator("article.offer", has=titled).first
        grid = offer.locator("table", has=titled)
        expect(grid).to_be_visible()
        headers = grid.locator("thead th[scope=col]")
        expect(headers).to_have_text(
            ["Fare family", "Basic (BASIC)", "Standard (STANDARD) sold", "Flex (FLEX)"]
        )
        expect(grid.locator("thead th[aria-current=true]")).to_have_text("Standard (STANDARD) sold")
        expect(grid.locator("tbody th[scope=row]").first).to_have_text("Total")
        expect(grid).to_contain_text("for a fee (75.00 USD)")
        blocking = blocking_violations(page, axe_source)
        assert blocking == [], blocking

        # Shop again in Flex from the grid: the offers now sell Flex.
        grid.get_by_role("button", name="Shop in Flex").click()
        expect(page.get_by_label("Fare family")).to_have_value("FLEX")
        again = page.locator("article.offer", has=titled).first.locator("table", has=titled)
        expect(again.locator("thead th[aria-current=true]")).to_have_text("Flex (FLEX) sold")
    finally:
        page.context.close()
