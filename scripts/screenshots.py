"""The README's admin screenshots, retaken: the demo on a fresh SQLite database in a temporary
folder, an owner of the airline OE, `offerengine serve` on a free 127.0.0.1 port (the browser
tests' helpers in tests/browser/conftest.py do all three), a little traffic through the API so that
the dashboard has something to draw, then Debian's Chromium driven by Playwright saves five JPEGs
in docs/images/: the dashboard, the decision simulator after a run, a pricing rule's editor with
its Test panel run, the pricing rules and the shop playground after a search.

Run from the repository's root: `.venv/bin/python scripts/screenshots.py` (needs
/usr/bin/chromium; `--out FOLDER` writes elsewhere)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2 as httpx  # noqa: E402
from playwright.sync_api import FloatRect, Page, ViewportSize, expect, sync_playwright  # noqa: E402
from tests.browser.conftest import CHROMIUM, demo_server, log_in  # noqa: E402

from offerengine.db import migrate  # noqa: E402

EMAIL = "screenshots@oe.example"
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
QUALITY = 80
# The README's images are kept under this many bytes each.
MAX_BYTES = 250_000
# Routes the traffic searches; orders are made from the searches' offers, of these types in turn.
ROUTES = (("JFK", "LHR"), ("JFK", "CDG"), ("BOS", "CDG"), ("LHR", "JFK"))
ORDERED_TYPES = ("COMFORT", "FLIGHT_ONLY", "PREMIUM", "COMFORT")


def keys(folder: Path) -> dict[str, str]:
    """The demo's API keys, as `offerengine demo` wrote them to FOLDER/demo-keys.env."""
    found = {}
    for line in (folder / "demo-keys.env").read_text().splitlines():
        if line.startswith("export "):
            name, value = line.removeprefix("export ").split("=", 1)
            found[name] = value.strip("'\"")
    return found


def traffic(base_url: str, folder: Path) -> None:
    """Searches, confirmed orders of several offer types and a few decisions with their impressions and a click,
    through the API, so that the dashboard's charts are not empty."""
    run = {"Authorization": f"Bearer {keys(folder)['DEMO_OE_RUNTIME_KEY']}"}
    today = datetime.now(UTC).date()
    with httpx.Client(base_url=base_url, headers=run, timeout=60) as client:
        ordered = 0
        for n, (origin, destination) in enumerate(ROUTES * 2):
            found = client.post(
                "/v1/offers/search",
                json={
                    "origin": origin,
                    "destination": destination,
                    "date": (today + timedelta(days=3 + n % 4)).isoformat(),
                    "passengers": {"adults": 1 + n % 2},
                },
            )
            found.raise_for_status()
            offers = found.json()["offers"]
            wanted = ORDERED_TYPES[ordered % len(ORDERED_TYPES)]
            chosen = [o for o in offers if o["offer_type"] == wanted]
            if not chosen or ordered >= len(ORDERED_TYPES):
                continue
            offer = chosen[0]
            order = client.post(
                "/v1/orders",
                headers={"Idempotency-Key": f"screenshots-{n}"},
                json={
                    "offer_id": offer["offer_id"],
                    "passengers": [
                        {"type": "ADULT", "given_name": "Ada", "surname": f"Lovelace{i}"}
                        for i in range(1 + n % 2)
                    ],
                },
            )
            order.raise_for_status()
            confirmed = client.post(
                f"/v1/orders/{order.json()['id']}/confirm",
                json={"payment_reference": f"PAY-SHOT-{n}"},
            )
            confirmed.raise_for_status()
            ordered += 1
        for n in range(6):
            decided = client.post(
                "/v1/decisions",
                json={
                    "profile": {"id": f"screenshots-{n}", "attributes": {"tier": "GOLD"}},
                    "activities": ["Home page hero", "Confirmation cross-sell"],
                },
            )
            decided.raise_for_status()
            decision = decided.json()
            for p, proposition in enumerate(decision["propositions"]):
                for kind in ("impression", "click") if n % 3 == 0 else ("impression",):
                    client.post(
                        "/v1/events",
                        json={
                            "event_id": f"screenshots-{kind}-{n}-{p}",
                            "type": kind,
                            "decision_id": decision["decision_id"],
                            "offer_id": proposition["items"][0]["offer_id"],
                            "activity_id": proposition["activity_id"],
                            "profile_id": f"screenshots-{n}",
                        },
                    ).raise_for_status()


def save(page: Page, out: Path, name: str, height: float) -> Path:
    """The page's top HEIGHT pixels (at most the page's own height) as OUT/NAME.jpg."""
    path = out / f"{name}.jpg"
    whole: int = page.evaluate("() => document.documentElement.scrollHeight")
    clip: FloatRect = {
        "x": 0,
        "y": 0,
        "width": VIEWPORT["width"],
        "height": min(round(height), whole),
    }
    page.screenshot(path=str(path), type="jpeg", quality=QUALITY, full_page=True, clip=clip)
    return path


def bottom(page: Page, selector: str, margin: int = 24) -> float:
    """Where the first element SELECTOR matches ends, MARGIN pixels below, from the page's top."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    scrolled: float = page.evaluate("() => window.scrollY")
    return box["y"] + scrolled + box["height"] + margin


def dashboard(page: Page, out: Path) -> Path:
    """The airline's dashboard over the last 7 days (the traffic is today's), down to its first
    row of charts."""
    page.goto("/admin?days=7")
    expect(page).to_have_title("Dashboard · OfferEngine admin")
    for chart in ("offers-shown", "orders", "conversion"):
        expect(page.locator(f"#chart-{chart}")).to_have_attribute("data-drawn", "true")
    page.wait_for_timeout(1000)  # the charts' animation
    return save(page, out, "admin-dashboard", bottom(page, "figure:has(#chart-conversion)", 12))


def decide(page: Page, out: Path) -> Path:
    """The decision simulator after a dry run for a Gold member flying JFK → London in economy (as
    in docs/decisioning.md), down to its first proposition and what became of its candidates."""
    page.goto("/admin/decide")
    page.get_by_label("Profile attributes (JSON)").fill(
        '{"tier": "GOLD", "trips_per_year": 8, "age": 40, "has_card": false, "interests": ["ski"]}'
    )
    page.get_by_label("Context (JSON)").fill(
        '{"cabin": "ECONOMY", "days_to_departure": 3, "origin": "JFK", "destination": "LHR",'
        ' "passengers": 2, "international": true, "duration_hours": 7, "departure_hour": 19}'
    )
    page.get_by_role("button", name="Simulate the decision").click()
    result = page.locator("#result")
    expect(result.locator("article.proposition").first).to_be_visible()
    return save(page, out, "admin-decide", bottom(page, "#result article.proposition", 16))


def rule(page: Page, out: Path) -> Path:
    """The demo's economy demand rule in its editor, its Test panel run on the economy fare."""
    page.goto("/admin/pricing-rules")
    page.get_by_role("link", name="Continuous Pricing - Economy").click()
    test_panel = page.locator("#test-form")
    expect(test_panel).to_be_visible()
    test_panel.get_by_label("Product").select_option(label="FARE-ECONOMY · Economy fare")
    test_panel.get_by_label("Scenario (facts, JSON)").fill(
        '{"cabin_class": "ECONOMY", "utilization": 0.8, "days_until_departure": 3}'
    )
    test_panel.get_by_role("button", name="Run test").click()
    expect(page.locator("#test-result")).to_contain_text("Continuous Pricing")
    # The live validation of the condition and the formula, as the editor shows it.
    expect(page.locator("#v-adjustments-formula")).to_contain_text("valid (number)")
    return save(page, out, "admin-rule", bottom(page, "#v-adjustments-formula"))


def rules(page: Page, out: Path) -> Path:
    """The pricing rules list."""
    page.goto("/admin/pricing-rules")
    return save(page, out, "admin-rules", bottom(page, "main table", 48))


def shop(page: Page, out: Path) -> Path:
    """The shop playground after a search, scrolled to its offers."""
    page.goto("/admin/shop")
    page.get_by_label("Route").select_option(index=1)
    page.get_by_role("button", name="Search offers").click()
    expect(page.locator("article.offer").first).to_contain_text("Total")
    return save(page, out, "admin-shop", 1500)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="oe-screenshots-") as temp:
        template = Path(temp) / "template.db"
        migrate.upgrade(f"sqlite:///{template}")
        folder = Path(temp) / "demo"
        folder.mkdir()
        with demo_server(template, folder, [("OE", EMAIL, "owner")]) as demo:
            traffic(demo.base_url, folder)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM,
                    headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
                )
                context = browser.new_context(base_url=demo.base_url, viewport=VIEWPORT)
                context.set_default_timeout(30_000)
                page = context.new_page()
                log_in(page, EMAIL)
                saved = [step(page, args.out) for step in (dashboard, decide, rule, rules, shop)]
                browser.close()
    too_big = False
    for path in saved:
        size = path.stat().st_size
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        sys.stdout.write(f"{shown}: {size} bytes\n")
        too_big |= size > MAX_BYTES
    return 1 if too_big else 0


if __name__ == "__main__":
    sys.exit(main())
