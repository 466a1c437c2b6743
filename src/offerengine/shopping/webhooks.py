"""Low-inventory notices to the tenant's webhook: POSTed after the order that caused them commits,
in the background, retried with backoff, never blocking or failing a request."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx2 as httpx

from offerengine.observability.logging import get_logger

log = get_logger("offerengine.webhooks")
ATTEMPTS = 4
FIRST_DELAY = 0.5  # seconds; doubled after each failure


class Notifier:
    def __init__(self, *, timeout: float = 5.0) -> None:
        self._timeout = timeout
        self._tasks: set[asyncio.Task[bool]] = set()

    def send(self, url: str, payload: Mapping[str, Any]) -> None:
        task = asyncio.create_task(self._deliver(url, dict(payload)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, payload: dict[str, Any]) -> bool:
        delay = FIRST_DELAY
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with httpx.AsyncClient(timeout=self._timeout) as client:
                    response = await client.post(url, json=payload)
                if response.status_code < 300:
                    return True
                error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = str(exc) or type(exc).__name__
            log.warning("webhook_failed", url=url, attempt=attempt, error=error)
            if attempt < ATTEMPTS:
                await asyncio.sleep(delay)
                delay *= 2
        return False

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
