"""Conversion: the counts that rank offers, and a conversion model's estimates for a customer.

The counts (offers shown and ordered, per offer type and segment) are counted up by the recorder
as searches are written and by :func:`count_ordered` in each order's transaction; a worker reads
them all at once, at most once per ``seconds`` (:class:`ConversionCache`). With a conversion model
(the snapshot's ``shopping.learner``), :func:`personalise` gives its estimates for a search's
customer and context instead, from the model's learnt state and the customer's stored profile.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.db import upsert
from offerengine.learning import store
from offerengine.learning.policy import SHOP
from offerengine.learning.store import ModelCache
from offerengine.profiles import service as profiles
from offerengine.recording.store import STAT_KEYS
from offerengine.shopping import core, personal
from offerengine.shopping.models import OfferStat
from offerengine.snapshots.core import Snapshot


@dataclass
class ConversionCache:
    """A worker's last read of each tenant's conversion counts, kept for ``seconds``."""

    session_factory: async_sessionmaker[AsyncSession]
    seconds: float = 30.0
    # Per tenant: when the counts were read (monotonic) and the model made of them.
    _reads: dict[uuid.UUID, tuple[float, core.ConversionModel]] = field(default_factory=dict)

    async def get(self, tenant_id: uuid.UUID) -> core.ConversionModel:
        """The tenant's counts, read again once older than ``seconds``."""
        now = time.monotonic()
        found = self._reads.get(tenant_id)
        if found is not None and now - found[0] < self.seconds:
            return found[1]
        async with self.session_factory() as session:
            rows = await session.execute(
                sa.select(
                    OfferStat.offer_type, OfferStat.segment, OfferStat.shown, OfferStat.ordered
                ).where(OfferStat.tenant_id == tenant_id)
            )
            model = core.ConversionModel({(r[0], r[1]): (int(r[2]), int(r[3])) for r in rows})
        self._reads[tenant_id] = (now, model)
        return model

    def read_at(self, tenant_id: uuid.UUID, model: core.ConversionModel) -> float | None:
        """When ``model`` was read (monotonic); None when it is no longer the tenant's current
        one (it was read again meanwhile)."""
        found = self._reads.get(tenant_id)
        if found is None or found[1] is not model:
            return None
        return found[0]


async def personalise(
    snapshot: Snapshot,
    search: core.Search,
    conversion: core.ConversionModel,
    at: datetime,
    *,
    models: ModelCache | None,
    profile_cache: profiles.ProfileCache | None,
    rng: np.random.Generator,
) -> personal.Personalised:
    """The conversion model's estimates for this search's customer and context (and the
    shadow model's pick)."""
    learner = snapshot.shopping.learner
    assert learner is not None
    attributes: dict[str, Any] = dict(search.customer)
    customer_id = search.customer.get("id")
    if customer_id is not None and profile_cache is not None:
        stored = await profile_cache.get(snapshot.tenant.id, str(customer_id))
        if stored is not None:
            attributes = profiles.decision_attributes(
                stored, search.customer, snapshot.segments, at
            )
    policies = await models.get(snapshot.tenant.id) if models is not None else {}
    live, shadow = learner.contextual, learner.shadow
    served = policies.get((SHOP, live.line)) if live is not None else None
    candidate = policies.get((SHOP, shadow.line)) if shadow is not None else None
    states = (
        None if live is None else served.under(live) if served else store.fresh(live),
        None if shadow is None else candidate.under(shadow) if candidate else store.fresh(shadow),
    )
    version = served.version if served is not None else None
    return personal.personalise(
        learner,
        states,
        version,
        conversion,
        search,
        personal.facts_of(search, attributes, at),
        rng,
    )


async def count_ordered(
    session: AsyncSession, tenant_id: uuid.UUID, offer_type: str, segment: str
) -> None:
    """Count an order of an offer of ``offer_type`` shown to ``segment`` (the counts that rank
    offers), in the order's transaction."""
    await upsert.add_up(
        session,
        OfferStat,
        [
            {
                "tenant_id": tenant_id,
                "offer_type": offer_type,
                "segment": segment,
                "shown": 0,
                "ordered": 1,
            }
        ],
        STAT_KEYS,
        ["shown", "ordered"],
    )
