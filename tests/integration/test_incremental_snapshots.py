"""Incremental snapshots on SQLite and PostgreSQL: every configuration transaction logs what it
changed; a worker patches the snapshot it holds with those objects alone, and what it serves
equals a whole build after any sequence of changes through the API; the change log says when it
cannot tell (a gap, a tenant-wide change), and the worker then builds whole."""

from __future__ import annotations

import random
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.snapshots import service
from offerengine.snapshots.build import build
from offerengine.snapshots.compiler import Compiler
from offerengine.snapshots.core import Snapshot
from offerengine.snapshots.models import ConfigChange
from tests.conftest import make_settings
from tests.helpers import Api, create_key, platform, tenant_api
from tests.unit.test_snapshot_patching import catalog_shape, shape

BASE = "/v1/admin/tenants/IS/decisioning"


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Any:
    with TestClient(
        create_app(make_settings(database_url, tmp_path)), raise_server_exceptions=False
    ) as c:
        yield c


def made(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


class Tenant:
    """A tenant with two placements, a fallback, three collections and three activities."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.owner = tenant_api(client, "IS")
        self.runtime = Api(client, create_key(client, "IS", "runtime"))
        self.places = [
            made(
                self.owner.post(
                    f"{BASE}/placements",
                    json={"name": f"P{i}", "channel": "web", "content_type": "json"},
                )
            )
            for i in range(2)
        ]
        reps = [{"placement_id": p["id"], "content": {"h": "hi"}} for p in self.places]
        self.fallback = made(
            self.owner.post(f"{BASE}/fallback-offers", json={"name": "F", "representations": reps})
        )
        self.collections = [
            made(self.owner.post(f"{BASE}/collections", json={"name": f"C{t}", "tags": [t]}))
            for t in "abc"
        ]
        self.activities = [
            made(
                self.owner.post(
                    f"{BASE}/activities",
                    json={
                        "name": f"A{i}",
                        "status": "approved",
                        "placement_id": self.places[i % 2]["id"],
                        "collection_id": self.collections[i]["id"],
                        "fallback_offer_id": self.fallback["id"],
                    },
                )
            )
            for i in range(3)
        ]
        self.tenant_id = uuid.UUID(self.fallback["tenant_id"])
        self.offers: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}

    def offer_body(self, rng: random.Random, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "status": rng.choice(["approved", "approved", "draft"]),
            "priority": rng.randint(0, 9),
            "tags": rng.sample("abc", rng.randint(0, 2)),
            "representations": [
                {"placement_id": p["id"], "content": {"o": name}}
                for p in rng.sample(self.places, rng.randint(1, 2))
            ],
            "eligibility": rng.choice([None, "profile.tier == 'GOLD'"]),
        }

    def product_body(self, rng: random.Random, code: str) -> dict[str, Any]:
        return {
            "product_type": rng.choice(["SEAT", "BAG"]),
            "product_code": code,
            "name": f"Product {code}",
            "base_price": f"{rng.randint(5, 90)}.00",
            "currency": "USD",
            "is_active": rng.random() < 0.8,
        }

    def change(self, rng: random.Random, step: int) -> None:
        """One random change through the admin API: an offer or a product created, updated or
        deleted, or a collection's tags changed."""
        what = rng.random()
        if what < 0.5:
            self._edit(
                rng,
                self.offers,
                f"{BASE}/offers",
                "/v1/admin/decisioning/offers",
                self.offer_body,
                f"O{step}",
            )
        elif what < 0.85:
            self._edit(
                rng,
                self.products,
                "/v1/admin/tenants/IS/products",
                "/v1/admin/products",
                self.product_body,
                f"X{step}",
            )
        else:
            collection = rng.choice(self.collections)
            body = {"name": collection["name"], "tags": rng.sample("abc", rng.randint(1, 2))}
            self.collections[self.collections.index(collection)] = made(
                self.owner.put(f"/v1/admin/decisioning/collections/{collection['id']}", json=body)
            )

    def _edit(
        self,
        rng: random.Random,
        held: dict[str, dict[str, Any]],
        create: str,
        item: str,
        body: Any,
        name: str,
    ) -> None:
        choice = rng.random()
        if not held or choice < 0.5:
            found = made(self.owner.post(create, json=body(rng, name)))
            held[found["id"]] = found
        elif choice < 0.8:
            id = rng.choice(sorted(held))
            key = "name" if "product_code" not in held[id] else "product_code"
            held[id] = made(self.owner.put(f"{item}/{id}", json=body(rng, held[id][key])))
        else:
            id = rng.choice(sorted(held))
            assert self.owner.delete(f"{item}/{id}").status_code == 204
            del held[id]

    def decide(self) -> dict[str, Any]:
        response = self.runtime.post(
            "/v1/decisions",
            json={
                "profile": {"id": "p1", "attributes": {"tier": "GOLD"}},
                "activities": [a["id"] for a in self.activities],
                "dry_run": True,
            },
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def held(self) -> Snapshot:
        context = self.client.app.state.context  # type: ignore[attr-defined]
        snapshot = context.snapshots.peek(self.tenant_id)
        assert snapshot is not None
        return snapshot  # type: ignore[no-any-return]

    def whole(self) -> Snapshot:
        context = self.client.app.state.context  # type: ignore[attr-defined]

        async def run() -> Snapshot | None:
            async with context.session_factory() as session:
                return await build(session, self.tenant_id)

        built = self.client.portal.call(run)  # type: ignore[union-attr]
        assert built is not None
        return built


def test_after_random_changes_the_patched_snapshot_equals_a_whole_build(client: TestClient) -> None:
    tenant = Tenant(client)
    tenant.decide()  # the worker holds the tenant's snapshot from here on
    rng = random.Random(35)
    for step in range(30):
        before = tenant.held()
        tenant.change(rng, step)
        tenant.decide()  # read-your-writes: served at the new version at once
        after = tenant.held()
        whole = tenant.whole()
        assert after.version == whole.version >= before.version  # an unchanged PUT bumps nothing
        # Patched, not rebuilt: the parts no kind of this change reads are the same objects.
        assert after.flags is before.flags
        assert after.commerce is before.commerce
        assert shape(after.decisioning) == shape(whole.decisioning)
        assert catalog_shape(after.catalog) == catalog_shape(whole.catalog)
        assert after.pricing.__class__ is whole.pricing.__class__


def proposed(decision: dict[str, Any]) -> set[str]:
    return {item["name"] for p in decision["propositions"] for item in p["items"]}


def test_a_new_best_offer_is_proposed_by_the_next_decision(client: TestClient) -> None:
    tenant = Tenant(client)
    assert proposed(tenant.decide()) == {"F"}
    reps = [{"placement_id": p["id"], "content": {"h": "new"}} for p in tenant.places]
    made(
        tenant.owner.post(
            f"{BASE}/offers",
            json={
                "name": "Lounge",
                "status": "approved",
                "priority": 99,
                "tags": ["a", "b", "c"],
                "representations": reps,
            },
        )
    )
    assert proposed(tenant.decide()) == {"Lounge", "F"}  # de-duplicated: once, then fallbacks


def test_the_change_log_lists_objects_and_says_when_it_cannot(client: TestClient) -> None:
    tenant = Tenant(client)
    context = client.app.state.context  # type: ignore[attr-defined]
    made(tenant.owner.post(f"{BASE}/offers", json=tenant.offer_body(random.Random(1), "Logged")))
    fields = {"name": "Tenant IS", "kind": "airline", "base_currency": "USD"}
    made(
        platform(client).put(
            "/v1/admin/tenants/IS",
            json={**fields, "settings": {"decisioning": {"max_activities": 5}}},
        )
    )

    async def run() -> tuple[Any, ...]:
        async with context.session_factory() as session:
            rows = (
                await session.execute(
                    sa.select(ConfigChange.version, ConfigChange.kind, ConfigChange.object_id)
                    .where(ConfigChange.tenant_id == tenant.tenant_id)
                    .order_by(ConfigChange.version)
                )
            ).all()
            top = rows[-1][0]
            offer = [r for r in rows if r[1] == "decision_offer"][-1][0]
            return (
                rows,
                await service.changes_since(session, tenant.tenant_id, offer - 1, offer),
                await service.changes_since(session, tenant.tenant_id, offer - 1, top),
                await service.changes_since(session, tenant.tenant_id, -5, top),
            )

    rows, one, through_settings, gap = client.portal.call(run)  # type: ignore[union-attr]
    assert all(kind != service.EVERYTHING or object_id is None for _, kind, object_id in rows)
    assert one is not None
    assert set(one.objects) == {"decision_offer"}
    assert not one.everything
    assert through_settings is not None
    assert through_settings.everything
    assert gap is None  # versions the log never held


def test_builds_run_on_the_compilers_own_thread(client: TestClient) -> None:
    context = client.app.state.context  # type: ignore[attr-defined]
    compiler = Compiler(context.session_factory, thread=True)

    async def where() -> str:
        return threading.current_thread().name

    async def run() -> tuple[str, str]:
        try:
            return await compiler._run(where()), threading.current_thread().name
        finally:
            await compiler.close()

    built_in, serving = client.portal.call(run)  # type: ignore[union-attr]
    assert built_in == "offerengine-snapshots"
    assert serving != built_in


def test_a_tenant_only_patched_for_longer_than_the_check_period_is_built_whole(
    client: TestClient,
) -> None:
    tenant = Tenant(client)
    context = client.app.state.context  # type: ignore[attr-defined]
    patching = Compiler(context.session_factory, thread=False, full_every=3600)
    checking = Compiler(context.session_factory, thread=False, full_every=0)

    async def build() -> Snapshot | None:
        await checking.build(tenant.tenant_id)
        return await patching.build(tenant.tenant_id)

    held = client.portal.call(build)  # type: ignore[union-attr]
    assert held is not None
    made(tenant.owner.post(f"{BASE}/offers", json=tenant.offer_body(random.Random(2), "Later")))

    async def patch() -> tuple[Snapshot | None, Snapshot | None]:
        return await patching.patch(held), await checking.patch(held)

    patched, due = client.portal.call(patch)  # type: ignore[union-attr]
    assert patched is not None
    assert patched.version == held.version + 1
    assert patched.catalog is held.catalog  # shared: no product changed
    assert due is None  # the periodic check: the caller builds whole
