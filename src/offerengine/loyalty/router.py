"""Loyalty's routes: programmes (a configuration kind, with versions and rollback), members and
their ledgers, adjustments and the expiry sweep (admin); a member's balance (run time)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Query, Response, status
from pydantic import BaseModel, Field

from offerengine.auth.deps import ConfigReader, ConfigWriter
from offerengine.clock import utcnow
from offerengine.deps import DbSession
from offerengine.errors import Invalid, NotFound
from offerengine.fields import Timestamp
from offerengine.http.query import Cursor, Limit
from offerengine.http.routing import router
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.loyalty import points, service
from offerengine.loyalty.models import LoyaltyMember, LoyaltyProgramme
from offerengine.loyalty.schemas import (
    Adjustment,
    AdjustmentRead,
    Balance,
    Code,
    ExpirySweep,
    LedgerEntryRead,
    LedgerKind,
    MemberCreate,
    MemberRead,
    MemberUpdate,
)
from offerengine.pagination import DEFAULT_LIMIT, Page
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes

api = router(tags=["loyalty"])
runtime = RuntimeRouter(tags=["loyalty"])
TENANT = "/v1/admin/tenants/{tenant}/loyalty"
PROGRAMME = f"{TENANT}/programmes/{{code}}"
MEMBER = f"{PROGRAMME}/members/{{customer_id}}"

add_kind_routes(
    api,
    service.PROGRAMME_KIND,
    docs=RouteDocs(
        create="A loyalty programme: tiers (lowest first) with their benefits (free bags, lounge, "
        "seat choice, bonus points), earn rules by fare family, cabin, product type and tier, "
        "a point's value per currency, and the months after which earned points expire.",
    ),
)


async def _programme(
    tenant: PathTenant,
    session: DbSession,
    code: Annotated[str, Path(min_length=1, max_length=20, description="The programme's code.")],
) -> LoyaltyProgramme:
    found = await service.programme_by_code(session, tenant.id, code)
    if found is None:
        raise NotFound(f"No loyalty programme {code!r}.")
    return found


PathProgramme = Annotated[LoyaltyProgramme, Depends(_programme)]
CustomerPath = Annotated[
    str, Path(min_length=1, max_length=200, description="The member's customer id.")
]


async def _member(
    programme: PathProgramme, session: DbSession, customer_id: CustomerPath
) -> LoyaltyMember:
    return await service.get_member(session, programme, customer_id)


PathMember = Annotated[LoyaltyMember, Depends(_member)]


@api.get(f"{PROGRAMME}/members", operation_id="listLoyaltyMembers")
async def list_members(
    programme: PathProgramme,
    _: ConfigReader,
    session: DbSession,
    tier: Annotated[Code | None, Query(description="Only members of this tier.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[MemberRead]:
    """The programme's members by customer id, with their tier and balance."""
    rows, next_cursor = await service.list_members(
        session, programme=programme, tier=tier, limit=limit, cursor=cursor
    )
    return Page[MemberRead](
        items=[service.member_read(m, programme) for m in rows], next_cursor=next_cursor
    )


@api.post(
    f"{PROGRAMME}/members", status_code=status.HTTP_201_CREATED, operation_id="enrolLoyaltyMember"
)
async def enrol_member(
    programme: PathProgramme, _: ConfigWriter, session: DbSession, body: MemberCreate
) -> MemberRead:
    """Enrol a customer at a tier, with no points; 409 if it is a member already."""
    member = await service.enrol(session, programme=programme, data=body, now=utcnow())
    return service.member_read(member, programme)


@api.get(MEMBER, operation_id="getLoyaltyMember")
async def get_member(programme: PathProgramme, member: PathMember, _: ConfigReader) -> MemberRead:
    """A member: tier, balance and lifetime points earned."""
    return service.member_read(member, programme)


@api.put(MEMBER, operation_id="updateLoyaltyMember")
async def update_member(
    programme: PathProgramme,
    member: PathMember,
    _: ConfigWriter,
    session: DbSession,
    body: MemberUpdate,
) -> MemberRead:
    """Move a member to another tier of the programme."""
    await service.set_tier(
        session, programme=programme, member=member, tier=body.tier, now=utcnow()
    )
    return service.member_read(member, programme)


@api.post(f"{MEMBER}/adjust", operation_id="adjustLoyaltyPoints")
async def adjust_points(
    programme: PathProgramme,
    member: PathMember,
    _: ConfigWriter,
    session: DbSession,
    body: Adjustment,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=150,
            description="Your unique key for this adjustment (or the body's `key`): sent "
            "again, it changes nothing.",
        ),
    ] = None,
) -> AdjustmentRead:
    """Add points (expiring as earned points do) or take them (409 if the member has fewer; the
    balance never goes below zero), with the reason, as one ledger entry. 201 when made, 200 when
    the same Idempotency-Key made it before."""
    if idempotency_key is None and body.key is None:
        raise Invalid.field(("header", "Idempotency-Key"), "Field required: or the body's key")
    if idempotency_key is not None and body.key is not None and idempotency_key != body.key:
        raise Invalid.field(("body", "key"), "differs from the Idempotency-Key header")
    entry, created = await points.adjust(
        session,
        programme=programme,
        member=member,
        points=body.points,
        reason=body.reason,
        key=idempotency_key or body.key or "",
        now=utcnow(),
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return AdjustmentRead(
        member=service.member_read(member, programme),
        entry=service.entry_read(entry),
        created=created,
    )


@api.get(f"{MEMBER}/ledger", operation_id="listLoyaltyLedger")
async def list_ledger(
    member: PathMember,
    _: ConfigReader,
    session: DbSession,
    kind: Annotated[LedgerKind | None, Query(description="Only entries of this kind.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[LedgerEntryRead]:
    """The member's ledger, newest first: every earn, redemption, expiry, reversal and
    adjustment, with the balance after it and, for points added, what is left of them and
    when they expire."""
    rows, next_cursor = await service.list_ledger(
        session, member=member, kind=kind, limit=limit, cursor=cursor
    )
    return Page[LedgerEntryRead](
        items=[service.entry_read(e) for e in rows], next_cursor=next_cursor
    )


class ExpireAt(BaseModel):
    at: Timestamp | None = Field(
        default=None, description="Expire what expired by then (default: now; never later)."
    )


@api.post(f"{TENANT}/expire", operation_id="expireLoyaltyPoints")
async def expire_points(
    tenant: PathTenant, _: ConfigWriter, session: DbSession, body: ExpireAt | None = None
) -> ExpirySweep:
    """Expire the tenant's earned points past their expiry: one `expire` entry per lot, the
    balance down by what was left of it. Idempotent: run it as often as you like."""
    now = utcnow()
    at = now if body is None or body.at is None else min(body.at, now)
    entries, expired = await points.expire(session, now=at, tenant_id=tenant.id)
    return ExpirySweep(expired_entries=entries, expired_points=expired)


# --- run time ----------------------------------------------------------------------------------


class BalanceQuery(BaseModel):
    programme: Code = Field(description="The programme's code.", examples=["SKY"])
    customer_id: str = Field(min_length=1, max_length=200, examples=["cust-42"])


@runtime.get(
    "/v1/loyalty/balance", operation_id="getLoyaltyBalance", query=BalanceQuery, response=Balance
)
async def get_balance(call: Call, query: BalanceQuery) -> Response:
    """A member's tier and points balance, the points expiring next and a point's worth: for a
    channel to show, and to pass the tier on as `customer.tier` when it shops."""
    return respond(
        await service.balance_of(
            call.context, call.snapshot, query.programme, query.customer_id, utcnow()
        )
    )
