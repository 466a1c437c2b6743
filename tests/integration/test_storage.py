"""Storage on SQLite and PostgreSQL: migrations, constraints, atomic units of work."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import lz4.frame
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.auth.core import Actor, ActorKind
from offerengine.catalog import service as catalog
from offerengine.catalog.schemas import ProductCreate
from offerengine.commerce.models import StoredQuote
from offerengine.db import migrate
from offerengine.db.base import JSONType, UTCDateTime
from offerengine.db.engine import create_sync_engine
from offerengine.db.models import metadata
from offerengine.db.rows import insert_many, insert_tuples
from offerengine.deps import DbSession
from offerengine.tenants import service as tenants
from tests.conftest import make_settings
from tests.helpers import SEAT, Api, create_tenant, platform, tenant_api

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

    @app.admin.post("/test/write-then-fail")
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


def test_insert_many_stores_rows_as_sqlalchemys_insert_does(database_url: str) -> None:
    # The writer's batches skip SQLAlchemy's per-row parameter building (db.rows); each value
    # must still be bound as SQLAlchemy binds it: UUIDs, UTC times, JSON (null and nested),
    # text beyond ASCII, NULLs; and many rows go in a page at a time.
    metadata = sa.MetaData()
    table = sa.Table(
        f"many_{uuid.uuid4().hex[:8]}",
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("at", UTCDateTime()),
        sa.Column("doc", JSONType),
        sa.Column("note", sa.Text),
        sa.Column("n", sa.BigInteger),
    )
    at = datetime(2026, 12, 2, 10, 30, 15, 123456, tzinfo=timezone(timedelta(hours=3)))

    def row(i: int) -> dict[str, Any]:
        doc = None if i % 3 == 0 else {"i": i, "nested": [1, "iki", {"ü": True}]}
        return {"id": uuid.UUID(int=i + 1), "at": at + timedelta(seconds=i), "doc": doc,
                "note": None if i % 5 == 0 else f"{i} × ∞ – İstanbul", "n": i * 10**12}  # fmt: skip

    engine = create_sync_engine(database_url)
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        with engine.begin() as connection:
            metadata.create_all(connection)
            connection.execute(sa.insert(table), [row(i) for i in range(3)])
            before = len(statements)
            # 7,000 rows, past the 32,766 values SQLite binds in one statement: pages of 1,000
            # there; on PostgreSQL one statement with an array per column.
            insert_many(connection, table, [row(i) for i in range(3, 7003)])
            if connection.dialect.name == "sqlite":
                assert len(statements) - before == 7
                assert all(s.count("),") == 999 for s in statements[before:])
            else:
                assert len(statements) - before == 1
                assert "unnest(" in statements[before]
            with pytest.raises(KeyError):
                insert_many(connection, table, [{"id": uuid.uuid4()}])
            found = connection.execute(sa.select(table).order_by(table.c.id)).mappings().all()
            assert [dict(r) for r in found] == [
                {**row(i), "at": row(i)["at"].astimezone(UTC)} for i in range(7003)
            ]
            # Stored alike, not only read back alike: the JSON null and the times as text.
            raw = sa.select(sa.cast(table.c.at, sa.Text), sa.cast(table.c.doc, sa.Text))
            pairs = connection.execute(raw.where(table.c.id.in_([row(0)["id"], row(3)["id"]])))
            first, many = pairs.all()
            assert first[1] == many[1]
            assert first[0].replace(":15.", ":18.") == many[0]
            metadata.drop_all(connection)
    finally:
        engine.dispose()


def test_insert_tuples_stores_rows_as_insert_many_does(database_url: str) -> None:
    # A quote's lines go in as tuples in the table's column order (db.rows.insert_tuples), bound
    # a column at a time; the values must land as insert_many binds them.
    metadata = sa.MetaData()
    table = sa.Table(
        f"tuples_{uuid.uuid4().hex[:8]}",
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("at", UTCDateTime()),
        sa.Column("note", sa.Text),
        sa.Column("n", sa.BigInteger),
    )
    at = datetime(2026, 12, 4, 1, 30, tzinfo=timezone(timedelta(hours=3)))

    def row(i: int) -> dict[str, Any]:
        return {"id": uuid.UUID(int=i + 1), "at": at + timedelta(seconds=i),
                "note": None if i % 4 == 0 else f"{i} İstanbul", "n": i * 10**12}  # fmt: skip

    columns = [c.key for c in table.columns]
    engine = create_sync_engine(database_url)
    try:
        with engine.begin() as connection:
            metadata.create_all(connection)
            # 9,000 rows of 4 values: past one page (32,766 values).
            insert_tuples(
                connection, table, [tuple(row(i)[c] for c in columns) for i in range(9000)]
            )
            with pytest.raises(ValueError, match="4 values"):
                insert_tuples(connection, table, [(uuid.uuid4(), at, "short")])
            found = connection.execute(sa.select(table).order_by(table.c.id)).mappings().all()
            assert [dict(r) for r in found] == [
                {**row(i), "at": row(i)["at"].astimezone(UTC)} for i in range(9000)
            ]
            metadata.drop_all(connection)
    finally:
        engine.dispose()


def test_stored_quotes_read_the_same_through_every_migration_of_their_data(
    database_url: str, tmp_path: Path
) -> None:
    # 20261202_0012 turned a quote's data from text into bytes, 20261202_0013 into an LZ4 frame
    # of them; each undoes its change on a downgrade. 1,200 copies of the quote make 0013 page.
    basket = {
        "customer_id": "c-1",
        "items": [{"product_id": "p", "quantity": 2, "unit_price": "40.00"}],
        "delivery_address": {"city": "İstanbul", "country": "TR"},
    }
    with TestClient(create_app(make_settings(database_url, tmp_path))) as client:
        runtime = tenant_api(client, "QT", "runtime", kind="marketplace", base_currency="TRY")
        made = runtime.post("/v1/quote", json=basket)
        assert made.status_code == 200, made.text
        quote = made.json()["data"]  # stored when the app stops, at the latest
    engine = create_sync_engine(database_url)
    quotes = StoredQuote.__table__
    raw = sa.table("quotes", sa.column("data"))

    def stored() -> list[Any]:
        with engine.connect() as connection:
            return list(connection.scalars(sa.select(raw.c.data)))

    try:
        with engine.begin() as connection:
            row = dict(connection.execute(sa.select(quotes)).mappings().one())
            copies = [{**row, "id": uuid.uuid4()} for _ in range(1200)]
            insert_many(connection, cast(sa.Table, quotes), copies)
        at_head = stored()
        assert len(at_head) == 1201
        assert all(json.loads(lz4.frame.decompress(d)) == quote for d in at_head)
        migrate.downgrade(database_url, "20261202_0012")
        assert all(isinstance(d, bytes) and json.loads(d) == quote for d in stored())
        migrate.downgrade(database_url, "20261202_0011")
        assert all(isinstance(d, str) and json.loads(d) == quote for d in stored())
        migrate.upgrade(database_url)
        with engine.connect() as connection:
            assert migrate.current_revision(connection) == migrate.head_revision()
        again = stored()
        assert len(again) == 1201
        assert all(json.loads(lz4.frame.decompress(d)) == quote for d in again)
        assert len(again[0]) < len(lz4.frame.decompress(again[0]))
    finally:
        engine.dispose()
    with TestClient(create_app(make_settings(database_url, tmp_path))) as client:
        read = Api(client, runtime.key).get(f"/v1/quotes/{quote['quote_id']}")
        assert read.status_code == 200, read.text
        assert read.json()["data"] == quote
