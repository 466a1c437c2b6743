"""Personal coupons in a search: a campaign's grants named in ``coupon_codes``, applied to the
offers they are valid for.

Grants are per customer, not configuration: they are read per search that names one (never
from the snapshot), in a session of their own that is closed before the search runs
(:func:`read`): each code's grant with its uses and what its campaign can still spend, or why
it cannot apply for this customer (:func:`offerengine.shopping.core._grants.refusal`).

The search then runs as any other, but ranked afresh (a search with codes never shares a
ranking, so every offer body it makes is its own), and :func:`apply` takes each grant off the
offers it is valid for (:func:`offerengine.shopping.core._grants.apply`): the offer's ``price``
shows it (``coupons``, ``discount``, ``total``), its own total and its body are rewritten
before the search is recorded, so the stored offer, ``GET /v1/offers/{id}`` and an order of it
see the same price. Ranking is unchanged: a grant lowers the prices of the offers the search
shows, it does not choose them. The answer's ``coupons`` says per code which offers it applied
to, or why none. Pricing a stored offer again (:func:`repriced`) applies its grants again, as
they stand now.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine import money
from offerengine.campaigns import grants as granting
from offerengine.campaigns.models import CampaignGrant
from offerengine.shopping.core import _grants as core
from offerengine.shopping.models import Offer, offer_json
from offerengine.shopping.offers import Repriced
from offerengine.shopping.showing import Searched

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class Given:
    """The codes a search named (upper case, in order), the grants among them that may apply to
    its offers, and why the others cannot."""

    codes: tuple[str, ...]
    found: dict[str, core.Personal] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def personal_of(grant: CampaignGrant, budget_left: Decimal | None = None) -> core.Personal:
    """A grant as the offers apply it: on its terms as a coupon, with its uses; its campaign's
    ``budget_left`` (None: not checked)."""
    return core.Personal(
        code=grant.code,
        grant_id=str(grant.id),
        promotion=grant.promotion,
        customer_id=grant.customer_id,
        coupon=granting.as_coupon(grant),
        usage=granting.usage(grant),
        budget_left=budget_left,
    )


def codes_of(raw: Sequence[str]) -> tuple[str, ...]:
    return tuple(c.strip().upper() for c in raw)


async def read(
    session_factory: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID,
    codes: Sequence[str],
    customer_id: str | None,
    at: datetime,
) -> Given:
    """The grants of ``codes`` for a search by ``customer_id``: each with its terms, uses and
    its campaign's budget left, or why it cannot apply."""
    wanted = codes_of(codes)
    async with session_factory() as session:
        grants = await granting.find(session, tenant_id, wanted)
        left = await granting.spendable(
            session, tenant_id, [g.campaign_id for g in grants.values()]
        )
    found: dict[str, core.Personal] = {}
    refused: dict[str, str] = {}
    for code in dict.fromkeys(wanted):
        grant = grants.get(code)
        personal = None
        if grant is not None:
            personal = personal_of(
                grant, money.from_minor(left.get(grant.campaign_id, 0), grant.currency)
            )
        why = core.refusal(personal, customer_id, at)
        if why is not None or personal is None:
            refused[code] = why or "no such coupon"
        else:
            found[code] = personal
    return Given(wanted, found, refused)


def apply(searched: Searched, given: Given) -> tuple[Searched, dict[str, Any]]:
    """The search with its grants taken off the offers they are valid for (its answer, its
    offers' own totals and their bodies, before it is recorded), and the answer's ``coupons``."""
    record = searched.record
    own: dict[str, dict[str, Any]] = dict(_decode(record.offers_json))
    bodies = {b.id: b for b in record.bodies}
    encoded: list[bytes] = []
    applied: dict[str, list[str]] = {c: [] for c in given.codes}
    reasons: dict[str, str] = {}
    for raw in searched.encoded:
        offer = _decode(raw)
        offer_id = str(offer["offer_id"])
        mine = own.get(offer_id[-2:])
        body = None if mine is None else bodies.get(mine["body_id"])
        if mine is None or body is None:  # a body shared with another search: never rewritten
            encoded.append(raw)
            continue
        members = dict(_decode("{" + body.members_json + "}"))  # kept without its braces
        done = core.apply(
            members["price"],
            members["items"],
            given.codes,
            given.found,
            given.refused,
            str(members["currency"]),
        )
        for o in done.outcomes:
            if o.applied:
                applied[o.code].append(offer_id)
            else:
                reasons.setdefault(o.code, o.reason)
        members["price"] = done.price
        members_json = _encode(members)
        bodies[body.id] = msgspec.structs.replace(body, members_json=members_json[1:-1].decode())
        mine["total_minor"] = money.to_minor(Decimal(done.price["total"]), members["currency"])
        encoded.append(
            offer_json(
                offer_id,
                str(offer["search_id"]),
                members_json[1:-1],
                str(offer["created_at"]),
                str(offer["expires_at"]),
                _encode(offer["experiments"]),
            )
        )
    record = msgspec.structs.replace(
        record, offers_json=_encode(own).decode(), bodies=list(bodies.values())
    )
    summary: dict[str, Any] = {"applied": [], "rejected": []}
    for code in dict.fromkeys(given.codes):
        if applied[code]:
            summary["applied"].append({"code": code, "offers": applied[code]})
        else:
            why = given.refused.get(code) or reasons.get(code) or "no offer to apply it to"
            summary["rejected"].append({"code": code, "reason": why})
    return (
        Searched(
            searched.search_id,
            searched.warnings,
            record,
            encoded,
            searched.exposures,
            searched.alternatives,
        ),
        summary,
    )


async def repriced(
    session_factory: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID,
    stored: Offer,
    done: Repriced,
    at: datetime,
) -> Repriced:
    """A stored offer priced again with the grants it applied, read now (a grant used, expired
    or out of budget meanwhile is listed as rejected, and the price is without it)."""
    applied = core.applied_codes(stored.body["price"])
    if not applied:
        return done
    given = await read(
        session_factory, tenant_id, [str(a["code"]) for a in applied], stored.customer_id, at
    )
    offer = done.offer
    price = core.apply(
        offer["price"],
        offer["items"],
        given.codes,
        given.found,
        given.refused,
        str(offer["currency"]),
    ).price
    return dataclasses.replace(
        done, offer={**offer, "price": price}, changed=price["total"] != done.previous_total
    )
