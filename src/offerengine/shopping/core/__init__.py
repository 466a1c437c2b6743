"""Shopping as plain functions over plain data: from a search and a snapshot to ranked offers.

How an offer is made, for one flight and one offer type (``FLIGHT_ONLY`` or a bundle type):

1. The cabin: the bundle's FLIGHT line names one (``cabin_class``), else the search's (default
   ECONOMY). The flight must have that cabin and enough sellable seats for the adults and children
   (infants sit on a lap and need none).
2. The fare: the tenant's FLIGHT product whose category is the cabin, priced by the pricing rules
   exactly as ``simulate`` prices it, with the flight's facts (departure time, route, cabin,
   ``utilization`` of the cabin) and the search's (channel, customer, passengers). When the cabin
   has a fare family set on the route, the fare sells in a family (the search's ``fare_family``,
   else the set's default, the one at multiplier 1): the family's multiplier × that fare, and the
   family's booking limit guards the seats.
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
context (:mod:`offerengine.shopping.personal`) — and ``margin`` is (price before taxes − cost) /
price before taxes. Offer rules then keep ``max_offers``: the best offer of each
``always_include`` type first, then the best of the rest.

The parts, by use case:

- configuration: ``_config`` (offer rules, fare settings, the snapshot section), ``_conversion``
  (the conversion estimate), ``_treatment`` (experiments that change shopping);
- the search: ``_search`` (what is asked), ``_shop`` (what it sees, and the memo it shares),
  ``_offer`` (what it makes), ``_ranking`` (candidates, scores, the offers kept);
- building an offer: ``_build`` (steps 1–7 for one flight and offer type) over ``_availability``
  (1, 3), ``_pricer`` (2), ``_items`` (4, 5), ``_currency`` (6), ``_taxes`` (7), ``_totals``;
- journeys (a search given in one to four slices): ``_journeys`` (slices, the snapshot's
  connection index, nonstop and connecting itineraries within connection times and the routing
  limit), ``_journey_offers`` (each slice's itineraries priced, combined into offers for the whole
  journey; the nearest dates and connections when nothing is sellable);
- branded fares: ``_families`` (the tenant's fare family sets, per cabin and route, and a family's
  fare: the cabin fare × its multiplier), ``_family_grid`` (the family an offer's fare sells in,
  and the grid of what the offer costs in each family of its set, per slice for a journey).
"""

from offerengine.shopping.core._build import Builder
from offerengine.shopping.core._config import (
    FLIGHT_ONLY,
    PASSENGER_TYPES,
    FareSettings,
    OfferRules,
    OfferType,
    ShoppingConfig,
    TaxRule,
    rate_table,
)
from offerengine.shopping.core._conversion import Conversion, ConversionModel, Personal
from offerengine.shopping.core._families import FamilySet, FareFamilies, FareFamily
from offerengine.shopping.core._family_grid import FamilyGrid, offer_grid_json
from offerengine.shopping.core._journey_offers import (
    Alternatives,
    JourneyBuilder,
    JourneyParts,
    Planned,
    alternatives,
    journey_items,
    plan,
    slices_json,
)
from offerengine.shopping.core._journeys import (
    JOURNEY_TYPES,
    ConnectionRules,
    Connections,
    ConnectionTime,
    Itinerary,
    Slice,
    great_circle_km,
    itineraries,
    journey_type,
)
from offerengine.shopping.core._offer import Candidate, Dropped, Need, Result
from offerengine.shopping.core._ranking import candidates, expires_at, rank, shop_offers
from offerengine.shopping.core._search import Passengers, Search, search_of
from offerengine.shopping.core._shop import Memo, Shop
from offerengine.shopping.core._treatment import Treatment, treatment_for

__all__ = [
    "FLIGHT_ONLY",
    "JOURNEY_TYPES",
    "PASSENGER_TYPES",
    "Alternatives",
    "Builder",
    "Candidate",
    "ConnectionRules",
    "ConnectionTime",
    "Connections",
    "Conversion",
    "ConversionModel",
    "Dropped",
    "FamilyGrid",
    "FamilySet",
    "FareFamilies",
    "FareFamily",
    "FareSettings",
    "Itinerary",
    "JourneyBuilder",
    "JourneyParts",
    "Memo",
    "Need",
    "OfferRules",
    "OfferType",
    "Passengers",
    "Personal",
    "Planned",
    "Result",
    "Search",
    "Shop",
    "ShoppingConfig",
    "Slice",
    "TaxRule",
    "Treatment",
    "alternatives",
    "candidates",
    "expires_at",
    "great_circle_km",
    "itineraries",
    "journey_items",
    "journey_type",
    "offer_grid_json",
    "plan",
    "rank",
    "rate_table",
    "search_of",
    "shop_offers",
    "slices_json",
    "treatment_for",
]
