"""The shopping core without a database: offers add up, per passenger and in total, whatever the
party, the currency, the taxes and the bundle; ranking keeps the offer rules' promises."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from offerengine.bundles.core import BundleFacts, BundleIndex, ItemSpec
from offerengine.catalog.core import CatalogIndex, ProductFacts
from offerengine.inventory.core import FlightFacts, InventoryPolicy, InventoryRuleFacts, Stock
from offerengine.pricing.core import PricingIndex
from offerengine.shopping import core

NOW = datetime(2030, 3, 1, 12, tzinfo=UTC)


def product(code: str, kind: str, category: str | None, price: str, **attrs: Any) -> ProductFacts:
    return ProductFacts(
        id=uuid.uuid4(),
        product_code=code,
        product_type=kind,
        category=category,
        name=code,
        description=None,
        base_price=Decimal(price),
        currency="USD",
        cost=Decimal(price) / 4,
        attributes=attrs,
        is_active=True,
        version=1,
    )


PRODUCTS = [
    product("FARE-Y", "FLIGHT", "ECONOMY", "199.99"),
    product("FARE-J", "FLIGHT", "BUSINESS", "1290.00"),
    product(
        "SEAT-XL", "SEAT", "EXTRA_LEGROOM", "45.55", inventory={"per": "flight", "capacity": 3}
    ),
    product("MEAL-HOT", "MEAL", "HOT", "18.35"),
]
FLIGHT = FlightFacts(
    id=uuid.uuid4(),
    carrier="OE",
    flight_number="100",
    origin="JFK",
    destination="LHR",
    departure_date=date(2030, 3, 20),
    departure_local="2030-03-20T19:00",
    arrival_local="2030-03-21T07:10",
    departure_at=datetime(2030, 3, 20, 23, tzinfo=UTC),
    arrival_at=datetime(2030, 3, 21, 7, 10, tzinfo=UTC),
    aircraft=None,
    cabins={"ECONOMY": 100, "BUSINESS": 8},
    ancillary_capacity={},
)
COMFORT = BundleFacts(
    id=uuid.uuid4(),
    name="Comfort",
    bundle_type="COMFORT",
    items=(
        ItemSpec("FLIGHT", True),
        ItemSpec("SEAT", False, category="EXTRA_LEGROOM"),
        ItemSpec("MEAL", False, category="HOT", quantity=2),
    ),
    discount_percentage=Decimal("12.5"),
    priority=1,
    version=1,
)


def shop(
    fares: core.FareSettings, rules: core.OfferRules | None = None, **stock: Stock
) -> core.Shop:
    catalog = CatalogIndex.build(PRODUCTS)
    return core.Shop(
        catalog=catalog,
        pricing=PricingIndex.build([], PRODUCTS),
        bundles=BundleIndex.build([COMFORT]),
        policy=InventoryPolicy.build(
            [InventoryRuleFacts("SEAT", overbooking_percentage=Decimal(5))]
        ),
        rules=rules or core.OfferRules(),
        fares=fares,
        conversion=core.ConversionModel(),
        timezone="America/New_York",
        countries={"JFK": "US", "LHR": "GB"},
        stock=lambda key: stock.get(key.resource),
    )


def search(adults: int, children: int, infants: int, currency: str = "USD") -> core.Search:
    return core.Search(
        origin="JFK",
        destination="LHR",
        day=FLIGHT.departure_date,
        passengers=core.Passengers(adults, children, infants),
        currency=currency,
    )


FARES = core.FareSettings(
    child_ratio=Decimal("0.75"),
    infant_ratio=Decimal("0.1"),
    taxes=(
        core.TaxRule(
            "US",
            "US fee",
            "FIXED",
            Decimal("19.99"),
            "USD",
            country="US",
            passenger_types=frozenset({"ADULT", "CHILD"}),
        ),
        core.TaxRule(
            "GB", "UK duty", "PERCENTAGE", Decimal("7.5"), airport="LHR", applies_to="ARRIVAL"
        ),
    ),
    rates=core.rate_table(
        [
            {"from": "USD", "to": "EUR", "rate": "0.9137"},
            {"from": "JPY", "to": "USD", "rate": "0.0067"},
        ]
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    adults=st.integers(1, 5),
    children=st.integers(0, 4),
    infants=st.integers(0, 5),
    currency=st.sampled_from(["USD", "EUR", "JPY"]),
)
def test_every_offer_adds_up_per_passenger_and_in_total(
    adults: int, children: int, infants: int, currency: str
) -> None:
    infants = min(infants, adults)
    result = core.shop_offers(
        shop(FARES), search(adults, children, infants, currency), [FLIGHT], NOW
    )
    assert {c.offer_type.type for c in result.offers} == {"FLIGHT_ONLY", "COMFORT"}
    counts = {"ADULT": adults, "CHILD": children, "INFANT": infants}
    for offer in result.offers:
        price = offer.price
        items = sum(Decimal(i["price"]["total"]) for i in offer.items)
        taxes = sum(Decimal(t["amount"]) for t in price["taxes"])
        assert Decimal(price["total"]) == items + taxes
        assert Decimal(price["tax_total"]) == taxes
        per_pax = sum(Decimal(p["total"]) * p["count"] for p in price["per_passenger"])
        assert per_pax == Decimal(price["total"])
        assert {p["type"]: p["count"] for p in price["per_passenger"]} == {
            k: n for k, n in counts.items() if n
        }
        fare = offer.items[0]
        assert fare["price"]["discount"] in ("0.00", "0")  # the fare is never discounted
        for item in offer.items[1:]:  # ancillaries are for seated passengers only
            assert all(row["type"] != "INFANT" for row in item["passengers"])
        exponent = -Decimal(price["total"]).as_tuple().exponent
        assert exponent == (0 if currency == "JPY" else 2)


def test_sold_out_extras_are_omitted_and_seats_respect_overbooking() -> None:
    two_taken = shop(FARES, **{"SEAT-XL": Stock(3, 2, 0)})
    comfort = next(
        c
        for c in core.shop_offers(two_taken, search(2, 0, 0), [FLIGHT], NOW).offers
        if c.offer_type.type == "COMFORT"
    )
    assert [i["product_code"] for i in comfort.items] == ["FARE-Y", "MEAL-HOT"]
    assert comfort.omitted == [{"type": "SEAT", "category": "EXTRA_LEGROOM", "reason": "sold out"}]
    # 100 seats with 5 % overbooking: 105 sellable; 104 sold leaves 1, not enough for 2.
    full = shop(FARES, ECONOMY=Stock(100, 104, 0))
    dropped = core.shop_offers(full, search(2, 0, 0), [FLIGHT], NOW)
    assert dropped.offers == []
    assert any("1 seat(s) left for 2" in w for w in dropped.warnings)
    assert core.shop_offers(full, search(1, 0, 0), [FLIGHT], NOW).offers


def test_ranking_keeps_always_included_types_and_max_offers() -> None:
    flights = [FLIGHT, dataclasses.replace(FLIGHT, id=uuid.uuid4(), flight_number="200")]
    rules = core.OfferRules(
        max_offers=2,
        offer_types=(core.OfferType("FLIGHT_ONLY", 1, True), core.OfferType("COMFORT", 2, True)),
        w_conversion=Decimal(0),
        w_margin=Decimal(1),
    )
    result = core.shop_offers(shop(FARES, rules), search(1, 0, 0), flights, NOW)
    assert len(result.offers) == 2
    assert {c.offer_type.type for c in result.offers} == {"FLIGHT_ONLY", "COMFORT"}
    assert result.offers[0].score >= result.offers[1].score
    assert core.expires_at(rules, NOW, FLIGHT) == NOW + timedelta(minutes=15)


def test_the_conversion_estimate_starts_at_the_prior_and_learns() -> None:
    fresh = core.ConversionModel()
    assert fresh.probability("COMFORT", "leisure") == 0.05
    learned = core.ConversionModel({("COMFORT", "leisure"): (1000, 200)})
    assert 0.19 < learned.probability("COMFORT", "leisure") < 0.2
    # Another segment borrows the type's rate until it has data of its own.
    assert 0.18 < learned.probability("COMFORT", "business") < 0.2
