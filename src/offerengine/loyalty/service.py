"""Loyalty programmes as a configuration kind, compiled into the tenant's snapshot, and their
members.

A programme (tiers and their benefits, earn rules, point values, expiry) is versioned
configuration through :mod:`offerengine.versioning.editing`, like every kind: versions,
rollback, audit, the tenant's configuration version moving with each change. Its code is its
natural key. It is deleted only while it has no members (their ledgers are records of money's
worth), and a tier that members hold cannot be removed.

Members are state, not configuration: one per customer id and programme, enrolled and given a
tier by the admin API; their points move only through :mod:`offerengine.loyalty.points`. The unit
of work (``offerengine.deps.DbSession``) commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.errors import Conflict, FieldError, Invalid, Loc, NotFound, raise_if_any
from offerengine.loyalty import core
from offerengine.loyalty.models import LedgerEntry, LoyaltyMember, LoyaltyProgramme
from offerengine.loyalty.schemas import (
    Balance,
    LedgerEntryRead,
    MemberCreate,
    MemberRead,
    ProgrammeIn,
    ProgrammeRead,
    ProgrammeUpdate,
)
from offerengine.pagination import decode_cursor, encode_cursor
from offerengine.snapshots.core import Snapshot
from offerengine.versioning.editing import Editing, read_back
from offerengine.versioning.kinds import ConfigKind, PageRequest

if TYPE_CHECKING:
    from offerengine.context import AppContext


def read(obj: LoyaltyProgramme) -> ProgrammeRead:
    return ProgrammeRead.model_validate(
        {
            "id": obj.id,
            "tenant_id": obj.tenant_id,
            "code": obj.code,
            "name": obj.name,
            "currency": obj.currency,
            "tiers": obj.tiers,
            "earn_rules": obj.earn_rules,
            "point_values": obj.point_values,
            "expiry_months": obj.expiry_months,
            "min_redemption": obj.min_redemption,
            "is_active": obj.is_active,
            "version": obj.version,
            "created_at": obj.created_at,
            "updated_at": obj.updated_at,
        }
    )


def dump(obj: LoyaltyProgramme) -> dict[str, Any]:
    return read(obj).model_dump(mode="json")


def check(data: ProgrammeIn, loc: Loc = ("body",)) -> list[FieldError]:
    """Known currencies; tier codes and point-value currencies unique; earn rules name tiers the
    programme has."""
    errors: list[FieldError] = []
    try:
        money.currency(data.currency)
    except money.UnknownCurrency as exc:
        errors.append(FieldError((*loc, "currency"), str(exc)))
    tiers: set[str] = set()
    for i, tier in enumerate(data.tiers):
        if tier.code in tiers:
            errors.append(FieldError((*loc, "tiers", i, "code"), f"{tier.code!r} is twice"))
        tiers.add(tier.code)
    for i, rule in enumerate(data.earn_rules):
        if rule.tier is not None and rule.tier not in tiers:
            errors.append(
                FieldError((*loc, "earn_rules", i, "tier"), f"{rule.tier!r} is not a tier")
            )
    seen: set[str] = set()
    for i, value in enumerate(data.point_values):
        try:
            money.currency(value.currency)
        except money.UnknownCurrency as exc:
            errors.append(FieldError((*loc, "point_values", i, "currency"), str(exc)))
        if value.currency in seen:
            errors.append(
                FieldError((*loc, "point_values", i, "currency"), f"{value.currency} is twice")
            )
        seen.add(value.currency)
    return errors


def _apply(obj: LoyaltyProgramme, data: ProgrammeIn) -> None:
    values = data.model_dump(mode="json")
    for name in ProgrammeIn.model_fields:
        setattr(obj, name, values[name])


def _same(obj: LoyaltyProgramme, data: ProgrammeIn) -> bool:
    return read(obj).as_input() == data.model_dump(
        mode="json", include=set(ProgrammeIn.model_fields)
    )


async def _check(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    data: ProgrammeIn,
    current: LoyaltyProgramme | None,
) -> None:
    """The programme's own consistency; no tier removed that members hold."""
    raise_if_any(check(data))
    if current is None:
        return
    kept = {t.code for t in data.tiers}
    held = (
        await session.scalars(
            sa.select(LoyaltyMember.tier)
            .where(LoyaltyMember.programme_id == current.id, LoyaltyMember.tier.not_in(kept))
            .distinct()
        )
    ).all()
    if held:
        msg = f"members hold tier {', '.join(sorted(held))}: change their tier first"
        raise Conflict(f"body.tiers: {msg}", [FieldError(("body", "tiers"), msg)])


async def _check_delete(session: AsyncSession, obj: LoyaltyProgramme) -> None:
    members = await session.scalar(
        sa.select(sa.func.count()).where(LoyaltyMember.programme_id == obj.id)
    )
    if members:
        raise Conflict(
            f"Loyalty programme {obj.code!r} has {members} members: deactivate it instead."
        )


EDITING: Editing[LoyaltyProgramme, ProgrammeIn] = Editing(
    name="loyalty_programme",
    what="loyalty programme",
    model=LoyaltyProgramme,
    dump=dump,
    apply=_apply,
    same=_same,
    recorded=read_back(ProgrammeRead, ProgrammeIn),
    title=lambda obj: f"loyalty programme {obj.code!r}",
    check=_check,
    key=LoyaltyProgramme.code,
    check_delete=_check_delete,
)
PROGRAMME = EDITING.history


async def list_programmes(
    session: AsyncSession, *, tenant_id: uuid.UUID, active_only: bool = False
) -> Sequence[LoyaltyProgramme]:
    stmt = sa.select(LoyaltyProgramme).where(LoyaltyProgramme.tenant_id == tenant_id)
    if active_only:
        stmt = stmt.where(LoyaltyProgramme.is_active.is_(True))
    return (await session.scalars(stmt.order_by(LoyaltyProgramme.code))).all()


async def _list(
    session: AsyncSession, *, tenant_id: uuid.UUID, filters: None, page: PageRequest | None
) -> tuple[Sequence[LoyaltyProgramme], str | None]:
    return await list_programmes(session, tenant_id=tenant_id), None


PROGRAMME_KIND: ConfigKind[LoyaltyProgramme] = ConfigKind(
    history=PROGRAMME,
    what="loyalty programme",
    path="loyalty/programmes",
    operation="LoyaltyProgramme",
    create_schema=ProgrammeIn,
    update_schema=ProgrammeUpdate,
    read_schema=ProgrammeRead,
    read=read,
    create=EDITING.create,
    update=EDITING.update,
    delete=EDITING.delete,
    list=_list,
    paged=False,
)


# --- the snapshot section --------------------------------------------------------------------------


def compiled(obj: LoyaltyProgramme) -> core.Programme:
    """A stored programme as the pure core reads it."""
    data = read(obj)
    return core.Programme(
        id=obj.id,
        code=data.code,
        name=data.name,
        version=data.version,
        currency=data.currency,
        tiers=tuple(
            core.Tier(
                t.code,
                t.name,
                core.Benefits(
                    free_bags=t.benefits.free_bags,
                    lounge=t.benefits.lounge,
                    seat_choice=t.benefits.seat_choice,
                    bonus_percentage=t.benefits.bonus_percentage,
                ),
            )
            for t in data.tiers
        ),
        earn_rules=tuple(
            core.EarnRule(r.points_per_unit, r.fare_family, r.cabin, r.product_type, r.tier)
            for r in data.earn_rules
        ),
        point_values={v.currency: v.value for v in data.point_values},
        expiry_months=data.expiry_months,
        min_redemption=data.min_redemption,
    )


async def load_index(session: AsyncSession, tenant_id: uuid.UUID) -> core.LoyaltyIndex:
    """The tenant's active programmes, compiled, by code."""
    rows = await list_programmes(session, tenant_id=tenant_id, active_only=True)
    return core.LoyaltyIndex(tuple(compiled(r) for r in rows))


# --- members ---------------------------------------------------------------------------------------


def member_read(member: LoyaltyMember, programme: LoyaltyProgramme) -> MemberRead:
    return MemberRead(
        id=member.id,
        programme_id=member.programme_id,
        programme=programme.code,
        customer_id=member.customer_id,
        tier=member.tier,
        balance=member.balance,
        earned=member.earned,
        created_at=member.created_at,
        updated_at=member.updated_at,
    )


def entry_read(entry: LedgerEntry) -> LedgerEntryRead:
    amount = None
    if entry.amount_minor is not None and entry.currency is not None:
        amount = money.format_amount(entry.amount_minor, entry.currency)
    return LedgerEntryRead(
        id=entry.id,
        kind=entry.kind,
        points=entry.points,
        balance_after=entry.balance_after,
        remaining=entry.remaining,
        expires_at=entry.expires_at,
        key=entry.key,
        order_id=entry.order_id,
        amount=amount,
        currency=entry.currency,
        programme_version=entry.programme_version,
        reason=entry.reason,
        detail=entry.detail,
        created_at=entry.created_at,
    )


def _check_tier(programme: LoyaltyProgramme, tier: str) -> None:
    codes = [t["code"] for t in programme.tiers]
    if tier not in codes:
        raise_if_any(
            [FieldError(("body", "tier"), f"{tier!r} is not a tier of {programme.code}: {codes}")]
        )


async def enrol(
    session: AsyncSession, *, programme: LoyaltyProgramme, data: MemberCreate, now: datetime
) -> LoyaltyMember:
    """A new member of ``programme`` at ``data.tier``, with no points; 409 if the customer is one
    already."""
    _check_tier(programme, data.tier)
    found = await find_member(session, programme.id, data.customer_id)
    if found is not None:
        msg = f"{data.customer_id!r} is a member of {programme.code} already"
        raise Conflict(f"body.customer_id: {msg}", [FieldError(("body", "customer_id"), msg)])
    member = LoyaltyMember(
        id=uuid.uuid4(),
        tenant_id=programme.tenant_id,
        programme_id=programme.id,
        customer_id=data.customer_id,
        tier=data.tier,
        balance=0,
        earned=0,
        created_at=now,
        updated_at=now,
    )
    session.add(member)
    await session.flush()
    return member


async def set_tier(
    session: AsyncSession,
    *,
    programme: LoyaltyProgramme,
    member: LoyaltyMember,
    tier: str,
    now: datetime,
) -> LoyaltyMember:
    """Move the member to ``tier`` (a tier of its programme)."""
    _check_tier(programme, tier)
    if member.tier != tier:
        member.tier = tier
        member.updated_at = now
        await session.flush()
    return member


async def find_member(
    session: AsyncSession, programme_id: uuid.UUID, customer_id: str
) -> LoyaltyMember | None:
    return await session.scalar(
        sa.select(LoyaltyMember).where(
            LoyaltyMember.programme_id == programme_id, LoyaltyMember.customer_id == customer_id
        )
    )


async def get_member(
    session: AsyncSession, programme: LoyaltyProgramme, customer_id: str
) -> LoyaltyMember:
    found = await find_member(session, programme.id, customer_id)
    if found is None:
        raise NotFound(f"{customer_id!r} is not a member of loyalty programme {programme.code}.")
    return found


async def list_members(
    session: AsyncSession,
    *,
    programme: LoyaltyProgramme,
    tier: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[LoyaltyMember], str | None]:
    """The programme's members by customer id, a page at a time."""
    stmt = sa.select(LoyaltyMember).where(LoyaltyMember.programme_id == programme.id)
    if tier is not None:
        stmt = stmt.where(LoyaltyMember.tier == tier)
    if cursor is not None:
        (after,) = decode_cursor(cursor, 1)
        stmt = stmt.where(LoyaltyMember.customer_id > str(after))
    rows = list(
        (await session.scalars(stmt.order_by(LoyaltyMember.customer_id).limit(limit + 1))).all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor([rows[-1].customer_id]) if more else None


async def list_ledger(
    session: AsyncSession,
    *,
    member: LoyaltyMember,
    kind: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[LedgerEntry], str | None]:
    """The member's ledger, newest first, a page at a time."""
    stmt = sa.select(LedgerEntry).where(LedgerEntry.member_id == member.id)
    if kind is not None:
        stmt = stmt.where(LedgerEntry.kind == kind)
    if cursor is not None:
        at, last = decode_cursor(cursor, 2)
        try:
            at_time, last_id = datetime.fromisoformat(str(at)), uuid.UUID(str(last))
        except ValueError:
            raise Invalid.field(("query", "cursor"), "not a cursor returned by this list") from None
        stmt = stmt.where(
            sa.or_(
                LedgerEntry.created_at < at_time,
                sa.and_(LedgerEntry.created_at == at_time, LedgerEntry.id < last_id),
            )
        )
    order = (LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
    rows = list((await session.scalars(stmt.order_by(*order).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if not more:
        return rows, None
    return rows, encode_cursor([rows[-1].created_at.isoformat(), str(rows[-1].id)])


async def programme_by_code(
    session: AsyncSession, tenant_id: uuid.UUID, code: str
) -> LoyaltyProgramme | None:
    return await session.scalar(
        sa.select(LoyaltyProgramme).where(
            LoyaltyProgramme.tenant_id == tenant_id, LoyaltyProgramme.code == code
        )
    )


async def balance_of(
    ctx: AppContext, snapshot: Snapshot, code: str, customer_id: str, now: datetime
) -> Balance:
    """A member's balance at run time: the programme from the snapshot, the member and its
    next-expiring lots read in a session of their own; 404 for an unknown programme or member."""
    programme = next((p for p in snapshot.loyalty.programmes if p.code == code), None)
    if programme is None:
        raise NotFound(f"No active loyalty programme {code!r}.")
    async with ctx.session_factory() as session:
        member = await find_member(session, programme.id, customer_id)
        if member is None:
            raise NotFound(f"{customer_id!r} is not a member of loyalty programme {code}.")
        lots = (
            await session.execute(
                sa.select(LedgerEntry.expires_at, LedgerEntry.remaining)
                .where(
                    LedgerEntry.member_id == member.id,
                    LedgerEntry.remaining > 0,
                    LedgerEntry.expires_at.is_not(None),
                    LedgerEntry.expires_at > now,
                )
                .order_by(LedgerEntry.expires_at)
                .limit(50)
            )
        ).all()
    next_expiry = lots[0].expires_at if lots else None
    value: Decimal | None = programme.point_values.get(programme.currency)
    return Balance(
        programme=programme.code,
        customer_id=member.customer_id,
        tier=member.tier,
        balance=member.balance,
        next_expiry=next_expiry,
        expiring_points=sum(r.remaining for r in lots if r.expires_at == next_expiry),
        point_value=None if value is None else money.plain(value),
        currency=programme.currency,
    )
