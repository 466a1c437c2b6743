"""The admin login throttle, in process, on a fake clock: growing waits per (account, address)
and per address, a bounded slow-down per account that never refuses, and passwords checked off
the event loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Literal

from argon2 import PasswordHasher

from offerengine.auth.sessions import Passwords, PasswordsBusy, hash_password
from offerengine.auth.throttle import Backoff, LoginGuard, LoginPolicy, MemoryFailures

OWNER = "owner-tag"
ATTACKER = "203.0.113.9"
HOME = "198.51.100.7"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_guard(clock: Clock, policy: LoginPolicy | None = None) -> LoginGuard:
    return LoginGuard(MemoryFailures(), policy or LoginPolicy(), clock=clock)


async def fail(guard: LoginGuard, account: str, address: str) -> float:
    """One wrong password; the wait the throttle asked for instead, if it refused."""
    attempt = await guard.attempt(account, address)
    return attempt.wait


async def test_the_owner_gets_in_after_an_attackers_twenty_bad_attempts_elsewhere() -> None:
    clock = Clock()
    guard = make_guard(clock)
    refused = [await fail(guard, OWNER, ATTACKER) for _ in range(20)]
    assert any(wait > 0 for wait in refused)  # the attacker is held back
    mine = await guard.attempt(OWNER, HOME)
    assert mine.wait == 0
    assert mine.slow <= LoginPolicy().account.cap


async def test_an_attack_from_many_addresses_only_slows_the_account_and_boundedly() -> None:
    clock = Clock()
    guard = make_guard(clock)
    for n in range(200):
        await fail(guard, OWNER, f"192.0.2.{n}")
    mine = await guard.attempt(OWNER, HOME)
    assert mine.wait == 0  # never refused
    assert 0 < mine.slow <= LoginPolicy().account.cap


async def test_waits_grow_per_account_and_address_and_stop_at_their_cap() -> None:
    clock = Clock()
    policy = LoginPolicy(pair=Backoff(free=3, base=2, cap=30, forget=3600))
    guard = make_guard(clock, policy)
    for _ in range(3):
        assert await fail(guard, OWNER, ATTACKER) == 0
    waits = []
    for _ in range(6):
        wait = await fail(guard, OWNER, ATTACKER)
        waits.append(wait)
        clock.now += wait  # the attacker waits as told, then fails again
        assert await fail(guard, OWNER, ATTACKER) == 0
    assert waits == [2, 4, 8, 16, 30, 30]
    clock.now += 3600 + 1  # forgotten an hour after the last failure
    assert [await fail(guard, OWNER, ATTACKER) for _ in range(3)] == [0, 0, 0]


async def test_one_address_guessing_many_accounts_is_refused() -> None:
    clock = Clock()
    policy = LoginPolicy(address=Backoff(free=10, base=1, cap=60, forget=3600))
    guard = make_guard(clock, policy)
    for n in range(10):
        assert await fail(guard, f"account-{n}", ATTACKER) == 0
    assert await fail(guard, "account-new", ATTACKER) > 0
    assert (await guard.attempt("account-new", HOME)).wait == 0  # another address is not


async def test_a_success_clears_the_pair_and_takes_back_its_attempt() -> None:
    clock = Clock()
    policy = LoginPolicy(pair=Backoff(free=3, base=2, cap=30, forget=3600))
    guard = make_guard(clock, policy)
    for _ in range(2):
        await fail(guard, OWNER, HOME)
    await guard.succeeded(await guard.attempt(OWNER, HOME))
    assert [await fail(guard, OWNER, HOME) for _ in range(3)] == [0, 0, 0]


async def test_concurrent_attempts_never_get_past_the_free_ones() -> None:
    clock = Clock()
    guard = make_guard(clock)
    found = await asyncio.gather(*(guard.attempt(OWNER, ATTACKER) for _ in range(40)))
    allowed = [a for a in found if a.wait == 0]
    assert len(allowed) == LoginPolicy().pair.free


async def test_the_in_process_counts_stay_bounded() -> None:
    clock = Clock()
    failures = MemoryFailures(max_keys=30)
    guard = LoginGuard(failures, LoginPolicy(), clock=clock)
    for _ in range(6):
        await guard.attempt(OWNER, ATTACKER)
    for n in range(100):
        clock.now += 0.001
        await guard.attempt(f"other-{n}", f"192.0.2.{n % 250}")
    assert len(failures) <= 30


class ThreadNotingHasher(PasswordHasher):
    """argon2 itself, noting whether each check ran on a thread with an event loop running."""

    def __init__(self) -> None:
        super().__init__()
        self.on_event_loop: list[bool] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        try:
            asyncio.get_running_loop()
            self.on_event_loop.append(True)
        except RuntimeError:
            self.on_event_loop.append(False)
        return super().verify(hash, password)


async def test_passwords_are_checked_on_a_worker_thread_not_the_event_loop() -> None:
    hasher = ThreadNotingHasher()
    passwords = Passwords(hasher=hasher, concurrency=1)
    stored = hash_password("a long enough password")
    ticks = 0
    done = False

    async def tick() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    found = await asyncio.gather(
        passwords.check(stored, "a long enough password"), passwords.check(stored, "wrong")
    )
    done = True
    await ticker
    assert list(found) == [True, False]
    assert hasher.on_event_loop == [False, False]
    assert threading.current_thread() is threading.main_thread()
    assert ticks > 10  # the loop kept turning while argon2 worked


async def test_checks_past_the_queue_are_shed() -> None:
    passwords = Passwords(concurrency=1, queue=1)
    stored = hash_password("a long enough password")
    found = await asyncio.gather(
        *(passwords.check(stored, "wrong") for _ in range(4)), return_exceptions=True
    )
    assert sum(isinstance(f, PasswordsBusy) for f in found) == 2
    assert [f for f in found if not isinstance(f, PasswordsBusy)] == [False, False]


async def test_a_flooding_address_waits_behind_one_check_of_each_other_address() -> None:
    """Each address has at most one check in flight or waiting: the owner's login queues behind
    one guess per flooding address, not behind every guess of theirs."""
    passwords = Passwords(concurrency=1, queue=64)
    stored = hash_password("a long enough password")
    flood = [passwords.check(stored, "wrong", by=f"10.0.0.{i % 3}") for i in range(12)]
    found = await asyncio.gather(
        *flood,
        passwords.check(stored, "a long enough password", by="owner"),
        return_exceptions=True,
    )
    assert sum(isinstance(f, PasswordsBusy) for f in found) == 9  # 3 addresses, one check each
    assert found[-1] is True
    # Once an address's check is done, its next one is taken.
    assert await passwords.check(stored, "wrong", by="10.0.0.0") is False
