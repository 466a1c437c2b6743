"""A quote's delivery steps (step 4 of ``_quote``): base → distance → express → free delivery.

1. ``delivery_fee``: the DELIVERY_FEE rule's base fee by region, plus ``per_kg`` over
   ``included_kg`` of the basket's weight (a warning when no rule applies).
2. ``distance_fee``: the band of the pickup→delivery distance (a warning when either address
   lacks coordinates; beyond the last band the basket cannot be delivered).
3. ``express_fee``: when express is asked, the standard fee (1 + 2) × ``multiplier`` (or the
   flag the rule names) + ``base_fee`` + ``distance_factor`` × km, capped by ``max_fee`` and never
   below the standard fee; the step is the difference.
4. ``free_delivery``: a FREE_DELIVERY coupon, or a FREE_DELIVERY rule's threshold or coupon,
   waives the standard fee (1 + 2), and the express part too if the rule says
   ``include_express``. When both apply the larger waiver is taken: a coupon never makes a quote
   dearer than it is without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

from offerengine import money
from offerengine.commerce.core import _fees
from offerengine.commerce.core._model import ZERO, CouponOutcome, FeeRuleState
from offerengine.commerce.core._pricing import Pricing, named
from offerengine.errors import Invalid


class Delivery(NamedTuple):
    """What the customer pays for delivery, and the pickup→delivery distance it was priced at."""

    fee: Decimal
    distance_km: Decimal | None  # None without the coordinates of both addresses


def delivery(
    pricing: Pricing,
    *,
    subtotal: Decimal,
    coupons: Sequence[CouponOutcome],
    free_coupon: CouponOutcome | None,
) -> Delivery:
    """Add the delivery steps (see the module docstring). Raises :class:`Invalid` when the basket
    cannot be delivered as asked (express where no express rule applies, beyond the last band)."""
    basket = pricing.basket
    km = None if basket.pickup is None else _fees.distance_km(basket.pickup, basket.delivery)
    standard = _base_fee(pricing) + _distance_fee(pricing, km)
    express = _express_fee(pricing, standard, km) if basket.express else ZERO
    free = _free_delivery(
        pricing,
        standard=standard,
        express=express,
        subtotal=subtotal,
        coupons=coupons,
        free_coupon=free_coupon,
    )
    return Delivery(standard + express - free, km)


def _base_fee(pricing: Pricing) -> Decimal:
    """The ``delivery_fee`` step: the base fee by region, plus the weight over what it includes."""
    basket = pricing.basket
    rule = pricing.where.delivery
    if rule is None:
        pricing.warnings.append(
            f"no DELIVERY_FEE rule for {basket.delivery.city}, {basket.delivery.country} "
            f"in {basket.currency}: no delivery fee charged"
        )
        return ZERO
    config = rule.config
    weight = sum(((item.weight or ZERO) * item.quantity for item in basket.items), ZERO)
    extra_kg = max(ZERO, weight - config["included_kg"])
    fee = pricing.quantize(config["base_fee"] + config["per_kg"] * extra_kg)
    how = f"{named(rule)}: {pricing.show(config['base_fee'])}"
    if config["per_kg"] and extra_kg:
        how += f" + {pricing.show(config['per_kg'])}/kg × {extra_kg} kg over {config['included_kg']} kg"
    pricing.ledger.add("delivery_fee", how, fee, rule)
    return fee


def _distance_fee(pricing: Pricing, km: Decimal | None) -> Decimal:
    """The ``distance_fee`` step: the fee of the distance's band."""
    rule = pricing.where.distance
    if rule is None:
        return ZERO
    if km is None:
        pricing.warnings.append(
            f"{rule.type} {named(rule)} not applied: it needs the "
            "coordinates of the pickup and delivery addresses"
        )
        return ZERO
    banded = _fees.band(rule.config, km)
    if banded is None:
        last = rule.config["bands"][-1]["up_to_km"]
        raise Invalid.field(
            ("body", "delivery_address"),
            f"{km} km from the pickup address is beyond the farthest delivery band ({last} km)",
        )
    fee = pricing.quantize(banded[0])
    pricing.ledger.add("distance_fee", f"{named(rule)}: {banded[1]}", fee, rule)
    return fee


def _express_fee(pricing: Pricing, standard: Decimal, km: Decimal | None) -> Decimal:
    """The ``express_fee`` step: the standard fee × multiplier + base fee + distance part,
    capped; what it adds to the standard fee."""
    rule = pricing.where.express
    if rule is None:
        delivery_to = pricing.basket.delivery
        priced_in = _fees.currencies_with(
            pricing.in_force,
            type="EXPRESS_FEE",
            city=pricing.city,
            country=pricing.country,
            flags=pricing.flags,
        )
        if priced_in:  # offered there, in another currency: the currency is what to change
            raise Invalid.field(
                ("body", "currency"),
                f"express delivery to {delivery_to.city}, {delivery_to.country} is priced in "
                f"{' or '.join(priced_in)}, not {pricing.currency}: quote in "
                f"{priced_in[0]} for express delivery",
            )
        raise Invalid.field(
            ("body", "is_express_delivery"),
            f"express delivery is not offered to {delivery_to.city}, "
            f"{delivery_to.country} in {pricing.currency}",
        )
    config = rule.config
    multiplier = config["multiplier"]
    source = "the rule"
    flag_key = config.get("multiplier_flag")
    flagged = pricing.flags.get(flag_key) if flag_key else None
    if isinstance(flagged, int | float | Decimal) and not isinstance(flagged, bool) and flagged > 0:
        multiplier = Decimal(str(flagged))
        source = f"flag {flag_key}"
    distance_part = config["distance_factor"] * (km or ZERO)
    target = standard * multiplier + config["base_fee"] + distance_part
    how = f"{named(rule)}: {standard} × {money.plain(multiplier)} ({source})"
    if config["base_fee"]:
        how += f" + {pricing.show(config['base_fee'])}"
    if distance_part:
        how += f" + {money.plain(config['distance_factor'])} × {km} km"
    if config["max_fee"] is not None and target > config["max_fee"]:
        target = config["max_fee"]
        how += f", capped at {pricing.show(config['max_fee'])}"
    target = max(pricing.quantize(target), standard)
    express_fee = target - standard
    pricing.ledger.add("express_fee", f"{how} = {target}; {express_fee} on top", express_fee, rule)
    return express_fee


def _free_delivery(
    pricing: Pricing,
    *,
    standard: Decimal,
    express: Decimal,
    subtotal: Decimal,
    coupons: Sequence[CouponOutcome],
    free_coupon: CouponOutcome | None,
) -> Decimal:
    """The ``free_delivery`` step: what a FREE_DELIVERY coupon or rule waives; when both do, the
    larger waiver, so that a coupon never makes a quote dearer than the rule alone (a note says
    why a rule waived nothing)."""
    rule = pricing.where.free_delivery
    by_rule = (
        None
        if rule is None
        else _rule_waiver(
            pricing, rule, standard=standard, express=express, subtotal=subtotal, coupons=coupons
        )
    )
    if free_coupon is not None and (by_rule is None or by_rule <= standard):
        pricing.ledger.add(
            "free_delivery", f"coupon {free_coupon.code}: the delivery fee is waived", -standard
        )
        return standard
    if rule is None or not by_rule:
        return ZERO
    what = "delivery fee" + (" and the express fee" if rule.config["include_express"] else "")
    how = f"{named(rule)}: the {what} waived"
    if free_coupon is not None:
        how += f" (more than coupon {free_coupon.code}, which waives the delivery fee only)"
    pricing.ledger.add("free_delivery", how, -by_rule, rule)
    return by_rule


def _rule_waiver(
    pricing: Pricing,
    rule: FeeRuleState,
    *,
    standard: Decimal,
    express: Decimal,
    subtotal: Decimal,
    coupons: Sequence[CouponOutcome],
) -> Decimal | None:
    """What a FREE_DELIVERY rule waives: the standard fee (base and distance), and the express
    part with ``include_express``; None, with a note saying why, when its conditions fail."""
    config = rule.config
    misses = []
    if config["threshold"] is not None and subtotal < config["threshold"]:
        misses.append(f"the subtotal {subtotal} is under {pricing.show(config['threshold'])}")
    applied_codes = {o.code for o in coupons if o.applied}
    if config["coupon_code"] is not None and config["coupon_code"] not in applied_codes:
        misses.append(f"coupon {config['coupon_code']} was not applied")
    if misses:
        pricing.notes.append(f"{rule.type} {named(rule)} not applied: {'; '.join(misses)}")
        return None
    return standard + (express if config["include_express"] else ZERO)
