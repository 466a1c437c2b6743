"""Branded fare families as shopping sees them: the tenant's active fare family sets, compiled
into the snapshot, found per cabin and route (the route's own set, else the cabin's all-routes
set), and the fare of a family: the cabin's fare as the pricing rules price it × the family's
multiplier, rounded in the fare's filing currency (as revenue management's forecasts count it).

A search that names no family sells the set's *default*: the family at multiplier 1, else the one
nearest it (the dearer of two as near), which is also the family a forecast counts orders that name
none in (``revenue.service._base``), so its booking limit is the one that guards those orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import msgspec

from offerengine import money

ONE = Decimal(1)
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class FareFamily:
    """One family: its code and name, its fare as a multiple of the cabin's, and what it includes
    (the set's ``attributes`` as configured, fees as text in ``fee_currency``, the tenant's base
    currency)."""

    code: str
    name: str
    multiplier: Decimal
    attributes: Mapping[str, Any] = field(default_factory=dict)
    fee_currency: str = ""
    # code, name, attributes and fee currency as JSON members, encoded once at snapshot build
    members: bytes = b""

    @classmethod
    def of(
        cls,
        code: str,
        name: str,
        multiplier: Decimal,
        attributes: Mapping[str, Any],
        fee_currency: str,
    ) -> FareFamily:
        members = _encode(
            {
                "code": code,
                "name": name,
                "attributes": attributes,
                "fee_currency": fee_currency,
            }
        )[1:-1]
        return cls(
            code, name, multiplier, MappingProxyType(dict(attributes)), fee_currency, members
        )

    def fare(self, cabin_fare: Decimal, currency: str) -> Decimal:
        """The family's fare for the cabin's ``cabin_fare`` (filing ``currency``)."""
        if self.multiplier == ONE:
            return cabin_fare
        return money.quantize(cabin_fare * self.multiplier, currency)


@dataclass(frozen=True, slots=True)
class FamilySet:
    """A cabin's families on a route (``route`` None: every route without a set of its own),
    kept highest first as configured."""

    cabin: str
    route: str | None
    families: tuple[FareFamily, ...]
    id: str = ""
    version: int = 0
    default: str = field(init=False)
    _by_code: Mapping[str, FareFamily] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.families:
            raise ValueError("a fare family set has at least one family")
        nearest = min(self.families, key=lambda f: (abs(f.multiplier - ONE), -f.multiplier))
        object.__setattr__(self, "default", nearest.code)
        object.__setattr__(self, "_by_code", {f.code: f for f in self.families})

    def get(self, code: str) -> FareFamily | None:
        return self._by_code.get(code)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.families)


@dataclass(frozen=True, slots=True)
class FareFamilies:
    """The tenant's active sets by cabin and route; ``codes`` by cabin: every family code some
    set of the cabin has (what a journey's slice may name)."""

    sets: Mapping[tuple[str, str | None], FamilySet] = field(default_factory=dict)
    codes: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, sets: Iterable[FamilySet]) -> FareFamilies:
        by_scope = {(s.cabin, s.route): s for s in sets}
        codes: dict[str, set[str]] = {}
        for s in by_scope.values():
            codes.setdefault(s.cabin, set()).update(s.codes)
        return cls(
            MappingProxyType(by_scope),
            MappingProxyType({cabin: frozenset(found) for cabin, found in codes.items()}),
        )

    def __bool__(self) -> bool:
        return bool(self.sets)

    def for_route(self, cabin: str, origin: str, destination: str) -> FamilySet | None:
        """The set a flight of the route sells the cabin in: the route's, else the cabin's."""
        if not self.sets:
            return None
        return self.sets.get((cabin, f"{origin}-{destination}")) or self.sets.get((cabin, None))
