"""Importing the kinds that hold one object per cabin and route (fare family sets, price-point
policies), on SQLite and PostgreSQL: each item updates the tenant's object of its scope or creates
one, counted as created, updated or unchanged; a document with bad items is refused whole, every
bad item and every scope given twice named, and nothing of it is saved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from tests.conftest import make_settings
from tests.helpers import error_locs, problem, tenant_api

FAMILIES = [
    {"code": "FLEX", "name": "Flex", "multiplier": "2.1"},
    {"code": "SAVER", "name": "Saver", "multiplier": "1"},
]
# Per kind: its collection, the field its document lists it in, a valid item of the scope
# given, that item changed, and a field an item is bad at (with a bad value for it).
KINDS: dict[str, tuple[str, str, dict[str, Any], dict[str, Any], tuple[str, Any]]] = {
    "fare family sets": (
        "fare-family-sets",
        "fare_family_sets",
        {"families": FAMILIES},
        {"families": [FAMILIES[0], {**FAMILIES[1], "multiplier": "0.9"}]},
        ("booking_periods", [0, 30]),
    ),
    "price-point policies": (
        "price-point-policies",
        "price_point_policies",
        {"multipliers": ["0.9", "1", "1.1"], "max_step": "0.2"},
        {"multipliers": ["0.9", "1", "1.2"], "max_step": "0.2"},
        ("multipliers", ["1.1", "1"]),
    ),
}


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(make_settings(database_url, tmp_path))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_import_updates_each_scopes_object_or_creates_one_and_counts_them(
    client: TestClient, kind: str
) -> None:
    path, field, body, changed, _ = KINDS[kind]
    owner = tenant_api(client, "OE")
    collection = f"/v1/admin/tenants/OE/{path}"
    economy = {"cabin": "ECONOMY", "route": "JFK-LHR", **body}
    business = {"cabin": "BUSINESS", **body}
    for item in (economy, business):
        assert owner.post(collection, json=item).status_code == 201
    everywhere = {"cabin": "ECONOMY", **body}  # every route: a scope of its own
    document = [{**economy, **changed}, everywhere, business]
    imported = owner.post(f"{collection}/import", json={field: document})
    assert imported.status_code == 200, imported.text
    done = imported.json()
    assert (done["created"], done["updated"], done["unchanged"]) == (1, 1, 1)
    assert [(i["cabin"], i["route"], i["version"]) for i in done["items"]] == [
        ("ECONOMY", "JFK-LHR", 2),
        ("ECONOMY", None, 1),
        ("BUSINESS", None, 1),
    ]
    listed = owner.get(collection).json()["items"]
    assert [(i["cabin"], i["route"]) for i in listed] == [
        ("BUSINESS", None),
        ("ECONOMY", None),
        ("ECONOMY", "JFK-LHR"),
    ]


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_import_with_bad_items_names_each_and_saves_none(client: TestClient, kind: str) -> None:
    path, field, body, _, (bad_field, bad_value) = KINDS[kind]
    owner = tenant_api(client, "OE")
    collection = f"/v1/admin/tenants/OE/{path}"
    economy = {"cabin": "ECONOMY", "route": "JFK-LHR", **body}
    document = [
        {"cabin": "BUSINESS", **body},  # good, but not saved: the document is refused whole
        {**economy, bad_field: bad_value},
        economy,
        {"cabin": "FIRST", **body},
        {**economy, bad_field: bad_value},  # bad, and its scope given a third time
    ]
    refused = problem(owner.post(f"{collection}/import", json={field: document}), 422)
    assert error_locs(refused) == [
        ["body", field, 1, bad_field],
        ["body", field, 2, "route"],
        ["body", field, 4, bad_field],
        ["body", field, 4, "route"],
    ]
    twice = [e["msg"] for e in refused["errors"] if e["loc"][-1] == "route"]
    assert all("for this cabin and route is twice" in msg for msg in twice)
    assert owner.get(collection).json()["items"] == []
