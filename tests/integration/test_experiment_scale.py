"""An experiment at full size on PostgreSQL: 20,000 units assigned and exposed through the service
layer, their purchases recorded as events, and the results find the lift that was planted."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.db.base import utcnow
from offerengine.events import service as events
from offerengine.events.schemas import EventIn
from offerengine.experiments import core
from offerengine.experiments import service as experiments
from tests.conftest import make_settings, reset_postgres
from tests.helpers import Api, create_key, create_tenant

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
UNITS = 20_000
RATES = {"control": 0.10, "deeper": 0.12}  # a 20 % relative lift


@pytest.fixture
def client(pg_schema_url: str, tmp_path: Path) -> Iterator[TestClient]:
    reset_postgres(pg_schema_url)
    app = create_app(make_settings(pg_schema_url, tmp_path))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_twenty_thousand_units_find_the_planted_lift(client: TestClient) -> None:
    create_tenant(client, "OE")
    owner = Api(client, create_key(client, "OE", "owner"))
    experiment = owner.post(
        "/v1/admin/tenants/OE/experiments",
        json={
            "key": "deeper-discount",
            "name": "Deeper discount",
            "unit": "customer_id",
            "variants": [{"key": "control"}, {"key": "deeper"}],
            "primary_metric": {"kind": "conversion", "event": "purchase"},
        },
    ).json()
    assert owner.post(f"/v1/admin/experiments/{experiment['id']}/start").status_code == 200
    context = client.app.state.context  # type: ignore[attr-defined]

    async def run() -> dict[str, Any]:
        tenant_id = experiment["tenant_id"]
        snapshot = await context.snapshots.get(uuid.UUID(tenant_id))
        facts = snapshot.experiments.by_key["deeper-discount"]
        rng = random.Random(20_000)
        purchases: list[EventIn] = []
        now = utcnow()
        async with context.session_factory() as session:
            if context.is_sqlite:  # take the write lock up front, as the app's writers do
                await session.connection(execution_options={"sqlite_immediate": True})
            for i in range(UNITS):
                unit = f"c{i}"
                found = core.assign(facts, unit, {"customer_id": unit}, at=now)
                assert found.in_experiment
                variant, _ = await experiments.expose(
                    session, tenant_id=snapshot.tenant.id, assignment=found, at=now
                )
                if rng.random() < RATES[variant.key]:
                    purchases.append(
                        EventIn(type="purchase", customer_id=unit, value=Decimal("50.00"))
                    )
            await events.record(
                session, tenant_id=snapshot.tenant.id, events=purchases, now=utcnow()
            )
            await session.commit()
        return {"purchases": len(purchases)}

    done = client.portal.call(run)  # type: ignore[union-attr]
    results = owner.get(f"/v1/experiments/{experiment['id']}/results").json()
    arms = {a["variant"]: a for a in results["primary"]["variants"]}
    assert sum(a["units"] for a in arms.values()) == UNITS
    assert sum(a["conversions"] for a in arms.values()) == done["purchases"]
    assert 0.47 < arms["control"]["units"] / UNITS < 0.53
    comparison = results["primary"]["comparisons"][0]
    low, high = comparison["relative_ci"]
    assert low <= 0.2 <= high  # the planted lift is inside the interval
    assert comparison["p_value"] < 0.01
    assert results["sample_ratio"]["warning"] is False
    assert results["verdict"]["decision"] == "ship"
    assert results["verdict"]["winner"] == "deeper"
