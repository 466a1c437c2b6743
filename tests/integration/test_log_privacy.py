"""A real server's logs hold no customer identifier and no SQL parameter: a full run of shop,
order, quote, decide, profiles, events and an admin login with a wrong password, with planted
ids and emails in paths, query strings and bodies, and a write the database refuses with the
planted profile id bound into it, leaves none of them in the log file; the access log names
each request by its route template instead. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psycopg
import pytest

from tests.e2e.test_decisioning import Setup
from tests.helpers import (
    FARE,
    Api,
    add_flight,
    create_key,
    passengers,
    search,
    tenant_api,
)
from tests.servers import serve

pytestmark = pytest.mark.slow
TOKEN = uuid.uuid4().hex[:10]
PROFILE = f"prof-{TOKEN}"  # in a path, a decision, an event
POISON = f"poison-{TOKEN}"  # the profile whose write the database refuses
CUSTOMER = f"cust-{TOKEN}"  # a quote's customer
PAX_EMAIL = f"pax.{TOKEN}@example.com"  # an order's passenger
ADMIN_EMAIL = f"ann.{TOKEN}@example.com"  # a failed admin login
QUERY_EMAIL = f"query.{TOKEN}@example.com"  # in a query string
STRANGER = f"stranger-{TOKEN}"  # in a path no route takes
LOGGING = {"OFFERENGINE_ACCESS_LOG": "true", "OFFERENGINE_LOG_LEVEL": "INFO"}


def _log_path(base: str, var_dir: Path) -> Path:
    """Where :func:`tests.servers.serve` writes the server's stdout and stderr."""
    return var_dir / f"server-{base.rsplit(':', 1)[1]}.log"


@contextmanager
def _poisoned(database_url: str) -> Iterator[None]:
    """A trigger that makes the database refuse any new profile with a data error (neither a
    conflict nor an outage, so the write answers 500 and is logged with its statement and
    parameters): on SQLite "string or blob too big"; on PostgreSQL a bad cast, whose message
    quotes the refused value."""
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            conn.execute(
                "CREATE TRIGGER oe_poison BEFORE INSERT ON profiles "
                "BEGIN SELECT zeroblob(2000000000); END"
            )
        yield
        return
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION oe_poison() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM NEW.profile_id::uuid; RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER oe_poison BEFORE INSERT ON profiles "
            "FOR EACH ROW EXECUTE FUNCTION oe_poison()"
        )
        try:
            yield
        finally:  # the PostgreSQL schema is shared by the test run's other tests
            conn.execute("DROP TRIGGER IF EXISTS oe_poison ON profiles")
            conn.execute("DROP FUNCTION IF EXISTS oe_poison()")


def _shop_and_order(owner: Api, runtime: Api) -> str:
    assert owner.post("/v1/admin/tenants/ZZ/products", json=FARE).status_code == 201
    add_flight(owner, "ZZ")
    offer = search(runtime)["offers"][0]
    people = [p | {"email": PAX_EMAIL} for p in passengers(1)]
    made = runtime.post(
        "/v1/orders",
        json={"offer_id": offer["offer_id"], "passengers": people},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert made.status_code == 201, made.text
    order_id = str(made.json()["id"])
    assert runtime.get(f"/v1/orders/{order_id}").status_code == 200
    assert runtime.get("/v1/orders", params={"profile_id": PROFILE}).status_code == 422
    return order_id


def _quote(runtime: Api) -> str:
    body = {
        "customer_id": CUSTOMER,
        "items": [{"product_id": "sku-1", "quantity": 1, "unit_price": "10.00"}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
    }
    made = runtime.post("/v1/quote", json=body)
    assert made.status_code == 200, made.text
    quote_id = str(made.json()["data"]["quote_id"])
    assert runtime.get(f"/v1/quotes/{quote_id}").status_code == 200
    assert runtime.get(f"/v1/quotes/{quote_id}", params={"email": QUERY_EMAIL}).status_code == 422
    return quote_id


def _decide_profile_events(owner: Api, runtime: Api) -> None:
    activity = Setup(owner).home["id"]
    decided = runtime.post(
        "/v1/decisions", json={"profile": {"id": PROFILE}, "activities": [activity]}
    )
    assert decided.status_code == 200, decided.text
    put = runtime.put(f"/v1/profiles/{PROFILE}", json={"attributes": {"tier": "GOLD"}})
    assert put.status_code == 200, put.text
    events = {"events": [{"type": "click", "profile_id": PROFILE}]}
    assert runtime.post("/v1/events", json=events).status_code == 202
    assert runtime.get(f"/v1/profiles/{PROFILE}").status_code == 200
    assert runtime.get(f"/v1/customers/{STRANGER}").status_code == 404


def _failed_login(client: httpx.Client) -> None:
    page = client.get("/admin/login", params={"next": f"/admin?email={QUERY_EMAIL}"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"email": ADMIN_EMAIL, "password": "not the password", "csrf_token": token.group(1)}
    assert client.post("/admin/login", data=form).status_code == 401


def _run(client: httpx.Client, database_url: str) -> list[str]:
    """Every flow once; the ids the server made for the order and the quote."""
    owner = tenant_api(client, "ZZ")
    runtime = Api(client, create_key(client, "ZZ", "runtime"))
    made = [_shop_and_order(owner, runtime), _quote(runtime)]
    _decide_profile_events(owner, runtime)
    _failed_login(client)
    with _poisoned(database_url):
        refused = runtime.put(f"/v1/profiles/{POISON}", json={"attributes": {"tier": "GOLD"}})
        assert refused.status_code == 500, refused.text
    return made


def test_logs_of_a_full_run_hold_no_customer_identifier(database_url: str, tmp_path: Path) -> None:
    with (
        serve(database_url, tmp_path, extra_env=LOGGING) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        made = _run(client, database_url)
    text = _log_path(base, tmp_path).read_text(errors="replace")
    lines: list[dict[str, Any]] = [json.loads(s) for s in text.splitlines() if s.startswith("{")]
    routes = {line.get("route") for line in lines if line.get("event") == "request"}
    assert {"/v1/profiles/{profile_id}", "/v1/quotes/{id}", "/admin/login"} <= routes
    assert any(r and r.startswith("/v1/orders/{id") for r in routes)
    failures = [line for line in lines if line.get("event") == "unhandled_error"]
    assert failures, "the refused write was not logged"
    assert all("DataError" in line.get("exception", "") for line in failures)
    planted = [PROFILE, POISON, CUSTOMER, PAX_EMAIL, ADMIN_EMAIL, QUERY_EMAIL, STRANGER, *made]
    lowered = text.lower()
    assert [value for value in planted if value.lower() in lowered] == []
    assert TOKEN not in text  # not even a part of one
