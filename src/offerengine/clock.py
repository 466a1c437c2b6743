"""The time now, timezone-aware in UTC: one function every layer may import (routers read the
clock for the use cases they call; storage stamps rows with it)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
