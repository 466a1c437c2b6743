"""With Redis streams, nothing answered is lost to a ``kill -9``: the whole server (two workers
and their embedded consumers) is killed under load on PostgreSQL, and every quote and offer it
answered with a 200 is readable afterwards and stored once a consumer has caught up."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psycopg
import pytest

from tests.conftest import free_port
from tests.servers import serve

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


def _basket(n: int) -> dict[str, Any]:
    return {
        "customer_id": f"kill-{n}",
        "seller_id": "seller-techstore",
        "items": [
            {
                "product_id": "ELEC-PHONE-CASE",
                "quantity": 1 + n % 3,
                "unit_price": f"{100 + n}.90",
                "category_id": "electronics",
            }
        ],
        "delivery_address": {"street": "Istiklal 1", "city": "Istanbul", "country": "TR"},
        "currency": "TRY",
    }


def _search(n: int) -> dict[str, Any]:
    day = (datetime.now(UTC).date() + timedelta(days=3 + n % 3)).isoformat()
    return {
        "origin": "JFK",
        "destination": "LHR",
        "date": day,
        "passengers": {"adults": 1 + n % 2},
        "customer": {"id": f"kill-{n}", "segment": "leisure"},
    }


def _env(database_url: str, redis_url: str, prefix: str, var_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "OFFERENGINE_DATABASE_URL": database_url,
        "OFFERENGINE_REDIS_URL": redis_url,
        "OFFERENGINE_REDIS_PREFIX": prefix,
        "OFFERENGINE_RECORDS": "stream",
        "OFFERENGINE_CONSUMER_CLAIM_SECONDS": "1",
        "OFFERENGINE_ACCESS_LOG": "false",
        "OFFERENGINE_LOG_LEVEL": "WARNING",
        "OFFERENGINE_VAR_DIR": str(var_dir),
    }


def _keys(var_dir: Path) -> dict[str, str]:
    found = {}
    for line in (var_dir / "demo-keys.env").read_text().splitlines():
        if line.startswith("export "):
            name, value = line.removeprefix("export ").split("=", 1)
            found[name] = value
    return found


def test_nothing_answered_is_lost_when_the_server_is_killed(
    pg_schema_url: str, redis_url: str, tmp_path: Path
) -> None:
    from tests.conftest import reset_postgres

    reset_postgres(pg_schema_url)
    prefix = f"oe-kill-{uuid.uuid4().hex[:8]}"
    env = _env(pg_schema_url, redis_url, prefix, tmp_path)
    subprocess.run(
        [sys.executable, "-m", "offerengine", "demo"], env=env, check=True, capture_output=True
    )
    keys = _keys(tmp_path)
    port = free_port()
    log = (tmp_path / "killed.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "offerengine", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    quotes: list[str] = []
    offers: list[str] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        with httpx.Client(base_url=base, timeout=10) as client:
            n = worker
            while not stop.is_set():
                n += 4
                with contextlib.suppress(httpx.HTTPError):
                    if n % 2:
                        answer = client.post(
                            "/v1/quote",
                            json=_basket(n),
                            headers={"Authorization": f"Bearer {keys['DEMO_MKT_RUNTIME_KEY']}"},
                        )
                        if answer.status_code == 200:
                            quotes.append(answer.json()["data"]["quote_id"])
                    else:
                        answer = client.post(
                            "/v1/offers/search",
                            json=_search(n),
                            headers={"Authorization": f"Bearer {keys['DEMO_OE_RUNTIME_KEY']}"},
                        )
                        if answer.status_code == 200:
                            offers.extend(o["offer_id"] for o in answer.json()["offers"])

    try:
        _wait(base, process)
        threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        os.killpg(process.pid, signal.SIGKILL)  # the whole server, mid-load
        process.wait(timeout=10)
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    finally:
        stop.set()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
    assert len(quotes) >= 20, len(quotes)
    assert len(offers) >= 20, len(offers)

    with (
        serve(
            pg_schema_url,
            tmp_path,
            redis_url=redis_url,
            redis_prefix=prefix,
            extra_env={"OFFERENGINE_RECORDS": "stream", "OFFERENGINE_CONSUMER_CLAIM_SECONDS": "1"},
        ) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        market = {"Authorization": f"Bearer {keys['DEMO_MKT_RUNTIME_KEY']}"}
        airline = {"Authorization": f"Bearer {keys['DEMO_OE_RUNTIME_KEY']}"}
        for quote_id in quotes:
            found = client.get(f"/v1/quotes/{quote_id}", headers=market)
            assert found.status_code == 200, (quote_id, found.text)
        for offer_id in offers:
            found = client.get(f"/v1/offers/{offer_id}", headers=airline)
            assert found.status_code in (200, 410), (offer_id, found.text)  # 410: expired
        # The new server's consumer claims what the killed ones took and stores all of it.
        deadline = time.monotonic() + 60
        while True:
            stored_quotes, stored_searches = _stored(pg_schema_url, quotes, offers)
            if stored_quotes == len(set(quotes)) and stored_searches == len(
                {o[:30] for o in offers}
            ):
                break
            assert time.monotonic() < deadline, (stored_quotes, len(quotes), stored_searches)
            time.sleep(0.5)


def _stored(url: str, quotes: list[str], offers: list[str]) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        found_quotes = conn.execute(
            "SELECT count(*) FROM quotes WHERE id = ANY(%s)", ([uuid.UUID(q) for q in quotes],)
        ).fetchone()
        found_searches = conn.execute(
            "SELECT count(*) FROM shop_searches WHERE id = ANY(%s)",
            (list({o[:30] for o in offers}),),
        ).fetchone()
    assert found_quotes is not None
    assert found_searches is not None
    return int(found_quotes[0]), int(found_searches[0])


def _wait(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                time.sleep(1.0)  # both workers up
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")
