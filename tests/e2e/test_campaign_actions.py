"""A campaign's page gives an editor "Retrain now" and "Send deliveries": forms that POST to the
campaign's API with the session's CSRF token (as the admin script sends them); a viewer gets
neither, and a POST without the token changes nothing."""

from __future__ import annotations

import html
import re

from offerengine.learning import synthetic
from offerengine.settings import Settings
from tests.e2e._admin import logged_in, trained_campaign
from tests.e2e.test_admin_pages import demo_settings
from tests.e2e.test_promotions import _customers

__all__ = ["demo_settings"]  # the module's fixture, shared


def _form(page: str, form_id: str) -> tuple[str, str]:
    """The form's API address and its CSRF token."""
    found = re.search(rf'<form id="{form_id}" data-api="([^"]+)" data-method="POST"', page)
    assert found, f"no {form_id} on the page"
    rest = page[found.end() :]
    token = re.search(r'name="csrf_token" value="([^"]+)"', rest[: rest.index("</form>")])
    assert token
    return html.unescape(found.group(1)), token.group(1)


def test_an_editor_retrains_and_delivers_from_the_campaign_page(demo_settings: Settings) -> None:
    client = logged_in(demo_settings, "own@oe.example")
    try:
        headers, campaign = trained_campaign(
            client, demo_settings, code="ACTIONS", name="Actions on the page", channel="sms"
        )
        cid = campaign["id"]
        found = client.post(
            f"/v1/admin/campaigns/{cid}/recommend",
            json={"customers": _customers(synthetic.shoppers(200, seed=3), 0, 200)},
            headers=headers,
        ).json()
        treated = len(found["treated"])
        assert treated

        page = client.get(f"/admin/campaigns/{cid}/measurement").text
        retrain, retrain_token = _form(page, "retrain-form")
        deliver, deliver_token = _form(page, "deliver-form")
        assert retrain == f"/v1/admin/campaigns/{cid}/retrain"
        assert deliver == f"/v1/admin/campaigns/{cid}/deliver"
        assert retrain_token == deliver_token == headers["X-CSRF-Token"]
        assert '<option value="sms" selected>' in page

        # Without the session's token: refused, nothing sent.
        body = {"channel": "sms", "webhook": "https://hooks.example.com/oe", "batch_size": 50}
        refused = client.post(deliver, json=body)
        assert refused.status_code == 403, refused.text
        assert client.get(f"/v1/admin/campaigns/{cid}/deliveries").json() == []

        # Retrain now: the campaign is too small to retrain, and says so.
        done = client.post(retrain, headers={"X-CSRF-Token": retrain_token})
        assert done.status_code == 200, done.text
        [promotion] = done.json()["promotions"]
        assert promotion["promotion"] == "SAVE15"
        assert "at least 100 are needed" in promotion["skipped"]

        # Send deliveries: every selection once; again, nothing more.
        sent = client.post(deliver, json=body, headers={"X-CSRF-Token": deliver_token})
        assert sent.status_code == 200, sent.text
        assert sum(b["count"] for b in sent.json()) == treated
        again = client.post(deliver, json=body, headers={"X-CSRF-Token": deliver_token})
        assert again.json() == []
        page = client.get(f"/admin/campaigns/{cid}/measurement").text
        log = page[page.index('id="deliveries"') :]
        assert "<td>sms</td><td>webhook</td><td>1</td>" in log[: log.index("</table>")]
    finally:
        client.__exit__(None, None, None)

    viewer = logged_in(demo_settings, "see@oe.example")
    try:
        page = viewer.get(f"/admin/campaigns/{cid}/measurement").text
        assert "Retrain now" not in page
        assert 'id="deliver-form"' not in page
    finally:
        viewer.__exit__(None, None, None)
