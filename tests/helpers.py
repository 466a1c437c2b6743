"""Helpers for tests that talk to the API."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from tests.conftest import PLATFORM_KEY


class Api:
    """A client that sends one API key with every request."""

    def __init__(self, client: TestClient | httpx.Client, key: str | None) -> None:
        self.client = client
        self.key = key

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.key is not None:
            headers.setdefault("Authorization", f"Bearer {self.key}")
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)


def platform(client: TestClient | httpx.Client) -> Api:
    return Api(client, PLATFORM_KEY)


def create_tenant(
    client: TestClient | httpx.Client, code: str = "AA", **fields: Any
) -> dict[str, Any]:
    body = {
        "code": code,
        "name": f"Tenant {code}",
        "kind": "airline",
        "base_currency": "USD",
    } | fields
    response = platform(client).post("/v1/admin/tenants", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def create_key(client: TestClient | httpx.Client, tenant: str, role: str = "owner") -> str:
    response = platform(client).post(
        f"/v1/admin/tenants/{tenant}/api-keys", json={"name": f"test {role}", "role": role}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["secret"])


def tenant_api(
    client: TestClient | httpx.Client, code: str = "AA", role: str = "owner", **fields: Any
) -> Api:
    """A new tenant and a key of ``role`` for it."""
    create_tenant(client, code, **fields)
    return Api(client, create_key(client, code, role))


SEAT = {
    "product_type": "SEAT",
    "product_code": "SEAT-EXTRA-LEG",
    "name": "Extra Legroom Seat",
    "description": "Seats with 34-36 inches of legroom",
    "category": "EXTRA_LEGROOM",
    "base_price": "30.00",
    "currency": "USD",
    "metadata": {"legroom_inches": 35},
}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with ``status`` and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = dict(response.json())
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


def error_locs(body: dict[str, Any]) -> list[list[Any]]:
    return [e["loc"] for e in body.get("errors", [])]


FARE = {
    "product_type": "FLIGHT",
    "product_code": "FARE-ECONOMY",
    "name": "Economy fare",
    "category": "ECONOMY",
    "base_price": "200.00",
    "currency": "USD",
    "cost": "120.00",
}


def departure_day(days: int = 10) -> str:
    """A local departure date ``days`` ahead (far enough that no last-minute rule applies)."""
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def add_flight(
    owner: Api,
    tenant: str,
    *,
    day: str | None = None,
    number: str = "100",
    cabins: dict[str, int] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A JFK→LHR flight departing 19:00 on ``day`` (default: 10 days ahead)."""
    day = day or departure_day()
    from datetime import date, timedelta

    arrival = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    body = {
        "carrier": "OE",
        "flight_number": number,
        "origin": "JFK",
        "destination": "LHR",
        "departure_local": f"{day}T19:00:00",
        "arrival_local": f"{arrival}T07:10:00",
        "aircraft": "Boeing 787-9",
        "cabins": cabins or {"ECONOMY": 200, "BUSINESS": 30},
    } | fields
    response = owner.post(f"/v1/admin/tenants/{tenant}/flights", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json()["items"][0])


def search(api: Api, *, day: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {"origin": "JFK", "destination": "LHR", "date": day or departure_day()} | fields
    response = api.post("/v1/offers/search", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def passengers(adults: int = 1, children: int = 0, infants: int = 0) -> list[dict[str, str]]:
    kinds = ["ADULT"] * adults + ["CHILD"] * children + ["INFANT"] * infants
    return [
        {"type": kind, "given_name": f"P{i}", "surname": "Test"} for i, kind in enumerate(kinds)
    ]


def capped_activity(
    owner: Api, tenant: str, *, limit: int, window: dict[str, object] | None = None
) -> str:
    """An activity whose one offer is capped at ``limit`` decisions in ``window`` (for good by
    default), with a fallback."""
    base = f"/v1/admin/tenants/{tenant}/decisioning"

    def make(kind: str, body: dict[str, object]) -> str:
        response = owner.post(f"{base}/{kind}", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    hero = make("placements", {"name": "Hero", "channel": "web", "content_type": "json"})
    make(
        "offers",
        {
            "name": "Lounge",
            "status": "approved",
            "tags": ["t"],
            "representations": [{"placement_id": hero, "content": {"h": "Lounge"}}],
            "capping": [
                {"scope": "global", "limit": limit, "window": window or {"type": "lifetime"}}
            ],
        },
    )
    fallback = make(
        "fallback-offers",
        {"name": "Hello", "representations": [{"placement_id": hero, "content": {"h": "Hi"}}]},
    )
    collection = make("collections", {"name": "All", "tags": ["t"]})
    return make(
        "activities",
        {
            "name": "Home",
            "status": "approved",
            "placement_id": hero,
            "collection_id": collection,
            "fallback_offer_id": fallback,
        },
    )
