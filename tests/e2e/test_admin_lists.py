"""Admin lists are paged, filtered, searched and counted in the database, on SQLite and
PostgreSQL: pricing rules (paged in memory before), decisioning objects (listed whole before),
products and commission rates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from tests.conftest import make_settings
from tests.helpers import Api, problem, tenant_api


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(database_url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def every_page(api: Api, path: str, limit: int, **params: Any) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        found = api.get(path, params=query)
        assert found.status_code == 200, found.text
        pages.append(found.json()["items"])
        cursor = found.json()["next_cursor"]
        if cursor is None:
            return pages


def test_pricing_rules_page_in_the_order_they_apply_with_tags_and_counts_in_the_database(
    client: TestClient,
) -> None:
    api = tenant_api(client)
    rules = "/v1/admin/tenants/AA/pricing-rules"
    for i, (priority, tags) in enumerate(
        [(5, ["summer"]), (1, []), (5, ["summer", "web"]), (3, ["web"]), (1, ["summer"])]
    ):
        made = api.post(
            rules,
            json={
                "rule_name": f"rule-{i}",
                "rule_type": "CUSTOM",
                "priority": priority,
                "tags": tags,
                "adjustments": {"type": "MULTIPLIER", "value": "1.01"},
            },
        )
        assert made.status_code == 201, made.text

    pages = every_page(api, rules, 2)

    assert [len(p) for p in pages] == [2, 2, 1]
    assert [r["rule_name"] for p in pages for r in p] == [
        "rule-1",
        "rule-4",
        "rule-3",
        "rule-0",
        "rule-2",
    ]
    tagged = every_page(api, rules, 1, tag="summer", count="true")
    assert [r["rule_name"] for p in tagged for r in p] == ["rule-4", "rule-0", "rule-2"]
    counted = api.get(rules, params={"tag": "web", "count": "true"}).json()
    assert counted["total"] == 2
    assert api.get(rules).json()["total"] is None  # counted only when asked
    bad = problem(api.get(rules, params={"cursor": "bm90LW91cnM"}), 422)
    assert bad["errors"][0]["loc"] == ["query", "cursor"]


def test_decisioning_offers_page_by_name_searched_and_counted(client: TestClient) -> None:
    api = tenant_api(client)
    made = api.post(
        "/v1/admin/tenants/AA/decisioning/placements",
        json={"name": "home", "channel": "web", "content_type": "json"},
    ).json()
    rows = [
        {
            "name": f"offer-{i:03d}",
            "status": "approved" if i % 3 else "draft",
            "representations": [{"placement_id": made["id"], "content": {"t": i}}],
        }
        for i in range(120)
    ]
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    done = api.post(
        "/v1/admin/tenants/AA/imports/decisioning-offers",
        content=body,
        headers={"Content-Type": "application/jsonl"},
    )
    assert done.status_code == 200, done.text
    offers = "/v1/admin/tenants/AA/decisioning/offers"

    pages = every_page(api, offers, 50)

    assert [len(p) for p in pages] == [50, 50, 20]
    names = [o["name"] for p in pages for o in p]
    assert names == sorted(names) == [r["name"] for r in rows]
    assert len(api.get(offers).json()["items"]) == 50  # a page by default
    drafts = api.get(offers, params={"status": "draft", "count": "true", "limit": 5}).json()
    assert drafts["total"] == 40
    assert [o["name"] for o in drafts["items"]] == [f"offer-{i:03d}" for i in (0, 3, 6, 9, 12)]
    found = api.get(offers, params={"q": "ER-11", "count": "true"}).json()
    assert [o["name"] for o in found["items"]] == [f"offer-11{i}" for i in range(10)]
    assert found["total"] == 10
    placements = api.get(
        "/v1/admin/tenants/AA/decisioning/placements", params={"count": "true"}
    ).json()
    assert placements["total"] == 1


def test_products_and_commission_rates_count_what_their_filters_find(client: TestClient) -> None:
    api = tenant_api(client)
    csv_rows = "product_type,product_code,name,base_price\n" + "".join(
        f"{'SEAT' if i % 4 == 0 else 'BAG'},P{i:04d},Thing {i},1.00\n" for i in range(200)
    )
    done = api.post(
        "/v1/admin/tenants/AA/imports/products",
        content=csv_rows.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert done.status_code == 200, done.text
    products = "/v1/admin/tenants/AA/products"
    assert api.get(products, params={"count": "true"}).json()["total"] == 200
    seats = api.get(products, params={"type": "SEAT", "count": "true", "limit": 10}).json()
    assert (seats["total"], len(seats["items"])) == (50, 10)
    assert api.get(products, params={"q": "thing 19", "count": "true"}).json()["total"] == 11

    for i in range(12):
        made = api.post(
            "/v1/admin/tenants/AA/commission-rates",
            json={
                "commission_type": "PERCENTAGE",
                "rate": "5",
                "seller_id": f"S{i % 3}",
            },
        )
        assert made.status_code == 201, made.text
    rates = "/v1/admin/tenants/AA/commission-rates"
    one_seller = api.get(rates, params={"seller_id": "S1", "count": "true", "limit": 2}).json()
    assert (one_seller["total"], len(one_seller["items"])) == (4, 2)
    assert sum(len(p) for p in every_page(api, rates, 5)) == 12


def test_feature_flags_page_by_key_with_their_tag_filtered_in_the_database(
    client: TestClient,
) -> None:
    api = tenant_api(client)
    flags = "/v1/admin/tenants/AA/feature-flags"
    for i in range(7):
        made = api.post(
            flags,
            json={
                "key": f"flag-{i}",
                "name": f"Flag {i}",
                "type": "BOOLEAN",
                "value": True,
                "tags": ["beta"] if i % 2 else [],
            },
        )
        assert made.status_code == 201, made.text

    pages = every_page(api, flags, 3)

    assert [[f["key"] for f in p] for p in pages] == [
        ["flag-0", "flag-1", "flag-2"],
        ["flag-3", "flag-4", "flag-5"],
        ["flag-6"],
    ]
    beta = every_page(api, flags, 2, tag="beta")
    assert [f["key"] for p in beta for f in p] == ["flag-1", "flag-3", "flag-5"]
    assert api.get(flags, params={"tag": "beta", "count": "true"}).json()["total"] == 3


def test_experiments_page_oldest_first_with_a_two_part_cursor(client: TestClient) -> None:
    api = tenant_api(client)
    experiments = "/v1/admin/tenants/AA/experiments"
    for i in range(5):
        made = api.post(
            experiments,
            json={
                "key": f"exp-{i}",
                "name": f"Experiment {i}",
                "unit": "profile_id",
                "variants": [{"key": "control", "weight": 50}, {"key": "b", "weight": 50}],
                "primary_metric": {"kind": "conversion", "event": "purchase"},
            },
        )
        assert made.status_code == 201, made.text

    pages = every_page(api, experiments, 2, count="true")

    assert [[e["key"] for e in p] for p in pages] == [
        ["exp-0", "exp-1"],
        ["exp-2", "exp-3"],
        ["exp-4"],
    ]
    assert api.get(experiments, params={"count": "true"}).json()["total"] == 5
    assert api.get(experiments, params={"status": "running", "count": "true"}).json()["total"] == 0
    wrong = problem(api.get(experiments, params={"cursor": "WyJ4IiwieSJd"}), 422)
    assert wrong["errors"][0]["loc"] == ["query", "cursor"]
