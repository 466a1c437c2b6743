"""Unconstraining: the demand behind bookings that a closed class cut short.

A fare family that closed during a booking period sold less than was asked for: its bookings
there are a lower bound of demand (censored), and averaging them as they are forecasts too little,
which closes the family earlier next time (the spiral down of RM folklore). The classic remedy is
expectation–maximisation under a normal demand model (McGill; Talluri & van Ryzin §9.4): start from
the plain mean and standard deviation, replace each censored value by its expectation given that
demand was at least what was booked, re-estimate, repeat until the estimates settle.

For a normal N(μ, σ²) and a value x known only as a lower bound, with z = (x − μ)/σ and the hazard
h = φ(z)/(1 − Φ(z)):

    E[D | D ≥ x] = μ + σ h
    E[D² | D ≥ x] = μ² + σ² + σ (x + μ) h

Columns are unconstrained side by side (one per family and booking period): arrays in, arrays out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import log_ndtr

MAX_ROUNDS = 60
TOLERANCE = 1e-6
MIN_SD = 0.5  # bookings are counts: a spread below half a booking says nothing more
_LOG_ROOT_TAU = 0.5 * math.log(2 * math.pi)


@dataclass(frozen=True, slots=True)
class Unconstrained:
    """Per column, the demand estimate and each observation with censored ones replaced."""

    mean: NDArray[np.float64]  # (columns,)
    sd: NDArray[np.float64]  # (columns,)
    values: NDArray[np.float64]  # (rows, columns): observed, or E[D | D ≥ observed] if censored
    rounds: int  # EM rounds taken by the slowest column


def unconstrain(
    observed: NDArray[np.float64], censored: NDArray[np.bool_], weights: NDArray[np.float64]
) -> Unconstrained:
    """Unconstrain ``observed`` (rows × columns) where ``censored``; rows count by ``weights``
    (0 leaves a row out). A column with no uncensored row keeps its plain estimate: without one
    value known exactly nothing anchors the model, and EM would climb without bound.

    Only the censored cells are revisited each round (their sums by column with ``bincount``):
    the open ones' sums are fixed, and closures are the exception in a history."""
    x = np.asarray(observed, dtype=np.float64)
    w = np.broadcast_to(np.asarray(weights, dtype=np.float64)[:, None], x.shape)
    closed = np.asarray(censored, dtype=bool) & (w > 0)
    columns = x.shape[1]
    total = np.maximum(w.sum(axis=0), 1e-12)
    mu = (w * x).sum(axis=0) / total
    sd = _spread((w * x * x).sum(axis=0) / total, mu)
    anchored = ((~closed) & (w > 0)).any(axis=0)
    rows, cols = np.nonzero(closed & anchored)
    lower, weight = x[rows, cols], w[rows, cols]
    open_sum = (np.where(closed, 0.0, w * x)).sum(axis=0)
    open_squares = (np.where(closed, 0.0, w * x * x)).sum(axis=0)
    active = np.zeros(columns, dtype=bool)
    active[cols] = True
    rounds = 0
    while active.any() and rounds < MAX_ROUNDS:
        rounds += 1
        first, second = _tail(lower, mu[cols], sd[cols])
        new_mu = (open_sum + np.bincount(cols, weight * first, columns)) / total
        squares = (open_squares + np.bincount(cols, weight * second, columns)) / total
        new_sd = _spread(squares, new_mu)
        moved = np.abs(new_mu - mu) + np.abs(new_sd - sd)
        mu = np.where(active, new_mu, mu)
        sd = np.where(active, new_sd, sd)
        active &= moved > TOLERANCE
    values = x.copy()
    values[rows, cols] = _tail(lower, mu[cols], sd[cols])[0]
    return Unconstrained(mu, sd, values, rounds)


def _spread(squares: NDArray[np.float64], mu: NDArray[np.float64]) -> NDArray[np.float64]:
    """The standard deviation from E[D²] and the mean, never under ``MIN_SD``."""
    spread: NDArray[np.float64] = np.sqrt(np.maximum(squares - mu * mu, MIN_SD * MIN_SD))
    return spread


def _tail(
    lower: NDArray[np.float64], mu: NDArray[np.float64], sd: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """E[D | D ≥ lower] and E[D² | D ≥ lower] under N(mu, sd²)."""
    z = (lower - mu) / sd
    hazard = np.exp(-0.5 * z * z - _LOG_ROOT_TAU - log_ndtr(-z))
    first = mu + sd * hazard
    second = mu * mu + sd * sd + sd * (lower + mu) * hazard
    return first, second
