"""A quote in the making: what each step of ``_quote``'s pipeline reads and writes.

:class:`Pricing` holds what every step reads (the basket, the customer's flags, the rules in
force at the basket's destination, the currency's rounding) and what they write: the
:class:`Ledger` of steps with their running total and the rules they applied, the warnings and
the notes. The steps themselves live in ``_quote`` and ``_delivery``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from offerengine import money
from offerengine.commerce.core import _fees
from offerengine.commerce.core._effective import CommerceIndex, InForce
from offerengine.commerce.core._model import (
    ZERO,
    Applied,
    Basket,
    Coupon,
    FeeRuleState,
    RateState,
    Step,
    key,
)


class Ledger:
    """The quote's steps in order, their running total, and every rule they applied."""

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


@dataclass(slots=True)
class Pricing:
    """One basket being priced: its inputs and rules in force, and the ledger so far."""

    index: CommerceIndex
    basket: Basket
    flags: Mapping[str, Any]
    in_force: InForce
    where: _fees.Destination  # the fee rules of the basket's destination
    city: str | None  # the destination's, as rules compare them (see ``key``)
    country: str | None
    signature: tuple[bool, ...]  # the flags the index's rules name, on or off
    quantize: Callable[[Decimal], Decimal]  # to the currency's minor unit
    zero: Decimal  # zero in the currency's minor units
    ledger: Ledger = field(default_factory=Ledger)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def start(
        cls, index: CommerceIndex, basket: Basket, *, at: datetime, flags: Mapping[str, Any]
    ) -> Pricing:
        """The pricing of ``basket`` with the rules in force at ``at``, before any step."""
        currency = basket.currency
        in_force = index.at(at)
        city, country = key(basket.delivery.city), key(basket.delivery.country)
        signature = tuple(bool(flags.get(k)) for k in index.flag_keys)
        where = _fees.destination(
            in_force,
            currency=currency,
            city=city,
            country=country,
            flags=flags,
            signature=signature,
        )
        quantize = money.quantizer(currency)
        return cls(
            index,
            basket,
            flags,
            in_force,
            where,
            city,
            country,
            signature,
            quantize,
            quantize(ZERO),
        )

    @property
    def currency(self) -> str:
        return self.basket.currency

    def show(self, amount: Decimal) -> str:
        """An amount of the basket's currency as a description shows it."""
        return money.show(amount, self.basket.currency)


def named(rule: FeeRuleState) -> str:
    """A fee rule as a step's description names it."""
    return f"{rule.name!r} v{rule.version}"
