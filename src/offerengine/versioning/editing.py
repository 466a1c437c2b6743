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
field; ``key_where`` narrows "other" for kinds sharing a table). Three hooks cover what only some
kinds have: ``prepare`` turns the input into what the edits apply under the tenant's settings
(a product's prices in minor units of its currency, defaulted from the tenant's), before every
check; ``revive`` (above); and ``check_delete`` refuses a delete (an object others still use).
For the kinds whose objects are one per scope (a cabin and route) rather than one per key,
:meth:`Editing.import_by_scope` imports a document of them: matched by scope, all or nothing.
The unit of work (``offerengine.deps.DbSession``) commits.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, cast

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from offerengine.auth.core import Actor
from offerengine.db import unique
from offerengine.errors import FieldError, Loc, raise_if_any
from offerengine.versioning import service as versioning


class _Tenant(Protocol):
    @property
    def id(self) -> uuid.UUID: ...


M = TypeVar("M", bound=versioning.Versioned)
D = TypeVar("D")
D_contra = TypeVar("D_contra", contravariant=True)
M_contra = TypeVar("M_contra", contravariant=True)
T = TypeVar("T")  # an imported item, as the document holds it
K = TypeVar("K", bound=Hashable)  # its scope


class Checks(Protocol[M_contra, D_contra]):
    """Raise if ``data`` may not be saved for the tenant; ``current`` is the object it changes,
    None for a new one (or a deleted one being restored)."""

    def __call__(
        self, session: AsyncSession, tenant_id: uuid.UUID, data: D_contra, current: M_contra | None
    ) -> Awaitable[None]: ...


class _ReadsBack(Protocol):
    def as_input(self) -> dict[str, Any]: ...


def read_back(
    read: type[BaseModel], schema: type[BaseModel]
) -> Callable[[Mapping[str, Any]], BaseModel]:
    """``recorded`` for a kind whose read schema gives its input back (``as_input``): a recorded
    state read as ``read``, then as the input ``schema``."""

    def recorded(state: Mapping[str, Any]) -> BaseModel:
        return schema.model_validate(cast(_ReadsBack, read.model_validate(state)).as_input())

    return recorded


@dataclass
class ImportedObjects(Generic[M]):
    """What an import by scope did: the objects, one per item in the document's order, and how
    many of them were created, updated and left unchanged."""

    objects: list[M] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class Editing(Generic[M, D]):
    """What one kind's edits need to know of it; :meth:`create`, :meth:`update`, :meth:`delete`
    fit :class:`~offerengine.versioning.kinds.ConfigKind`'s use cases, and :attr:`history` is
    the kind's history, restoring with :meth:`restore`."""

    name: str  # object_type in history and the audit log
    what: str  # to people: "feature flag"
    model: type[M]
    dump: Callable[[M], dict[str, Any]]  # the full state, as the API shows it
    apply: Callable[[M, D], None]
    same: Callable[[M, D], bool]  # whether saving the input would change nothing
    recorded: Callable[[Mapping[str, Any]], Any]  # a recorded state as input: see read_back
    title: Callable[[M], str]  # one object, for people: "feature flag 'checkout'"
    # A new object of the tenant, before its input applies; None: the model with its tenant.
    new: Callable[[uuid.UUID], M] | None = None
    check: Checks[M, D] | None = None  # None: nothing beyond the schema and the key
    key: InstrumentedAttribute[Any] | None = None  # the natural key, unique per tenant
    key_of: Callable[[D], Any] | None = None  # its value in the input; None: named as the column
    key_where: tuple[sa.ColumnElement[bool], ...] = ()  # the rows the key is unique among
    revive: Callable[[M, Mapping[str, Any]], None] | None = None
    # The input as the edits take it, under the tenant's settings; None: the input is that.
    prepare: Callable[[AsyncSession, uuid.UUID, Any], Awaitable[D]] | None = None
    check_delete: Callable[[AsyncSession, M], Awaitable[None]] | None = None

    @functools.cached_property
    def history(self) -> versioning.Kind[M]:
        return versioning.Kind(
            name=self.name, model=self.model, dump=self.dump, restore=self.restore
        )

    def instance(self, tenant_id: uuid.UUID) -> M:
        """A new object of the tenant, before its input applies."""
        if self.new is not None:
            return self.new(tenant_id)
        return cast(M, cast(Any, self.model)(tenant_id=tenant_id))

    # ``data`` below is the kind's input: ``D`` itself, or what ``prepare`` makes a ``D`` of.

    async def create(self, session: AsyncSession, *, tenant: _Tenant, data: Any, actor: Actor) -> M:
        """A new object of the tenant, at version 1."""
        return await self.create_for(session, tenant_id=tenant.id, data=data, actor=actor)

    async def create_for(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, data: Any, actor: Actor
    ) -> M:
        values = await self._prepared(session, tenant_id, data)
        await self._check(session, tenant_id, values, None)
        return await self.save(session, tenant_id=tenant_id, obj=None, values=values, actor=actor)

    async def update(
        self,
        session: AsyncSession,
        *,
        obj: M,
        data: Any,
        actor: Actor,
        expected_version: int | None,
    ) -> M:
        """A new version of ``obj`` with ``data``, or ``obj`` as it is if nothing changes."""
        versioning.check_version(obj, expected_version, self.title(obj))
        values = await self._prepared(session, obj.tenant_id, data)
        await self._check(session, obj.tenant_id, values, obj)
        return await self.save(
            session, tenant_id=obj.tenant_id, obj=obj, values=values, actor=actor
        )

    async def save(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, obj: M | None, values: D, actor: Actor
    ) -> M:
        """Apply ``values``, checked already, to ``obj`` (None: a new object of the tenant) and
        record the new version; ``obj`` as it is if they change nothing. For callers that check
        many inputs before saving any (bulk changes, all or nothing)."""
        if obj is None:
            obj = self.instance(tenant_id)
            self.apply(obj, values)
            session.add(obj)
            await versioning.record(
                session, self.history, obj, action="create", actor=actor, before=None
            )
            return obj
        if self.same(obj, values):
            return obj
        before = self.dump(obj)
        self.apply(obj, values)
        await versioning.record(
            session, self.history, obj, action="update", actor=actor, before=before
        )
        return obj

    async def delete(
        self, session: AsyncSession, *, obj: M, actor: Actor, expected_version: int | None
    ) -> None:
        """Delete ``obj``; its history stays, and a rollback recreates it."""
        versioning.check_version(obj, expected_version, self.title(obj))
        if self.check_delete is not None:
            await self.check_delete(session, obj)
        await versioning.delete(session, self.history, obj, actor=actor)

    async def restore(
        self, session: AsyncSession, obj: M | None, state: Mapping[str, Any], tenant_id: uuid.UUID
    ) -> M:
        """``obj`` (or, deleted, a new object) given a recorded state, checked as any save."""
        data = await self._prepared(session, tenant_id, self.recorded(state))
        await self._check(session, tenant_id, data, obj)
        target = obj if obj is not None else self.instance(tenant_id)
        self.apply(target, data)
        if obj is None and self.revive is not None:
            self.revive(target, state)
        return target

    async def import_by_scope(
        self,
        session: AsyncSession,
        *,
        tenant: _Tenant,
        items: Sequence[T],
        actor: Actor,
        at: Loc,
        scope: Callable[[T], K],
        twice: tuple[str, str],
        check: Callable[[T, Loc], list[FieldError]],
        find: Callable[[AsyncSession, uuid.UUID, K], Awaitable[M | None]],
    ) -> ImportedObjects[M]:
        """Create or update one object per item, matched by its ``scope`` (``find`` gives the
        tenant's object holding one), all or nothing: every item that ``check`` finds bad, and
        every scope given twice (at the field ``twice`` names, with its message), is reported
        before any is saved. ``at`` is where the items are: ``("body", "fare_family_sets")``."""
        errors: list[FieldError] = []
        scopes: set[K] = set()
        for i, item in enumerate(items):
            loc: Loc = (*at, i)
            errors += check(item, loc)
            if scope(item) in scopes:
                errors.append(FieldError((*loc, twice[0]), twice[1]))
            scopes.add(scope(item))
        raise_if_any(errors)
        done = ImportedObjects[M]()
        for item in items:
            found = await find(session, tenant.id, scope(item))
            if found is None:
                done.objects.append(
                    await self.create(session, tenant=tenant, data=item, actor=actor)
                )
                done.created += 1
                continue
            version = found.version
            done.objects.append(
                await self.update(session, obj=found, data=item, actor=actor, expected_version=None)
            )
            if found.version == version:
                done.unchanged += 1
            else:
                done.updated += 1
        return done

    async def _prepared(self, session: AsyncSession, tenant_id: uuid.UUID, data: Any) -> D:
        if self.prepare is None:
            return cast(D, data)
        return await self.prepare(session, tenant_id, data)

    async def _check(
        self, session: AsyncSession, tenant_id: uuid.UUID, data: D, current: M | None
    ) -> None:
        if self.check is not None:
            await self.check(session, tenant_id, data, current)
        if self.key is not None:
            await unique.ensure_unused(
                session,
                self.key,
                getattr(data, self.key.key) if self.key_of is None else self.key_of(data),
                tenant_id=tenant_id,
                exclude=None if current is None else current.id,
                what=self.what,
                where=self.key_where,
            )
