"""What a campaign computes, pure: who is held out, and what the grants measurably did.

1. **Holdout.** A targeted customer is held out when the experiments' hash of their id, seeded
   with the campaign's id (``hash_unit(f"campaign:{id}", customer, 2)``, GrowthBook's version-2
   hash), falls below the holdout share: the same customer is always in the same arm of a
   campaign, whichever worker asks and however often, and arms of different campaigns are
   independent.
2. **Measurement** (:func:`measure`). The arms are the customers the campaign's selection chose
   (by predicted uplift, within the budget): the treated were granted, the held out were not.
   Each member's outcome is whether they ordered (an accepted quote) during the campaign and
   what they paid. Conversion compares the arms with a two-proportion interval, revenue per
   member with Welch's (both :func:`offerengine.experiments.stats.compare`, unpooled, at 95%);
   incremental orders and revenue are the per-member differences times the treated; the cost
   per incremental order is what the redemptions spent over the incremental orders (none when
   the difference is not positive). The uplift model is judged by deciles of its predicted
   uplift: per decile, the mean prediction against the realised conversion difference.
3. **Synthetic population** (:func:`population`): customers in segments whose conversion with
   and without a grant is known, so that a test can check the intervals cover the truth at
   their nominal rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from offerengine.experiments import stats
from offerengine.experiments.assignment import hash_unit

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

TREATED, HOLDOUT = "treated", "holdout"
LEVEL = 0.95


def holdout_seed(campaign_id: object) -> str:
    return f"campaign:{campaign_id}"


def arm_of(seed: str, customer_id: str, holdout_share: float) -> str:
    """The customer's arm in the campaign seeded ``seed``: sticky, by the experiments' hash."""
    bucket = hash_unit(seed, customer_id, 2)
    return HOLDOUT if bucket is not None and bucket < holdout_share else TREATED


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float | None
    high: float | None

    def covers(self, value: float) -> bool:
        return self.low is not None and self.high is not None and self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class Decile:
    decile: int  # 1: the highest predicted uplift
    treated: int
    holdout: int
    predicted: float
    realised: float | None  # None when an arm of the decile is empty


@dataclass(frozen=True, slots=True)
class Measurement:
    treated: int
    holdout: int
    granted: int
    redeemed: int
    redemption_rate: float | None
    conversion_treated: float
    conversion_holdout: float
    incremental_conversion: Interval  # absolute, per member
    revenue_treated: float  # per member
    revenue_holdout: float
    incremental_revenue_per_member: Interval
    incremental_orders: float
    incremental_revenue: float
    cost: float
    cost_per_incremental_order: float | None
    deciles: tuple[Decile, ...]


def _arm(key: str, values: Floats) -> stats.Arm:
    return stats.Arm(key, int(values.size), float(values.sum()), float((values**2).sum()))


def _difference(kind: stats.MetricKind, control: Floats, treatment: Floats) -> Interval:
    found = stats.compare(kind, _arm(HOLDOUT, control), _arm(TREATED, treatment), alpha=1 - LEVEL)
    low, high = found.absolute_ci if found.absolute_ci is not None else (None, None)
    return Interval(found.absolute_lift, low, high)


def _mean(values: Floats) -> float:
    return float(values.mean()) if values.size else 0.0


def deciles(predicted: Floats, treated: Bools, converted: Floats) -> tuple[Decile, ...]:
    """Members by predicted uplift, highest first, in ten groups as equal as they can be: each
    group's mean prediction and realised conversion difference (treated − held out)."""
    if predicted.size == 0:
        return ()
    order = np.argsort(-predicted, kind="stable")
    found = []
    for i, group in enumerate(np.array_split(order, min(10, predicted.size))):
        t, c = converted[group][treated[group]], converted[group][~treated[group]]
        found.append(
            Decile(
                i + 1,
                int(t.size),
                int(c.size),
                float(predicted[group].mean()),
                float(t.mean() - c.mean()) if t.size and c.size else None,
            )
        )
    return tuple(found)


def measure(
    *,
    treated: Sequence[bool],
    converted: Sequence[float],
    revenue: Sequence[float],
    predicted: Sequence[float],
    granted: int,
    redeemed: int,
    cost: float,
) -> Measurement:
    """The campaign's measured uplift from its members (one entry each, see the module)."""
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(converted, dtype=np.float64)
    r = np.asarray(revenue, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if not (t.size == y.size == r.size == p.size):
        raise ValueError("treated, converted, revenue and predicted must be the same length")
    n_t, n_h = int(t.sum()), int((~t).sum())
    conversion = _difference("conversion", y[~t], y[t])
    per_member = _difference("revenue", r[~t], r[t])
    incremental_orders = conversion.estimate * n_t
    return Measurement(
        treated=n_t,
        holdout=n_h,
        granted=granted,
        redeemed=redeemed,
        redemption_rate=redeemed / granted if granted else None,
        conversion_treated=_mean(y[t]),
        conversion_holdout=_mean(y[~t]),
        incremental_conversion=conversion,
        revenue_treated=_mean(r[t]),
        revenue_holdout=_mean(r[~t]),
        incremental_revenue_per_member=per_member,
        incremental_orders=incremental_orders,
        incremental_revenue=per_member.estimate * n_t,
        cost=cost,
        cost_per_incremental_order=cost / incremental_orders if incremental_orders > 0 else None,
        deciles=deciles(p, t, y),
    )


# ---- a synthetic population with a known effect ----


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    share: float
    base: float  # P(order | not granted)
    treated: float  # P(order | granted)
    basket: float  # what an order is worth


SEGMENTS = (
    Segment("persuadable", 0.3, 0.05, 0.20, 80.0),
    Segment("sure thing", 0.2, 0.50, 0.52, 120.0),
    Segment("lost cause", 0.35, 0.02, 0.025, 60.0),
    Segment("sleeping dog", 0.15, 0.30, 0.24, 150.0),
)


@dataclass(frozen=True, slots=True)
class Population:
    ids: tuple[str, ...]
    segment: npt.NDArray[np.int64]
    treated: Bools
    converted: Floats
    revenue: Floats
    predicted: Floats  # a noisy estimate of each customer's true uplift
    true_conversion_effect: float  # the average treatment effect on conversion
    true_revenue_effect: float  # the average effect on revenue per member


def population(
    n: int, seed: int, *, holdout_share: float = 0.3, segments: Sequence[Segment] = SEGMENTS
) -> Population:
    """``n`` customers of ``segments`` drawn with ``seed``; held out by the campaigns' own
    hashing (seeded per population), ordering with their segment's probability in their arm.
    The truth is the segments' effects weighted by their shares."""
    if n < 2:
        raise ValueError("n must be at least 2")
    rng = np.random.default_rng(seed)
    share = np.array([s.share for s in segments])
    share = share / share.sum()
    base = np.array([s.base for s in segments])
    with_grant = np.array([s.treated for s in segments])
    basket = np.array([s.basket for s in segments])
    kind = rng.choice(len(segments), size=n, p=share)
    ids = tuple(f"s{seed}-{i}" for i in range(n))
    hashed = holdout_seed(f"synthetic-{seed}")
    treated = np.array([arm_of(hashed, c, holdout_share) == TREATED for c in ids], dtype=bool)
    converted = (rng.random(n) < np.where(treated, with_grant[kind], base[kind])).astype(float)
    revenue = converted * rng.gamma(4.0, basket[kind] / 4.0)
    uplift = with_grant - base
    predicted = uplift[kind] + rng.normal(0.0, 0.03, n)
    return Population(
        ids=ids,
        segment=kind.astype(np.int64),
        treated=treated,
        converted=converted,
        revenue=revenue,
        predicted=predicted,
        true_conversion_effect=float((share * uplift).sum()),
        true_revenue_effect=float((share * uplift * basket).sum()),
    )


# ---- retraining from the campaign's outcomes ----


def split(n: int, seed: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """A seeded split of ``n`` members: a third held out to judge models on, the rest to fit."""
    order = np.random.default_rng(seed).permutation(n).astype(np.int64)
    return order[: n // 3], order[n // 3 :]


def promotes(qini_new: float, qini_old: float | None) -> bool:
    """Whether a retrained model replaces the serving one: only when its Qini on the held-out
    members beats the old one's there (an old model that cannot score them never does)."""
    return qini_old is None or qini_new > qini_old


# ---- targeting within a budget, judged by the known truth ----


def top(scores: Floats, k: int) -> npt.NDArray[np.int64]:
    """The ``k`` members with the highest scores (ties in order)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[: max(k, 0)].astype(
        np.int64
    )


def incremental_revenue(
    segment: npt.NDArray[np.int64],
    chosen: npt.NDArray[np.int64],
    segments: Sequence[Segment] = SEGMENTS,
) -> float:
    """The expected incremental revenue of granting ``chosen`` (member indices), from the
    segments' true effects: Σ (P(order | granted) − P(order | not)) × basket."""
    effect = np.array([(s.treated - s.base) * s.basket for s in segments])
    return float(effect[segment[chosen]].sum())


# ---- delivery: a grant's message per channel ----

CHANNELS = ("email", "sms", "push")
SMS_LIMIT = 160  # one SMS segment


def message(channel: str, campaign: str, code: str, amount: str, expires: str) -> str:
    """What the channel says to the granted customer: an email's body, an SMS (one segment) or
    a push notification's text, each with the personal code, the amount off and the expiry."""
    if channel == "sms":
        return f"{campaign}: {amount} off with code {code} until {expires[:10]}"[:SMS_LIMIT]
    if channel == "push":
        return f"{amount} off for you: use {code} by {expires[:10]}"
    return (
        f"{campaign}\n\nYour personal code {code} takes {amount} off your next order. "
        f"It is valid until {expires[:16].replace('T', ' ')} UTC and can be used once."
    )


# ---- serving a grant in decisioning placements ----

GRANT_TOKENS = ("code", "discount", "currency", "promotion", "expires_at")
_MARK = "{{grant."


def uses_grant(content: Mapping[str, Any]) -> bool:
    """Whether a representation's content names the customer's grant (``{{grant.code}}``,
    ``{{grant.discount}}``, ``{{grant.currency}}``, ``{{grant.promotion}}``,
    ``{{grant.expires_at}}`` in a text value): such an offer is proposed only to a profile that
    holds an unredeemed grant, its content filled with it."""
    return any(isinstance(v, str) and _MARK in v for v in content.values())


def fill(content: Mapping[str, Any], grant: Mapping[str, str]) -> dict[str, Any]:
    """The content with each ``{{grant.<name>}}`` of its text values replaced by the grant's."""
    filled: dict[str, Any] = {}
    for key, value in content.items():
        if isinstance(value, str) and _MARK in value:
            for name in GRANT_TOKENS:
                value = value.replace(f"{{{{grant.{name}}}}}", grant.get(name, ""))
        filled[key] = value
    return filled
