"""Every admin page reachable from the menu, for the demo's airline (OE) and marketplace (MKT),
at a desktop's width and a phone's: axe-core (vendored from the npm registry, see
vendor/README.md) finds no serious or critical violation, the page never scrolls sideways (tables
scroll inside their frame, forms stack), and the keyboard reaches the skip link and the menu.
Screenshots under tmp/artifacts/accessibility/ (not committed)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from offerengine.web.pages.layout import NAV
from tests.conftest import IN_CI, fresh_sqlite
from tests.servers import serve

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tmp" / "artifacts" / "accessibility"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_SHA256 = "e9e5863c33a874f09bc01acd9234b7e3c871479f5eef8802fa582544465e6d01"  # 4.11.0
PASSWORD = "correct horse battery staple"
PORT = 18917
WIDTHS = {"desktop": (1366, 900), "phone": (375, 812)}
TENANTS = {"OE": "a11y@oe.example", "MKT": "a11y@mkt.example"}
PAGES = [href for _, links in NAV for _, href in links]
# A violation this bad fails the test (axe's impacts: minor, moderate, serious, critical).
BLOCKING = ("serious", "critical")

pytestmark = pytest.mark.slow

if not Path(CHROMIUM).exists():
    if IN_CI:
        pytest.fail(
            f"{CHROMIUM} is missing; with CI=true the browser tests must run", pytrace=False
        )
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


def _cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "offerengine", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout


@pytest.fixture(scope="module")
def base_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("a11y")
    url = fresh_sqlite(sqlite_template, folder)
    env = {**os.environ, "OFFERENGINE_DATABASE_URL": url, "OFFERENGINE_VAR_DIR": str(folder)}
    _cli(env, "demo")
    for code, email in TENANTS.items():
        _cli(
            {**env, "OFFERENGINE_NEW_USER_PASSWORD": PASSWORD},
            "create-user",
            "--tenant",
            code,
            "--email",
            email,
            "--role",
            "owner",
        )
    with serve(url, folder, port=PORT) as base:
        yield base


@pytest.fixture(scope="module")
def axe_source() -> str:
    source = AXE.read_bytes()
    assert hashlib.sha256(source).hexdigest() == AXE_SHA256, "vendor/axe.min.js was changed"
    return source.decode()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


def _logged_in(browser: Browser, base_url: str, email: str, width: str) -> Page:
    w, h = WIDTHS[width]
    # The admin's CSP forbids inline scripts; axe is the test's, injected past it.
    context = browser.new_context(
        base_url=base_url, viewport={"width": w, "height": h}, bypass_csp=True
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/admin$"))
    return page


def _violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source)
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
          const result = await axe.run(document, {resultTypes: ["violations"]});
          return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + ": " + n.failureSummary),
          }));
        }"""
    )
    return found


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("tenant", list(TENANTS))
def test_every_menu_page_passes_axe_and_fits_the_width(
    browser: Browser, base_url: str, axe_source: str, tenant: str, width: str
) -> None:
    page = _logged_in(browser, base_url, TENANTS[tenant], width)
    started = time.monotonic()
    failures: dict[str, list[dict[str, Any]]] = {}
    too_wide: dict[str, int] = {}
    try:
        for path in PAGES:
            response = page.goto(path)
            assert response is not None, path
            assert response.status == 200, (path, response.status)
            page.wait_for_load_state("load")
            blocking = [v for v in _violations(page, axe_source) if v["impact"] in BLOCKING]
            if blocking:
                failures[path] = blocking
            # The page itself never scrolls sideways: wide tables scroll inside their frame.
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
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
    page = _logged_in(browser, base_url, TENANTS["MKT"], "phone")
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
