"""Evaluating a policy offline on an activity's logged decisions (``learning.store.logged``): what it
would have earned had it ranked them, by the estimators of :mod:`.ope`, beside what the logged
policy earned.

A policy here says, for one logged proposal, the probability it would have proposed each of the
logged candidates first (π(a | x)). Policies: ``logged`` (the behaviour itself: its estimate is
its measured mean), ``priority`` (the activity's own order, the first candidate), ``random``
(uniform), and a bandit — a stored model version, or the activity's shadow — read with its own
features from the logs.

The reward model of the direct method and doubly robust is a ridge regression per offer on the
logs themselves, cross-fitted in two folds so that no proposal is scored by a model that saw it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from offerengine.learning import bandit, ope
from offerengine.learning.policy import ContextualDef, Learner, Logged, Proposable

Chances = Callable[[Logged, Sequence[Proposable]], np.ndarray]


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    chances: Chances
    shape: str | None  # the features it reads: logs without them are left out


def priority() -> Policy:
    def chances(row: Logged, offers: Sequence[Proposable]) -> np.ndarray:
        found = np.zeros(len(offers))
        found[0] = 1.0
        return found

    return Policy("priority", chances, None)


def uniform() -> Policy:
    return Policy("random", lambda row, offers: np.full(len(offers), 1.0 / len(offers)), None)


def logged_policy() -> Policy:
    def chances(row: Logged, offers: Sequence[Proposable]) -> np.ndarray:
        # Only the logged action's probability is known; the others share the rest.
        found = np.full(len(offers), (1 - row.propensity) / max(len(offers) - 1, 1))
        found[row.candidates.index(row.offer_id)] = row.propensity
        return found

    return Policy("logged", chances, None)


def of_bandit(name: str, spec: ContextualDef, model: bandit.LinearBandit, seed: int = 0) -> Policy:
    rng = np.random.default_rng(seed)

    def chances(row: Logged, offers: Sequence[Proposable]) -> np.ndarray:
        x = row.contexts[spec.shape]
        prior = spec.prior([o.worth for o in offers], [o.cost for o in offers])
        return model.probabilities([o.key for o in offers], x, prior, rng)

    return Policy(name, chances, spec.shape)


def _reward_model(
    rows: Sequence[Logged], shape: str, dimension: int
) -> tuple[np.ndarray, Callable[[int, Sequence[str]], np.ndarray]]:
    """Two-fold cross-fitted ridge per offer: each row's predicted reward for its logged offer,
    and for any of its candidates."""
    folds = [bandit.LinearBandit(dimension, bandit.Settings(warmup=0.0)) for _ in range(2)]
    for i, row in enumerate(rows):
        folds[i % 2].update(row.offer_id, row.contexts[shape], row.reward)
    logged_hat = np.array(
        [
            float(folds[1 - i % 2].estimate([row.offer_id], row.contexts[shape])[0])
            for i, row in enumerate(rows)
        ]
    )

    def predict(i: int, keys: Sequence[str]) -> np.ndarray:
        return folds[1 - i % 2].estimate(keys, rows[i].contexts[shape])

    return logged_hat, predict


def evaluate(
    rows: Sequence[Logged],
    activity: Learner,
    policy: Policy,
    *,
    interval: ope.Interval = "normal",
) -> dict[str, Any]:
    """Estimates of the policy's mean reward per proposal on the logs (the activity's first item
    of each decision), beside the logged policy's measured mean. The reward model reads the
    policy's features, or (for a policy that reads none) those most of the logs carry."""
    offers_by_key = {o.key: o for o in activity.candidates}
    shape = policy.shape or _commonest_shape(rows)
    usable = [
        r
        for r in rows
        if r.rank == 0
        and shape in r.contexts
        and (policy.shape is None or policy.shape in r.contexts)
        and all(k in offers_by_key for k in r.candidates)
        and r.offer_id in r.candidates
    ]
    left_out = sum(1 for r in rows if r.rank == 0) - len(usable)
    if not usable:
        return {"policy": policy.name, "n": 0, "left_out": left_out, "estimates": []}
    rewards = np.array([r.reward for r in usable])
    behavior = np.array([r.propensity for r in usable])
    target = np.empty(len(usable))
    dm_target = np.empty(len(usable))
    logged_hat, predict = _reward_model(usable, shape, len(usable[0].contexts[shape]))
    for i, row in enumerate(usable):
        offers = [offers_by_key[k] for k in row.candidates]
        pi = policy.chances(row, offers)
        target[i] = pi[row.candidates.index(row.offer_id)]
        dm_target[i] = float(pi @ predict(i, row.candidates))
    estimates = [
        ope.ips(rewards, behavior, target, interval=interval, seed=0),
        ope.snips(rewards, behavior, target, interval=interval, seed=0),
        ope.direct_method(dm_target, interval=interval, seed=0),
        ope.doubly_robust(
            rewards, behavior, target, logged_hat, dm_target, interval=interval, seed=0
        ),
    ]
    measured = ope.direct_method(rewards, interval=interval, seed=0)
    return {
        "policy": policy.name,
        "n": len(usable),
        "left_out": left_out,
        "logged_mean": _row(measured) | {"method": "measured"},
        "estimates": [_row(e) for e in estimates],
    }


def _commonest_shape(rows: Sequence[Logged]) -> str:
    counts = Counter(shape for r in rows for shape in r.contexts)
    return counts.most_common(1)[0][0] if counts else ""


def _row(e: ope.Estimate) -> dict[str, Any]:
    return {
        "method": e.method,
        "value": round(e.value, 6),
        "low": round(e.low, 6),
        "high": round(e.high, 6),
        "interval": e.interval,
        "effective_n": None if e.effective_n is None else round(e.effective_n, 1),
    }


def agreement(rows: Sequence[Logged]) -> dict[str, Any]:
    """How often the shadow bandit would have proposed what was served (first items)."""
    judged = [r for r in rows if r.rank == 0 and r.shadow is not None]
    same = sum(1 for r in judged if r.shadow == r.offer_id)
    return {"decisions": len(judged), "agreement": round(same / len(judged), 6) if judged else None}


def table(result: dict[str, Any]) -> str:
    """The result as a text table (the CLI's output)."""
    lines = [
        f"policy {result['policy']}: {result['n']} logged decisions"
        + (
            f" ({result['left_out']} left out: features or candidates unknown)"
            if result["left_out"]
            else ""
        ),
    ]
    if not result["n"]:
        return lines[0]
    lines.append(f"{'estimator':<10} {'value':>10} {'95% interval':>24} {'eff. n':>9}  interval")
    for row in [result["logged_mean"], *result["estimates"]]:
        eff = "" if row["effective_n"] is None else f"{row['effective_n']:.1f}"
        span = f"[{row['low']:.4f}, {row['high']:.4f}]"
        name = "logged" if row["method"] == "measured" else row["method"]
        lines.append(f"{name:<10} {row['value']:>10.4f} {span:>24} {eff:>9}  {row['interval']}")
    return "\n".join(lines)
