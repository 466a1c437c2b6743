"""Shopping at run time: search, the offers it stored, and pricing an offer again.

The configuration comes from the tenant's snapshot; per request only inventory counters are read
(through a short per-worker cache, ``availability_cache_seconds``) and the offers written.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine import ids, money
from offerengine.bundles.core import BundleFacts, BundleIndex
from offerengine.db import upsert
from offerengine.errors import Conflict, Gone, Invalid, NotFound
from offerengine.inventory import service as inventory
from offerengine.inventory.core import FlightFacts, ResourceKey, Stock
from offerengine.learning import store
from offerengine.learning.policy import SHOP
from offerengine.learning.store import ModelCache
from offerengine.profiles import service as profiles
from offerengine.recording import Recording, records
from offerengine.recording.store import STAT_KEYS
from offerengine.recording.writer import LOOKUP_WITHIN
from offerengine.shopping import core, personal
from offerengine.shopping.models import (
    Offer,
    OfferBody,
    OfferStat,
    StoredSearch,
    offer_json,
    place_of,
)
from offerengine.shopping.schemas import SearchRequest
from offerengine.snapshots.core import Snapshot

StockMap = dict[tuple[str, str, str], Stock]
MEMOS_PER_TENANT = 256


@dataclass
class ShopRuntime:
    """A worker's shopping: searches and re-pricing, with its short-lived caches (inventory
    counters, ranked results and shared prices for shop results; the conversion counts that rank
    offers) and the recorder its searches are written by. No cache is used to decide whether units can be held. With a
    conversion model, ``models`` and ``profiles`` give its learnt state and the customers'."""

    session_factory: async_sessionmaker[AsyncSession]
    recorder: Recording
    stock_seconds: float = 1.0
    conversion_seconds: float = 30.0
    result_seconds: float = 10.0
    models: ModelCache | None = None
    profiles: profiles.ProfileCache | None = None
    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    _stock: dict[uuid.UUID, tuple[float, dict[str, StockMap]]] = field(default_factory=dict)
    # Per tenant and scope, how many inventory reads found its counters changed: a ranked result
    # stays valid while the scopes of its flights keep the generation it was made at.
    _generations: dict[uuid.UUID, dict[str, int]] = field(default_factory=dict)
    _conversion: dict[uuid.UUID, tuple[float, core.ConversionModel]] = field(default_factory=dict)
    _locks: dict[uuid.UUID, asyncio.Lock] = field(default_factory=dict)
    _memos: dict[uuid.UUID, tuple[float | None, dict[bytes, core.Memo]]] = field(
        default_factory=dict
    )
    results: ResultCache = field(init=False)

    def __post_init__(self) -> None:
        self.results = ResultCache(self.result_seconds if self.stock_seconds > 0 else 0)

    async def stock(
        self, tenant_id: uuid.UUID, scopes: Iterable[str], *, fresh: bool = False
    ) -> StockMap:
        """Counters of the buckets in ``scopes``. ``fresh`` reads just those, now; otherwise every
        counter of the tenant's coming flights is read in one query at most once per
        ``stock_seconds`` (one refresh at a time: concurrent searches wait for it)."""
        wanted = set(scopes)
        if fresh or self.stock_seconds <= 0:
            async with self.session_factory() as session:
                return await inventory.read_stock(session, tenant_id, wanted)
        entry = self._stock.get(tenant_id)
        if entry is None or time.monotonic() - entry[0] > self.stock_seconds:
            lock = self._locks.setdefault(tenant_id, asyncio.Lock())
            async with lock:
                entry = self._stock.get(tenant_id)
                if entry is None or time.monotonic() - entry[0] > self.stock_seconds:
                    stamp = time.monotonic()
                    async with self.session_factory() as session:
                        found = await inventory.read_coming_stock(session, tenant_id)
                    by_scope: dict[str, StockMap] = {}
                    for key, value in found.items():
                        by_scope.setdefault(key[0], {})[key] = value
                    if entry is not None:
                        self._count_changes(tenant_id, entry[1], by_scope)
                    entry = (stamp, by_scope)
                    self._stock[tenant_id] = entry
        out: StockMap = {}
        for scope in wanted:
            found_scope = entry[1].get(scope)
            if found_scope:
                out.update(found_scope)
        return out

    def _count_changes(
        self, tenant_id: uuid.UUID, before: dict[str, StockMap], after: dict[str, StockMap]
    ) -> None:
        generations = self._generations.setdefault(tenant_id, {})
        for scope in before.keys() | after.keys():
            if before.get(scope) != after.get(scope):
                generations[scope] = generations.get(scope, 0) + 1

    def stamp(
        self, tenant_id: uuid.UUID, scopes: Iterable[str], conversion: core.ConversionModel
    ) -> tuple[Any, ...] | None:
        """What a ranked result for these scopes depends on besides the search itself: the
        generation of each scope's counters and the conversion counts' read. None when
        ``conversion`` is no longer the worker's current one (it was reloaded meanwhile)."""
        found = self._conversion.get(tenant_id)
        if found is None or found[1] is not conversion or self.stock_seconds <= 0:
            return None
        generations = self._generations.get(tenant_id, {})
        return (found[0], *[(s, generations.get(s, 0)) for s in sorted(scopes)])

    def memo(
        self, snapshot: Snapshot, search: core.Search, treatment: core.Treatment | None
    ) -> core.Memo | None:
        """The memo shared by searches with this party, customer, channel, context and currency
        against the same snapshot and the same inventory read (so for at most the availability
        interval); None when counters are not cached."""
        tenant_id = snapshot.tenant.id
        entry = self._stock.get(tenant_id)
        if entry is None or self.stock_seconds <= 0:
            return None
        stamp, memos = self._memos.get(tenant_id, (None, {}))
        # Few kinds of search share a memo (party sizes × segments × channels, typically); a
        # context fact of each search's own makes one memo per search, never shared: bounded.
        if stamp != entry[0] or len(memos) > MEMOS_PER_TENANT:
            memos = {}
            self._memos[tenant_id] = (entry[0], memos)
        basis = shared_basis(search)
        for name in ("origin", "destination", "date"):
            basis.pop(name)
        key = _encode_key(
            (
                snapshot.version,
                basis,
                sorted(treatment.tags) if treatment else None,
                sorted(treatment.bundles) if treatment and treatment.bundles is not None else None,
            )
        )
        found = memos.get(key)
        if found is None:
            found = memos[key] = core.Memo()
        return found

    def forget_stock(self, tenant_id: uuid.UUID) -> None:
        """This worker changed counters: its next shop reads them again."""
        self._stock.pop(tenant_id, None)
        self._memos.pop(tenant_id, None)
        self.results.clear()

    def forget_all(self) -> None:
        self._stock.clear()
        self._memos.clear()
        self.results.clear()

    async def offer(self, tenant_id: uuid.UUID, offer_id: str, *, now: datetime) -> Offer:
        """A stored offer: 404 if unknown (or another tenant's), 410 once expired."""
        found = await find(self.recorder, self.session_factory, offer_id)
        if found is None or found.tenant_id != tenant_id:
            raise NotFound(f"No offer {offer_id}.")
        if found.expires_at <= now:
            raise Gone(f"Offer {offer_id} expired at {found.expires_at.isoformat()}; search again.")
        return found

    async def conversion(self, tenant_id: uuid.UUID) -> core.ConversionModel:
        now = time.monotonic()
        found = self._conversion.get(tenant_id)
        if found is not None and now - found[0] < self.conversion_seconds:
            return found[1]
        async with self.session_factory() as session:
            rows = await session.execute(
                sa.select(
                    OfferStat.offer_type, OfferStat.segment, OfferStat.shown, OfferStat.ordered
                ).where(OfferStat.tenant_id == tenant_id)
            )
            model = core.ConversionModel({(r[0], r[1]): (int(r[2]), int(r[3])) for r in rows})
        self._conversion[tenant_id] = (now, model)
        return model

    async def search(
        self,
        snapshot: Snapshot,
        request: SearchRequest,
        at: datetime,
        *,
        preview: BundleFacts | None = None,
    ) -> Searched:
        """A search's offers. A bundle's ``preview`` reads live counters and shares nothing
        with other searches; the caller decides what to store."""
        search = search_of(request, snapshot)
        flights = snapshot.shopping.flights.find(search.origin, search.destination, search.day)
        scopes = scopes_of(flights, snapshot)
        conversion = await self.conversion(snapshot.tenant.id)
        stock = await self.stock(snapshot.tenant.id, scopes, fresh=preview is not None)
        stamp = None if preview is not None else self.stamp(snapshot.tenant.id, scopes, conversion)
        personalised = None
        if preview is None and snapshot.shopping.learner is not None:
            personalised = await self.personalise(snapshot, search, conversion, at)
        return run_search(
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

    async def personalise(
        self,
        snapshot: Snapshot,
        search: core.Search,
        conversion: core.ConversionModel,
        at: datetime,
    ) -> personal.Personalised:
        """The conversion model's estimates for this search's customer and context (and the
        shadow model's pick)."""
        learner = snapshot.shopping.learner
        assert learner is not None
        attributes: dict[str, Any] = dict(search.customer)
        customer_id = search.customer.get("id")
        if customer_id is not None and self.profiles is not None:
            stored = await self.profiles.get(snapshot.tenant.id, str(customer_id))
            if stored is not None:
                attributes = profiles.decision_attributes(
                    stored, search.customer, snapshot.segments, at
                )
        policies = await self.models.get(snapshot.tenant.id) if self.models is not None else {}
        live, shadow = learner.contextual, learner.shadow
        served = policies.get((SHOP, live.line)) if live is not None else None
        candidate = policies.get((SHOP, shadow.line)) if shadow is not None else None
        states = (
            None if live is None else served.under(live) if served else store.fresh(live),
            None
            if shadow is None
            else candidate.under(shadow)
            if candidate
            else store.fresh(shadow),
        )
        version = served.version if served is not None else None
        return personal.personalise(
            learner,
            states,
            version,
            conversion,
            search,
            personal.facts_of(search, attributes, at),
            self.rng,
        )

    async def reprice(self, snapshot: Snapshot, offer_id: str, at: datetime) -> Repriced:
        """A stored offer priced again now, with live counters."""
        stored = await self.offer(snapshot.tenant.id, offer_id, now=at)
        flight = snapshot.shopping.flights.by_id.get(stored.flight_id)
        stock = await self.stock(
            snapshot.tenant.id, scopes_of([flight] if flight else [], snapshot), fresh=True
        )
        return reprice(snapshot, stored, stock, await self.conversion(snapshot.tenant.id), at)


class ResultCache:
    """Ranked offers of identical searches, per worker: reused for up to ``seconds`` while the
    counters of the search's flights and the conversion counts read the same (see
    ``ShopRuntime.stamp``); cleared when this worker changes inventory."""

    def __init__(self, seconds: float, size: int = 2048) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: dict[bytes, tuple[float, tuple[Any, ...], Ranked]] = {}

    def key(
        self,
        snapshot: Snapshot,
        search: core.Search,
        treatment: core.Treatment | None,
        conversion: Any = None,
    ) -> bytes | None:
        """Identical searches given the same experiment treatment share results; with a personal
        ``conversion``, only while its estimates are the same too (a Thompson draw never is)."""
        if self.seconds <= 0:
            return None
        varied = None
        if treatment is not None:
            varied = (
                sorted(treatment.tags),
                None if treatment.bundles is None else sorted(treatment.bundles),
                None if treatment.weights is None else [str(w) for w in treatment.weights],
            )
        return _encode_key(
            (str(snapshot.tenant.id), snapshot.version, shared_basis(search), varied, conversion)
        )

    def get(self, key: bytes, stamp: tuple[Any, ...], at: datetime) -> Ranked | None:
        found = self._entries.get(key)
        if found is None or found[1] != stamp or time.monotonic() - found[0] > self.seconds:
            return None
        ranked = found[2]
        if ranked.leaves is not None and ranked.leaves <= at:
            return None  # a flight it offers has left since
        return ranked

    def put(self, key: bytes, stamp: tuple[Any, ...], ranked: Ranked) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (time.monotonic(), stamp, ranked)

    def clear(self) -> None:
        self._entries.clear()


_encode = _encode_key = msgspec.json.Encoder().encode


def shared_basis(search: core.Search) -> dict[str, Any]:
    """The search as its ranked offers depend on it: all of it but the customer's id (which
    counts only through the experiment treatment and a personal model, each keyed apart). The
    id is stored with each offer instead."""
    basis = search.basis()
    if "id" in basis["customer"]:
        basis["customer"] = {k: v for k, v in basis["customer"].items() if k != "id"}
    return basis


def search_of(request: SearchRequest, snapshot: Snapshot) -> core.Search:
    currency = request.currency or snapshot.tenant.base_currency
    try:
        money.currency(currency)
    except money.UnknownCurrency as exc:
        raise Invalid.field(("body", "currency"), f"{exc} (a selling currency)") from None
    return core.Search(
        origin=request.origin,
        destination=request.destination,
        day=request.date,
        passengers=core.Passengers(
            request.passengers.adults, request.passengers.children, request.passengers.infants
        ),
        currency=currency,
        cabin=request.cabin,
        customer=request.customer.model_dump(exclude_none=True),
        channel=request.channel,
        context=request.context,
    )


def scopes_of(flights: Sequence[FlightFacts], snapshot: Snapshot) -> set[str]:
    """Where the counters of these flights' offers live: the flights, and the airport-days of
    limited products counted per airport and day (lounges)."""
    scopes = {f.scope for f in flights}
    if snapshot.shopping.per_airport_day:
        scopes |= {f.day_scope for f in flights}
    return scopes


def shop_for(
    snapshot: Snapshot,
    stock: StockMap,
    conversion: core.Conversion,
    search: core.Search,
    at: datetime,
) -> core.Shop:
    """What the search sees: the snapshot's sections, live stock, and what the running
    experiments that vary shopping give its customer (rule tags, bundles, ranking weights); no
    memo (a search that ranks afresh takes the one it shares with searches like it)."""
    config = snapshot.shopping
    treatment = core.treatment_for(
        snapshot.experiments,
        search,
        at=at,
        saved_groups=snapshot.tenant.saved_groups,
    )
    rules, bundles = config.rules, config.bundles
    if treatment is not None and treatment.weights is not None:
        rules = dataclasses.replace(
            rules, w_conversion=treatment.weights[0], w_margin=treatment.weights[1]
        )
    if treatment is not None and treatment.bundles is not None:
        allowed = treatment.bundles
        bundles = BundleIndex.build(b for b in bundles.by_id.values() if b.name in allowed)
    return core.Shop(
        catalog=snapshot.catalog,
        pricing=snapshot.pricing,
        bundles=bundles,
        policy=config.policy,
        rules=rules,
        fares=config.fares,
        conversion=conversion,
        timezone=snapshot.tenant.timezone,
        countries=config.countries,
        stock=lambda key: stock.get(key.as_tuple()),
        treatment=treatment,
    )


@dataclass(slots=True)
class Shown:
    """A ranked offer as every search showing it shares it: its JSON members but its id, search,
    times and experiments, encoded once, and the body row that stores them, handed to the recorder
    by the first search that shows it."""

    flight: FlightFacts
    offer_type: str
    members: bytes
    own: dict[str, Any]  # what its search's row keeps of it, but its expiry
    body: records.OfferBody | None


@dataclass(slots=True)
class Ranked:
    """A search's ranking: its offers as shown, or, when each search explains its offers itself
    (as a personal conversion model does), the ranked candidates to show. A cached ranking keeps
    only the first (a candidate's items and trace are many objects; its encoding is one)."""

    warnings: list[str]
    candidates: list[core.Candidate] | None
    shown: list[Shown] | None
    leaves: datetime | None  # when the first of its flights leaves


def shown_of(
    snapshot: Snapshot,
    search: core.Search,
    candidate: core.Candidate,
    rules: core.OfferRules,
    at: datetime,
    *,
    reuse_seconds: float,
    explain: dict[str, Any] | None = None,
) -> Shown:
    """``candidate`` as shown, with a body row kept as long as any offer that can point at it
    (searches reuse a result for up to ``reuse_seconds``)."""
    bundle = candidate.bundle
    parts = candidate.parts if explain is None else {**candidate.parts, "conversion_model": explain}
    members = _encode(
        {
            "offer_type": candidate.offer_type.type,
            "bundle": None
            if bundle is None
            else {"id": str(bundle.id), "name": bundle.name, "version": bundle.version},
            "cabin": candidate.cabin,
            "flight": msgspec.Raw(candidate.flight_json),
            "items": msgspec.Raw(candidate.items_json),
            "omitted": candidate.omitted,
            "price": candidate.price,
            "currency": candidate.price["currency"],
            "score": candidate.score,
            "score_parts": parts,
            "low_stock": candidate.low_stock,
        }
    )[1:-1]
    basis = {
        "search": shared_basis(search),
        "flight_id": candidate.flight.key,
        "offer_type": candidate.offer_type.type,
        "priority": candidate.offer_type.priority,
        "bundle_id": None if bundle is None else str(bundle.id),
        "needs": [n.as_json() for n in candidate.needs],
    }
    body_id = ids.new_body_id()
    last = core.expires_at(rules, at + timedelta(seconds=reuse_seconds + 60), candidate.flight)
    own = {
        "offer_type": candidate.offer_type.type,
        "flight_id": candidate.flight.key,
        "total_minor": money.to_minor(candidate.total, search.currency),
        "body_id": body_id,
    }
    return Shown(
        candidate.flight,
        candidate.offer_type.type,
        members,
        own,
        records.OfferBody(
            id=body_id,
            members_json=members.decode(),
            basis_json=_encode(basis).decode(),
            expires_at=last,
        ),
    )


@dataclass(frozen=True, slots=True)
class Searched:
    search_id: str
    warnings: list[str]
    record: records.Search  # what is each offer's own, the new bodies, the model's logs
    encoded: list[bytes]  # each offer as JSON, once
    exposures: list[records.Exposure] = field(default_factory=list)  # units put in experiments

    def response(self) -> bytes:
        """The search's JSON answer, from the offers encoded once."""
        return (
            b'{"search_id":"'
            + self.search_id.encode()
            + b'","offers":['
            + b",".join(self.encoded)
            + b'],"warnings":'
            + _encode(self.warnings)
            + b"}"
        )


def run_search(
    snapshot: Snapshot,
    search: core.Search,
    stock: StockMap,
    conversion: core.Conversion,
    at: datetime,
    *,
    only_bundle: BundleFacts | None = None,
    runtime: ShopRuntime | None = None,
    personalised: personal.Personalised | None = None,
    stamp: tuple[Any, ...] | None = None,
) -> Searched:
    """The offers of a search, as shown, and the rows that store them (and, with a conversion
    model, the rows that log what it chose from). With the worker's ``runtime``, searches share
    their work: an identical search reuses the ranked offers (new ids, new expiry) while the
    ``stamp`` it was ranked under holds (its flights' counters and the conversion counts read
    the same, for at most ``result_seconds``), and searches within one availability interval with
    the same party, customer, channel, context and currency share prices and items. Orders and
    re-pricing never use this."""
    flights = snapshot.shopping.flights.find(search.origin, search.destination, search.day)
    shop = shop_for(snapshot, stock, conversion, search, at)
    if only_bundle is not None:
        shop = _preview_shop(shop, only_bundle, flights)
    ranked = _ranking(
        snapshot,
        search,
        shop,
        flights,
        at,
        runtime=runtime,
        personalised=personalised,
        stamp=stamp,
        shares_memo=only_bundle is None,
    )
    shown = ranked.shown
    if shown is None:
        assert personalised is not None
        shown = _explained(snapshot, search, shop.rules, ranked.candidates or (), personalised, at)
    return _searched(snapshot, search, shop, shown, ranked.warnings, personalised, at)


def _preview_shop(
    shop: core.Shop, bundle: BundleFacts, flights: Sequence[FlightFacts]
) -> core.Shop:
    """A bundle's preview: its offer on every flight, active or not, nothing else."""
    return dataclasses.replace(
        shop,
        rules=core.OfferRules(
            max_offers=max(1, len(flights)),
            offer_types=(core.OfferType(bundle.bundle_type, 1, True),),
        ),
        bundles=BundleIndex.build([dataclasses.replace(bundle, is_active=True)]),
    )


def _ranking(
    snapshot: Snapshot,
    search: core.Search,
    shop: core.Shop,
    flights: Sequence[FlightFacts],
    at: datetime,
    *,
    runtime: ShopRuntime | None,
    personalised: personal.Personalised | None,
    stamp: tuple[Any, ...] | None,
    shares_memo: bool,
) -> Ranked:
    """The search's ranking: the worker's cached one while ``stamp`` holds, else ranked afresh
    (sharing prices with searches like it when ``shares_memo``) and kept under the stamp."""
    cache = runtime.results if runtime is not None and stamp is not None else None
    key = None
    if cache is not None:
        learnt = (
            sorted(personalised.conversion.learnt.items())
            if personalised is not None and isinstance(personalised.conversion, core.Personal)
            else None
        )
        key = cache.key(snapshot, search, shop.treatment, learnt)
    if cache is not None and key is not None and stamp is not None:
        found = cache.get(key, stamp, at)
        if found is not None:
            return found
    if runtime is not None and shares_memo:
        shop = dataclasses.replace(shop, memo=runtime.memo(snapshot, search, shop.treatment))
    ranked = _rank_afresh(
        snapshot,
        search,
        shop,
        flights,
        at,
        explained=personalised is not None and personalised.live,
        reuse_seconds=0.0 if cache is None or key is None else cache.seconds,
    )
    if cache is not None and key is not None and stamp is not None:
        cache.put(key, stamp, ranked)
    return ranked


def _rank_afresh(
    snapshot: Snapshot,
    search: core.Search,
    shop: core.Shop,
    flights: Sequence[FlightFacts],
    at: datetime,
    *,
    explained: bool,
    reuse_seconds: float,
) -> Ranked:
    """The core's ranking, as shown; or, when each search explains its offers itself, the ranked
    candidates."""
    result = core.shop_offers(shop, search, flights, at)
    leaves = min((c.flight.departs for c in result.offers), default=None)
    if explained:
        return Ranked(result.warnings, result.offers, None, leaves)
    shows = [
        shown_of(snapshot, search, c, shop.rules, at, reuse_seconds=reuse_seconds)
        for c in result.offers
    ]
    return Ranked(result.warnings, None, shows, leaves)


def _explained(
    snapshot: Snapshot,
    search: core.Search,
    rules: core.OfferRules,
    candidates: Iterable[core.Candidate],
    personalised: personal.Personalised,
    at: datetime,
) -> list[Shown]:
    """Ranked candidates as shown, each with the conversion model's explanation of its score."""
    return [
        shown_of(
            snapshot,
            search,
            c,
            rules,
            at,
            reuse_seconds=0,
            explain=personalised.explain(c.offer_type.type),
        )
        for c in candidates
    ]


def _searched(
    snapshot: Snapshot,
    search: core.Search,
    shop: core.Shop,
    shown: list[Shown],
    warnings: list[str],
    personalised: personal.Personalised | None,
    at: datetime,
) -> Searched:
    """The shown offers with this search's ids and expiry, each encoded once, and the search's
    record (their own parts, the new bodies, the model's logs)."""
    search_id = ids.new_search_id()
    treatment = shop.treatment
    shown_experiments = treatment.shown() if treatment is not None else []
    tenant_id = snapshot.tenant.id
    exposures = records.exposed(
        tenant_id, treatment.assignments if treatment is not None else (), at
    )
    experiments = _encode(shown_experiments)
    bodies: list[records.OfferBody] = []
    encoded: list[bytes] = []
    own: dict[str, dict[str, Any]] = {}
    search_key = ids.new_search_key()
    created = at.isoformat()
    latest = at + timedelta(minutes=shop.rules.expiry_minutes)
    latest_text = latest.isoformat()  # most offers' expiry: written once
    last = at
    for place, offer in enumerate(shown):
        offer_id = f"{search_key}{place:02x}"
        expires = core.expires_at(shop.rules, at, offer.flight).astimezone(UTC)
        expires_text = latest_text if expires == latest else expires.isoformat()
        last = max(last, expires)
        encoded.append(
            offer_json(offer_id, search_id, offer.members, created, expires_text, experiments)
        )
        if offer.body is not None:
            bodies.append(offer.body)
            offer.body = None
        own[offer_id[-2:]] = {**offer.own, "expires_at": expires_text}
    shown_types = [o.offer_type for o in shown]
    record = records.Search(
        tenant_id=tenant_id,
        id=search_key,
        search_id=search_id,
        segment=search.segment,
        customer_id=search.customer.get("id"),
        currency=search.currency,
        experiments_json=experiments.decode(),
        offers_json=_encode(own).decode(),
        created_at=at,
        expires_at=last,
        shown=shown_types,
        bodies=bodies,
        logs=[] if personalised is None else personalised.logs(search_id, at, shown_types),
    )
    return Searched(search_id, warnings, record, encoded, exposures)


# --- stored offers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Repriced:
    offer_id: str
    offer: dict[str, Any]
    changed: bool
    previous_total: str


def reprice(
    snapshot: Snapshot,
    stored: Offer,
    stock: StockMap,
    conversion: core.ConversionModel,
    at: datetime,
) -> Repriced:
    """The stored offer priced now, from the same search, flight and offer type. 409 if the flight
    can no longer make it (sold out, cancelled, bundle gone)."""
    basis = stored.basis
    search = core.search_of(basis["search"])
    config = snapshot.shopping
    flight = config.flights.by_id.get(uuid.UUID(basis["flight_id"]))
    if flight is None or flight.status != "scheduled":
        raise Conflict(f"Offer {stored.id} is no longer available: its flight was cancelled.")
    offer_type = core.OfferType(basis["offer_type"], int(basis.get("priority", 0)))
    bundle = None
    if basis.get("bundle_id"):
        bundle = config.bundles.by_id.get(uuid.UUID(basis["bundle_id"]))
        if bundle is None or not bundle.is_active:
            raise Conflict(f"Offer {stored.id} is no longer available: its bundle was withdrawn.")
    shop = shop_for(snapshot, stock, conversion, search, at)
    try:
        candidate = core.Builder(shop, search, at).build(flight, offer_type, bundle)
    except core.Dropped as exc:
        raise Conflict(f"Offer {stored.id} is no longer available: {exc}.") from None
    shown = stored.body
    offer = {
        **shown,
        "items": candidate.items,
        "omitted": candidate.omitted,
        "price": candidate.price,
        "low_stock": candidate.low_stock,
        "priced_at": at.isoformat(),
    }
    previous = shown["price"]["total"]
    return Repriced(stored.id, offer, candidate.price["total"] != previous, previous)


def needs_of(raw: Sequence[dict[str, Any]]) -> list[tuple[ResourceKey, int, int]]:
    return [
        (
            ResourceKey(n["scope"], n["resource_type"], n["resource"]),
            int(n["quantity"]),
            int(n["capacity"]),
        )
        for n in raw
    ]


async def find(
    recorder: Recording,
    session_factory: async_sessionmaker[AsyncSession],
    offer_id: str,
) -> Offer | None:
    """The offer from this worker's recorder or the database; a recent one another worker made is
    waited for (up to ``LOOKUP_WITHIN`` seconds after its creation)."""
    key, place = place_of(offer_id)
    while True:
        row: dict[str, Any] | None = None
        young = await recorder.young(("search", key))
        if isinstance(young, records.Search):
            row = {c.key: getattr(young, c.key) for c in StoredSearch.__table__.columns}
        else:
            async with session_factory() as session:
                found = await session.get(StoredSearch, key)
                if found is not None:
                    row = {c.key: getattr(found, c.key) for c in StoredSearch.__table__.columns}
        if row is not None:
            own = msgspec.json.decode(row["offers_json"]).get(place)
            if own is None:
                return None
            body = await recorder.young_body(own["body_id"])
            if body is None:  # written already (perhaps by an earlier search: a reused result)
                async with session_factory() as session:
                    stored = await session.get(OfferBody, own["body_id"])
                if stored is None:
                    return None
                return Offer.of(offer_id, row, own, stored.members_json, stored.basis_json)
            return Offer.of(offer_id, row, own, body.members_json, body.basis_json)
        age = ids.hex_age_seconds(offer_id)
        if age is None or age > LOOKUP_WITHIN or age < -1:
            return None
        await asyncio.sleep(0.02)


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
