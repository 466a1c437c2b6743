"""Retraining a campaign's uplift models from its own outcomes (issue 33, item 5).

A campaign's members were chosen by the same selection and split into arms at random (the
sticky holdout), so their outcomes are a randomised experiment: what a new uplift model can be
fitted on. For each promotion of the campaign's members, :func:`retrain`

1. reads each member's features (those sent when they were chosen, over the stored profile's),
   their arm, and whether they ordered during the campaign (:func:`measuring.outcomes`);
2. holds out a seeded third of them (:func:`core.split`) and fits a new two-model estimator
   (:class:`offerengine.learning.uplift.TLearner`) on the rest;
3. scores the held-out third with the new model and with the serving one, and computes each
   ranking's Qini coefficient there;
4. keeps the new model as the promotion's next version in any case, with both Qini figures; it
   serves only if its Qini beats the serving model's (:func:`core.promotes`), otherwise the old
   version is pinned as the one that serves. Any kept version can be chosen again later
   (:func:`offerengine.promotions.service.choose_version`: a rollback).

The version kept is the one judged (fitted on two thirds), so the Qini recorded with it is the
Qini of what serves. The unit of work commits.
"""

from __future__ import annotations

import pickle
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.campaigns import core, measuring
from offerengine.campaigns.models import Campaign, CampaignMember
from offerengine.errors import NotFound
from offerengine.learning import uplift
from offerengine.promotions import service as promoting
from offerengine.promotions.models import UpliftModel
from offerengine.promotions.schemas import CustomerIn
from offerengine.tenants import service as tenants

MIN_MEMBERS = 100  # members of a promotion the campaign must have before it retrains


async def _old_qini(
    session: AsyncSession,
    campaign: Campaign,
    code: str,
    names: list[str],
    features: np.ndarray,
    treated: np.ndarray,
    bought: np.ndarray,
) -> tuple[int | None, float | None]:
    """The serving version of the promotion's model and its Qini on the held-out members (None
    when it reads other features than the promotion's now)."""
    version = await promoting.serving_version(session, campaign.tenant_id, code)
    if version is None:
        return None, None
    reads = await session.scalar(
        sa.select(UpliftModel.features).where(
            UpliftModel.tenant_id == campaign.tenant_id,
            UpliftModel.promotion == code,
            UpliftModel.version == version,
        )
    )
    model = await promoting.estimator(session, campaign.tenant_id, code, version)
    if model is None or list(reads or []) != names:
        return version, None
    return version, uplift.qini_coefficient(model.uplift(features), treated, bought)


async def _retrain_one(
    session: AsyncSession,
    campaign: Campaign,
    code: str,
    names: list[str],
    rows: list[tuple[str, str, dict[str, Any] | None]],
    ordered: set[str],
    now: datetime,
    seed: int,
) -> dict[str, Any]:
    found: dict[str, Any] = {"promotion": code, "members": len(rows)}
    treated = np.array([arm == core.TREATED for _, arm, _ in rows], dtype=bool)
    bought = np.array([c in ordered for c, _, _ in rows], dtype=bool)
    if len(rows) < MIN_MEMBERS:
        return {**found, "skipped": f"{len(rows)} members: at least {MIN_MEMBERS} are needed"}
    held, kept = core.split(len(rows), seed)
    if not (treated[held].any() and (~treated[held]).any()):
        return {**found, "skipped": "the held-out third lacks an arm"}
    source = f"campaign {campaign.code}"
    for version_of, metrics_of in await session.execute(
        sa.select(UpliftModel.version, UpliftModel.metrics).where(
            UpliftModel.tenant_id == campaign.tenant_id, UpliftModel.promotion == code
        )
    ):
        if (
            metrics_of.get("source") == source
            and metrics_of.get("customers") == len(rows)
            and metrics_of.get("ordered") == int(bought.sum())
        ):
            return {**found, "skipped": f"no new outcomes since version {version_of}"}
    customers = [CustomerIn(id=c, features=f or {}) for c, _, f in rows]
    x = await promoting.features_of(session, campaign.tenant_id, customers, names, now)
    try:
        model = uplift.TLearner().fit(x[kept], treated[kept], bought[kept])
    except ValueError as exc:
        return {**found, "skipped": str(exc)}
    qini_new = uplift.qini_coefficient(model.uplift(x[held]), treated[held], bought[held])
    old_version, qini_old = await _old_qini(
        session, campaign, code, names, x[held], treated[held], bought[held]
    )
    promoted = core.promotes(qini_new, qini_old)
    latest = await session.scalar(
        sa.select(sa.func.max(UpliftModel.version)).where(
            UpliftModel.tenant_id == campaign.tenant_id, UpliftModel.promotion == code
        )
    )
    version = int(latest or 0) + 1
    metrics = {
        "source": source,
        "customers": len(rows),
        "treated": int(treated.sum()),
        "ordered": int(bought.sum()),
        "held_out": int(held.size),
        "qini_model": round(qini_new, 4),
        "previous_version": old_version,
        "qini_previous": None if qini_old is None else round(qini_old, 4),
        "promoted": promoted,
    }
    session.add(
        UpliftModel(
            tenant_id=campaign.tenant_id,
            promotion=code,
            version=version,
            features=names,
            estimator=pickle.dumps(model),
            metrics=metrics,
            trained_at=now,
        )
    )
    await session.flush()
    if promoted or old_version is None:
        reason = f"retrained from campaign {campaign.code}: Qini {metrics['qini_model']}"
        serving = version
    else:
        reason = f"kept: version {version}'s Qini {metrics['qini_model']} did not beat it"
        serving = old_version
    await promoting.choose_version(session, campaign.tenant_id, code, serving, reason[:200])
    return {**found, "version": version, "serving": serving, **metrics}


async def retrain(
    session: AsyncSession, campaign: Campaign, now: datetime, *, seed: int = 0
) -> dict[str, Any]:
    """Retrain each of the campaign's promotions' models from its members (see the module)."""
    until = min(now, campaign.ends_at)
    members = (
        await session.execute(
            sa.select(
                CampaignMember.customer_id,
                CampaignMember.arm,
                CampaignMember.promotion,
                CampaignMember.features,
            )
            .where(
                CampaignMember.tenant_id == campaign.tenant_id,
                CampaignMember.campaign_id == campaign.id,
            )
            .order_by(CampaignMember.customer_id)
        )
    ).all()
    ordered = {c for c, (n, _) in (await measuring.outcomes(session, campaign, until)).items() if n}
    defined = {p.code: p for p in await promoting.definitions(session, campaign.tenant_id)}
    by_promotion: dict[str, list[tuple[str, str, dict[str, Any] | None]]] = {}
    for customer, arm, code, features in members:
        by_promotion.setdefault(code, []).append((customer, arm, features))
    results = []
    for code in sorted(by_promotion):
        promotion = defined.get(code)
        if promotion is None:
            results.append({"promotion": code, "skipped": "no longer defined"})
            continue
        results.append(
            await _retrain_one(
                session,
                campaign,
                code,
                list(promotion.features),
                by_promotion[code],
                ordered,
                now,
                seed,
            )
        )
    return {"campaign": campaign.code, "retrained_at": now, "promotions": results}


async def retrain_by_code(
    session: AsyncSession, tenant: str, code: str, now: datetime, *, seed: int = 0
) -> dict[str, Any]:
    """``offerengine retrain-uplift``: :func:`retrain` for the tenant's campaign ``code``."""
    found = await tenants.find(session, tenant)
    if found is None:
        raise NotFound(f"No tenant {tenant!r}.")
    campaign = await session.scalar(
        sa.select(Campaign).where(Campaign.tenant_id == found.id, Campaign.code == code)
    )
    if campaign is None:
        raise NotFound(f"No campaign {code!r} of tenant {tenant!r}.")
    return await retrain(session, campaign, now, seed=seed)
