"""Recording configuration changes in the transaction that makes them.

Services call :func:`mark_config_changed` (or :func:`mark_auth_changed`) on the session; the unit of
work calls :func:`flush_changes` just before it commits, which bumps the tenant's ``config_version``
(and the deployment's ``auth_version``) in that same transaction. After the commit the change feed
announces the new versions to every worker.

The same transaction logs what each new version changed (``config_changes``): the objects that
versioned editing recorded (:func:`mark_object_changed`, by kind and id), a whole kind when one
transaction changed more than ``LIST_AT_MOST`` of its objects, or ``*`` (everything) when a
service only said that the tenant's configuration changed. A worker holding version v reads
v+1..w (:func:`changes_since`) and patches its snapshot with those objects alone
(:mod:`offerengine.snapshots.incremental`); a version missing from the log (pruned after
``KEEP_HOURS``) sends it back to a whole build.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.clock import utcnow
from offerengine.snapshots.models import ConfigChange, SystemState
from offerengine.tenants.models import Tenant

AUTH_VERSION_KEY = "auth_version"
_CONFIG = "offerengine.changes.config"
_DELETED = "offerengine.changes.deleted"
_AUTH = "offerengine.changes.auth"
_OBJECTS = "offerengine.changes.objects"
_WHOLE = "offerengine.changes.whole"
EVERYTHING = "*"  # the kind of a change log row that changes everything
LIST_AT_MOST = 500  # objects of one kind a transaction lists; beyond, the kind is rebuilt whole
KEEP_HOURS = 24  # how long the change log keeps a version
PRUNE_EVERY = 64  # versions between two prunes of a tenant's log


@dataclass(frozen=True, slots=True)
class Changes:
    """What a committed transaction changed: new config versions, deleted tenants, auth version."""

    config: dict[uuid.UUID, int] = field(default_factory=dict)
    deleted: frozenset[uuid.UUID] = frozenset()
    auth_version: int | None = None

    def __bool__(self) -> bool:
        return bool(self.config or self.deleted or self.auth_version is not None)


def mark_config_changed(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """The tenant's configuration changed in ways not listed object by object: workers rebuild
    its snapshot whole."""
    session.info.setdefault(_CONFIG, set()).add(tenant_id)
    session.info.setdefault(_WHOLE, set()).add(tenant_id)


def mark_object_changed(
    session: AsyncSession, tenant_id: uuid.UUID, kind: str, object_id: uuid.UUID
) -> None:
    """One configuration object (``kind``: its history name) was created, changed or deleted:
    workers re-read it alone."""
    session.info.setdefault(_CONFIG, set()).add(tenant_id)
    by_tenant: dict[uuid.UUID, dict[str, set[uuid.UUID]]] = session.info.setdefault(_OBJECTS, {})
    by_tenant.setdefault(tenant_id, {}).setdefault(kind, set()).add(object_id)


def mark_tenant_deleted(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    session.info.setdefault(_DELETED, set()).add(tenant_id)
    mark_auth_changed(session)


def mark_auth_changed(session: AsyncSession) -> None:
    session.info[_AUTH] = True


async def flush_changes(session: AsyncSession) -> Changes:
    """Bump the versions of what this transaction changed; call just before commit."""
    deleted: set[uuid.UUID] = session.info.pop(_DELETED, set())
    tenants: set[uuid.UUID] = session.info.pop(_CONFIG, set()) - deleted
    objects: dict[uuid.UUID, dict[str, set[uuid.UUID]]] = session.info.pop(_OBJECTS, {})
    whole: set[uuid.UUID] = session.info.pop(_WHOLE, set())
    config: dict[uuid.UUID, int] = {}
    # Sorted, so that two transactions touching the same tenants lock their rows in one order.
    for tenant_id in sorted(tenants):
        bumped = await session.execute(
            sa.update(Tenant)
            .where(Tenant.id == tenant_id)
            .values(config_version=Tenant.config_version + 1)
            .returning(Tenant.config_version)
            .execution_options(synchronize_session=False)
        )
        row = bumped.first()
        if row is not None:
            config[tenant_id] = int(row[0])
            changed = {} if tenant_id in whole else objects.get(tenant_id, {})
            await _log(session, tenant_id, int(row[0]), changed)
    auth_version: int | None = None
    if session.info.pop(_AUTH, False):
        bumped = await session.execute(
            sa.update(SystemState)
            .where(SystemState.key == AUTH_VERSION_KEY)
            .values(value=SystemState.value + 1)
            .returning(SystemState.value)
            .execution_options(synchronize_session=False)
        )
        auth_version = int(bumped.scalar_one())
    return Changes(config, frozenset(deleted), auth_version)


async def _log(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    version: int,
    changed: Mapping[str, set[uuid.UUID]],
) -> None:
    """Log what ``version`` changed (everything when ``changed`` is empty); now and then, drop
    the tenant's versions older than ``KEEP_HOURS``."""
    now = utcnow()
    rows: list[dict[str, object]] = []
    for kind, ids in sorted(changed.items()):
        listed: list[uuid.UUID | None] = [*sorted(ids)] if len(ids) <= LIST_AT_MOST else [None]
        rows.extend({"kind": kind, "object_id": i} for i in listed)
    if not rows:
        rows.append({"kind": EVERYTHING, "object_id": None})
    await session.execute(
        sa.insert(ConfigChange),
        [
            {
                **row,
                "id": uuid.uuid4(),
                "tenant_id": tenant_id,
                "version": version,
                "changed_at": now,
            }
            for row in rows
        ],
    )
    if version % PRUNE_EVERY == 0:
        await session.execute(
            sa.delete(ConfigChange)
            .where(
                ConfigChange.tenant_id == tenant_id,
                ConfigChange.version < version,
                ConfigChange.changed_at < now - timedelta(hours=KEEP_HOURS),
            )
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True, slots=True)
class ChangeLog:
    """What versions after a snapshot's changed, up to ``version``."""

    version: int
    objects: Mapping[str, frozenset[uuid.UUID]]  # by kind, the objects changed
    kinds: frozenset[str]  # kinds changed too widely to list (their objects re-read whole)
    everything: bool  # something changed that the log does not list: build whole


async def changes_since(
    session: AsyncSession, tenant_id: uuid.UUID, after: int, upto: int
) -> ChangeLog | None:
    """What versions ``after``+1..``upto`` of the tenant changed; None when the log misses one
    of them (pruned, or written before the log existed)."""
    rows = (
        await session.execute(
            sa.select(ConfigChange.version, ConfigChange.kind, ConfigChange.object_id).where(
                ConfigChange.tenant_id == tenant_id,
                ConfigChange.version > after,
                ConfigChange.version <= upto,
            )
        )
    ).all()
    if {int(r[0]) for r in rows} != set(range(after + 1, upto + 1)):
        return None
    objects: dict[str, set[uuid.UUID]] = {}
    kinds: set[str] = set()
    for _, kind, object_id in rows:
        if object_id is None:
            kinds.add(kind)
        else:
            objects.setdefault(kind, set()).add(object_id)
    return ChangeLog(
        version=upto,
        objects={k: frozenset(v) for k, v in objects.items() if k not in kinds},
        kinds=frozenset(kinds - {EVERYTHING}),
        everything=EVERYTHING in kinds,
    )


async def current_versions(session: AsyncSession) -> tuple[dict[uuid.UUID, int], int]:
    """Every tenant's config version and the auth version: what a polling worker compares."""
    rows = await session.execute(sa.select(Tenant.id, Tenant.config_version))
    auth = await session.scalar(
        sa.select(SystemState.value).where(SystemState.key == AUTH_VERSION_KEY)
    )
    return {row[0]: int(row[1]) for row in rows}, int(auth or 0)
