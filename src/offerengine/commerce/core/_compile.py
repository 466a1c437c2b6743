"""Stored configuration (the JSON state of a version, as the API shows it) → compiled states."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from offerengine import money
from offerengine.commerce.core._model import Applied, Coupon, FeeRuleState, RateState, Tier, key


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _how(kind: str, rate: Decimal | None, tiers: tuple[Tier, ...], currency: str) -> str:
    if kind == "PERCENTAGE":
        return f"{money.plain(rate or Decimal(0))}%"
    if kind == "FLAT":
        return f"{money.show(rate or Decimal(0), currency)} per unit"
    return "tiers " + ", ".join(
        f"{money.plain(t.rate)}% up to {'∞' if t.up_to is None else money.show(t.up_to, currency)}"
        for t in tiers
    )


def rate_state(data: Mapping[str, Any], changed_at: datetime) -> RateState:
    tiers = tuple(
        Tier(_decimal(t.get("up_to")), Decimal(str(t["rate"]))) for t in data.get("tiers") or ()
    )
    rate = _decimal(data.get("rate"))
    dims = (
        data.get("seller_id"),
        data.get("category"),
        data.get("logistics_provider"),
        data.get("region"),
    )
    object_id = uuid.UUID(str(data["id"]))
    version = int(data["version"])
    return RateState(
        id=object_id,
        version=version,
        name=str(data["name"]),
        component=data["component"],
        category=key(data.get("category")),
        seller_id=key(data.get("seller_id")),
        logistics_provider=key(data.get("logistics_provider")),
        region=key(data.get("region")),
        commission_type=data["commission_type"],
        rate=rate,
        tiers=tiers,
        min_amount=_decimal(data.get("min_amount")),
        max_amount=_decimal(data.get("max_amount")),
        currency=str(data["currency"]),
        effective_from=_when(data.get("effective_from")),
        effective_to=_when(data.get("effective_to")),
        is_active=bool(data.get("is_active", True)),
        priority=int(data.get("priority", 0)),
        flag=data.get("flag"),
        changed_at=changed_at,
        dimensions=sum(d is not None for d in dims),
        how=_how(data["commission_type"], rate, tiers, str(data["currency"])),
        unit=money.unit(str(data["currency"])),
        entry=Applied(
            object_id, str(data["name"]), f"COMMISSION_{data['commission_type']}", version
        ),
    )


_AMOUNTS: dict[str, dict[str, str | None]] = {
    "DELIVERY_FEE": {"base_fee": None, "per_kg": "0", "included_kg": "0"},
    "EXPRESS_FEE": {"base_fee": "0", "multiplier": "1", "max_fee": None, "distance_factor": "0"},
    "SMALL_BASKET_FEE": {"threshold": None, "fee": None},
    "TAX": {"rate": None},
    "FREE_DELIVERY": {"threshold": None},
}


def configuration(type_: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """A fee rule's parameters with their defaults, numbers as Decimals."""
    found: dict[str, Any] = dict(config)
    for name, default in _AMOUNTS.get(type_, {}).items():
        found[name] = _decimal(config.get(name, default))
    if type_ == "DISTANCE_FEE":
        found["bands"] = tuple(
            {"up_to_km": _decimal(b.get("up_to_km")), "fee": Decimal(str(b["fee"]))}
            for b in config["bands"]
        )
    if type_ == "TAX":
        found["tax_fees"] = bool(config.get("tax_fees", False))
    if type_ == "FREE_DELIVERY":
        code = config.get("coupon_code")
        found["coupon_code"] = None if code is None else str(code).upper()
        found["include_express"] = bool(config.get("include_express", False))
    if type_ == "EXPRESS_FEE":
        found["multiplier_flag"] = config.get("multiplier_flag")
    return found


def fee_state(data: Mapping[str, Any], changed_at: datetime) -> FeeRuleState:
    object_id = uuid.UUID(str(data["id"]))
    version = int(data["version"])
    return FeeRuleState(
        id=object_id,
        version=version,
        name=str(data["name"]),
        type=data["type"],
        config=configuration(data["type"], data["configuration"]),
        region=key(data.get("region")),
        category=key(data.get("category")),
        currency=str(data["currency"]),
        effective_from=_when(data.get("effective_from")),
        effective_to=_when(data.get("effective_to")),
        is_active=bool(data.get("is_active", True)),
        priority=int(data.get("priority", 0)),
        flag=data.get("flag"),
        changed_at=changed_at,
        entry=Applied(object_id, str(data["name"]), str(data["type"]), version),
    )


def coupon(data: Mapping[str, Any]) -> Coupon:
    object_id = uuid.UUID(str(data["id"]))
    version = int(data["version"])
    code = str(data["code"]).upper()
    name = data.get("name")
    return Coupon(
        id=object_id,
        version=version,
        code=code,
        name=name,
        type=data["type"],
        value=_decimal(data.get("value")),
        min_basket=_decimal(data.get("min_basket")),
        max_discount=_decimal(data.get("max_discount")),
        currency=str(data["currency"]),
        categories=frozenset(k for c in data.get("categories") or () if (k := key(c))),
        sellers=frozenset(k for c in data.get("sellers") or () if (k := key(c))),
        valid_from=_when(data.get("valid_from")),
        valid_until=_when(data.get("valid_until")),
        usage_limit_total=data.get("usage_limit_total"),
        usage_limit_per_customer=data.get("usage_limit_per_customer"),
        stackable=bool(data.get("stackable", False)),
        is_active=bool(data.get("is_active", True)),
        entry=Applied(object_id, name or code, f"COUPON_{data['type']}", version),
    )
