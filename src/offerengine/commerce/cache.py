"""Each worker's quotes by request hash, while they are valid."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

CACHE_BYTES = 64 * 1024 * 1024  # per worker: ~3,500 explained 10-item quotes
Key = tuple[uuid.UUID, str]  # tenant, request hash


@dataclass(frozen=True, slots=True)
class Cached:
    quote_id: uuid.UUID
    valid_until: datetime
    data: bytes  # the response's data, encoded


class QuoteCache:
    """This worker's quotes by request hash, while they are valid; bounded by the bytes of their
    answers (the least recently used go first)."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._by_hash: OrderedDict[Key, Cached] = OrderedDict()
        self._by_id: dict[uuid.UUID, Key] = {}

    def __len__(self) -> int:
        return len(self._by_hash)

    @property
    def size(self) -> int:
        """Bytes of the answers held."""
        return self._bytes

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
        self._drop((tenant_id, digest))
        self._by_hash[(tenant_id, digest)] = cached
        self._by_id[cached.quote_id] = (tenant_id, digest)
        self._bytes += len(cached.data)
        while self._bytes > self._max_bytes and self._by_hash:
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
            self._bytes -= len(cached.data)
