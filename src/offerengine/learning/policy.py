"""A contextual ranking as compiled into a tenant's snapshot: the features a bandit reads from a
request's facts, what it is rewarded for, and how it explores (see ``Contextual`` in the
decisioning schemas). Its learnt state lives apart, in model versions (:mod:`.store`).

A *line* is one model of an activity: ``live`` ranks its decisions, ``shadow`` scores them
alongside without serving, ``variant:<experiment>/<variant>`` ranks an experiment variant's.
A line's *version* is fixed by its settings (``key``); what can carry over from one version to the
next is fixed by its features (``shape``): same features, the learnt state carries over.

A bandit learns for a :class:`Learner`: an activity of decisioning, whose actions are its offers,
or shopping (:class:`ShopLearner`, one line, ``live``), whose actions are the offer types a search
can show, rewarded by the orders that follow.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import numpy as np

from offerengine.learning import bandit

# The event each reward counts.
REWARD_EVENT = {
    "order": "order",  # shop: an order made from one of the search's offers
    "click": "click",
    "accept": "accept",
    "purchase": "purchase",
    "revenue": "purchase",
    "margin": "purchase",
}


@dataclass(frozen=True, slots=True)
class Feature:
    fact: str
    value: str | None  # None: the fact's number; else 1 when the fact is (or holds) this value

    @classmethod
    def parse(cls, text: str) -> Feature:
        fact, _, value = text.partition("=")
        return cls(fact, value or None)

    def __str__(self) -> str:
        return self.fact if self.value is None else f"{self.fact}={self.value}"

    def read(self, facts: Mapping[str, Any]) -> float:
        found = facts.get(self.fact)
        if self.value is not None:
            if isinstance(found, (list, tuple, set, frozenset)):
                return 1.0 if self.value in {_text(v) for v in found} else 0.0
            return 1.0 if found is not None and _text(found) == self.value else 0.0
        if isinstance(found, bool):
            return 1.0 if found else 0.0
        if isinstance(found, (int, float, Decimal)):
            number = float(found)
            return number if math.isfinite(number) else 0.0
        return 0.0


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ContextualDef:
    line: str
    settings: bandit.Settings
    features: tuple[Feature, ...]
    reward: str
    window: timedelta
    prior_rate: float  # the cold-start guess of the reward rate (the activity's prior mean)
    key: str = field(init=False)  # the settings' digest: one model version per key
    shape: str = field(init=False)  # the features' digest: what a new version can carry over

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _digest([str(f) for f in self.features]))
        object.__setattr__(self, "key", _digest(self.document()))

    @classmethod
    def of(cls, line: str, config: Mapping[str, Any], prior_rate: float) -> ContextualDef:
        return cls(
            line=line,
            settings=bandit.Settings(
                method=config.get("method", "thompson"),
                alpha=float(config.get("alpha", 1.0)),
                epsilon=float(config.get("epsilon", 0.05)),
                variance=float(config.get("variance", 0.25)),
                ridge=float(config.get("ridge", 1.0)),
                warmup=float(config.get("warmup", 20.0)),
            ),
            features=tuple(Feature.parse(f) for f in config.get("features", ())),
            reward=config.get("reward", "accept"),
            window=timedelta(seconds=int(config.get("reward_window_seconds", 3600))),
            prior_rate=prior_rate,
        )

    @property
    def dimension(self) -> int:
        return 1 + len(self.features)

    def document(self) -> dict[str, Any]:
        """The settings as stored with each model version."""
        s = self.settings
        return {
            "method": s.method,
            "features": [str(f) for f in self.features],
            "reward": self.reward,
            "reward_window_seconds": int(self.window.total_seconds()),
            "alpha": s.alpha,
            "epsilon": s.epsilon,
            "variance": s.variance,
            "ridge": s.ridge,
            "warmup": s.warmup,
            "prior_rate": self.prior_rate,
        }

    def context(self, facts: Mapping[str, Any]) -> list[float]:
        """The request's feature vector: a constant 1, then each feature. A profile that does
        not consent to personalisation (profile.consent.personalization false) is seen through
        the context only: its profile features read 0."""
        if facts.get("profile.consent.personalization") is False:
            return [
                1.0,
                *(0.0 if f.fact.startswith("profile.") else f.read(facts) for f in self.features),
            ]
        return [1.0, *(f.read(facts) for f in self.features)]

    def prior(self, worth: Sequence[float], cost: Sequence[float]) -> np.ndarray:
        """The cold-start score of candidates in the activity's own order: the expected reward
        at the prior rate, less a hair per place so that, unlearnt, the activity's order holds."""
        rate = self.prior_rate
        if self.reward == "revenue":
            base = [rate * w for w in worth]
        elif self.reward == "margin":
            base = [rate * w - c for w, c in zip(worth, cost, strict=True)]
        else:
            base = [rate] * len(worth)
        return np.array(base, dtype=np.float64) - 1e-9 * np.arange(len(worth))

    def fresh(self) -> bandit.LinearBandit:
        return bandit.LinearBandit(self.dimension, self.settings)

    def describe(self) -> str:
        names = {
            "thompson": "linear Thompson sampling",
            "linucb": "LinUCB",
            "epsilon_greedy": "epsilon-greedy",
        }
        return f"contextual bandit ({names[self.settings.method]} of the {self.reward})"


# ---- what a bandit learns for ----

# The id that stands for shopping where an activity's id would be (in model versions and logs).
SHOP = uuid.UUID("5b0b0000-0000-4000-8000-000000000001")


class Proposable(Protocol):
    """An action a bandit can propose: what it is called in the logs, what a success is worth
    (revenue rewards) and what proposing it costs (margin rewards)."""

    @property
    def key(self) -> str: ...

    @property
    def worth(self) -> float: ...

    @property
    def cost(self) -> float: ...


class Learner(Protocol):
    """What one or two bandit lines learn for: an activity (``decisioning.core.ActivityDef``)
    or shopping (:class:`ShopLearner`)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def name(self) -> str: ...

    @property
    def candidates(self) -> Sequence[Proposable]: ...

    @property
    def contextual(self) -> ContextualDef | None: ...

    @property
    def shadow(self) -> ContextualDef | None: ...


@dataclass(frozen=True, slots=True)
class OfferTypeAction:
    key: str  # the offer type
    worth: float = 1.0
    cost: float = 0.0


@dataclass(frozen=True, slots=True)
class ShopLearner:
    """Shopping's bandits: the conversion probability of each offer type for the search's
    customer and context, learnt from the orders that follow searches (``live``), and a candidate
    model beside it (``shadow``). Its actions are the offer types of the offer rules, in
    priority order."""

    candidates: tuple[OfferTypeAction, ...]
    contextual: ContextualDef | None  # None: the Beta-Binomial estimate serves
    shadow: ContextualDef | None = None  # a candidate model scoring every search, not serving
    id: uuid.UUID = SHOP
    name: str = "shop"


@dataclass(frozen=True, slots=True)
class Logged:
    """One proposal a bandit logged, with the reward that followed it."""

    decision_id: uuid.UUID
    made_at: datetime
    offer_id: str
    candidates: tuple[str, ...]  # what it was chosen from, in the activity's own order
    propensity: float
    contexts: Mapping[str, list[float]]  # feature vectors by the features' shape
    reward: float
    model: Mapping[str, Any] | None  # the line and version that served it
    shadow: str | None  # what the shadow bandit would have proposed instead
    rank: int  # 0: the activity's first item
