"""What a rule may refer to, per use: facts with types, open namespaces, operators, functions.

The admin API publishes this (``GET /v1/admin/rules/vocabulary?use=…``) so editors are built from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from offerengine.rules.types import ANY, BOOLEAN, DATE, DATETIME, NUMBER, STRING, Type, map_of


@dataclass(frozen=True, slots=True)
class Fact:
    name: str
    type: Type
    description: str
    example: Any = None
    default: Any = None  # a map's value for a key it does not hold (None: the fact is missing)


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    signature: str
    returns: str
    description: str


@dataclass(frozen=True, slots=True)
class Operator:
    symbol: str
    aliases: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class Vocabulary:
    use: str
    description: str
    facts: Mapping[str, Fact]
    # Namespaces whose members the caller supplies freely (``context.*``): typed ``any``.
    open_namespaces: Mapping[str, str] = field(default_factory=dict)

    def lookup(self, name: str) -> Fact | None:
        found = self.facts.get(name)
        if found is not None:
            return found
        for prefix, description in self.open_namespaces.items():
            if name.startswith(prefix) and len(name) > len(prefix):
                return Fact(name, ANY, description)
        return None

    def names(self) -> list[str]:
        return [*self.facts, *(f"{p}…" for p in self.open_namespaces)]


OPERATORS = (
    Operator("+", (), "add numbers; date + days"),
    Operator("-", (), "subtract numbers; date - days; date - date gives days"),
    Operator("*", (), "multiply"),
    Operator("/", (), "divide (division by zero is an evaluation error)"),
    Operator("%", (), "remainder"),
    Operator("^", (), "power, right-associative: 2^3^2 = 2^9; |exponent| ≤ 100"),
    Operator("==", (), "equal"),
    Operator("!=", (), "not equal"),
    Operator("<", (), "less than (numbers, strings, dates)"),
    Operator("<=", (), "at most"),
    Operator(">", (), "greater than"),
    Operator(">=", (), "at least"),
    Operator("in", (), "membership in a list, or a substring of a string"),
    Operator("not in", (), "not a member"),
    Operator("and", ("&&",), "both"),
    Operator("or", ("||",), "either"),
    Operator("not", ("!",), "negation"),
)

FUNCTIONS: Mapping[str, Function] = MappingProxyType(
    {
        f.name: f
        for f in (
            Function("min", "min(number, number, …)", "number", "the smallest of its arguments"),
            Function("max", "max(number, number, …)", "number", "the largest of its arguments"),
            Function("abs", "abs(number)", "number", "the absolute value"),
            Function("round", "round(number, digits = 0)", "number", "rounded half-up to digits"),
            Function("clamp", "clamp(x, low, high)", "number", "x kept within [low, high]"),
            Function("date", "date('2024-06-01')", "date", "a date from an ISO string"),
            Function("now", "now()", "datetime", "the time of the request (the booking time)"),
            Function(
                "days_until", "days_until(date | datetime)", "number", "days from now until then"
            ),
            Function("hours_until", "hours_until(datetime)", "number", "hours from now until then"),
            Function(
                "bought_within",
                "bought_within(category, days)",
                "boolean",
                "whether the profile bought in the category within the days before now "
                "(decisioning; missing without a stored profile's features)",
            ),
        )
    }
)


def _facts(*facts: Fact) -> Mapping[str, Fact]:
    return MappingProxyType({f.name: f for f in facts})


CABINS = "ECONOMY, PREMIUM_ECONOMY, BUSINESS or FIRST"

# The features a stored profile's events build (offerengine.profiles.features); windows count whole
# UTC days, today included.
_WINDOWED = {
    "purchases": ("Purchases", 1),
    "revenue": ("The purchases' value in the tenant's currency", "129.90"),
    "views": ("Views and impressions", 12),
    "clicks": ("Clicks", 3),
    "items_added": ("Items added to a cart (add_to_cart events' quantity)", 2),
    "sessions": ("Sessions whose last event is", 2),
    "abandoned_carts": ("Sessions over with items added to a cart and no purchase, ended", 1),
}
FEATURE_FACTS = (
    *(
        Fact(f"profile.{name}_{days}d", NUMBER, f"{what} in the last {days} day(s).", example)
        for name, (what, example) in _WINDOWED.items()
        for days in (1, 7, 30, 90)
    ),
    Fact("profile.revenue", NUMBER, "All its purchases' value in the tenant's currency.", "640.00"),
    Fact(
        "profile.days_since_last_purchase",
        NUMBER,
        "Days since its latest purchase (missing if it never bought).",
        "12.5",
    ),
    Fact(
        "profile.category_affinity",
        map_of(NUMBER),
        "Its interest per category over 90 days, 0 to 1 (views 1, clicks 2, items added 3, "
        "purchases 5, as a share): profile.category_affinity['electronics']; 0 for a category "
        "it showed no interest in.",
        {"electronics": "0.75"},
        default=Decimal(0),
    ),
    Fact(
        "profile.last_purchase_in",
        map_of(DATETIME),
        "When it last bought in each category: profile.last_purchase_in['electronics'] "
        "(missing if never); bought_within('electronics', 30) asks the same more simply.",
        {"electronics": "2026-12-01T10:00:00+00:00"},
    ),
    Fact(
        "profile.last_session_seconds",
        NUMBER,
        "How long its latest session that is over lasted (missing without one).",
        420,
    ),
    Fact(
        "profile.abandoned_last_session",
        BOOLEAN,
        "Whether its latest session that is over added items to a cart and bought nothing.",
        True,
    ),
)

PRICING = Vocabulary(
    use="pricing",
    description="Conditions and formulas of pricing rules; prices are in the product's currency.",
    facts=_facts(
        Fact(
            "utilization",
            NUMBER,
            "Sold and held over capacity of the flight cabin or resource, 0 to 1.",
            "0.82",
        ),
        Fact(
            "forecast_load_factor",
            NUMBER,
            "Where the flight cabin is heading: (sold + held now + expected_demand) over "
            "capacity (above 1 when more demand is forecast than seats). Missing when the cabin "
            "has no forecast.",
            "0.95",
        ),
        Fact(
            "expected_demand",
            NUMBER,
            "Seats the cabin's forecast still expects to sell, all fare families (less what was "
            "sold or held since the forecast). Missing when the cabin has no forecast.",
            "24.5",
        ),
        Fact(
            "bid_price",
            NUMBER,
            "The forecast's bid price, what the cabin's next seat is worth, in the forecast's "
            "currency (the cabin's FLIGHT product's), not necessarily the priced product's. "
            "Missing when the cabin has no forecast or the forecast has no bid price.",
            "199.00",
        ),
        Fact(
            "booking_limit",
            NUMBER,
            "Seats the fare family being sold may still sell now: the seats sellable less "
            "protection_level, never below 0. Missing when the cabin has no forecast.",
            12,
        ),
        Fact(
            "protection_level",
            NUMBER,
            "Seats the forecast protects for the fare families above the one being sold. "
            "Missing when the cabin has no forecast.",
            30,
        ),
        Fact("days_until_departure", NUMBER, "Whole days from the booking date to departure.", 6),
        Fact(
            "hours_until_departure",
            NUMBER,
            "Hours from the booking time to departure (from departure_time).",
            150,
        ),
        Fact(
            "departure_time",
            DATETIME,
            "Departure date-time with its zone.",
            "2026-12-20T08:30:00-05:00",
        ),
        Fact(
            "departure_date",
            DATE,
            "Local departure date (from departure_time when not given).",
            "2026-12-20",
        ),
        Fact("departure_weekday", STRING, "MON, TUE, WED, THU, FRI, SAT or SUN.", "SUN"),
        Fact("booking_date", DATE, "The date of the request.", "2026-12-14"),
        Fact("cabin_class", STRING, f"{CABINS}.", "ECONOMY"),
        Fact("product_type", STRING, "The product's type, e.g. FLIGHT, SEAT, BAG.", "FLIGHT"),
        Fact("category", STRING, "The product's category.", "EXTRA_LEGROOM"),
        Fact("origin", STRING, "IATA code of the origin airport.", "JFK"),
        Fact("destination", STRING, "IATA code of the destination airport.", "LHR"),
        Fact("route", STRING, "origin-destination, e.g. JFK-LHR.", "JFK-LHR"),
        Fact(
            "journey.type",
            STRING,
            "A search given in slices: one_way, round_trip, open_jaw or multi_city (each "
            "segment's fare then sees its own origin, destination and route). Missing for the "
            "one-way request shape.",
            "round_trip",
        ),
        Fact("journey.slices", NUMBER, "How many slices the journey has (1 to 4).", 2),
        Fact("channel", STRING, "Sales channel: web, mobile, agent, api …", "web"),
        Fact("customer.segment", STRING, "The customer's segment.", "business"),
        Fact("customer.tier", STRING, "The customer's loyalty tier.", "GOLD"),
        Fact("passengers", NUMBER, "Number of passengers in the request.", 2),
        Fact("base_price", NUMBER, "The product's base price.", "250.00"),
        Fact("price", NUMBER, "The running price before this rule.", "275.00"),
    ),
    open_namespaces=MappingProxyType({"context.": "Any value the caller passes under context."}),
)

DECISIONING = Vocabulary(
    use="decisioning",
    description="Eligibility rules and ranking formulas of decisioning offers.",
    facts=_facts(
        Fact("profile.id", STRING, "The profile's id.", "p-123"),
        Fact("profile.views", NUMBER, "Impressions and views its events reported.", 12),
        Fact("profile.clicks", NUMBER, "Clicks its events reported.", 3),
        Fact("profile.accepts", NUMBER, "Accepts its events reported.", 1),
        Fact("profile.purchases", NUMBER, "Purchases its events reported.", 2),
        Fact("profile.spend", NUMBER, "The sum of its purchases' values.", "240.00"),
        Fact("profile.days_since_seen", NUMBER, "Days since its latest event.", 3.5),
        Fact("profile.segments", ANY, "The segments it is in, a list.", ["big-spender"]),
        *FEATURE_FACTS,
        Fact("offer.name", STRING, "The offer's name.", "Lounge access"),
        Fact("offer.priority", NUMBER, "The offer's priority.", 10),
        Fact("offer.tags", ANY, "The offer's tags, a list.", ["lounge"]),
        Fact("offer.start", DATETIME, "When the offer starts (absent: always).", None),
        Fact("offer.end", DATETIME, "When the offer ends (absent: never).", None),
        Fact("offer.value", NUMBER, "What an acceptance is worth.", "40"),
        Fact("offer.cost", NUMBER, "What proposing it costs.", "5"),
    ),
    open_namespaces=MappingProxyType(
        {
            "profile.": "Any profile attribute the caller sends (profile.attributes.*) or the "
            "stored profile has (/v1/profiles/{id}); profile.categories.<category>.<aggregate>, "
            "profile.consent.<flag>.",
            "context.": "Any value the caller passes under context.",
            "offer.attributes.": "The offer's own attributes.",
        }
    ),
)

VOCABULARIES: Mapping[str, Vocabulary] = MappingProxyType(
    {PRICING.use: PRICING, DECISIONING.use: DECISIONING}
)
