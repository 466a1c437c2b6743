"""What `offerengine train-uplift` and `offerengine recommend-promotions` do."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.db.base import utcnow
from offerengine.errors import Invalid, NotFound
from offerengine.learning import synthetic
from offerengine.promotions import service
from offerengine.promotions.schemas import CustomerIn, RecommendRequest
from offerengine.tenants import service as tenants

BATCH = 10_000


def read_table(path: Path) -> pa.Table:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pq.read_table(path)
    if suffix == ".csv":
        return pacsv.read_csv(path)
    raise Invalid(f"{path.name}: read from .parquet or .csv files")


def _column(table: pa.Table, name: str, path: Path) -> np.ndarray:
    if name not in table.column_names:
        raise Invalid(f"{path.name} has no {name!r} column")
    column = table.column(name)
    if column.null_count:
        raise Invalid(f"{path.name}: column {name!r} has empty cells")
    try:
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise Invalid(f"{path.name}: column {name!r} is not numbers") from exc


async def _tenant_id(session: AsyncSession, tenant: str) -> Any:
    found = await tenants.find(session, tenant)
    if found is None:
        raise NotFound(f"No tenant {tenant!r}.")
    return found.id


async def train(
    session: AsyncSession,
    tenant: str,
    code: str,
    history: Path | None,
    synthetic_customers: int | None,
    seed: int,
) -> dict[str, Any]:
    """Train from a history file (treated, bought and the promotion's feature columns) or from
    synthetic shoppers (the promotion must read synthetic.FEATURES)."""
    tenant_id = await _tenant_id(session, tenant)
    promotion = service._promotion(await service.definitions(session, tenant_id), code)
    if history is not None:
        table = read_table(history)
        features = np.column_stack([_column(table, f, history) for f in promotion.features])
        treated = _column(table, "treated", history) > 0
        bought = _column(table, "bought", history) > 0
    else:
        if list(promotion.features) != list(synthetic.FEATURES):
            raise Invalid(
                f"synthetic shoppers have the features {', '.join(synthetic.FEATURES)}; "
                f"promotion {code!r} reads {', '.join(promotion.features)}"
            )
        shoppers = synthetic.shoppers(synthetic_customers or 20_000, seed)
        features, treated, bought = shoppers.features, shoppers.treated, shoppers.bought
    row = await service.train(session, tenant_id, code, features, treated, bought, seed=seed)
    return {"promotion": code, "version": row.version, **row.metrics}


async def recommend_file(
    session: AsyncSession,
    tenant: str,
    customers: Path,
    out: Path,
    budget: Decimal | None,
    dry_run: bool,
) -> dict[str, Any]:
    """Recommend for every customer of a file (customer_id and feature columns), 10,000 at a
    time, the budget carried from batch to batch; write the grants to ``out`` (.csv)."""
    tenant_id = await _tenant_id(session, tenant)
    table = read_table(customers)
    if "customer_id" not in table.column_names:
        raise Invalid(f"{customers.name} has no 'customer_id' column")
    ids = [str(v) for v in table.column("customer_id").to_pylist()]
    names = [c for c in table.column_names if c != "customer_id"]
    columns = {n: _column(table, n, customers) for n in names}
    index = await service.load_index(session, tenant_id)
    left = budget
    grants: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    idle: dict[str, str] = {}
    for start in range(0, len(ids), BATCH):
        chunk = [
            CustomerIn(id=ids[i], features={n: float(columns[n][i]) for n in names})
            for i in range(start, min(start + BATCH, len(ids)))
        ]
        found = await service.recommend(
            session,
            tenant_id,
            index,
            RecommendRequest(customers=list(chunk), budget=left, dry_run=dry_run),
            utcnow(),
        )
        grants.extend(found["grants"])
        idle = found["promotions_not_offered"]
        for reason, n in found["skipped"].items():
            skipped[reason] = skipped.get(reason, 0) + n
        if left is not None:
            left -= sum(Decimal(g["expected_cost"]) for g in found["grants"])
    fields = [
        "customer_id", "promotion", "product", "expected_incremental_margin", "expected_cost",
        "currency", "p_with", "p_without", "uplift", "model_version",
    ]  # fmt: skip
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(grants)
    return {
        "customers": len(ids),
        "grants": len(grants),
        "expected_cost": str(sum((Decimal(g["expected_cost"]) for g in grants), Decimal(0))),
        "expected_incremental_margin": round(
            sum(float(g["expected_incremental_margin"]) for g in grants), 2
        ),
        "skipped": skipped,
        "promotions_not_offered": idle,
    }
