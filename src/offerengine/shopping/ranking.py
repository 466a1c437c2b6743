"""A search, run: from its request to the offers shown and the record that stores them.

1. :func:`search_of`: the request as the core's :class:`core.Search` (its selling currency checked).
2. :func:`shop_for`: what the search sees: the snapshot's sections, the counters read for it, and
   what running experiments give its customer (rule tags, bundles, ranking weights).
3. :func:`run_search`: its ranking, reused from an identical search while the stamp it was ranked
   under holds, or ranked afresh by the core (sharing prices with searches like it); each offer as
   shown (:mod:`~offerengine.shopping.showing`), explained by the conversion model when one
   ranks them; then the search's answer and record.

Reading counters and conversion counts is the caller's
(:class:`~offerengine.shopping.service.ShopRuntime`): this module reads nothing, so a benchmark can
run searches on counters it read once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from offerengine import money
from offerengine.bundles.core import BundleFacts, BundleIndex
from offerengine.errors import FieldError, Invalid, raise_if_any
from offerengine.inventory.core import FlightFacts
from offerengine.shopping import core, personal, showing
from offerengine.shopping.reuse import ResultCache
from offerengine.shopping.schemas import SearchRequest
from offerengine.shopping.showing import Ranked, Searched, Shown
from offerengine.shopping.stock import StockMap
from offerengine.snapshots.core import Snapshot


class Sharing(Protocol):
    """What a worker's searches share (see :mod:`~offerengine.shopping.reuse`)."""

    results: ResultCache

    def memo(
        self, snapshot: Snapshot, search: core.Search, treatment: core.Treatment | None
    ) -> core.Memo | None: ...


def search_of(request: SearchRequest, snapshot: Snapshot) -> core.Search:
    """The request as the core's search: the one-way shape (its three fields required), or a
    journey whose first slice is also its origin, destination and day."""
    currency = request.currency or snapshot.tenant.base_currency
    try:
        money.currency(currency)
    except money.UnknownCurrency as exc:
        raise Invalid.field(("body", "currency"), f"{exc} (a selling currency)") from None
    slices = tuple(
        core.Slice(s.origin, s.destination, s.date, s.days, s.fare_family)
        for s in request.slices or ()
    )
    if slices:
        origin, destination, day = slices[0].origin, slices[0].destination, slices[0].day
    else:
        missing = [
            FieldError(("body", name), "Field required", "missing")
            for name in ("origin", "destination", "date")
            if getattr(request, name) is None
        ]
        raise_if_any(missing)
        assert request.origin is not None  # checked just above, as are the other two
        assert request.destination is not None
        assert request.date is not None
        origin, destination, day = request.origin, request.destination, request.date
    _check_families(request, snapshot.shopping.fare_families, origin, destination)
    return core.Search(
        origin=origin,
        destination=destination,
        day=day,
        passengers=core.Passengers(
            request.passengers.adults, request.passengers.children, request.passengers.infants
        ),
        currency=currency,
        cabin=request.cabin,
        customer=request.customer.model_dump(exclude_none=True),
        channel=request.channel,
        context=request.context,
        slices=slices,
        fare_family=request.fare_family,
    )


def _check_families(
    request: SearchRequest, families: core.FareFamilies, origin: str, destination: str
) -> None:
    """A fare family asked for must be one the cabin sells: on the route (the one-way shape),
    or in some set of the cabin (a journey's slice, whose segments' routes are not known yet)."""
    cabin = request.cabin
    errors: list[FieldError] = []
    if request.slices is None:
        if request.fare_family is None:
            return
        found = families.for_route(cabin, origin, destination)
        if found is None:
            errors.append(
                FieldError(
                    ("body", "fare_family"),
                    f"{cabin} has no fare family set on {origin}-{destination}",
                )
            )
        elif found.get(request.fare_family) is None:
            errors.append(
                FieldError(
                    ("body", "fare_family"),
                    f"{request.fare_family!r} is not a fare family of {cabin} on "
                    f"{origin}-{destination}: one of {', '.join(found.codes)}",
                )
            )
        raise_if_any(errors)
        return
    known = families.codes.get(cabin, frozenset())
    asked: list[tuple[tuple[str | int, ...], str]] = []
    if request.fare_family is not None:
        asked.append((("body", "fare_family"), request.fare_family))
    asked += [
        (("body", "slices", i, "fare_family"), s.fare_family)
        for i, s in enumerate(request.slices)
        if s.fare_family is not None
    ]
    for loc, code in asked:
        if code not in known:
            listed = ", ".join(sorted(known)) if known else "none"
            errors.append(
                FieldError(
                    loc, f"{code!r} is not a fare family of {cabin} (its families: {listed})"
                )
            )
    raise_if_any(errors)


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
        loyalty=snapshot.loyalty,
        families=config.fare_families,
    )


def run_search(
    snapshot: Snapshot,
    search: core.Search,
    stock: StockMap,
    conversion: core.Conversion,
    at: datetime,
    *,
    only_bundle: BundleFacts | None = None,
    runtime: Sharing | None = None,
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
    return showing.searched(snapshot, search, shop, shown, ranked.warnings, personalised, at)


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
    runtime: Sharing | None,
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
        showing.shown_of(snapshot, search, c, shop.rules, at, reuse_seconds=reuse_seconds)
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
        showing.shown_of(
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
