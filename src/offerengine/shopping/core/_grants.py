"""Personal coupons (a campaign's grants) on airline offers: whether a grant applies to an
offer, what it takes off, and how the offer's price says so.

A grant is applied on the terms the quote applies it by (``campaigns.grants.as_coupon``: a
``commerce`` coupon with its limits), mapped to an offer:

1. **Whose and when** (:func:`refusal`, the same for every offer of a search): the grant's
   customer must be the search's ``customer.id``; it must be active, within its validity, and
   have a use left (one, for a grant).
2. **Which offer** (:func:`apply`, per offer): the offer's currency must be the coupon's; its
   spend (the items' totals after bundle discounts, before taxes) must reach the coupon's
   minimum; the items in scope are those whose ``type``, ``category`` or ``cabin`` is one of the
   coupon's categories (all items when it names none; a coupon limited to sellers covers no
   airline item); the campaign's budget left must take the discount.
3. **How much**: ``FIXED`` takes its value, ``PERCENTAGE`` its percent of the items in scope,
   each capped by ``max_discount`` and never more than those items are worth; shared among them
   in proportion to their totals, to the minor unit (as a quote shares a coupon among lines).

Taxes are computed on the fare as filed, so a grant comes off the price before taxes and the
taxes stay. The items keep their own prices: the grant is one amount off the whole offer,
listed in ``price.coupons`` (``applied``: code, amount, what it took off, its share per item;
``rejected``: code and why) with ``price.discount`` and ``price.total`` after it and
``price.coupons.total_before`` what the offer cost without it. :func:`without` gives that price
back, so an order can apply the grant again to the items it keeps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from offerengine import money
from offerengine.commerce import core as commerce

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Personal:
    """A grant as a search applies it: its code, whose it is, its terms as a coupon, how often it
    was used, and what its campaign can still spend (in the coupon's currency; None: not
    checked here, as an order's redemption checks it in its own update)."""

    code: str  # upper case
    grant_id: str
    promotion: str
    customer_id: str
    coupon: commerce.Coupon
    usage: commerce.Usage
    budget_left: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one code did to one offer: applied (``amount`` off, ``shares`` per item) or not, and
    why."""

    code: str
    applied: bool
    reason: str
    amount: Decimal = ZERO
    shares: tuple[tuple[str, Decimal], ...] = ()
    personal: Personal | None = None


@dataclass(frozen=True, slots=True)
class Discounted:
    """An offer's price with its personal coupons: the price as shown, and each code's outcome."""

    price: dict[str, Any]
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def amount(self) -> Decimal:
        return sum((o.amount for o in self.outcomes if o.applied), ZERO)


def _times(n: int) -> str:
    return f"{n} time{'s' * (n != 1)}"


def refusal(personal: Personal | None, customer_id: str | None, at: datetime) -> str | None:
    """Why the grant cannot apply to any offer of this search (None: it may)."""
    if personal is None:
        return "no such coupon"
    if customer_id is None:
        return "the coupon is personal: search with its customer's customer.id"
    if personal.customer_id != customer_id:
        return "the coupon is personal to another customer"
    coupon = personal.coupon
    idle = commerce.not_in_force(coupon, at)
    if idle is not None:
        return idle
    if coupon.usage_limit_total is not None and personal.usage.total >= coupon.usage_limit_total:
        return f"the coupon has been used {_times(personal.usage.total)}, its limit"
    limit = coupon.usage_limit_per_customer
    if limit is not None and personal.usage.customer >= limit:
        return f"this customer has used the coupon {_times(personal.usage.customer)}, its limit"
    if personal.budget_left is not None and personal.budget_left <= 0:
        return "the coupon's campaign has spent its budget"
    return None


def _in_scope(coupon: commerce.Coupon, item: Mapping[str, Any]) -> bool:
    if coupon.sellers:
        return False  # an airline's items have no seller
    if not coupon.categories:
        return True
    names = (item.get("type"), item.get("category"), item.get("cabin"))
    return any(commerce.key(str(n)) in coupon.categories for n in names if n)


def _take(
    personal: Personal,
    items: Sequence[Mapping[str, Any]],
    nets: dict[str, Decimal],
    spend: Decimal,
    currency: str,
) -> Outcome:
    """One coupon on one offer, after the coupons before it (``nets`` is what each item is still
    worth)."""
    code, coupon = personal.code, personal.coupon
    if coupon.currency != currency:
        return Outcome(
            code, False, f"the coupon is for {coupon.currency} offers", personal=personal
        )
    if coupon.min_basket is not None and spend < coupon.min_basket:
        least = money.show(coupon.min_basket, currency)
        return Outcome(
            code,
            False,
            f"the offer is {money.show(spend, currency)} before taxes; the coupon needs at "
            f"least {least}",
            personal=personal,
        )
    scope = [str(i["item_id"]) for i in items if _in_scope(coupon, i) and nets[str(i["item_id"])]]
    if not scope:
        return Outcome(
            code, False, "no item of the offer is in the coupon's scope", personal=personal
        )
    eligible = sum((nets[i] for i in scope), ZERO)
    if coupon.type == "PERCENTAGE" and coupon.value is not None:
        how = f"{money.plain(coupon.value)}% of {money.show(eligible, currency)}"
    elif coupon.type == "FIXED" and coupon.value is not None:
        how = f"{money.show(coupon.value, currency)} {currency} off"
    else:
        return Outcome(
            code, False, f"a {coupon.type} coupon takes nothing off an offer", personal=personal
        )
    taken = commerce.takes_off(coupon, eligible, currency)
    amount = taken.amount
    if taken.capped is not None:
        how += f", capped at {money.show(taken.capped, currency)}"
    if taken.limited:
        how += f", limited to the {money.show(eligible, currency)} the items in scope are worth"
    if amount <= 0:
        return Outcome(code, False, "nothing is left for it to take off", personal=personal)
    if personal.budget_left is not None and amount > personal.budget_left:
        left = money.show(personal.budget_left, currency)
        return Outcome(
            code,
            False,
            f"the coupon's campaign has {left} left of its budget, less than "
            f"{money.show(amount, currency)}",
            personal=personal,
        )
    shares = commerce.allocate(amount, [nets[i] for i in scope], currency)
    for item_id, share in zip(scope, shares, strict=True):
        nets[item_id] -= share
    return Outcome(
        code,
        True,
        how,
        amount,
        tuple((i, s) for i, s in zip(scope, shares, strict=True) if s),
        personal,
    )


def apply(
    price: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    codes: Sequence[str],
    found: Mapping[str, Personal],
    refused: Mapping[str, str],
    currency: str,
) -> Discounted:
    """The offer's ``price`` (without coupons) with the coupons of ``codes`` (upper case) taken
    off, in the order given: ``found`` are the grants that may apply to this search, ``refused``
    why the others cannot (see :func:`refusal`)."""
    nets = {str(i["item_id"]): Decimal(str(i["price"]["total"])) for i in items}
    spend = sum(nets.values(), ZERO)
    outcomes: list[Outcome] = []
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            outcomes.append(Outcome(code, False, "given more than once"))
            continue
        seen.add(code)
        personal = found.get(code)
        if personal is None:
            outcomes.append(Outcome(code, False, refused.get(code, "no such coupon")))
            continue
        outcomes.append(_take(personal, items, nets, spend, currency))
    return Discounted(shown(price, outcomes, currency), outcomes)


def shown(price: Mapping[str, Any], outcomes: Sequence[Outcome], currency: str) -> dict[str, Any]:
    """``price`` (without coupons) with the outcomes' discounts and their explanation."""
    taken = sum((o.amount for o in outcomes if o.applied), ZERO)
    q = money.quantizer(currency)
    result = dict(price)
    result["discount"] = str(q(Decimal(str(price["discount"])) - taken))
    result["total"] = str(q(Decimal(str(price["total"])) - taken))
    result["coupons"] = {
        "applied": [
            {
                "code": o.code,
                "grant_id": o.personal.grant_id,
                "promotion": o.personal.promotion,
                "type": o.personal.coupon.type,
                "amount": str(o.amount),
                "description": o.reason,
                "items": [{"item_id": i, "amount": str(s)} for i, s in o.shares],
            }
            for o in outcomes
            if o.applied and o.personal is not None
        ],
        "rejected": [{"code": o.code, "reason": o.reason} for o in outcomes if not o.applied],
        "total_before": str(price["total"]),
    }
    return result


def without(price: Mapping[str, Any]) -> dict[str, Any]:
    """The price as it was before its personal coupons (itself when it has none)."""
    coupons = price.get("coupons")
    if not isinstance(coupons, Mapping):
        return dict(price)
    taken = sum((Decimal(str(a["amount"])) for a in coupons.get("applied", ())), ZERO)
    result = {k: v for k, v in price.items() if k != "coupons"}
    result["discount"] = str(Decimal(str(price["discount"])) + taken)
    result["total"] = str(coupons.get("total_before", price["total"]))
    return result


def applied_codes(price: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The personal coupons an offer's price applied (code, grant_id, amount …)."""
    coupons = price.get("coupons")
    if not isinstance(coupons, Mapping):
        return []
    return [dict(a) for a in coupons.get("applied", ())]
