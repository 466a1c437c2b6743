"""Storage on SQLite and PostgreSQL: migrations, constraints, atomic units of work."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.auth.core import Actor, ActorKind
from offerengine.catalog import service as catalog
from offerengine.catalog.schemas import ProductCreate
from offerengine.db import migrate
from offerengine.db.engine import create_sync_engine
from offerengine.db.models import metadata
from offerengine.deps import DbSession
from offerengine.tenants import service as tenants
from tests.conftest import make_settings
from tests.helpers import SEAT, create_tenant, platform, tenant_api

TEST_ACTOR = Actor(ActorKind.SYSTEM, None, "test")


def test_the_migrations_create_exactly_what_the_models_describe(database_url: str) -> None:
    engine = create_sync_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        assert migrate.current_revision(conn) == migrate.head_revision()
    engine.dispose()


def test_migrating_again_is_a_no_op(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.upgrade(database_url)


def test_constraints_have_explicit_names(database_url: str) -> None:
    engine = create_sync_engine(database_url)
    inspector = sa.inspect(engine)
    uniques = {u["name"] for u in inspector.get_unique_constraints("products")}
    foreign = {f["name"] for f in inspector.get_foreign_keys("products")}
    engine.dispose()
    assert "uq_products_tenant_id_product_code" in uniques
    assert "fk_products_tenant_id_tenants" in foreign


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> TestClient:
    with TestClient(
        create_app(make_settings(database_url, tmp_path)), raise_server_exceptions=False
    ) as c:
        yield c


def _count(database_url: str, table: str) -> int:
    engine = create_sync_engine(database_url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return int(value)


def test_a_request_rejected_for_bad_input_changes_nothing(
    client: TestClient, database_url: str
) -> None:
    owner = tenant_api(client, "OE")
    before = {t: _count(database_url, t) for t in ("products", "object_versions", "audit_log")}
    rows = [SEAT, SEAT | {"product_code": "S2", "base_price": "1.001"}]
    assert (
        owner.post("/v1/admin/tenants/OE/products/bulk", json={"products": rows}).status_code == 422
    )
    assert {t: _count(database_url, t) for t in before} == before


def test_a_request_that_fails_after_writing_rolls_all_of_it_back(
    database_url: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(database_url, tmp_path))

    @app.post("/test/write-then-fail")
    async def write_then_fail(session: DbSession) -> None:
        tenant = await tenants.find(session, "OE")
        assert tenant is not None
        await catalog.create(session, tenant=tenant, data=ProductCreate(**SEAT), actor=TEST_ACTOR)
        raise RuntimeError("a bug after the write")

    with TestClient(app, raise_server_exceptions=False) as client:
        tenant_api(client, "OE")
        config_version = platform(client).get("/v1/admin/tenants/OE").json()["config_version"]
        before = {t: _count(database_url, t) for t in ("products", "object_versions", "audit_log")}
        response = client.post("/test/write-then-fail")
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert {t: _count(database_url, t) for t in before} == before
        assert (
            platform(client).get("/v1/admin/tenants/OE").json()["config_version"] == config_version
        )


def test_every_configuration_change_moves_the_tenants_config_version(client: TestClient) -> None:
    owner = tenant_api(client, "OE")
    version = lambda: platform(client).get("/v1/admin/tenants/OE").json()["config_version"]  # noqa: E731
    start = version()
    product = owner.post("/v1/admin/tenants/OE/products", json=SEAT).json()
    assert version() == start + 1
    owner.put(f"/v1/admin/products/{product['id']}", json=SEAT | {"name": "Renamed"})
    assert version() == start + 2
    owner.put(f"/v1/admin/products/{product['id']}", json=SEAT | {"name": "Renamed"})  # no change
    assert version() == start + 2
    owner.post("/v1/admin/tenants/OE/airports", json={"iata_codes": ["JFK", "LHR"]})
    assert version() == start + 3


def test_deleting_a_tenant_cascades_to_everything_it_owns(
    client: TestClient, database_url: str
) -> None:
    owner = tenant_api(client, "OE")
    owner.post("/v1/admin/tenants/OE/products", json=SEAT)
    owner.post("/v1/admin/tenants/OE/airports", json={"iata_codes": ["JFK"]})
    create_tenant(client, "KEEP")
    assert platform(client).delete("/v1/admin/tenants/OE").status_code == 204
    for table in ("products", "object_versions", "airports"):
        assert _count(database_url, table) == 0, table
    assert _count(database_url, "api_keys") == 0
    assert _count(database_url, "tenants") == 1


def test_sqlite_writes_many_rows_as_a_few_multi_row_statements(tmp_path: Path) -> None:
    # One statement per row hands the GIL back at every row; under a busy event loop each
    # hand-back waited out the switch interval and the offer writer fell ever further behind.
    engine = create_sync_engine(f"sqlite:///{tmp_path / 'rows.db'}")
    table = sa.Table(
        "rows",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("v", sa.Text),
    )
    statements: list[str] = []
    with engine.begin() as connection:
        table.create(connection)
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.set_trace_callback(statements.append)
        connection.execute(sa.insert(table), [{"id": i, "v": f"row {i}"} for i in range(2500)])
        raw.set_trace_callback(None)
        assert connection.scalar(sa.select(sa.func.count()).select_from(table)) == 2500
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert 1 <= len(inserts) <= 3
