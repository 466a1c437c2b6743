"""The flag and experiment screens in a real browser (Debian's Chromium, Playwright) against
`offerengine serve` with the demo: a marketer makes a flag with a targeting rule, variants and
a rollout, watches who gets what, saves it; designs an experiment with the sample-size
calculator; and reads results whose tables fit their card at 800 px. Screenshots under
var/screenshots/ (the journey's) like test_admin_ui.py's."""

from __future__ import annotations

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

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
EMAIL = "marketer.browser@mkt.example"

pytestmark = pytest.mark.slow

require_chromium()


@pytest.fixture(scope="module")
def base_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_server(
        sqlite_template, tmp_path_factory.mktemp("screens-browser"), [("MKT", EMAIL, "owner")]
    ) as demo:
        yield demo.base_url


@pytest.fixture(scope="module")
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with watched_page(browser, base_url) as opened:
        log_in(opened, EMAIL)
        yield opened
        violations = opened.evaluate("window.__cspViolations")
    assert violations == [], violations


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _preview_counts(page: Page) -> dict[str, int]:
    rows = page.locator("#preview-table tbody tr")
    return {
        str(rows.nth(i).get_attribute("data-served")): int(
            str(rows.nth(i).locator("[data-count]").get_attribute("data-count"))
        )
        for i in range(rows.count())
    }


def test_make_a_flag_with_a_rule_and_a_rollout_preview_it_and_save(page: Page) -> None:
    page.get_by_role("link", name="Flags & experiments").click()
    expect(page).to_have_url(re.compile(r"/admin/feature-flags$"))
    page.get_by_role("link", name="New flag").click()
    form = page.locator("#flag-form")
    expect(form.locator('[name="key"]')).to_have_value("")
    expect(form).not_to_contain_text("FeatureFlagIn")
    expect(form.get_by_label(re.compile("^Enabled"))).not_to_be_checked()
    # Saved untouched: refused at the key and the name, nothing made.
    form.get_by_role("button", name="Save").click()
    expect(page.locator('[data-error-for="key"]')).not_to_be_empty()
    expect(page.locator('[data-error-for="name"]')).not_to_be_empty()
    expect(page).to_have_url(re.compile(r"/admin/feature-flags/new$"))

    form.locator('[name="key"]').fill("browser_banner")
    form.locator('[name="name"]').fill("Browser banner")
    form.get_by_label("Type").select_option("STRING")
    form.get_by_label(re.compile("^Enabled")).check()
    form.get_by_label("Value when on").fill("on-banner")
    form.get_by_label(re.compile("^Default value")).fill("no-banner")
    # Two variants, 70 / 30.
    form.get_by_role("button", name="Add a variant").click()
    form.get_by_label("Value of variant 1").fill("blue")
    form.get_by_role("button", name="Add a variant").click()
    form.get_by_label("Value of variant 2").fill("orange")
    form.get_by_label("Share of variant 1 (%)", exact=True).fill("70")
    form.get_by_label("Share of variant 2 (%)", exact=True).fill("40")
    expect(page.locator("#variant-total")).to_contain_text("must add up to 100")
    form.get_by_label("Share of variant 2 (%)", exact=True).fill("30")
    expect(page.locator("#variant-total")).to_have_text("Together 100 %")
    # VIPs see the banner; Turkey splits between the variants.
    form.get_by_role("button", name="Add a rule").click()
    rule = form.locator("fieldset.rule").nth(0)
    rule.get_by_role("button", name="Add a condition").click()
    rule.get_by_label("Attribute of condition 1 of rule 1").fill("segment")
    rule.get_by_label("Operator of condition 1 of rule 1").select_option(label="is one of")
    rule.get_by_label("Value of condition 1 of rule 1").fill("vip, premium")
    rule.get_by_label("Serves").fill("vip-banner")
    form.get_by_role("button", name="Add a rule").click()
    split = form.locator("fieldset.rule").nth(1)
    split.get_by_label("What it does").select_option("split")
    split = form.locator("fieldset.rule").nth(1)
    split.get_by_role("button", name="Add a condition").click()
    split.get_by_label("Attribute of condition 1 of rule 2").fill("country")
    split.get_by_label("Value of condition 1 of rule 2").fill("TR")
    # The rest: a 30 % rollout, by the slider beside its number.
    form.get_by_label(re.compile("^Roll out gradually")).check()
    slider = form.get_by_label("Users who get the on value, slider")
    slider.fill("30")
    expect(form.get_by_label("Users who get the on value (%)")).to_have_value("30")

    # Who gets what: 1,000 users u1…u1000, everyone counted once, by the server.
    preview = page.locator(".preview-card")
    preview.get_by_role("button", name="Update the preview").click()
    expect(page.locator("#preview-table caption")).to_have_text("1,000 users")
    counts = _preview_counts(page)
    assert sum(counts.values()) == 1000
    assert set(counts) == {"on", "off"}  # nobody is a VIP nor in Turkey
    assert 250 < counts["on"] < 350  # the 30 % rollout
    preview.get_by_label("What every user in the sample has").fill("segment = vip")
    expect(
        page.locator('#preview-table tr[data-served="vip-banner"] [data-count]')
    ).to_have_attribute("data-count", "1000")
    preview.get_by_label("What every user in the sample has").fill("country = TR")
    expect(page.locator('#preview-table tr[data-served="control"]')).to_be_visible()
    counts = _preview_counts(page)
    assert sum(counts.values()) == 1000, counts
    assert 620 < counts["control"] < 780, counts
    shot(page, "20-flag-editor-preview")

    form.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/admin/feature-flags/[0-9a-f-]{36}$"))
    expect(page.locator("#flash")).to_have_text("Saved: browser_banner, version 1.")
    # What was saved reads back into the same screen.
    form = page.locator("#flag-form")
    expect(form.get_by_label("Value of condition 1 of rule 1")).to_have_value("vip, premium")
    expect(form.get_by_label("Share of variant 1 (%)", exact=True)).to_have_value("70")
    expect(form.get_by_label("Users who get the on value (%)")).to_have_value("30")
    # A second save is version 2 (the script sends the version it edits).
    form.get_by_label("Users who get the on value (%)").fill("45")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#flash")).to_have_text("Saved: browser_banner, version 2.")
    # The API's refusal lands on the field it names: a rule id with a space.
    form = page.locator("#flag-form")
    form.locator('[name="rules.0.id"]').fill("bad id")
    form.get_by_role("button", name="Save").click()
    expect(page.locator('[data-error-for="rules.0.id"]')).not_to_be_empty()
    expect(form.locator('[name="rules.0.id"]')).to_have_attribute("aria-invalid", "true")
    shot(page, "21-flag-editor-error")
    page.goto("/admin/feature-flags")
    expect(page.get_by_role("link", name="browser_banner", exact=True)).to_be_visible()


def test_design_an_experiment_with_the_calculator_and_read_results_at_800_px(page: Page) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/admin/ab-tests/new")
    calc = page.locator("#calculator")
    calc.get_by_label("Baseline conversion (%)").fill("10")
    calc.get_by_label("The effect is").select_option("absolute")
    calc.get_by_label("Minimum detectable effect").fill("2")
    expect(page.locator("#plan-per-variant")).to_have_text("3,841 units")
    calc.get_by_label("Eligible units a day").fill("1000")
    expect(page.locator("#plan-days")).to_have_text("8 days")
    calc.get_by_label("Baseline conversion (%)").fill("99")
    expect(calc.locator('[data-error-for="effect"]')).not_to_be_empty()
    calc.get_by_label("Baseline conversion (%)").fill("10")
    form = page.locator("#experiment-form")
    form.locator('[name="key"]').fill("browser_test")
    form.locator('[name="name"]').fill("Browser test")
    form.get_by_role("button", name="Add a secondary metric").click()
    form.get_by_role("button", name="Add a condition").click()
    form.get_by_label("Attribute of condition 1 of the audience").fill("country")
    form.get_by_label("Operator of condition 1 of the audience").select_option(label="is one of")
    form.get_by_label("Value of condition 1 of the audience").fill("TR, DE")
    shot(page, "22-experiment-design")
    form.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/admin/ab-tests/[0-9a-f-]{36}$"))
    expect(page.locator("#flash")).to_have_text("Saved: browser_test, version 1.")
    expect(page.get_by_label("Value of condition 1 of the audience")).to_have_value("TR, DE")
    page.get_by_role("button", name="Start").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Confirm").click()
    expect(page.locator("#flash")).to_have_text("Experiment started.")
    results = page.locator("#results")
    expect(results.locator(".metric")).to_have_count(2)  # primary and secondary
    expect(results.locator("#verdict")).to_contain_text("Keep running")
    expect(results.locator("#srm")).to_be_visible()
    page.set_viewport_size({"width": 800, "height": 900})
    for frame in results.locator(".table-scroll").all():
        fits = frame.evaluate(
            "f => f.scrollWidth <= f.clientWidth + 1 && "
            "f.getBoundingClientRect().right <= f.closest('.card').getBoundingClientRect().right"
        )
        assert fits
    overflow = sideways(page)
    assert overflow <= 1
    shot(page, "23-experiment-results-800")
