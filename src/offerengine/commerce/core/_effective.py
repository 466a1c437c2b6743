"""Which versions of the effective-dated rules are in force at an instant, indexed for quoting.

Every change to a commission rate or fee rule is a new version, and a version can take effect
later than it is saved: the version in force at ``t`` is the *highest* version whose
``effective_from`` is at or before ``t`` (none: since always). It applies when it is active and
its ``effective_to`` is after ``t``. So a change scheduled for next month leaves the current
version in force until then; ending a rate (an ``effective_to``, or ``is_active: false``) ends it,
and an older version never comes back.

The answer only changes at the instants some version starts or ends, so the index of what is in
force is built once per interval between those instants and reused by every quote in it.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from offerengine.commerce.core._model import (
    Coupon,
    FeeRuleState,
    QuoteSettings,
    RateState,
)


class EffectiveDated(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def version(self) -> int: ...
    @property
    def effective_from(self) -> datetime | None: ...
    @property
    def effective_to(self) -> datetime | None: ...
    @property
    def is_active(self) -> bool: ...


S = TypeVar("S", bound=EffectiveDated)


class Timeline(Generic[S]):
    """The versions of a set of objects, and the instants at which what is in force changes."""

    def __init__(self, states: Iterable[S]) -> None:
        by_id: dict[uuid.UUID, list[S]] = {}
        for state in states:
            by_id.setdefault(state.id, []).append(state)
        self._by_id = {k: sorted(v, key=lambda s: -s.version) for k, v in by_id.items()}
        instants: set[datetime] = set()
        for versions in self._by_id.values():
            for s in versions:
                instants.update(t for t in (s.effective_from, s.effective_to) if t is not None)
        self.boundaries: tuple[datetime, ...] = tuple(sorted(instants))

    def in_force(self, at: datetime) -> list[S]:
        """Each object's version in force at ``at``, if it applies then."""
        found = []
        for versions in self._by_id.values():
            current = next(
                (s for s in versions if s.effective_from is None or s.effective_from <= at), None
            )
            if (
                current is not None
                and current.is_active
                and (current.effective_to is None or at < current.effective_to)
            ):
                found.append(current)
        return found

    def every(self) -> Iterator[S]:
        """Every version of every object."""
        for versions in self._by_id.values():
            yield from versions


def _rank(state: RateState | FeeRuleState) -> tuple[Any, ...]:
    """Among rules that match alike: the highest priority, then the newest version."""
    return (state.priority, state.changed_at, state.version, str(state.id))


RateKey = tuple[str, str, str | None, str | None, str | None, str | None]
FeeKey = tuple[str, str, str | None]
TaxKey = tuple[str, str | None, str | None]


class InForce:
    """The rates and fee rules in force during one interval, indexed by what they match.

    ``rates[(currency, component, seller, category, logistics, region)]`` lists the rates with
    exactly those dimensions set (None: not set), best first by priority, then newest; fee rules
    likewise by ``(currency, type, region)``, and tax rules by ``(currency, region, category)``.
    """

    __slots__ = ("currencies", "fees", "memo", "rates", "shapes", "taxes")

    def __init__(self, rates: Iterable[RateState], fees: Iterable[FeeRuleState]) -> None:
        by_rate: dict[RateKey, list[RateState]] = {}
        for r in rates:
            rate_key = (
                r.currency,
                r.component,
                r.seller_id,
                r.category,
                r.logistics_provider,
                r.region,
            )
            by_rate.setdefault(rate_key, []).append(r)
        self.rates: dict[RateKey, tuple[RateState, ...]] = {
            k: tuple(sorted(v, key=_rank, reverse=True)) for k, v in by_rate.items()
        }
        # Which dimensions the rates of a (currency, component) set, as (seller, category,
        # logistics, region) truths: a resolution looks up only the keys some rate can have (a
        # few of the 24 combinations of an item's values and wildcards).
        shapes: dict[tuple[str, str], set[tuple[bool, bool, bool, bool]]] = {}
        for currency, component, seller, category, logistics, region in self.rates:
            shapes.setdefault((currency, component), set()).add(
                (
                    seller is not None,
                    category is not None,
                    logistics is not None,
                    region is not None,
                )
            )
        self.shapes: dict[tuple[str, str], tuple[tuple[bool, bool, bool, bool], ...]] = {
            k: tuple(sorted(v)) for k, v in shapes.items()
        }
        by_fee: dict[FeeKey, list[FeeRuleState]] = {}
        by_tax: dict[TaxKey, list[FeeRuleState]] = {}
        for f in fees:
            if f.type == "TAX":
                by_tax.setdefault((f.currency, f.region, f.category), []).append(f)
            else:
                by_fee.setdefault((f.currency, f.type, f.region), []).append(f)
        self.fees: dict[FeeKey, tuple[FeeRuleState, ...]] = {
            k: tuple(sorted(v, key=_rank, reverse=True)) for k, v in by_fee.items()
        }
        self.taxes: dict[TaxKey, tuple[FeeRuleState, ...]] = {
            k: tuple(sorted(v, key=_rank, reverse=True)) for k, v in by_tax.items()
        }
        # The currencies some rate or fee rule in force prices in: the quotes they cover.
        self.currencies: frozenset[str] = frozenset(
            [k[0] for k in self.rates] + [k[0] for k in self.fees] + [k[0] for k in self.taxes]
        )
        # Commission resolutions already made in this interval (the same seller, category,
        # logistics provider and destination resolve the same way); bounded.
        self.memo: dict[tuple[Any, ...], Any] = {}


MEMO_LIMIT = 50_000


class CommerceIndex:
    """A tenant's commerce configuration, compiled: the snapshot's section for quotes."""

    def __init__(
        self,
        rates: Iterable[RateState] = (),
        fees: Iterable[FeeRuleState] = (),
        coupons: Iterable[Coupon] = (),
        settings: QuoteSettings | None = None,
        tagged_flags: Iterable[str] = (),
    ) -> None:
        self.rates: Timeline[RateState] = Timeline(rates)
        self.fees: Timeline[FeeRuleState] = Timeline(fees)
        self.coupons: Mapping[str, Coupon] = {c.code: c for c in coupons}
        self.settings = settings or QuoteSettings()
        self._boundaries = tuple(sorted({*self.rates.boundaries, *self.fees.boundaries}))
        flags: set[str] = set()
        for timeline in (self.rates, self.fees):
            for state in timeline.every():
                if state.flag:
                    flags.add(state.flag)
                multiplier_flag = getattr(state, "config", {}).get("multiplier_flag")
                if multiplier_flag:
                    flags.add(multiplier_flag)
        # The flags rules read (a rule's ``flag``, an express rule's ``multiplier_flag``): their
        # truth decides which rules take part, so resolutions are remembered per their values.
        self.flag_keys: tuple[str, ...] = tuple(sorted(flags))
        # What a quote evaluates and echoes: those, and the tenant's flags tagged "quote".
        self.quote_flags: tuple[str, ...] = tuple(sorted({*flags, *tagged_flags}))
        self._cache: dict[int, InForce] = {}

    def at(self, at: datetime) -> InForce:
        """What is in force at ``at`` (built once per interval between boundaries)."""
        segment = bisect.bisect_right(self._boundaries, at)
        found = self._cache.get(segment)
        if found is None:
            found = InForce(self.rates.in_force(at), self.fees.in_force(at))
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[segment] = found
        elif len(found.memo) > MEMO_LIMIT:
            found.memo.clear()
        return found
