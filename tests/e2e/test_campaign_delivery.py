"""Delivering a campaign's selections (issue 33, item 6): per channel as streamed CSV and
Parquet, and as a signed webhook per batch through the outbox, with the delivery log; on SQLite
and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.learning import synthetic
from offerengine.webhooks import core as hooks
from tests.e2e.test_campaigns import campaign_body, setup
from tests.e2e.test_promotions import _customers
from tests.e2e.test_webhooks import quick, until
from tests.helpers import error_locs, problem
from tests.receiver import receiving


def test_selections_export_per_channel_and_go_to_a_signed_webhook_per_batch(
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
        found = owner.post(
            f"/v1/admin/campaigns/{cid}/recommend",
            json={"customers": _customers(synthetic.shoppers(300, seed=9), 0, 300)},
        ).json()
        granted = {g["customer_id"]: g["code"] for g in found["treated"]}
        held = {h["customer_id"] for h in found["holdout"]}
        assert len(granted) > 5

        # CSV for SMS, streamed in batches of 4: every grant once, no held-out customer.
        got = owner.get(f"/v1/admin/campaigns/{cid}/selections?channel=sms&batch_size=4")
        assert got.status_code == 200, got.text
        assert got.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(got.text)))
        assert {r["customer_id"]: r["code"] for r in rows} == granted
        assert not held & {r["customer_id"] for r in rows}
        assert all(r["channel"] == "sms" and r["code"] in r["message"] for r in rows)
        assert all(len(r["message"]) <= 160 for r in rows)
        # Parquet for push: the same selections.
        got = owner.get(f"/v1/admin/campaigns/{cid}/selections?channel=push&format=parquet")
        assert got.status_code == 200, got.text
        table = pq.read_table(io.BytesIO(got.content))
        assert dict(zip(table["customer_id"].to_pylist(), table["code"].to_pylist(), strict=True))
        assert set(table["customer_id"].to_pylist()) == set(granted)
        # Bad input names the field and logs nothing.
        bad = owner.get(f"/v1/admin/campaigns/{cid}/selections?channel=fax")
        assert error_locs(problem(bad, 422)) == [["query", "channel"]]
        bad = owner.post(
            f"/v1/admin/campaigns/{cid}/deliver",
            json={"channel": "email", "webhook": "ftp://example.com/x"},
        )
        assert error_locs(problem(bad, 422)) == [["body", "webhook"]]

        # The webhook: a signed POST per batch of 5.
        sent = owner.post(
            f"/v1/admin/campaigns/{cid}/deliver",
            json={"channel": "email", "webhook": receiver.url, "batch_size": 5},
        )
        assert sent.status_code == 200, sent.text
        batches = -(-len(granted) // 5)
        assert [b["batch"] for b in sent.json()] == list(range(1, batches + 1))
        received = receiver.wait_for(batches)
        secret = owner.get("/v1/admin/tenants/QT/webhooks/secret").json()["secret"]
        codes = {}
        for got_one in received:
            assert hooks.verify(
                got_one.headers[hooks.SIGNATURE_HEADER], got_one.body, secret, now=int(time.time())
            )
            body = json.loads(got_one.body)
            assert body["channel"] == "email"
            assert len(body["selections"]) <= 5
            codes.update({s["customer_id"]: s["code"] for s in body["selections"]})
        assert codes == granted

        log = until(
            lambda: owner.get(f"/v1/admin/campaigns/{cid}/deliveries").json(),
            lambda rows: all(r["status"] != "QUEUED" for r in rows),
        )
        hooks_log = [r for r in log if r["method"] == "webhook"]
        assert {(r["status"], r["attempts"]) for r in hooks_log} == {("DELIVERED", 1)}
        assert sum(r["count"] for r in hooks_log) == len(granted)
        csv_log = [r for r in log if r["method"] == "csv"]
        assert [r["channel"] for r in csv_log] == ["sms"] * -(-len(granted) // 4)
        assert sum(r["count"] for r in csv_log) == len(granted)
        assert [r["count"] for r in log if r["method"] == "parquet"] == [len(granted)]
