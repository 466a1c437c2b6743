"""Shopping as plain functions over plain data: from a search and a snapshot to ranked offers.

How an offer is made, for one flight and one offer type (``FLIGHT_ONLY`` or a bundle type):

1. The cabin: the bundle's FLIGHT line names one (``cabin_class``), else the search's (default
   ECONOMY). The flight must have that cabin and enough sellable seats for the adults and children
   (infants sit on a lap and need none).
2. The fare: the tenant's FLIGHT product whose category is the cabin, priced by the pricing rules
   exactly as ``simulate`` prices it, with the flight's facts (departure time, route, cabin,
   ``utilization`` of the cabin) and the search's (channel, customer, passengers).
3. The bundle's other lines: for each, the products of that type (and category) that are in stock,
   each priced by its rules; the cheapest is taken. A required line with nothing in stock drops the
   bundle for this flight; an optional one is left out and the offer lists it under ``omitted``.
4. Per passenger type: adults pay the fare, children ``child_ratio`` of it and infants
   ``infant_ratio`` (fare settings; 0.75 and 0.10 by default), rounded in the filing currency.
   Ancillaries are per seated passenger (adults and children) × the line's quantity.
5. The bundle discount (``discount_percentage``) applies to the bundled ancillaries, never to the
   flight fare: fares are filed and taxed, the bundle is what the discount sells.
6. Currency: every unit amount is converted from its filing currency to the selling currency with
   the tenant's rate table and rounded half-up to the selling currency's minor units; amounts are
   then multiplied by counts and added, so totals are exact sums of what is shown.
7. Taxes and fees (fare settings): each rule that matches the origin or destination airport or
   country adds, per passenger of its types, a percentage of the fare or a fixed amount.

Ranking: ``score = w_conversion × P / max P + w_margin × margin / max margin`` over the candidates
of one search, where ``P`` is the Beta-Binomial estimate of P(order | offer type, segment) — or,
with the offer rules' ``conversion_model``, a contextual bandit's estimate for this customer and
context (:mod:`.personal`) — and ``margin`` is (price before taxes − cost) / price before taxes. Offer rules then keep
``max_offers``: the best offer of each ``always_include`` type first, then the best of the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Protocol

import msgspec

from offerengine import money
from offerengine.bundles.core import BundleFacts, BundleIndex, ItemSpec
from offerengine.catalog.core import CatalogIndex, ProductFacts
from offerengine.experiments.core import ExperimentIndex, assign
from offerengine.inventory import core as inventory
from offerengine.inventory.core import (
    FlightFacts,
    FlightIndex,
    InventoryPolicy,
    ResourceKey,
    Stock,
)
from offerengine.learning.policy import ContextualDef, ShopLearner
from offerengine.pricing import core as pricing
from offerengine.pricing.core import PricingIndex

FLIGHT_ONLY = "FLIGHT_ONLY"
PASSENGER_TYPES = ("ADULT", "CHILD", "INFANT")
ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
_C = money.MONEY_CONTEXT


# --- configuration ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferType:
    type: str
    priority: int
    always_include: bool = False


@dataclass(frozen=True, slots=True)
class OfferRules:
    """Seed 001's "Standard Offer Mix". With no offer types configured, every active bundle type
    is offered after FLIGHT_ONLY."""

    max_offers: int = 5
    offer_types: tuple[OfferType, ...] | None = None
    w_conversion: Decimal = Decimal("0.6")
    w_margin: Decimal = Decimal("0.4")
    expiry_minutes: int = 15
    version: int = 0
    contextual: ContextualDef | None = None  # the conversion model's bandit
    shadow: ContextualDef | None = None  # a candidate conversion model, scoring alongside

    def types(self, bundles: BundleIndex) -> tuple[OfferType, ...]:
        if self.offer_types is not None:
            return self.offer_types
        defaults = [OfferType(FLIGHT_ONLY, 1, True)]
        for i, bundle_type in enumerate(sorted(bundles.by_type), start=2):
            defaults.append(OfferType(bundle_type, i))
        return tuple(defaults)


@dataclass(frozen=True, slots=True)
class TaxRule:
    code: str
    name: str
    kind: str  # PERCENTAGE (of the fare) | FIXED (per passenger)
    amount: Decimal
    currency: str | None = None  # FIXED amounts
    airport: str | None = None
    country: str | None = None
    applies_to: str = "DEPARTURE"  # DEPARTURE | ARRIVAL
    passenger_types: frozenset[str] = frozenset(PASSENGER_TYPES)

    def matches(self, airport: str, country: str | None) -> bool:
        if self.airport is not None:
            return self.airport == airport
        return self.country is None or self.country == country


@dataclass(frozen=True, slots=True)
class FareSettings:
    child_ratio: Decimal = Decimal("0.75")
    infant_ratio: Decimal = Decimal("0.10")
    taxes: tuple[TaxRule, ...] = ()
    rates: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)
    version: int = 0

    def rate(self, source: str, target: str) -> Decimal | None:
        """Units of ``target`` per unit of ``source``: given, or the inverse of a given rate."""
        if source == target:
            return ONE
        found = self.rates.get((source, target))
        if found is not None:
            return found
        inverse = self.rates.get((target, source))
        return None if inverse is None else _C.divide(ONE, inverse)

    def ratio(self, passenger_type: str) -> Decimal:
        if passenger_type == "CHILD":
            return self.child_ratio
        if passenger_type == "INFANT":
            return self.infant_ratio
        return ONE


def rate_table(rows: Iterable[Mapping[str, Any]]) -> Mapping[tuple[str, str], Decimal]:
    return MappingProxyType({(r["from"], r["to"]): Decimal(str(r["rate"])) for r in rows})


# --- the snapshot section


@dataclass(frozen=True, slots=True)
class ShoppingConfig:
    flights: FlightIndex
    bundles: BundleIndex
    policy: InventoryPolicy
    rules: OfferRules
    fares: FareSettings
    countries: Mapping[str, str]
    webhook: str | None = None
    # Whether some limited product is counted per airport and day (a lounge): then a search
    # also reads the counters of its flights' origin airport-days.
    per_airport_day: bool = False
    # The offer rules' conversion model, over their offer types (None: Beta-Binomial only).
    learner: ShopLearner | None = None

    @classmethod
    def empty(cls) -> ShoppingConfig:
        """No flights, bundles or rules: the defaults."""
        return cls(
            FlightIndex.build([]),
            BundleIndex.build([]),
            InventoryPolicy.build([]),
            OfferRules(),
            FareSettings(),
            {},
        )


# --- the conversion estimate -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConversionModel:
    """P(order | offer type, segment), Beta-Binomial.

    An offer type's rate starts from the prior Beta(alpha, beta) (1, 19: 5 %) and learns from every
    offer of the type shown and ordered; a segment's rate starts from its type's rate with the
    weight of ``strength`` offers and learns from the segment's own counts. With no data at all,
    every type scores the prior, and the margin decides.
    """

    counts: Mapping[tuple[str, str], tuple[int, int]] = field(
        default_factory=dict
    )  # shown, ordered
    alpha: float = 1.0
    beta: float = 19.0
    strength: float = 20.0

    def probability(self, offer_type: str, segment: str) -> float:
        type_shown = type_ordered = 0
        for (kind, _), (shown, ordered) in self.counts.items():
            if kind == offer_type:
                type_shown += shown
                type_ordered += ordered
        pooled = (self.alpha + type_ordered) / (self.alpha + self.beta + type_shown)
        shown, ordered = self.counts.get((offer_type, segment), (0, 0))
        return (ordered + self.strength * pooled) / (shown + self.strength)


class Conversion(Protocol):
    def probability(self, offer_type: str, segment: str) -> float: ...


@dataclass(frozen=True, slots=True)
class Personal:
    """One search's conversion: the contextual bandit's estimate per offer type (blended with
    the Beta-Binomial one by its confidence; see :mod:`.personal`), the Beta-Binomial one for
    any other type."""

    base: ConversionModel
    learnt: Mapping[str, float]

    def probability(self, offer_type: str, segment: str) -> float:
        found = self.learnt.get(offer_type)
        return found if found is not None else self.base.probability(offer_type, segment)


# --- experiments that change shopping -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Treatment:
    """What the running experiments that vary shopping give this search's customer.

    ``pricing_rule_tags``: a pricing rule tagged with a tag that some variant names applies only
    to units whose variant names it (untagged rules, and tags no variant names, always apply);
    ``bundle_templates``: the bundle names offered; ``offer_rule_weights``: the ranking weights.
    Units outside an experiment get its control (or its winner, once stopped).
    """

    assignments: tuple[Any, ...] = ()
    tags: frozenset[str] = frozenset()
    controlled: frozenset[str] = frozenset()
    bundles: frozenset[str] | None = None
    weights: tuple[Decimal, Decimal] | None = None

    def allows(self, rule: pricing.Rule) -> bool:
        governed = rule.tags & self.controlled
        return not governed or bool(governed & self.tags)

    def shown(self) -> list[dict[str, Any]]:
        return [
            {"key": a.experiment.key, "variant": a.variant.key, "in_experiment": a.in_experiment}
            for a in self.assignments
        ]


def treatment_for(
    experiments: ExperimentIndex,
    search: Search,
    *,
    at: datetime,
    saved_groups: Mapping[str, Any] | None = None,
) -> Treatment | None:
    """Assign the search's customer in every experiment whose variants change shopping (every
    status counts: a draft's or a stopped experiment's tagged rules still apply only to the
    variant that names them; before the start, everybody gets the control)."""
    if not experiments.shop:
        return None
    customer_id = search.customer.get("id")
    attributes = {
        **search.customer,
        "customer_id": customer_id,
        "channel": search.channel,
        "origin": search.origin,
        "destination": search.destination,
    }
    assignments = []
    tags: set[str] = set()
    bundles: set[str] | None = None
    weights: tuple[Decimal, Decimal] | None = None
    for experiment in experiments.shop:
        unit = attributes.get(experiment.unit) or customer_id
        found = assign(
            experiment,
            None if unit is None else str(unit),
            attributes,
            at=at,
            saved_groups=saved_groups,
        )
        assignments.append(found)
        config = found.variant.config
        tags.update(config.get("pricing_rule_tags") or ())
        if config.get("bundle_templates") is not None:
            names = set(config["bundle_templates"])
            bundles = names if bundles is None else bundles & names
        if isinstance(config.get("offer_rule_weights"), Mapping):
            given = config["offer_rule_weights"]
            weights = (
                Decimal(str(given.get("conversion_probability", 0))),
                Decimal(str(given.get("profit_margin", 0))),
            )
    return Treatment(
        tuple(assignments),
        frozenset(tags),
        experiments.shop_tags,
        None if bundles is None else frozenset(bundles),
        weights,
    )


# --- the search --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Passengers:
    adults: int = 1
    children: int = 0
    infants: int = 0

    @property
    def seated(self) -> int:
        return self.adults + self.children

    def counts(self) -> tuple[tuple[str, int], ...]:
        return tuple(
            (kind, n)
            for kind, n in zip(
                PASSENGER_TYPES, (self.adults, self.children, self.infants), strict=True
            )
            if n
        )


@dataclass(frozen=True, slots=True)
class Search:
    origin: str
    destination: str
    day: date
    passengers: Passengers
    currency: str
    cabin: str = "ECONOMY"
    customer: Mapping[str, Any] = field(default_factory=dict)
    channel: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def segment(self) -> str:
        return str(self.customer.get("segment") or "*")

    def basis(self) -> dict[str, Any]:
        """The search as stored with its offers, to price them again."""
        return {
            "origin": self.origin,
            "destination": self.destination,
            "date": self.day.isoformat(),
            "passengers": {
                "adults": self.passengers.adults,
                "children": self.passengers.children,
                "infants": self.passengers.infants,
            },
            "cabin": self.cabin,
            "customer": dict(self.customer),
            "channel": self.channel,
            "currency": self.currency,
            "context": dict(self.context),
        }


def search_of(basis: Mapping[str, Any]) -> Search:
    pax = basis["passengers"]
    return Search(
        origin=basis["origin"],
        destination=basis["destination"],
        day=date.fromisoformat(basis["date"]),
        passengers=Passengers(pax["adults"], pax["children"], pax["infants"]),
        currency=basis["currency"],
        cabin=basis["cabin"],
        customer=basis.get("customer") or {},
        channel=basis.get("channel"),
        context=basis.get("context") or {},
    )


# --- what a search sees of the tenant ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shop:
    """The snapshot sections shopping reads, plus the live stock of the flights in question."""

    catalog: CatalogIndex
    pricing: PricingIndex
    bundles: BundleIndex
    policy: InventoryPolicy
    rules: OfferRules
    fares: FareSettings
    conversion: Conversion
    timezone: str
    countries: Mapping[str, str]  # airport → country, for taxes
    stock: Callable[[ResourceKey], Stock | None]
    treatment: Treatment | None = None
    memo: Memo | None = None  # shared with searches like this one; None: the search's own


@dataclass(frozen=True, slots=True)
class Need:
    """Inventory units an order of this offer must hold."""

    key: ResourceKey
    quantity: int
    capacity: int

    def as_json(self) -> dict[str, Any]:
        return {
            "scope": self.key.scope,
            "resource_type": self.key.resource_type,
            "resource": self.key.resource,
            "quantity": self.quantity,
            "capacity": self.capacity,
        }


@dataclass(slots=True)
class Candidate:
    offer_type: OfferType
    flight: FlightFacts
    bundle: BundleFacts | None
    cabin: str
    items: list[dict[str, Any]]
    omitted: list[dict[str, str]]
    needs: list[Need]
    price: dict[str, Any]
    total: Decimal
    margin: float
    conversion: float
    low_stock: list[str]
    score: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    items_json: bytes = b""  # ``items`` as JSON, from pieces encoded once per memo
    flight_json: bytes = b""  # the flight's summary as JSON, likewise


class Dropped(Exception):
    """This flight cannot make this offer type; the message says why."""


@dataclass(frozen=True, slots=True)
class Result:
    offers: list[Candidate]
    warnings: list[str]


_encode = msgspec.json.Encoder().encode


def _amount(value: Decimal, currency: str) -> str:
    return str(money.quantizer(currency)(value))


@dataclass(slots=True)
class Memo:
    """What a search works out about its flights: prices, chosen products, items. Everything in
    it depends on the search only through its party, customer, channel, context and currency (the
    route and date are in the keys, through the flight), so searches that share those, the same
    snapshot and the same inventory read can share a memo (see ``ShopRuntime.memo``)."""

    facts: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    prices: dict[tuple[uuid.UUID, str], pricing.PriceResult] = field(default_factory=dict)
    fares: dict[str, ProductFacts | None] = field(default_factory=dict)
    items: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    summaries: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    costs: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    item_numbers: dict[int, tuple[Decimal, Decimal, Decimal, dict[str, Decimal]]] = field(
        default_factory=dict
    )
    taxes: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    probabilities: dict[str, float] = field(default_factory=dict)
    extras: dict[tuple[uuid.UUID, ItemSpec, int], Any] = field(default_factory=dict)
    encoded: dict[int, bytes] = field(default_factory=dict)  # by id() of a dict kept above


class _Pricer:
    """One search's prices: each (flight, product) priced once, whatever the offers sharing it."""

    def __init__(self, shop: Shop, search: Search, at: datetime, memo: Memo) -> None:
        self.shop = shop
        self.search = search
        self.at = at
        self._facts = memo.facts
        self._prices = memo.prices
        base: dict[str, Any] = {
            "origin": search.origin,
            "destination": search.destination,
            "passengers": Decimal(search.passengers.seated + search.passengers.infants),
        }
        if search.channel:
            base["channel"] = search.channel
        for name in ("segment", "tier"):
            if search.customer.get(name) is not None:
                base[f"customer.{name}"] = str(search.customer[name])
        for name, value in search.context.items():
            base[f"context.{name}"] = value
        self._base = base

    def facts(self, flight: FlightFacts) -> dict[str, Any]:
        found = self._facts.get(flight.id)
        if found is None:
            found = pricing.situation_facts(
                {**self._base, "departure_time": flight.departure_at},
                at=self.at,
                timezone=self.shop.timezone,
            )
            self._facts[flight.id] = found
        return found

    def price(
        self, flight: FlightFacts, product: ProductFacts, stock: Stock | None, cabin: str | None
    ) -> pricing.PriceResult:
        key = (flight.id, product.product_code)
        found = self._prices.get(key)
        if found is not None:
            return found
        rules = self.shop.pricing.rules_for(product)
        treatment = self.shop.treatment
        if treatment is not None and treatment.controlled and rules:
            rules = tuple(r for r in rules if treatment.allows(r))
        if not rules and product.price_floor is None and product.price_ceiling is None:
            found = pricing.PriceResult(
                product.base_price,
                money.quantize(product.base_price, product.currency),
                product.currency,
                (),
                (),
                (),
            )
        else:
            facts = self.facts(flight)
            if stock is not None or cabin is not None:
                facts = dict(facts)
                if stock is not None:
                    facts["utilization"] = stock.utilization()
                if cabin is not None:
                    facts["cabin_class"] = cabin
            found = pricing.price(product, rules, facts, at=self.at)
        self._prices[key] = found
        return found


def _trace(result: pricing.PriceResult, rate: Decimal) -> dict[str, Any]:
    return {
        "currency": result.currency,
        "base_price": str(result.base_price),
        "final_price": str(result.final_price),
        "exchange_rate": money.plain(rate),
        "steps": [
            {
                "rule_id": str(s.rule_id),
                "rule_name": s.rule_name,
                "version": s.version,
                "type": s.type,
                "multiplier": None if s.multiplier is None else money.plain(s.multiplier),
                "price_before": money.show(s.price_before, result.currency),
                "price_after": money.show(s.price_after, result.currency),
            }
            for s in result.steps
        ],
        "guard_rails": [
            {
                "name": g.name,
                "limit": str(g.limit),
                "price_before": money.show(g.price_before, result.currency),
            }
            for g in result.guard_rails
        ],
    }


class Builder:
    """Builds the candidate offers of one search."""

    def __init__(self, shop: Shop, search: Search, at: datetime) -> None:
        self.shop = shop
        self.search = search
        self.at = at
        memo = shop.memo if shop.memo is not None else Memo()
        self.pricer = _Pricer(shop, search, at, memo)
        self.currency = search.currency
        self._fares = memo.fares
        self._counts = search.passengers.counts()
        # Items are the same in every offer of a flight that has them: made once, shared.
        self._items = memo.items
        self._summaries = memo.summaries
        self._costs = memo.costs
        self._kinds = tuple(kind for kind, _ in self._counts)
        self._by_kind = dict(self._counts)
        self._item_numbers = memo.item_numbers
        self._tax_cache = memo.taxes
        # A personal conversion is this search's own; the Beta-Binomial one is shared.
        self._probabilities = {} if isinstance(shop.conversion, Personal) else memo.probabilities
        self._extras = memo.extras
        self._encoded = memo.encoded

    def summary(self, flight: FlightFacts) -> dict[str, Any]:
        found = self._summaries.get(flight.id)
        if found is None:
            found = self._summaries[flight.id] = flight.summary()
        return found

    # -- stock --------------------------------------------------------------------------------

    def _stock(self, key: ResourceKey, capacity: int) -> Stock:
        return self.shop.stock(key) or Stock(capacity)

    def _fare_product(self, cabin: str) -> ProductFacts | None:
        if cabin not in self._fares:
            fares = self.shop.catalog.select(product_type="FLIGHT", category=cabin)
            self._fares[cabin] = fares[0] if fares else None
        return self._fares[cabin]

    def _convert(self, amount: Decimal, source: str) -> Decimal:
        rate = self.shop.fares.rate(source, self.currency)
        if rate is None:
            raise Dropped(f"no exchange rate from {source} to {self.currency}")
        return money.quantize(amount * rate, self.currency)

    # -- one offer ------------------------------------------------------------------------------

    def build(
        self, flight: FlightFacts, offer_type: OfferType, bundle: BundleFacts | None
    ) -> Candidate:
        search = self.search
        pax = search.passengers
        flight_line = bundle.flight if bundle is not None else None
        cabin = (flight_line.cabin_class if flight_line else None) or search.cabin
        capacity = flight.cabins.get(cabin)
        if capacity is None:
            raise Dropped(f"no {cabin} cabin")
        key = inventory.cabin_key(flight, cabin)
        stock = self._stock(key, capacity)
        rule = self.shop.policy.rule_for(key.resource_type, key.resource)
        sellable = stock.sellable(rule)
        if sellable < pax.seated:
            raise Dropped(f"{cabin}: {sellable} seat(s) left for {pax.seated} passenger(s)")
        fare = self._fare_product(cabin)
        if fare is None:
            raise Dropped(f"no FLIGHT product with category {cabin}")
        needs = [Need(key, pax.seated, capacity)] if pax.seated else []
        low: list[str] = []
        status = inventory.availability_status(sellable, rule)
        if status == "low":
            low.append(f"{cabin} seats")
        result = self.pricer.price(flight, fare, stock, cabin)
        fare_key = (flight.id, cabin)
        fare_item = self._items.get(fare_key)
        if fare_item is None:
            fare_item = self._items[fare_key] = self._fare_item(
                flight, fare, result, cabin, status, sellable
            )
        items = [fare_item]
        omitted: list[dict[str, str]] = []
        cost = self._cost(fare, pax.seated)
        discount_pct = bundle.discount_percentage if bundle is not None else ZERO
        for index, line in enumerate(bundle.extras if bundle is not None else ()):
            extra_key = (flight.id, line, pax.seated * line.quantity)
            chosen = self._extras.get(extra_key)
            if chosen is None:
                chosen = self._extras[extra_key] = self._extra(
                    flight, line, pax.seated * line.quantity
                )
            if isinstance(chosen, str):
                if line.required:
                    raise Dropped(f"required {line.describe()}: {chosen}")
                omitted.append(
                    {"type": line.type, "category": line.category or "", "reason": chosen}
                )
                continue
            product, price_result, need, extra_status, remaining = chosen
            if need is not None:
                needs.append(need)
                if extra_status == "low":
                    low.append(product.product_code)
            item_key = (flight.id, index, product.product_code, line, discount_pct)
            extra_item = self._items.get(item_key)
            if extra_item is None:
                extra_item = self._items[item_key] = self._extra_item(
                    index, line, product, price_result, discount_pct, extra_status, remaining
                )
            items.append(extra_item)
            cost += self._cost(product, pax.seated * line.quantity)
        taxes, tax_total, tax_units = self._taxes_of(flight, fare_key, fare_item)
        base = before_discount = discount = ZERO
        units = dict.fromkeys(self._kinds, ZERO)
        for item in items:
            numbers = self._numbers(item)
            base += numbers[0]
            before_discount += numbers[1]
            discount += numbers[2]
            for kind, unit in numbers[3].items():
                units[kind] += unit
        net = before_discount + discount
        total = net + tax_total
        margin = float((net - cost) / net) if net > 0 else 0.0
        cur = self.currency
        price = {
            "base": _amount(base, cur),
            "adjustments": _amount(before_discount - base, cur),
            "discount": _amount(discount, cur),
            "taxes": taxes,
            "tax_total": _amount(tax_total, cur),
            "total": _amount(total, cur),
            "currency": cur,
            "per_passenger": [
                {"type": kind, "count": count, "total": str(units[kind] + tax_units[kind])}
                for kind, count in self._counts
            ],
        }
        return Candidate(
            offer_type=offer_type,
            flight=flight,
            bundle=bundle,
            cabin=cabin,
            items=items,
            omitted=omitted,
            needs=needs,
            price=price,
            total=total,
            margin=margin,
            conversion=self._probability(offer_type.type),
            low_stock=low,
            items_json=b"[" + b",".join([self._json(item) for item in items]) + b"]",
            flight_json=self._json(fare_item["flight"]),
        )

    def _json(self, shared: dict[str, Any]) -> bytes:
        """A dict the memo keeps (an item, a flight's summary) as JSON: encoded once, since every
        offer of the flight and every search sharing the memo shows the same one."""
        found = self._encoded.get(id(shared))
        if found is None:
            found = self._encoded[id(shared)] = _encode(shared)
        return found

    def _cost(self, product: ProductFacts, units: int) -> Decimal:
        if product.cost is None or units == 0:
            return ZERO
        key = ("cost", product.product_code)
        unit = self._costs.get(key)
        if unit is None:
            unit = self._costs[key] = self._convert(product.cost, product.currency)
        return unit * units

    def _fare_item(
        self,
        flight: FlightFacts,
        fare: ProductFacts,
        result: pricing.PriceResult,
        cabin: str,
        status: str,
        remaining: int,
    ) -> dict[str, Any]:
        fares = self.shop.fares
        rate = fares.rate(fare.currency, self.currency)
        if rate is None:
            raise Dropped(f"no exchange rate from {fare.currency} to {self.currency}")
        cur = self.currency
        passengers = []
        base = subtotal = ZERO
        for kind, count in self._counts:
            ratio = fares.ratio(kind)
            unit_base = money.quantize(fare.base_price * ratio, fare.currency)
            unit = money.quantize(result.final_price * ratio, fare.currency)
            shown_base = money.quantize(unit_base * rate, cur)
            shown = money.quantize(unit * rate, cur)
            passengers.append({"type": kind, "count": count, "unit_price": str(shown)})
            base += shown_base * count
            subtotal += shown * count
        return {
            "item_id": "flight",
            "type": "FLIGHT",
            "required": True,
            "product_code": fare.product_code,
            "name": fare.name,
            "cabin": cabin,
            "flight": self.summary(flight),
            "passengers": passengers,
            "price": {
                "base": str(base),
                "subtotal": str(subtotal),
                "discount": _amount(ZERO, cur),
                "total": str(subtotal),
            },
            "availability": {"status": status, "remaining": remaining},
            "pricing": _trace(result, rate),
        }

    def _extra(
        self, flight: FlightFacts, line: ItemSpec, units: int
    ) -> tuple[ProductFacts, pricing.PriceResult, Need | None, str, int | None] | str:
        """The cheapest in-stock product for a bundle line, or why there is none."""
        candidates = self.shop.catalog.select(product_type=line.type, category=line.category)
        if not candidates:
            return "no such product in the catalog"
        best: tuple[ProductFacts, pricing.PriceResult, Need | None, str, int | None] | None = None
        for product in candidates:
            located = inventory.locate(flight, product)
            need: Need | None = None
            stock: Stock | None = None
            status = "available"
            remaining: int | None = None
            if located is not None and units:
                key, capacity = located
                stock = self._stock(key, capacity)
                rule = self.shop.policy.rule_for(key.resource_type, key.resource)
                remaining = stock.sellable(rule)
                if remaining < units:
                    continue
                status = inventory.availability_status(remaining, rule)
                need = Need(key, units, capacity)
            result = self.pricer.price(flight, product, stock, None)
            if best is None or result.final_price < best[1].final_price:
                best = (product, result, need, status, remaining)
        return best if best is not None else "sold out"

    def _extra_item(
        self,
        index: int,
        line: ItemSpec,
        product: ProductFacts,
        result: pricing.PriceResult,
        discount_pct: Decimal,
        status: str,
        remaining: int | None,
    ) -> dict[str, Any]:
        cur = self.currency
        rate = self.shop.fares.rate(product.currency, cur)
        if rate is None:
            raise Dropped(f"no exchange rate from {product.currency} to {cur}")
        unit_base = money.quantize(product.base_price * rate, cur)
        unit = money.quantize(result.final_price * rate, cur)
        unit_discount = -money.quantize(unit * discount_pct / HUNDRED, cur)
        seated = [(k, n) for k, n in self._counts if k != "INFANT"]
        count = sum(n for _, n in seated) * line.quantity
        return {
            "item_id": f"extra-{index + 1}",
            "type": product.product_type,
            "required": line.required,
            "product_code": product.product_code,
            "name": product.name,
            "category": product.category,
            "quantity_per_passenger": line.quantity,
            "passengers": [
                {"type": k, "count": n * line.quantity, "unit_price": str(unit + unit_discount)}
                for k, n in seated
            ],
            "price": {
                "base": str(unit_base * count),
                "subtotal": str(unit * count),
                "discount": str(unit_discount * count),
                "discount_percentage": money.plain(discount_pct),
                "total": str((unit + unit_discount) * count),
            },
            "availability": {"status": status, "remaining": remaining},
            "pricing": _trace(result, rate),
        }

    def _taxes(self, flight: FlightFacts, fare_item: dict[str, Any]) -> list[dict[str, Any]]:
        cur = self.currency
        out = []
        countries = self.shop.countries
        for tax in self.shop.fares.taxes:
            airport = flight.origin if tax.applies_to == "DEPARTURE" else flight.destination
            if not tax.matches(airport, countries.get(airport)):
                continue
            per_passenger = []
            amount = ZERO
            for row in fare_item["passengers"]:
                if row["type"] not in tax.passenger_types:
                    continue
                if tax.kind == "PERCENTAGE":
                    unit = money.quantize(Decimal(row["unit_price"]) * tax.amount / HUNDRED, cur)
                else:
                    unit = self._convert(tax.amount, tax.currency or cur)
                per_passenger.append(
                    {"type": row["type"], "count": row["count"], "unit_amount": str(unit)}
                )
                amount += unit * row["count"]
            if per_passenger:
                out.append(
                    {
                        "code": tax.code,
                        "name": tax.name,
                        "kind": tax.kind,
                        "rate": money.plain(tax.amount) if tax.kind == "PERCENTAGE" else None,
                        "airport": airport,
                        "amount": str(amount),
                        "per_passenger": per_passenger,
                    }
                )
        return out

    def _numbers(
        self, item: dict[str, Any]
    ) -> tuple[Decimal, Decimal, Decimal, dict[str, Decimal]]:
        """An item's base, subtotal and discount, and what one passenger of each type pays for
        it: read once per item (items are shared by the offers of a flight)."""
        found = self._item_numbers.get(id(item))
        if found is None:
            price = item["price"]
            per_unit: dict[str, Decimal] = {}
            for row in item["passengers"]:
                count = self._by_kind[row["type"]]
                per_unit[row["type"]] = Decimal(row["unit_price"]) * (row["count"] // count)
            found = (
                Decimal(price["base"]),
                Decimal(price["subtotal"]),
                Decimal(price["discount"]),
                per_unit,
            )
            self._item_numbers[id(item)] = found
        return found

    def _taxes_of(
        self, flight: FlightFacts, key: tuple[Any, ...], fare_item: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], Decimal, dict[str, Decimal]]:
        """The taxes on a fare (they depend on nothing else), with their total and per passenger."""
        found = self._tax_cache.get(key)
        if found is None:
            taxes = self._taxes(flight, fare_item)
            units = dict.fromkeys(self._kinds, ZERO)
            for tax in taxes:
                for row in tax["per_passenger"]:
                    units[row["type"]] += Decimal(row["unit_amount"])
            found = (taxes, sum((Decimal(t["amount"]) for t in taxes), ZERO), units)
            self._tax_cache[key] = found
        return found

    def _probability(self, offer_type: str) -> float:
        found = self._probabilities.get(offer_type)
        if found is None:
            found = self._probabilities[offer_type] = self.shop.conversion.probability(
                offer_type, self.search.segment
            )
        return found


# --- the whole search ------------------------------------------------------------------------


def candidates(
    shop: Shop, search: Search, flights: Sequence[FlightFacts], at: datetime
) -> tuple[list[Candidate], list[str]]:
    """Every offer the flights can make under the offer rules, unranked, and why others could not."""
    builder = Builder(shop, search, at)
    made: list[Candidate] = []
    dropped: dict[str, list[str]] = {}
    for offer_type in shop.rules.types(shop.bundles):
        if offer_type.type == FLIGHT_ONLY:
            bundle = None
        else:
            found = shop.bundles.by_type.get(offer_type.type)
            if not found:
                dropped.setdefault(offer_type.type, []).append("no active bundle template")
                continue
            bundle = found[0]
        for flight in flights:
            if flight.departs <= at:
                continue
            try:
                made.append(builder.build(flight, offer_type, bundle))
            except Dropped as exc:
                dropped.setdefault(offer_type.type, []).append(
                    f"{flight.carrier}{flight.flight_number}: {exc}"
                )
    warnings = [
        f"{kind} not offered on {'; '.join(reasons)}"
        if "no active" not in reasons[0]
        else f"{kind}: {reasons[0]}"
        for kind, reasons in dropped.items()
    ]
    return made, warnings


def rank(made: list[Candidate], rules: OfferRules) -> list[Candidate]:
    """Score every candidate, then keep ``max_offers`` (always-included types first), best first."""
    if not made:
        return []
    top_conversion = max(c.conversion for c in made) or 1.0
    top_margin = max(max(c.margin for c in made), 0.0)
    w_c, w_m = float(rules.w_conversion), float(rules.w_margin)
    for c in made:
        conversion = c.conversion / top_conversion
        margin = max(c.margin, 0.0) / top_margin if top_margin > 0 else 0.0
        c.score = round(w_c * conversion + w_m * margin, 6)
        c.parts = {
            "conversion_probability": round(c.conversion, 6),
            "conversion_normalised": round(conversion, 6),
            "margin": round(c.margin, 6),
            "margin_normalised": round(margin, 6),
            "w_conversion": w_c,
            "w_margin": w_m,
        }

    def order(c: Candidate) -> tuple[float, int, datetime, str]:
        return (-c.score, c.offer_type.priority, c.flight.departs, c.flight.flight_number)

    ordered = sorted(made, key=order)
    chosen: list[Candidate] = []
    for offer_type in sorted(
        {c.offer_type for c in made if c.offer_type.always_include}, key=lambda t: t.priority
    ):
        best = next(c for c in ordered if c.offer_type == offer_type)
        chosen.append(best)
    chosen = chosen[: rules.max_offers]
    for c in ordered:
        if len(chosen) >= rules.max_offers:
            break
        if c not in chosen:
            chosen.append(c)
    return sorted(chosen, key=order)


def shop_offers(shop: Shop, search: Search, flights: Sequence[FlightFacts], at: datetime) -> Result:
    made, warnings = candidates(shop, search, flights, at)
    if not flights:
        warnings.insert(0, f"no flights {search.origin}→{search.destination} on {search.day}")
    return Result(rank(made, shop.rules), warnings)


def expires_at(rules: OfferRules, at: datetime, flight: FlightFacts) -> datetime:
    return min(at + timedelta(minutes=rules.expiry_minutes), flight.departs)
