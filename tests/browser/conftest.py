"""What the browser tests share: the Chromium they drive (skipped when it is not installed, a
failure with CI=true), a demo server per test module started by `offerengine demo` and `offerengine
serve`, the module's browser, and a page that logs in and watches for JavaScript errors and
Content-Security-Policy violations."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import IN_CI, fresh_sqlite
from tests.servers import serve

CHROMIUM = "/usr/bin/chromium"
# Every user the tests make has this password.
PASSWORD = "correct horse battery staple"
# Every Content-Security-Policy violation a page reports, to the console as the browser's own
# "Refused to …" errors and as securitypolicyviolation events, which this script counts.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_SHA256 = "e9e5863c33a874f09bc01acd9234b7e3c871479f5eef8802fa582544465e6d01"  # 4.11.0
# The widths the axe checks run at: a desktop's and a phone's.
WIDTHS = {"desktop": (1366, 900), "phone": (375, 812)}
# The owners the axe checks log in as, by tenant.
TENANTS = {"OE": "a11y@oe.example", "MKT": "a11y@mkt.example"}
# A violation this bad fails the test (axe's impacts: minor, moderate, serious, critical).
BLOCKING = ("serious", "critical")


def require_chromium() -> None:
    """Skips the calling test module when Chromium is not installed; with CI=true, fails it."""
    if Path(CHROMIUM).exists():
        return
    if IN_CI:
        pytest.fail(
            f"{CHROMIUM} is missing; with CI=true the browser tests must run", pytrace=False
        )
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)


def cli(env: dict[str, str], *args: str) -> str:
    """What `offerengine ARGS` printed; it must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", "offerengine", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@dataclass(frozen=True)
class Demo:
    """A running `offerengine serve` with the demo loaded: its address, its var folder (the demo
    writes its API keys there) and what `offerengine demo` printed."""

    base_url: str
    folder: Path
    printed: str


@contextmanager
def demo_server(
    sqlite_template: Path,
    folder: Path,
    users: Sequence[tuple[str | None, str, str]],
    port: int | None = None,
) -> Iterator[Demo]:
    """The demo on a fresh SQLite copy in FOLDER, with USERS (tenant code or None for a platform
    user, email, role) made with PASSWORD, served until the block ends."""
    url = fresh_sqlite(sqlite_template, folder)
    env = {**os.environ, "OFFERENGINE_DATABASE_URL": url, "OFFERENGINE_VAR_DIR": str(folder)}
    printed = cli(env, "demo")
    for tenant, email, role in users:
        cli(
            {**env, "OFFERENGINE_NEW_USER_PASSWORD": PASSWORD},
            "create-user",
            *(("--tenant", tenant) if tenant else ()),
            "--email",
            email,
            "--role",
            role,
        )
    with serve(url, folder) if port is None else serve(url, folder, port=port) as base:
        yield Demo(base, folder, printed)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, one per test module."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


def log_in(page: Page, email: str) -> None:
    """Logs EMAIL in through the login form; the admin's home page follows."""
    page.goto("/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/admin$"))


@contextmanager
def watched_page(
    browser: Browser,
    base_url: str,
    *,
    width: int = 1366,
    height: int = 900,
    console_csp: bool = False,
) -> Iterator[Page]:
    """A page in a context of its own whose script errors (and, with CONSOLE_CSP, the console's
    Content-Security-Policy errors) fail the test when the block ends; WATCH_CSP collects the CSP
    violations in window.__cspViolations."""
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    context.add_init_script(WATCH_CSP)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(str(error)))
    if console_csp:
        opened.on(
            "console",
            lambda message: (
                problems.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
    yield opened
    context.close()
    assert problems == [], f"JavaScript errors: {problems}"


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe-core's script, as vendored (vendor/README.md)."""
    source = AXE.read_bytes()
    assert hashlib.sha256(source).hexdigest() == AXE_SHA256, "vendor/axe.min.js was changed"
    return source.decode()


def logged_in_at(browser: Browser, base_url: str, email: str, width: str) -> Page:
    """A page of a context of its own, WIDTHS[WIDTH] wide, that ignores the CSP (so that axe can
    be injected), with EMAIL logged in; the caller closes its context."""
    w, h = WIDTHS[width]
    # The admin's CSP forbids inline scripts; axe is the test's, injected past it.
    context = browser.new_context(
        base_url=base_url, viewport={"width": w, "height": h}, bypass_csp=True
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, email)
    return page


def blocking_violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    """What axe-core finds in the page with an impact in BLOCKING: id, impact, help and the
    first three nodes."""
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
    return [v for v in found if v["impact"] in BLOCKING]


def sideways(page: Page) -> int:
    """How many pixels the page scrolls sideways."""
    overflow: int = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return overflow
