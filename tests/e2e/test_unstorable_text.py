"""Text the database cannot store (NUL, lone UTF-16 surrogates, bytes that are not UTF-8) is
refused at the edge of every run-time route, naming the field, and nothing is recorded; valid
text, emoji sent as surrogate pairs included, still goes through. On SQLite and PostgreSQL (which
refuses NUL in text: once such a record reached it, recording stopped)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from tests.conftest import make_settings
from tests.e2e.test_decisioning import Setup
from tests.helpers import (
    FARE,
    SEAT,
    Api,
    add_flight,
    create_key,
    departure_day,
    passengers,
    platform,
    problem,
    search,
    tenant_api,
)

NUL = "x\x00y"
SURROGATE = "x\ud800y"  # a lone high surrogate: sent as the JSON escape \ud800
EMOJI = "x\U0001f600y"  # sent as the pair \ud83d\ude00
JSON = {"Content-Type": "application/json"}
MARK = "MARKMARK"  # replaced by bytes that are not UTF-8


@dataclass
class World:
    client: TestClient
    database_url: str
    runtime: Api
    activity: str
    offer_id: str
    flag: str = "banner"
    experiment: str = "checkout"

    def flush(self) -> None:
        """Write what the app holds behind its responses now (records are written in batches)."""
        client: Any = self.client
        client.portal.call(client.app.state.context.recorder.flush)

    def count(self, table: str) -> int:
        """The rows of ``table``, read from the database itself."""
        self.flush()
        query = f"SELECT count(*) FROM {table}"
        if self.database_url.startswith("sqlite:///"):
            with sqlite3.connect(self.database_url.removeprefix("sqlite:///")) as conn:
                return int(conn.execute(query).fetchone()[0])
        with psycopg.connect(self.database_url) as conn:
            row = conn.execute(query).fetchone()
            assert row is not None
            return int(row[0])


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    """A tenant with a decision activity, a flight with offers, a flag and a running experiment."""
    settings = make_settings(database_url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        owner = tenant_api(client, "ZZ")
        decisioning = Setup(owner)
        assert owner.post("/v1/admin/tenants/ZZ/products", json=FARE).status_code == 201
        add_flight(owner, "ZZ")
        flag = {"key": "banner", "name": "Banner", "type": "STRING", "value": "Hi"}
        assert owner.post("/v1/admin/tenants/ZZ/feature-flags", json=flag).status_code == 201
        experiment = {
            "key": "checkout",
            "name": "Checkout",
            "unit": "profile_id",
            "variants": [{"key": "control", "weight": 50}, {"key": "new", "weight": 50}],
            "primary_metric": {"kind": "conversion", "event": "purchase"},
        }
        created = owner.post("/v1/admin/tenants/ZZ/experiments", json=experiment)
        assert created.status_code == 201, created.text
        started = owner.post(f"/v1/admin/experiments/{created.json()['id']}/start")
        assert started.status_code == 200, started.text
        runtime = Api(client, create_key(client, "ZZ", "runtime"))
        offer = search(runtime)["offers"][0]["offer_id"]
        yield World(client, database_url, runtime, decisioning.home["id"], offer)


@dataclass(frozen=True)
class Route:
    """A run-time route, its body with a chosen text in one field (``text``) or as one key of a
    free-form object (``keyed``), where those sit, and the table a valid call adds to."""

    method: str
    path: str
    text: Callable[[World, str], Any]
    text_loc: list[Any]
    keyed: Callable[[World, str], Any]
    key_loc: list[Any]
    table: str | None
    status: int = 200
    headers: dict[str, str] | None = None


def _quote(text: str, key: str = "segment") -> dict[str, Any]:
    return {
        "items": [{"product_id": text, "quantity": 1, "unit_price": "10.00"}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "context": {key: "web"},
    }


def _order(world: World, text: str, key: str | None = None) -> dict[str, Any]:
    traveller = passengers(1)[0] | {"given_name": text}
    # An order has no free-form object; a key is checked wherever it is, before the schema.
    return {"offer_id": world.offer_id, "passengers": [traveller | ({key: 1} if key else {})]}


ROUTES = {
    "decisions": Route(
        "POST",
        "/v1/decisions",
        lambda w, t: {"profile": {"id": t}, "activities": [w.activity]},
        ["body", "profile", "id"],
        lambda w, k: {"profile": {"id": "p1"}, "context": {k: 1}, "activities": [w.activity]},
        ["body", "context"],
        "decisions",
    ),
    "quote": Route(
        "POST",
        "/v1/quote",
        lambda w, t: _quote(t),
        ["body", "items", 0, "product_id"],
        lambda w, k: _quote("sku-1", key=k),
        ["body", "context"],
        "quotes",
    ),
    "search": Route(
        "POST",
        "/v1/offers/search",
        lambda w, t: {
            "origin": "JFK",
            "destination": "LHR",
            "date": departure_day(),
            "customer": {"id": t},
        },
        ["body", "customer", "id"],
        lambda w, k: {
            "origin": "JFK",
            "destination": "LHR",
            "date": departure_day(),
            "context": {k: "web"},
        },
        ["body", "context"],
        "shop_searches",
    ),
    "events": Route(
        "POST",
        "/v1/events",
        lambda w, t: {"events": [{"type": "purchase", "profile_id": t}]},
        ["body", "events", 0, "profile_id"],
        lambda w, k: {"type": "purchase", "profile_id": "p1", "properties": {k: 1}},
        ["body", "properties"],
        "events",
        status=202,
    ),
    "profiles": Route(
        "PUT",
        "/v1/profiles/p1",
        lambda w, t: {"attributes": {"tier": t}},
        ["body", "attributes", "tier"],
        lambda w, k: {"attributes": {k: "GOLD"}},
        ["body", "attributes"],
        "profiles",
    ),
    "flag evaluation": Route(
        "POST",
        "/v1/feature-flags/banner/evaluate",
        lambda w, t: {"context": {"user_id": t}},
        ["body", "context", "user_id"],
        lambda w, k: {"context": {k: "web"}},
        ["body", "context"],
        None,
    ),
    "ofrep": Route(
        "POST",
        "/ofrep/v1/evaluate/flags/banner",
        lambda w, t: {"context": {"targetingKey": t}},
        ["body", "context", "targetingKey"],
        lambda w, k: {"context": {k: "web"}},
        ["body", "context"],
        None,
    ),
    "experiment assignment": Route(
        "POST",
        "/v1/experiments/checkout/assign",
        lambda w, t: {"unit_id": t},
        ["body", "unit_id"],
        lambda w, k: {"unit_id": "p1", "attributes": {k: "web"}},
        ["body", "attributes"],
        "experiment_exposures",
    ),
    "orders": Route(
        "POST",
        "/v1/orders",
        _order,
        ["body", "passengers", 0, "given_name"],
        lambda w, k: _order(w, "Ada", key=k),
        ["body", "passengers", 0],
        "orders",
        status=201,
        headers={"Idempotency-Key": "order-1"},
    ),
    "promotions": Route(
        "POST",
        "/v1/promotions/recommend",
        lambda w, t: {"customer_id": t},
        ["body", "customer_id"],
        lambda w, k: {"customers": [{"id": "c1", "features": {k: 1.0}}]},
        ["body", "customers", 0, "features"],
        None,
    ),
}


def _send(world: World, route: Route, body: bytes) -> Any:
    headers = JSON | (route.headers or {})
    return world.runtime.request(route.method, route.path, content=body, headers=headers)


def _valid(world: World, route: Route) -> None:
    response = _send(world, route, json.dumps(route.text(world, EMOJI)).encode())
    assert response.status_code == route.status, response.text


def _ofrep_refused(response: Any, code: str, loc: list[str]) -> str:
    """An OFREP refusal: a 400 with the protocol's error code, its detail naming the field."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errorCode"] == code, body
    assert body["errorDetails"].startswith(".".join(loc)), body
    return str(body["errorDetails"])


def _stored(world: World, route: Route) -> int:
    return world.count(route.table) if route.table else 0


@pytest.mark.parametrize("name", ROUTES)
def test_nul_and_lone_surrogates_are_422s_naming_the_field_and_store_nothing(
    world: World, name: str
) -> None:
    route = ROUTES[name]
    before = _stored(world, route)
    for bad, kind in ((NUL, "string_nul"), (SURROGATE, "string_lone_surrogate")):
        sent = json.dumps(route.text(world, bad)).encode()  # ensure_ascii: \u0000, \ud800
        assert b"\\u0000" in sent or b"\\ud800" in sent
        if name == "ofrep":  # OFREP answers its own error shape, a 400 (docs/flags.md)
            _ofrep_refused(_send(world, route, sent), "INVALID_CONTEXT", route.text_loc)
            keyed = json.dumps(route.keyed(world, bad)).encode()
            _ofrep_refused(_send(world, route, keyed), "INVALID_CONTEXT", route.key_loc)
            continue
        body = problem(_send(world, route, sent), 422)
        assert [(e["loc"], e["type"]) for e in body["errors"]] == [(route.text_loc, kind)]

        keyed = json.dumps(route.keyed(world, bad)).encode()
        body = problem(_send(world, route, keyed), 422)
        shown = "x\\u0000y" if bad == NUL else "x\\ud800y"
        assert [e["loc"] for e in body["errors"]] == [[*route.key_loc, shown, "[key]"]]
    assert _stored(world, route) == before
    # Valid text, with an emoji escaped as a surrogate pair, is taken and recorded.
    _valid(world, route)
    if route.table:
        assert _stored(world, route) > before


@pytest.mark.parametrize("name", ROUTES)
def test_a_body_that_is_not_utf8_is_a_400_and_stores_nothing(world: World, name: str) -> None:
    route = ROUTES[name]
    before = _stored(world, route)
    sent = json.dumps(route.text(world, MARK)).encode()
    for bad in (b"\xff", b"\xc3(", b"\xed\xa0\x80"):  # the last: a surrogate, UTF-8 encoded
        if name == "ofrep":
            refused = _send(world, route, sent.replace(MARK.encode(), bad))
            assert "UTF-8" in _ofrep_refused(refused, "PARSE_ERROR", [])
            continue
        body = problem(_send(world, route, sent.replace(MARK.encode(), bad)), 400)
        assert body["errors"][0]["loc"] == ["body"]
        assert "UTF-8" in body["errors"][0]["msg"]
    assert _stored(world, route) == before
    _valid(world, route)


def test_valid_non_ascii_text_is_kept_as_sent(world: World) -> None:
    for text in (EMOJI, "Beyoğlu", "東京", "\\u0000 as text"):
        response = world.runtime.put("/v1/profiles/p2", json={"attributes": {"note": text}})
        assert response.status_code == 200, response.text
        assert world.runtime.get("/v1/profiles/p2").json()["attributes"]["note"] == text


def test_nul_in_a_path_or_query_is_a_422_naming_the_parameter(world: World) -> None:
    owner_products = "/v1/admin/tenants/ZZ/products"
    admin = platform(world.client)
    body = problem(admin.get(f"{owner_products}?q=a%00b"), 422)
    assert [(e["loc"], e["type"]) for e in body["errors"]] == [(["query", "q"], "string_nul")]
    body = problem(admin.get(f"{owner_products}?a%00b=1"), 422)
    assert [e["loc"] for e in body["errors"]] == [["query", "a\\u0000b", "[key]"]]
    assert admin.get(f"{owner_products}?q=a%2500b").status_code == 200  # the text "%00"

    for method in ("GET", "PUT", "DELETE"):
        sent: dict[str, Any] = {"json": {"attributes": {}}} if method == "PUT" else {}
        body = problem(world.runtime.request(method, "/v1/profiles/x%00y", **sent), 422)
        assert [e["loc"] for e in body["errors"]] == [["path", "profile_id"]]
    # A run-time operation: the middleware refuses it before the run-time app sees it.
    decision = {"profile": {"id": "p1"}, "activities": [world.activity]}
    body = problem(world.runtime.post("/v1/decisions?explain=%00", json=decision), 422)
    assert [e["loc"] for e in body["errors"]] == [["query", "explain"]]
    assert world.count("profiles") == 0
    assert world.count("decisions") == 0
    assert world.runtime.get("/v1/profiles/x%25y").status_code == 404


def test_a_bulk_import_with_nul_as_json_or_csv_imports_nothing(world: World) -> None:
    admin = platform(world.client)
    bulk = "/v1/admin/tenants/ZZ/products/bulk"
    seat = SEAT | {"name": "Seat\x00"}
    body = problem(admin.post(bulk, content=json.dumps([seat]).encode(), headers=JSON), 422)
    assert [e["loc"] for e in body["errors"]] == [["body", 0, "name"]]
    header = "product_type,product_code,name,category,base_price,currency\n"
    csv = header + "SEAT,SEAT-X,Seat\x00,EXTRA_LEGROOM,30.00,USD\n"
    body = problem(
        admin.post(bulk, content=csv.encode(), headers={"Content-Type": "text/csv"}), 422
    )
    assert [e["loc"] for e in body["errors"]] == [["products", 0, "name"]]
    codes = {p["product_code"] for p in admin.get("/v1/admin/tenants/ZZ/products").json()["items"]}
    assert codes == {FARE["product_code"]}
