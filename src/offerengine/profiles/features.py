"""Features from behaviour: what a profile's events say of it, kept so that any order of adding
them gives the same state, and read as ``profile.*`` facts at the time of a decision.

The state (a profile's ``features``, JSON) holds per UTC day a bucket — purchases, revenue,
views, clicks, items added to a cart, a score per category, and per session its first and last
event, items added and purchases — and, for all time, the purchases, the revenue and the time of
the latest purchase (overall and per category). :func:`add` merges one event into it by sums,
minima and maxima only, so the incremental path (events as the consumer loads them, in any
order and any batches) and a replay (every stored event again, in time order) reach the same
state; :func:`prune` drops the buckets that no window can read any more (older than
:data:`HORIZON_DAYS`), which changes no feature read at that time or later.

Bounded per profile: a day keeps at most :data:`MAX_KEYS` categories and as many sessions, and the
purchases per category at most :data:`MAX_KEYS` categories; beyond that the keys that sort first
are kept. Keeping the smallest keys is itself order-independent (a key dropped once is dropped
whatever comes later), so the bound keeps the two paths equal.

:func:`read` computes the features at a time ``now`` (the windows slide with it, without events):

- windows of 1, 7, 30 and 90 days count whole UTC days, today included (``purchases_7d`` is
  today's and the 6 days before);
- recency, frequency, monetary value: ``days_since_last_purchase``, ``purchases_*d``,
  ``revenue`` and ``revenue_*d`` (purchases in the tenant's currency, or with none: a value in
  another currency is not added to a sum it cannot be added to);
- ``category_affinity[c]``: the category's share of the 90 days' interest score (a view 1, a
  click 2, an item added 3, a purchase 5), 0 to 1;
- sessions (events with a ``session_id``): a session is over once :data:`SESSION_TIMEOUT` passed
  without an event or a later session began; ``abandoned_carts_*d`` counts sessions over, with
  items added and no purchase, whose last event is in the window; ``last_session_seconds`` and
  ``abandoned_last_session`` read the latest session that is over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

WINDOWS = (1, 7, 30, 90)
HORIZON_DAYS = max(WINDOWS)
SESSION_TIMEOUT = timedelta(minutes=30)
MAX_KEYS = 50
AFFINITY_PLACES = Decimal("0.0001")

# Event types and what they add.
VIEWS = frozenset({"view", "impression"})
CLICKS = frozenset({"click"})
CART_ADDS = frozenset({"add_to_cart"})
PURCHASES = frozenset({"purchase"})
COUNTED = VIEWS | CLICKS | CART_ADDS | PURCHASES
# How much an event says of an interest in its category.
INTEREST = {"view": 1, "click": 2, "add_to_cart": 3, "purchase": 5}
MAX_QUANTITY = 1000

COUNTS = ("purchases", "views", "clicks", "items_added")
WINDOWED = ("purchases", "revenue", "views", "clicks", "items_added", "sessions", "abandoned_carts")


@dataclass(frozen=True, slots=True)
class Happened:
    """One event as features read it (see :func:`of_event`)."""

    type: str
    at: datetime
    session_id: str | None = None
    category: str | None = None
    value: Decimal | None = None  # counted in the tenant's currency (None: no value, or another)
    quantity: int = 1  # items added to a cart


def quantity_of(properties: Mapping[str, Any]) -> int:
    """Items an ``add_to_cart`` event adds: ``properties.quantity`` (a whole number from 1 to
    :data:`MAX_QUANTITY`), else 1."""
    given = properties.get("quantity")
    if isinstance(given, int) and not isinstance(given, bool) and 1 <= given <= MAX_QUANTITY:
        return given
    return 1


def counted_value(
    value: Decimal | None, currency: str | None, base_currency: str
) -> Decimal | None:
    """A purchase's value as the sums count it: in the tenant's currency (or none given)."""
    if value is None or (currency is not None and currency != base_currency):
        return None
    return value


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()  # one offset, so that the texts compare as times


def _keep(mapping: dict[str, Any], key: str) -> bool:
    """Whether ``key`` may be (or stay) in ``mapping``, which keeps its :data:`MAX_KEYS`
    smallest keys; makes room by dropping the largest."""
    if key in mapping or len(mapping) < MAX_KEYS:
        return True
    largest = max(mapping)
    if key > largest:
        return False
    del mapping[largest]
    return True


def _plain(amount: Decimal) -> str:
    """An amount as one text whatever its trailing zeros (a value read back from the events'
    NUMERIC column has six places; as it came it had its own): 125.5, 100."""
    return format(amount.normalize(), "f")


def _later(a: str | None, b: str) -> str:
    return b if a is None or b > a else a


def add(state: dict[str, Any], event: Happened, *, today: date) -> None:
    """Merge one event into ``state`` (in place). An event older than the horizon counts only
    for all time."""
    if event.type not in COUNTED:
        return
    stamp = _iso(event.at)
    if event.type in PURCHASES:
        state["purchases"] = int(state.get("purchases", 0)) + 1
        if event.value is not None:
            state["revenue"] = _plain(Decimal(state.get("revenue", "0")) + event.value)
        state["last_purchase_at"] = _later(state.get("last_purchase_at"), stamp)
        if event.category is not None:
            bought = state.setdefault("category_last_purchase", {})
            if _keep(bought, event.category):
                bought[event.category] = _later(bought.get(event.category), stamp)
    day = event.at.astimezone(UTC).date()
    if day <= today - timedelta(days=HORIZON_DAYS):
        return
    bucket = state.setdefault("days", {}).setdefault(day.isoformat(), {})
    if event.type in PURCHASES:
        bucket["purchases"] = int(bucket.get("purchases", 0)) + 1
        if event.value is not None:
            bucket["revenue"] = _plain(Decimal(bucket.get("revenue", "0")) + event.value)
    elif event.type in VIEWS:
        bucket["views"] = int(bucket.get("views", 0)) + 1
    elif event.type in CLICKS:
        bucket["clicks"] = int(bucket.get("clicks", 0)) + 1
    added = event.quantity if event.type in CART_ADDS else 0
    if added:
        bucket["items_added"] = int(bucket.get("items_added", 0)) + added
    interest = INTEREST.get(event.type, 0) * (added or 1)
    if event.category is not None and interest:
        categories = bucket.setdefault("categories", {})
        if _keep(categories, event.category):
            categories[event.category] = int(categories.get(event.category, 0)) + interest
    if event.session_id is not None:
        sessions = bucket.setdefault("sessions", {})
        if _keep(sessions, event.session_id):
            first, last, items, bought = sessions.get(event.session_id, (stamp, stamp, 0, 0))
            sessions[event.session_id] = [
                min(first, stamp),
                max(last, stamp),
                int(items) + added,
                int(bought) + (1 if event.type in PURCHASES else 0),
            ]


def add_all(state: dict[str, Any], events: Iterable[Happened], *, today: date) -> None:
    for event in events:
        add(state, event, today=today)
    prune(state, today=today)


def prune(state: dict[str, Any], *, today: date) -> None:
    """Drop the day buckets no window reads from ``today`` on."""
    days = state.get("days")
    if not days:
        state.pop("days", None)
        return
    oldest = (today - timedelta(days=HORIZON_DAYS - 1)).isoformat()
    for day in [d for d in days if d < oldest]:
        del days[day]
    if not days:
        del state["days"]


def _window(ago: int) -> int:
    """The index of the narrowest window a day ``ago`` days back is in (windows nest)."""
    for i, n in enumerate(WINDOWS):
        if ago < n:
            return i
    return len(WINDOWS)  # in none


def _cumulative(by_window: list[Any]) -> list[Any]:
    """Per window, what the narrowest-window sums add up to (a 1-day count is in the 7 days)."""
    running = by_window[0]
    found = [running]
    for value in by_window[1 : len(WINDOWS)]:
        running = running + value
        found.append(running)
    return found


def read(state: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The features at ``now``, as profile attributes (see the module's doc)."""
    today = now.astimezone(UTC).date()
    days: Mapping[str, Any] = state.get("days") or {}
    width = len(WINDOWS) + 1
    counts = {name: [0] * width for name in COUNTS}
    revenue = [Decimal(0)] * width
    interest: dict[str, int] = {}
    # Each session as [first, last, items added, purchases], merged over its days.
    sessions: dict[str, list[Any]] = {}
    for day, bucket in days.items():
        at = _window((today - date.fromisoformat(day)).days)
        if at == len(WINDOWS):
            continue  # beyond the horizon (not pruned yet)
        for name in COUNTS:
            if name in bucket:
                counts[name][at] += bucket[name]
        if "revenue" in bucket:
            revenue[at] += Decimal(bucket["revenue"])
        for category, score in bucket.get("categories", {}).items():
            interest[category] = interest.get(category, 0) + score
        for sid, part in bucket.get("sessions", {}).items():
            known = sessions.get(sid)
            if known is None:
                sessions[sid] = list(part)
            else:
                known[0] = min(known[0], part[0])
                known[1] = max(known[1], part[1])
                known[2] += part[2]
                known[3] += part[3]
    latest = max(sessions, key=lambda s: (sessions[s][1], s), default=None)
    idle = _iso(now - SESSION_TIMEOUT)
    held = [0] * width
    abandoned = [0] * width
    ended: tuple[str, str] | None = None  # the latest session over: (its last event, its id)
    for sid, (_first, last, items, bought) in sessions.items():
        at = _window((today - date.fromisoformat(last[:10])).days)
        held[at] += 1
        if sid != latest or last <= idle:  # over
            if items and not bought:
                abandoned[at] += 1
            if ended is None or (last, sid) > ended:
                ended = (last, sid)
    found: dict[str, Any] = {}
    windowed = {
        **{name: _cumulative(values) for name, values in counts.items()},
        "revenue": _cumulative(revenue),
        "sessions": _cumulative(held),
        "abandoned_carts": _cumulative(abandoned),
    }
    for name in WINDOWED:
        for n, value in zip(WINDOWS, windowed[name], strict=True):
            found[f"{name}_{n}d"] = value
    found["revenue"] = Decimal(state.get("revenue", "0"))
    last_purchase = state.get("last_purchase_at")
    if last_purchase is not None:
        seconds = int((now - datetime.fromisoformat(last_purchase)).total_seconds())
        found["days_since_last_purchase"] = (Decimal(max(seconds, 0)) / 86_400).quantize(
            AFFINITY_PLACES
        )
    total = sum(interest.values())
    found["category_affinity"] = {
        c: (Decimal(score) / Decimal(total)).quantize(AFFINITY_PLACES)
        for c, score in sorted(interest.items())
    }
    found["last_purchase_in"] = {
        c: datetime.fromisoformat(at)
        for c, at in sorted(state.get("category_last_purchase", {}).items())
    }
    if ended is not None:
        first, last, items, bought = sessions[ended[1]]
        length = datetime.fromisoformat(last) - datetime.fromisoformat(first)
        found["last_session_seconds"] = int(length.total_seconds())
        found["abandoned_last_session"] = bool(items and not bought)
    else:
        found["abandoned_last_session"] = False
    return found
