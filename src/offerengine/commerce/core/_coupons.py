"""Coupons: which apply to a basket, what each takes off, and how it is shared among the items.

Coupons apply in the order given. Each is checked (active, within its validity, the quote's
currency, usage left in all and for this customer, the basket minimum, at least one item in its
category/seller scope, stacking) and either applies or is rejected with its reason; nothing is
dropped silently. ``PERCENTAGE`` takes ``value`` percent of the net value of the items in scope
(after earlier coupons), ``FIXED`` takes ``value`` (never more than those items are worth); both
are capped by ``max_discount``. ``FREE_DELIVERY`` waives the standard delivery fee. A coupon that
is not ``stackable`` applies only alone. A discount is shared among the items it covers in
proportion to their net value, to the minor unit (largest remainder), so that item lines always
add up to the total.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from offerengine import money
from offerengine.commerce.core._model import (
    HUNDRED,
    ZERO,
    Basket,
    Coupon,
    CouponOutcome,
    Line,
    Usage,
    key,
)


@dataclass(frozen=True, slots=True)
class Takes:
    """What a ``PERCENTAGE`` or ``FIXED`` coupon takes off: the ``amount``; ``capped``, the
    coupon's ``max_discount`` when that cut it (else None); ``limited``, whether what the items
    in scope are worth cut it."""

    amount: Decimal
    capped: Decimal | None
    limited: bool


def takes_off(coupon: Coupon, eligible: Decimal, currency: str) -> Takes:
    """What ``coupon`` (``PERCENTAGE`` or ``FIXED``, with a value) takes off items in scope
    worth ``eligible``: its percent of them or its value, in ``currency``, capped by its
    ``max_discount``, never more than ``eligible``."""
    assert coupon.value is not None
    if coupon.type == "PERCENTAGE":
        amount = money.quantize(eligible * coupon.value / HUNDRED, currency)
    else:
        amount = money.quantize(coupon.value, currency)
    capped = None
    if coupon.max_discount is not None and amount > coupon.max_discount:
        capped = coupon.max_discount
        amount = money.quantize(capped, currency)
    limited = amount > eligible
    return Takes(eligible if limited else amount, capped, limited)


def not_in_force(coupon: Coupon, at: datetime) -> str | None:
    """Why ``coupon`` does not apply at ``at`` (inactive, not yet or no longer valid), or None."""
    if not coupon.is_active:
        return "the coupon is not active"
    if coupon.valid_from is not None and at < coupon.valid_from:
        return f"the coupon is valid from {coupon.valid_from.isoformat()}"
    if coupon.valid_until is not None and at >= coupon.valid_until:
        return f"the coupon expired at {coupon.valid_until.isoformat()}"
    return None


def allocate(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """``total`` split in proportion to ``weights``, in whole minor units that add up to it
    (largest remainder; ties to the earlier weight)."""
    unit = money.unit(currency)
    scale = 1 / unit  # exact: a power of ten
    # The amounts are already in whole minor units: scaling them is exact.
    total_minor = int(total * scale)
    minors = [int(w * scale) for w in weights]
    whole = sum(minors)
    if whole <= 0:
        return [ZERO for _ in weights]
    shares = [total_minor * m // whole for m in minors]
    left = total_minor - sum(shares)
    if left:
        # The largest remainders first; sorted() is stable, so ties go to the earlier weight.
        rest = [-(total_minor * m % whole) for m in minors]
        for i in sorted(range(len(minors)), key=rest.__getitem__)[:left]:
            shares[i] += 1
    return [Decimal(s) * unit for s in shares]


def _times(n: int) -> str:
    return f"{n} time{'s' * (n != 1)}"


def _in_scope(coupon: Coupon, line: Line, seller: str | None) -> bool:
    if coupon.categories and key(line.item.category) not in coupon.categories:
        return False
    return not coupon.sellers or key(line.item.seller_id or seller) in coupon.sellers


def _refusal(
    coupon: Coupon,
    basket: Basket,
    item_total: Decimal,
    usage: Usage,
    at: datetime,
) -> str | None:
    idle = not_in_force(coupon, at)
    if idle is not None:
        return idle
    if coupon.currency != basket.currency:
        return f"the coupon is for {coupon.currency} baskets"
    if coupon.usage_limit_total is not None and usage.total >= coupon.usage_limit_total:
        return f"the coupon has been used {_times(usage.total)}, its limit"
    if coupon.usage_limit_per_customer is not None:
        if basket.customer_id is None:
            return "the coupon is limited per customer: send customer_id"
        if usage.customer >= coupon.usage_limit_per_customer:
            return f"this customer has used the coupon {_times(usage.customer)}, its limit"
    if coupon.min_basket is not None and item_total < coupon.min_basket:
        least = money.show(coupon.min_basket, coupon.currency)
        return f"the basket is {item_total}; the coupon needs at least {least}"
    return None


def apply(
    lines: Sequence[Line],
    basket: Basket,
    coupons: Mapping[str, Coupon],
    usage: Mapping[uuid.UUID, Usage],
    at: datetime,
) -> list[CouponOutcome]:
    """Apply the basket's coupons to ``lines`` (their ``discount`` grows); say what each did."""
    outcomes: list[CouponOutcome] = []
    seen: set[str] = set()
    currency = basket.currency
    item_total = sum((line.value for line in lines), ZERO)
    for given in basket.coupon_codes:
        code = given.strip().upper()
        coupon = coupons.get(code)
        if code in seen:
            outcomes.append(CouponOutcome(code, coupon, False, reason="given more than once"))
            continue
        seen.add(code)
        if coupon is None:
            outcomes.append(CouponOutcome(code, None, False, reason="no such coupon"))
            continue
        refusal = _refusal(coupon, basket, item_total, usage.get(coupon.id, Usage()), at)
        applied = [o for o in outcomes if o.applied]
        if refusal is None and applied:
            alone = next((o for o in applied if o.coupon and not o.coupon.stackable), None)
            if alone is not None:
                refusal = f"{alone.code} cannot be combined with other coupons"
            elif not coupon.stackable:
                refusal = "the coupon cannot be combined with other coupons"
        in_scope = (
            [line for line in lines if _in_scope(coupon, line, basket.seller_id)]
            if coupon.categories or coupon.sellers
            else list(lines)
        )
        if refusal is None and not in_scope:
            refusal = "no item of the basket is in the coupon's scope"
        if refusal is not None:
            outcomes.append(CouponOutcome(code, coupon, False, reason=refusal))
            continue
        if coupon.type == "FREE_DELIVERY":
            outcomes.append(CouponOutcome(code, coupon, True, ZERO, "waives the delivery fee"))
            continue
        nets = [line.value - line.discount for line in in_scope]  # after earlier coupons
        eligible = sum(nets, ZERO)
        taken = takes_off(coupon, eligible, currency)
        discount = taken.amount
        assert coupon.value is not None
        if coupon.type == "PERCENTAGE":
            how = f"{money.plain(coupon.value)}% of {eligible}"
        else:
            how = f"{money.show(coupon.value, currency)} off"
        if taken.capped is not None:
            how += f", capped at {money.show(taken.capped, currency)}"
        if taken.limited:
            how += f", limited to the {eligible} the items in scope are worth"
        if discount <= 0:
            outcomes.append(
                CouponOutcome(code, coupon, False, reason="nothing is left for it to take off")
            )
            continue
        for line, share in zip(in_scope, allocate(discount, nets, currency), strict=True):
            line.discount += share
        outcomes.append(CouponOutcome(code, coupon, True, discount, how))
    return outcomes
