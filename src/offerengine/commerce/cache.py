"""Each worker's quotes by request hash, while they are valid."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

CACHE_LIMIT = 100_000
Key = tuple[uuid.UUID, str]  # tenant, request hash


@dataclass(frozen=True, slots=True)
class Cached:
    quote_id: uuid.UUID
    valid_until: datetime
    data: bytes  # the response's data, encoded


class QuoteCache:
    """This worker's quotes by request hash, while they are valid (least recently used out)."""

    def __init__(self, limit: int = CACHE_LIMIT) -> None:
        self._limit = limit
        self._by_hash: OrderedDict[Key, Cached] = OrderedDict()
        self._by_id: dict[uuid.UUID, Key] = {}

    def get(self, tenant_id: uuid.UUID, digest: str, now: datetime) -> Cached | None:
        found = self._by_hash.get((tenant_id, digest))
        if found is None:
            return None
        if found.valid_until <= now:
            self._drop((tenant_id, digest))
            return None
        self._by_hash.move_to_end((tenant_id, digest))
        return found

    def put(self, tenant_id: uuid.UUID, digest: str, cached: Cached) -> None:
        self._by_hash[(tenant_id, digest)] = cached
        self._by_id[cached.quote_id] = (tenant_id, digest)
        while len(self._by_hash) > self._limit:
            self._drop(next(iter(self._by_hash)))

    def forget(self, quote_id: uuid.UUID) -> None:
        """An accepted quote is no longer offered to an identical request."""
        found = self._by_id.get(quote_id)
        if found is not None:
            self._drop(found)

    def _drop(self, key: Key) -> None:
        cached = self._by_hash.pop(key, None)
        if cached is not None:
            self._by_id.pop(cached.quote_id, None)
