"""A campaign delivery sends only the selections not sent on its channel yet: delivering again
sends nothing, new grants go out alone, another channel gets them all; on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.learning import synthetic
from tests.e2e.test_campaigns import campaign_body, setup
from tests.e2e.test_promotions import _customers
from tests.e2e.test_webhooks import quick, until
from tests.receiver import receiving


def test_a_delivery_sends_only_what_its_channel_has_not_had(
    database_url: str, tmp_path: Path
) -> None:
    with (
        receiving() as receiver,
        TestClient(
            create_app(quick(database_url, tmp_path)), raise_server_exceptions=False
        ) as client,
    ):
        owner, _ = setup(client, database_url)
        made = owner.post("/v1/admin/tenants/QT/campaigns", json=campaign_body(budget="300.00"))
        cid = made.json()["id"]
        shoppers = synthetic.shoppers(400, seed=9)
        first = owner.post(
            f"/v1/admin/campaigns/{cid}/recommend", json={"customers": _customers(shoppers, 0, 200)}
        ).json()
        granted = {g["customer_id"]: g["code"] for g in first["treated"]}
        assert len(granted) > 3

        def deliver(channel: str) -> list[dict[str, object]]:
            sent = owner.post(
                f"/v1/admin/campaigns/{cid}/deliver",
                json={"channel": channel, "webhook": receiver.url, "batch_size": 50},
            )
            assert sent.status_code == 200, sent.text
            return list(sent.json())

        def received_codes(n: int) -> dict[str, str]:
            codes: dict[str, str] = {}
            for got in receiver.wait_for(n):
                body = json.loads(got.body)
                codes.update({s["customer_id"]: s["code"] for s in body["selections"]})
            return codes

        batches = deliver("email")
        assert sum(int(str(b["count"])) for b in batches) == len(granted)
        assert received_codes(len(batches)) == granted

        # Again: everything was sent on email already.
        assert deliver("email") == []

        # New grants: only they go out on email; SMS has had nothing, so it gets all of them.
        second = owner.post(
            f"/v1/admin/campaigns/{cid}/recommend",
            json={"customers": _customers(shoppers, 200, 200)},
        ).json()
        new = {g["customer_id"]: g["code"] for g in second["treated"]}
        assert new
        seen = len(receiver.received)
        batches = deliver("email")
        assert sum(int(str(b["count"])) for b in batches) == len(new)
        assert received_codes(seen + len(batches)) == granted | new
        later = [json.loads(r.body) for r in receiver.received[seen:]]
        assert {s["code"] for b in later for s in b["selections"]} == set(new.values())
        batches = deliver("sms")
        assert sum(int(str(b["count"])) for b in batches) == len(granted) + len(new)

        log = until(
            lambda: owner.get(f"/v1/admin/campaigns/{cid}/deliveries").json(),
            lambda rows: all(r["status"] != "QUEUED" for r in rows),
        )
        sent_email = sum(r["count"] for r in log if r["channel"] == "email")
        assert sent_email == len(granted) + len(new)
