"""Price-point policies as a configuration kind: per cabin (and optionally per route), the
multipliers of the rules' price a learned-price bandit chooses among
(:mod:`offerengine.revenue.core.pricepoints`), with versions, rollback, export/import and audit
through the generic machinery (:mod:`offerengine.versioning.editing`, one policy per cabin and
route); and their report: the booking policies compared on a simulated route with the policy's
points, and the off-policy estimate of its learned prices against the rules' prices.

The unit of work (``offerengine.deps.DbSession``) commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.errors import Conflict, FieldError, Loc, raise_if_any
from offerengine.revenue.core import pricepoints as pp
from offerengine.revenue.core import simulation
from offerengine.revenue.models import PricePointPolicy
from offerengine.revenue.schemas import (
    EstimateRead,
    OutcomeRead,
    PricePointPolicyImportResult,
    PricePointPolicyIn,
    PricePointPolicyRead,
    PricePointPolicyTransfer,
    PricePointPolicyUpdate,
    SimulateIn,
    SimulationRead,
)
from offerengine.tenants.models import Tenant
from offerengine.versioning.editing import Editing, read_back
from offerengine.versioning.kinds import ConfigKind, PageRequest, Transfer


def read(obj: PricePointPolicy) -> PricePointPolicyRead:
    return PricePointPolicyRead.model_validate(
        {
            "id": obj.id,
            "tenant_id": obj.tenant_id,
            "cabin": obj.cabin,
            "route": obj.route,
            "multipliers": obj.multipliers,
            "max_step": pp.key(Decimal(obj.max_step)),  # 0.2, not the column's 0.2000
            "epsilon": obj.epsilon,
            "mode": obj.mode,
            "is_active": obj.is_active,
            "version": obj.version,
            "created_at": obj.created_at,
            "updated_at": obj.updated_at,
        }
    )


def dump(obj: PricePointPolicy) -> dict[str, Any]:
    return read(obj).model_dump(mode="json")


def check(data: PricePointPolicyIn, loc: Loc = ("body",)) -> list[FieldError]:
    """Multipliers distinct and ascending with 1 among them."""
    errors: list[FieldError] = []
    values = list(data.multipliers)
    if values != sorted(set(values)):
        errors.append(FieldError((*loc, "multipliers"), "must be distinct and ascending"))
    if pp.RULES not in values:
        errors.append(FieldError((*loc, "multipliers"), "must include 1, the rules' own price"))
    return errors


def points(obj: PricePointPolicy | PricePointPolicyIn) -> pp.PricePoints:
    """The policy as the pure core takes it."""
    return pp.PricePoints(
        tuple(Decimal(str(m)) for m in obj.multipliers),
        Decimal(str(obj.max_step)),
        epsilon=float(obj.epsilon),
    )


def _apply(obj: PricePointPolicy, data: PricePointPolicyIn) -> None:
    obj.cabin = data.cabin
    obj.route = data.route
    obj.multipliers = [format(m.normalize(), "f") for m in data.multipliers]
    obj.max_step = data.max_step
    obj.epsilon = data.epsilon
    obj.mode = data.mode
    obj.is_active = data.is_active


async def _same_scope(
    session: AsyncSession, tenant_id: uuid.UUID, cabin: str, route: str | None
) -> PricePointPolicy | None:
    return await session.scalar(
        sa.select(PricePointPolicy).where(
            PricePointPolicy.tenant_id == tenant_id,
            PricePointPolicy.cabin == cabin,
            PricePointPolicy.route.is_(None) if route is None else PricePointPolicy.route == route,
        )
    )


async def _check(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    data: PricePointPolicyIn,
    current: PricePointPolicy | None,
) -> None:
    """The multipliers; one policy per cabin and route (none: every route)."""
    raise_if_any(check(data))
    found = await _same_scope(session, tenant_id, data.cabin, data.route)
    if found is not None and (current is None or found.id != current.id):
        msg = f"{data.cabin} on {data.route or 'every route'} has a price-point policy already"
        raise Conflict(f"body.route: {msg}", [FieldError(("body", "route"), msg)])


def _same(obj: PricePointPolicy, data: PricePointPolicyIn) -> bool:
    fields = set(PricePointPolicyIn.model_fields)
    mine = PricePointPolicyIn.model_validate(read(obj).as_input())
    theirs = PricePointPolicyIn.model_validate(data.model_dump(include=fields))
    return mine == theirs  # Decimals compare by value: 1.10 is 1.1


EDITING: Editing[PricePointPolicy, PricePointPolicyIn] = Editing(
    name="price_point_policy",
    what="price-point policy",
    model=PricePointPolicy,
    dump=dump,
    apply=_apply,
    same=_same,
    recorded=read_back(PricePointPolicyRead, PricePointPolicyIn),
    title=lambda obj: "price-point policy",
    check=_check,
)
PRICE_POINT_POLICY = EDITING.history


async def list_policies(
    session: AsyncSession, *, tenant_id: uuid.UUID
) -> Sequence[PricePointPolicy]:
    """The tenant's policies by cabin, the all-routes policy first."""
    order = (PricePointPolicy.cabin, PricePointPolicy.route.is_not(None), PricePointPolicy.route)
    stmt = sa.select(PricePointPolicy).where(PricePointPolicy.tenant_id == tenant_id)
    return (await session.scalars(stmt.order_by(*order))).all()


async def _list(
    session: AsyncSession, *, tenant_id: uuid.UUID, filters: None, page: PageRequest | None
) -> tuple[Sequence[PricePointPolicy], str | None]:
    return await list_policies(session, tenant_id=tenant_id), None


async def export(session: AsyncSession, *, tenant_id: uuid.UUID) -> PricePointPolicyTransfer:
    """Every policy, in the shape import takes."""
    rows = await list_policies(session, tenant_id=tenant_id)
    return PricePointPolicyTransfer.model_validate(
        {"price_point_policies": [read(r).as_input() for r in rows]}
    )


async def import_policies(
    session: AsyncSession, *, tenant: Tenant, data: PricePointPolicyTransfer, actor: Actor
) -> PricePointPolicyImportResult:
    """Create or update policies by cabin and route, all or nothing, every bad one reported."""
    done = await EDITING.import_by_scope(
        session,
        tenant=tenant,
        items=data.price_point_policies,
        actor=actor,
        at=("body", "price_point_policies"),
        scope=lambda item: (item.cabin, item.route),
        twice=("route", "a policy for this cabin and route is twice"),
        check=check,
        find=lambda session, tenant_id, scope: _same_scope(session, tenant_id, *scope),
    )
    return PricePointPolicyImportResult(
        created=done.created,
        updated=done.updated,
        unchanged=done.unchanged,
        items=[read(r) for r in done.objects],
    )


def simulate(policy: PricePointPolicy, request: SimulateIn) -> SimulationRead:
    """The booking policies on the request's route (default: the demonstration route), the
    learned prices choosing among this policy's points; with the off-policy report."""
    scenario = simulation.DEMO if request.scenario is None else request.scenario.scenario()
    compared = simulation.compare(
        scenario,
        departures=request.departures,
        history=request.history,
        seed=request.seed,
        points=points(policy),
    )
    return SimulationRead(
        capacity=scenario.capacity,
        classes=[f.code for f in scenario.classes],
        outcomes=[
            OutcomeRead(
                policy=o.policy,
                departures=o.departures,
                revenue=o.revenue,
                revenue_sd=o.revenue_sd,
                load_factor=o.load_factor,
                sold_by_class=o.sold_by_class,
            )
            for o in compared.outcomes.values()
        ],
        learned=_estimate(compared.prices.learned),
        rules=_estimate(compared.prices.rules),
        logged=compared.prices.logged,
        points_served=compared.points_served,
    )


def _estimate(e: Any) -> EstimateRead:
    return EstimateRead(
        method=e.method,
        value=e.value,
        low=e.low,
        high=e.high,
        n=e.n,
        level=e.level,
        effective_n=e.effective_n,
    )


# Price-point policies as a configuration kind: the standard routes at
# /v1/admin/…/price-point-policies, listed all at once by cabin.
PRICE_POINT_POLICY_KIND: ConfigKind[PricePointPolicy] = ConfigKind(
    history=PRICE_POINT_POLICY,
    what="price-point policy",
    path="price-point-policies",
    operation="PricePointPolicy",
    create_schema=PricePointPolicyIn,
    update_schema=PricePointPolicyUpdate,
    read_schema=PricePointPolicyRead,
    read=read,
    create=EDITING.create,
    update=EDITING.update,
    delete=EDITING.delete,
    list=_list,
    paged=False,
    transfer=Transfer(
        schema=PricePointPolicyTransfer,
        result=PricePointPolicyImportResult,
        export=export,
        import_=import_policies,
    ),
)
