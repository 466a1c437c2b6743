"""The whole search: every offer its flights can make under the offer rules, scored by conversion
and margin, and kept up to ``max_offers`` (always-included types first); and when offers expire."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from offerengine.inventory.core import FlightFacts
from offerengine.shopping.core._build import Builder
from offerengine.shopping.core._config import FLIGHT_ONLY, OfferRules
from offerengine.shopping.core._offer import Candidate, Dropped, Result
from offerengine.shopping.core._search import Search
from offerengine.shopping.core._shop import Shop


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
    raised = _priority_offer(ordered, rules)
    if raised is None:
        return sorted(chosen, key=order)
    rest = [c for c in chosen if c is not raised][: rules.max_offers - 1]
    return [raised, *sorted(rest, key=order)]


def _priority_offer(ordered: list[Candidate], rules: OfferRules) -> Candidate | None:
    """The offer rules' priority offer when seats run low: the best offer of that type on a
    flight whose cabin seats are low, marked in its score parts; None if there is none."""
    if rules.low_inventory_offer is None:
        return None
    for c in ordered:
        if c.offer_type.type == rules.low_inventory_offer and any(
            s.endswith(" seats") for s in c.low_stock
        ):
            c.parts["priority_offer"] = 1.0
            return c
    return None


def shop_offers(shop: Shop, search: Search, flights: Sequence[FlightFacts], at: datetime) -> Result:
    made, warnings = candidates(shop, search, flights, at)
    if not flights:
        warnings.insert(0, f"no flights {search.origin}→{search.destination} on {search.day}")
    return Result(rank(made, shop.rules), warnings)


def expires_at(rules: OfferRules, at: datetime, flight: FlightFacts) -> datetime:
    return min(at + timedelta(minutes=rules.expiry_minutes), flight.departs)
