"""The demo's data. Prices are illustrative list prices, not anybody's real fares."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from math import ceil
from typing import Any
from zoneinfo import ZoneInfo

from offerengine.network.core import AirportFacts, lookup
from offerengine.shopping.core import great_circle_km

AIRLINE: dict[str, Any] = {
    "code": "OE",
    "name": "OfferEngine Air",
    "kind": "airline",
    "base_currency": "USD",
    "timezone": "America/New_York",
}
MARKETPLACE: dict[str, Any] = {
    "code": "MKT",
    "name": "OfferEngine Market",
    "kind": "marketplace",
    "base_currency": "TRY",
    "timezone": "Europe/Istanbul",
}

# Fifty-one real airports; names, cities, time zones and coordinates come from airportsdata.
# The first twenty have the long-haul routes below; the others are spokes of three hubs.
AIRPORTS = (
    "JFK",
    "BOS",
    "ORD",
    "ATL",
    "DFW",
    "MIA",
    "LAX",
    "SFO",
    "SEA",
    "YYZ",
    "LHR",
    "CDG",
    "AMS",
    "FRA",
    "MAD",
    "FCO",
    "IST",
    "DXB",
    "NRT",
    "SIN",
    *("IAD", "CLT", "DEN", "PHX", "LAS", "MSP", "DTW", "PHL", "IAH", "SAN", "PDX"),
    *("YUL", "YVR", "MEX", "CUN"),
    *("DUB", "MAN", "EDI", "BCN", "LIS", "MUC", "ZRH", "VIE", "CPH", "ARN", "OSL"),
    *("BRU", "MXP", "ATH", "WAW", "PRG"),
)


def _p(
    product_type: str,
    code: str,
    name: str,
    category: str | None,
    price: str,
    cost: str,
    description: str,
    **metadata: Any,
) -> dict[str, Any]:
    return {
        "product_type": product_type,
        "product_code": code,
        "name": name,
        "category": category,
        "base_price": price,
        "cost": cost,
        "description": description,
        "metadata": metadata,
    }


AIRLINE_PRODUCTS = [
    # Fares per cabin: the flight product that pricing rules adjust (routes come with shopping).
    _p(
        "FLIGHT",
        "FARE-ECONOMY",
        "Economy fare",
        "ECONOMY",
        "199.00",
        "120.00",
        "Seat in the economy cabin, one cabin bag.",
        cabin_class="ECONOMY",
    ),
    _p(
        "FLIGHT",
        "FARE-PREMIUM-ECONOMY",
        "Premium economy fare",
        "PREMIUM_ECONOMY",
        "429.00",
        "230.00",
        "Wider seat, more legroom, priority check-in.",
        cabin_class="PREMIUM_ECONOMY",
    ),
    _p(
        "FLIGHT",
        "FARE-BUSINESS",
        "Business fare",
        "BUSINESS",
        "1290.00",
        "610.00",
        "Lie-flat seat, lounge access, two checked bags.",
        cabin_class="BUSINESS",
    ),
    _p(
        "FLIGHT",
        "FARE-FIRST",
        "First fare",
        "FIRST",
        "3150.00",
        "1400.00",
        "Private suite, chauffeur, three checked bags.",
        cabin_class="FIRST",
    ),
    _p(
        "SEAT",
        "SEAT-STD",
        "Standard seat selection",
        "STANDARD",
        "15.00",
        "2.00",
        "Choose any standard seat in advance.",
        pitch_inches=31,
    ),
    _p(
        "SEAT",
        "SEAT-EXTRA-LEG",
        "Extra legroom seat",
        "EXTRA_LEGROOM",
        "45.00",
        "6.00",
        "Seats with 34-36 inches of legroom.",
        legroom_inches=35,
        recline_inches=5,
        available_rows=[12, 13, 14, 15],
        inventory={"per": "flight", "capacity": 24},
    ),
    _p(
        "SEAT",
        "SEAT-PREMIUM",
        "Premium seat",
        "PREMIUM",
        "89.00",
        "12.00",
        "Front-row seat with extra width and priority meal service.",
        pitch_inches=38,
    ),
    _p(
        "BAG",
        "BAG-CABIN-10",
        "Cabin bag 10 kg",
        "CABIN",
        "25.00",
        "4.00",
        "One overhead-bin bag up to 10 kg.",
        weight_kg=10,
    ),
    _p(
        "BAG",
        "BAG-23KG",
        "Checked bag 23 kg",
        "CHECKED",
        "35.00",
        "9.00",
        "One checked bag up to 23 kg.",
        weight_kg=23,
    ),
    _p(
        "BAG",
        "BAG-32KG",
        "Heavy checked bag 32 kg",
        "HEAVY",
        "60.00",
        "14.00",
        "One checked bag up to 32 kg.",
        weight_kg=32,
    ),
    _p(
        "MEAL",
        "MEAL-HOT",
        "Hot meal",
        "HOT",
        "18.00",
        "7.50",
        "A hot main course with a drink.",
        inventory={"per": "flight", "capacity": 60},
    ),
    _p(
        "MEAL", "MEAL-COLD", "Cold meal box", "COLD", "9.00", "3.50", "Sandwich, snack and a drink."
    ),
    _p(
        "LOUNGE",
        "LOUNGE-ACCESS",
        "Lounge access",
        "STANDARD",
        "55.00",
        "22.00",
        "Departure lounge access for up to 3 hours.",
        inventory={"per": "airport_day", "capacity": 120},
        max_hours=3,
    ),
    _p(
        "FAST_TRACK",
        "FAST-TRACK",
        "Fast track security",
        None,
        "15.00",
        "4.00",
        "Priority lane at security.",
    ),
    _p(
        "INSURANCE",
        "INS-TRAVEL",
        "Travel insurance",
        "TRAVEL",
        "29.00",
        "11.00",
        "Cancellation, medical and baggage cover for the trip.",
    ),
    _p(
        "WIFI",
        "WIFI-FLIGHT",
        "Wi-Fi, whole flight",
        None,
        "12.00",
        "3.00",
        "Streaming-quality Wi-Fi gate to gate.",
    ),
    _p(
        "PRIORITY",
        "PRIORITY-BOARDING",
        "Priority boarding",
        None,
        "10.00",
        "0.50",
        "Board in the first group.",
    ),
]

MARKETPLACE_PRODUCTS = [
    _p(
        "ITEM",
        "ELEC-PHONE-CASE",
        "Phone case",
        "electronics",
        "149.90",
        "60.00",
        "Shock-proof case.",
        seller_id="seller-techstore",
        weight_kg=0.1,
    ),
    _p(
        "ITEM",
        "ELEC-HEADPHONES",
        "Wireless headphones",
        "electronics",
        "1899.00",
        "1200.00",
        "Noise-cancelling over-ear headphones.",
        seller_id="seller-techstore",
        weight_kg=0.4,
    ),
    _p(
        "ITEM",
        "ELEC-CHARGER",
        "USB-C charger 65 W",
        "electronics",
        "499.00",
        "280.00",
        "GaN charger with two ports.",
        seller_id="seller-powerhouse",
        weight_kg=0.2,
    ),
    _p(
        "ITEM",
        "GROC-COFFEE",
        "Turkish coffee 500 g",
        "grocery",
        "289.50",
        "190.00",
        "Finely ground, roasted in Istanbul.",
        seller_id="seller-bazaar",
        weight_kg=0.5,
    ),
    _p(
        "ITEM",
        "GROC-TEA",
        "Black tea 1 kg",
        "grocery",
        "219.00",
        "140.00",
        "Rize black tea.",
        seller_id="seller-bazaar",
        weight_kg=1.0,
    ),
    _p(
        "ITEM",
        "FASH-SCARF",
        "Silk scarf",
        "fashion",
        "749.00",
        "310.00",
        "Hand-printed silk scarf.",
        seller_id="seller-atelier",
        weight_kg=0.1,
    ),
    _p(
        "ITEM",
        "HOME-TOWEL",
        "Cotton towel set",
        "home",
        "399.00",
        "210.00",
        "Four Denizli cotton towels.",
        seller_id="seller-atelier",
        weight_kg=1.2,
    ),
]

DEMO_ROLES = ("owner", "editor", "viewer", "runtime")
# Admin UI users: (tenant code or None for the platform user, email, role).
DEMO_USERS = (
    ("OE", "demo@oe.example", "owner"),
    ("MKT", "demo@mkt.example", "owner"),
    (None, "platform@offerengine.example", "platform"),
)


def pricing_rules(today: date) -> list[dict[str, Any]]:
    """Seed 001's three pricing examples, for every fare; the summer one dated to the coming summer."""
    year = today.year if today < date(today.year, 8, 31) else today.year + 1
    return [
        {
            "rule_name": "Continuous Pricing - Economy",
            "rule_type": "DEMAND",
            "product_type": "FLIGHT",
            "conditions": {"product_type": "FLIGHT", "cabin_class": "ECONOMY"},
            "adjustments": {
                "type": "MULTIPLIER",
                "formula": "1.0 + (utilization^2 * 2.0)",
                "min_multiplier": 0.5,
                "max_multiplier": 3.0,
            },
            "priority": 10,
        },
        {
            "rule_name": "Last-Minute Premium",
            "rule_type": "TIME",
            "product_type": "FLIGHT",
            "conditions": {"days_until_departure": {"max": 7}},
            "adjustments": {"type": "MULTIPLIER", "value": 1.5},
            "priority": 20,
        },
        {
            "rule_name": "Summer Peak Season",
            "rule_type": "SEASONAL",
            "product_type": "FLIGHT",
            "conditions": {"date_range": {"start": f"{year}-06-01", "end": f"{year}-08-31"}},
            "adjustments": {"type": "MULTIPLIER", "value": 1.3},
            "priority": 30,
        },
    ]


# --- shopping: routes, bundles, inventory and offer rules, fares --------------------------------

# Real city pairs flown by real airlines, with plausible local times and typical seat maps of the
# aircraft named. Flight numbers and cabins are the demo airline's own.
_WIDEBODY = {"FIRST": 8, "BUSINESS": 42, "PREMIUM_ECONOMY": 28, "ECONOMY": 220}
_DREAMLINER = {"BUSINESS": 48, "PREMIUM_ECONOMY": 21, "ECONOMY": 216}
_NARROWBODY = {"BUSINESS": 16, "ECONOMY": 150}
ROUTES: list[tuple[str, str, str, str, str, int, str, dict[str, int]]] = [
    # number, origin, destination, departs, arrives, days later, aircraft, seats per cabin
    ("100", "JFK", "LHR", "19:00", "07:10", 1, "Boeing 777-300ER", _WIDEBODY),
    ("101", "LHR", "JFK", "08:30", "11:30", 0, "Boeing 777-300ER", _WIDEBODY),
    ("102", "JFK", "CDG", "18:30", "07:45", 1, "Boeing 787-9", _DREAMLINER),
    ("103", "CDG", "JFK", "10:30", "13:00", 0, "Boeing 787-9", _DREAMLINER),
    ("104", "BOS", "LHR", "21:00", "08:30", 1, "Boeing 787-9", _DREAMLINER),
    ("105", "LHR", "BOS", "12:00", "14:45", 0, "Boeing 787-9", _DREAMLINER),
    ("106", "ORD", "LHR", "17:30", "07:30", 1, "Boeing 787-9", _DREAMLINER),
    ("107", "LHR", "ORD", "11:15", "14:15", 0, "Boeing 787-9", _DREAMLINER),
    ("108", "LAX", "NRT", "11:00", "15:30", 1, "Boeing 777-300ER", _WIDEBODY),
    ("109", "NRT", "LAX", "17:00", "10:30", 0, "Boeing 777-300ER", _WIDEBODY),
    ("110", "JFK", "MIA", "07:00", "10:05", 0, "Airbus A321", _NARROWBODY),
    ("111", "MIA", "JFK", "11:30", "14:35", 0, "Airbus A321", _NARROWBODY),
    ("112", "SFO", "SEA", "08:00", "10:10", 0, "Airbus A320", _NARROWBODY),
    ("113", "SEA", "SFO", "11:00", "13:10", 0, "Airbus A320", _NARROWBODY),
    ("114", "ATL", "DFW", "09:00", "10:20", 0, "Boeing 737-800", _NARROWBODY),
    ("115", "DFW", "ATL", "12:00", "15:05", 0, "Boeing 737-800", _NARROWBODY),
    ("116", "JFK", "IST", "23:00", "16:30", 1, "Boeing 777-300ER", _WIDEBODY),
    ("117", "IST", "JFK", "13:00", "16:45", 0, "Boeing 777-300ER", _WIDEBODY),
    ("118", "JFK", "LHR", "08:00", "20:05", 0, "Boeing 787-9", _DREAMLINER),
    ("119", "LHR", "JFK", "16:00", "18:55", 0, "Boeing 787-9", _DREAMLINER),
]
SCHEDULE_DAYS = 8  # today and the week after, at the origin

# Hub-and-spoke routes timed in banks, so that journeys connect (at least an hour, at most six):
# European spokes meet the morning transatlantic arrivals at LHR (out at 10:30) and land there by
# 10:00 for the day's westbound departures;
# JFK's spokes land by 16:00 for the evening departures and leave at 14:30 and 20:30; ORD's land
# by 15:00 and leave at 16:00; JFK and ORD are linked both ways. Block times follow the
# great-circle distance (30 minutes plus 800 km an hour).
HUB_SPOKES = {
    "LHR": (
        *("DUB", "MAN", "EDI", "BCN", "LIS", "MUC", "ZRH", "VIE", "CPH", "ARN", "OSL"),
        *("BRU", "MXP", "ATH", "WAW", "PRG", "AMS", "FRA", "MAD", "FCO", "CDG", "DXB"),
    ),
    "JFK": ("BOS", "IAD", "CLT", "PHL", "DTW", "YUL", "CUN", "ATL", "YYZ"),
    "ORD": ("DEN", "PHX", "LAS", "MSP", "IAH", "SAN", "PDX", "YVR", "MEX", "LAX", "SFO"),
}
_SPOKE_TIMES = {  # hub: (leaves the hub at, local; lands at the hub by, or leaves the spoke at)
    "LHR": (("10:30",), ("land", "10:00")),
    "JFK": (("14:30", "20:30"), ("land", "16:00")),
    "ORD": (("16:00",), ("land", "15:00")),
}
_HUB_LINKS = (("JFK", "ORD", "14:00"), ("ORD", "JFK", "12:30"))


def _airport(code: str) -> AirportFacts:
    found = lookup(code)
    if found is None:
        raise ValueError(f"{code} is not an airport")  # the demo's airports are all real
    return found


def _block_minutes(origin: AirportFacts, destination: AirportFacts) -> int:
    km = great_circle_km(
        (origin.latitude, origin.longitude), (destination.latitude, destination.longitude)
    )
    return 5 * ceil((30 + km / 800 * 60) / 5)


def _timed(
    number: int,
    origin: str,
    destination: str,
    today: date,
    *,
    leaves: str | None,
    lands: str | None,
) -> tuple[str, str, str, str, str, int, str, dict[str, int]]:
    """A narrow-body route leaving at ``leaves`` (local at the origin), or timed to land at
    ``lands`` (local at the destination), on ``today``'s clocks."""
    a, b = _airport(origin), _airport(destination)
    block = timedelta(minutes=_block_minutes(a, b))
    there, here = ZoneInfo(a.timezone), ZoneInfo(b.timezone)
    if leaves is not None:
        departs = datetime.combine(today, time.fromisoformat(leaves), there)
    else:
        landing = datetime.combine(today, time.fromisoformat(lands or "12:00"), here)
        departs = (landing - block).astimezone(there)
    arrives = (departs + block).astimezone(here)
    later = (arrives.date() - departs.date()).days
    return (
        str(number),
        origin,
        destination,
        departs.strftime("%H:%M"),
        arrives.strftime("%H:%M"),
        later,
        "Airbus A321neo",
        _NARROWBODY,
    )


def hub_routes(today: date) -> list[tuple[str, str, str, str, str, int, str, dict[str, int]]]:
    """The spokes' routes to and from their hubs, and the links between hubs (numbers from 500)."""
    routes = []
    number = 500
    for hub, spokes in HUB_SPOKES.items():
        outbound, (how, when) = _SPOKE_TIMES[hub]
        for spoke in spokes:
            for leaves in outbound:
                routes.append(_timed(number, hub, spoke, today, leaves=leaves, lands=None))
                number += 1
            if how == "leave":
                routes.append(_timed(number, spoke, hub, today, leaves=when, lands=None))
            else:
                routes.append(_timed(number, spoke, hub, today, leaves=None, lands=when))
            number += 1
    for origin, destination, leaves in _HUB_LINKS:
        routes.append(_timed(number, origin, destination, today, leaves=leaves, lands=None))
        number += 1
    return routes


def schedules(today: date) -> list[dict[str, Any]]:
    return [
        {
            "carrier": AIRLINE["code"],
            "flight_number": number,
            "origin": origin,
            "destination": destination,
            "departure_time": departs,
            "arrival_time": arrives,
            "arrival_day_offset": later,
            "aircraft": aircraft,
            "cabins": cabins,
            "start_date": today.isoformat(),
            "end_date": (today + timedelta(days=SCHEDULE_DAYS - 1)).isoformat(),
        }
        for number, origin, destination, departs, arrives, later, aircraft, cabins in (
            ROUTES + hub_routes(today)
        )
    ]


# Seed 001's two bundle examples, as written.
BUNDLES = [
    {
        "bundle_name": "Comfort Bundle",
        "bundle_type": "COMFORT",
        "product_types": [
            {"type": "FLIGHT", "required": True},
            {"type": "SEAT", "category": "EXTRA_LEGROOM", "required": False},
            {"type": "MEAL", "category": "HOT", "required": False},
            {"type": "BAG", "quantity": 1, "required": False},
        ],
        "discount_percentage": "10.0",
        "priority": 2,
    },
    {
        "bundle_name": "Premium Experience",
        "bundle_type": "PREMIUM",
        "product_types": [
            {"type": "FLIGHT", "cabin_class": "BUSINESS", "required": True},
            {"type": "LOUNGE", "required": True},
            {"type": "FAST_TRACK", "required": True},
            {"type": "SEAT", "category": "PREMIUM", "required": True},
        ],
        "discount_percentage": "15.0",
        "priority": 3,
    },
]

# Seed 001's inventory rule for seats; extra-legroom seats are physical seats (no overbooking);
# lounges warn when 10 places are left.
INVENTORY_RULES = [
    {
        "resource_type": "SEAT",
        "hold_duration_seconds": 900,
        "overbooking_percentage": "5.0",
        "min_availability_threshold": 10,
        "release_policy": {"auto_release_on_expiry": True, "notify_on_low_inventory": True},
    },
    {
        "resource_type": "SEAT",
        "resource": "SEAT-EXTRA-LEG",
        "hold_duration_seconds": 900,
        "overbooking_percentage": "0",
        "min_availability_threshold": 4,
    },
    {"resource_type": "LOUNGE", "hold_duration_seconds": 900, "min_availability_threshold": 10},
]

# Seed 001's "Standard Offer Mix".
OFFER_RULES = {
    "rule_name": "Standard Offer Mix",
    "max_offers": 5,
    "offer_types": [
        {"type": "FLIGHT_ONLY", "priority": 1, "always_include": True},
        {"type": "COMFORT", "priority": 2, "always_include": True},
        {"type": "PREMIUM", "priority": 3, "always_include": False},
    ],
    "ranking_weights": {"conversion_probability": 0.6, "profit_margin": 0.4},
    "expiry_minutes": 15,
}

# Illustrative taxes and rates, not the real ones: a departure fee per passenger from the US, a
# percentage of the fare from the UK, and rates for selling in euros and pounds.
FARE_SETTINGS = {
    "child_ratio": "0.75",
    "infant_ratio": "0.10",
    "taxes": [
        {
            "code": "US",
            "name": "US departure fee (illustrative)",
            "kind": "FIXED",
            "amount": "20.00",
            "currency": "USD",
            "country": "US",
            "passenger_types": ["ADULT", "CHILD"],
        },
        {
            "code": "GB",
            "name": "UK departure duty (illustrative)",
            "kind": "PERCENTAGE",
            "amount": "8",
            "country": "GB",
        },
    ],
    "exchange_rates": [
        {"from": "NUC", "to": "USD", "rate": "1"},
        {"from": "USD", "to": "EUR", "rate": "0.92"},
        {"from": "USD", "to": "GBP", "rate": "0.79"},
    ],
}
