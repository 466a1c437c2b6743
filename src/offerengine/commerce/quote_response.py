"""A quote's response as sent: seed 002's envelope, and the ``QuoteData`` it holds, as encoded.

``quote_schemas`` documents the fields; here they are built as msgspec Structs and dicts (quicker
to build and encode than pydantic models, and a quote has dozens), in the documented order. A
quote's calculations are the core's Steps as they are.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec

from offerengine import money
from offerengine.commerce import core

_encode = msgspec.json.Encoder().encode
CALCULATED = _encode("Quote calculated successfully")
STORED = _encode("The stored quote for this request (identical, and still valid)")
FOUND = _encode("Quote found")
ACCEPTED = _encode("Quote accepted")


def envelope(message: bytes, data: bytes, started: float) -> bytes:
    """Seed 002's envelope around an encoded ``data``."""
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    return b"".join(
        (
            b'{"success":true,"message":',
            message,
            b',"data":',
            data,
            b',"processing_time_ms":',
            _encode(elapsed),
            b"}",
        )
    )


class _CommissionDetail(msgspec.Struct):
    item_index: int
    product_id: str
    component: str
    rate_id: uuid.UUID
    rate_version: int
    rate_name: str
    commission_type: str
    base: Decimal
    amount: Decimal
    calculation: str


class _QuotedItem(msgspec.Struct):
    index: int
    product_id: str
    variant_id: str | None
    quantity: int
    unit_price: Decimal
    value: Decimal
    discount: Decimal
    net: Decimal
    tax: Decimal
    tax_rule_id: uuid.UUID | None
    commission: Decimal


class _ItemsAndCommissions(NamedTuple):
    items: list[_QuotedItem]
    details: list[_CommissionDetail]  # every commission part of every item, in item order
    earned: dict[str, Decimal]  # the commission by component


def quote_data(
    result: core.Quote,
    *,
    quote_id: uuid.UUID,
    created_at: datetime,
    valid_until: datetime,
    config_version: int,
) -> dict[str, Any]:
    """The response's ``data`` (a ``QuoteData``). Amounts stay Decimals (each already rounded to
    the currency, so they print with its decimals), ids UUIDs and times datetimes: the JSON
    encoder writes them as decimal strings, UUID strings and RFC 3339 times."""
    currency = result.currency
    quoted = _items_and_commissions(result)
    totals = {
        "subtotal": result.subtotal,
        "tax_amount": result.tax_amount,
        "delivery_fee": result.delivery_fee,
        "small_basket_fee": result.small_basket_fee,
        "discount_amount": result.discount_amount,
        "total_amount": result.total_amount,
    }
    return {
        "quote_id": quote_id,
        "status": "QUOTED",
        **totals,
        "currency": currency,
        "items": quoted.items,
        "coupons": _coupons(result),
        "commission_breakdown": _commission_breakdown(quoted, currency),
        "pricing_breakdown": _pricing_breakdown(result, totals),
        "applied_rules": [a.json for a in result.applied],  # encoded when compiled
        "warnings": result.warnings,
        "feature_flags": dict(result.flags),
        "created_at": created_at,
        "valid_until": valid_until,
        "accepted_at": None,
        "config_version": config_version,
    }


def _items_and_commissions(result: core.Quote) -> _ItemsAndCommissions:
    """The quoted items, each with its commission, and the commission parts in detail."""
    rounded = money.quantizer(result.currency)
    zero = rounded(Decimal(0))
    details = []
    items = []
    # Commission by component, summed here rather than by Quote.commission (a pass per component).
    earned = {"seller": zero, "category": zero, "logistics": zero}
    for line in result.lines:
        item = line.item
        index = line.index
        product_id = item.product_id
        commission = zero
        for part in line.commissions:
            rate = part.rate
            commission += part.amount
            earned[part.component] += part.amount
            details.append(
                _CommissionDetail(
                    index,
                    product_id,
                    part.component,
                    rate.id,
                    rate.version,
                    rate.name,
                    rate.commission_type,
                    part.base,
                    part.amount,
                    part.note,
                )
            )
        items.append(
            _QuotedItem(
                index,
                product_id,
                item.variant_id,
                item.quantity,
                rounded(item.unit_price),
                line.value,
                line.discount,
                line.net,
                line.tax,
                None if line.tax_rule is None else line.tax_rule.id,
                commission,
            )
        )
    return _ItemsAndCommissions(items, details, earned)


def _coupons(result: core.Quote) -> dict[str, Any]:
    """The ``coupons`` part: those applied, and those rejected with why."""
    return {
        "applied": [
            {
                "code": o.code,
                "coupon_id": o.coupon.id,
                "version": o.coupon.version,
                "type": o.coupon.type,
                "amount": o.amount,
                "description": o.reason or "",
            }
            for o in result.coupons
            if o.applied and o.coupon is not None
        ],
        "rejected": [
            {"code": o.code, "reason": o.reason or ""} for o in result.coupons if not o.applied
        ],
    }


def _commission_breakdown(quoted: _ItemsAndCommissions, currency: str) -> dict[str, Any]:
    """The ``commission_breakdown`` part: the commission by component, and every part of it."""
    earned = quoted.earned
    return {
        "total_commission": earned["seller"] + earned["category"] + earned["logistics"],
        "seller_commission": earned["seller"],
        "category_commission": earned["category"],
        "logistics_commission": earned["logistics"],
        "currency": currency,
        "details": quoted.details,
    }


def _pricing_breakdown(result: core.Quote, totals: dict[str, Decimal]) -> dict[str, Any]:
    """The ``pricing_breakdown`` part: the totals, and every step that made them."""
    return {
        "item_total": result.item_total,
        **{k: v for k, v in totals.items() if k != "total_amount"},
        "total_amount": totals["total_amount"],
        "currency": result.currency,
        "distance_km": None if result.distance_km is None else str(result.distance_km),
        "calculations": result.steps,  # Structs with the documented fields, in order
        "notes": result.notes,
        "exchange": _exchange(result.exchange),
    }


def _exchange(exchange: core.Exchange | None) -> dict[str, Any] | None:
    """How the basket was converted into the quote's currency, if it was."""
    if exchange is None:
        return None
    return {
        "from": exchange.source,
        "to": exchange.target,
        "rate": money.plain(exchange.rate),
        "source": "fare_settings",
        "version": exchange.version,
    }
