"""The admin UI's profile page: a profile looked up by id, with its features from behaviour."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from offerengine.settings import Settings
from tests.e2e.test_admin_pages import demo_settings, logged_in
from tests.helpers import Api, create_key

__all__ = ["demo_settings"]  # the module's demo database, with its people


def test_the_profile_page_shows_what_its_events_built(demo_settings: Settings) -> None:
    client = logged_in(demo_settings, "see@oe.example")  # a viewer
    try:
        runtime = Api(client, create_key(client, "OE", "runtime"))
        day = (datetime.now(UTC) - timedelta(days=3)).isoformat()
        sent = runtime.post(
            "/v1/events",
            json={
                "events": [
                    {"type": "purchase", "profile_id": "page-ada", "value": "80", "at": day,
                     "properties": {"category": "electronics"}},
                    {"type": "view", "profile_id": "page-ada", "at": day,
                     "properties": {"category": "books"}},
                ]
            },
        )  # fmt: skip
        assert sent.status_code == 202, sent.text
        page = client.get("/admin/profiles", params={"id": "page-ada"})
        assert page.status_code == 200
        text = html.unescape(page.text)
        windows = text[text.index('id="profile-windows"') :]
        purchases = windows[windows.index("Purchases") :]
        purchases = purchases[: purchases.index("</tr>")]
        assert [c.split(">")[-1] for c in purchases.split("</td>")[:-1]] == ["0", "1", "1", "1"]
        affinity = text[text.index('id="profile-affinity"') :]
        assert affinity.index("electronics") < affinity.index("books")  # 5 of 6, then 1 of 6
        assert "0.8333" in affinity
        missing = client.get("/admin/profiles", params={"id": "nobody"})
        assert missing.status_code == 200
        assert "No profile" in missing.text
        assert client.get("/admin/profiles", params={"id": "x" * 201}).status_code == 422
    finally:
        client.__exit__(None, None, None)
