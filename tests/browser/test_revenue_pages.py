"""The booking simulator's page and a flight's page in Chromium, at a desktop's width and a
phone's: Chart.js draws the comparison, axe-core finds no serious or critical violation, and the
page never scrolls sideways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import (
    TENANTS,
    WIDTHS,
    blocking_violations,
    demo_server,
    logged_in_at,
    require_chromium,
    sideways,
)

pytestmark = pytest.mark.slow

require_chromium()


PORT = 18801


@pytest.fixture(scope="module")
def base_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("revenue-pages")
    with demo_server(sqlite_template, folder, [("OE", TENANTS["OE"], "owner")], port=PORT) as demo:
        yield demo.base_url


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_simulator_and_a_flight_page_draw_and_pass_axe(
    browser: Browser,
    base_url: str,
    axe_source: str,
    width: str,
) -> None:
    page = logged_in_at(browser, base_url, TENANTS["OE"], width)
    try:
        page.goto("/admin/revenue/simulator?departures=5")
        page.wait_for_load_state("load")
        page.wait_for_function("() => document.getElementById('chart-simulator').chart")
        labels = page.evaluate("() => document.getElementById('chart-simulator').chart.data.labels")
        assert labels == ["fcfs", "emsr-b", "emsr-b+prices"]
        page.goto("/admin/flights")
        page.locator("a[href^='/admin/flights/']").first.click()
        page.wait_for_load_state("load")
        assert page.get_by_role("heading", name="Revenue management").is_visible()
        for path in ("/admin/revenue/simulator?departures=5", page.url):
            page.goto(path)
            page.wait_for_load_state("load")
            blocking = blocking_violations(page, axe_source)
            assert blocking == [], (path, blocking)
            overflow = sideways(page)
            assert overflow <= 1, (path, overflow)
    finally:
        page.context.close()
