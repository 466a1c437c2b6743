"""Fuzz the whole OpenAPI with schemathesis: zero 5xx, zero schema violations, on every operation.

The app runs on a seeded SQLite database (tenant OE with products, airports and keys), so generated
requests reach real objects as well as missing ones. Examples per operation are bounded so that the
suite stays fast; run with SCHEMATHESIS_EXAMPLES=200, SCHEMATHESIS_COVERAGE=1 (schemathesis' coverage
phase: boundary and type-confusion values of every field) and SCHEMATHESIS_RANDOM=1 for a deeper search.

Shape: schemathesis' lazy ``from_fixture`` loader does not work with pytest 9, and ``parametrize``
copies the schema when the module is imported, so the app object is made here at import. Nothing
connects until its lifespan starts at the first request, after the fixture has seeded the database.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.app import create_app
from offerengine.auth import service as auth
from offerengine.auth.core import Actor, ActorKind, Role
from offerengine.catalog import service as catalog
from offerengine.catalog.schemas import ProductCreate
from offerengine.db import migrate
from offerengine.network import service as network
from offerengine.pricing import service as pricing
from offerengine.pricing.schemas import PricingRuleCreate
from offerengine.tenants import service as tenants
from offerengine.tenants.schemas import TenantCreate
from offerengine.units import run_in_transaction
from tests.conftest import PLATFORM_KEY, make_settings
from tests.helpers import SEAT

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
FOLDER = Path(tempfile.mkdtemp(prefix="offerengine-fuzz-"))
atexit.register(shutil.rmtree, FOLDER, ignore_errors=True)
SETTINGS = make_settings(f"sqlite:///{FOLDER / 'offerengine.db'}", FOLDER)
APP = create_app(SETTINGS)
# Each operation is fuzzed on its own: no data learnt from earlier responses (schemathesis 4.32
# then sometimes cannot build a negative case for an array, "Cannot generate an array with 1
# demanded elements", an upstream generation error that depends on what ran before).
CONFIG = SchemathesisConfig.from_dict(
    {
        "phases": {
            # The coverage phase (boundary and type-confusion cases for every field) doubles the
            # run on this 2-core machine, past CI's 20 minutes: on with SCHEMATHESIS_COVERAGE=1.
            "coverage": {"enabled": os.environ.get("SCHEMATHESIS_COVERAGE") == "1"},
            "fuzzing": {"extra-data-sources": {"responses": False}},
            "examples": {"extra-data-sources": {"responses": False}},
        },
        # Negative cases for this body hit the generation error above even so, in CI's full
        # run; its invalid inputs are covered by tests/e2e/test_flags.py.
        "operations": [
            {"include-operation-id": "updateFeatureFlag", "generation": {"mode": "positive"}},
            # Its seed 002 alias (docs/seeds.md) takes the same body.
            {"include-operation-id": "seedUpdateFeatureFlag", "generation": {"mode": "positive"}},
        ],
    }
)
schema = schemathesis.openapi.from_dict(APP.openapi(), config=CONFIG)
schema.app = APP
OWNER_KEY: dict[str, str] = {}


async def _seed(session: AsyncSession) -> str:
    actor = Actor(ActorKind.SYSTEM, None, "fuzz seed")
    tenant = await tenants.create(
        session,
        data=TenantCreate(code="OE", name="OfferEngine Air", kind="airline", base_currency="USD"),
        actor=actor,
    )
    for code in ("SEAT-EXTRA-LEG", "BAG-23KG", "MEAL-HOT"):
        await catalog.create(
            session, tenant=tenant, data=ProductCreate(**SEAT | {"product_code": code}), actor=actor
        )
    await network.add_airports(session, tenant_id=tenant.id, iata_codes=["JFK", "LHR"], actor=actor)
    await pricing.create(
        session,
        tenant=tenant,
        data=PricingRuleCreate(
            rule_name="demand",
            rule_type="DEMAND",
            conditions={"days_until_departure": {"max": 7}},
            adjustments={"type": "MULTIPLIER", "formula": "1.0 + (utilization^2 * 2.0)"},
        ),
        actor=actor,
    )
    key = await auth.create_key(
        session, tenant_id=tenant.id, name="fuzz", role=Role.OWNER, actor=actor
    )
    return key.secret


@pytest.fixture(scope="module", autouse=True)
def seeded_database() -> None:
    migrate.upgrade(SETTINGS.database_url)
    OWNER_KEY["OE"] = asyncio.run(run_in_transaction(SETTINGS, _seed))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    # Fixed examples by default (as Hypothesis does under CI=true), so that a run is repeatable;
    # SCHEMATHESIS_RANDOM=1 searches afresh each run.
    derandomize=not os.environ.get("SCHEMATHESIS_RANDOM"),
)
def test_no_request_gets_a_server_error_or_an_undocumented_response(
    case: schemathesis.Case,
) -> None:
    # Run-time routes take a tenant key; everything else is reached with the platform key.
    runtime = not case.path.startswith(("/v1/admin", "/healthz", "/readyz", "/metrics"))
    key = OWNER_KEY["OE"] if runtime else PLATFORM_KEY
    # Every check runs but "schema-valid data is accepted": some of our rules cannot be said in JSON
    # Schema (a cursor is an opaque token; a price's decimals depend on its currency), so a request
    # can match the schema and still be rightly refused with a 422 naming the field.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {key}"}, excluded_checks=[positive_data_acceptance]
    )
