"""What a worker's searches share, so that alike searches do not rank or price twice.

- :class:`ResultCache`: identical searches (same snapshot, search, experiment treatment and
  personal estimates) reuse one ranking, with new ids and expiry, while the *stamp* it was ranked
  under holds: the generation of its flights' counters and the read of the conversion counts.
- :class:`MemoCache`: searches with the same party, customer, channel, context and currency
  against the same snapshot and the same inventory read share prices and items (a
  :class:`core.Memo`), whatever their route and day.

Both are per worker and short-lived; orders and re-pricing never use them.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import msgspec

from offerengine.shopping import core
from offerengine.shopping.showing import Ranked, shared_basis
from offerengine.snapshots.core import Snapshot

MEMOS_PER_TENANT = 256

_encode_key = msgspec.json.Encoder().encode


class ResultCache:
    """Ranked offers of identical searches, per worker: reused for up to ``seconds`` while the
    counters of the search's flights and the conversion counts read the same (see
    ``ShopRuntime.stamp``); cleared when this worker changes inventory."""

    def __init__(self, seconds: float, size: int = 2048) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: dict[bytes, tuple[float, tuple[Any, ...], Ranked]] = {}

    def key(
        self,
        snapshot: Snapshot,
        search: core.Search,
        treatment: core.Treatment | None,
        conversion: Any = None,
    ) -> bytes | None:
        """Identical searches given the same experiment treatment share results; with a personal
        ``conversion``, only while its estimates are the same too (a Thompson draw never is)."""
        if self.seconds <= 0:
            return None
        varied = None
        if treatment is not None:
            varied = (
                sorted(treatment.tags),
                None if treatment.bundles is None else sorted(treatment.bundles),
                None if treatment.weights is None else [str(w) for w in treatment.weights],
            )
        return _encode_key(
            (str(snapshot.tenant.id), snapshot.version, shared_basis(search), varied, conversion)
        )

    def get(self, key: bytes, stamp: tuple[Any, ...], at: datetime) -> Ranked | None:
        found = self._entries.get(key)
        if found is None or found[1] != stamp or time.monotonic() - found[0] > self.seconds:
            return None
        ranked = found[2]
        if ranked.leaves is not None and ranked.leaves <= at:
            return None  # a flight it offers has left since
        return ranked

    def put(self, key: bytes, stamp: tuple[Any, ...], ranked: Ranked) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (time.monotonic(), stamp, ranked)

    def clear(self) -> None:
        self._entries.clear()


class MemoCache:
    """Per tenant, the memos of searches against one inventory read: dropped with it."""

    def __init__(self) -> None:
        self._memos: dict[uuid.UUID, tuple[float | None, dict[bytes, core.Memo]]] = {}

    def get(
        self,
        snapshot: Snapshot,
        search: core.Search,
        treatment: core.Treatment | None,
        read_at: float | None,
    ) -> core.Memo | None:
        """The memo shared by searches with this party, customer, channel, context and currency
        against the same snapshot and the inventory read made at ``read_at``; None when there is
        no cached read (``read_at`` None)."""
        if read_at is None:
            return None
        tenant_id = snapshot.tenant.id
        stamp, memos = self._memos.get(tenant_id, (None, {}))
        # Few kinds of search share a memo (party sizes × segments × channels, typically); a
        # context fact of each search's own makes one memo per search, never shared: bounded.
        if stamp != read_at or len(memos) > MEMOS_PER_TENANT:
            memos = {}
            self._memos[tenant_id] = (read_at, memos)
        basis = shared_basis(search)
        for name in ("origin", "destination", "date", "slices"):  # a journey's type stays
            basis.pop(name, None)
        key = _encode_key(
            (
                snapshot.version,
                basis,
                sorted(treatment.tags) if treatment else None,
                sorted(treatment.bundles) if treatment and treatment.bundles is not None else None,
            )
        )
        found = memos.get(key)
        if found is None:
            found = memos[key] = core.Memo()
        return found

    def forget(self, tenant_id: uuid.UUID) -> None:
        self._memos.pop(tenant_id, None)

    def clear(self) -> None:
        self._memos.clear()
