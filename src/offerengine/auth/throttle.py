"""Admin login throttling that slows password guessing without letting anyone lock the owner out.

Three counts of failed logins, each forgotten ``forget`` seconds after its last failure:

1. **(account, address)**: one address guessing one account, and the owner's own typos. After
   ``free`` failures, each further attempt waits ``base · 2^(n − free)`` seconds after the last
   failure, up to ``cap``; an attempt that comes sooner is refused (429, Retry-After) and is not
   counted. A success clears this count.
2. **address**: one address guessing many accounts. The same rule, with more free failures (an
   office behind one address).
3. **account**: many addresses guessing one account. It never refuses: an attacker could
   otherwise keep the owner out from anywhere. Past its free failures it only holds each
   attempt on the account for a growing delay, at most ``cap`` seconds (a few), before the
   password is checked, so the owner's right password from her own address always gets in.

The check and the count are one atomic step (:meth:`FailureStore.take`): every attempt the
throttle lets through is counted as a failure at once, and taken back when the password turns
out right, so that a burst of concurrent guesses gets no further than the free ones. The counts
live in Redis when it is configured (``throttle_redis``: every worker sees them), else in this
process. Plain values in and out: no database, no web framework.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Backoff:
    """How one count grows into a delay."""

    free: int  # failures before any delay
    base: float  # seconds of the first delay
    cap: float  # the longest delay, in seconds
    forget: float  # seconds after the last failure when the count is dropped

    def delay(self, failures: int) -> float:
        """Seconds an attempt waits after the last of ``failures`` failures."""
        if failures < self.free:
            return 0.0
        return min(self.base * 2.0 ** min(failures - self.free, 64), self.cap)


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """The three counts' backoffs."""

    pair: Backoff = Backoff(free=5, base=2.0, cap=900.0, forget=7200.0)
    address: Backoff = Backoff(free=30, base=2.0, cap=900.0, forget=7200.0)
    account: Backoff = Backoff(free=10, base=0.25, cap=2.0, forget=7200.0)  # slows, never refuses


@dataclass(frozen=True, slots=True)
class Count:
    """One count an attempt is checked against: its key, its backoff, whether it refuses."""

    key: str
    backoff: Backoff
    refuses: bool = True


@dataclass(frozen=True, slots=True)
class Taken:
    """What the store found: the wait the refusing counts ask for (0: the attempt was counted)
    and every count's failures before this attempt."""

    wait: float
    failures: tuple[int, ...]


class FailureStore(Protocol):
    """Where the counts live: this process, or Redis."""

    async def take(self, counts: Sequence[Count], now: float) -> Taken:
        """Atomically: the wait of the refusing ``counts``; if none, one failure on each."""
        ...

    async def settle(self, *, clear: Sequence[str], take_back: Sequence[str]) -> None:
        """Drop the counts ``clear``; take one failure back from each of ``take_back``."""
        ...


@dataclass(frozen=True, slots=True)
class Attempt:
    """The throttle's answer to one login attempt."""

    wait: float  # > 0: refused; seconds until this account may be tried from this address
    slow: float  # seconds to hold an attempt let through before its password is checked
    keys: tuple[str, str, str] = field(repr=False)  # (pair, address, account)


class LoginGuard:
    """Counts failed admin logins per (account, address), per address and per account."""

    def __init__(
        self,
        store: FailureStore,
        policy: LoginPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.policy = policy or LoginPolicy()
        self._clock = clock  # wall time: workers on several hosts compare it through Redis

    async def attempt(self, account: str, address: str) -> Attempt:
        """Let an attempt on ``account`` (a keyed digest, never the email) from ``address``
        through, counted as a failure until :meth:`succeeded` says otherwise, or refuse it."""
        policy = self.policy
        keys = (f"pair:{account}:{address}", f"address:{address}", f"account:{account}")
        counts = (
            Count(keys[0], policy.pair),
            Count(keys[1], policy.address),
            Count(keys[2], policy.account, refuses=False),
        )
        taken = await self._store.take(counts, self._clock())
        if taken.wait > 0:
            return Attempt(taken.wait, 0.0, keys)
        return Attempt(0.0, policy.account.delay(taken.failures[2]), keys)

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: clear the pair; the address and account get their attempt
        back (a success must not reset an address, or one known password would unlock
        guessing at every other account from it)."""
        pair, address, account = attempt.keys
        await self._store.settle(clear=[pair], take_back=[address, account])

    async def unchecked(self, attempt: Attempt) -> None:
        """The password was never checked (the server was busy): take the attempt back."""
        await self._store.settle(clear=[], take_back=list(attempt.keys))


class MemoryFailures:
    """The counts of this process, the least recently failed dropped first past ``max_keys``."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._max_keys = max_keys
        self._counts: dict[str, tuple[int, float, float]] = {}  # failures, last, forget-after

    def __len__(self) -> int:
        return len(self._counts)

    def _failures(self, key: str, now: float) -> tuple[int, float]:
        found = self._counts.get(key)
        if found is None or now >= found[2]:
            return 0, 0.0
        return found[0], found[1]

    async def take(self, counts: Sequence[Count], now: float) -> Taken:
        found = [self._failures(c.key, now) for c in counts]
        wait = max(
            (
                last + c.backoff.delay(n) - now
                for c, (n, last) in zip(counts, found, strict=True)
                if c.refuses
            ),
            default=0.0,
        )
        if wait > 0:
            return Taken(wait, tuple(n for n, _ in found))
        for count, (n, _) in zip(counts, found, strict=True):
            self._counts.pop(count.key, None)  # re-inserted last: the most recent
            self._counts[count.key] = (n + 1, now, now + count.backoff.forget)
        while len(self._counts) > self._max_keys:
            del self._counts[next(iter(self._counts))]
        return Taken(0.0, tuple(n for n, _ in found))

    async def settle(self, *, clear: Sequence[str], take_back: Sequence[str]) -> None:
        for key in clear:
            self._counts.pop(key, None)
        for key in take_back:
            found = self._counts.get(key)
            if found is not None:
                self._counts[key] = (max(found[0] - 1, 0), found[1], found[2])
