"""Booking history, read: from the tenant's stored orders and from imported files.

- :func:`import_file` reads a CSV or Parquet history (columns
  :data:`~offerengine.revenue.schemas.HISTORY_COLUMNS`), checks every row (an error names the row,
  counted from 1 after the header, and the column), and stores it all or nothing; the same file
  content twice is imported once (its SHA-256 is kept).
- :func:`order_bookings` makes bookings of confirmed orders: the flight item's flight and cabin,
  its fare family where the item names one, and its seated passengers, booked the day the order
  was made.
- :func:`load` gathers both for a forecast, with the departed flights whose cabin sold out.

The caller's unit of work commits.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.errors import FieldError, Invalid, raise_if_any
from offerengine.inventory.models import Flight, InventoryBucket
from offerengine.orders.models import Order
from offerengine.revenue.core.history import IMPORT, ORDERS, Booking, Departure, route_of
from offerengine.revenue.models import BookingImport, ImportedBooking
from offerengine.revenue.schemas import HISTORY_COLUMNS, BookingRow

MAX_ERRORS = 50  # reported of a bad file; the rest are counted
BATCH = 5_000  # rows per INSERT
CONFIRMED = "CONFIRMED"


@dataclass(frozen=True, slots=True)
class Imported:
    digest: str
    rows: int
    bookings: int  # seats
    created: bool  # False: this file's content was imported before; nothing changed


def read_table(path: Path) -> pa.Table:
    """The file as a table: Parquet as typed, CSV with every column read as text (the rows'
    checks then say what is wrong with a cell, rather than the reader's type guess)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pq.read_table(path)
        if suffix == ".csv":
            with path.open(newline="", encoding="utf-8", errors="replace") as handle:
                names = next(csv.reader(handle), [])
            text = pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
            )
            return pacsv.read_csv(path, convert_options=text)
    except (pa.ArrowInvalid, OSError) as exc:
        raise Invalid.field(("file",), f"{path.name} cannot be read: {exc}") from exc
    raise Invalid.field(("file",), f"{path.name}: read from .csv or .parquet files")


def check_rows(table: pa.Table) -> list[BookingRow]:
    """Every row as a :class:`BookingRow`; 422 naming each bad row (from 1) and column."""
    missing = [c for c in HISTORY_COLUMNS if c not in table.column_names and c != "closed"]
    if missing:
        raise_if_any([FieldError(("columns", c), "the file has no such column") for c in missing])
    rows: list[BookingRow] = []
    errors: list[FieldError] = []
    wanted = [c for c in HISTORY_COLUMNS if c in table.column_names]
    for n, raw in enumerate(table.select(wanted).to_pylist(), start=1):
        try:
            rows.append(BookingRow.model_validate(_cells(raw)))
        except ValidationError as exc:
            for e in exc.errors():
                if len(errors) < MAX_ERRORS:
                    column = str(e["loc"][0]) if e["loc"] else "row"
                    errors.append(FieldError(("rows", n, column), e["msg"]))
                else:
                    break
        if len(errors) >= MAX_ERRORS:
            errors.append(FieldError(("rows",), f"more errors after row {n}: first mend these"))
            break
    raise_if_any(errors)
    return rows


def _cells(raw: dict[str, Any]) -> dict[str, Any]:
    """Text cells as the schema reads them: blanks as missing, yes/no words as booleans."""
    cells: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                continue
            if name == "closed":
                value = {"1": True, "0": False}.get(value, value.lower())
        if value is not None:
            cells[name] = value
    return cells


async def import_file(session: AsyncSession, *, tenant_id: uuid.UUID, path: Path) -> Imported:
    """Store the history in ``path`` once (by its content's SHA-256), all rows or none."""
    content = await asyncio.to_thread(path.read_bytes)
    found = hashlib.sha256(content).hexdigest()
    earlier = await session.scalar(
        sa.select(BookingImport).where(
            BookingImport.tenant_id == tenant_id, BookingImport.digest == found
        )
    )
    if earlier is not None:
        return Imported(found, earlier.rows, earlier.bookings, created=False)
    rows = await asyncio.to_thread(lambda: check_rows(read_table(path)))
    if not rows:
        raise Invalid.field(("rows",), f"{path.name} has no rows")
    record = BookingImport(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        digest=found,
        filename=path.name[:200],
        rows=len(rows),
        bookings=sum(r.count for r in rows),
    )
    session.add(record)
    await session.flush()
    values = [
        {"id": uuid.uuid4(), "tenant_id": tenant_id, "import_id": record.id, **r.model_dump()}
        for r in rows
    ]
    for start in range(0, len(values), BATCH):
        await session.execute(sa.insert(ImportedBooking), values[start : start + BATCH])
    return Imported(found, record.rows, record.bookings, created=True)


async def imported_bookings(
    session: AsyncSession, tenant_id: uuid.UUID, *, route: str | None = None
) -> list[Booking]:
    """The tenant's imported bookings (of one route, ``ORIGIN-DESTINATION``, if given)."""
    stmt = sa.select(ImportedBooking).where(ImportedBooking.tenant_id == tenant_id)
    if route is not None:
        origin, destination = route.split("-")
        stmt = stmt.where(
            ImportedBooking.origin == origin, ImportedBooking.destination == destination
        )
    return [
        Booking(
            flight=r.flight,
            departure=r.departure_date,
            route=route_of(r.origin, r.destination),
            cabin=r.cabin,
            family=r.fare_family,
            days_before=r.days_before,
            count=r.count,
            closed=r.closed,
            source=IMPORT,
        )
        for r in await session.scalars(stmt)
    ]


def flight_label(flight: Flight) -> str:
    return f"{flight.carrier}{flight.flight_number}"


def _flight_item(items: Iterable[Any]) -> dict[str, Any] | None:
    for item in items:
        if isinstance(item, dict) and item.get("type") == "FLIGHT":
            return item
    return None


def booking_of(
    items: Sequence[Any], made: date, flights: dict[uuid.UUID, Flight]
) -> Booking | None:
    """The booking a confirmed order's items make, if it is for one of ``flights``."""
    item = _flight_item(items)
    if item is None:
        return None
    try:
        flight = flights.get(uuid.UUID(str(item["flight"]["flight_id"])))
    except (KeyError, TypeError, ValueError):
        return None
    if flight is None:
        return None
    seats = sum(
        int(p.get("count", 0)) for p in item.get("passengers", ()) if p.get("type") != "INFANT"
    )
    family = item.get("fare_family")
    return Booking(
        flight=flight_label(flight),
        departure=flight.departure_date,
        route=route_of(flight.origin, flight.destination),
        cabin=str(item.get("cabin")),
        family=str(family) if family else None,
        days_before=max((flight.departure_date - made).days, 0),
        count=seats,
        source=ORDERS,
    )


async def order_bookings(
    session: AsyncSession, tenant_id: uuid.UUID, flights: dict[uuid.UUID, Flight]
) -> dict[uuid.UUID, list[Booking]]:
    """Bookings of the tenant's confirmed orders for ``flights``, by flight (none made before
    the first of them was added: an order cannot be older than its flight)."""
    out: dict[uuid.UUID, list[Booking]] = {}
    if not flights:
        return out
    since = min(f.created_at for f in flights.values())
    rows = await session.execute(
        sa.select(Order.items, Order.created_at).where(
            Order.tenant_id == tenant_id, Order.status == CONFIRMED, Order.created_at >= since
        )
    )
    ids = {flight_label(f) + f.departure_date.isoformat(): f.id for f in flights.values()}
    for items, created_at in rows:
        booking = booking_of(items, created_at.date(), flights)
        if booking is not None:
            flight_id = ids[booking.flight + booking.departure.isoformat()]
            out.setdefault(flight_id, []).append(booking)
    return out


async def load_flights(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    before: date | None = None,
    since: date | None = None,
    route: str | None = None,
) -> dict[uuid.UUID, Flight]:
    """The tenant's flights departing before ``before`` or from ``since`` (on one route)."""
    stmt = sa.select(Flight).where(Flight.tenant_id == tenant_id)
    if before is not None:
        stmt = stmt.where(Flight.departure_date < before)
    if since is not None:
        stmt = stmt.where(Flight.departure_date >= since, Flight.status == "scheduled")
    if route is not None:
        origin, destination = route.split("-")
        stmt = stmt.where(Flight.origin == origin, Flight.destination == destination)
    return {f.id: f for f in await session.scalars(stmt)}


async def filled(
    session: AsyncSession,
    flights: dict[uuid.UUID, Flight],
    bookings: dict[uuid.UUID, list[Booking]],
) -> dict[Departure, int]:
    """Departed flights whose cabin sold out, and how many days out it filled (its last booking)."""
    if not flights:
        return {}
    full = await session.execute(
        sa.select(InventoryBucket.flight_id, InventoryBucket.resource).where(
            InventoryBucket.flight_id.in_(list(flights)),
            InventoryBucket.resource_type == "SEAT",
            InventoryBucket.sold >= InventoryBucket.capacity,
        )
    )
    out: dict[Departure, int] = {}
    for flight_id, cabin in full:
        if flight_id is None:
            continue
        made = [b for b in bookings.get(flight_id, ()) if b.cabin == cabin]
        if made:
            last = min(made, key=lambda b: b.days_before)
            out[last.key] = last.days_before
    return out


@dataclass(frozen=True, slots=True)
class Loaded:
    """Every booking a forecast reads: of departed flights (orders and imports), and of the
    flights still to come (orders) by flight."""

    past: list[Booking]
    filled: dict[Departure, int]
    future: dict[uuid.UUID, list[Booking]]
    flights: dict[uuid.UUID, Flight]  # still to come


async def load(
    session: AsyncSession, tenant_id: uuid.UUID, *, today: date, route: str | None = None
) -> Loaded:
    """What a forecast of the tenant's markets (of one route, if given) reads."""
    departed = await load_flights(session, tenant_id, before=today, route=route)
    coming = await load_flights(session, tenant_id, since=today, route=route)
    made = await order_bookings(session, tenant_id, {**departed, **coming})
    past = [b for flight_id in departed for b in made.get(flight_id, ())]
    past += await imported_bookings(session, tenant_id, route=route)
    return Loaded(
        past=past,
        filled=await filled(session, departed, made),
        future={flight_id: made.get(flight_id, []) for flight_id in coming},
        flights=coming,
    )
