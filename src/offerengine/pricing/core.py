"""Pricing, as plain functions over plain data: no database, no web framework.

How a price is made (seed 001's evaluation flow, made exact and explainable):

1. The running price starts at the product's base price (an exact Decimal).
2. The rules in scope for the product apply in ascending ``priority`` (ties: the older rule first),
   each to the running price, when they are active, within their validity window at the request
   time, and their conditions hold:
   - ``MULTIPLIER``: price * (value, or formula clamped to [min_multiplier, max_multiplier]);
   - ``FIXED``: price + value (may be negative);
   - ``FORMULA``: the formula's result is the new price (it sees ``price`` and ``base_price``);
   - ``SET``: the price becomes value.
   An ``exclusive`` rule that applies stops the rules after it.
3. Guard rails: the product's ``price_floor`` and ``price_ceiling``, then never below zero.
4. The result is rounded once, half-up, to the currency's minor units.

Every rule in scope either appears as a step (with multiplier, amount, price before and after) or as
skipped with its reason; nothing is silent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from offerengine import money
from offerengine.catalog.core import ProductFacts
from offerengine.rules import core as rules
from offerengine.rules.types import NUMBER
from offerengine.rules.vocabulary import PRICING

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
ZERO = Decimal(0)
_C = money.MONEY_CONTEXT


@dataclass(frozen=True, slots=True)
class Adjustment:
    kind: str  # MULTIPLIER FIXED FORMULA SET
    value: Decimal | None = None
    formula: rules.Compiled | None = None
    min_multiplier: Decimal | None = None
    max_multiplier: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """A pricing rule, compiled."""

    id: uuid.UUID
    name: str
    rule_type: str
    version: int
    priority: int
    created_at: datetime
    adjustment: Adjustment
    condition: rules.Compiled | None = None
    product_id: uuid.UUID | None = None
    product_type: str | None = None
    category: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    exclusive: bool = False
    is_active: bool = True
    tags: frozenset[str] = frozenset()

    @property
    def order(self) -> tuple[int, datetime, uuid.UUID]:
        return (self.priority, self.created_at, self.id)

    def in_scope(self, product: ProductFacts) -> bool:
        if self.product_id is not None:
            return self.product_id == product.id
        if self.product_type is not None and self.product_type != product.product_type:
            return False
        return self.category is None or self.category == product.category


def compile_rule(
    *,
    id: uuid.UUID,
    name: str,
    rule_type: str,
    version: int,
    priority: int,
    created_at: datetime,
    conditions: Any,
    adjustments: Mapping[str, Any],
    product_id: uuid.UUID | None = None,
    product_type: str | None = None,
    category: str | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    exclusive: bool = False,
    is_active: bool = True,
    tags: Iterable[str] = (),
) -> Rule:
    """Compile a stored rule; raise :class:`rules.RuleError` located under ``conditions`` or
    ``adjustments`` when a condition or formula is wrong."""
    condition = None
    if conditions not in (None, {}, ""):
        try:
            condition = rules.compile_condition(conditions, PRICING)
        except rules.RuleError as exc:
            raise rules.RuleError(
                exc.detail, [e.under(("conditions",)) for e in exc.errors]
            ) from None
    return Rule(
        id=id,
        name=name,
        rule_type=rule_type,
        version=version,
        priority=priority,
        created_at=created_at,
        adjustment=compile_adjustment(adjustments),
        condition=condition,
        product_id=product_id,
        product_type=product_type,
        category=category,
        valid_from=valid_from,
        valid_until=valid_until,
        exclusive=exclusive,
        is_active=is_active,
        tags=frozenset(tags),
    )


def compile_adjustment(spec: Mapping[str, Any]) -> Adjustment:
    formula = None
    if spec.get("formula") is not None:
        try:
            formula = rules.compile_expression(str(spec["formula"]), PRICING, expect=NUMBER)
        except rules.RuleError as exc:
            raise rules.RuleError(
                exc.detail, [e.under(("adjustments", "formula")) for e in exc.errors]
            ) from None

    def decimal(key: str) -> Decimal | None:
        value = spec.get(key)
        return None if value is None else Decimal(str(value))

    return Adjustment(
        kind=str(spec["type"]),
        value=decimal("value"),
        formula=formula,
        min_multiplier=decimal("min_multiplier"),
        max_multiplier=decimal("max_multiplier"),
    )


# --- the index in a tenant's snapshot -------------------------------------------------------------


@dataclass(frozen=True)
class PricingIndex:
    """Compiled rules, and for each active product the active rules in scope, in order."""

    rules: tuple[Rule, ...]
    by_product: Mapping[uuid.UUID, tuple[Rule, ...]] = field(repr=False)

    @classmethod
    def build(cls, compiled: Iterable[Rule], products: Iterable[ProductFacts]) -> PricingIndex:
        ordered = tuple(sorted(compiled, key=lambda r: r.order))
        active = [r for r in ordered if r.is_active]
        by_product = {p.id: tuple(r for r in active if r.in_scope(p)) for p in products}
        return cls(ordered, MappingProxyType(by_product))

    def rules_for(
        self, product: ProductFacts, *, include_inactive: bool = False
    ) -> tuple[Rule, ...]:
        """The rules in scope for ``product`` in the order they apply (hot path: one lookup)."""
        if not include_inactive:
            found = self.by_product.get(product.id)
            if found is not None:
                return found
        return tuple(
            r for r in self.rules if r.in_scope(product) and (include_inactive or r.is_active)
        )


# --- facts ------------------------------------------------------------------------------------------


def situation_facts(facts: Mapping[str, Any], *, at: datetime, timezone: str) -> dict[str, Any]:
    """Complete a request's facts with what follows from them: booking_date from the request time
    (in the tenant's zone); departure date, weekday, days and hours until departure from
    departure_time; the route from origin and destination. Facts given win over derived ones."""
    out = dict(facts)
    out.setdefault("booking_date", at.astimezone(ZoneInfo(timezone)).date())
    departure_time = out.get("departure_time")
    if isinstance(departure_time, datetime):
        out.setdefault("departure_date", departure_time.date())
        out.setdefault(
            "hours_until_departure",
            _C.divide(Decimal(int((departure_time - at).total_seconds())), Decimal(3600)),
        )
    departure = out.get("departure_date")
    if isinstance(departure, date):
        out.setdefault("days_until_departure", Decimal((departure - out["booking_date"]).days))
        out.setdefault("departure_weekday", WEEKDAYS[departure.weekday()])
    if "route" not in out and out.get("origin") and out.get("destination"):
        out["route"] = f"{out['origin']}-{out['destination']}"
    out[rules.NOW] = at
    return out


PRODUCT_FACTS = ("product_type", "category", "base_price", "price")


# --- the engine ---------------------------------------------------------------------------------------


# The trace's parts are named tuples: immutable like the rest, and built in C (a frozen dataclass
# costs ~1 µs per instance, a price makes one per rule).
class Step(NamedTuple):
    rule_id: uuid.UUID
    rule_name: str
    version: int
    type: str
    multiplier: Decimal | None
    amount: Decimal
    price_before: Decimal
    price_after: Decimal


class Skip(NamedTuple):
    rule_id: uuid.UUID
    rule_name: str
    reason: str


class GuardRail(NamedTuple):
    name: str  # price_floor price_ceiling not_negative
    limit: Decimal
    price_before: Decimal
    price_after: Decimal


@dataclass(frozen=True, slots=True)
class PriceResult:
    base_price: Decimal
    final_price: Decimal  # rounded once to the currency's minor units
    currency: str
    steps: tuple[Step, ...]
    skipped: tuple[Skip, ...]
    guard_rails: tuple[GuardRail, ...]


def price(
    product: ProductFacts, rules_in_order: Sequence[Rule], facts: Mapping[str, Any], *, at: datetime
) -> PriceResult:
    """Price ``product`` for ``facts`` (already completed by :func:`situation_facts`) at ``at``."""
    base = product.base_price
    running = base
    context: dict[str, Any] = {
        **facts,
        "product_type": product.product_type,
        "base_price": base,
    }
    if product.category is not None:
        context["category"] = product.category
    steps: list[Step] = []
    skipped: list[Skip] = []
    stopped_by: str | None = None
    with rules.rules_context():  # one decimal context for every rule of this price
        for rule in rules_in_order:
            if (
                rule.is_active
                and stopped_by is None
                and (rule.valid_from is None or at >= rule.valid_from)
                and (rule.valid_until is None or at < rule.valid_until)
            ):
                context["price"] = running
                condition = rule.condition
                try:
                    if condition is None or condition.evaluate(context):
                        try:
                            step = _apply(rule, running, context)
                        except ArithmeticError:  # past the rules' decimal range (Overflow)
                            raise rules.EvaluationError("the price would be too large") from None
                        if not money.within(step.price_after, product.currency):
                            # Rules compound (a multiplier on a multiplier): no check when
                            # each is saved bounds their product, so the rule that overflows
                            # the currency's range is skipped, as any rule that fails.
                            raise rules.EvaluationError("the price would be too large")
                        steps.append(step)
                        running = step.price_after
                        if rule.exclusive:
                            stopped_by = rule.name
                        continue
                    reason = "conditions not met"
                except rules.EvaluationError as exc:
                    reason = str(exc)
            else:
                reason = _not_applicable(rule, at, stopped_by) or "not applicable"
            skipped.append(Skip(rule.id, rule.name, reason))
    running, rails = _guard(product, running)
    return PriceResult(
        base_price=base,
        final_price=money.quantize(running, product.currency),
        currency=product.currency,
        steps=tuple(steps),
        skipped=tuple(skipped),
        guard_rails=rails,
    )


def _not_applicable(rule: Rule, at: datetime, stopped_by: str | None) -> str | None:
    if not rule.is_active:
        return "inactive"
    if rule.valid_from is not None and at < rule.valid_from:
        return f"not valid before {rule.valid_from.isoformat()}"
    if rule.valid_until is not None and at >= rule.valid_until:
        return f"not valid since {rule.valid_until.isoformat()}"
    if stopped_by is not None:
        return f"the exclusive rule {stopped_by!r} applied before it"
    return None


def _apply(rule: Rule, running: Decimal, context: Mapping[str, Any]) -> Step:
    adjustment = rule.adjustment
    multiplier: Decimal | None = None
    if adjustment.kind == "MULTIPLIER":
        multiplier = (
            _number(adjustment.formula.evaluate(context))
            if adjustment.formula is not None
            else adjustment.value
        )
        if multiplier is None:
            raise rules.EvaluationError("the multiplier has neither a value nor a formula")
        if adjustment.min_multiplier is not None and multiplier < adjustment.min_multiplier:
            multiplier = adjustment.min_multiplier
        if adjustment.max_multiplier is not None and multiplier > adjustment.max_multiplier:
            multiplier = adjustment.max_multiplier
        after = running * multiplier  # under the rules' decimal context, entered by price()
    elif adjustment.kind == "FIXED":
        after = running + (adjustment.value or ZERO)
    elif adjustment.kind == "FORMULA":
        if adjustment.formula is None:
            raise rules.EvaluationError("the FORMULA adjustment has no formula")
        after = _number(adjustment.formula.evaluate(context))
    else:  # SET
        after = adjustment.value if adjustment.value is not None else running
    return Step(
        rule.id,
        rule.name,
        rule.version,
        adjustment.kind,
        multiplier,
        after - running,
        running,
        after,
    )


def _number(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise rules.EvaluationError(f"the formula gave {value!r}, not a number")


def _guard(product: ProductFacts, running: Decimal) -> tuple[Decimal, tuple[GuardRail, ...]]:
    rails: list[GuardRail] = []
    floor, ceiling = product.price_floor, product.price_ceiling
    if floor is not None and running < floor:
        rails.append(GuardRail("price_floor", floor, running, floor))
        running = floor
    if ceiling is not None and running > ceiling:
        rails.append(GuardRail("price_ceiling", ceiling, running, ceiling))
        running = ceiling
    if running < ZERO:
        rails.append(GuardRail("not_negative", ZERO, running, ZERO))
        running = ZERO
    return running, tuple(rails)
