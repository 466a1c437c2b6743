"""A flood of bad admin logins against a real two-worker server sharing its counts through Redis:
guesses at the owner's password from six addresses, all at once. No address gets more guesses
than its free ones across both workers together (counted before the password is checked, so
however slow the checks), every refusal is a 429 (or a busy 503) with
Retry-After, the owner still logs in from her own address in the middle of it, and run-time reads
on the same workers stay fast (passwords are checked off the event loop).

Each guess that is let through costs an argon2 check (about 0.1 s of a core on a quiet box, 0.9 s
on a loaded one), one at a time per worker: the flood is sized to stay bounded there. The count
per address over many emails (30 free) is left to tests/e2e/test_admin_security.py and the unit
tests of the throttle, as reaching it costs 30 checks more."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
import pytest
import redis

from tests.conftest import make_settings
from tests.e2e.test_admin_sessions import PASSWORD, add_user
from tests.helpers import Api, create_key, create_tenant
from tests.servers import serve

pytestmark = [pytest.mark.redis, pytest.mark.slow]
OWNER = "owner@example.com"
ATTACKERS = [f"203.0.113.{n}" for n in range(1, 7)]  # each guesses the owner's password
HOME = "192.0.2.7"  # the owner's own address
GUESSES = 8  # per attacker: more than the 5 free ones of an (email, address) pair
READ_LIMIT = 3.0  # seconds: no run-time read slower than this during the flood


class Login:
    """A client at ``address`` (as a trusted proxy says) with the login page's CSRF token and
    cookie in hand, ready to send the form."""

    def __init__(self, base: str, address: str) -> None:
        # Patient: a login waits its turn for the worker's argon2 thread, behind the flood's.
        headers = {"X-Forwarded-For": address}
        self.client = httpx.AsyncClient(base_url=base, timeout=90, headers=headers)
        self.address = address
        self.token = ""

    async def open(self) -> None:
        page = await self.client.get("/admin/login")
        assert page.status_code == 200, page.text[:300]
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, page.text[:300]
        self.token = found.group(1)

    async def send(self, email: str, password: str) -> httpx.Response:
        form = {"email": email, "password": password, "csrf_token": self.token, "next": "/admin"}
        try:
            return await self.client.post("/admin/login", data=form)
        finally:
            await self.client.aclose()


@dataclass
class Flood:
    """What the flood came to: statuses by address, what was wrong, the reads' seconds, the
    owner's login (status, seconds) and how long the guesses took."""

    by_address: dict[str, Counter[int]] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)
    reads: list[float] = field(default_factory=list)
    owner: tuple[int, float] = (0, 0.0)
    seconds: float = 0.0


async def _flood(base: str, runtime_key: str) -> Flood:
    """Every guess's login page first; then every form at once, the owner's among them, while
    run-time reads go on."""
    guesses = [Login(base, a) for _ in range(GUESSES) for a in ATTACKERS]
    mine = Login(base, HOME)
    await asyncio.gather(*(login.open() for login in [*guesses, mine]))
    flood = Flood()
    by_address, wrong, reads = flood.by_address, flood.wrong, flood.reads
    done = asyncio.Event()

    async def guess(login: Login, n: int) -> None:
        answer = await login.send(OWNER, f"guess {n}")
        by_address.setdefault(login.address, Counter())[answer.status_code] += 1
        if answer.status_code in (429, 503):
            if not answer.headers.get("retry-after"):
                wrong.append(f"{answer.status_code} without Retry-After")
        elif answer.status_code != 401:
            wrong.append(f"{login.address}: {answer.status_code} {answer.text[:200]}")

    async def reader() -> None:
        headers = {"Authorization": f"Bearer {runtime_key}"}
        async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as client:
            while not done.is_set():
                started = time.perf_counter()
                answer = await client.get("/v1/catalog/products")
                reads.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    wrong.append(f"read: {answer.status_code} {answer.text[:200]}")
                await asyncio.sleep(0.05)

    async def owner() -> tuple[int, float]:
        await asyncio.sleep(0.2)  # in the thick of it
        started = time.perf_counter()
        answer = await mine.send(OWNER, PASSWORD)
        return answer.status_code, time.perf_counter() - started

    started = time.perf_counter()
    reading = asyncio.create_task(reader())
    own = asyncio.create_task(owner())
    await asyncio.gather(*(guess(login, n) for n, login in enumerate(guesses)))
    flood.seconds = time.perf_counter() - started
    flood.owner = await own
    done.set()
    await reading
    return flood


def test_a_login_flood_is_throttled_across_workers_without_locking_out_the_owner(
    sqlite_url: str, tmp_path: Path, redis_url: str
) -> None:
    env = {"OFFERENGINE_TRUSTED_PROXIES": "127.0.0.1"}
    prefix = f"oe-flood-{uuid.uuid4().hex[:8]}"
    with (
        serve(
            sqlite_url, tmp_path, workers=2, redis_url=redis_url, redis_prefix=prefix, extra_env=env
        ) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        create_tenant(client, "AA")
        add_user(make_settings(sqlite_url, tmp_path), OWNER, "owner")
        runtime = create_key(client, "AA", "runtime")
        assert Api(client, runtime).get("/v1/catalog/products").status_code == 200
        found = asyncio.run(_flood(base, runtime))
    shared = redis.Redis.from_url(redis_url)
    try:
        keys = list(shared.scan_iter(f"{prefix}:*"))
        assert any(b":{login}:" in key for key in keys)  # the counts were Redis's
        shared.delete(*keys)
    finally:
        shared.close()
    by_address, reads = found.by_address, sorted(found.reads)
    summary = {
        "seconds": round(found.seconds, 1),
        "statuses": dict(sum(by_address.values(), Counter())),
        "owner": (found.owner[0], round(found.owner[1], 1)),
        "reads": len(reads),
        "read_p50_ms": round(statistics.median(reads) * 1000),
        "read_max_ms": round(reads[-1] * 1000),
    }
    print(summary)
    assert found.wrong == [], found.wrong
    # The counts are shared: no address got past its free guesses on both workers together.
    for address in ATTACKERS:
        assert by_address[address][401] <= 5, (address, by_address[address])
        assert by_address[address][429] > 0, (address, by_address[address])
    assert found.owner[0] == 303, summary  # in, from her own address
    assert reads, "no read during the flood"
    assert reads[-1] < READ_LIMIT, summary
