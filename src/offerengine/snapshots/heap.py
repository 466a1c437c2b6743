"""Keeping the compiled snapshots out of the garbage collector's way.

A worker's largest and longest-lived heap is its snapshots: tens of thousands of tracked objects
per tenant. CPython's cyclic collector rescans every tracked object on each full (generation 2)
collection, and those come every few hundred requests as request garbage is promoted: with a
1,200-offer tenant held, each full collection stopped the worker for 75–116 ms (measured on the
2-core CI box, 2026-12-07), and those pauses alone set the p99 of decisions at 16 connections.

After a snapshot is swapped in, :func:`settle` moves everything alive into the permanent
generation (``gc.freeze``), so full collections scan only what requests leave behind. Frozen
objects are still freed by reference counting; only a frozen *cycle* would wait. So that a
replaced snapshot's cycles do not accumulate, a settle at most every ``FULL_EVERY`` seconds first
unfreezes and runs one full collection: one pause per configuration change at worst, instead of
one every few hundred requests.
"""

from __future__ import annotations

import gc
import time

FULL_EVERY = 60.0  # seconds between full collections triggered by swaps


class Heap:
    """When this worker last collected in full, to bound settles' own pauses."""

    def __init__(self, full_every: float = FULL_EVERY) -> None:
        self._full_every = full_every
        self._last_full = float("-inf")

    def settle(self) -> None:
        """Freeze what is alive now (a fresh snapshot included) out of future collections."""
        now = time.monotonic()
        if now - self._last_full >= self._full_every:
            gc.unfreeze()
            gc.collect()
            self._last_full = now
        gc.freeze()

    def keep(self) -> None:
        """Freeze what is alive now, without a full collection: after a patch, whose garbage is
        a few replaced parts (freed by reference counting). The next whole build's settle
        collects any cycle among them; a full collection of a large tenant's heap would stop the
        worker for as long as it scans it, at every change."""
        gc.freeze()
