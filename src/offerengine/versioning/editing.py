"""The edits every configuration kind makes the same way: create, update, delete and restore.

A kind says in an :class:`Editing` only what is its own: how a new object starts, how input
applies to it, whether input would change nothing, what saving checks beyond the schema (its
references, the transitions it forbids), its natural key if it has one, and how a recorded state
reads back as input. The steps, their order and what they record are then the same for every
kind:

1. create: check, apply to a new object, record version 1 (a version and an audit entry, and the
   tenant's configuration version moves);
2. update: refuse a stale ``expected_version`` (409), check, answer the object as it is if the
   input changes nothing (no new version), else apply and record;
3. delete: refuse a stale version, record the deletion (the history stays);
4. restore, for a rollback: the recorded state read as input and checked as an update (or, the
   object having been deleted, as a create), then applied; ``revive`` gives a recreated object
   what its input does not hold (an experiment's status).

"Check" includes the natural key: no other object of the tenant may hold it (a 409 naming the
field). The unit of work (``offerengine.deps.DbSession``) commits.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from offerengine.auth.core import Actor
from offerengine.db import unique
from offerengine.versioning import service as versioning


class _Tenant(Protocol):
    @property
    def id(self) -> uuid.UUID: ...


M = TypeVar("M", bound=versioning.Versioned)
D = TypeVar("D")
D_contra = TypeVar("D_contra", contravariant=True)
M_contra = TypeVar("M_contra", contravariant=True)


class Checks(Protocol[M_contra, D_contra]):
    """Raise if ``data`` may not be saved for the tenant; ``current`` is the object it changes,
    None for a new one (or a deleted one being restored)."""

    def __call__(
        self, session: AsyncSession, tenant_id: uuid.UUID, data: D_contra, current: M_contra | None
    ) -> Awaitable[None]: ...


@dataclass(frozen=True)
class Editing(Generic[M, D]):
    """What one kind's edits need to know of it; :meth:`create`, :meth:`update`, :meth:`delete`
    fit :class:`~offerengine.versioning.kinds.ConfigKind`'s use cases, and :attr:`history` is
    the kind's history, restoring with :meth:`restore`."""

    name: str  # object_type in history and the audit log
    what: str  # to people: "feature flag"
    model: type[M]
    dump: Callable[[M], dict[str, Any]]  # the full state, as the API shows it
    new: Callable[[uuid.UUID], M]  # a new object of the tenant, before its input applies
    apply: Callable[[M, D], None]
    same: Callable[[M, D], bool]  # whether saving the input would change nothing
    recorded: Callable[[Mapping[str, Any]], D]  # a recorded state as input
    title: Callable[[M], str]  # one object, for people: "feature flag 'checkout'"
    check: Checks[M, D]
    key: InstrumentedAttribute[Any] | None = None  # the natural key, unique per tenant
    revive: Callable[[M, Mapping[str, Any]], None] | None = None

    @functools.cached_property
    def history(self) -> versioning.Kind[M]:
        return versioning.Kind(
            name=self.name, model=self.model, dump=self.dump, restore=self.restore
        )

    async def create(self, session: AsyncSession, *, tenant: _Tenant, data: D, actor: Actor) -> M:
        """A new object of the tenant, at version 1."""
        return await self.create_for(session, tenant_id=tenant.id, data=data, actor=actor)

    async def create_for(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, data: D, actor: Actor
    ) -> M:
        await self._check(session, tenant_id, data, None)
        obj = self.new(tenant_id)
        self.apply(obj, data)
        session.add(obj)
        await versioning.record(
            session, self.history, obj, action="create", actor=actor, before=None
        )
        return obj

    async def update(
        self, session: AsyncSession, *, obj: M, data: D, actor: Actor, expected_version: int | None
    ) -> M:
        """A new version of ``obj`` with ``data``, or ``obj`` as it is if nothing changes."""
        versioning.check_version(obj, expected_version, self.title(obj))
        await self._check(session, obj.tenant_id, data, obj)
        if self.same(obj, data):
            return obj
        before = self.dump(obj)
        self.apply(obj, data)
        await versioning.record(
            session, self.history, obj, action="update", actor=actor, before=before
        )
        return obj

    async def delete(
        self, session: AsyncSession, *, obj: M, actor: Actor, expected_version: int | None
    ) -> None:
        """Delete ``obj``; its history stays, and a rollback recreates it."""
        versioning.check_version(obj, expected_version, self.title(obj))
        await versioning.delete(session, self.history, obj, actor=actor)

    async def restore(
        self, session: AsyncSession, obj: M | None, state: Mapping[str, Any], tenant_id: uuid.UUID
    ) -> M:
        """``obj`` (or, deleted, a new object) given a recorded state, checked as any save."""
        data = self.recorded(state)
        await self._check(session, tenant_id, data, obj)
        target = obj if obj is not None else self.new(tenant_id)
        self.apply(target, data)
        if obj is None and self.revive is not None:
            self.revive(target, state)
        return target

    async def _check(
        self, session: AsyncSession, tenant_id: uuid.UUID, data: D, current: M | None
    ) -> None:
        await self.check(session, tenant_id, data, current)
        if self.key is not None:
            await unique.ensure_unused(
                session,
                self.key,
                getattr(data, self.key.key),  # the input names it as the column does
                tenant_id=tenant_id,
                exclude=None if current is None else current.id,
                what=self.what,
            )
