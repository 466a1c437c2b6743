"""Shopping at run time: a worker's :class:`ShopRuntime`, its searches and re-pricing.

The configuration comes from the tenant's snapshot; per request only inventory counters are read
(through a short per-worker cache, ``availability_cache_seconds``) and the offers written. The
runtime composes the modules that do the work:

- :mod:`~offerengine.shopping.stock`: inventory counters, read per worker at most once an interval;
- :mod:`~offerengine.shopping.conversion`: the conversion counts that rank offers, and a
  conversion model's estimates for a customer;
- :mod:`~offerengine.shopping.reuse`: the rankings and prices alike searches share;
- :mod:`~offerengine.shopping.ranking`: a search, run, from its request to the offers shown;
- :mod:`~offerengine.shopping.showing`: offers as shown, and a search's answer and record;
- :mod:`~offerengine.shopping.offers`: stored offers, found and priced again.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.bundles.core import BundleFacts
from offerengine.errors import Invalid
from offerengine.learning.store import ModelCache
from offerengine.profiles.service import ProfileCache
from offerengine.recording import Recording
from offerengine.shopping import core, journeys, offers, personal
from offerengine.shopping import grants as personal_coupons
from offerengine.shopping.conversion import ConversionCache, count_ordered, personalise
from offerengine.shopping.models import Offer
from offerengine.shopping.offers import Repriced, needs_of
from offerengine.shopping.ranking import run_search, search_of
from offerengine.shopping.reuse import MemoCache, ResultCache
from offerengine.shopping.schemas import SearchRequest
from offerengine.shopping.showing import Searched
from offerengine.shopping.stock import StockCache, StockMap, scopes_of
from offerengine.snapshots.core import Snapshot

# ``count_ordered`` and ``needs_of`` stay importable from here: orders take them from this module.
__all__ = ["ShopRuntime", "count_ordered", "needs_of"]
PLANS_KEPT = 4096  # journeys' itineraries kept per worker (all dropped when full)


class ShopRuntime:
    """A worker's shopping: searches and re-pricing, with its short-lived caches (inventory
    counters, ranked results and shared prices for shop results; the conversion counts that rank
    offers) and the recorder its searches are written by. No cache is used to decide whether units
    can be held. With a conversion model, ``models`` and ``profiles`` give its learnt state and
    the customers'."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        recorder: Recording,
        stock_seconds: float = 1.0,
        conversion_seconds: float = 30.0,
        result_seconds: float = 10.0,
        models: ModelCache | None = None,
        profiles: ProfileCache | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.recorder = recorder
        self.models = models
        self.profiles = profiles
        self.rng = rng if rng is not None else np.random.default_rng()
        self.stocks = StockCache(session_factory, stock_seconds)
        self.conversions = ConversionCache(session_factory, conversion_seconds)
        self.memos = MemoCache()
        self.results = ResultCache(result_seconds if stock_seconds > 0 else 0)
        # A journey's itineraries depend on the snapshot and its slices only: planned once.
        self._plans: dict[tuple[Any, ...], core.Planned] = {}

    @property
    def stock_seconds(self) -> float:
        """How long a read of the counters serves searches (<= 0: each search reads its own)."""
        return self.stocks.seconds

    @stock_seconds.setter
    def stock_seconds(self, seconds: float) -> None:
        self.stocks.seconds = seconds

    @property
    def conversion_seconds(self) -> float:
        """How long a read of the conversion counts serves searches."""
        return self.conversions.seconds

    @conversion_seconds.setter
    def conversion_seconds(self, seconds: float) -> None:
        self.conversions.seconds = seconds

    async def stock(
        self, tenant_id: uuid.UUID, scopes: Iterable[str], *, fresh: bool = False
    ) -> StockMap:
        """Counters of the buckets in ``scopes``. ``fresh`` reads just those, now; otherwise every
        counter of the tenant's coming flights is read in one query at most once per
        ``stock_seconds`` (one refresh at a time: concurrent searches wait for it)."""
        return await self.stocks.read(tenant_id, scopes, fresh=fresh)

    async def conversion(self, tenant_id: uuid.UUID) -> core.ConversionModel:
        """The conversion counts, read at most once per ``conversion_seconds``."""
        return await self.conversions.get(tenant_id)

    def stamp(
        self, tenant_id: uuid.UUID, scopes: Iterable[str], conversion: core.ConversionModel
    ) -> tuple[Any, ...] | None:
        """What a ranked result for these scopes depends on besides the search itself: the
        generation of each scope's counters and the conversion counts' read. None when
        ``conversion`` is no longer the worker's current one (it was reloaded meanwhile)."""
        read_at = self.conversions.read_at(tenant_id, conversion)
        if read_at is None or self.stock_seconds <= 0:
            return None
        generations = self.stocks.generations(tenant_id)
        return (read_at, *[(s, generations.get(s, 0)) for s in sorted(scopes)])

    def memo(
        self, snapshot: Snapshot, search: core.Search, treatment: core.Treatment | None
    ) -> core.Memo | None:
        """The memo shared by searches with this party, customer, channel, context and currency
        against the same snapshot and the same inventory read (so for at most the availability
        interval); None when counters are not cached."""
        read_at = self.stocks.read_at(snapshot.tenant.id)
        return self.memos.get(snapshot, search, treatment, read_at)

    def forget_stock(self, tenant_id: uuid.UUID) -> None:
        """This worker changed counters: its next shop reads them again."""
        self.stocks.forget(tenant_id)
        self.memos.forget(tenant_id)
        self.results.clear()

    def forget_all(self) -> None:
        self.stocks.clear()
        self.memos.clear()
        self.results.clear()

    async def search(
        self,
        snapshot: Snapshot,
        request: SearchRequest,
        at: datetime,
        *,
        preview: BundleFacts | None = None,
        reuse: bool = True,
    ) -> Searched:
        """A search's offers. A bundle's ``preview`` reads live counters and shares nothing
        with other searches; the caller decides what to store. Without ``reuse`` the ranking is
        made afresh and kept by no other search (each offer body is this search's own: personal
        coupons rewrite them)."""
        search = search_of(request, snapshot)
        if search.slices:
            if preview is not None:
                raise Invalid.field(
                    ("body", "search_params", "slices"), "a bundle preview takes the one-way shape"
                )
            return await self.search_journey(snapshot, search, at, reuse=reuse)
        flights = snapshot.shopping.flights.find(search.origin, search.destination, search.day)
        scopes = scopes_of(flights, snapshot)
        conversion = await self.conversion(snapshot.tenant.id)
        stock = await self.stock(snapshot.tenant.id, scopes, fresh=preview is not None)
        stamp = (
            None
            if preview is not None or not reuse
            else self.stamp(snapshot.tenant.id, scopes, conversion)
        )
        personalised = None
        if preview is None and snapshot.shopping.learner is not None:
            personalised = await self.personalise(snapshot, search, conversion, at)
        searched = run_search(
            snapshot,
            search,
            stock,
            personalised.conversion if personalised is not None else conversion,
            at,
            only_bundle=preview,
            runtime=None if preview is not None else self,
            personalised=personalised,
            stamp=stamp,
        )
        if searched.encoded or preview is not None:
            return searched
        return dataclasses.replace(
            searched, alternatives=await self.alternatives(snapshot, search, conversion, at)
        )

    async def search_journey(
        self, snapshot: Snapshot, search: core.Search, at: datetime, *, reuse: bool = True
    ) -> Searched:
        """A journey's offers: its itineraries from the snapshot's connection index, the
        counters of their flights (and, with nothing sellable, of the nearby dates' flights)."""
        tenant_id = snapshot.tenant.id
        key = (tenant_id, snapshot.version, search.slices)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= PLANS_KEPT:
                self._plans.clear()
            plan = self._plans[key] = journeys.planned(snapshot, search)
        conversion = await self.conversion(tenant_id)
        scopes = scopes_of(plan.flights(), snapshot)
        stock = await self.stock(tenant_id, scopes)
        stamp = self.stamp(tenant_id, scopes, conversion) if reuse else None
        searched = journeys.run_journey(
            snapshot, search, plan, stock, conversion, at, runtime=self, stamp=stamp
        )
        if searched.encoded:
            return searched
        return dataclasses.replace(
            searched, alternatives=await self.alternatives(snapshot, search, conversion, at)
        )

    async def alternatives(
        self,
        snapshot: Snapshot,
        search: core.Search,
        conversion: core.ConversionModel,
        at: datetime,
    ) -> dict[str, Any]:
        """What a search with nothing sellable proposes: the nearest dates with seats, and, for
        the one-way shape (which shops nonstops), connections with seats on the asked date."""
        slices = search.slices or (core.Slice(search.origin, search.destination, search.day),)
        flights = journeys.alternative_flights(snapshot, slices)
        stock = await self.stock(snapshot.tenant.id, scopes_of(flights, snapshot))
        return journeys.alternatives(
            snapshot, search, stock, conversion, at, connections=not search.slices
        )

    async def personalise(
        self,
        snapshot: Snapshot,
        search: core.Search,
        conversion: core.ConversionModel,
        at: datetime,
    ) -> personal.Personalised:
        """The conversion model's estimates for this search's customer and context (and the
        shadow model's pick)."""
        return await personalise(
            snapshot,
            search,
            conversion,
            at,
            models=self.models,
            profile_cache=self.profiles,
            rng=self.rng,
        )

    async def offer(self, tenant_id: uuid.UUID, offer_id: str, *, now: datetime) -> Offer:
        """A stored offer: 404 if unknown (or another tenant's), 410 once expired."""
        return await offers.get(self.recorder, self.session_factory, tenant_id, offer_id, now=now)

    async def reprice(self, snapshot: Snapshot, offer_id: str, at: datetime) -> Repriced:
        """A stored offer priced again now, with live counters."""
        stored = await self.offer(snapshot.tenant.id, offer_id, now=at)
        by_id = snapshot.shopping.flights.by_id
        ids = [uuid.UUID(k) for legs in stored.basis.get("journey", ()) for k in legs]
        flights = [f for f in (by_id.get(i) for i in ids or [stored.flight_id]) if f is not None]
        stock = await self.stock(snapshot.tenant.id, scopes_of(flights, snapshot), fresh=True)
        conversion = await self.conversion(snapshot.tenant.id)
        done = offers.reprice(snapshot, stored, stock, conversion, at)
        # Its personal coupons (campaign grants) on the new price, as they stand now.
        return await personal_coupons.repriced(
            self.session_factory, snapshot.tenant.id, stored, done, at
        )
