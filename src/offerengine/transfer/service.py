"""Bulk import and streaming export of configuration objects (products, decisioning offers,
commission rates), at 100,000 objects a file.

Import, all or nothing, in the caller's transaction (its unit of work commits):

1. read: the file's rows (:func:`offerengine.transfer.core.read_rows`: JSON, JSON lines, CSV,
   Parquet), with the errors found while reading;
2. check: every row into the kind's input, as a single save would check it (the schema, money in
   the currency's decimals, references, rules compiling), what the check needs loaded once per
   import; a key given twice is an error on its second row. Any bad row: a 422 listing the first
   bad rows with every error of theirs and counting the rest; nothing is written;
3. write: the stored objects with the file's keys read in batches; new objects inserted, changed
   ones updated where their version is still the one read (a concurrent change makes the import
   a 409, all of it rolled back), unchanged ones left alone, with executemany statements of
   :data:`BATCH` rows rather than an ORM flush per object;
4. record: a version of every created or changed object (its full state, as the kind's edits dump
   it, so history and rollback work as for one saved through the API), one audit entry for the
   import, and the changed objects marked for the snapshots.

The objects are made by the kind's own edits (:class:`~offerengine.versioning.editing.Editing`'s
``apply`` and ``dump`` on a transient object), so an imported object is stored exactly as one
saved through the API.

Export streams: the tenant's objects are read in keyset pages of :data:`BATCH` in sessions of
their own, and written a page at a time (:class:`~offerengine.transfer.core.Writer`), so memory
holds one page whatever the number of objects.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import text as unstorable
from offerengine.auth.core import Actor
from offerengine.clock import utcnow
from offerengine.db.session import Sessions
from offerengine.errors import Conflict, FieldError, Invalid
from offerengine.snapshots import service as snapshots
from offerengine.tenants.models import Tenant
from offerengine.transfer import core
from offerengine.transfer.kinds import Checked, Porter
from offerengine.versioning import service as versioning
from offerengine.versioning.models import ObjectVersion

BATCH = 2_000  # rows per statement, and per exported page
TICK = 500  # rows between two progress reports, and two turns of the event loop
MAX_ROWS = 200_000  # rows per import

# Told how far an import is: the phase ("checking", "writing"), done and total rows.
Progress = Callable[[str, int, int], None]


def _quiet(phase: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did: objects created, updated and left unchanged, of ``rows``."""

    kind: str
    rows: int
    created: int
    updated: int
    unchanged: int


async def import_file(
    session: AsyncSession,
    *,
    tenant: Tenant,
    porter: Porter,
    data: bytes,
    fmt: core.Format,
    actor: Actor,
    source: str | None = None,
    progress: Progress = _quiet,
) -> Imported:
    """Import the rows of ``data`` (a file in ``fmt``), all or nothing (see the module's doc)."""
    found = core.read_rows(data, fmt, porter.layout, max_rows=MAX_ROWS)
    return await import_rows(
        session,
        tenant=tenant,
        porter=porter,
        rows=found,
        actor=actor,
        source=source,
        progress=progress,
    )


async def import_rows(
    session: AsyncSession,
    *,
    tenant: Tenant,
    porter: Porter,
    rows: core.Rows,
    actor: Actor,
    source: str | None = None,
    progress: Progress = _quiet,
) -> Imported:
    """Import ``rows``, all or nothing (see the module's doc)."""
    checked = await check_rows(session, tenant=tenant, porter=porter, rows=rows, progress=progress)
    return await write_rows(
        session,
        tenant=tenant,
        porter=porter,
        checked=checked,
        actor=actor,
        source=source,
        progress=progress,
    )


async def check_rows(
    session: AsyncSession,
    *,
    tenant: Tenant,
    porter: Porter,
    rows: core.Rows,
    progress: Progress = _quiet,
) -> list[Checked]:
    """Steps 1-2 of an import (see the module's doc): every row checked, nothing written; an
    :class:`Invalid` listing the bad rows."""
    return await _check(session, tenant, porter, rows, progress)


async def write_rows(
    session: AsyncSession,
    *,
    tenant: Tenant,
    porter: Porter,
    checked: list[Checked],
    actor: Actor,
    source: str | None = None,
    progress: Progress = _quiet,
) -> Imported:
    """Steps 3-4 of an import (see the module's doc), of rows :func:`check_rows` accepted."""
    return await _write(session, tenant, porter, checked, actor, source, progress)


async def _check(
    session: AsyncSession, tenant: Tenant, porter: Porter, rows: core.Rows, progress: Progress
) -> list[Checked]:
    total = len(rows.rows)
    problems = core.Problems(porter.layout.collection, porter.key_field)
    check = await porter.prepare(session, tenant)
    accepted: list[Checked] = []
    first_row_of: dict[str, int] = {}
    key_field = porter.key_field or "id"
    for index, row in enumerate(rows.rows):
        if index % TICK == 0:
            progress("checking", index, total)
            await asyncio.sleep(0)  # let the worker's other requests in
        key = row.get(key_field)
        shown_key = key if isinstance(key, str) else None
        if index in rows.errors:
            problems.add(index, shown_key, rows.errors[index])
            continue
        faults = _unstorable(row, (porter.layout.collection, index))
        if faults:
            problems.add(index, shown_key, faults)
            continue
        result = check(row, index)
        if isinstance(result, list):
            problems.add(index, shown_key, result)
            continue
        if result.key is not None:
            earlier = first_row_of.setdefault(result.key, index)
            if earlier != index:
                problems.add(
                    index,
                    shown_key,
                    [
                        FieldError(
                            (porter.layout.collection, index, key_field),
                            f"repeats row {earlier + 1}",
                        )
                    ],
                )
                continue
        accepted.append(result)
    progress("checking", total, total)
    if problems:
        raise problems.refuse(total)
    return accepted


def _attributes(porter: Porter, apply: Callable[[Any, Any], None], data: Any) -> list[str]:
    """The model's attributes an input sets (the identity, version and timestamps aside)."""
    draft = _Draft(uuid.uuid4())
    apply(draft, data)
    columns = {a.key for a in sa.inspect(porter.model).column_attrs}
    return [a for a in vars(draft) if a in columns and a not in _IDENTITY]


_encode = msgspec.json.Encoder().encode


def _unstorable(row: dict[str, Any], loc: tuple[str | int, ...]) -> list[FieldError]:
    """What in ``row`` no database stores (NUL, lone surrogates), checked in full only when its
    JSON holds an escape that may be one (the JSON of a clean row holds none)."""
    try:
        if b"\\u" not in _encode(row):
            return []
    except (UnicodeEncodeError, msgspec.EncodeError, TypeError, OverflowError, RecursionError):
        pass
    try:
        unstorable.check(row, loc)
    except Invalid as exc:
        return exc.errors
    return []


@dataclass(slots=True)
class _Stored:
    id: uuid.UUID
    version: int
    created_at: datetime
    columns: dict[str, Any]


async def _stored(
    session: AsyncSession, tenant: Tenant, porter: Porter, keys: Sequence[str], attrs: list[str]
) -> dict[str, _Stored]:
    """The tenant's objects with these keys (natural keys, or ids), by key."""
    model = porter.model
    key_column = porter.key if porter.key is not None else model.id
    columns = [getattr(model, a) for a in attrs]
    found: dict[str, _Stored] = {}
    for start in range(0, len(keys), 500):
        chunk: list[Any] = list(keys[start : start + 500])
        if porter.key is None:
            chunk = [uuid.UUID(k) for k in chunk]
        result = await session.execute(
            sa.select(key_column, model.id, model.version, model.created_at, *columns).where(
                model.tenant_id == tenant.id, key_column.in_(chunk), *porter.where
            )
        )
        for key, id_, version, created_at, *values in result:
            found[str(key)] = _Stored(
                id_, version, created_at, dict(zip(attrs, values, strict=True))
            )
    return found


class _Draft:
    """An object's attributes as the kind's edits set and read them, without the ORM's
    instrumentation (several times cheaper a row): the edits' ``apply`` sets them, the kind's
    ``dump`` reads them for the history, and the import stores them."""

    def __init__(self, tenant_id: uuid.UUID) -> None:
        self.tenant_id = tenant_id


_IDENTITY = frozenset({"id", "tenant_id", "version", "created_at", "updated_at"})


async def _write(
    session: AsyncSession,
    tenant: Tenant,
    porter: Porter,
    checked: list[Checked],
    actor: Actor,
    source: str | None,
    progress: Progress,
) -> Imported:
    editing = porter.editing
    apply = porter.apply or editing.apply
    dump = porter.dump or editing.dump
    total = len(checked)
    attrs = _attributes(porter, apply, checked[0].data) if checked else []
    stored = await _stored(
        session, tenant, porter, [c.key for c in checked if c.key is not None], attrs
    )
    problems = core.Problems(porter.layout.collection, porter.key_field)
    for index, c in enumerate(checked):
        if porter.key is None and c.key is not None:
            was = stored.get(c.key)
            loc = (porter.layout.collection, index)
            if was is None:
                problems.add(index, c.key, [FieldError((*loc, "id"), f"no {porter.what} {c.key}")])
            elif c.version is not None and c.version != was.version:
                problems.add(
                    index,
                    c.key,
                    [
                        FieldError(
                            (*loc, "version"),
                            f"the {porter.what} is at version {was.version}, not {c.version}",
                        )
                    ],
                )
    if problems:
        raise problems.refuse(total)

    now = utcnow()
    table = porter.model.__table__
    keys_of = {a.key: a.columns[0].key for a in sa.inspect(porter.model).column_attrs}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    created = updated = unchanged = 0
    for done, c in enumerate(checked):
        if len(versions) >= BATCH:  # written a batch at a time: memory holds one
            await _execute(session, porter, table, inserts, updates, versions)
            created, updated = created + len(inserts), updated + len(updates)
            inserts, updates, versions = [], [], []
        if done % TICK == 0:
            progress("writing", done, total)
            await asyncio.sleep(0)
        obj: Any = _Draft(tenant.id)
        apply(obj, c.data)
        values = {a: getattr(obj, a) for a in attrs}
        was = stored.get(c.key) if c.key is not None else None
        if was is not None and values == was.columns:
            unchanged += 1
            continue
        if was is None:
            obj.id, obj.version, obj.created_at, action = uuid.uuid4(), 1, now, "create"
        else:
            obj.id, obj.version, obj.created_at, action = (
                was.id,
                was.version + 1,
                was.created_at,
                "update",
            )
        obj.updated_at = now
        row = {keys_of[a]: v for a, v in values.items()}
        if was is None:
            inserts.append(
                {
                    **row,
                    "id": obj.id,
                    "tenant_id": tenant.id,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        else:
            updates.append(
                {
                    **row,
                    "b_id": was.id,
                    "b_version": was.version,
                    "version": obj.version,
                    "updated_at": now,
                }
            )
        versions.append(
            {
                "id": uuid.uuid4(),
                "tenant_id": tenant.id,
                "object_type": editing.name,
                "object_id": obj.id,
                "version": obj.version,
                "action": action,
                "data": dump(obj),
                "actor_kind": actor.kind.value,
                "actor_id": actor.id,
                "actor_name": actor.name[:200],
                "created_at": now,
            }
        )
        snapshots.mark_object_changed(session, tenant.id, editing.name, obj.id)
    await _execute(session, porter, table, inserts, updates, versions)
    created, updated = created + len(inserts), updated + len(updates)
    progress("writing", total, total)
    if created or updated:
        versioning.audit(
            session,
            actor=actor,
            action=f"{editing.name}.import",
            tenant_id=tenant.id,
            object_type=editing.name,
            detail=(
                f"imported {total} rows{f' from {source}' if source else ''}: "
                f"{created} created, {updated} updated, {unchanged} unchanged"
            ),
        )
    return Imported(porter.path, total, created, updated, unchanged)


async def _execute(
    session: AsyncSession,
    porter: Porter,
    table: Any,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    versions: list[dict[str, Any]],
) -> None:
    """Insert the new objects, update the changed ones where their version is still the one
    read (else a 409: the caller's transaction rolls everything back), add their versions."""
    if inserts:
        await session.execute(sa.insert(table), inserts)
    if updates:
        guarded = sa.update(table).where(
            table.c.id == sa.bindparam("b_id"), table.c.version == sa.bindparam("b_version")
        )
        result = cast(sa.CursorResult[Any], await session.execute(guarded, updates))
        if result.rowcount != len(updates):  # a concurrent change moved a version
            raise Conflict(
                f"Some of these {porter.what}s changed while the import ran; "
                "nothing was imported: import the file again."
            )
    if versions:
        await session.execute(sa.insert(cast(sa.Table, ObjectVersion.__table__)), versions)


# --- export ----------------------------------------------------------------------------------------


async def export(
    sessions: Sessions, *, tenant_id: uuid.UUID, porter: Porter, fmt: core.Format
) -> AsyncIterator[bytes]:
    """The tenant's objects of ``porter``'s kind as a file in ``fmt``, a page at a time."""
    writer = core.Writer(fmt, porter.layout)
    yield writer.start()
    model = porter.model
    order = porter.order
    after: Any = None
    while True:
        stmt = sa.select(model).where(model.tenant_id == tenant_id, *porter.where)
        if after is not None:
            stmt = stmt.where(order > after)
        async with sessions.session_factory() as session:
            page = (await session.scalars(stmt.order_by(order).limit(BATCH))).all()
            rows = [porter.exported(obj) for obj in page]
        if not page:
            break
        after = getattr(page[-1], order.key)
        yield writer.chunk(rows)
        if len(page) < BATCH:
            break
    yield writer.end()
