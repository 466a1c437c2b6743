"""A client that sends its body slowly holds nothing another request needs: an admin route
that reads its body itself (flights) reads it before the unit of work opens,
so on SQLite the write lock (taken when a writer's transaction begins) is not held while the
bytes trickle in, and other writes go on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.helpers import SEAT, Api, create_key, create_tenant
from tests.servers import serve

pytestmark = pytest.mark.slow
PAUSE_SECONDS = 4.0


def test_a_slow_upload_of_flights_does_not_hold_up_other_writes(
    sqlite_url: str, tmp_path: Path
) -> None:
    with serve(sqlite_url, tmp_path) as base, httpx.Client(base_url=base, timeout=30) as client:
        create_tenant(client, "SU")
        owner = Api(client, create_key(client, "SU", "owner"))
        sent = threading.Event()

        def trickle() -> Iterator[bytes]:
            yield b'{"flights": ['
            sent.set()
            time.sleep(PAUSE_SECONDS)  # the client's network, slow
            yield b"]}"

        def upload() -> None:
            with httpx.Client(base_url=base, timeout=30) as own:
                Api(own, owner.key).post(
                    "/v1/admin/tenants/SU/flights",
                    content=trickle(),
                    headers={"Content-Type": "application/json"},
                )

        uploading = threading.Thread(target=upload)
        uploading.start()
        try:
            assert sent.wait(10)
            time.sleep(0.5)  # the server has the request's head and the body's first bytes
            started = time.monotonic()
            created = owner.post("/v1/admin/tenants/SU/products", json=SEAT)
            took = time.monotonic() - started
        finally:
            uploading.join(timeout=30)
        assert created.status_code == 201, created.text
        assert took < PAUSE_SECONDS / 2, f"a write waited {took:.1f} s for a slow upload"
