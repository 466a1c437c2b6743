"""The campaign screens: the campaigns list (generic editor), the results list, and a campaign's
measured uplift with its plots, for a logged-in owner of the demo airline."""

from __future__ import annotations

import json
import re

from offerengine.learning import synthetic
from offerengine.settings import Settings
from tests.e2e._admin import logged_in, trained_campaign
from tests.e2e.test_admin_pages import demo_settings
from tests.e2e.test_promotions import _customers

__all__ = ["demo_settings"]  # the module's fixture, shared


def test_a_campaigns_results_page_plots_its_arms_and_deciles(demo_settings: Settings) -> None:
    client = logged_in(demo_settings, "own@oe.example")
    try:
        headers, campaign = trained_campaign(
            client, demo_settings, code="WINBACK", name="Win back the browsers", channel="email"
        )
        shoppers = synthetic.shoppers(400, seed=3)
        found = client.post(
            f"/v1/admin/campaigns/{campaign['id']}/recommend",
            json={"customers": _customers(shoppers, 0, 400)},
            headers=headers,
        ).json()
        treated, holdout = len(found["treated"]), len(found["holdout"])
        assert treated
        assert holdout

        listed = client.get("/admin/campaigns").text
        assert "WINBACK" in listed
        results = client.get("/admin/campaign-results").text
        row = results[results.index('id="campaign-WINBACK"') :]
        row = row[: row.index("</tr>")]
        assert "300.00 EUR" in row
        assert "30.0 %" in row
        assert f"/admin/campaigns/{campaign['id']}/measurement" in row

        page = client.get(f"/admin/campaigns/{campaign['id']}/measurement")
        assert page.status_code == 200
        assert f"{treated} / {holdout}" in page.text
        assert f"0 of {treated}" in page.text  # nothing redeemed yet
        config = re.search(
            r'<script type="application/json" id="cfg-deciles">(.*?)</script>', page.text, re.S
        )
        assert config
        deciles = json.loads(config.group(1))
        assert deciles["data"]["labels"][0] == "decile 1"
        predicted = deciles["data"]["datasets"][0]["data"]
        assert predicted == sorted(predicted, reverse=True)
        # No order yet: the conversion plot says so instead of drawing zeros.
        assert 'id="empty-conversion"' in page.text
        # The promotion's uplift model versions with their Qini, and which serves.
        models = page.text[page.text.index('id="models-SAVE15"') :]
        models = models[: models.index("</table>")]
        assert "<td>1</td>" in models
        assert "<td>yes</td>" in models
        # The delivery log, with the selections' exports per channel.
        assert "Nothing delivered yet." in page.text
        exported = client.get(f"/v1/admin/campaigns/{campaign['id']}/selections?channel=sms")
        assert exported.status_code == 200, exported.text
        page = client.get(f"/admin/campaigns/{campaign['id']}/measurement").text
        log = page[page.index('id="deliveries"') :]
        assert "<td>sms</td><td>csv</td><td>1</td>" in log[: log.index("</table>")]
        missing = client.get(
            "/admin/campaigns/00000000-0000-0000-0000-000000000000/measurement"
        ).text
        assert "No campaign" in missing
    finally:
        client.__exit__(None, None, None)
