"""Commerce configuration use cases: commission rates, fee and tax rules and coupons, versioned
and checked when saved.

Each kind (:class:`Spec`) keeps its body as JSON, with the columns lists filter on copied out
(:func:`apply`), a history, the generic edits (:attr:`Spec.editing`, over the input prepared as
an :class:`Entry` under the tenant's currency) and the generic configuration routes
(``RATE_KIND``, ``FEE_RULE_KIND``, ``COUPON_KIND``). Saving checks what the schema cannot:
amounts in the currency's decimals, each fee type's configuration, the feature flags named, unique
fee rule names and coupon codes. Elsewhere: rates in bulk (:mod:`offerengine.commerce.bulk`), a
fee rule's versions (:mod:`offerengine.commerce.fee_versions`), and the snapshot's index compiled
from the kinds (:mod:`offerengine.commerce.compiling`).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from offerengine import money
from offerengine.commerce import schemas as s
from offerengine.commerce.models import CommissionRate, Coupon, CouponUsage, FeeRule
from offerengine.errors import FieldError, Invalid, Loc, raise_if_any
from offerengine.flags.models import FeatureFlag
from offerengine.pagination import DEFAULT_LIMIT, decode_cursor, encode_cursor
from offerengine.tenants.models import Tenant
from offerengine.versioning import service as versioning
from offerengine.versioning.editing import Editing
from offerengine.versioning.kinds import ConfigKind, PageRequest, Shows
from offerengine.wording import plain

BODY: Loc = ("body",)
Model = CommissionRate | FeeRule | Coupon
M = TypeVar("M", CommissionRate, FeeRule, Coupon)


@dataclass(frozen=True, slots=True)
class Entry:
    """An input as the edits take it: the body to store, what is wrong with it that needs no
    database to see, and the feature flags it names (which must be the tenant's)."""

    body: dict[str, Any]
    errors: list[FieldError]
    flags: list[tuple[Loc, str | None]]


@dataclass(frozen=True)
class Spec(Generic[M]):
    """One kind of commerce configuration: its model, schemas, history and edits."""

    what: str
    model: type[M]
    schema_in: type[BaseModel]
    schema_read: type[BaseModel]
    history_name: str
    key: InstrumentedAttribute[Any] | None = None  # the natural key, unique per tenant

    def read(self, obj: M, **extra: Any) -> Any:
        return self.schema_read.model_validate(
            {
                **obj.body,
                "id": obj.id,
                "tenant_id": obj.tenant_id,
                "version": obj.version,
                "created_at": obj.created_at,
                "updated_at": obj.updated_at,
                **extra,
            }
        )

    def as_input(self, obj: M) -> BaseModel:
        return self.schema_in.model_validate(obj.body)

    def input_of(self, values: Mapping[str, Any]) -> BaseModel:
        """The kind's input among ``values`` (an update's body, a recorded state)."""
        return self.schema_in.model_validate(
            {k: v for k, v in values.items() if k in self.schema_in.model_fields}
        )

    @property
    def history(self) -> versioning.Kind[M]:
        return self.editing.history

    def dump(self, obj: M) -> dict[str, Any]:
        return dict(self.read(obj).model_dump(mode="json"))

    @functools.cached_property
    def editing(self) -> Editing[M, Entry]:
        """The generic edits (:mod:`offerengine.versioning.editing`) over :class:`Entry`."""
        key = self.key
        return Editing(
            name=self.history_name,
            what=self.what,
            model=self.model,
            dump=self.dump,
            apply=lambda obj, entry: apply(obj, entry.body),
            same=lambda obj, entry: entry.body == obj.body,
            recorded=self.input_of,
            title=lambda obj: f"{self.what} {obj.id}",
            check=_check_entry,
            key=key,
            key_of=None if key is None else lambda entry: entry.body[key.key],
            prepare=self._prepare,
        )

    async def _prepare(self, session: AsyncSession, tenant_id: uuid.UUID, data: BaseModel) -> Entry:
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
        return Entry(
            *body_of(self, self.input_of(data.model_dump()), base_currency=tenant.base_currency)
        )


RATE: Spec[CommissionRate] = Spec(
    "commission rate", CommissionRate, s.CommissionRateIn, s.CommissionRateRead, "commission_rate"
)
FEE_RULE: Spec[FeeRule] = Spec(
    "fee rule", FeeRule, s.FeeRuleIn, s.FeeRuleRead, "fee_rule", key=FeeRule.name
)
COUPON: Spec[Coupon] = Spec("coupon", Coupon, s.CouponIn, s.CouponRead, "coupon", key=Coupon.code)


def _money(values: Iterable[tuple[Loc, Decimal | None]], currency: str) -> list[FieldError]:
    errors = []
    for loc, value in values:
        if value is None:
            continue
        try:
            money.to_minor(value, currency)
        except ValueError as exc:
            errors.append(FieldError((*BODY, *loc), str(exc)))
    return errors


def _rate_name(data: s.CommissionRateIn) -> str:
    if data.commission_type == "TIERED":
        how = "tiered"
    elif data.commission_type == "FLAT":
        how = f"{data.rate} per unit"
    else:
        how = f"{money.plain(data.rate or Decimal(0))}%"
    scope = [
        f"{label} {value}"
        for label, value in (
            ("seller", data.seller_id),
            ("category", data.category),
            ("logistics", data.logistics_provider),
            ("in", data.region),
        )
        if value is not None
    ]
    return f"{how} {data.resolved_component()} commission" + (
        f" ({', '.join(scope)})" if scope else " (every item)"
    )


async def _flag_errors(
    session: AsyncSession, tenant_id: uuid.UUID, flags: Iterable[tuple[Loc, str | None]]
) -> list[FieldError]:
    wanted = [(loc, key) for loc, key in flags if key]
    if not wanted:
        return []
    known = set(
        await session.scalars(
            sa.select(FeatureFlag.key).where(
                FeatureFlag.tenant_id == tenant_id,
                FeatureFlag.key.in_([key for _, key in wanted]),
            )
        )
    )
    return [
        FieldError((*BODY, *loc), f"no feature flag {key!r}")
        for loc, key in wanted
        if key not in known
    ]


def body_of(
    spec: Spec[Any], data: BaseModel, *, base_currency: str, loc: Loc = ()
) -> tuple[dict[str, Any], list[FieldError], list[tuple[Loc, str | None]]]:
    """What can be checked without the database: amounts in the currency's decimals, each fee
    type's configuration. The body to store, the errors, and the flags it names."""

    def at(*where: str | int) -> Loc:
        return (*loc, *where)

    errors: list[FieldError] = []
    values = data.model_dump(mode="json")
    currency = values.get("currency") or base_currency
    values["currency"] = currency
    flags: list[tuple[Loc, str | None]] = []
    if isinstance(data, s.CommissionRateIn):
        values["component"] = data.resolved_component()
        values["name"] = data.name or _rate_name(data)
        amounts: list[tuple[Loc, Decimal | None]] = [
            (at("min_amount"), data.min_amount),
            (at("max_amount"), data.max_amount),
            *((at("tiers", i, "up_to"), t.up_to) for i, t in enumerate(data.tiers or ())),
        ]
        if data.commission_type == "FLAT":
            amounts.append((at("rate"), data.rate))
        errors += _money(amounts, currency)
        flags.append((at("flag"), data.flag))
    elif isinstance(data, s.FeeRuleIn):
        schema = s.CONFIGURATIONS[data.type]
        try:
            config = schema.model_validate(data.configuration)
        except ValidationError as exc:
            errors += [
                FieldError((*BODY, *at("configuration"), *e["loc"]), plain(e), e["type"])
                for e in exc.errors(include_url=False)
            ]
        else:
            values["configuration"] = config.model_dump(mode="json")
            dumped = config.model_dump()
            money_fields = ("base_fee", "per_kg", "fee", "threshold", "max_fee")
            errors += _money(
                [
                    (at("configuration", name), dumped.get(name))
                    for name in money_fields
                    if name in dumped
                ]
                + [
                    (at("configuration", "bands", i, "fee"), band["fee"])
                    for i, band in enumerate(dumped.get("bands") or ())
                ],
                currency,
            )
            flags.append((at("configuration", "multiplier_flag"), dumped.get("multiplier_flag")))
        flags.append((at("flag"), data.flag))
    elif isinstance(data, s.CouponIn):
        errors += _money(
            [
                (at("min_basket"), data.min_basket),
                (at("max_discount"), data.max_discount),
                (at("value"), data.value if data.type == "FIXED" else None),
            ],
            currency,
        )
    body = {k: v for k, v in values.items() if k not in ("version", "id")}
    return body, errors, flags


async def _check_entry(
    session: AsyncSession, tenant_id: uuid.UUID, data: Entry, current: object = None
) -> None:
    raise_if_any(data.errors + await _flag_errors(session, tenant_id, data.flags))


async def check(
    session: AsyncSession, tenant: Tenant, spec: Spec[Any], data: BaseModel, *, loc: Loc = ()
) -> Entry:
    """Check what the schema cannot (see :func:`body_of`; and the flags named exist); the input
    as the edits take it. Natural keys are the edits' to check (:attr:`Spec.editing`)."""
    entry = Entry(*body_of(spec, data, base_currency=tenant.base_currency, loc=loc))
    await _check_entry(session, tenant.id, entry)
    return entry


def apply(obj: Model, body: dict[str, Any]) -> None:
    obj.body = body
    obj.is_active = bool(body.get("is_active", True))
    if isinstance(obj, CommissionRate):
        obj.component = body["component"]
        obj.category = body.get("category")
        obj.seller_id = body.get("seller_id")
        obj.logistics_provider = body.get("logistics_provider")
        obj.region = body.get("region")
    elif isinstance(obj, FeeRule):
        obj.name = body["name"]
        obj.type = body["type"]
        obj.region = body.get("region")
    else:
        obj.code = body["code"]


async def list_objects(
    session: AsyncSession,
    *,
    spec: Spec[M],
    tenant_id: uuid.UUID,
    filters: Mapping[str, Any],
    page: PageRequest | None,
) -> tuple[Sequence[M], str | None]:
    """A page of the tenant's objects of ``spec``, by id, matching ``filters`` (column → value),
    and the cursor of the next page (a first page of the default size when ``page`` is None)."""
    page = page or PageRequest(DEFAULT_LIMIT)
    model: Any = spec.model
    stmt = _filtered(sa.select(model), model, tenant_id, filters)
    after = _after(page.cursor)
    if after is not None:
        stmt = stmt.where(model.id > after)
    rows = (await session.scalars(stmt.order_by(model.id).limit(page.limit + 1))).all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return rows, (encode_cursor([str(rows[-1].id)]) if more and rows else None)


async def count_objects(
    session: AsyncSession, *, spec: Spec[M], tenant_id: uuid.UUID, filters: Mapping[str, Any]
) -> int:
    """How many objects :func:`list_objects` finds, all pages together."""
    model: Any = spec.model
    stmt = sa.select(sa.func.count()).select_from(model)
    return int(await session.scalar(_filtered(stmt, model, tenant_id, filters)) or 0)


def _filtered(stmt: Any, model: Any, tenant_id: uuid.UUID, filters: Mapping[str, Any]) -> Any:
    stmt = stmt.where(model.tenant_id == tenant_id)
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(model, column) == value)
    return stmt


def _after(cursor: str | None) -> uuid.UUID | None:
    if cursor is None:
        return None
    (value,) = decode_cursor(cursor, 1)
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Invalid.field(("query", "cursor"), "not a cursor returned by this list") from None


async def usage_counts(
    session: AsyncSession, tenant_id: uuid.UUID, coupon_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Accepted uses of each coupon, in all."""
    if not coupon_ids:
        return {}
    rows = await session.execute(
        sa.select(CouponUsage.coupon_id, CouponUsage.count).where(
            CouponUsage.tenant_id == tenant_id,
            CouponUsage.coupon_id.in_(coupon_ids),
            CouponUsage.customer_id == "",
        )
    )
    return {coupon_id: int(count) for coupon_id, count in rows}


async def _show_coupons(session: AsyncSession, coupons: Sequence[Coupon]) -> list[BaseModel]:
    """Coupons as readers see them: with their accepted uses."""
    used: dict[uuid.UUID, int] = {}
    for tenant_id in {c.tenant_id for c in coupons}:
        used |= await usage_counts(session, tenant_id, [c.id for c in coupons])
    return [COUPON.read(c, used=used.get(c.id, 0)) for c in coupons]


def _declare(
    spec: Spec[M],
    *,
    path: str,
    operation: str,
    update_schema: type[BaseModel],
    show: Shows[M] | None = None,
) -> ConfigKind[M]:
    """``spec`` as a configuration kind (:mod:`offerengine.versioning.kinds`), at ``path``."""
    return ConfigKind(
        history=spec.history,
        what=spec.what,
        path=path,
        operation=operation,
        create_schema=spec.schema_in,
        update_schema=update_schema,
        read_schema=spec.schema_read,
        read=spec.read,
        create=spec.editing.create,
        update=spec.editing.update,
        delete=spec.editing.delete,
        list=partial(list_objects, spec=spec),
        count=partial(count_objects, spec=spec),
        show=show,
    )


RATE_KIND = _declare(
    RATE,
    path="commission-rates",
    operation="CommissionRate",
    update_schema=s.CommissionRateUpdate,
)
FEE_RULE_KIND = _declare(
    FEE_RULE, path="fee-rules", operation="FeeRule", update_schema=s.FeeRuleUpdate
)
COUPON_KIND = _declare(
    COUPON,
    path="coupons",
    operation="Coupon",
    update_schema=s.CouponUpdate,
    show=_show_coupons,
)
