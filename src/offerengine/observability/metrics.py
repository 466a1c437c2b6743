"""Prometheus metrics: request count and latency by route template, method and status.

With several worker processes, ``PROMETHEUS_MULTIPROC_DIR`` must name a folder shared by the workers
(``offerengine serve`` sets it up); ``/metrics`` then aggregates every worker.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_multiprocess

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LABELS = ("method", "route", "status")


class Metrics:
    """The metrics of one app instance (a registry of its own, so several apps can coexist)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "offerengine_http_requests",
            "HTTP requests handled, by route template, method and status.",
            _LABELS,
            registry=self.registry,
        )
        self.latency = Histogram(
            "offerengine_http_request_duration_seconds",
            "Time from the request's first byte to the end of the response, by route and status.",
            _LABELS,
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "offerengine_decisions",
            "Decision requests answered; dry_run=true ones counted nothing and recorded nothing.",
            ("dry_run",),
            registry=self.registry,
        )
        self.records_appended = Counter(
            "offerengine_records_appended",
            "Run-time records kept to be stored (searches, decisions, quotes, exposures), by kind.",
            ("kind",),
            registry=self.registry,
        )
        self.records_stored = Counter(
            "offerengine_records_stored",
            "Run-time records written to the database, by kind.",
            ("kind",),
            registry=self.registry,
        )
        self.records_dead_lettered = Counter(
            "offerengine_records_dead_lettered",
            "Run-time records the database refused, set aside in the dead-letter table, by kind.",
            ("kind",),
            registry=self.registry,
        )
        self.records_pending = Gauge(
            "offerengine_records_pending",
            "Run-time records kept in memory and not written yet (the embedded writer's backlog).",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.records_consumed = Counter(
            "offerengine_records_consumed",
            "Stream entries a consumer read, stored and acknowledged.",
            registry=self.registry,
        )
        self.records_lag = Gauge(
            "offerengine_records_lag",
            "Entries of a record stream not yet delivered to the consumer group, by stream "
            "(reported by consumers).",
            ("stream",),
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self._kinds: dict[str, tuple[Counter, Counter, Counter]] = {}
        self._decided = {dry: self.decisions.labels(str(dry).lower()) for dry in (False, True)}
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe_decision(self, dry_run: bool) -> None:
        self._decided[dry_run].inc()

    def _of_kind(self, kind: str) -> tuple[Counter, Counter, Counter]:
        found = self._kinds.get(kind)
        if found is None:
            found = self._kinds[kind] = (
                self.records_appended.labels(kind),
                self.records_stored.labels(kind),
                self.records_dead_lettered.labels(kind),
            )
        return found

    def observe_appended(self, records: Iterable[Any]) -> None:
        """Records kept to be stored (each has a ``key`` whose first part is its kind)."""
        for record in records:
            self._of_kind(record.key[0])[0].inc()

    def observe_records(
        self, *, written: Iterable[str], refused: Iterable[str], pending: int | None
    ) -> None:
        """What a flush or a consumer's batch did: the kinds of the records it wrote and set
        aside, and what is left pending in memory (None: nothing is kept in memory)."""
        for kind, n in collections.Counter(written).items():
            self._of_kind(kind)[1].inc(n)
        for kind, n in collections.Counter(refused).items():
            self._of_kind(kind)[2].inc(n)
        if pending is not None:
            self.records_pending.set(pending)

    def observe_consumed(self, entries: int) -> None:
        self.records_consumed.inc(entries)

    def observe_lag(self, stream: str, lag: int | None) -> None:
        if lag is not None:
            self.records_lag.labels(stream).set(lag)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            labels = (method, route, str(status))
            children = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            prom_multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
