"""Offers as shown: a ranked offer encoded once, and a search's answer and record.

A ranked offer (:class:`Shown`) is everything every search showing it shares: its JSON members
but its id, search, times and experiments, and the body row that stores those members and the
basis re-pricing starts from. A search (:func:`searched`) gives each offer its own id and expiry,
joins the encoded members into its answer, and makes the one record that stores it all
(:class:`Searched`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from offerengine import ids, money
from offerengine.inventory.core import FlightFacts
from offerengine.recording import records
from offerengine.shopping import core, personal
from offerengine.shopping.models import offer_json
from offerengine.snapshots.core import Snapshot

_encode = msgspec.json.Encoder().encode


def shared_basis(search: core.Search) -> dict[str, Any]:
    """The search as its ranked offers depend on it: all of it but the customer's id (which
    counts only through the experiment treatment and a personal model, each keyed apart). The
    id is stored with each offer instead."""
    basis = search.basis()
    if "id" in basis["customer"]:
        basis["customer"] = {k: v for k, v in basis["customer"].items() if k != "id"}
    return basis


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
    grid = core.offer_grid_json(candidate)
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
            **({} if grid is None else {"fare_families": msgspec.Raw(grid)}),
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
    # With nothing sellable: the nearest dates and the connections that have seats.
    alternatives: dict[str, Any] | None = None

    def response(self) -> bytes:
        """The search's JSON answer, from the offers encoded once."""
        more = (
            b"" if self.alternatives is None else b',"alternatives":' + _encode(self.alternatives)
        )
        return (
            b'{"search_id":"'
            + self.search_id.encode()
            + b'","offers":['
            + b",".join(self.encoded)
            + b'],"warnings":'
            + _encode(self.warnings)
            + more
            + b"}"
        )


def searched(
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
