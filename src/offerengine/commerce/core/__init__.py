"""The quote core: plain functions over plain data (no database, no web framework).

``quote(index, basket, at=…)`` prices a basket with the commission rates, fee and tax rules and
coupons of a :class:`CommerceIndex`, as they were in force at ``at``, and explains every amount.
"""

from offerengine.commerce.core._compile import configuration, coupon, fee_state, rate_state
from offerengine.commerce.core._coupons import Takes, allocate, not_in_force, takes_off
from offerengine.commerce.core._effective import CommerceIndex, InForce, Timeline
from offerengine.commerce.core._exchange import convert, priced_in
from offerengine.commerce.core._fees import distance_km
from offerengine.commerce.core._model import (
    COMPONENTS,
    FEE_TYPES,
    Address,
    Applied,
    Basket,
    CommissionPart,
    Component,
    Coupon,
    CouponOutcome,
    Exchange,
    FeeRuleState,
    FeeType,
    Item,
    Line,
    Quote,
    QuoteSettings,
    RateState,
    Step,
    Usage,
    key,
)
from offerengine.commerce.core._quote import quote

__all__ = [
    "COMPONENTS",
    "FEE_TYPES",
    "Address",
    "Applied",
    "Basket",
    "CommerceIndex",
    "CommissionPart",
    "Component",
    "Coupon",
    "CouponOutcome",
    "Exchange",
    "FeeRuleState",
    "FeeType",
    "InForce",
    "Item",
    "Line",
    "Quote",
    "QuoteSettings",
    "RateState",
    "Step",
    "Takes",
    "Timeline",
    "Usage",
    "allocate",
    "configuration",
    "convert",
    "coupon",
    "distance_km",
    "fee_state",
    "key",
    "not_in_force",
    "priced_in",
    "quote",
    "rate_state",
    "takes_off",
]
