"""Configuration kinds: the one declaration a kind of versioned configuration makes of itself.

A :class:`ConfigKind` says what a kind is called (in history and the audit log, to people, in the
API's paths and operation ids), which schemas it takes and answers, how an object reads as its read
schema, its history :class:`~offerengine.versioning.service.Kind`, and its use cases: create,
update, delete, list (with the kind's own filters, paged or not) and, optionally, export and import
(:class:`Transfer`). :func:`offerengine.versioning.kind_routes.add_kind_routes` turns a declaration
into the standard admin routes; the use cases themselves stay in the kind's service, made by
:class:`offerengine.versioning.editing.Editing` (create, update, delete and restore, the same
steps for every kind). Two hooks cover what some kinds have and others not: a kind
without ``delete`` has no DELETE route (an experiment is stopped, not deleted), and ``actions``
are named changes of state beside the edit (an experiment's start and stop). A tenant's
one-of-a-kind document (fare settings, offer rules …) is declared as a
:class:`~offerengine.versioning.editing.DocumentKind`, the same machinery's other shape.

Framework-free, like every use case: services declare their kinds here.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.tenants.models import Tenant
from offerengine.versioning.service import Kind, Versioned

M = TypeVar("M", bound=Versioned)
M_co = TypeVar("M_co", covariant=True)
M_contra = TypeVar("M_contra", contravariant=True)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """The page a list asks for: its size, and the ``next_cursor`` of the previous page."""

    limit: int
    cursor: str | None = None


class Creates(Protocol[M_co]):
    def __call__(
        self, session: AsyncSession, *, tenant: Tenant, data: Any, actor: Actor
    ) -> Awaitable[M_co]: ...


class Updates(Protocol[M]):
    def __call__(
        self,
        session: AsyncSession,
        *,
        obj: M,
        data: Any,
        actor: Actor,
        expected_version: int | None,
    ) -> Awaitable[M]: ...


class Deletes(Protocol[M_contra]):
    def __call__(
        self, session: AsyncSession, *, obj: M_contra, actor: Actor, expected_version: int | None
    ) -> Awaitable[None]: ...


@dataclass(frozen=True)
class Action(Generic[M]):
    """A named change of state beside the edit: ``POST /v1/admin/{path}/{id}/{name}``, operation
    id ``{name}{operation}``, answering the object as get does. ``If-Match`` (or the body's
    ``version``) guards it against lost updates; its body, if it takes one, may be left out."""

    name: str  # in the path, and the operation id's verb: "start"
    run: Updates[M]  # ``data`` is the body: None when the action takes none, or none was sent
    body: type[BaseModel] | None = None
    description: str | None = None


class Lists(Protocol[M_co]):
    """A page of a tenant's objects matching ``filters`` (whatever the kind's list filters make),
    and the cursor of the next page; ``page`` is None for a kind that lists everything at once."""

    def __call__(
        self,
        session: AsyncSession,
        *,
        tenant_id: uuid.UUID,
        filters: Any,
        page: PageRequest | None,
    ) -> Awaitable[tuple[Sequence[M_co], str | None]]: ...


class Counts(Protocol):
    """How many of a tenant's objects match ``filters`` (the list's, without its page)."""

    def __call__(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, filters: Any
    ) -> Awaitable[int]: ...


class Shows(Protocol[M_contra]):
    """Objects as a reader sees them, when that needs more than the object (e.g. usage counts)."""

    def __call__(
        self, session: AsyncSession, objects: Sequence[M_contra], /
    ) -> Awaitable[Sequence[BaseModel]]: ...


class Exports(Protocol):
    def __call__(self, session: AsyncSession, *, tenant_id: uuid.UUID) -> Awaitable[BaseModel]: ...


class Imports(Protocol):
    def __call__(
        self, session: AsyncSession, *, tenant: Tenant, data: Any, actor: Actor
    ) -> Awaitable[BaseModel]: ...


@dataclass(frozen=True)
class Transfer:
    """Export and import of a kind: every object of a tenant in one document, and back."""

    schema: type[BaseModel]  # what export answers and import takes
    result: type[BaseModel]  # what import answers
    export: Exports
    import_: Imports


@dataclass(frozen=True)
class ConfigKind(Generic[M]):
    """One kind of versioned configuration, as the generic machinery sees it.

    Its collection is ``/v1/admin/tenants/{tenant}/{path}``, its objects
    ``/v1/admin/{path}/{id}``; operation ids are ``list{operation}s``, ``create{operation}``,
    ``get{operation}`` and so on (a final "y" makes "ies"). Create and rollback answer ``read``
    of the object; get, update, list and actions answer :meth:`present`.
    """

    history: Kind[M]  # its name is the kind's object type in history and the audit log
    what: str  # to people: "pricing rule"
    path: str  # in paths: "pricing-rules", "decisioning/offers"
    operation: str  # the operation-id stem: "PricingRule"
    create_schema: type[BaseModel]
    update_schema: type[BaseModel]  # the create schema and the `version` a change is based on
    read_schema: type[BaseModel]
    read: Callable[[M], BaseModel]
    create: Creates[M]
    update: Updates[M]
    delete: Deletes[M] | None  # None: the kind's objects are not deleted (no DELETE route)
    list: Lists[M]
    paged: bool = True  # whether the list takes `limit` and `cursor`
    count: Counts | None = None  # the list's `total`; None: a paged list answers none
    show: Shows[M] | None = None  # reads for get, update and list; `read` when None
    find: Callable[[AsyncSession, uuid.UUID], Awaitable[M | None]] | None = None  # by id
    transfer: Transfer | None = None
    actions: Sequence[Action[M]] = ()

    @property
    def name(self) -> str:
        return self.history.name

    @property
    def model(self) -> type[M]:
        return self.history.model

    @property
    def plural_operation(self) -> str:
        return _plural(self.operation)

    @property
    def what_plural(self) -> str:
        return _plural(self.what)

    async def get(self, session: AsyncSession, id: uuid.UUID) -> M | None:
        """The object with this id, of any tenant (the caller checks who may see it)."""
        if self.find is not None:
            return await self.find(session, id)
        return await session.get(self.model, id)

    async def present(self, session: AsyncSession, objects: Sequence[M]) -> Sequence[BaseModel]:
        """``objects`` as their read schema, as get, update and list answer them."""
        if self.show is not None:
            return await self.show(session, objects)
        return [self.read(obj) for obj in objects]


def _plural(word: str) -> str:
    return f"{word[:-1]}ies" if word.endswith("y") else f"{word}s"
