"""Catalog logic that needs no database: product values, money checks, the compiled index, CSV rows.

Prices are given as decimal strings with a currency (or, as in seed 001, ``base_price_nuc``: integer
minor units of NUC, the filing unit) and stored as integer minor units. A price with more decimals
than its currency has is refused, never rounded.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import msgspec

from offerengine import money
from offerengine.errors import FieldError, Loc

# Known product types, from seed 001; the list is open: any upper-case identifier is accepted.
KNOWN_PRODUCT_TYPES = (
    "FLIGHT",
    "SEAT",
    "MEAL",
    "BAG",
    "LOUNGE",
    "FAST_TRACK",
    "INSURANCE",
    "HOTEL",
    "CAR",
    "WIFI",
    "PRIORITY",
)
PRODUCT_TYPE_PATTERN = r"^[A-Z][A-Z0-9_]{0,49}$"
PRODUCT_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,49}$"
MAX_METADATA_BYTES = 64 * 1024

# What a partner product's price is per. A product without a unit is priced per seated passenger
# (× the bundle line's quantity), as every ancillary is; a unit prices it for the party:
PER_TRIP = "per_trip"  # once per offer
PER_NIGHT = "per_night"  # per night of the stay (HOTEL)
PER_DAY = "per_day"  # per day of hire (CAR)
PER_PASSENGER = "per_passenger"  # per passenger, infants included (INSURANCE)
PRICING_UNITS = (PER_TRIP, PER_NIGHT, PER_DAY, PER_PASSENGER)
# The one product type a unit of time belongs to; per_trip and per_passenger fit any but FLIGHT.
UNIT_TYPES = {PER_NIGHT: "HOTEL", PER_DAY: "CAR"}
PARTNER_CODE_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{1,19}$"

CSV_COLUMNS = (
    "product_type",
    "product_code",
    "name",
    "description",
    "category",
    "base_price",
    "currency",
    "cost",
    "price_floor",
    "price_ceiling",
    "metadata",
    "is_active",
    "partner_code",
    "partner_name",
    "pricing_unit",
)


@dataclass(frozen=True, slots=True)
class ProductInput:
    """What a caller gave for one product, after structural validation."""

    product_type: str
    product_code: str
    name: str
    description: str | None
    category: str | None
    base_price: Decimal | None
    base_price_nuc: int | None
    currency: str | None
    cost: Decimal | None
    attributes: Mapping[str, Any]
    is_active: bool
    price_floor: Decimal | None = None
    price_ceiling: Decimal | None = None
    partner_code: str | None = None
    partner_name: str | None = None
    pricing_unit: str | None = None


@dataclass(frozen=True, slots=True)
class ProductValues:
    """A product's stored values: money in minor units."""

    product_type: str
    product_code: str
    name: str
    description: str | None
    category: str | None
    base_price_minor: int
    currency: str
    cost_minor: int | None
    attributes: Mapping[str, Any]
    is_active: bool
    price_floor_minor: int | None = None
    price_ceiling_minor: int | None = None
    partner_code: str | None = None
    partner_name: str | None = None
    pricing_unit: str | None = None


def partner_errors(
    product_type: str,
    partner_code: str | None,
    partner_name: str | None,
    pricing_unit: str | None,
    loc: Loc = ("body",),
) -> list[FieldError]:
    """What is wrong with a product's partner and pricing unit for its type: a FLIGHT is the
    airline's own and priced by the fare; a night is a HOTEL's, a day a CAR's; a partner is named
    by its code and its name together."""
    errors: list[FieldError] = []
    if product_type == "FLIGHT":
        if pricing_unit is not None:
            errors.append(
                FieldError(
                    (*loc, "pricing_unit"),
                    "a FLIGHT product is priced per passenger by the fare; it takes no "
                    "pricing_unit",
                )
            )
        if partner_code is not None or partner_name is not None:
            field_name = "partner_code" if partner_code is not None else "partner_name"
            errors.append(
                FieldError((*loc, field_name), "a FLIGHT product is the airline's own: no partner")
            )
        return errors
    wanted = UNIT_TYPES.get(pricing_unit or "")
    if wanted is not None and product_type != wanted:
        errors.append(
            FieldError(
                (*loc, "pricing_unit"),
                f"{pricing_unit} prices {wanted} products only (this is {product_type}); "
                f"use {PER_TRIP} or {PER_PASSENGER}",
            )
        )
    if (partner_code is None) != (partner_name is None):
        missing = "partner_name" if partner_name is None else "partner_code"
        errors.append(
            FieldError((*loc, missing), "a partner is named by partner_code and partner_name")
        )
    return errors


def normalize(
    given: ProductInput, *, default_currency: str, loc: Loc = ("body",)
) -> ProductValues | list[FieldError]:
    """Check the money of one product and convert it to minor units, or say what is wrong."""
    errors: list[FieldError] = []
    if given.base_price_nuc is not None:
        if given.currency not in (None, money.NUC):
            errors.append(
                FieldError(
                    (*loc, "currency"), "base_price_nuc is in NUC; omit currency or give NUC"
                )
            )
        currency = money.NUC
    else:
        currency = given.currency or default_currency
        try:
            money.currency(currency, allow_filing=True)
        except money.UnknownCurrency as exc:
            errors.append(FieldError((*loc, "currency"), str(exc)))
    if errors:
        return errors

    if given.base_price_nuc is not None:
        base_minor = given.base_price_nuc
    else:
        base_minor = _minor(given.base_price, currency, (*loc, "base_price"), errors)
    cost_minor, floor_minor, ceiling_minor = (
        _minor(amount, currency, (*loc, name), errors) if amount is not None else None
        for name, amount in (
            ("cost", given.cost),
            ("price_floor", given.price_floor),
            ("price_ceiling", given.price_ceiling),
        )
    )
    if floor_minor is not None and ceiling_minor is not None and floor_minor > ceiling_minor:
        errors.append(FieldError((*loc, "price_ceiling"), "price_ceiling is below price_floor"))
    errors += partner_errors(
        given.product_type, given.partner_code, given.partner_name, given.pricing_unit, loc
    )
    if len(json.dumps(given.attributes, separators=(",", ":"))) > MAX_METADATA_BYTES:
        errors.append(
            FieldError((*loc, "metadata"), f"metadata is larger than {MAX_METADATA_BYTES} bytes")
        )
    if errors:
        return errors
    return ProductValues(
        product_type=given.product_type,
        product_code=given.product_code,
        name=given.name,
        description=given.description,
        category=given.category,
        base_price_minor=base_minor,
        currency=currency,
        cost_minor=cost_minor,
        attributes=given.attributes,
        is_active=given.is_active,
        price_floor_minor=floor_minor,
        price_ceiling_minor=ceiling_minor,
        partner_code=given.partner_code,
        partner_name=given.partner_name,
        pricing_unit=given.pricing_unit,
    )


def _minor(amount: Decimal | None, currency: str, loc: Loc, errors: list[FieldError]) -> int:
    if amount is None:
        errors.append(FieldError(loc, "a price is required (base_price, or base_price_nuc)"))
        return 0
    try:
        return money.to_minor(amount, currency)
    except ValueError as exc:
        errors.append(FieldError(loc, str(exc)))
        return 0


# --- the compiled index, part of a tenant's snapshot -------------------------------------------


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """A product as run time sees it: exact amounts, immutable."""

    id: uuid.UUID
    product_code: str
    product_type: str
    category: str | None
    name: str
    description: str | None
    base_price: Decimal
    currency: str
    cost: Decimal | None
    attributes: Mapping[str, Any]
    is_active: bool
    version: int
    price_floor: Decimal | None = None
    price_ceiling: Decimal | None = None
    partner_code: str | None = None
    partner_name: str | None = None
    pricing_unit: str | None = None

    def partner(self) -> dict[str, str] | None:
        """The partner that supplies it, as items and the catalog show it; None: the tenant."""
        if self.partner_code is None:
            return None
        return {"code": self.partner_code, "name": self.partner_name or self.partner_code}

    def public(self) -> dict[str, Any]:
        """The run-time representation (no cost: that is the tenant's business); a partner
        product also says who supplies it and what its price is per."""
        shown = self._public()
        if self.partner_code is not None or self.pricing_unit is not None:
            shown["partner"] = self.partner()
            shown["pricing_unit"] = self.pricing_unit
        return shown

    def _public(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "product_code": self.product_code,
            "product_type": self.product_type,
            "category": self.category,
            "name": self.name,
            "description": self.description,
            "base_price": str(self.base_price),
            "currency": self.currency,
            "metadata": dict(self.attributes),
            "version": self.version,
        }


_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class CatalogIndex:
    """Active products indexed for run time, each serialised once when the snapshot is built."""

    by_code: Mapping[str, ProductFacts]
    by_type: Mapping[str, tuple[ProductFacts, ...]]
    encoded: Mapping[str, bytes] = field(repr=False)

    @classmethod
    def build(cls, products: Iterable[ProductFacts]) -> CatalogIndex:
        active = sorted((p for p in products if p.is_active), key=lambda p: p.product_code)
        by_type: dict[str, list[ProductFacts]] = {}
        for product in active:
            by_type.setdefault(product.product_type, []).append(product)
        return cls(
            by_code=MappingProxyType({p.product_code: p for p in active}),
            by_type=MappingProxyType({k: tuple(v) for k, v in by_type.items()}),
            encoded=MappingProxyType({p.product_code: _encoder.encode(p.public()) for p in active}),
        )

    def patched(
        self, changed: Iterable[uuid.UUID], products: Iterable[ProductFacts]
    ) -> CatalogIndex:
        """This index with the products ``changed`` (by id) replaced by ``products`` (their
        current state; a changed product not among them was deleted). Only the changed products
        are encoded; this index is left as it is."""
        gone = set(changed)
        new = [p for p in products if p.is_active]
        dropped = [p for p in self.by_code.values() if p.id in gone]
        by_code = dict(self.by_code)
        encoded = dict(self.encoded)
        for product in dropped:
            del by_code[product.product_code], encoded[product.product_code]
        appended = False
        for product in new:
            appended |= product.product_code not in by_code
            by_code[product.product_code] = product
            encoded[product.product_code] = _encoder.encode(product.public())
        if appended:  # codes stay in order (nearly sorted: a short sort)
            by_code = dict(sorted(by_code.items()))
            encoded = {code: encoded[code] for code in by_code}
        by_type = dict(self.by_type)
        for kind in {p.product_type for p in (*dropped, *new)}:
            kept = [p for p in by_type.get(kind, ()) if p.id not in gone]
            merged = sorted(
                (*kept, *(p for p in new if p.product_type == kind)), key=lambda p: p.product_code
            )
            if merged:
                by_type[kind] = tuple(merged)
            else:
                by_type.pop(kind, None)
        return CatalogIndex(
            by_code=MappingProxyType(by_code),
            by_type=MappingProxyType(by_type),
            encoded=MappingProxyType(encoded),
        )

    def select(
        self, *, product_type: str | None = None, category: str | None = None
    ) -> Sequence[ProductFacts]:
        pool: Iterable[ProductFacts] = (
            self.by_type.get(product_type, ()) if product_type else self.by_code.values()
        )
        if category is None:
            return list(pool)
        return [p for p in pool if p.category == category]

    def encode_list(self, products: Sequence[ProductFacts]) -> bytes:
        return b'{"items":[' + b",".join(self.encoded[p.product_code] for p in products) + b"]}"


# --- CSV -----------------------------------------------------------------------------------------


def read_csv(text: str) -> tuple[list[dict[str, Any]], list[FieldError]]:
    """Rows of a CSV upload as dicts ready for validation; empty cells are absent values.

    ``metadata`` cells hold JSON; ``is_active`` holds true/false. Error locations index data rows
    from 0 (the header is not a row), as for a JSON list.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    problems: list[FieldError] = []
    unknown = [name for name in header if name not in CSV_COLUMNS]
    missing = [name for name in ("product_type", "product_code", "name") if name not in header]
    if unknown:
        problems.append(FieldError(("body", "header"), f"unknown columns: {', '.join(unknown)}"))
    if missing:
        problems.append(FieldError(("body", "header"), f"missing columns: {', '.join(missing)}"))
    if problems:
        return [], problems
    rows: list[dict[str, Any]] = []
    for index, raw in enumerate(reader):
        if None in raw:
            problems.append(FieldError(("products", index), "more cells than header columns"))
            rows.append({})
            continue
        row: dict[str, Any] = {k: v for k, v in raw.items() if v not in (None, "")}
        if "metadata" in row:
            try:
                row["metadata"] = json.loads(row["metadata"])
            except json.JSONDecodeError as exc:
                problems.append(FieldError(("products", index, "metadata"), f"not JSON: {exc.msg}"))
                row.pop("metadata")
        rows.append(row)
    return rows, problems


def write_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """Products as CSV with the columns ``read_csv`` accepts, so an export can be re-imported."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        cells = dict(row)
        cells["metadata"] = json.dumps(
            row.get("metadata") or {}, separators=(",", ":"), sort_keys=True
        )
        cells["is_active"] = "true" if row.get("is_active", True) else "false"
        writer.writerow({k: "" if cells.get(k) is None else cells[k] for k in CSV_COLUMNS})
    return out.getvalue()
