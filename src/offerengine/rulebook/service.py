"""The generic rules view: every kind of rule as seed 001's business rule, by delegation.

Seed 001 lists, reads, replaces, activates and deletes every kind of rule at one place
(``/v1/admin/rules``). We keep each kind apart, with its own service; this view finds a rule of
any kind by id and hands each use case to that kind's own (its :class:`ConfigKind`'s create,
update, delete and list, or the offer rules document's put), after mapping the seed's shape onto
the kind's with :mod:`offerengine.rulebook.core`. Nothing is copied: a rule changed here is
checked, versioned and audited exactly as through its own routes.

A list walks the kinds in :data:`RULE_TYPES` order, each in its own list order; its cursor is
the kind's position and the kind's own cursor (or, for a kind that lists all at once, the
position in that list).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.bundles import service as bundles
from offerengine.commerce import service as commerce
from offerengine.errors import Conflict, FieldError, Invalid, raise_if_any
from offerengine.inventory import rules as inventory
from offerengine.pagination import decode_cursor, encode_cursor
from offerengine.pricing import service as pricing
from offerengine.rulebook import core
from offerengine.rulebook.schemas import (
    BusinessRuleCreate,
    BusinessRuleRead,
    BusinessRuleStatus,
    BusinessRuleUpdate,
)
from offerengine.shopping import config as shopping
from offerengine.shopping.models import TenantDocument
from offerengine.tenants.models import Tenant
from offerengine.validation import validate
from offerengine.versioning.kinds import ConfigKind, PageRequest


class Source:
    """Where the rules of one kind are kept, and its use cases, as the view calls them."""

    shape: core.Shape

    async def find(self, session: AsyncSession, id: uuid.UUID) -> Any | None:
        raise NotImplementedError

    async def page(
        self, session: AsyncSession, tenant_id: uuid.UUID, limit: int, after: Any
    ) -> tuple[Sequence[Any], Any]:
        """Up to ``limit`` rules after the position ``after`` (None: from the first), and the
        position of the next (None: no more)."""
        raise NotImplementedError

    def values(self, obj: Any) -> dict[str, Any]:
        """The rule's fields as its kind's input takes them (what a PUT sends back)."""
        raise NotImplementedError

    def href(self, obj: Any) -> str:
        raise NotImplementedError

    async def create(
        self, session: AsyncSession, *, tenant: Tenant, data: dict[str, Any], actor: Actor
    ) -> Any:
        raise NotImplementedError

    async def update(
        self,
        session: AsyncSession,
        *,
        obj: Any,
        data: dict[str, Any],
        actor: Actor,
        expected_version: int | None,
    ) -> Any:
        raise NotImplementedError

    async def delete(
        self, session: AsyncSession, *, obj: Any, actor: Actor, expected_version: int | None
    ) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class KindSource(Source):
    """A configuration kind's rules: each use case is the kind's own."""

    shape: core.Shape
    kind: ConfigKind[Any]
    everything: Any  # the kind's list filter that keeps every rule

    async def find(self, session: AsyncSession, id: uuid.UUID) -> Any | None:
        return await self.kind.get(session, id)

    async def page(
        self, session: AsyncSession, tenant_id: uuid.UUID, limit: int, after: Any
    ) -> tuple[Sequence[Any], Any]:
        if self.kind.paged:
            if after is not None and not isinstance(after, str):
                raise _bad_cursor()
            return await self.kind.list(
                session,
                tenant_id=tenant_id,
                filters=self.everything,
                page=PageRequest(limit, after),
            )
        if after is not None and (not isinstance(after, int) or after < 0):
            raise _bad_cursor()
        rows, _ = await self.kind.list(
            session, tenant_id=tenant_id, filters=self.everything, page=None
        )
        start = after or 0
        end = start + limit
        return rows[start:end], (end if end < len(rows) else None)

    def values(self, obj: Any) -> dict[str, Any]:
        return _input_of(self.kind.read(obj), self.kind.update_schema)

    def href(self, obj: Any) -> str:
        return f"/v1/admin/{self.kind.path}/{obj.id}"

    async def create(
        self, session: AsyncSession, *, tenant: Tenant, data: dict[str, Any], actor: Actor
    ) -> Any:
        return await self.kind.create(
            session, tenant=tenant, data=validate(self.kind.create_schema, data), actor=actor
        )

    async def update(
        self,
        session: AsyncSession,
        *,
        obj: Any,
        data: dict[str, Any],
        actor: Actor,
        expected_version: int | None,
    ) -> Any:
        return await self.kind.update(
            session,
            obj=obj,
            data=validate(self.kind.update_schema, data),
            actor=actor,
            expected_version=expected_version,
        )

    async def delete(
        self, session: AsyncSession, *, obj: Any, actor: Actor, expected_version: int | None
    ) -> None:
        if self.kind.delete is None:
            raise Conflict(f"{_a(self.shape.what)} is not deleted: deactivate it instead.")
        await self.kind.delete(session, obj=obj, actor=actor, expected_version=expected_version)


@dataclass(frozen=True)
class OfferRulesSource(Source):
    """The tenant's offer rules: one document per tenant, replaced, never deleted."""

    shape: core.Shape

    async def find(self, session: AsyncSession, id: uuid.UUID) -> Any | None:
        found = await session.get(TenantDocument, id)
        return found if found is not None and found.kind == shopping.OFFER_RULES.kind else None

    async def page(
        self, session: AsyncSession, tenant_id: uuid.UUID, limit: int, after: Any
    ) -> tuple[Sequence[Any], Any]:
        if after is not None:
            raise _bad_cursor()
        found = await shopping.OFFER_RULES.get(session, tenant_id)
        return ([found] if found is not None else []), None

    def values(self, obj: Any) -> dict[str, Any]:
        return _input_of(shopping.OFFER_RULES.read(obj), shopping.OFFER_RULES.update_schema)

    def href(self, obj: Any) -> str:
        return f"/v1/admin/tenants/{obj.tenant_id}/offer-rules"

    async def create(
        self, session: AsyncSession, *, tenant: Tenant, data: dict[str, Any], actor: Actor
    ) -> Any:
        found = await shopping.OFFER_RULES.get(session, tenant.id)
        if found is not None:
            raise Conflict(
                f"The tenant's offer rules exist (rule {found.id}; a tenant has one): change "
                f"them with PUT /v1/admin/rules/{found.id}."
            )
        return await self._put(session, tenant.id, data, actor, None)

    async def update(
        self,
        session: AsyncSession,
        *,
        obj: Any,
        data: dict[str, Any],
        actor: Actor,
        expected_version: int | None,
    ) -> Any:
        return await self._put(session, obj.tenant_id, data, actor, expected_version)

    async def _put(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        data: dict[str, Any],
        actor: Actor,
        expected_version: int | None,
    ) -> Any:
        return await shopping.OFFER_RULES.put(
            session,
            tenant_id=tenant_id,
            data=validate(shopping.OFFER_RULES.update_schema, data),
            actor=actor,
            expected_version=expected_version,
        )

    async def delete(
        self, session: AsyncSession, *, obj: Any, actor: Actor, expected_version: int | None
    ) -> None:
        raise Conflict(
            "The offer rules are the tenant's one offer mix: they are replaced (PUT), never "
            "deleted."
        )


# Every kind of rule, in the order a list shows them.
RULE_TYPES: Mapping[str, Source] = {
    source.shape.rule_type: source
    for source in (
        KindSource(core.PRICING, pricing.RULE_KIND, pricing.RuleFilter()),
        KindSource(core.BUNDLING, bundles.BUNDLE_KIND, None),
        KindSource(core.INVENTORY, inventory.INVENTORY_RULE_KIND, None),
        OfferRulesSource(core.OFFER),
        KindSource(core.FEE, commerce.FEE_RULE_KIND, {}),
        KindSource(core.COMMISSION, commerce.RATE_KIND, {}),
    )
}


@dataclass(frozen=True, slots=True)
class Found:
    """A rule found by id, with the kind that keeps it."""

    source: Source
    obj: Any

    @property
    def tenant_id(self) -> uuid.UUID:
        tenant_id: uuid.UUID = self.obj.tenant_id
        return tenant_id


async def find(session: AsyncSession, id: uuid.UUID) -> Found | None:
    """The rule of any kind with this id, of any tenant (the caller checks who may see it)."""
    for source in RULE_TYPES.values():
        obj = await source.find(session, id)
        if obj is not None:
            return Found(source, obj)
    return None


def read(source: Source, obj: Any) -> BusinessRuleRead:
    """``obj`` as seed 001's business rule."""
    top, config = core.split(source.values(obj), source.shape)
    return BusinessRuleRead(
        id=obj.id,
        tenant_id=obj.tenant_id,
        rule_type=source.shape.rule_type,
        rule_name=top.get("rule_name"),
        rule_config=config,
        priority=top.get("priority"),
        is_active=top.get("is_active"),
        valid_from=top.get("valid_from"),
        valid_until=top.get("valid_until"),
        version=obj.version,
        created_at=obj.created_at,
        updated_at=obj.updated_at,
        href=source.href(obj),
    )


async def list_rules(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    rule_type: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[BusinessRuleRead], str | None]:
    """A page of the tenant's rules of every kind (or of ``rule_type``), and the next cursor."""
    kinds = list(RULE_TYPES) if rule_type is None else [rule_type]
    index, after = 0, None
    if cursor is not None:
        position, after = decode_cursor(cursor, 2)
        if not isinstance(position, int) or not 0 <= position < len(kinds):
            raise _bad_cursor()
        index = position
    found: list[BusinessRuleRead] = []
    while index < len(kinds):
        source = RULE_TYPES[kinds[index]]
        rows, following = await source.page(session, tenant_id, limit - len(found), after)
        found.extend(read(source, obj) for obj in rows)
        if following is not None:
            return found, encode_cursor([index, following])
        index, after = index + 1, None
        if len(found) >= limit:
            return found, (encode_cursor([index, None]) if index < len(kinds) else None)
    return found, None


async def create(
    session: AsyncSession, *, tenant: Tenant, data: BusinessRuleCreate, actor: Actor
) -> BusinessRuleRead:
    """A new rule of ``data.rule_type``, made by that kind's own create."""
    source = RULE_TYPES[data.rule_type]
    given = data.model_dump(mode="json", exclude_unset=True)
    values, origin = _flatten(given, source.shape)
    obj = await _as_kind(
        origin, source.shape, source.create(session, tenant=tenant, data=values, actor=actor)
    )
    return read(source, obj)


async def update(
    session: AsyncSession,
    *,
    found: Found,
    data: BusinessRuleUpdate,
    actor: Actor,
    expected_version: int | None,
) -> BusinessRuleRead:
    """Replace the rule, through its kind's own update."""
    source = found.source
    given = data.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    values, origin = _flatten(given, source.shape)
    obj = await _as_kind(
        origin,
        source.shape,
        source.update(
            session, obj=found.obj, data=values, actor=actor, expected_version=expected_version
        ),
    )
    return read(source, obj)


async def set_status(
    session: AsyncSession,
    *,
    found: Found,
    data: BusinessRuleStatus,
    actor: Actor,
    expected_version: int | None,
) -> BusinessRuleRead:
    """Activate or deactivate the rule: its kind's update, with only ``is_active`` changed."""
    source = found.source
    own = source.shape.fields.get("is_active")
    if own is None:
        raise Invalid.field(
            ("body", "is_active"),
            f"{_a(source.shape.what)} is always in force; change it with PUT "
            f"/v1/admin/rules/{found.obj.id}",
        )
    values = {**source.values(found.obj), own: data.is_active}
    obj = await source.update(
        session, obj=found.obj, data=values, actor=actor, expected_version=expected_version
    )
    return read(source, obj)


async def delete(
    session: AsyncSession, *, found: Found, actor: Actor, expected_version: int | None
) -> None:
    """Delete the rule through its kind's own delete (its history stays)."""
    await found.source.delete(
        session, obj=found.obj, actor=actor, expected_version=expected_version
    )


def _flatten(given: dict[str, Any], shape: core.Shape) -> tuple[dict[str, Any], dict[str, Any]]:
    values, origin, errors = core.flatten(given, shape)
    raise_if_any([e.under(("body",)) for e in errors])
    return values, origin


async def _as_kind(origin: Mapping[str, Any], shape: core.Shape, call: Any) -> Any:
    """Await the kind's use case; the errors of its input (its schema's and its own checks',
    located under ``body``) are located where the client sent each field."""
    try:
        return await call
    except Invalid as exc:
        if not exc.errors:
            raise
        raise type(exc).of([_moved(e, origin, shape) for e in exc.errors]) from None


def _moved(error: FieldError, origin: Mapping[str, Any], shape: core.Shape) -> FieldError:
    if len(error.loc) < 2 or error.loc[0] != "body":
        return error
    return FieldError(
        ("body", *core.relocate(error.loc[1:], origin, shape)),
        error.msg,
        error.type,
        error.position,
    )


def _input_of(read: BaseModel, schema: type[BaseModel]) -> dict[str, Any]:
    fields = {info.alias or name for name, info in schema.model_fields.items()} - {"version"}
    dumped = read.model_dump(mode="json", by_alias=True)
    return {k: v for k, v in dumped.items() if k in fields}


def _bad_cursor() -> Invalid:
    return Invalid.field(("query", "cursor"), "not a cursor returned by this list")


def _a(what: str) -> str:
    return f"{'an' if what[0] in 'aeiou' else 'a'} {what}"
