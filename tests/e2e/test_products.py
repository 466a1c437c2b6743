from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import SEAT, Api, error_locs, problem, tenant_api

PRODUCTS = "/v1/admin/tenants/OE/products"


@pytest.fixture
def owner(client: TestClient) -> Api:
    return tenant_api(client, "OE")


def make(api: Api, **fields: Any) -> dict[str, Any]:
    response = api.post(PRODUCTS, json=SEAT | fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_the_seed_product_payload_is_accepted_as_written(owner: Api) -> None:
    seed_body = {
        "product_type": "SEAT",
        "product_code": "SEAT-EXTRA-LEG",
        "name": "Extra Legroom Seat",
        "description": "Seats with 34-36 inches of legroom",
        "base_price_nuc": 3000,
        "metadata": {"legroom_inches": 35, "recline_inches": 5, "available_rows": [12, 13, 14, 15]},
    }
    created = owner.post(PRODUCTS, json=seed_body)
    assert created.status_code == 201, created.text
    body = created.json()
    # base_price_nuc is minor units of NUC, the filing unit: 3000 = NUC 30.00
    assert (body["base_price"], body["currency"]) == ("30.00", "NUC")
    assert body["metadata"]["available_rows"] == [12, 13, 14, 15]
    assert created.headers["etag"] == '"1"'


def test_a_price_defaults_to_the_tenant_currency_and_keeps_its_minor_units(
    client: TestClient,
) -> None:
    api = tenant_api(client, "JP", base_currency="JPY")
    created = api.post(
        "/v1/admin/tenants/JP/products",
        json={
            "product_type": "MEAL",
            "product_code": "M1",
            "name": "Bento",
            "base_price": 1200,
            "cost": "450",
        },
    )
    assert created.status_code == 201, created.text
    assert (created.json()["base_price"], created.json()["cost"], created.json()["currency"]) == (
        "1200",
        "450",
        "JPY",
    )


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"base_price": "30.001"}, ["body", "base_price"]),  # USD has 2 decimals; never rounded
        ({"base_price": "-1"}, ["body", "base_price"]),
        ({"base_price": "NaN"}, ["body", "base_price"]),
        ({"currency": "ABC"}, ["body", "currency"]),
        ({"currency": "usd"}, ["body", "currency"]),
        ({"product_type": "seat"}, ["body", "product_type"]),
        ({"product_code": "has space"}, ["body", "product_code"]),
        ({"name": "  "}, ["body", "name"]),
        ({"metadata": [1, 2]}, ["body", "metadata"]),
        ({"unknown_field": 1}, ["body", "unknown_field"]),
        ({"cost": "1.234"}, ["body", "cost"]),
    ],
)
def test_bad_product_fields_are_422_naming_the_field_and_change_nothing(
    owner: Api, fields: dict[str, Any], loc: list[str]
) -> None:
    body = problem(owner.post(PRODUCTS, json=SEAT | fields), 422)
    assert loc in error_locs(body)
    assert owner.get(PRODUCTS).json()["items"] == []


def test_both_price_forms_at_once_are_refused(owner: Api) -> None:
    body = problem(owner.post(PRODUCTS, json=SEAT | {"base_price_nuc": 3000}), 422)
    assert "not both" in body["detail"]


def test_product_codes_are_unique_within_a_tenant_only(client: TestClient, owner: Api) -> None:
    make(owner)
    assert error_locs(problem(owner.post(PRODUCTS, json=SEAT), 409)) == [["body", "product_code"]]
    other = tenant_api(client, "ZZ")
    assert other.post("/v1/admin/tenants/ZZ/products", json=SEAT).status_code == 201


def test_products_filter_search_and_page_by_code(owner: Api) -> None:
    for i in range(7):
        make(
            owner,
            product_code=f"SEAT-{i}",
            name=f"Seat {i}",
            category="STANDARD" if i % 2 else "PREMIUM",
        )
    make(
        owner,
        product_type="BAG",
        product_code="BAG-23",
        name="Checked bag",
        category=None,
        is_active=False,
    )
    assert [
        p["product_code"] for p in owner.get(PRODUCTS, params={"type": "BAG"}).json()["items"]
    ] == ["BAG-23"]
    assert len(owner.get(PRODUCTS, params={"category": "PREMIUM"}).json()["items"]) == 4
    assert [
        p["product_code"] for p in owner.get(PRODUCTS, params={"active": False}).json()["items"]
    ] == ["BAG-23"]
    assert [
        p["product_code"] for p in owner.get(PRODUCTS, params={"q": "checked"}).json()["items"]
    ] == ["BAG-23"]
    assert owner.get(PRODUCTS, params={"q": "%"}).json()["items"] == []  # wildcards are literal

    seen, cursor = [], None
    while True:
        page = owner.get(
            PRODUCTS, params={"limit": 3} | ({"cursor": cursor} if cursor else {})
        ).json()
        seen += [p["product_code"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert len(seen) == 8
    assert error_locs(problem(owner.get(PRODUCTS, params={"cursor": "garbage"}), 422)) == [
        ["query", "cursor"]
    ]


def test_updating_with_if_match_refuses_a_stale_version(owner: Api) -> None:
    product = make(owner)
    url = f"/v1/admin/products/{product['id']}"
    first = owner.put(url, json=SEAT | {"base_price": "35.00"}, headers={"If-Match": '"1"'})
    assert first.status_code == 200, first.text
    assert (first.json()["version"], first.headers["etag"]) == (2, '"2"')
    stale = owner.put(url, json=SEAT | {"base_price": "40.00"}, headers={"If-Match": '"1"'})
    assert problem(stale, 409)["current_version"] == 2
    stale_body = owner.put(url, json=SEAT | {"base_price": "40.00", "version": 1})
    problem(stale_body, 409)
    assert owner.get(url).json()["base_price"] == "35.00"
    problem(owner.put(url, json=SEAT, headers={"If-Match": "yesterday"}), 422)


def test_an_identical_update_makes_no_new_version(owner: Api) -> None:
    product = make(owner)
    again = owner.put(f"/v1/admin/products/{product['id']}", json=SEAT)
    assert again.json()["version"] == 1
    versions = owner.get(f"/v1/admin/products/{product['id']}/versions").json()["items"]
    assert [v["version"] for v in versions] == [1]


def test_a_deleted_product_is_gone_from_reads(owner: Api) -> None:
    product = make(owner)
    assert owner.delete(f"/v1/admin/products/{product['id']}").status_code == 204
    problem(owner.get(f"/v1/admin/products/{product['id']}"), 404)
    assert owner.get(PRODUCTS).json()["items"] == []


def test_bulk_json_creates_and_updates_by_code(owner: Api) -> None:
    make(owner)
    rows = [
        SEAT | {"base_price": "31.00"},
        {"product_type": "BAG", "product_code": "BAG-23", "name": "Bag", "base_price": "35"},
        {
            "product_type": "MEAL",
            "product_code": "MEAL-HOT",
            "name": "Hot meal",
            "base_price_nuc": 1500,
        },
    ]
    result = owner.post(f"{PRODUCTS}/bulk", json={"products": rows})
    assert result.status_code == 200, result.text
    assert (result.json()["created"], result.json()["updated"], result.json()["unchanged"]) == (
        2,
        1,
        0,
    )
    again = owner.post(f"{PRODUCTS}/bulk", json={"products": rows}).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)


def test_bulk_with_one_bad_row_imports_nothing_and_lists_every_bad_row(owner: Api) -> None:
    rows = [
        {"product_type": "BAG", "product_code": "BAG-23", "name": "Bag", "base_price": "35"},
        {"product_type": "bag", "product_code": "BAG-32", "name": "Bag", "base_price": "35.999"},
        {"product_type": "BAG", "product_code": "BAG-23", "name": "Again", "base_price": "1"},
    ]
    body = problem(owner.post(f"{PRODUCTS}/bulk", json={"products": rows}), 422)
    assert [r["row"] for r in body["rows"]] == [2, 3]
    assert ["products", 1, "product_type"] in error_locs(body)
    assert ["products", 2, "product_code"] in error_locs(body)
    assert owner.get(PRODUCTS).json()["items"] == []


def test_bulk_csv_upload_round_trips_with_the_csv_export(owner: Api) -> None:
    csv_text = (
        "product_type,product_code,name,description,category,base_price,currency,cost,metadata,is_active\n"
        'SEAT,SEAT-1,"Seat, extra",,EXTRA_LEGROOM,45.00,USD,6.00,"{""legroom_inches"": 35}",true\n'
        "BAG,BAG-23,Checked bag,,CHECKED,35.00,,,,false\n"
    )
    result = owner.post(f"{PRODUCTS}/bulk", content=csv_text, headers={"Content-Type": "text/csv"})
    assert result.status_code == 200, result.text
    assert result.json()["created"] == 2
    seat = owner.get(PRODUCTS, params={"q": "SEAT-1"}).json()["items"][0]
    assert (seat["name"], seat["metadata"], seat["cost"]) == (
        "Seat, extra",
        {"legroom_inches": 35},
        "6.00",
    )

    exported = owner.get(f"{PRODUCTS}/export", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    again = owner.post(
        f"{PRODUCTS}/bulk", content=exported.text, headers={"Content-Type": "text/csv"}
    ).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)

    as_json = owner.get(f"{PRODUCTS}/export").json()
    assert owner.post(f"{PRODUCTS}/bulk", json=as_json).json()["unchanged"] == 2


def test_bulk_csv_errors_point_at_rows_and_columns(owner: Api) -> None:
    bad_header = owner.post(
        f"{PRODUCTS}/bulk", content="code,name\nX,Y\n", headers={"Content-Type": "text/csv"}
    )
    assert "unknown columns: code" in problem(bad_header, 422)["detail"]
    bad_rows = (
        "product_type,product_code,name,base_price,metadata\n"
        "BAG,B1,Bag,ten,\n"
        "BAG,B2,Bag,10,{not json}\n"
    )
    body = problem(
        owner.post(f"{PRODUCTS}/bulk", content=bad_rows, headers={"Content-Type": "text/csv"}), 422
    )
    assert ["products", 0, "base_price"] in error_locs(body)
    assert ["products", 1, "metadata"] in error_locs(body)


def test_bulk_refuses_other_media_types_with_415(owner: Api) -> None:
    response = owner.post(
        f"{PRODUCTS}/bulk", content=b"<xml/>", headers={"Content-Type": "application/xml"}
    )
    problem(response, 415)


def test_bulk_takes_a_bare_json_list_and_a_multipart_csv_file(owner: Api) -> None:
    listed = owner.post(f"{PRODUCTS}/bulk", json=[SEAT]).json()
    assert listed["created"] == 1
    csv_text = "product_type,product_code,name,base_price\nBAG,BAG-23,Checked bag,35.00\n"
    uploaded = owner.post(
        f"{PRODUCTS}/bulk", files={"file": ("products.csv", csv_text, "text/csv")}
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["created"] == 1
    problem(owner.post(f"{PRODUCTS}/bulk", files={"other": ("x.csv", csv_text, "text/csv")}), 422)


def test_bulk_with_malformed_json_is_a_400_like_everywhere_else(owner: Api) -> None:
    bad = owner.post(
        f"{PRODUCTS}/bulk", content=b'{"products": [', headers={"Content-Type": "application/json"}
    )
    problem(bad, 400)
    deep = owner.post(
        f"{PRODUCTS}/bulk", content=b"[" * 50_000, headers={"Content-Type": "application/json"}
    )
    problem(deep, 400)
    wrong = problem(owner.post(f"{PRODUCTS}/bulk", json={"products": "all"}), 422)
    assert error_locs(wrong) == [["body", "products"]]
