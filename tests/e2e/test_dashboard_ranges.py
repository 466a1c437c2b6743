"""The dashboard over a date range from its URL, for an airline and a marketplace, on SQLite and
PostgreSQL: presets and from/to select the days drawn, a bad range is a 400 page saying what is
wrong (never a 500), and the marketplace's coupon usage shows with its empty state."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from offerengine.auth import users
from offerengine.auth.core import Role
from offerengine.demo import service as demo
from offerengine.settings import Settings
from offerengine.tenants import service as tenants
from offerengine.units import run_in_transaction
from tests.conftest import make_settings
from tests.e2e.test_admin_pages import PASSWORD, SYSTEM, demo_settings, logged_in

__all__ = ["demo_settings"]  # the module's fixture, shared


def test_presets_and_dates_choose_the_days_and_stay_in_the_url(demo_settings: Settings) -> None:
    client = logged_in(demo_settings, "own@oe.example")
    try:
        page = client.get("/admin").text
        assert "the last 30 days" in page
        assert 'href="/admin?days=7"' in page
        assert 'href="/admin?days=90"' in page
        assert re.search(r'href="/admin\?days=30" aria-current="true"', page)
        seven = client.get("/admin?days=7")
        assert seven.status_code == 200
        assert "the last 7 days" in seven.text
        assert re.search(r'href="/admin\?days=7" aria-current="true"', seven.text)
        assert "No decision in the last 7 days." in seven.text  # the demo decided nothing yet
        shown_max = re.search(r'name="to" type="date" value="[0-9-]+" max="([0-9-]+)"', page)
        assert shown_max  # today in the tenant's zone: no later day may be picked
        today = date.fromisoformat(shown_max.group(1))
        first = today - timedelta(days=2)
        dated = client.get(f"/admin?from={first.isoformat()}&to={today.isoformat()}")
        assert dated.status_code == 200
        assert f"{first.isoformat()} to {today.isoformat()}" in dated.text
        assert f'name="from" type="date" value="{first.isoformat()}"' in dated.text
        assert f"No decision in {first.isoformat()} to {today.isoformat()}." in dated.text
    finally:
        client.__exit__(None, None, None)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("from=2026-02-30", "from must be a date like 2026-12-01"),
        ("from=2026-12-05&to=2026-12-01", "must be on or before to"),
        ("to=2999-01-01", "is after today"),
        ("from=2001-01-01&to=2003-01-01", "a range spans at most 366 days"),
        ("days=45", "days must be one of 7, 30, 90"),
        ("days=%C2%B2", "days must be one of 7, 30, 90"),  # ², a digit int() refuses
    ],
)
def test_a_bad_range_is_a_400_page_that_says_what_is_wrong(
    demo_settings: Settings, query: str, says: str
) -> None:
    client = logged_in(demo_settings, "own@mkt.example")
    try:
        page = client.get(f"/admin?{query}")
        assert page.status_code == 400, page.text[:300]
        assert "The date range is not valid" in page.text
        assert says in page.text
        assert 'aria-invalid="true"' in page.text or "days must be" in says
        assert "the last 30 days" in page.text  # and the default range, drawn
    finally:
        client.__exit__(None, None, None)


def test_the_marketplace_dashboard_shows_coupon_usage_or_says_what_to_do(
    demo_settings: Settings,
) -> None:
    client = logged_in(demo_settings, "own@mkt.example")
    try:
        page = client.get("/admin?days=90").text
        headings = re.findall(r"<h2>([^<]+)</h2>", page)
        assert headings[:3] == ["Quotes and commission", "Coupons", "Decisioning"]
        assert "discount given (the last 90 days)" in page
        assert 'id="empty-coupon-days"' in page or 'id="chart-coupon-days"' in page
        if 'id="empty-coupon-days"' in page:
            assert 'href="/admin/marketplace/coupons"' in page
    finally:
        client.__exit__(None, None, None)


@pytest.mark.parametrize("code", ["OE", "MKT"])
def test_a_range_reads_on_each_database(database_url: str, tmp_path: Path, code: str) -> None:
    settings = make_settings(database_url, tmp_path)
    email = f"range@{code.lower()}.example"

    async def load(session) -> None:  # type: ignore[no-untyped-def]
        await demo.load(session, actor=SYSTEM)
        found = await tenants.find(session, code)
        await users.create_user(
            session,
            tenant_id=found.id if found else None,
            email=email,
            role=Role.OWNER,
            password=PASSWORD,
            actor=SYSTEM,
        )

    asyncio.run(run_in_transaction(settings, load))
    client = logged_in(settings, email)
    try:
        today = datetime.now(UTC).date()
        for query in ("", "?days=90", f"?from={(today - timedelta(days=10)).isoformat()}"):
            page = client.get(f"/admin{query}")
            assert page.status_code == 200, page.text[:500]
        assert client.get("/admin?from=2026-1-1x").status_code == 400
    finally:
        client.__exit__(None, None, None)
