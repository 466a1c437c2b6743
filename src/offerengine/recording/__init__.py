"""What run time answered, recorded: typed records (:mod:`.records`), the embedded write-behind
(:mod:`.writer`), Redis streams and their consumers (:mod:`.stream`, :mod:`.consumer`), the
database side (:mod:`.store`) and the dead letters (:mod:`.service`).

Every run-time flow records the same way: ``await ctx.recorder.record(*records)``, where the
recorder is a :class:`Recording` of either kind.
"""

from __future__ import annotations

from typing import Any, Protocol

from offerengine.recording.records import OfferBody, Record


class Recording(Protocol):
    """What flows, lookups and the app's lifespan use of a recorder."""

    async def record(self, *records: Record) -> None:
        """Keep ``records``: written behind (embedded) or appended before the answer (stream)."""

    async def young(self, key: tuple[Any, ...]) -> Record | None:
        """A record made moments ago and perhaps not stored yet, by its key."""

    async def young_body(self, body_id: str) -> OfferBody | None:
        """An offer body a young search made."""

    async def catch_up(self) -> None:
        """Wait while the backlog is too long (backpressure)."""

    async def flush(self) -> int:
        """Store, or wait until consumers have stored, what this worker recorded."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...
