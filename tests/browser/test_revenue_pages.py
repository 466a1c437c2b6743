"""The booking simulator's page and a flight's page in Chromium, at a desktop's width and a
phone's: Chart.js draws the comparison, axe-core finds no serious or critical violation, and the
page never scrolls sideways."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.test_accessibility import (
    BLOCKING,
    PASSWORD,
    TENANTS,
    WIDTHS,
    _cli,
    _logged_in,
    _violations,
    axe_source,  # noqa: F401 (a fixture)
    browser,  # noqa: F401 (a fixture)
)
from tests.conftest import fresh_sqlite
from tests.servers import serve

pytestmark = pytest.mark.slow

from playwright.sync_api import Browser  # noqa: E402

PORT = 18801


@pytest.fixture(scope="module")
def base_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("revenue-pages")
    url = fresh_sqlite(sqlite_template, folder)
    env = {**os.environ, "OFFERENGINE_DATABASE_URL": url, "OFFERENGINE_VAR_DIR": str(folder)}
    _cli(env, "demo")
    _cli(
        {**env, "OFFERENGINE_NEW_USER_PASSWORD": PASSWORD},
        "create-user",
        "--tenant",
        "OE",
        "--email",
        TENANTS["OE"],
        "--role",
        "owner",
    )
    with serve(url, folder, port=PORT) as base:
        yield base


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_simulator_and_a_flight_page_draw_and_pass_axe(
    browser: Browser,  # noqa: F811
    base_url: str,
    axe_source: str,  # noqa: F811
    width: str,
) -> None:
    page = _logged_in(browser, base_url, TENANTS["OE"], width)
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
            blocking = [v for v in _violations(page, axe_source) if v["impact"] in BLOCKING]
            assert blocking == [], (path, blocking)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, (path, overflow)
    finally:
        page.context.close()
