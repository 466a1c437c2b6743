"""A basket's quote: every amount a step with its rule, running totals that add up to the cent.

The order (docs/quotes.md):

1. ``item_total``: each item's ``unit_price × quantity``.
2. ``coupon``: each coupon that applies, in the order given (see ``_coupons``).
3. ``tax``: each item's net value (after coupons) at the rate of its tax rule, rounded per item
   line; one step per tax rule.
4. ``delivery_fee`` (base by region, plus ``per_kg`` over ``included_kg`` of the basket's
   weight) → ``distance_fee`` (the band of the pickup→delivery distance) → ``express_fee`` (the
   delivery fee so far × ``multiplier`` + ``base_fee`` + ``distance_factor`` × km, capped by
   ``max_fee`` and never below the standard fee; the step is the difference) →
   ``free_delivery`` (a FREE_DELIVERY coupon, or a FREE_DELIVERY rule's threshold or coupon,
   waives the standard fee, and the express part too if the rule says ``include_express``).
5. ``small_basket_fee``: when the subtotal (items after coupons) is under the threshold.
6. ``fee_tax``: the fees, at the general tax rule's rate, when that rule has ``tax_fees``.

The total is the sum of the steps. Commission is the marketplace's take from the seller, not part
of the customer's total: per item and component (see ``_commission``), on the item's value before
coupons (``commission_base: "gross"``, the default) or after them (``"net"``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from offerengine import money
from offerengine.commerce.core import _commission, _coupons, _fees
from offerengine.commerce.core._effective import CommerceIndex
from offerengine.commerce.core._model import (
    HUNDRED,
    ZERO,
    Applied,
    Basket,
    CommissionPart,
    Coupon,
    FeeRuleState,
    Line,
    Quote,
    RateState,
    Step,
    Usage,
    key,
)
from offerengine.errors import Invalid


class _Steps:
    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.running = ZERO
        # By the compiled state's identity: each version of a rule is one object in the index.
        self.applied: dict[int, Applied] = {}

    def add(
        self, step: str, description: str, amount: Decimal, rule: FeeRuleState | None = None
    ) -> None:
        self.running += amount
        self.steps.append(
            Step(
                step,
                description,
                amount,
                self.running,
                None if rule is None else rule.id,
                None if rule is None else rule.version,
            )
        )
        if rule is not None:
            self.used(rule)

    def used(self, rule: FeeRuleState | RateState | Coupon) -> None:
        if id(rule) not in self.applied:
            self.applied[id(rule)] = rule.entry


def _named(rule: FeeRuleState) -> str:
    return f"{rule.name!r} v{rule.version}"


def quote(
    index: CommerceIndex,
    basket: Basket,
    *,
    at: datetime,
    flags: Mapping[str, Any] | None = None,
    usage: Mapping[uuid.UUID, Usage] | None = None,
) -> Quote:
    """Price ``basket`` at ``at`` with the rules then in force (see the module docstring).

    ``flags`` are the customer's evaluated flag values (rules may name a flag that must be on);
    ``usage`` the coupons' accepted uses so far. Raises :class:`Invalid` when the basket cannot
    be delivered as asked (express where no express rule applies, beyond the last distance band).
    """
    flags = flags or {}
    currency = basket.currency
    in_force = index.at(at)
    delivery_to = basket.delivery
    city, country = key(delivery_to.city), key(delivery_to.country)
    signature = tuple(bool(flags.get(k)) for k in index.flag_keys)
    where = _fees.destination(
        in_force, currency=currency, city=city, country=country, flags=flags, signature=signature
    )
    steps = _Steps()
    warnings: list[str] = []
    notes: list[str] = []
    quantize = money.quantizer(currency)

    def show(amount: Decimal) -> str:
        return money.show(amount, currency)

    zero = quantize(ZERO)
    lines = [
        Line(i, item, quantize(item.unit_price * item.quantity), zero, zero)
        for i, item in enumerate(basket.items)
    ]
    item_total = sum((line.value for line in lines), ZERO)
    units = sum(item.quantity for item in basket.items)
    described = f"{len(lines)} item{'s' * (len(lines) != 1)}, {units} unit{'s' * (units != 1)}"
    steps.add("item_total", described, item_total)

    # 2. Coupons.
    outcomes = (
        _coupons.apply(lines, basket, index.coupons, usage or {}, at) if basket.coupon_codes else []
    )
    free_coupon = None
    for outcome in outcomes:
        if not outcome.applied or outcome.coupon is None:
            continue
        coupon = outcome.coupon
        steps.used(coupon)
        if coupon.type == "FREE_DELIVERY":
            free_coupon = outcome
            continue
        steps.add("coupon", f"coupon {outcome.code}: {outcome.reason}", -outcome.amount)
    discount = sum((o.amount for o in outcomes if o.applied), ZERO)
    subtotal = item_total - discount

    # 3. Tax on items, one step per rule.
    taxed: dict[int, tuple[FeeRuleState, Decimal, Decimal]] = {}
    untaxed = 0
    categories = [key(item.category) for item in basket.items]  # taxes and commissions read them
    taxes = where.taxes  # by category: the destination's memo, filled by tax_for
    for line, category in zip(lines, categories, strict=True):
        rule = (
            taxes[category]
            if category in taxes
            else _fees.tax_for(
                in_force,
                where,
                currency=currency,
                city=city,
                country=country,
                category=category,
                flags=flags,
            )
        )
        if rule is None:
            untaxed += 1
            continue
        net = line.net
        line.tax_rule = rule
        line.tax = tax = quantize(net * rule.config["rate"] / HUNDRED)
        found = taxed.get(id(rule))
        taxed[id(rule)] = (
            (rule, net, tax) if found is None else (rule, found[1] + net, found[2] + tax)
        )
    for rule, base, tax in taxed.values():
        rate = money.plain(rule.config["rate"])
        steps.add("tax", f"{rule.type} {_named(rule)}: {rate}% of {base!s}", tax, rule)
    if untaxed:
        warnings.append(
            f"{untaxed} item(s) have no tax rule for {delivery_to.city}, "
            f"{delivery_to.country} in {currency}: no tax charged on them"
        )
    item_tax = sum((line.tax for line in lines), ZERO)

    # 4. Delivery: base → distance → express → free delivery.
    base_fee = ZERO
    delivery_rule = where.delivery
    if delivery_rule is not None:
        config = delivery_rule.config
        weight = sum(((item.weight or ZERO) * item.quantity for item in basket.items), ZERO)
        extra_kg = max(ZERO, weight - config["included_kg"])
        base_fee = quantize(config["base_fee"] + config["per_kg"] * extra_kg)
        how = f"{_named(delivery_rule)}: {show(config['base_fee'])}"
        if config["per_kg"] and extra_kg:
            how += f" + {show(config['per_kg'])}/kg × {extra_kg} kg over {config['included_kg']} kg"
        steps.add("delivery_fee", how, base_fee, delivery_rule)
    else:
        warnings.append(
            f"no DELIVERY_FEE rule for {delivery_to.city}, {delivery_to.country} "
            f"in {currency}: no delivery fee charged"
        )
    distance_fee = ZERO
    km = None if basket.pickup is None else _fees.distance_km(basket.pickup, delivery_to)
    distance_rule = where.distance
    if distance_rule is not None:
        if km is None:
            warnings.append(
                f"{distance_rule.type} {_named(distance_rule)} not applied: it needs the "
                "coordinates of the pickup and delivery addresses"
            )
        else:
            banded = _fees.band(distance_rule.config, km)
            if banded is None:
                last = distance_rule.config["bands"][-1]["up_to_km"]
                raise Invalid.field(
                    ("body", "delivery_address"),
                    f"{km} km from the pickup address is beyond the farthest delivery band "
                    f"({last} km)",
                )
            distance_fee = quantize(banded[0])
            steps.add(
                "distance_fee", f"{_named(distance_rule)}: {banded[1]}", distance_fee, distance_rule
            )
    standard = base_fee + distance_fee
    express_fee = ZERO
    if basket.express:
        express_rule = where.express
        if express_rule is None:
            raise Invalid.field(
                ("body", "is_express_delivery"),
                f"express delivery is not offered to {delivery_to.city}, "
                f"{delivery_to.country} in {currency}",
            )
        express_fee = _express(express_rule, standard, km, flags, steps, quantize, show)
    free = ZERO
    free_rule = where.free_delivery
    if free_coupon is not None:
        free = standard
        steps.add("free_delivery", f"coupon {free_coupon.code}: the delivery fee is waived", -free)
    elif free_rule is not None:
        config = free_rule.config
        misses = []
        if config["threshold"] is not None and subtotal < config["threshold"]:
            misses.append(f"the subtotal {subtotal} is under {show(config['threshold'])}")
        applied_codes = {o.code for o in outcomes if o.applied}
        if config["coupon_code"] is not None and config["coupon_code"] not in applied_codes:
            misses.append(f"coupon {config['coupon_code']} was not applied")
        if misses:
            notes.append(f"{free_rule.type} {_named(free_rule)} not applied: {'; '.join(misses)}")
        else:
            free = standard + (express_fee if config["include_express"] else ZERO)
            if free:
                what = "delivery fee" + (
                    " and the express fee" if config["include_express"] else ""
                )
                steps.add(
                    "free_delivery", f"{_named(free_rule)}: the {what} waived", -free, free_rule
                )
    delivery_fee = standard + express_fee - free

    # 5. Small basket.
    small_fee = ZERO
    small_rule = where.small_basket
    if small_rule is not None:
        threshold = small_rule.config["threshold"]
        if subtotal < threshold:
            small_fee = quantize(small_rule.config["fee"])
            steps.add(
                "small_basket_fee",
                f"{_named(small_rule)}: the subtotal {subtotal} is under {show(threshold)}",
                small_fee,
                small_rule,
            )
        else:
            notes.append(
                f"{small_rule.type} {_named(small_rule)}: the subtotal {subtotal} is not under "
                f"{show(threshold)}; no fee"
            )

    # 6. Tax on fees.
    fee_tax = ZERO
    general = where.general_tax
    fees_total = delivery_fee + small_fee
    if general is not None and general.config["tax_fees"] and fees_total > 0:
        fee_tax = quantize(fees_total * general.config["rate"] / HUNDRED)
        rate = money.plain(general.config["rate"])
        steps.add(
            "fee_tax", f"TAX {_named(general)}: {rate}% of the fees {fees_total}", fee_tax, general
        )

    # Commission, per item and component.
    settings = index.settings
    gross = settings.commission_base == "gross"
    seller_default = key(basket.seller_id)
    logistics_default = key(basket.logistics_provider or settings.default_logistics_provider)
    applied = steps.applied
    memo = in_force.memo
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
            _commission.memo_key(currency, seller, category, logistics, city, country, signature)
        )
        if chosen is None:
            chosen = _commission.resolve(
                in_force,
                currency=currency,
                seller=seller,
                category=category,
                logistics=logistics,
                city=city,
                country=country,
                flags=flags,
                signature=signature,
            )
        parts = line.commissions
        for component, rate_state in chosen:
            earned, how = _commission.amount(rate_state, base, item.quantity)
            parts.append(CommissionPart(component, rate_state, base, earned, how))
            if id(rate_state) not in applied:
                steps.used(rate_state)

    return Quote(
        currency=currency,
        lines=lines,
        steps=steps.steps,
        coupons=outcomes,
        applied=list(applied.values()),
        warnings=warnings,
        notes=notes,
        item_total=item_total,
        discount_amount=discount + zero,
        tax_amount=item_tax + fee_tax + zero,
        delivery_fee=delivery_fee + zero,
        small_basket_fee=small_fee + zero,
        distance_km=km,
        flags=flags,
    )


def _express(
    rule: FeeRuleState,
    standard: Decimal,
    km: Decimal | None,
    flags: Mapping[str, Any],
    steps: _Steps,
    quantize: Callable[[Decimal], Decimal],
    show: Callable[[Decimal], str],
) -> Decimal:
    """The express step: the standard fee × multiplier + base fee + distance part, capped; what
    it adds to the standard fee."""
    config = rule.config
    multiplier = config["multiplier"]
    source = "the rule"
    flag_key = config.get("multiplier_flag")
    flagged = flags.get(flag_key) if flag_key else None
    if isinstance(flagged, int | float | Decimal) and not isinstance(flagged, bool) and flagged > 0:
        multiplier = Decimal(str(flagged))
        source = f"flag {flag_key}"
    distance_part = config["distance_factor"] * (km or ZERO)
    target = standard * multiplier + config["base_fee"] + distance_part
    how = f"{_named(rule)}: {standard} × {money.plain(multiplier)} ({source})"
    if config["base_fee"]:
        how += f" + {show(config['base_fee'])}"
    if distance_part:
        how += f" + {money.plain(config['distance_factor'])} × {km} km"
    if config["max_fee"] is not None and target > config["max_fee"]:
        target = config["max_fee"]
        how += f", capped at {show(config['max_fee'])}"
    target = max(quantize(target), standard)
    express_fee = target - standard
    steps.add("express_fee", f"{how} = {target}; {express_fee} on top", express_fee, rule)
    return express_fee
