"""Loyalty's pure logic: what an order earns, what points are worth, which lots a use of points
takes from, when points expire, and the benefits a tier puts on an offer.

1. **Earning.** Each item of a confirmed order earns ``points_per_unit`` × its amount (in the
   programme's currency) under the most specific earn rule that matches it (the most of fare
   family, cabin, product type and tier named; the first listed among as specific); an item no
   rule matches earns nothing. Each item's points are rounded down to whole points; the tier's
   ``bonus_percentage`` of their sum is added, rounded down too. Whole points only, never a
   fraction: what a customer sees is what the ledger holds.
2. **Worth.** A point is worth the programme's configured value in the order's currency; a
   redemption's amount is points × value rounded **down** to the currency's minor units (the
   engine never gives more than the points are worth).
3. **Lots.** Points are added in lots (an earn, a positive adjustment, a refund), each with what
   is left of it and, for earned points, an expiry ``expiry_months`` calendar months after it was
   earned (the day clamped to the month's last). A use of points takes from the lots that expire
   first (those that never expire last), oldest first among the same expiry, so that points
   nearest their end are used before they are lost.
4. **Benefits.** A tier's free bags, lounge access and seat choice show on a shop offer as items
   priced 0, each naming the benefit, its tier and programme in its ``benefit``.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from offerengine import money

HUNDRED = Decimal(100)
KINDS = ("earn", "redeem", "expire", "reverse", "adjust")


@dataclass(frozen=True, slots=True)
class Benefits:
    free_bags: int = 0  # checked bags per passenger
    lounge: bool = False
    seat_choice: bool = False
    bonus_percentage: Decimal = Decimal(0)  # of the points an order earns


@dataclass(frozen=True, slots=True)
class Tier:
    code: str
    name: str
    benefits: Benefits = field(default_factory=Benefits)


@dataclass(frozen=True, slots=True)
class EarnRule:
    """Points per unit of the programme's currency, for the items it matches (None: any)."""

    points_per_unit: Decimal
    fare_family: str | None = None
    cabin: str | None = None
    product_type: str | None = None
    tier: str | None = None

    @property
    def specificity(self) -> int:
        return sum(
            v is not None for v in (self.fare_family, self.cabin, self.product_type, self.tier)
        )

    def matches(self, item: EarnItem, tier: str) -> bool:
        return (
            (self.fare_family is None or self.fare_family == item.fare_family)
            and (self.cabin is None or self.cabin == item.cabin)
            and (self.product_type is None or self.product_type == item.product_type)
            and (self.tier is None or self.tier == tier)
        )


@dataclass(frozen=True, slots=True)
class Programme:
    id: uuid.UUID
    code: str
    name: str
    version: int
    currency: str
    tiers: tuple[Tier, ...]  # lowest first
    earn_rules: tuple[EarnRule, ...] = ()
    point_values: Mapping[str, Decimal] = field(default_factory=dict)  # currency → per point
    expiry_months: int | None = None
    min_redemption: int = 1

    def tier(self, code: str | None) -> Tier | None:
        return next((t for t in self.tiers if t.code == code), None)


@dataclass(frozen=True, slots=True)
class EarnItem:
    """An order item as earning sees it: what it is, and its amount in the programme's currency."""

    product_type: str
    amount: Decimal
    cabin: str | None = None
    fare_family: str | None = None
    item_id: str = ""


@dataclass(frozen=True, slots=True)
class EarnLine:
    item_id: str
    points: int
    rule: int | None  # the earn rule's position; None: no rule matched


@dataclass(frozen=True, slots=True)
class Earning:
    base: int
    bonus: int
    lines: tuple[EarnLine, ...]

    @property
    def points(self) -> int:
        return self.base + self.bonus

    def as_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "bonus": self.bonus,
            "lines": [
                {"item_id": e.item_id, "points": e.points, "rule": e.rule} for e in self.lines
            ],
        }


def best_rule(rules: Sequence[EarnRule], item: EarnItem, tier: str) -> int | None:
    """The position of the most specific rule matching ``item`` (the first of equals)."""
    best: int | None = None
    for i, rule in enumerate(rules):
        if rule.matches(item, tier) and (
            best is None or rule.specificity > rules[best].specificity
        ):
            best = i
    return best


def earn(programme: Programme, tier: str, items: Iterable[EarnItem]) -> Earning:
    """What an order of ``items`` earns a member of ``tier``: whole points, never negative."""
    lines = []
    base = 0
    for item in items:
        at = best_rule(programme.earn_rules, item, tier)
        points = 0
        if at is not None and item.amount > 0:
            raw = item.amount * programme.earn_rules[at].points_per_unit
            points = int(raw.to_integral_value(rounding=ROUND_DOWN))
        lines.append(EarnLine(item.item_id, points, at))
        base += points
    found = programme.tier(tier)
    pct = found.benefits.bonus_percentage if found is not None else Decimal(0)
    bonus = int((base * pct / HUNDRED).to_integral_value(rounding=ROUND_DOWN))
    return Earning(base, bonus, tuple(lines))


def worth_minor(points: int, value: Decimal, currency: str) -> int:
    """What ``points`` are worth at ``value`` a point, in minor units of ``currency``, rounded
    down."""
    amount = (Decimal(points) * value).quantize(money.unit(currency), rounding=ROUND_DOWN)
    return money.to_minor(amount, currency)


def add_months(at: datetime, months: int) -> datetime:
    """``at`` moved ``months`` calendar months on, the day clamped to the month's last."""
    index = at.month - 1 + months
    year, month = at.year + index // 12, index % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def expiry(programme: Programme, earned_at: datetime) -> datetime | None:
    """When points earned at ``earned_at`` expire; None: never."""
    if programme.expiry_months is None:
        return None
    return add_months(earned_at, programme.expiry_months)


@dataclass(frozen=True, slots=True)
class Lot:
    id: uuid.UUID
    remaining: int
    expires_at: datetime | None
    created_at: datetime


def use_order(lots: Iterable[Lot]) -> list[Lot]:
    """Lots in the order a use of points takes from them: soonest expiry first, never-expiring
    last, oldest first among equals."""
    return sorted(
        (lot for lot in lots if lot.remaining > 0),
        key=lambda lot: (lot.expires_at is None, lot.expires_at or lot.created_at, lot.created_at),
    )


def take(lots: Iterable[Lot], points: int) -> list[tuple[uuid.UUID, int]]:
    """How many points to take from which lot to use ``points`` (see :func:`use_order`); fewer in
    all when the lots hold fewer."""
    taken: list[tuple[uuid.UUID, int]] = []
    left = points
    for lot in use_order(lots):
        if left <= 0:
            break
        n = min(lot.remaining, left)
        taken.append((lot.id, n))
        left -= n
    return taken


def expired(lots: Iterable[Lot], now: datetime) -> list[Lot]:
    """The lots whose points have expired by ``now`` and still hold some."""
    return [
        lot
        for lot in lots
        if lot.remaining > 0 and lot.expires_at is not None and lot.expires_at <= now
    ]


# --- tier benefits on offers --------------------------------------------------------------------

_BENEFITS = (
    # name, item type, product code, item name, what the explanation says
    ("free_bags", "BAGGAGE", "LOYALTY-BAG", "Checked bag", "free checked bag"),
    ("lounge", "LOUNGE", "LOYALTY-LOUNGE", "Lounge access", "lounge access"),
    ("seat_choice", "SEAT", "LOYALTY-SEAT", "Seat choice", "free seat choice"),
)


def benefit_items(
    programme: Programme, tier: Tier, currency: str, counts: Sequence[tuple[str, int]]
) -> list[dict[str, Any]]:
    """The tier's benefits as offer items priced 0 for every seated passenger, each naming the
    benefit it is in ``benefit``."""
    zero = str(money.quantize(Decimal(0), currency))
    seated = [(kind, n) for kind, n in counts if kind != "INFANT"]
    items: list[dict[str, Any]] = []
    for name, item_type, code, title, said in _BENEFITS:
        value = getattr(tier.benefits, name)
        quantity = int(value) if name == "free_bags" else (1 if value else 0)
        if quantity <= 0:
            continue
        what = f"{quantity} {said}s" if quantity > 1 else said
        items.append(
            {
                "item_id": f"benefit-{name.replace('_', '-')}",
                "type": item_type,
                "required": True,
                "product_code": code,
                "name": f"{title} ({tier.name})",
                "quantity_per_passenger": quantity,
                "passengers": [
                    {"type": kind, "count": n * quantity, "unit_price": zero} for kind, n in seated
                ],
                "price": {"base": zero, "subtotal": zero, "discount": zero, "total": zero},
                "benefit": {
                    "name": name,
                    "programme": programme.code,
                    "tier": tier.code,
                    "explanation": f"{what} per passenger: a {tier.name} benefit of {programme.name}",
                },
            }
        )
    return items


@dataclass(frozen=True, slots=True)
class LoyaltyIndex:
    """The tenant's active programmes as run time reads them."""

    programmes: tuple[Programme, ...] = ()

    def benefits(
        self, tier: str | None, currency: str, counts: Sequence[tuple[str, int]]
    ) -> list[dict[str, Any]]:
        """The benefit items of ``tier`` in the first programme that has it; none without."""
        if tier is None:
            return []
        for programme in self.programmes:
            found = programme.tier(tier)
            if found is not None:
                return benefit_items(programme, found, currency, counts)
        return []
