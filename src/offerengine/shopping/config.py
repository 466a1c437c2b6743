"""The tenant's shopping configuration: offer rules and fare settings (one document each,
versioned), and the snapshot section that compiles them with flights, bundles and inventory rules."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.auth.core import Actor
from offerengine.bundles import service as bundles
from offerengine.errors import FieldError, raise_if_any
from offerengine.inventory import service as inventory
from offerengine.network import core as network
from offerengine.shopping import core
from offerengine.shopping.models import TenantDocument
from offerengine.shopping.schemas import (
    FareSettingsIn,
    FareSettingsRead,
    OfferRulesIn,
    OfferRulesRead,
)
from offerengine.versioning import service as versioning

OFFER_RULES = "offer_rules"
FARE_SETTINGS = "fare_settings"


def offer_rules_read(doc: TenantDocument | None) -> OfferRulesRead:
    data = OfferRulesIn.model_validate(doc.data if doc else {}).model_dump()
    return OfferRulesRead(
        **data,
        id=doc.id if doc else None,
        version=doc.version if doc else 0,
        updated_at=doc.updated_at if doc else None,
    )


def fare_settings_read(doc: TenantDocument | None) -> FareSettingsRead:
    data = FareSettingsIn.model_validate(doc.data if doc else {}).model_dump(by_alias=True)
    return FareSettingsRead.model_validate(
        {
            **data,
            "id": doc.id if doc else None,
            "version": doc.version if doc else 0,
            "updated_at": doc.updated_at if doc else None,
        }
    )


def _dump_offer_rules(doc: TenantDocument) -> dict[str, Any]:
    return offer_rules_read(doc).model_dump(mode="json")


def _dump_fare_settings(doc: TenantDocument) -> dict[str, Any]:
    return fare_settings_read(doc).model_dump(mode="json", by_alias=True)


def check_fare_settings(data: FareSettingsIn) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, rate in enumerate(data.exchange_rates):
        for name, code in (("from", rate.from_), ("to", rate.to)):
            try:
                money.currency(code, allow_filing=name == "from")
            except money.UnknownCurrency as exc:
                errors.append(FieldError(("body", "exchange_rates", i, name), str(exc)))
    for i, tax in enumerate(data.taxes):
        if tax.currency is not None:
            try:
                money.currency(tax.currency)
            except money.UnknownCurrency as exc:
                errors.append(FieldError(("body", "taxes", i, "currency"), str(exc)))
        if tax.airport is not None and network.lookup(tax.airport) is None:
            errors.append(
                FieldError(("body", "taxes", i, "airport"), f"{tax.airport!r} is not an airport")
            )
    hook = data.low_inventory_webhook
    if hook is not None and not hook.startswith(("http://", "https://")):
        errors.append(FieldError(("body", "low_inventory_webhook"), "an http(s) URL"))
    return errors


def check_offer_rules(data: OfferRulesIn) -> list[FieldError]:
    weights = data.ranking_weights
    if weights.conversion_probability + weights.profit_margin == 0:
        return [FieldError(("body", "ranking_weights"), "at least one weight above zero")]
    return []


def _kind(name: str, schema: type[BaseModel], dump: Any) -> versioning.Kind[TenantDocument]:
    async def restore(
        session: AsyncSession,
        doc: TenantDocument | None,
        data: Mapping[str, Any],
        tenant_id: uuid.UUID,
    ) -> TenantDocument:
        recorded = schema.model_validate(
            {k: v for k, v in data.items() if k not in ("id", "version", "updated_at")}
        )
        target = doc if doc is not None else TenantDocument(tenant_id=tenant_id, kind=name)
        target.data = recorded.model_dump(mode="json", by_alias=True)
        return target

    return versioning.Kind(name=name, model=TenantDocument, dump=dump, restore=restore)


OFFER_RULES_KIND = _kind(OFFER_RULES, OfferRulesIn, _dump_offer_rules)
FARE_SETTINGS_KIND = _kind(FARE_SETTINGS, FareSettingsIn, _dump_fare_settings)


async def get_document(
    session: AsyncSession, tenant_id: uuid.UUID, kind: str
) -> TenantDocument | None:
    return await session.scalar(
        sa.select(TenantDocument).where(
            TenantDocument.tenant_id == tenant_id, TenantDocument.kind == kind
        )
    )


async def put_document(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    kind: str,
    data: BaseModel,
    actor: Actor,
    expected_version: int | None,
) -> TenantDocument:
    """Replace the document (created on first save); a new version when it changes."""
    raise_if_any(
        check_offer_rules(data)
        if isinstance(data, OfferRulesIn)
        else check_fare_settings(data)
        if isinstance(data, FareSettingsIn)
        else []
    )
    doc = await get_document(session, tenant_id, kind)
    values = data.model_dump(mode="json", by_alias=True, exclude={"version"})
    versioned = OFFER_RULES_KIND if kind == OFFER_RULES else FARE_SETTINGS_KIND
    if doc is None:
        if expected_version not in (None, 0):
            versioning.check_version(_Unsaved(), expected_version, kind.replace("_", " "))
        doc = TenantDocument(tenant_id=tenant_id, kind=kind, data=values)
        session.add(doc)
        await versioning.record(session, versioned, doc, action="create", actor=actor, before=None)
        return doc
    versioning.check_version(doc, expected_version, kind.replace("_", " "))
    if doc.data == values:
        return doc
    before = versioned.dump(doc)
    doc.data = values
    await versioning.record(session, versioned, doc, action="update", actor=actor, before=before)
    return doc


class _Unsaved:
    version = 0


# --- the snapshot section -----------------------------------------------------------------------


def _offer_rules(doc: TenantDocument | None) -> core.OfferRules:
    read = offer_rules_read(doc)
    return core.OfferRules(
        max_offers=read.max_offers,
        offer_types=None
        if read.offer_types is None
        else tuple(core.OfferType(t.type, t.priority, t.always_include) for t in read.offer_types),
        w_conversion=read.ranking_weights.conversion_probability,
        w_margin=read.ranking_weights.profit_margin,
        expiry_minutes=read.expiry_minutes,
        version=read.version,
    )


def _fare_settings(doc: TenantDocument | None) -> core.FareSettings:
    read = fare_settings_read(doc)
    return core.FareSettings(
        child_ratio=read.child_ratio,
        infant_ratio=read.infant_ratio,
        taxes=tuple(
            core.TaxRule(
                code=t.code,
                name=t.name,
                kind=t.kind,
                amount=t.amount,
                currency=t.currency,
                airport=t.airport,
                country=t.country,
                applies_to=t.applies_to,
                passenger_types=frozenset(t.passenger_types),
            )
            for t in read.taxes
        ),
        rates=core.rate_table(
            {"from": r.from_, "to": r.to, "rate": r.rate} for r in read.exchange_rates
        ),
        version=read.version,
    )


async def load(session: AsyncSession, tenant_id: uuid.UUID) -> core.ShoppingConfig:
    flights = await inventory.load_flights(session, tenant_id)
    airports = {f.origin for f in flights.by_id.values()} | {
        f.destination for f in flights.by_id.values()
    }
    countries = {}
    for code in airports:
        found = network.lookup(code)
        if found is not None:
            countries[code] = found.country
    fares = await get_document(session, tenant_id, FARE_SETTINGS)
    return core.ShoppingConfig(
        flights=flights,
        bundles=await bundles.load_index(session, tenant_id),
        policy=await inventory.load_policy(session, tenant_id),
        rules=_offer_rules(await get_document(session, tenant_id, OFFER_RULES)),
        fares=_fare_settings(fares),
        countries=countries,
        webhook=fare_settings_read(fares).low_inventory_webhook,
    )
