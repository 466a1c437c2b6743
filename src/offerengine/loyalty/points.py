"""Points: every change of a member's balance, each one ledger entry, atomic and idempotent.

Every change takes the same steps in the caller's transaction:

1. the member's row is locked (an ``UPDATE … RETURNING`` that changes only ``updated_at``), so
   that changes of one member's points run one after another on PostgreSQL (SQLite runs write
   transactions one at a time anyway) and the lots read next are current;
2. the points are worked out by the pure core (:mod:`offerengine.loyalty.core`): what an order
   earns, which lots a use takes from, which lots have expired;
3. the balance moves by one conditional ``UPDATE … SET balance = balance + :delta WHERE
   balance + :delta >= 0 RETURNING balance``: a use of more points than the member holds changes
   nothing and is a 409, whatever runs at the same time (and a CHECK constraint stands behind it);
4. the lots' ``remaining`` move by conditional UPDATEs, and the entry is added under its natural
   key (``earn:<order>``, ``redeem:<order>``, ``reverse-earn:<order>``, ``refund:<order>``,
   ``adjust:<Idempotency-Key>``): the same change asked again answers the entry made before.

Orders call :func:`redeem_for_order` when made (points as a payment or a discount), then
:func:`earn_for_order` when confirmed, and :func:`reverse_for_order` when cancelled or expired
(the earned points taken back, as far as the balance has them; the redeemed points given back to
the lots they came from). :func:`expire` is the sweep: run it as often as you like.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.errors import Conflict, FieldError, Invalid, raise_if_any
from offerengine.loyalty import core
from offerengine.loyalty.models import LedgerEntry, LoyaltyMember, LoyaltyProgramme
from offerengine.loyalty.schemas import PointsPayment
from offerengine.loyalty.service import compiled
from offerengine.observability.logging import get_logger

log = get_logger("offerengine.loyalty")


async def _lock(session: AsyncSession, member_id: uuid.UUID, now: datetime) -> int:
    """Lock the member's row for this transaction; its balance."""
    balance = await session.scalar(
        sa.update(LoyaltyMember)
        .where(LoyaltyMember.id == member_id)
        .values(updated_at=now)
        .returning(LoyaltyMember.balance)
        .execution_options(synchronize_session=False)
    )
    if balance is None:
        raise Conflict("The loyalty member was removed meanwhile.")
    return int(balance)


async def _move(
    session: AsyncSession, member_id: uuid.UUID, delta: int, *, earned: int = 0
) -> int | None:
    """Move the balance by ``delta`` unless that would take it below zero; the new balance, or
    None when it did not move."""
    column = LoyaltyMember.balance
    return await session.scalar(
        sa.update(LoyaltyMember)
        .where(LoyaltyMember.id == member_id, column + delta >= 0)
        .values(balance=column + delta, earned=LoyaltyMember.earned + earned)
        .returning(column)
        .execution_options(synchronize_session=False)
    )


async def _lots(session: AsyncSession, member_id: uuid.UUID, now: datetime) -> list[core.Lot]:
    """The member's lots holding points that have not expired by ``now`` (an expired lot the
    sweep has yet to reach is not spent)."""
    rows = await session.execute(
        sa.select(
            LedgerEntry.id, LedgerEntry.remaining, LedgerEntry.expires_at, LedgerEntry.created_at
        ).where(
            LedgerEntry.member_id == member_id,
            LedgerEntry.remaining > 0,
            sa.or_(LedgerEntry.expires_at.is_(None), LedgerEntry.expires_at > now),
        )
    )
    return [core.Lot(r.id, r.remaining, r.expires_at, r.created_at) for r in rows]


async def _take(session: AsyncSession, taken: Sequence[tuple[uuid.UUID, int]]) -> None:
    for lot_id, n in taken:
        result = await session.execute(
            sa.update(LedgerEntry)
            .where(LedgerEntry.id == lot_id, LedgerEntry.remaining >= n)
            .values(remaining=LedgerEntry.remaining - n)
            .returning(LedgerEntry.id)
            .execution_options(synchronize_session=False)
        )
        if result.first() is None:  # the member's lock makes this unreachable; never oversell
            raise Conflict("The member's points changed meanwhile; try again.")


async def _give_back(session: AsyncSession, taken: Sequence[tuple[uuid.UUID, int]]) -> None:
    for lot_id, n in taken:
        await session.execute(
            sa.update(LedgerEntry)
            .where(LedgerEntry.id == lot_id)
            .values(remaining=LedgerEntry.remaining + n)
            .execution_options(synchronize_session=False)
        )


async def _entry(session: AsyncSession, member_id: uuid.UUID, key: str) -> LedgerEntry | None:
    return await session.scalar(
        sa.select(LedgerEntry).where(LedgerEntry.member_id == member_id, LedgerEntry.key == key)
    )


def _new_entry(member: LoyaltyMember, **values: Any) -> LedgerEntry:
    return LedgerEntry(id=uuid.uuid4(), tenant_id=member.tenant_id, member_id=member.id, **values)


async def _use(
    session: AsyncSession,
    member: LoyaltyMember,
    points: int,
    *,
    now: datetime,
    first: uuid.UUID | None = None,
    partial: bool = False,
) -> tuple[int, list[tuple[uuid.UUID, int]]] | None:
    """Take ``points`` from the member's lots (the lot ``first`` before the others) and its
    balance; with ``partial``, as many as it has. The balance after and the lots taken from; None
    when the member has fewer points and ``partial`` is not set."""
    lots = await _lots(session, member.id, now)
    if first is not None:
        own = [lot for lot in lots if lot.id == first]
        others = [lot for lot in lots if lot.id != first]
        taken = core.take(own, points)
        taken += core.take(others, points - sum(n for _, n in taken))
    else:
        taken = core.take(lots, points)
    total = sum(n for _, n in taken)
    if total < points and not partial:
        return None
    balance = await _move(session, member.id, -total)
    if balance is None:
        return None
    await _take(session, taken)
    return balance, taken


# --- adjustments ----------------------------------------------------------------------------------


async def adjust(
    session: AsyncSession,
    *,
    programme: LoyaltyProgramme,
    member: LoyaltyMember,
    points: int,
    reason: str,
    key: str,
    now: datetime,
) -> tuple[LedgerEntry, bool]:
    """Add (positive, expiring as earned points do) or take (negative) points by hand; the entry
    and whether it is new (False: ``key`` made it before)."""
    found = await _entry(session, member.id, f"adjust:{key}")
    if found is not None:
        return found, False
    if points == 0:
        raise Invalid.field(("body", "points"), "must not be 0")
    await _lock(session, member.id, now)
    detail: dict[str, Any] | None = None
    remaining, expires = 0, None
    if points > 0:
        balance = await _move(session, member.id, points)
        remaining, expires = points, core.expiry(compiled(programme), now)
    else:
        used = await _use(session, member, -points, now=now)
        if used is None:
            raise Conflict(
                f"{member.customer_id!r} has {member.balance} points, fewer than {-points}."
            )
        balance, taken = used
        detail = {"lots": [[str(i), n] for i, n in taken]}
    assert balance is not None  # an addition never takes the balance below zero
    entry = _new_entry(
        member,
        kind="adjust",
        points=points,
        balance_after=balance,
        remaining=remaining,
        expires_at=expires,
        key=f"adjust:{key}",
        programme_version=programme.version,
        reason=reason,
        detail=detail,
        created_at=now,
    )
    session.add(entry)
    await session.flush()
    await session.refresh(member)
    return entry, True


# --- orders ---------------------------------------------------------------------------------------


async def _member_of(
    session: AsyncSession, tenant_id: uuid.UUID, code: str, customer_id: str
) -> tuple[LoyaltyProgramme, LoyaltyMember] | None:
    row = (
        await session.execute(
            sa.select(LoyaltyProgramme, LoyaltyMember)
            .join(LoyaltyMember, LoyaltyMember.programme_id == LoyaltyProgramme.id)
            .where(
                LoyaltyProgramme.tenant_id == tenant_id,
                LoyaltyProgramme.code == code,
                LoyaltyProgramme.is_active.is_(True),
                LoyaltyMember.customer_id == customer_id,
            )
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def check_benefits(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    customer_id: str | None,
    items: Sequence[dict[str, Any]],
) -> None:
    """An order keeps an offer's tier benefits only for a member of that tier (the search's
    ``customer.tier`` is the channel's word): 409 otherwise, and nothing is booked."""
    claimed = {
        (str(i["benefit"]["programme"]), str(i["benefit"]["tier"]))
        for i in items
        if isinstance(i.get("benefit"), dict)
    }
    for code, tier in sorted(claimed):
        found = None
        if customer_id is not None:
            found = await _member_of(session, tenant_id, code, customer_id)
        if found is None or found[1].tier != tier:
            who = "its search named no customer" if customer_id is None else repr(customer_id)
            raise Conflict(
                f"The offer carries the {tier} benefits of {code}, and {who} is not a {tier} "
                "member of it: search again with the member's tier."
            )


async def redeem_for_order(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    order_id: uuid.UUID,
    customer_id: str | None,
    currency: str,
    total_minor: int,
    request: PointsPayment,
    now: datetime,
) -> tuple[dict[str, Any], int]:
    """Use the request's points for a new order of ``total_minor``: what the order's price shows
    of them, and its total after them (less by their worth for a discount, the same for a
    payment). 422 naming the field for what the request cannot ask; 409 when the member has
    fewer points (nothing is taken)."""
    loc = ("body", "pay_with_points")
    if customer_id is None:
        raise Invalid.field(loc, "the offer's search named no customer id to take points from")
    found = await _member_of(session, tenant_id, request.programme, customer_id)
    if found is None:
        raise Invalid.field(
            (*loc, "programme"),
            f"{customer_id!r} is not a member of an active programme {request.programme!r}",
        )
    programme, member = found
    rules = compiled(programme)
    errors: list[FieldError] = []
    value = rules.point_values.get(currency)
    if value is None:
        errors.append(
            FieldError((*loc, "programme"), f"{programme.code} gives points no value in {currency}")
        )
    if request.points < rules.min_redemption:
        errors.append(
            FieldError((*loc, "points"), f"at least {rules.min_redemption} points a redemption")
        )
    raise_if_any(errors)
    assert value is not None
    if request.points * value > money.from_minor(total_minor, currency):
        raise Invalid.field(
            (*loc, "points"),
            f"worth more than the order's total {money.format_amount(total_minor, currency)} "
            f"{currency}",
        )
    amount = core.worth_minor(request.points, value, currency)
    if amount <= 0:
        raise Invalid.field(
            (*loc, "points"), f"{request.points} points are worth nothing in {currency}"
        )
    if amount > total_minor:
        raise Invalid.field(
            (*loc, "points"),
            f"worth {money.format_amount(amount, currency)} {currency}, more than the order's "
            f"total {money.format_amount(total_minor, currency)}",
        )
    await _lock(session, member.id, now)
    used = await _use(session, member, request.points, now=now)
    if used is None:
        await session.refresh(member)
        raise Conflict(
            f"{customer_id!r} has {member.balance} points in {programme.code}, fewer than "
            f"{request.points}; nothing was taken."
        )
    balance, taken = used
    session.add(
        _new_entry(
            member,
            kind="redeem",
            points=-request.points,
            balance_after=balance,
            remaining=0,
            expires_at=None,
            key=f"redeem:{order_id}",
            order_id=order_id,
            amount_minor=amount,
            currency=currency,
            programme_version=programme.version,
            reason=f"order {order_id}: {request.use}",
            detail={"use": request.use, "lots": [[str(i), n] for i, n in taken]},
            created_at=now,
        )
    )
    worth = money.format_amount(amount, currency)
    after = total_minor - amount if request.use == "discount" else total_minor
    shown = {
        "programme": programme.code,
        "points": request.points,
        "use": request.use,
        "amount": worth,
        "value_per_point": money.plain(value),
        "due": money.format_amount(total_minor - amount, currency),
    }
    return shown, after


async def earn_for_order(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    order_id: uuid.UUID,
    customer_id: str | None,
    items: Sequence[dict[str, Any]],
    currency: str,
    price: dict[str, Any],
    now: datetime,
) -> list[LedgerEntry]:
    """Earn the confirmed order's points in every active programme its customer is a member
    of: by the programme's earn rules and the member's tier, on what the order's items cost less
    the share paid with points; once per order and member."""
    if customer_id is None:
        return []
    rows = (
        await session.execute(
            sa.select(LoyaltyProgramme, LoyaltyMember)
            .join(LoyaltyMember, LoyaltyMember.programme_id == LoyaltyProgramme.id)
            .where(
                LoyaltyProgramme.tenant_id == tenant_id,
                LoyaltyProgramme.is_active.is_(True),
                LoyaltyMember.customer_id == customer_id,
            )
            .order_by(LoyaltyProgramme.code)
        )
    ).all()
    made = []
    for programme, member in rows:
        key = f"earn:{order_id}"
        if await _entry(session, member.id, key) is not None:
            continue
        rules = compiled(programme)
        earning, why = _earning(rules, member.tier, items, currency, price)
        await _lock(session, member.id, now)
        balance = await _move(session, member.id, earning.points, earned=earning.points)
        assert balance is not None  # an addition never takes the balance below zero
        entry = _new_entry(
            member,
            kind="earn",
            points=earning.points,
            balance_after=balance,
            remaining=earning.points,
            expires_at=core.expiry(rules, now) if earning.points else None,
            key=key,
            order_id=order_id,
            programme_version=programme.version,
            reason=why,
            detail={"tier": member.tier, **earning.as_json()},
            created_at=now,
        )
        session.add(entry)
        made.append(entry)
    return made


def _earning(
    rules: core.Programme,
    tier: str,
    items: Sequence[dict[str, Any]],
    currency: str,
    price: dict[str, Any],
) -> tuple[core.Earning, str]:
    """What the order earns, and why, for the ledger."""
    if currency != rules.currency:
        return core.Earning(
            0, 0, ()
        ), f"the order is in {currency}; {rules.code} earns per {rules.currency}"
    share = Decimal(1)
    points = price.get("points")
    if isinstance(points, dict):
        # What points paid for earns nothing: the items earn on the share paid otherwise.
        gross = sum((Decimal(str(i["price"]["total"])) for i in items), Decimal(0))
        gross += Decimal(str(price.get("tax_total") or 0))
        if gross > 0:
            share = max(Decimal(0), (gross - Decimal(str(points["amount"]))) / gross)
    earn_items = [
        core.EarnItem(
            product_type=str(i.get("type") or ""),
            amount=Decimal(str(i["price"]["total"])) * share,
            cabin=i.get("cabin"),
            fare_family=i.get("fare_family"),
            item_id=str(i.get("item_id") or ""),
        )
        for i in items
    ]
    earning = core.earn(rules, tier, earn_items)
    return earning, f"order confirmed: {earning.base} points and a {tier} bonus of {earning.bonus}"


async def reverse_for_order(
    session: AsyncSession, *, tenant_id: uuid.UUID, order_id: uuid.UUID, now: datetime
) -> list[LedgerEntry]:
    """The order is cancelled or expired: take back what it earned (as far as the balance holds
    it, the order's own lot first) and give back the points it used to the lots they came from;
    once each."""
    entries = (
        await session.scalars(
            sa.select(LedgerEntry).where(
                LedgerEntry.tenant_id == tenant_id,
                LedgerEntry.order_id == order_id,
                LedgerEntry.kind.in_(("earn", "redeem")),
            )
        )
    ).all()
    made = []
    for entry in entries:
        member = await session.get(LoyaltyMember, entry.member_id)
        if member is None:
            continue
        if entry.kind == "earn":
            key = f"reverse-earn:{order_id}"
            if entry.points == 0 or await _entry(session, member.id, key) is not None:
                continue
            await _lock(session, member.id, now)
            used = await _use(session, member, entry.points, now=now, first=entry.id, partial=True)
            assert used is not None  # partial: never refused
            balance, taken = used
            took = sum(n for _, n in taken)
            await _move(session, member.id, 0, earned=-took)
            reversed_ = _new_entry(
                member,
                kind="reverse",
                points=-took,
                balance_after=balance,
                remaining=0,
                expires_at=None,
                key=key,
                order_id=order_id,
                programme_version=entry.programme_version,
                reason=f"order {order_id} cancelled: its earned points taken back"
                + ("" if took == entry.points else f" ({entry.points - took} were spent already)"),
                detail={"lots": [[str(i), n] for i, n in taken]},
                created_at=now,
            )
        else:
            key = f"refund:{order_id}"
            if await _entry(session, member.id, key) is not None:
                continue
            await _lock(session, member.id, now)
            taken = [(uuid.UUID(i), int(n)) for i, n in (entry.detail or {}).get("lots", [])]
            await _give_back(session, taken)
            refunded = await _move(session, member.id, -entry.points)
            assert refunded is not None  # an addition never takes the balance below zero
            reversed_ = _new_entry(
                member,
                kind="reverse",
                points=-entry.points,
                balance_after=refunded,
                remaining=0,
                expires_at=None,
                key=key,
                order_id=order_id,
                amount_minor=entry.amount_minor,
                currency=entry.currency,
                programme_version=entry.programme_version,
                reason=f"order {order_id} ended unpaid: its redeemed points given back",
                detail={"lots": [[str(i), n] for i, n in taken]},
                created_at=now,
            )
        session.add(reversed_)
        made.append(reversed_)
    return made


# --- expiry ---------------------------------------------------------------------------------------


async def expire(
    session: AsyncSession, *, now: datetime, tenant_id: uuid.UUID | None = None, limit: int = 1000
) -> tuple[int, int]:
    """Expire the points of lots past their expiry (of one tenant, or all): one ``expire`` entry
    per lot, the balance down by what was left of it. Idempotent: a lot emptied here is never
    expired again. How many entries and points."""
    stmt = (
        sa.select(LedgerEntry.id, LedgerEntry.member_id)
        .where(
            LedgerEntry.remaining > 0,
            LedgerEntry.expires_at.is_not(None),
            LedgerEntry.expires_at <= now,
        )
        # One order for every sweeper, so that two workers' sweeps lock members in the same
        # order (never a deadlock between them).
        .order_by(LedgerEntry.expires_at, LedgerEntry.id)
        .limit(limit)
    )
    if tenant_id is not None:
        stmt = stmt.where(LedgerEntry.tenant_id == tenant_id)
    entries = points = 0
    for lot_id, member_id in (await session.execute(stmt)).all():
        member = await session.get(LoyaltyMember, member_id)
        if member is None:
            continue
        await _lock(session, member_id, now)
        # Read again under the member's lock: a redemption may have used some meanwhile.
        left = await session.scalar(
            sa.select(LedgerEntry.remaining).where(LedgerEntry.id == lot_id)
        )
        if not left:
            continue
        await _take(session, [(lot_id, left)])
        balance = await _move(session, member_id, -left)
        if balance is None:  # the CHECK's invariant: the lots hold the balance
            raise Conflict("A member's balance is below its lots; not expiring.")
        session.add(
            _new_entry(
                member,
                kind="expire",
                points=-left,
                balance_after=balance,
                remaining=0,
                expires_at=None,
                key=f"expire:{lot_id}:{uuid.uuid4().hex[:8]}",
                reason="earned points expired",
                detail={"lot": str(lot_id)},
                created_at=now,
            )
        )
        entries += 1
        points += left
    if entries:
        await session.flush()
        log.info("loyalty_points_expired", entries=entries, points=points)
    return entries, points
