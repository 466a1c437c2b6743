"""A run-time request's time budget, and the one point where it stops applying.

A customer's client gives up after a few seconds (seed 002 asks for a 2-second quote): an answer
later than that is wasted work on a busy worker, and a write made for it is a change the client
never learns of. So the run-time app serves each request within its budget (:meth:`Budgets.within`), and the rule
is **503 ⇒ nothing changed**:

1. Until the request writes, the whole of it (authentication, reads, pricing, ranking) may be
   cut: past the deadline its task is cancelled wherever it waits, and it answers 503. One timer
   per worker (:class:`Budgets`) looks at the requests in flight a few times a second: a timer
   scheduled and cancelled per request (``asyncio.timeout``) cost far more than the rest of
   the bookkeeping (docs/operations.md, "Overload").
2. Every writer of run time (``db.session.write_transaction``, the recorders, the cap counters)
   calls :func:`commit` before its first write. Past the deadline (even before the worker's
   timer has seen it) that raises :class:`TimeBudgetSpent`: 503, and nothing was written.
   Within it, the deadline is lifted: the write and whatever follows it finish, however long
   they take, and the answer says what was done. A write that began is never cut, so a budget
   that runs out after a commit never turns a committed write into a 503.

The budget travels in a context variable, so writers deep in a use case need no parameter; code
outside a run-time request (the admin app, background tasks) has no budget and commits freely.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import TypeVar

from offerengine.errors import Unavailable

T = TypeVar("T")
TICK_SECONDS = 0.05  # how late past its deadline a waiting request may be cut


class TimeBudgetSpent(Unavailable):
    """The request ran out of its time budget before it wrote anything (a 503)."""

    code = "time-budget-spent"
    title = "Time budget spent"


class Budget:
    """One request's deadline (the loop's clock), and whether it was lifted by a write or cut."""

    __slots__ = ("cut", "deadline", "lifted", "task")

    def __init__(self, deadline: float, task: asyncio.Task[object] | None) -> None:
        self.deadline = deadline
        self.task = task
        self.lifted = False
        self.cut = False


_current: ContextVar[Budget | None] = ContextVar("offerengine_budget", default=None)


class Budgets:
    """The budgets of one worker's requests in flight, and the timer that cuts the late ones."""

    def __init__(self, tick: float = TICK_SECONDS) -> None:
        self._tick = tick
        self._running: set[Budget] = set()
        self._timer: asyncio.TimerHandle | None = None

    async def within(self, seconds: float, work: Awaitable[T]) -> T:
        """``work``'s result, or :class:`TimeBudgetSpent` if it neither finished nor began
        writing within ``seconds``."""
        loop = asyncio.get_running_loop()
        found = Budget(loop.time() + seconds, asyncio.current_task())
        token = _current.set(found)
        self._running.add(found)
        if self._timer is None:
            self._timer = loop.call_later(self._tick, self._sweep)
        try:
            return await work
        except asyncio.CancelledError:
            if not found.cut or found.task is None:
                raise
            found.task.uncancel()  # our cancellation, answered here: the request goes on
            raise _spent(seconds) from None
        finally:
            self._running.discard(found)
            _current.reset(token)

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for found in self._running:
            if now >= found.deadline and not (found.lifted or found.cut) and found.task:
                found.cut = True
                found.task.cancel()
        self._timer = loop.call_later(self._tick, self._sweep) if self._running else None


def _spent(seconds: float) -> TimeBudgetSpent:
    return TimeBudgetSpent(
        f"The request did not finish within its {seconds:g} s budget; nothing was changed. "
        "Retry it."
    )


def commit() -> None:
    """Declare that the current request is about to write: refused past its deadline (nothing
    is written), else the deadline is lifted so that the write is never cut."""
    found = _current.get()
    if found is None or found.lifted:
        return
    if found.cut or asyncio.get_running_loop().time() >= found.deadline:
        raise TimeBudgetSpent(
            "The request ran out of its time budget before it wrote anything; nothing was "
            "changed. Retry it."
        )
    found.lifted = True
