"""The conversion estimate that ranks offers: P(order | offer type, segment), Beta-Binomial over
the shown and ordered counts, or a search's own estimate from the contextual bandit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ConversionModel:
    """P(order | offer type, segment), Beta-Binomial.

    An offer type's rate starts from the prior Beta(alpha, beta) (1, 19: 5 %) and learns from every
    offer of the type shown and ordered; a segment's rate starts from its type's rate with the
    weight of ``strength`` offers and learns from the segment's own counts. With no data at all,
    every type scores the prior, and the margin decides.
    """

    counts: Mapping[tuple[str, str], tuple[int, int]] = field(
        default_factory=dict
    )  # shown, ordered
    alpha: float = 1.0
    beta: float = 19.0
    strength: float = 20.0

    def probability(self, offer_type: str, segment: str) -> float:
        type_shown = type_ordered = 0
        for (kind, _), (shown, ordered) in self.counts.items():
            if kind == offer_type:
                type_shown += shown
                type_ordered += ordered
        pooled = (self.alpha + type_ordered) / (self.alpha + self.beta + type_shown)
        shown, ordered = self.counts.get((offer_type, segment), (0, 0))
        return (ordered + self.strength * pooled) / (shown + self.strength)


class Conversion(Protocol):
    def probability(self, offer_type: str, segment: str) -> float: ...


@dataclass(frozen=True, slots=True)
class Personal:
    """One search's conversion: the contextual bandit's estimate per offer type (blended with
    the Beta-Binomial one by its confidence; see :mod:`offerengine.shopping.personal`), the
    Beta-Binomial one for any other type."""

    base: ConversionModel
    learnt: Mapping[str, float]

    def probability(self, offer_type: str, segment: str) -> float:
        found = self.learnt.get(offer_type)
        return found if found is not None else self.base.probability(offer_type, segment)
