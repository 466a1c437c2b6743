"""A basket's quote: every amount a step with its rule, running totals that add up to the cent.

The order (docs/quotes.md), one function per step, over a :class:`Pricing` (``_pricing``):

1. ``item_total``: each item's ``unit_price × quantity`` (a basket sent in a currency no rule
   prices in comes converted, ``_exchange``; the step and a note say at what rate).
2. ``coupon``: each coupon that applies, in the order given (see ``_coupons``).
3. ``tax``: each item's net value (after coupons) at the rate of its tax rule, rounded per item
   line; one step per tax rule.
4. ``delivery_fee`` (base by region, plus ``per_kg`` over ``included_kg`` of the basket's
   weight) → ``distance_fee`` (the band of the pickup→delivery distance) → ``express_fee`` (the
   delivery fee so far × ``multiplier`` + ``base_fee`` + ``distance_factor`` × km, capped by
   ``max_fee`` and never below the standard fee; the step is the difference) →
   ``free_delivery`` (a FREE_DELIVERY coupon, or a FREE_DELIVERY rule's threshold or coupon,
   waives the standard fee, and the express part too if the rule says ``include_express``; the
   larger waiver when both apply).
   These are ``_delivery``'s.
5. ``small_basket_fee``: when the subtotal (items after coupons) is under the threshold.
6. ``fee_tax``: the fees, at the general tax rule's rate, when that rule has ``tax_fees``.

The total is the sum of the steps. Commission is the marketplace's take from the seller, not part
of the customer's total: per item and component (see ``_commission``), on the item's value before
coupons (``commission_base: "gross"``, the default) or after them (``"net"``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from offerengine import money
from offerengine.commerce.core import _commission, _coupons, _exchange, _fees
from offerengine.commerce.core._delivery import delivery
from offerengine.commerce.core._effective import CommerceIndex
from offerengine.commerce.core._model import (
    HUNDRED,
    ZERO,
    Basket,
    CommissionPart,
    Coupon,
    CouponOutcome,
    FeeRuleState,
    Line,
    Quote,
    Usage,
    key,
)
from offerengine.commerce.core._pricing import Pricing, named


def quote(
    index: CommerceIndex,
    basket: Basket,
    *,
    at: datetime,
    flags: Mapping[str, Any] | None = None,
    usage: Mapping[uuid.UUID, Usage] | None = None,
    personal: Mapping[str, Coupon] | None = None,
) -> Quote:
    """Price ``basket`` at ``at`` with the rules then in force (see the module docstring).

    ``flags`` are the customer's evaluated flag values (rules may name a flag that must be on);
    ``usage`` the coupons' accepted uses so far; ``personal`` the customer's own coupons (a
    campaign's grants) beside the tenant's, by code. Raises :class:`Invalid` when the basket cannot
    be delivered as asked (express where no express rule applies, beyond the last distance band).
    """
    pricing = Pricing.start(index, basket, at=at, flags=flags or {})
    if basket.exchange is not None:
        pricing.notes.append(_exchange.explained(basket.exchange))
    lines, item_total = _item_lines(pricing)
    discounts = _apply_coupons(pricing, lines, usage or {}, at, personal)
    subtotal = item_total - discounts.amount
    categories = [key(item.category) for item in basket.items]  # taxes and commissions read them
    item_tax = _item_tax(pricing, lines, categories)
    delivered = delivery(
        pricing,
        subtotal=subtotal,
        coupons=discounts.outcomes,
        free_coupon=discounts.free_delivery,
    )
    small_basket_fee = _small_basket_fee(pricing, subtotal)
    fee_tax = _fee_tax(pricing, delivered.fee + small_basket_fee)
    _commissions(pricing, lines, categories)
    zero = pricing.zero
    return Quote(
        currency=basket.currency,
        lines=lines,
        steps=pricing.ledger.steps,
        coupons=discounts.outcomes,
        applied=list(pricing.ledger.applied.values()),
        warnings=pricing.warnings,
        notes=pricing.notes,
        item_total=item_total,
        discount_amount=discounts.amount + zero,
        tax_amount=item_tax + fee_tax + zero,
        delivery_fee=delivered.fee + zero,
        small_basket_fee=small_basket_fee + zero,
        distance_km=delivered.distance_km,
        flags=pricing.flags,
        exchange=basket.exchange,
    )


def _item_lines(pricing: Pricing) -> tuple[list[Line], Decimal]:
    """Step 1, ``item_total``: each item priced as a line of the quote; their total."""
    items = pricing.basket.items
    quantize, zero = pricing.quantize, pricing.zero
    lines = [
        Line(i, item, quantize(item.unit_price * item.quantity), zero, zero)
        for i, item in enumerate(items)
    ]
    item_total = sum((line.value for line in lines), ZERO)
    units = sum(item.quantity for item in items)
    described = f"{len(lines)} item{'s' * (len(lines) != 1)}, {units} unit{'s' * (units != 1)}"
    if (exchange := pricing.basket.exchange) is not None:
        described += (
            f", converted from {exchange.source} at {money.plain(exchange.rate)} "
            f"{exchange.target} per {exchange.source}"
        )
    pricing.ledger.add("item_total", described, item_total)
    return lines, item_total


class _Discounts(NamedTuple):
    """What the basket's coupons did."""

    outcomes: list[CouponOutcome]  # one per code, applied or rejected
    free_delivery: CouponOutcome | None  # the FREE_DELIVERY coupon applied, if any
    amount: Decimal  # taken off the items


def _apply_coupons(
    pricing: Pricing,
    lines: Sequence[Line],
    usage: Mapping[uuid.UUID, Usage],
    at: datetime,
    personal: Mapping[str, Coupon] | None,
) -> _Discounts:
    """Step 2, ``coupon``: one step per coupon applied (a FREE_DELIVERY one waits for step 4)."""
    basket, ledger = pricing.basket, pricing.ledger
    coupons = {**personal, **pricing.index.coupons} if personal else pricing.index.coupons
    outcomes = _coupons.apply(lines, basket, coupons, usage, at) if basket.coupon_codes else []
    free_coupon = None
    for outcome in outcomes:
        if not outcome.applied or outcome.coupon is None:
            continue
        ledger.used(outcome.coupon)
        if outcome.coupon.type == "FREE_DELIVERY":
            free_coupon = outcome
            continue
        ledger.add("coupon", f"coupon {outcome.code}: {outcome.reason}", -outcome.amount)
    discount = sum((o.amount for o in outcomes if o.applied), ZERO)
    return _Discounts(outcomes, free_coupon, discount)


def _item_tax(pricing: Pricing, lines: Sequence[Line], categories: Sequence[str | None]) -> Decimal:
    """Step 3, ``tax``: each line's net value at its tax rule's rate, one step per rule; the
    tax on the items."""
    taxed: dict[int, tuple[FeeRuleState, Decimal, Decimal]] = {}
    untaxed = 0
    taxes = pricing.where.taxes  # by category: the destination's memo, filled by tax_for
    for line, category in zip(lines, categories, strict=True):
        rule = (
            taxes[category]
            if category in taxes
            else _fees.tax_for(
                pricing.in_force,
                pricing.where,
                currency=pricing.currency,
                city=pricing.city,
                country=pricing.country,
                category=category,
                flags=pricing.flags,
            )
        )
        if rule is None:
            untaxed += 1
            continue
        net = line.net
        line.tax_rule = rule
        line.tax = tax = pricing.quantize(net * rule.config["rate"] / HUNDRED)
        found = taxed.get(id(rule))
        taxed[id(rule)] = (
            (rule, net, tax) if found is None else (rule, found[1] + net, found[2] + tax)
        )
    for rule, base, tax in taxed.values():
        rate = money.plain(rule.config["rate"])
        pricing.ledger.add("tax", f"{rule.type} {named(rule)}: {rate}% of {base!s}", tax, rule)
    if untaxed:
        delivery_to = pricing.basket.delivery
        pricing.warnings.append(
            f"{untaxed} item(s) have no tax rule for {delivery_to.city}, "
            f"{delivery_to.country} in {pricing.currency}: no tax charged on them"
        )
    return sum((line.tax for line in lines), ZERO)


def _small_basket_fee(pricing: Pricing, subtotal: Decimal) -> Decimal:
    """Step 5, ``small_basket_fee``: the fee when the subtotal is under the rule's threshold (a
    note when it is not)."""
    rule = pricing.where.small_basket
    if rule is None:
        return ZERO
    threshold = rule.config["threshold"]
    if subtotal < threshold:
        fee = pricing.quantize(rule.config["fee"])
        pricing.ledger.add(
            "small_basket_fee",
            f"{named(rule)}: the subtotal {subtotal} is under {pricing.show(threshold)}",
            fee,
            rule,
        )
        return fee
    pricing.notes.append(
        f"{rule.type} {named(rule)}: the subtotal {subtotal} is not under "
        f"{pricing.show(threshold)}; no fee"
    )
    return ZERO


def _fee_tax(pricing: Pricing, fees_total: Decimal) -> Decimal:
    """Step 6, ``fee_tax``: the fees at the general tax rule's rate, when it taxes fees."""
    general = pricing.where.general_tax
    if general is None or not general.config["tax_fees"] or fees_total <= 0:
        return ZERO
    fee_tax = pricing.quantize(fees_total * general.config["rate"] / HUNDRED)
    rate = money.plain(general.config["rate"])
    pricing.ledger.add(
        "fee_tax", f"TAX {named(general)}: {rate}% of the fees {fees_total}", fee_tax, general
    )
    return fee_tax


def _commissions(pricing: Pricing, lines: Sequence[Line], categories: Sequence[str | None]) -> None:
    """Each line's commission parts, per component, from the rates that resolve for it."""
    settings = pricing.index.settings
    basket, ledger = pricing.basket, pricing.ledger
    gross = settings.commission_base == "gross"
    seller_default = key(basket.seller_id)
    logistics_default = key(basket.logistics_provider or settings.default_logistics_provider)
    applied = ledger.applied
    memo = pricing.in_force.memo
    currency, city, country = pricing.currency, pricing.city, pricing.country
    for line, category in zip(lines, categories, strict=True):
        item = line.item
        base = line.value if gross else line.net
        seller = key(item.seller_id) if item.seller_id is not None else seller_default
        logistics = (
            key(item.logistics_provider)
            if item.logistics_provider is not None
            else logistics_default
        )
        # resolve()'s own memo, read here first: most items meet a resolution already made.
        chosen = memo.get(
            _commission.memo_key(
                currency, seller, category, logistics, city, country, pricing.signature
            )
        )
        if chosen is None:
            chosen = _commission.resolve(
                pricing.in_force,
                currency=currency,
                seller=seller,
                category=category,
                logistics=logistics,
                city=city,
                country=country,
                flags=pricing.flags,
                signature=pricing.signature,
            )
        parts = line.commissions
        for component, rate_state in chosen:
            earned, how = _commission.amount(rate_state, base, item.quantity)
            parts.append(CommissionPart(component, rate_state, base, earned, how))
            if id(rate_state) not in applied:
                ledger.used(rate_state)
