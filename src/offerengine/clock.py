"""The time now, timezone-aware in UTC: one function every layer may import (routers read the
clock for the use cases they call; storage stamps rows with it)."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def start_of_day(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)
