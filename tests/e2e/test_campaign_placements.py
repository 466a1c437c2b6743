"""A decisioning placement serves a customer's campaign grant (issue 33, item 6): an offer whose
representation names ``{{grant.code}}`` (and the discount, currency, expiry) is proposed only to
a profile holding an unredeemed grant, its content filled with that grant; on SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.campaigns import core
from offerengine.learning import synthetic
from tests.conftest import make_settings
from tests.e2e.test_campaigns import campaign_body, setup
from tests.e2e.test_promotions import _customers
from tests.helpers import Api


def _make(owner: Api, kind: str, body: dict[str, Any]) -> str:
    made = owner.post(f"/v1/admin/tenants/QT/decisioning/{kind}", json=body)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_a_placement_serves_the_profiles_grant_and_only_to_a_granted_profile(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        owner, runtime = setup(client, database_url)
        cid = owner.post("/v1/admin/tenants/QT/campaigns", json=campaign_body()).json()["id"]
        found = owner.post(
            f"/v1/admin/campaigns/{cid}/recommend",
            json={"customers": _customers(synthetic.shoppers(300, seed=2), 0, 300)},
        ).json()
        grant = found["treated"][0]
        held = found["holdout"][0]["customer_id"]

        placement = _make(
            owner, "placements", {"name": "App banner", "channel": "app", "content_type": "json"}
        )
        text = "{{grant.discount}} {{grant.currency}} off with {{grant.code}}"
        personal = [{"placement_id": placement, "content": {"text": text, "kind": "grant"}}]
        plain = [{"placement_id": placement, "content": {"text": "Welcome"}}]
        _make(
            owner,
            "offers",
            {
                "name": "Your code",
                "status": "approved",
                "tags": ["app"],
                "priority": 10,
                "representations": personal,
            },
        )
        _make(
            owner,
            "offers",
            {"name": "Welcome", "status": "approved", "tags": ["app"], "representations": plain},
        )
        collection = _make(owner, "collections", {"name": "App", "tags": ["app"]})
        fallback = _make(owner, "fallback-offers", {"name": "None", "representations": plain})
        activity = _make(
            owner,
            "activities",
            {
                "name": "Banner",
                "status": "approved",
                "placement_id": placement,
                "collection_id": collection,
                "fallback_offer_id": fallback,
            },
        )

        def decide(profile: str) -> dict[str, Any]:
            body = {"profile": {"id": profile}, "activities": [activity], "explain": True}
            response = runtime.post("/v1/decisions", json=body)
            assert response.status_code == 200, response.text
            return dict(response.json())

        served = decide(grant["customer_id"])
        [item] = served["propositions"][0]["items"]
        assert item["name"] == "Your code"
        assert item["representation"] == {
            "text": f"{grant['discount']} TRY off with {grant['code']}",
            "kind": "grant",
        }
        # Held out, or never targeted: the grant's offer is passed over, with why.
        for other in (held, "nobody"):
            decided = decide(other)
            [item] = decided["propositions"][0]["items"]
            assert item["name"] == "Welcome"
            assert "{{grant" not in str(decided)
            fates = str(decided["explain"])
            assert "the profile holds no open grant" in fates


def test_grant_tokens_are_filled_and_only_named_ones() -> None:
    grant = {"code": "G-1", "discount": "5.00", "currency": "EUR", "promotion": "P"}
    content = {"t": "{{grant.code}}/{{grant.promotion}} {{grant.other}}", "n": 3}
    assert core.uses_grant(content)
    assert not core.uses_grant({"t": "plain", "n": 3})
    assert core.fill(content, grant) == {"t": "G-1/P {{grant.other}}", "n": 3}
