"""The kinds that import and export in bulk: products, decisioning offers, commission rates.

A :class:`Porter` says, for one configuration kind, what its files hold (:class:`Layout`), how a
row is checked into the kind's input (with what the check needs loaded once per import: the
tenant's placements, its feature flags), and which edits (:class:`Editing`) apply an input to an
object and dump an object for its history, so that an imported object is stored and recorded
exactly as one saved through the API.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from offerengine.catalog import core as catalog_core
from offerengine.catalog import service as catalog
from offerengine.catalog.models import Product
from offerengine.catalog.schemas import ProductCreate, ProductRead
from offerengine.commerce import schemas as commerce_schemas
from offerengine.commerce import service as commerce
from offerengine.commerce.models import CommissionRate
from offerengine.decisioning import schemas as decisioning_schemas
from offerengine.decisioning import service as decisioning
from offerengine.decisioning.models import DecisioningObject
from offerengine.errors import FieldError, Loc
from offerengine.flags.models import FeatureFlag
from offerengine.rules import core as rules
from offerengine.tenants.models import Tenant
from offerengine.transfer.core import Column, Layout
from offerengine.versioning.editing import Editing
from offerengine.wording import plain

# A row checked: the kind's input, or what is wrong with the row.
RowCheck = Callable[[Mapping[str, Any], int], Any]


@dataclass(frozen=True, slots=True)
class Checked:
    """A good row: the kind's input, its natural key (or the id of the object it replaces),
    and the version it expects that object at (None: any)."""

    data: Any
    key: str | None
    version: int | None = None


@dataclass(frozen=True)
class Porter:
    """One kind's bulk import and export (see the module's doc)."""

    path: str  # in routes and commands: "products"
    what: str  # to people: "product"
    layout: Layout
    editing: Editing[Any, Any]
    # The natural key's column, unique per tenant (None: rows name the object they replace by
    # its ``id``, and a row without one creates an object).
    key: InstrumentedAttribute[Any] | None
    key_field: str | None  # the key's field in a row and in error reports
    where: tuple[sa.ColumnElement[bool], ...]  # the kind's rows among the model's
    prepare: Callable[[AsyncSession, Tenant], Awaitable[RowCheck]]
    exported: Callable[[Any], dict[str, Any]]  # an object as a row of its export
    # Sets an input's values on an object without the ORM's instrumentation, where the edits'
    # ``apply`` needs a mapped object (None: the edits' own).
    apply: Callable[[Any, Any], None] | None = None
    # The edits' ``dump`` (an object's state for its history) made without validating the
    # object again, where that costs (None: the edits' own; tests hold the two equal).
    dump: Callable[[Any], dict[str, Any]] | None = None

    @property
    def model(self) -> Any:
        return self.editing.model

    @property
    def order(self) -> Any:
        return self.key if self.key is not None else self.model.id


def _schema_errors(exc: ValidationError, loc: Loc) -> list[FieldError]:
    return [FieldError((*loc, *e["loc"]), plain(e), e["type"]) for e in exc.errors()]


# --- products --------------------------------------------------------------------------------------

_PRODUCT_COLUMNS = tuple(
    Column(name, "json" if name == "metadata" else "bool" if name == "is_active" else "text")
    for name in catalog_core.CSV_COLUMNS
)


async def _products(session: AsyncSession, tenant: Tenant) -> RowCheck:
    currency = tenant.base_currency

    def check(row: Mapping[str, Any], index: int) -> Checked | list[FieldError]:
        loc: Loc = ("products", index)
        try:
            parsed = ProductCreate.model_validate(row)
        except ValidationError as exc:
            return _schema_errors(exc, loc)
        values = catalog_core.normalize(parsed.to_input(), default_currency=currency, loc=loc)
        if isinstance(values, list):
            return values
        return Checked(values, values.product_code)

    return check


PRODUCTS = Porter(
    path="products",
    what="product",
    layout=Layout("products", _PRODUCT_COLUMNS, ("product_type", "product_code", "name")),
    editing=catalog.EDITING,
    key=Product.product_code,
    key_field="product_code",
    where=(),
    prepare=_products,
    exported=lambda p: ProductRead.of(p).as_input(),
)


# --- decisioning offers ----------------------------------------------------------------------------

_OFFER_JSON = ("tags", "representations", "eligibility", "capping", "attributes")
_OFFER_COLUMNS = tuple(
    Column(name, "json" if name in _OFFER_JSON else "int" if name == "priority" else "text")
    for name in (
        "name",
        "status",
        "start",
        "end",
        "priority",
        "tags",
        "representations",
        "eligibility",
        "capping",
        "value",
        "cost",
        "attributes",
    )
)


async def _offers(session: AsyncSession, tenant: Tenant) -> RowCheck:
    """Rows as offers: their placements the tenant's, their eligibility rules compiling (each
    distinct rule compiled once per import)."""
    placements = set(
        await session.scalars(
            sa.select(DecisioningObject.id).where(
                DecisioningObject.tenant_id == tenant.id,
                DecisioningObject.kind == decisioning.PLACEMENT.kind,
            )
        )
    )
    rule_errors: dict[bytes, list[FieldError]] = {}
    encode = msgspec.json.Encoder(order="sorted").encode

    def compiled(rule: Any, loc: Loc) -> list[FieldError]:
        if rule is None or rule == "" or rule == {}:
            return []
        text = encode(rule)
        if text not in rule_errors:
            try:
                decisioning.compile_eligibility(rule)
                rule_errors[text] = []
            except rules.RuleError as exc:
                rule_errors[text] = list(exc.errors)
        return [e.under(loc) for e in rule_errors[text]]

    def check(row: Mapping[str, Any], index: int) -> Checked | list[FieldError]:
        loc: Loc = ("offers", index)
        try:
            parsed = decisioning_schemas.OfferIn.model_validate(row)
        except ValidationError as exc:
            return _schema_errors(exc, loc)
        errors = [
            FieldError(
                (*loc, "representations", i, "placement_id"), f"no placement {rep.placement_id}"
            )
            for i, rep in enumerate(parsed.representations)
            if rep.placement_id not in placements
        ]
        errors += compiled(parsed.eligibility, (*loc, "eligibility"))
        return errors or Checked(parsed, parsed.name)

    return check


_moment = TypeAdapter(datetime)


@functools.lru_cache(maxsize=256)
def _shown(moment: datetime) -> Any:
    """A timestamp as the API's JSON shows it (an import stamps most objects with one)."""
    return _moment.dump_python(moment, mode="json")


def _dump_offer(obj: Any) -> dict[str, Any]:
    """``OFFER``'s dump of an offer whose body its edits made (already its input's JSON)."""
    return {
        **obj.body,
        "name": obj.name,
        "status": obj.status,
        "id": str(obj.id),
        "tenant_id": str(obj.tenant_id),
        "version": obj.version,
        "created_at": _shown(obj.created_at),
        "updated_at": _shown(obj.updated_at),
    }


def _offer_row(obj: DecisioningObject) -> dict[str, Any]:
    return decisioning.OFFER.as_input(obj).model_dump(mode="json")


OFFERS = Porter(
    path="decisioning-offers",
    what="decisioning offer",
    layout=Layout("offers", _OFFER_COLUMNS, ("name",)),
    editing=decisioning.OFFER.editing,
    key=DecisioningObject.name,
    key_field="name",
    where=(DecisioningObject.kind == decisioning.OFFER.kind,),
    prepare=_offers,
    exported=_offer_row,
    dump=_dump_offer,
)


# --- commission rates ------------------------------------------------------------------------------

_RATE_COLUMNS = (
    Column("id"),
    Column("version", "int"),
    *(
        Column(
            name,
            "json"
            if name == "tiers"
            else "bool"
            if name == "is_active"
            else "int"
            if name == "priority"
            else "text",
        )
        for name in commerce_schemas.CommissionRateIn.model_fields
    ),
)
_RATE_FIELDS = set(commerce_schemas.CommissionRateIn.model_fields)


async def _rates(session: AsyncSession, tenant: Tenant) -> RowCheck:
    """Rows as commission rates: their amounts in the currency's decimals, the feature flags
    they name the tenant's (loaded once per import)."""
    flags = set(
        await session.scalars(sa.select(FeatureFlag.key).where(FeatureFlag.tenant_id == tenant.id))
    )

    def check(row: Mapping[str, Any], index: int) -> Checked | list[FieldError]:
        loc: Loc = ("rates", index)
        try:
            parsed = commerce_schemas.BulkRate.model_validate(row)
        except ValidationError as exc:
            return _schema_errors(exc, loc)
        fresh = commerce_schemas.CommissionRateIn.model_validate(
            parsed.model_dump(include=_RATE_FIELDS, by_alias=False)
        )
        body, errors, named = commerce.body_of(
            commerce.RATE, fresh, base_currency=tenant.base_currency, loc=loc
        )
        found = [FieldError(e.loc[1:], e.msg, e.type) for e in errors]  # ("body", *loc, …)
        found += [
            FieldError(where, f"no feature flag {key!r}")
            for where, key in named
            if key and key not in flags
        ]
        if found:
            return found
        entry = commerce.Entry(body, [], [])
        return Checked(entry, None if parsed.id is None else str(parsed.id), parsed.version)

    return check


def _rate_row(rate: CommissionRate) -> dict[str, Any]:
    shown = commerce.RATE.read(rate).model_dump(mode="json", include=_RATE_FIELDS)
    return {"id": str(rate.id), "version": rate.version, **shown}


def _apply_rate(obj: Any, entry: commerce.Entry) -> None:
    """:func:`offerengine.commerce.service.apply` of a commission rate (which tells the three
    commerce kinds apart by their mapped class)."""
    body = entry.body
    obj.body = body
    obj.is_active = bool(body.get("is_active", True))
    obj.component = body["component"]
    obj.category = body.get("category")
    obj.seller_id = body.get("seller_id")
    obj.logistics_provider = body.get("logistics_provider")
    obj.region = body.get("region")


RATES = Porter(
    path="commission-rates",
    what="commission rate",
    layout=Layout("rates", _RATE_COLUMNS, ("commission_type",)),
    editing=commerce.RATE.editing,
    key=None,
    key_field="id",
    where=(),
    prepare=_rates,
    exported=_rate_row,
    apply=_apply_rate,
)

PORTERS: Mapping[str, Porter] = {p.path: p for p in (PRODUCTS, OFFERS, RATES)}
