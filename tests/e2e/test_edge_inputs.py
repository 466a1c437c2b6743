"""Every operation of the OpenAPI document (admin and run time), probed with the inputs that used
to reach the database or the calendar unchecked, on SQLite and PostgreSQL: no answer is a 5xx,
and nothing lands in the dead letters.

Where schemathesis (tests/e2e/test_schemathesis.py) searches widely, this probe is narrow and
exhaustive over five classes of input, sent into every field the document describes, one field at
a time, into an otherwise example-valid request:

1. text the database cannot store: NUL, a lone UTF-16 surrogate, bytes that are not UTF-8;
2. dates at the calendar's edges (year 1 and year 9999), where adding a day overflows;
3. integers past what a column holds (2**31 for PostgreSQL's integer, 2**63 for bigint) and
   floats and decimals past what arithmetic on them can keep;
4. the same in query, path and header parameters;
5. keys and values of free-form objects (``context``, ``attributes``, ``metadata``).

Bodies are built (tests/probing.py) from the examples, defaults and enums of the document's
schemas, or copied from the demo's own objects for the admin routes, so that a
mutated field usually sits in an otherwise valid request and reaches the code behind validation;
the database holds the demo tenants (an airline and a marketplace), whose objects fill the path
parameters. After every change of configuration the probe sees accepted, the tenant's main
run-time answers (search and decide, or quote) are asked again: a value taken when saved must
not break run time either. Each request is sent once; the probe is deterministic and bounded (a
few thousand requests per database, a minute and a half each on this machine).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.auth.core import Actor, ActorKind
from offerengine.demo import service as demo
from offerengine.units import run_in_transaction
from tests.conftest import make_settings
from tests.helpers import departure_day
from tests.probing import HEADER_VALUES, URL_VALUES, Probe, encode, fill

# Paths served by the demo marketplace (MKT); the rest by the demo airline (OE).
MARKET = ("commission", "fee-rules", "coupons", "promotions", "quote", "analytics", "flags")
SYSTEM = Actor(ActorKind.SYSTEM, None, "edge probe")


@dataclass
class Sent:
    """One probe request and what it got."""

    method: str
    path: str
    where: str
    value: Any
    status: int
    answer: str


class Prober:
    """Sends the probe requests of every operation to one app, remembering what was refused
    with a 5xx."""

    def __init__(self, client: httpx.AsyncClient, keys: dict[str, str], document: Any) -> None:
        self.client = client
        self.keys = keys
        self.document: dict[str, Any] = document
        self.probe = Probe(self.document)
        self.failures: list[Sent] = []
        self.sent = 0
        self.ids: dict[str, str] = {}
        self.bodies: dict[str, Any] = {}
        self.flush: Callable[[], Awaitable[Any]] | None = None  # the app's records, written now
        self.probed: set[tuple[str, ...]] = set()
        # Query parameters an operation needs, sent beside the one probed.
        self.queries = {
            "/v1/analytics/pricing": "tenant=MKT&",
            "/v1/analytics/commission": "tenant=MKT&",
            "/v1/admin/tenants/{tenant}/fee-rules/versions": "name=standard&",
        }

    def tenant(self, path: str) -> str:
        return "MKT" if any(word in path for word in MARKET) else "OE"

    def key(self, path: str) -> str:
        if path.startswith(("/v1/admin", "/v1/analytics", "/v1/experiments/{id}/results")):
            return self.keys["DEMO_PLATFORM_KEY"]
        return self.keys[f"DEMO_{self.tenant(path)}_RUNTIME_KEY"]

    async def send(
        self,
        method: str,
        path: str,
        where: str,
        value: Any,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        template: str,
    ) -> None:
        sent_headers = {"Authorization": f"Bearer {self.key(template)}"} | (headers or {})
        if body is not None:
            sent_headers.setdefault("Content-Type", "application/json")
        if template == "/v1/orders" and method == "POST":
            sent_headers.setdefault("Idempotency-Key", f"probe-{self.sent}")
        response = await self.client.request(method, path, content=body, headers=sent_headers)
        self.sent += 1
        if response.status_code >= 500:
            self.failures.append(
                Sent(method, template, where, value, response.status_code, response.text[:300])
            )
        elif response.status_code < 300 and method != "GET" and template.startswith("/v1/admin"):
            # Configuration taken with an edge value in it must not break run time either (a
            # later change of the same object would replace it before run time is probed).
            await self.smoke(f"after {method} {template} {where}={value!r}", template)

    async def smoke(self, after: str, template: str) -> None:
        """The tenant's main run-time answers, still no 5xx."""
        market = self.tenant(template) == "MKT"
        for path in ("/v1/quote",) if market else ("/v1/offers/search", "/v1/decisions"):
            response = await self.client.post(
                path,
                json=self.bodies[path],
                headers={"Authorization": f"Bearer {self.key(path)}"},
            )
            self.sent += 1
            if response.status_code >= 500:
                self.failures.append(
                    Sent("POST", path, after, None, response.status_code, response.text[:300])
                )

    async def run(self) -> None:
        operations = [
            (method.upper(), path, op)
            for path, item in self.document["paths"].items()
            for method, op in item.items()
        ]
        # Deletions last, so that every other operation finds its objects.
        operations.sort(key=lambda o: o[0] == "DELETE")
        await self.discover()
        for method, path, op in operations:
            await self.operation(method, path, op)

    async def operation(self, method: str, template: str, op: dict[str, Any]) -> None:
        params = {p["name"]: p for p in op.get("parameters", [])}
        path_values = {
            n: self.path_value(template, n) for n, p in params.items() if p["in"] == "path"
        }
        schema = (op.get("requestBody") or {}).get("content", {}).get("application/json", {})
        body_schema = schema.get("schema")
        path = fill(template, path_values)
        base = await self.base(method, template, path, body_schema) if body_schema else None
        base_bytes = encode(base) if body_schema else None

        async def send(where: str, value: Any, **kw: Any) -> None:
            url = kw.pop("url", path)
            await self.send(method, url, where, value, template=template, **kw)

        if body_schema is not None:
            self.probe.texts = 1
            for loc, value in self.probe.variants(body_schema, base):
                await send(f"body {loc}", value, body=encode(value))
        if "text/csv" in (op.get("requestBody") or {}).get("content", {}):
            for bad in (b"\xff\xfe", b"\x00"):
                csv = b"product_type,product_code,name\nSEAT,S-1,Seat" + bad + b"\n"
                await send("csv", bad, body=csv, headers={"Content-Type": "text/csv"})
        for name, param in params.items():
            # A parameter is read the same way wherever it is taken (by one dependency or type,
            # or one run-time declaration): probed once per place, name, shape and method.
            shape = (param["in"], name, json.dumps(param.get("schema")), method)
            if shape in self.probed:
                continue
            self.probed.add(shape)
            if param["in"] == "query":
                for value in URL_VALUES:
                    given = self.queries.get(template, "") + f"{name}={value}"
                    await send(f"query {name}", value, body=base_bytes, url=f"{path}?{given}")
            elif param["in"] == "path":
                for value in URL_VALUES:
                    url = fill(template, path_values | {name: value})
                    await send(f"path {name}", value, body=base_bytes, url=url)
            elif param["in"] == "header":
                for value in HEADER_VALUES:
                    await send(f"header {name}", value, body=base_bytes, headers={name: value})

    async def get(self, path: str, key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {key or self.key(path)}"}
        response = await self.client.get(path, headers=headers)
        return response.json() if response.status_code == 200 else None

    async def base(self, method: str, template: str, path: str, schema: dict[str, Any]) -> Any:
        """A body for the operation: a hand-made one for run time, else an existing object's
        representation cut to the input's properties (so that it is valid), else an example."""
        if template in self.bodies:
            return self.bodies[template]
        if template == "/v1/orders":
            return self.bodies["/v1/orders"]
        example = self.probe.example(schema)
        if not path.startswith("/v1/admin/") or path.endswith(("/rollback", "/test", "/import")):
            return example
        found = await self.get(path)
        if isinstance(found, dict) and isinstance(found.get("items"), list):
            found = found["items"]
        if isinstance(found, list):
            found = found[0] if found else None
        if not isinstance(found, dict):
            return example
        properties: dict[str, Any] = {}
        for option in self.probe.options(schema):
            properties |= option.get("properties", {})
        base = {k: v for k, v in found.items() if k in properties and v is not None}
        if method == "POST":  # a new object beside the one copied: its unique fields differ
            for name in ("code", "key", "product_code", "name", "rule_name", "bundle_name"):
                if isinstance(base.get(name), str):
                    base[name] = base[name] + ("p" if base[name].islower() else "P")
            if "flight_number" in base:
                base["flight_number"] = "999"
        return base

    async def discover(self) -> None:
        """The ids of demo objects for path parameters, and run time's bodies."""
        for path in self.document["paths"]:
            parts = path.split("/")
            if "{id}" not in parts or not path.startswith(("/v1/admin/", "/v1/experiments/")):
                continue
            kind = "/".join(parts[3 : parts.index("{id}")])
            listed = await self.get(f"/v1/admin/tenants/{self.tenant(path)}/{kind}")
            if isinstance(listed, dict):
                listed = listed.get("items", [listed])
            if listed and isinstance(listed[0], dict) and "id" in listed[0]:
                self.ids[f"{path}:id"] = str(listed[0]["id"])
        oe, mkt = "/v1/admin/tenants/OE", "/v1/admin/tenants/MKT"
        soon = departure_day(2)
        flights = (await self.get(f"{oe}/flights?date={soon}&limit=200"))["items"]
        flight = next(f for f in flights if f["departure_local"][:10] >= soon)
        self.ids["/v1/inventory/flights/{id}:id"] = flight["id"]
        self.ids["product_code"] = (await self.get(f"{oe}/products"))["items"][0]["product_code"]
        self.ids["key_id"] = (await self.get(f"{oe}/api-keys"))["items"][0]["id"]
        flags = await self.get(f"{mkt}/feature-flags")
        self.ids["key"] = (flags["items"] if isinstance(flags, dict) else flags)[0]["key"]
        segments = await self.get(f"{oe}/segments") or {}
        names = [s["name"] for s in segments.get("segments", []) if "name" in s]
        self.ids["name"] = names[0] if names else "frequent"
        experiment = {
            "key": "checkout",
            "name": "Checkout",
            "unit": "profile_id",
            "variants": [{"key": "control", "weight": 50}, {"key": "new", "weight": 50}],
            "primary_metric": {"kind": "conversion", "event": "purchase"},
        }
        made = await self.post(f"{oe}/experiments", experiment)
        await self.post(f"/v1/admin/experiments/{made['id']}/start", None)
        for path in self.document["paths"]:
            if "experiments/{id}" in path:
                self.ids[f"{path}:id"] = made["id"]
        self.ids["/v1/experiments/{key}/assign:key"] = "checkout"
        await self.runtime_bodies(flight)

    async def runtime_bodies(self, flight: dict[str, Any]) -> None:
        """Valid run-time bodies, and the quote, offer and order they make."""
        day = flight["departure_local"][:10]
        activities = await self.get("/v1/admin/tenants/OE/decisioning/activities")
        activity = [a["id"] for a in (activities or {"items": []})["items"]][:1]
        search = {"origin": flight["origin"], "destination": flight["destination"], "date": day}
        basket = {
            "customer_id": "cust-42",
            "seller_id": "seller-techstore",
            "items": [{"product_id": "ELEC-PHONE-CASE", "quantity": 2, "unit_price": "149.90"}],
            "delivery_address": {"city": "Istanbul", "country": "TR"},
            "coupon_codes": ["SAVE20"],
            "context": {"segment": "premium"},
        }
        schedule = {
            "carrier": "OE",
            "flight_number": "998",
            "origin": flight["origin"],
            "destination": flight["destination"],
            "departure_time": "08:30",
            "arrival_time": "20:45",
            "start_date": day,
            "end_date": day,
            "cabins": {"ECONOMY": 100},
        }
        self.bodies = {
            "/v1/admin/tenants/{tenant}/schedules": schedule,
            "/v1/admin/tenants/{tenant}/airports": {"iata_codes": ["CDG"]},
            "/v1/offers/search": search,
            "/v1/quote": basket,
            "/v1/events": {"type": "purchase", "profile_id": "p1", "value": "49.90"},
            "/v1/decisions": {"profile": {"id": "p1"}, "activities": activity},
            "/v1/profiles/{profile_id}": {"attributes": {"tier": "GOLD"}},
            "/v1/promotions/recommend": {"customer_id": "cust-42"},
            "/v1/feature-flags/{key}/evaluate": {"context": {"user_id": "p1"}},
            "/ofrep/v1/evaluate/flags/{key}": {"context": {"targetingKey": "p1"}},
            "/ofrep/v1/evaluate/flags": {"context": {"targetingKey": "p1"}},
            "/v1/experiments/{key}/assign": {"unit_id": "p1"},
            "/v1/quotes/{id}/accept": {"reference": "probe"},
            "/v1/orders/{id}/confirm": {"payment_reference": "probe"},
        }
        made = await self.post("/v1/quote", basket)
        self.ids["/v1/quotes/{id}:id"] = made["data"]["quote_id"]
        self.ids["/v1/quotes/{id}/accept:id"] = made["data"]["quote_id"]
        offer = (await self.post("/v1/offers/search", search))["offers"][0]["offer_id"]
        self.ids["offer_id"] = offer
        passenger = {"type": "ADULT", "given_name": "Ada", "surname": "Lovelace"}
        order = {"offer_id": offer, "passengers": [passenger]}
        self.bodies["/v1/orders"] = order
        made = await self.post("/v1/orders", order, {"Idempotency-Key": "probe-order"})
        for template in ("/v1/orders/{id}", "/v1/orders/{id}/confirm", "/v1/orders/{id}/cancel"):
            self.ids[f"{template}:id"] = made["id"]

    async def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        sent = {"Authorization": f"Bearer {self.key(path)}"} | (headers or {})
        response = await self.client.post(path, json=body, headers=sent)
        assert response.status_code < 300, response.text
        return response.json()

    def path_value(self, template: str, name: str) -> str:
        fixed = {"tenant": self.tenant(template), "version": "1", "profile_id": "p1", "iata": "JFK"}
        if name in fixed:
            return fixed[name]
        return (
            self.ids.get(f"{template}:{name}")
            or self.ids.get(name)
            or "00000000-0000-7000-8000-000000000000"
        )


@pytest.fixture
async def prober(database_url: str, tmp_path: Path) -> AsyncIterator[Prober]:
    """The demo tenants, served in this event loop (a test client's thread hops per request
    would take most of the probe's time)."""
    settings = make_settings(database_url, tmp_path)
    loaded = await run_in_transaction(settings, lambda session: demo.load(session, actor=SYSTEM))
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.admin.router.lifespan_context(app.admin),
        httpx.AsyncClient(transport=transport, base_url="http://probe") as client,
    ):
        prober = Prober(client, loaded.keys, app.openapi())
        prober.flush = app.admin.state.context.recorder.flush
        yield prober


async def test_no_edge_input_in_any_field_of_any_operation_gets_a_server_error(
    prober: Prober,
) -> None:
    await prober.run()
    shown = "\n".join(
        f"{f.status} {f.method} {f.path} {f.where}={f.value!r}: {f.answer}" for f in prober.failures
    )
    assert not prober.failures, f"{len(prober.failures)} of {prober.sent} requests:\n{shown}"
    # Nor was anything answered that then failed to be stored (records go behind the answers).
    assert prober.flush is not None
    await prober.flush()
    for tenant in ("OE", "MKT"):
        assert (await prober.get(f"/v1/admin/tenants/{tenant}/dead-letters"))["items"] == []


@pytest.fixture
def owner(client: TestClient) -> Any:
    from tests.helpers import tenant_api

    api = tenant_api(client, "ZZ")
    added = api.post("/v1/admin/tenants/ZZ/airports", json={"iata_codes": ["JFK", "LHR"]})
    assert added.status_code in (200, 201), added.text
    return api


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        (
            "flights",
            {"departure_local": "9999-12-31T19:00:00", "arrival_local": "9999-12-31T23:10:00"},
            ["body", "departure_local"],
        ),
        (
            "schedules",
            {"start_date": "9999-12-30", "end_date": "9999-12-31", "arrival_day_offset": 1},
            ["body", "start_date"],
        ),
        (
            "flights",
            {"departure_local": "0001-01-01T01:00:00", "arrival_local": "0001-01-01T09:10:00"},
            ["body", "departure_local"],
        ),
    ],
)
def test_a_flight_at_the_calendars_edge_is_a_422_naming_the_field(
    owner: Any, path: str, body: dict[str, Any], loc: list[Any]
) -> None:
    flight = {
        "carrier": "ZZ",
        "flight_number": "1",
        "origin": "JFK",
        "destination": "LHR",
        "cabins": {"ECONOMY": 10},
    }
    if path == "schedules":
        flight |= {"departure_time": "19:00", "arrival_time": "07:10"}
    response = owner.post(f"/v1/admin/tenants/ZZ/{path}", json=flight | body)
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["errors"]]
    assert owner.get("/v1/admin/tenants/ZZ/flights").json()["items"] == []
