"""Bulk import and streaming export over HTTP, on SQLite and PostgreSQL: a 100,000-row file
with one bad row changes nothing and names the row; the good file imports all of it, with its
history; offers and commission rates in JSON lines and Parquet; exports stream and import back
unchanged; background jobs report progress and outcome."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from tests.conftest import make_settings
from tests.helpers import Api, problem, tenant_api

COLUMNS = ["product_type", "product_code", "name", "base_price", "currency", "metadata"]


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(database_url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def products_csv(n: int, bad: dict[int, dict[str, str]] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for i in range(n):
        row = {
            "product_type": "BAG",
            "product_code": f"BAG-{i:06d}",
            "name": f"Checked bag number {i}",
            "base_price": f"{10 + i % 90}.50",
            "currency": "USD",
            "metadata": '{"kg": 23}',
        } | (bad or {}).get(i, {})
        writer.writerow([row[c] for c in COLUMNS])
    return out.getvalue().encode()


def imported(api: Api, kind: str, data: bytes, media: str, **params: str) -> Any:
    return api.post(
        f"/v1/admin/tenants/AA/imports/{kind}",
        content=data,
        headers={"Content-Type": media},
        params=params,
    )


def count_products(api: Api) -> int:
    """Products of the tenant, counted a page at a time."""
    total, cursor = 0, None
    while True:
        page = api.get(
            "/v1/admin/tenants/AA/products",
            params={"limit": 1000, **({"cursor": cursor} if cursor else {})},
        ).json()
        total += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return total


def test_a_100k_row_file_with_one_bad_row_changes_nothing_and_the_good_one_imports_all(
    client: TestClient,
) -> None:
    api = tenant_api(client)
    bad = products_csv(100_000, {73_455: {"base_price": "12.345"}})
    assert len(bad) > 5 * 1024 * 1024  # over the other routes' body limit

    body = problem(imported(api, "products", bad, "text/csv"), 422)

    assert body["bad_rows"] == 1
    assert body["total_rows"] == 100_000
    assert body["rows"] == [
        {
            "row": 73_456,
            "product_code": "BAG-073455",
            "errors": [
                {
                    "loc": ["products", 73_455, "base_price"],
                    "msg": body["rows"][0]["errors"][0]["msg"],
                    "type": "value_error",
                }
            ],
        }
    ]
    assert "73456" in body["detail"].replace(",", "")
    assert count_products(api) == 0
    audit = api.get("/v1/admin/tenants/AA/audit", params={"object_type": "product"}).json()
    assert audit["items"] == []

    started = time.perf_counter()
    done = imported(api, "products", products_csv(100_000), "text/csv")
    elapsed = time.perf_counter() - started

    assert done.status_code == 200, done.text
    assert done.json() == {
        "kind": "products",
        "rows": 100_000,
        "created": 100_000,
        "updated": 0,
        "unchanged": 0,
    }
    assert count_products(api) == 100_000
    one = api.get("/v1/admin/tenants/AA/products", params={"q": "BAG-073455"}).json()["items"]
    assert [(p["product_code"], p["base_price"], p["metadata"]) for p in one] == [
        ("BAG-073455", "25.50", {"kg": 23})
    ]
    versions = api.get(f"/v1/admin/products/{one[0]['id']}/versions").json()
    assert [(v["version"], v["action"]) for v in versions["items"]] == [(1, "create")]
    first = api.get(f"/v1/admin/products/{one[0]['id']}/versions/1").json()
    assert first["data"] == one[0]  # recorded as the API shows it
    audit = api.get("/v1/admin/tenants/AA/audit", params={"object_type": "product"}).json()
    assert [a["action"] for a in audit["items"]] == ["product.import"]
    print(f"100,000 products over HTTP in {elapsed:.1f} s")


def test_a_file_imported_again_changes_only_the_rows_that_differ(client: TestClient) -> None:
    api = tenant_api(client)
    assert imported(api, "products", products_csv(300), "text/csv").status_code == 200

    again = imported(api, "products", products_csv(300, {7: {"name": "Renamed"}}), "text/csv")

    assert again.json() | {"kind": "products"} == {
        "kind": "products",
        "rows": 300,
        "created": 0,
        "updated": 1,
        "unchanged": 299,
    }
    found = api.get("/v1/admin/tenants/AA/products", params={"q": "BAG-000007"}).json()["items"]
    assert (found[0]["name"], found[0]["version"]) == ("Renamed", 2)
    versions = api.get(f"/v1/admin/products/{found[0]['id']}/versions").json()["items"]
    assert [(v["version"], v["action"]) for v in versions] == [(1, "create"), (2, "update")]
    named = [c for c in versions[1]["changes"] if c["path"] == "name"]
    assert [(c["before"], c["after"]) for c in named] == [("Checked bag number 7", "Renamed")]
    rolled = api.post(f"/v1/admin/products/{found[0]['id']}/rollback", json={"version": 1})
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["name"] == "Checked bag number 7"


def test_many_bad_rows_are_counted_and_the_first_hundred_listed(client: TestClient) -> None:
    api = tenant_api(client)
    bad = {i: {"product_type": "lower"} for i in range(0, 1000, 2)}

    body = problem(imported(api, "products", products_csv(1000, bad), "text/csv"), 422)

    assert body["bad_rows"] == 500
    assert len(body["rows"]) == 100
    assert [r["row"] for r in body["rows"][:3]] == [1, 3, 5]
    assert all(e["loc"][2] == "product_type" for r in body["rows"] for e in r["errors"])
    assert count_products(api) == 0


def test_a_code_given_twice_and_a_broken_file_are_refused(client: TestClient) -> None:
    api = tenant_api(client)
    rows = products_csv(3, {2: {"product_code": "BAG-000000"}})

    body = problem(imported(api, "products", rows, "text/csv"), 422)
    assert body["rows"][0]["row"] == 3
    assert body["rows"][0]["errors"][0]["msg"] == "repeats row 1"

    broken = problem(imported(api, "products", b"[{", "application/json"), 400)
    assert broken["errors"][0]["loc"] == ["file"]
    unknown = problem(imported(api, "products", b"nope,name\n1,2\n", "text/csv"), 422)
    assert "unknown columns: nope" in unknown["detail"]
    nul = problem(
        imported(
            api,
            "products",
            b'[{"product_type":"BAG","product_code":"B1","name":"a\\u0000b","base_price":"1"}]',
            "application/json",
        ),
        422,
    )
    assert nul["rows"][0]["errors"][0]["loc"] == ["products", 0, "name"]
    unsaid = problem(imported(api, "products", b"x", "application/octet-stream"), 415)
    assert unsaid["errors"][0]["loc"] == ["query", "format"]
    assert count_products(api) == 0


def placement(api: Api) -> str:
    made = api.post(
        "/v1/admin/tenants/AA/decisioning/placements",
        json={"name": "home", "channel": "web", "content_type": "json"},
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def offer(i: int, placement_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": f"offer-{i}",
        "status": "approved",
        "priority": i,
        "representations": [{"placement_id": placement_id, "content": {"text": f"Deal {i}"}}],
        "eligibility": "profile.tier == 'GOLD'",
    } | fields


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    import json

    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_decisioning_offers_import_from_json_lines_with_their_references_checked(
    client: TestClient,
) -> None:
    api = tenant_api(client)
    home = placement(api)
    missing = "00000000-0000-4000-8000-000000000000"
    rows = [offer(i, home) for i in range(50)]
    rows[10] = offer(10, missing)
    rows[20] = offer(20, home, eligibility="profile.tier ==")

    body = problem(imported(api, "decisioning-offers", jsonl(rows), "application/jsonl"), 422)

    assert [(r["row"], r["name"]) for r in body["rows"]] == [(11, "offer-10"), (21, "offer-20")]
    assert body["rows"][0]["errors"][0]["loc"] == [
        "offers",
        10,
        "representations",
        0,
        "placement_id",
    ]
    assert body["rows"][1]["errors"][0]["loc"][:3] == ["offers", 20, "eligibility"]
    assert api.get("/v1/admin/tenants/AA/decisioning/offers").json()["items"] == []

    rows = [offer(i, home) for i in range(50)]
    done = imported(api, "decisioning-offers", jsonl(rows), "application/jsonl")
    assert done.json()["created"] == 50, done.text

    listed = api.get("/v1/admin/tenants/AA/decisioning/offers", params={"limit": 100}).json()
    assert len(listed["items"]) == 50
    saved = next(o for o in listed["items"] if o["name"] == "offer-7")
    assert saved["representations"][0]["placement_id"] == home
    history = api.get(f"/v1/admin/decisioning/offers/{saved['id']}/versions/1").json()
    assert history["data"] == saved  # recorded as the API shows it
    # An imported offer is edited like any other.
    changed = api.put(
        f"/v1/admin/decisioning/offers/{saved['id']}",
        json=offer(7, home, priority=99, version=1),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2


def parquet(rows: list[dict[str, Any]]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return sink.getvalue()


def test_commission_rates_import_from_parquet_and_replace_by_id_at_their_version(
    client: TestClient,
) -> None:
    api = tenant_api(client, kind="marketplace")
    rows = [
        {"commission_type": "PERCENTAGE", "rate": f"{i % 20 + 1}.5", "seller_id": f"S{i}"}
        for i in range(40)
    ]
    done = imported(api, "commission-rates", parquet(rows), "application/vnd.apache.parquet")
    assert done.json()["created"] == 40, done.text

    listed = api.get("/v1/admin/tenants/AA/commission-rates", params={"limit": 100}).json()
    first = next(r for r in listed["items"] if r["seller_id"] == "S0")
    assert first["rate"] == "1.5"

    replace = [{"id": first["id"], "version": 1, "commission_type": "FLAT", "rate": "2.00"}]
    again = imported(api, "commission-rates", parquet(replace), "application/vnd.apache.parquet")
    assert again.json()["updated"] == 1, again.text
    stale = imported(api, "commission-rates", parquet(replace), "application/vnd.apache.parquet")
    body = problem(stale, 422)
    assert body["rows"][0]["errors"][0]["loc"] == ["rates", 0, "version"]
    bad_money = [{"commission_type": "FLAT", "rate": "2.001", "currency": "USD"}]
    body = problem(
        imported(api, "commission-rates", parquet(bad_money), "application/vnd.apache.parquet"),
        422,
    )
    assert body["rows"][0]["errors"][0]["loc"] == ["rates", 0, "rate"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "json"])
def test_an_export_streams_and_imports_back_unchanged(client: TestClient, fmt: str) -> None:
    api = tenant_api(client)
    assert imported(api, "products", products_csv(2500), "text/csv").status_code == 200

    with api.client.stream(
        "GET",
        "/v1/admin/tenants/AA/exports/products",
        params={"format": fmt},
        headers={"Authorization": f"Bearer {api.key}"},
    ) as response:
        assert response.status_code == 200
        data = b"".join(response.iter_bytes())

    back = imported(api, "products", data, "application/octet-stream", format=fmt)
    assert back.json() == {
        "kind": "products",
        "rows": 2500,
        "created": 0,
        "updated": 0,
        "unchanged": 2500,
    }, back.text


def test_a_background_import_reports_its_progress_and_outcome(client: TestClient) -> None:
    api = tenant_api(client)
    started = api.post(
        "/v1/admin/tenants/AA/import-jobs/products",
        files={"file": ("bags.csv", products_csv(3000), "text/csv")},
    )
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["status"] == "running"
    seen = [job]
    for _ in range(600):
        job = api.get(f"/v1/admin/tenants/AA/import-jobs/{job['id']}").json()
        seen.append(job)
        if job["status"] != "running":
            break
        time.sleep(0.05)
    assert (job["status"], job["created"], job["processed"], job["total"]) == (
        "done",
        3000,
        3000,
        3000,
    )
    assert job["file_name"] == "bags.csv"
    assert count_products(api) == 3000

    failed = api.post(
        "/v1/admin/tenants/AA/import-jobs/products",
        files={"file": ("bad.csv", products_csv(10, {4: {"base_price": "x"}}), "text/csv")},
    ).json()
    for _ in range(600):
        failed = api.get(f"/v1/admin/tenants/AA/import-jobs/{failed['id']}").json()
        if failed["status"] != "running":
            break
        time.sleep(0.05)
    assert failed["status"] == "failed"
    assert failed["problem"]["rows"][0]["row"] == 5
    assert count_products(api) == 3000


def test_the_command_imports_all_or_nothing_and_exports_what_it_imported(
    sqlite_url: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from offerengine.cli import app as cli

    settings = make_settings(sqlite_url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        tenant_api(client)
    env = {"OFFERENGINE_DATABASE_URL": sqlite_url, "OFFERENGINE_VAR_DIR": str(tmp_path / "var")}
    runner = CliRunner()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(products_csv(2000, {1500: {"product_type": "x"}}))
    good = tmp_path / "good.csv"
    good.write_bytes(products_csv(2000))

    refused = runner.invoke(cli, ["import", "products", str(bad), "--tenant", "AA"], env=env)
    assert refused.exit_code == 2, refused.output
    assert "1 of 2000 rows have errors; nothing was imported" in refused.stderr
    assert "row 1501, product_type:" in refused.stderr

    done = runner.invoke(cli, ["import", "products", str(good), "--tenant", "AA"], env=env)
    assert done.exit_code == 0, done.output
    assert "Imported 2,000 products from good.csv: 2,000 created, 0 updated, 0 unchanged." in (
        done.stdout
    )
    assert "writing" in done.stderr  # the progress bar's phases

    out = tmp_path / "all.parquet"
    exported = runner.invoke(cli, ["export", "products", "--tenant", "AA", "-o", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    assert pq.read_table(out).num_rows == 2000
    again = runner.invoke(cli, ["import", "products", str(out), "--tenant", "AA"], env=env)
    assert "0 created, 0 updated, 2,000 unchanged" in again.stdout
    unknown = runner.invoke(cli, ["import", "products", str(good), "--tenant", "ZZ"], env=env)
    assert (unknown.exit_code, unknown.stderr.strip()) == (2, "No tenant 'ZZ'.")


def test_an_export_is_written_a_page_at_a_time(client: TestClient) -> None:
    from offerengine.transfer import kinds
    from offerengine.transfer import service as transfer

    api = tenant_api(client)
    assert imported(api, "products", products_csv(5000), "text/csv").status_code == 200
    tenant_id = api.get("/v1/admin/tenants/AA").json()["id"]

    async def parts(fmt: str) -> list[int]:
        ctx = client.app.state.context  # type: ignore[attr-defined]
        return [
            len(part)
            async for part in transfer.export(
                ctx, tenant_id=uuid.UUID(tenant_id), porter=kinds.PRODUCTS, fmt=fmt
            )
        ]

    assert client.portal is not None
    for fmt in ("jsonl", "csv", "parquet"):
        sizes = [s for s in client.portal.call(parts, fmt) if s]
        # 5,000 products in pages of 2,000: no part holds more than one page of them.
        assert len(sizes) >= 3, (fmt, sizes)
        assert max(sizes) < sum(sizes) / 2, (fmt, sizes)
