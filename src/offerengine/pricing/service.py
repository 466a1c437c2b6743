"""Pricing rule use cases. Rules are compiled when saved (a bad condition or formula is a 422
pointing into the rule) and again into each tenant's snapshot, where run time finds them.

Pricing rules are a configuration kind (``RULE_KIND``): create, update, delete and history are the
generic ones (:mod:`offerengine.versioning.editing`), the rule name unique per tenant; theirs are
the check (the rule compiles, its product is the tenant's), the status change, export/import (in
bulk, through the same steps) and simulation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import bulk
from offerengine.auth.core import Actor
from offerengine.catalog.models import Product
from offerengine.db import search
from offerengine.db.base import utcnow
from offerengine.errors import FieldError, Invalid, Loc, raise_if_any
from offerengine.observability.logging import get_logger
from offerengine.pagination import DEFAULT_LIMIT, decode_cursor, encode_cursor
from offerengine.pricing import core
from offerengine.pricing.models import PricingRule
from offerengine.pricing.schemas import (
    PricingRuleCreate,
    PricingRuleImportResult,
    PricingRuleIn,
    PricingRuleRead,
    PricingRuleTransfer,
    PricingRuleUpdate,
)
from offerengine.rules import core as rules
from offerengine.rules.facts import read_facts
from offerengine.rules.vocabulary import PRICING
from offerengine.snapshots.core import Snapshot
from offerengine.tenants.models import Tenant
from offerengine.versioning import service as versioning
from offerengine.versioning.editing import Editing, read_back
from offerengine.versioning.kinds import ConfigKind, PageRequest, Transfer

log = get_logger("offerengine.pricing")
_FIELDS = tuple(PricingRuleIn.model_fields)


def dump(rule: PricingRule) -> dict[str, Any]:
    return PricingRuleRead.of(rule).model_dump(mode="json")


def _values(data: PricingRuleIn) -> dict[str, Any]:
    """The stored values: JSON for the JSON columns, typed values for the rest."""
    values = data.model_dump(mode="json", include=set(_FIELDS))
    values.update(
        product_id=data.product_id, valid_from=data.valid_from, valid_until=data.valid_until
    )
    return values


def compile_stored(rule: PricingRule) -> core.Rule:
    return core.compile_rule(
        id=rule.id,
        name=rule.rule_name,
        rule_type=rule.rule_type,
        version=rule.version,
        priority=rule.priority,
        created_at=rule.created_at,
        conditions=rule.conditions,
        adjustments=rule.adjustments,
        product_id=rule.product_id,
        product_type=rule.product_type,
        category=rule.category,
        valid_from=rule.valid_from,
        valid_until=rule.valid_until,
        exclusive=rule.exclusive,
        is_active=rule.is_active,
        tags=rule.tags,
    )


def check(data: PricingRuleIn, loc: Loc = ("body",)) -> list[FieldError]:
    """Compile the rule's condition and formula; the errors point into the rule."""
    try:
        core.compile_rule(
            id=uuid.uuid4(),
            name=data.rule_name,
            rule_type=data.rule_type,
            version=1,
            priority=data.priority,
            created_at=utcnow(),
            conditions=data.conditions,
            adjustments=data.adjustments.model_dump(mode="json"),
        )
    except rules.RuleError as exc:
        return [e.under(loc) for e in exc.errors]
    return []


async def _check_references(
    session: AsyncSession, tenant_id: uuid.UUID, data: PricingRuleIn, loc: Loc = ("body",)
) -> list[FieldError]:
    if data.product_id is None:
        return []
    found = await session.scalar(
        sa.select(Product.id).where(Product.id == data.product_id, Product.tenant_id == tenant_id)
    )
    return (
        []
        if found
        else [FieldError((*loc, "product_id"), f"no product {data.product_id} in this tenant")]
    )


def _apply(rule: PricingRule, data: PricingRuleIn) -> None:
    for name, value in _values(data).items():
        setattr(rule, name, value)


def _same(rule: PricingRule, data: PricingRuleIn) -> bool:
    """Whether saving ``data`` would change nothing (times compared as instants)."""
    in_utc = {
        name: None if when is None else when.astimezone(UTC)
        for name, when in (("valid_from", data.valid_from), ("valid_until", data.valid_until))
    }
    wanted = data.model_copy(update=in_utc).model_dump(mode="json", include=set(_FIELDS))
    return PricingRuleRead.of(rule).as_input() == wanted


async def _check(
    session: AsyncSession, tenant_id: uuid.UUID, data: PricingRuleIn, current: PricingRule | None
) -> None:
    """What saving a rule checks beyond its schema (the name's uniqueness is the kind's)."""
    raise_if_any(check(data) + await _check_references(session, tenant_id, data))


EDITING: Editing[PricingRule, PricingRuleIn] = Editing(
    name="pricing_rule",
    what="rule",
    model=PricingRule,
    dump=dump,
    apply=_apply,
    same=_same,
    recorded=read_back(PricingRuleRead, PricingRuleCreate),
    title=lambda rule: f"pricing rule {rule.rule_name!r}",
    check=_check,
    key=PricingRule.rule_name,
)
PRICING_RULE = EDITING.history
create = EDITING.create  # for callers outside HTTP (seeds, tests)


async def set_status(
    session: AsyncSession,
    *,
    rule: PricingRule,
    is_active: bool,
    actor: Actor,
    expected_version: int | None,
) -> PricingRule:
    versioning.check_version(rule, expected_version, EDITING.title(rule))
    if rule.is_active == is_active:
        return rule
    before = dump(rule)
    rule.is_active = is_active
    await versioning.record(
        session,
        PRICING_RULE,
        rule,
        action="status",
        actor=actor,
        before=before,
        detail="activated" if is_active else "deactivated",
    )
    return rule


@dataclass(frozen=True, slots=True)
class RuleFilter:
    rule_type: str | None = None
    active: bool | None = None
    product_id: uuid.UUID | None = None
    tag: str | None = None
    q: str | None = None


async def list_rules(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    where: RuleFilter,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[PricingRule], str | None]:
    """A page of rules in the order they apply (priority, then creation), read from the
    database a page at a time: the cursor carries the last rule's place in that order."""
    stmt = _filtered(sa.select(PricingRule), session, tenant_id, where)
    if cursor:
        priority, created, last_id = decode_cursor(cursor, 3)
        try:
            after = (
                int(str(priority)),
                datetime.fromisoformat(str(created)),
                uuid.UUID(str(last_id)),
            )
        except ValueError:
            raise Invalid.field(("query", "cursor"), "not a cursor returned by this list") from None
        stmt = stmt.where(
            sa.tuple_(PricingRule.priority, PricingRule.created_at, PricingRule.id) > after
            if session.get_bind().dialect.name == "postgresql"
            else sa.or_(
                PricingRule.priority > after[0],
                sa.and_(PricingRule.priority == after[0], PricingRule.created_at > after[1]),
                sa.and_(
                    PricingRule.priority == after[0],
                    PricingRule.created_at == after[1],
                    PricingRule.id > after[2],
                ),
            )
        )
    order = (PricingRule.priority, PricingRule.created_at, PricingRule.id)
    rows = (await session.scalars(stmt.order_by(*order).limit(limit + 1))).all()
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor([last.priority, last.created_at.isoformat(), str(last.id)])


async def count_rules(session: AsyncSession, *, tenant_id: uuid.UUID, filters: RuleFilter) -> int:
    """How many rules :func:`list_rules` finds, all pages together."""
    stmt = sa.select(sa.func.count()).select_from(PricingRule)
    return int(await session.scalar(_filtered(stmt, session, tenant_id, filters)) or 0)


def _filtered(stmt: Any, session: AsyncSession, tenant_id: uuid.UUID, where: RuleFilter) -> Any:
    stmt = stmt.where(PricingRule.tenant_id == tenant_id)
    if where.rule_type:
        stmt = stmt.where(PricingRule.rule_type == where.rule_type)
    if where.active is not None:
        stmt = stmt.where(PricingRule.is_active == where.active)
    if where.product_id:
        stmt = stmt.where(PricingRule.product_id == where.product_id)
    if where.q:
        stmt = stmt.where(search.contains(PricingRule.rule_name, where.q))
    if where.tag:
        stmt = stmt.where(
            search.json_list_holds(PricingRule.tags, where.tag, session.get_bind().dialect.name)
        )
    return stmt


async def _list(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    filters: RuleFilter,
    page: PageRequest | None,
) -> tuple[Sequence[PricingRule], str | None]:
    page = page or PageRequest(DEFAULT_LIMIT)
    return await list_rules(
        session, tenant_id=tenant_id, where=filters, limit=page.limit, cursor=page.cursor
    )


async def export(session: AsyncSession, *, tenant_id: uuid.UUID) -> PricingRuleTransfer:
    """Every rule, in the shape import takes."""
    rows = await session.scalars(
        sa.select(PricingRule)
        .where(PricingRule.tenant_id == tenant_id)
        .order_by(PricingRule.priority, PricingRule.created_at, PricingRule.id)
    )
    return PricingRuleTransfer(pricing_rules=[PricingRuleRead.of(r).as_input() for r in rows])


async def import_transfer(
    session: AsyncSession, *, tenant: Tenant, data: PricingRuleTransfer, actor: Actor
) -> PricingRuleImportResult:
    """An import (see :func:`import_rules`), and what became of it."""
    outcome = await import_rules(session, tenant=tenant, rows=data.pricing_rules, actor=actor)
    return PricingRuleImportResult(
        created=len(outcome.created),
        updated=len(outcome.updated),
        unchanged=len(outcome.unchanged),
        items=[PricingRuleRead.of(r) for r in outcome.all],
    )


async def import_rules(
    session: AsyncSession, *, tenant: Tenant, rows: Sequence[Mapping[str, Any]], actor: Actor
) -> bulk.Outcome[PricingRule]:
    """Create or update rules by rule_name, all or nothing, every bad row reported."""
    product_ids = set(
        await session.scalars(sa.select(Product.id).where(Product.tenant_id == tenant.id))
    )

    def check_row(parsed: PricingRuleCreate, loc: Loc) -> PricingRuleCreate | list[FieldError]:
        errors = check(parsed, loc)
        if parsed.product_id is not None and parsed.product_id not in product_ids:
            errors.append(
                FieldError((*loc, "product_id"), f"no product {parsed.product_id} in this tenant")
            )
        return errors or parsed

    values = bulk.check_rows(
        rows,
        collection="pricing_rules",
        schema=PricingRuleCreate,
        check=check_row,
        key=lambda v: v.rule_name,
        key_field="rule_name",
    )

    async def existing(names: list[str]) -> dict[str, PricingRule]:
        found = await session.scalars(
            sa.select(PricingRule).where(
                PricingRule.tenant_id == tenant.id, PricingRule.rule_name.in_(names)
            )
        )
        return {r.rule_name: r for r in found}

    return await bulk.upsert(
        session,
        kind=EDITING.history,
        values=values,
        key=lambda v: v.rule_name,
        existing=existing,
        make=lambda: EDITING.instance(tenant.id),
        apply=EDITING.apply,
        same=EDITING.same,
        actor=actor,
    )


# The pricing rules as a configuration kind: the standard routes at /v1/admin/…/pricing-rules.
RULE_KIND: ConfigKind[PricingRule] = ConfigKind(
    history=PRICING_RULE,
    what="pricing rule",
    path="pricing-rules",
    operation="PricingRule",
    create_schema=PricingRuleCreate,
    update_schema=PricingRuleUpdate,
    read_schema=PricingRuleRead,
    read=PricingRuleRead.of,
    create=EDITING.create,
    update=EDITING.update,
    delete=EDITING.delete,
    list=_list,
    count=count_rules,
    transfer=Transfer(
        schema=PricingRuleTransfer,
        result=PricingRuleImportResult,
        export=export,
        import_=import_transfer,
    ),
)


# --- the snapshot section and simulation -----------------------------------------------------------


async def load_index(
    session: AsyncSession, tenant_id: uuid.UUID, products: Sequence[Any]
) -> core.PricingIndex:
    """Compile the tenant's rules for its snapshot."""
    compiled = []
    for rule in await session.scalars(
        sa.select(PricingRule).where(PricingRule.tenant_id == tenant_id)
    ):
        try:
            compiled.append(compile_stored(rule))
        except (rules.RuleError, KeyError, ValueError) as exc:
            # Checked when saved; only a change of the language could make a stored rule fail.
            log.error("pricing_rule_does_not_compile", rule_id=str(rule.id), error=str(exc))
    return core.PricingIndex.build(compiled, products)


@dataclass(frozen=True, slots=True)
class Simulation:
    result: core.PriceResult
    product: Any
    at: datetime
    facts: dict[str, Any]


def simulate(
    *, snapshot: Snapshot, product: Any, scenario: Mapping[str, Any], at: datetime | None
) -> Simulation:
    """Price ``product`` for ``scenario`` with the tenant's compiled rules, as run time would."""
    facts, errors = read_facts(
        scenario, PRICING, loc=("body", "scenario"), reserved=core.PRODUCT_FACTS
    )
    raise_if_any(errors)
    when = at or utcnow()
    complete = core.situation_facts(facts, at=when, timezone=snapshot.tenant.timezone)
    result = core.price(
        product, snapshot.pricing.rules_for(product, include_inactive=True), complete, at=when
    )
    shown = {k: v for k, v in complete.items() if k != rules.NOW}
    return Simulation(result, product, when, shown)
