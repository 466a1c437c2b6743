"""Promotion targeting (seed 004): give a promotion only where it is expected to change what a
customer does, within its budget and the stock of its products.

A promotion's uplift model (:class:`offerengine.learning.uplift.TLearner`) is trained on the
outcomes of a randomised past promotion (:func:`train`: a history table, or synthetic shoppers
for a demonstration). A recommendation (:func:`recommend`) reads each customer's features — sent
with the request, else the stored profile's — estimates per promotion the probabilities of
buying with and without it, the incremental margin P₁·(margin − discount) − P₀·margin and the
expected cost P₁·discount, and selects grants by margin per unit of cost within the request's
budget and each promotion's remaining budget, the products' promotion stock (a product with less
than ``low_stock_below`` left gets none) and the per-customer limit. A recorded recommendation
counts its grants atomically (:mod:`offerengine.promotions.counters`): two at once never overspend
a budget or a product's stock.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.clock import utcnow
from offerengine.db.session import write_transaction
from offerengine.errors import FieldError, Invalid, NotFound
from offerengine.learning import uplift
from offerengine.profiles.core import profile_facts, vector
from offerengine.profiles.models import Profile
from offerengine.profiles.service import attributes_of, personalised
from offerengine.promotions import counters
from offerengine.promotions.core import ModelRef, PromotionIndex
from offerengine.promotions.models import PromotionGrant, UpliftModel, UpliftModelChoice
from offerengine.promotions.schemas import (
    CustomerIn,
    PromotionIn,
    PromotionsIn,
    PromotionsRead,
    PromotionsUpdate,
    RecommendRequest,
)
from offerengine.snapshots.core import Snapshot
from offerengine.snapshots.service import mark_config_changed
from offerengine.versioning.documents import DocumentKind

if TYPE_CHECKING:
    from offerengine.context import AppContext


def check(data: Any) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, promotion in enumerate(data.promotions):
        if promotion.code in seen:
            errors.append(FieldError(("body", "promotions", i, "code"), "named twice"))
        seen.add(promotion.code)
        try:
            money.currency(promotion.currency)
        except money.UnknownCurrency as exc:
            errors.append(FieldError(("body", "promotions", i, "currency"), str(exc)))
        codes = [p.code for p in promotion.products]
        if len(set(codes)) != len(codes):
            errors.append(FieldError(("body", "promotions", i, "products"), "a product twice"))
    return errors


PROMOTIONS = DocumentKind(
    "promotions",
    PromotionsIn,
    PromotionsRead,
    check,
    path="promotions",
    operation="Promotions",
    update_schema=PromotionsUpdate,
)


async def definitions(session: AsyncSession, tenant_id: uuid.UUID) -> list[PromotionIn]:
    return list(PROMOTIONS.read(await PROMOTIONS.get(session, tenant_id)).promotions)


def _promotion(found: Sequence[PromotionIn], code: str) -> PromotionIn:
    for promotion in found:
        if promotion.code == code:
            return promotion
    raise NotFound(f"No promotion {code!r}.")


# ---- training ----


async def train(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    code: str,
    features: np.ndarray,
    treated: np.ndarray,
    bought: np.ndarray,
    *,
    seed: int = 0,
) -> UpliftModel:
    """Fit the promotion's uplift model on past outcomes (treated at random) and keep it as its
    next version, with its Qini coefficient on a held-out third."""
    promotion = _promotion(await definitions(session, tenant_id), code)
    if features.ndim != 2 or features.shape[1] != len(promotion.features):
        raise Invalid(
            f"the history has {features.shape[1] if features.ndim == 2 else 0} feature columns; "
            f"promotion {code!r} reads {len(promotion.features)}: {', '.join(promotion.features)}"
        )
    n = features.shape[0]
    if n < 100:
        raise Invalid(f"{n} customers in the history: at least 100 are needed")
    order = np.random.default_rng(seed).permutation(n)
    held, kept = order[: n // 3], order[n // 3 :]
    try:
        model = uplift.TLearner().fit(features[kept], treated[kept], bought[kept])
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    score = model.uplift(features[held])
    metrics = {
        "customers": int(n),
        "treated": int(treated.sum()),
        "held_out": int(held.size),
        "qini_model": round(uplift.qini_coefficient(score, treated[held], bought[held]), 4),
        "qini_random": round(
            uplift.qini_coefficient(
                np.random.default_rng(seed).random(held.size), treated[held], bought[held]
            ),
            4,
        ),
    }
    model = uplift.TLearner().fit(features, treated, bought)  # served: fitted on everything
    latest = await session.scalar(
        sa.select(sa.func.max(UpliftModel.version)).where(
            UpliftModel.tenant_id == tenant_id, UpliftModel.promotion == code
        )
    )
    row = UpliftModel(
        tenant_id=tenant_id,
        promotion=code,
        version=int(latest or 0) + 1,
        features=list(promotion.features),
        estimator=pickle.dumps(model),
        metrics=metrics,
    )
    session.add(row)
    await session.execute(  # trained by hand: the new, latest version serves
        sa.delete(UpliftModelChoice).where(
            UpliftModelChoice.tenant_id == tenant_id, UpliftModelChoice.promotion == code
        )
    )
    await session.flush()
    mark_config_changed(session, tenant_id)  # the snapshot serves the new version
    return row


# ---- recommending ----


@dataclass(frozen=True, slots=True)
class Served:
    promotion: PromotionIn
    model: uplift.TLearner
    version: int


_LOADED: dict[uuid.UUID, uplift.TLearner] = {}  # fitted estimators by model version id


async def load_index(session: AsyncSession, tenant_id: uuid.UUID) -> PromotionIndex:
    """The promotions and their latest model versions, for the tenant's snapshot (training a
    model marks the configuration changed, so the snapshot moves on)."""
    promotions = await definitions(session, tenant_id)
    if not promotions:
        return PromotionIndex()
    latest = (
        sa.select(UpliftModel.promotion, sa.func.max(UpliftModel.version).label("version"))
        .where(UpliftModel.tenant_id == tenant_id)
        .group_by(UpliftModel.promotion)
        .subquery()
    )
    rows = await session.execute(
        sa.select(UpliftModel.id, UpliftModel.promotion, UpliftModel.version, UpliftModel.features)
        .join(
            latest,
            sa.and_(
                UpliftModel.promotion == latest.c.promotion,
                UpliftModel.version == latest.c.version,
            ),
        )
        .where(UpliftModel.tenant_id == tenant_id)
    )
    models = {code: ModelRef(i, v, tuple(f)) for i, code, v, f in rows}
    chosen = await session.execute(
        sa.select(UpliftModel.id, UpliftModel.promotion, UpliftModel.version, UpliftModel.features)
        .join(
            UpliftModelChoice,
            sa.and_(
                UpliftModelChoice.tenant_id == UpliftModel.tenant_id,
                UpliftModelChoice.promotion == UpliftModel.promotion,
                UpliftModelChoice.version == UpliftModel.version,
            ),
        )
        .where(UpliftModel.tenant_id == tenant_id)
    )
    models.update({code: ModelRef(i, v, tuple(f)) for i, code, v, f in chosen})
    return PromotionIndex(tuple(promotions), MappingProxyType(models))


# ---- model versions: which serves, comparing, rolling back ----


async def serving_version(session: AsyncSession, tenant_id: uuid.UUID, code: str) -> int | None:
    """The version of the promotion's model that serves: the chosen one, else the latest."""
    chosen = await session.scalar(
        sa.select(UpliftModelChoice.version).where(
            UpliftModelChoice.tenant_id == tenant_id, UpliftModelChoice.promotion == code
        )
    )
    if chosen is not None:
        return int(chosen)
    latest = await session.scalar(
        sa.select(sa.func.max(UpliftModel.version)).where(
            UpliftModel.tenant_id == tenant_id, UpliftModel.promotion == code
        )
    )
    return None if latest is None else int(latest)


async def choose_version(
    session: AsyncSession, tenant_id: uuid.UUID, code: str, version: int, reason: str
) -> None:
    """Serve ``version`` of the promotion's model (kept: it must exist) from the next snapshot."""
    found = await session.scalar(
        sa.select(UpliftModel.id).where(
            UpliftModel.tenant_id == tenant_id,
            UpliftModel.promotion == code,
            UpliftModel.version == version,
        )
    )
    if found is None:
        raise NotFound(f"No version {version} of promotion {code!r}'s uplift model.")
    row = await session.get(UpliftModelChoice, (tenant_id, code))
    if row is None:
        session.add(
            UpliftModelChoice(tenant_id=tenant_id, promotion=code, version=version, reason=reason)
        )
    else:
        row.version, row.reason, row.chosen_at = version, reason, utcnow()
    await session.flush()
    mark_config_changed(session, tenant_id)


async def model_versions(
    session: AsyncSession, tenant_id: uuid.UUID, code: str
) -> list[dict[str, Any]]:
    """Every kept version of the promotion's model, newest first: its metrics (the Qini figures)
    and whether it serves."""
    serving = await serving_version(session, tenant_id, code)
    rows = await session.execute(
        sa.select(UpliftModel.version, UpliftModel.trained_at, UpliftModel.metrics)
        .where(UpliftModel.tenant_id == tenant_id, UpliftModel.promotion == code)
        .order_by(UpliftModel.version.desc())
    )
    return [
        {"version": v, "trained_at": at, "serving": v == serving, **metrics}
        for v, at, metrics in rows
    ]


async def estimator(session: AsyncSession, tenant_id: uuid.UUID, code: str, version: int) -> Any:
    """The fitted estimator of a kept version (unpickled; cached per worker), or None."""
    found = await session.execute(
        sa.select(UpliftModel.id, UpliftModel.estimator).where(
            UpliftModel.tenant_id == tenant_id,
            UpliftModel.promotion == code,
            UpliftModel.version == version,
        )
    )
    row = found.first()
    if row is None:
        return None
    if row.id not in _LOADED:
        _LOADED[row.id] = pickle.loads(row.estimator)  # noqa: S301 - our own rows
    return _LOADED[row.id]


async def features_of(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    customers: Sequence[CustomerIn],
    names: Sequence[str],
    now: datetime,
) -> np.ndarray:
    """Each customer's feature vector (given features over the stored profile's), one row each."""
    request = RecommendRequest(customers=list(customers), dry_run=True)
    found = await _customers(session, tenant_id, request, now)
    if not found:
        return np.zeros((0, len(names)))
    return np.stack([vector(facts, names) for _, facts in found])


async def load_models(session: AsyncSession, index: PromotionIndex) -> None:
    """Read and unpickle the latest models this worker has not loaded yet (the first time also
    imports scikit-learn): done before a recording recommendation takes the database's write
    lock, so that no other writer waits for it."""
    for ref in index.models.values():
        if ref.id not in _LOADED:
            estimator = await session.scalar(
                sa.select(UpliftModel.estimator).where(UpliftModel.id == ref.id)
            )
            if estimator is not None:
                _LOADED[ref.id] = pickle.loads(estimator)  # noqa: S301 - our own rows


async def _models(
    session: AsyncSession, index: PromotionIndex, now: datetime
) -> tuple[list[Served], dict[str, str]]:
    """The promotions that can be recommended now, with their latest model; why the others
    cannot. A model's estimator is read from the database once per worker."""
    found, idle = [], {}
    for promotion in index.promotions:
        ref = index.models.get(promotion.code)
        if not promotion.active:
            idle[promotion.code] = "inactive"
        elif (promotion.valid_from and now < promotion.valid_from) or (
            promotion.valid_until and now >= promotion.valid_until
        ):
            idle[promotion.code] = "outside its validity"
        elif ref is None:
            idle[promotion.code] = "no uplift model trained"
        elif ref.features != tuple(promotion.features):
            idle[promotion.code] = "its features changed since its model was trained"
        else:
            model = _LOADED.get(ref.id)
            if model is None:
                estimator = await session.scalar(
                    sa.select(UpliftModel.estimator).where(UpliftModel.id == ref.id)
                )
                if estimator is None:  # a snapshot older than a deletion
                    idle[promotion.code] = "no uplift model trained"
                    continue
                model = _LOADED[ref.id] = pickle.loads(estimator)  # noqa: S301 - our own rows
            found.append(Served(promotion, model, ref.version))
    return found, idle


async def _customers(
    session: AsyncSession, tenant_id: uuid.UUID, request: RecommendRequest, now: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """Each customer's facts: the stored profile's (if it consents), under those given."""
    named = request.customers if request.customers is not None else [request.customer_id]
    given: list[CustomerIn] = [
        CustomerIn(id=c) if isinstance(c, str) else c for c in named if c is not None
    ]
    ids = [c.id for c in given]
    if len(set(ids)) != len(ids):
        raise Invalid("a customer is named twice", [FieldError(("body", "customers"), "twice")])
    stored: dict[str, Profile] = {}
    for start in range(0, len(ids), 500):
        for kept in await session.scalars(
            sa.select(Profile).where(
                Profile.tenant_id == tenant_id, Profile.profile_id.in_(ids[start : start + 500])
            )
        ):
            stored[kept.profile_id] = kept
    found = []
    for customer in given:
        row = stored.get(customer.id)
        facts = (
            profile_facts(attributes_of(row, now)) if row is not None and personalised(row) else {}
        )
        facts.update({f"profile.{k}": v for k, v in customer.features.items()})
        found.append((customer.id, facts))
    return found


def _product(promotion: PromotionIn, facts: Mapping[str, Any], left: Mapping[str, int]) -> str:
    """The product a customer's grant is for: theirs (profile.product) when the promotion covers
    it, else the promotion's product with the most stock left."""
    own = facts.get("profile.product")
    codes = [p.code for p in promotion.products]
    if isinstance(own, str) and own in codes:
        return own
    return max(codes, key=lambda c: (left.get(c, 0), c))


async def recommend_for(
    ctx: AppContext, snapshot: Snapshot, request: RecommendRequest, now: datetime
) -> dict[str, Any]:
    """``POST /v1/promotions/recommend``, the use case: :func:`recommend` for the snapshot's
    tenant. A ``dry_run`` only reads; otherwise its grants are recorded in a write transaction,
    the models loaded before it (outside the write lock)."""
    if request.dry_run:
        async with ctx.session_factory() as session:
            return await recommend(session, snapshot.tenant.id, snapshot.promotions, request, now)
    async with ctx.session_factory() as session:  # outside the write lock
        await load_models(session, snapshot.promotions)
    async with write_transaction(ctx) as session:
        return await recommend(session, snapshot.tenant.id, snapshot.promotions, request, now)


@dataclass(slots=True)
class _Pool:
    """What a recommendation selects from: one candidate per customer and promotion (with the
    details its grant reports), and the limits the selection keeps within."""

    candidates: list[uplift.Candidate] = field(default_factory=list)
    details: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)  # left, by "promotion/product"
    low: set[str] = field(default_factory=set)  # "promotion/product" below its low stock
    budgets: dict[str, float] = field(default_factory=dict)  # left, by promotion
    at_limit: int = 0  # customers who reached a promotion's per-customer limit


def _limits(pool: _Pool, p: PromotionIn, used: Mapping[tuple[str, str], int]) -> dict[str, int]:
    """Note the promotion's budget and products' stock left (and which run low) in the pool;
    return the stock left by product code."""
    spent = money.from_minor(used.get((p.code, counters.BUDGET), 0), p.currency)
    pool.budgets[p.code] = float(p.budget - spent)
    left = {}
    for item in p.products:
        key = f"{p.code}/{item.code}"
        left[item.code] = item.stock - used.get((p.code, item.code), 0)
        pool.stock[key] = left[item.code]
        if left[item.code] < item.low_stock_below:
            pool.low.add(key)
    return left


def _score(
    pool: _Pool,
    s: Served,
    customers: Sequence[tuple[str, dict[str, Any]]],
    granted: Mapping[tuple[str, str], int],
    left: Mapping[str, int],
) -> None:
    """Add a candidate per customer still under the promotion's limit: its incremental margin
    P₁·(margin − discount) − P₀·margin and its expected cost P₁·discount."""
    p = s.promotion
    matrix = np.stack([vector(facts, p.features) for _, facts in customers])
    with_it, without = s.model.probabilities(matrix)
    margin, discount = float(p.margin), float(p.discount)
    gain = with_it * (margin - discount) - without * margin
    for i, (customer, facts) in enumerate(customers):
        if granted.get((p.code, customer), 0) >= p.per_customer:
            pool.at_limit += 1
            continue
        chosen = _product(p, facts, left)
        pool.candidates.append(
            uplift.Candidate(
                customer,
                p.code,
                f"{p.code}/{chosen}",
                float(gain[i]),
                float(with_it[i] * discount),
            )
        )
        pool.details[(customer, p.code)] = {
            "p_with": round(float(with_it[i]), 4),
            "p_without": round(float(without[i]), 4),
            "uplift": round(float(with_it[i] - without[i]), 4),
            "model_version": s.version,
        }


async def _grant(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    request: RecommendRequest,
    now: datetime,
    promotion: PromotionIn,
    g: uplift.Grant,
) -> Decimal | None:
    """The grant's cost, counted and recorded unless a ``dry_run``; None if another
    recommendation took its budget or stock meanwhile."""
    code = g.product.split("/", 1)[1]
    cost = money.quantize(Decimal(str(g.cost)), promotion.currency)
    if request.dry_run:
        return cost
    if not await counters.take(session, tenant_id, promotion, code, cost):
        return None
    session.add(
        PromotionGrant(
            tenant_id=tenant_id,
            id=uuid.uuid4(),
            promotion=promotion.code,
            customer_id=g.customer,
            product=code,
            cost_minor=money.to_minor(cost, promotion.currency),
            expected_margin=g.incremental_margin,
            granted_at=now,
        )
    )
    return cost


async def recommend(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    index: PromotionIndex,
    request: RecommendRequest,
    now: datetime,
) -> dict[str, Any]:
    """Score each customer for each promotion that can be offered, select grants within the
    budgets and stock, and (unless a ``dry_run``) count and record them."""
    served, idle = await _models(session, index, now)
    customers = await _customers(session, tenant_id, request, now)
    codes = [s.promotion.code for s in served]
    used = await counters.used(session, tenant_id, codes)
    granted = await counters.granted(session, tenant_id, codes, [c for c, _ in customers])
    pool = _Pool()
    for s in served:
        _score(pool, s, customers, granted, _limits(pool, s.promotion, used))
    total = float(request.budget) if request.budget is not None else sum(pool.budgets.values())
    selection = uplift.select(
        pool.candidates,
        budget=max(total, 0.0),
        per_customer=1,
        stock=pool.stock,
        low_stock=frozenset(pool.low),
        budgets=pool.budgets,
    )
    skipped = dict(selection.skipped)
    if pool.at_limit:
        skipped["customer's limit for the promotion reached"] = pool.at_limit
    by_code = {s.promotion.code: s.promotion for s in served}
    grants = []
    for g in selection.grants:
        promotion = by_code[g.promotion]
        cost = await _grant(session, tenant_id, request, now, promotion, g)
        if cost is None:
            skipped["taken meanwhile by another recommendation"] = (
                skipped.get("taken meanwhile by another recommendation", 0) + 1
            )
            continue
        grants.append(
            {
                "customer_id": g.customer,
                "promotion": promotion.code,
                "product": g.product.split("/", 1)[1],
                "expected_incremental_margin": str(
                    money.quantize(Decimal(str(g.incremental_margin)), promotion.currency)
                ),
                "expected_cost": str(cost),
                "currency": promotion.currency,
                **pool.details[(g.customer, promotion.code)],
            }
        )
    return {
        "dry_run": request.dry_run,
        "customers": len(customers),
        "grants": grants,
        "skipped": skipped,
        "promotions_not_offered": idle,
        "expected_incremental_margin": round(
            sum(float(g["expected_incremental_margin"]) for g in grants), 2
        ),
    }


async def usage(session: AsyncSession, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    """Each promotion's spent budget, grants per product, and its serving model's metrics."""
    promotions = await definitions(session, tenant_id)
    used = await counters.used(session, tenant_id, [p.code for p in promotions])
    found = []
    for p in promotions:
        row = await session.scalar(
            sa.select(UpliftModel).where(
                UpliftModel.tenant_id == tenant_id,
                UpliftModel.promotion == p.code,
                UpliftModel.version == await serving_version(session, tenant_id, p.code),
            )
        )
        found.append(
            {
                "code": p.code,
                "budget": str(p.budget),
                "spent": str(money.from_minor(used.get((p.code, counters.BUDGET), 0), p.currency)),
                "currency": p.currency,
                "products": {
                    product.code: {
                        "stock": product.stock,
                        "granted": used.get((p.code, product.code), 0),
                    }
                    for product in p.products
                },
                "model": None
                if row is None
                else {"version": row.version, "trained_at": row.trained_at, **row.metrics},
            }
        )
    return found
