"""The demo airline's decisioning: four placements, thirty offers with eligibility and caps, two
fallbacks, collections, a ranking formula and four activities. Objects refer to each other by
name here; the loader turns names into ids. Values are illustrative, not anyone's figures."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.decisioning import service as decisioning
from offerengine.tenants.models import Tenant

PLACEMENTS: list[dict[str, str]] = [
    {"name": "Web home hero", "channel": "web", "content_type": "json",
     "description": "headline (≤ 60 chars), body, cta, image URL 1200×400"},
    {"name": "Booking confirmation", "channel": "web", "content_type": "html",
     "description": "an HTML card, at most 400×250 px"},
    {"name": "Email", "channel": "email", "content_type": "html",
     "description": "subject and an HTML block"},
    {"name": "Agent desktop", "channel": "agent", "content_type": "text",
     "description": "one line an agent can read out"},
]  # fmt: skip

GOLD_UP = "profile.tier in ['GOLD', 'PLATINUM']"
_DAILY = {"type": "calendar", "unit": "day"}
_WEEKLY = {"type": "calendar", "unit": "week"}

# name, tags, priority, eligibility, capping, value, cost
OFFERS: list[tuple[str, list[str], int, str | None, list[dict[str, Any]], str, str]] = [
    ("Business class upgrade", ["upgrade", "premium"], 90,
     f"{GOLD_UP} and context.cabin == 'ECONOMY'",
     [{"scope": "profile", "limit": 2, "window": _DAILY}], "320", "90"),
    ("Premium economy upgrade", ["upgrade"], 70, "context.cabin == 'ECONOMY'",
     [{"scope": "profile", "limit": 3, "window": _DAILY}], "120", "30"),
    ("First class upgrade", ["upgrade", "premium"], 95,
     "profile.tier == 'PLATINUM' and context.cabin == 'BUSINESS'", [], "900", "250"),
    ("Last-minute upgrade", ["upgrade"], 60, "context.days_to_departure <= 2", [], "150", "20"),
    ("Lounge day pass", ["lounge"], 65, "profile.tier not in ['PLATINUM']", [], "45", "12"),
    ("Lounge pass for two", ["lounge"], 55, "context.passengers >= 2", [], "80", "24"),
    ("JFK lounge evening special", ["lounge"], 75, "context.origin == 'JFK'",
     [{"scope": "global", "limit": 200, "window": _DAILY, "timezone": "America/New_York"}],
     "35", "12"),
    ("Lounge membership", ["lounge", "premium"], 50, "profile.trips_per_year >= 6", [], "450", "150"),
    ("Extra bag 23 kg", ["bags"], 60, None, [], "60", "10"),
    ("Prepaid excess weight", ["bags"], 40, "context.days_to_departure >= 1", [], "40", "5"),
    ("Ski and golf equipment", ["bags"], 45, "'ski' in profile.interests", [], "70", "15"),
    ("Priority baggage", ["bags"], 50, "profile.tier in ['SILVER', 'GOLD']", [], "25", "3"),
    ("Trip cancellation cover", ["insurance"], 55, "context.days_to_departure >= 14", [],
     "35", "14"),
    ("Medical travel cover", ["insurance"], 60, "context.international == true", [], "29", "11"),
    ("Annual multi-trip cover", ["insurance"], 45, "profile.trips_per_year >= 4", [], "140", "60"),
    ("Baggage delay cover", ["insurance"], 30, None, [], "12", "4"),
    ("Co-branded card: 60,000 miles", ["card"], 85,
     "profile.age >= 18 and profile.has_card == false",
     [{"scope": "profile", "limit": 3, "event": "impression", "window": _WEEKLY},
      {"scope": "global", "limit": 5000, "window": _DAILY}], "250", "60"),
    ("Premium card upgrade", ["card"], 70, "profile.has_card == true", [], "120", "20"),
    ("Student card", ["card"], 60, "profile.age < 26", [], "80", "25"),
    ("London hotel deal", ["hotel"], 65, "context.destination == 'LHR'", [], "55", "0"),
    ("Paris hotel deal", ["hotel"], 65, "context.destination == 'CDG'", [], "50", "0"),
    ("Airport hotel before early flights", ["hotel"], 55, "context.departure_hour < 8", [],
     "30", "0"),
    ("Hotel with breakfast", ["hotel"], 40, None, [], "35", "0"),
    ("Car rental 10 % off", ["car"], 45, None, [], "25", "0"),
    ("Electric car rental", ["car"], 40, "context.destination in ['LHR', 'CDG', 'AMS']", [],
     "28", "0"),
    ("Chauffeur transfer", ["car", "premium"], 70, GOLD_UP, [], "60", "0"),
    ("Wi-Fi for the whole flight", ["connectivity"], 50, "context.duration_hours >= 3", [],
     "20", "4"),
    ("Extra legroom seat", ["seat"], 58, "context.cabin == 'ECONOMY'", [], "45", "6"),
    ("Fast track security", ["airport"], 52, "context.origin in ['JFK', 'LHR', 'CDG']", [],
     "15", "4"),
    ("Chef's meal", ["dining"], 42, "context.duration_hours >= 6", [], "25", "9"),
]  # fmt: skip

FALLBACKS: list[tuple[str, list[str]]] = [
    ("Welcome aboard", ["Web home hero", "Booking confirmation", "Email", "Agent desktop"]),
    ("Manage your booking", ["Booking confirmation", "Email"]),
]
COLLECTIONS: list[dict[str, Any]] = [
    {"name": "Upgrades", "tags": ["upgrade"]},
    {"name": "Trip extras", "tags": ["lounge", "bags", "seat", "connectivity", "dining", "airport",
                                     "insurance"]},
    {"name": "Partners", "tags": ["hotel", "car", "card"]},
    {"name": "Premium picks", "tags": ["premium", "upgrade"], "match": "all"},
    {"name": "Everything", "tags": ["upgrade", "lounge", "bags", "seat", "connectivity", "dining",
                                    "airport", "insurance", "hotel", "car", "card"]},
]  # fmt: skip
FORMULAS = [
    {
        "name": "Expected margin",
        "expression": "offer.value - offer.cost + offer.priority / 10",
        "description": "What the offer earns if accepted, nudged by its priority.",
    }
]
ACTIVITIES: list[tuple[str, str, str, str, str | None]] = [
    ("Home page hero", "Web home hero", "Everything", "Welcome aboard", "Expected margin"),
    ("Confirmation cross-sell", "Booking confirmation", "Trip extras", "Manage your booking", None),
    ("Post-booking email", "Email", "Partners", "Manage your booking", None),
    ("Agent upsell", "Agent desktop", "Upgrades", "Welcome aboard", None),
]


def content(placement: str, headline: str) -> dict[str, Any]:
    """What each placement's channel expects, for an offer called ``headline``."""
    slug = headline.lower().replace(" ", "-").replace(",", "")
    if placement == "Web home hero":
        return {
            "headline": headline,
            "cta": "See more",
            "image": f"https://cdn.example.com/offers/{slug}.png",
        }
    if placement == "Booking confirmation":
        return {
            "html": f"<div class='offer'><h3>{headline}</h3><a href='/add/{slug}'>Add</a></div>"
        }
    if placement == "Email":
        return {"subject": f"For your trip: {headline}", "html": f"<p>{headline}</p>"}
    return {"text": f"Offer the customer: {headline}"}


async def load(session: AsyncSession, tenant: Tenant, actor: Actor) -> None:
    """Create what is missing, by name; what exists is kept as it is."""
    ids: dict[tuple[str, str], uuid.UUID] = {}
    for spec in decisioning.SPECS.values():
        found, _ = await decisioning.list_objects(
            session, spec=spec, tenant_id=tenant.id, where=decisioning.ObjectFilter()
        )
        for obj in found:
            ids[(spec.kind, obj.name)] = obj.id

    async def make(spec: decisioning.Spec, body: dict[str, Any]) -> uuid.UUID:
        key = (spec.kind, body["name"])
        if key not in ids:
            data = spec.schema_in.model_validate(body)
            created = await spec.editing.create_for(
                session, tenant_id=tenant.id, data=data, actor=actor
            )
            ids[key] = created.id
        return ids[key]

    placements = {p["name"]: await make(decisioning.PLACEMENT, p) for p in PLACEMENTS}
    for name, tags, priority, eligibility, capping, value, cost in OFFERS:
        await make(
            decisioning.OFFER,
            {
                "name": name,
                "status": "approved",
                "priority": priority,
                "tags": tags,
                "eligibility": eligibility,
                "capping": capping,
                "value": value,
                "cost": cost,
                "representations": [
                    {"placement_id": pid, "content": content(placement, name)}
                    for placement, pid in placements.items()
                ],
            },
        )
    for name, where in FALLBACKS:
        await make(
            decisioning.FALLBACK,
            {
                "name": name,
                "representations": [
                    {"placement_id": placements[p], "content": content(p, name)} for p in where
                ],
            },
        )
    for body in COLLECTIONS:
        await make(decisioning.COLLECTION, body)
    for body in FORMULAS:
        await make(decisioning.FORMULA, body)
    for name, placement, collection, fallback, formula in ACTIVITIES:
        ranking: dict[str, Any] = {"method": "priority"}
        if formula is not None:
            ranking = {"method": "formula", "formula_id": ids[("ranking_formula", formula)]}
        await make(
            decisioning.ACTIVITY,
            {
                "name": name,
                "status": "approved",
                "placement_id": placements[placement],
                "collection_id": ids[("collection", collection)],
                "fallback_offer_id": ids[("fallback_offer", fallback)],
                "ranking": ranking,
            },
        )
