"""The tenant's shopping configuration: offer rules and fare settings (document kinds, one of
each per tenant, versioned: :mod:`offerengine.versioning.documents`), and the snapshot section
that compiles them with flights, bundles and inventory rules."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.bundles import service as bundles
from offerengine.bundles.core import BundleIndex
from offerengine.catalog.core import ProductFacts
from offerengine.errors import FieldError, Loc
from offerengine.inventory import service as inventory
from offerengine.learning.policy import ContextualDef, OfferTypeAction, ShopLearner
from offerengine.network import core as network
from offerengine.revenue import service as revenue
from offerengine.revenue.schemas import FareFamilyAttributes
from offerengine.shopping import core
from offerengine.shopping.models import TenantDocument
from offerengine.shopping.schemas import (
    ConnectionRulesIn,
    ConnectionRulesRead,
    ConnectionRulesUpdate,
    FareSettingsIn,
    FareSettingsRead,
    FareSettingsUpdate,
    OfferRulesIn,
    OfferRulesRead,
    OfferRulesUpdate,
)
from offerengine.tenants.models import Tenant
from offerengine.versioning.documents import DocumentKind


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
    return errors


def fare_settings_destinations(data: FareSettingsIn) -> dict[Loc, str]:
    """The webhook URL the fare settings hold, by field."""
    hook = data.low_inventory_webhook
    return {} if hook is None else {("body", "low_inventory_webhook"): hook}


def check_offer_rules(data: OfferRulesIn) -> list[FieldError]:
    weights = data.ranking_weights
    errors = []
    if weights.conversion_probability + weights.profit_margin == 0:
        errors.append(FieldError(("body", "ranking_weights"), "at least one weight above zero"))
    priority = data.low_inventory_offer
    if (
        priority is not None
        and data.offer_types is not None
        and priority not in {t.type for t in data.offer_types}
    ):
        errors.append(
            FieldError(
                ("body", "low_inventory_offer"), f"{priority!r} is not one of the offer_types"
            )
        )
    return errors


def check_connection_rules(data: ConnectionRulesIn) -> list[FieldError]:
    return [
        FieldError(("body", "airports", i, "airport"), f"{a.airport!r} is not an airport")
        for i, a in enumerate(data.airports)
        if network.lookup(a.airport) is None
    ]


OFFER_RULES = DocumentKind(
    "offer_rules",
    OfferRulesIn,
    OfferRulesRead,
    check_offer_rules,
    path="offer-rules",
    operation="OfferRules",
    update_schema=OfferRulesUpdate,
)
CONNECTION_RULES = DocumentKind(
    "connection_rules",
    ConnectionRulesIn,
    ConnectionRulesRead,
    check_connection_rules,
    path="connection-rules",
    operation="ConnectionRules",
    update_schema=ConnectionRulesUpdate,
)
FARE_SETTINGS = DocumentKind(
    "fare_settings",
    FareSettingsIn,
    FareSettingsRead,
    check_fare_settings,
    path="fare-settings",
    operation="FareSettings",
    update_schema=FareSettingsUpdate,
    destinations=fare_settings_destinations,
)


# --- the snapshot section -----------------------------------------------------------------------


def _offer_rules(doc: TenantDocument | None) -> core.OfferRules:
    read = OFFER_RULES.read(doc)
    prior = core.ConversionModel()
    rate = prior.alpha / (prior.alpha + prior.beta)
    contextual = shadow = None
    if read.conversion_model is not None:
        contextual = ContextualDef.of("live", read.conversion_model.model_dump(), rate)
    if read.conversion_shadow is not None:
        shadow = ContextualDef.of("shadow", read.conversion_shadow.model_dump(), rate)
    return core.OfferRules(
        max_offers=read.max_offers,
        offer_types=None
        if read.offer_types is None
        else tuple(core.OfferType(t.type, t.priority, t.always_include) for t in read.offer_types),
        w_conversion=read.ranking_weights.conversion_probability,
        w_margin=read.ranking_weights.profit_margin,
        expiry_minutes=read.expiry_minutes,
        version=read.version,
        contextual=contextual,
        shadow=shadow,
        low_inventory_offer=read.low_inventory_offer,
    )


def _connection_rules(doc: TenantDocument | None) -> core.ConnectionRules:
    read = CONNECTION_RULES.read(doc)
    return core.ConnectionRules(
        default=core.ConnectionTime(read.min_connection_minutes, read.max_connection_minutes),
        airports={
            a.airport: core.ConnectionTime(a.min_connection_minutes, a.max_connection_minutes)
            for a in read.airports
        },
        max_stops=read.max_stops,
        routing_ratio=float(read.routing_ratio),
        max_itineraries=read.max_itineraries,
        alternative_days=read.alternative_days,
        version=read.version,
    )


def _learner(rules: core.OfferRules, index: BundleIndex) -> ShopLearner | None:
    """The conversion models' bandits over the offer types the rules can show, by priority."""
    if rules.contextual is None and rules.shadow is None:
        return None
    types = sorted(rules.types(index), key=lambda t: t.priority)
    return ShopLearner(
        tuple(OfferTypeAction(t.type) for t in types), rules.contextual, rules.shadow
    )


def _fare_settings(doc: TenantDocument | None) -> core.FareSettings:
    read = FARE_SETTINGS.read(doc)
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


async def load(
    session: AsyncSession, tenant_id: uuid.UUID, products: Iterable[ProductFacts]
) -> core.ShoppingConfig:
    flights = await inventory.load_flights(session, tenant_id)
    airports = {f.origin for f in flights.by_id.values()} | {
        f.destination for f in flights.by_id.values()
    }
    countries = {}
    coordinates = {}
    for code in airports:
        found = network.lookup(code)
        if found is not None:
            countries[code] = found.country
            coordinates[code] = (found.latitude, found.longitude)
    fares = await FARE_SETTINGS.get(session, tenant_id)
    index = await bundles.load_index(session, tenant_id)
    rules = _offer_rules(await OFFER_RULES.get(session, tenant_id))
    return core.ShoppingConfig(
        flights=flights,
        bundles=index,
        policy=await inventory.load_policy(session, tenant_id),
        rules=rules,
        learner=_learner(rules, index),
        fares=_fare_settings(fares),
        countries=countries,
        webhook=FARE_SETTINGS.read(fares).low_inventory_webhook,
        per_airport_day=any(_per_airport_day(p) for p in products),
        connections=core.Connections.build(flights.by_id.values(), coordinates),
        connection_rules=_connection_rules(await CONNECTION_RULES.get(session, tenant_id)),
        fare_families=await load_fare_families(session, tenant_id),
    )


async def load_fare_families(session: AsyncSession, tenant_id: uuid.UUID) -> core.FareFamilies:
    """The tenant's active fare family sets as shopping sells them: fees in the tenant's base
    currency (a set saved before families had attributes reads the defaults)."""
    tenant = await session.get(Tenant, tenant_id)
    currency = "USD" if tenant is None else tenant.base_currency
    sets = await revenue.list_sets(session, tenant_id=tenant_id, active_only=True)
    return core.FareFamilies.build(
        core.FamilySet(
            cabin=s.cabin,
            route=s.route,
            families=tuple(
                core.FareFamily.of(
                    str(f["code"]),
                    str(f["name"]),
                    Decimal(str(f["multiplier"])),
                    _attributes(f.get("attributes"), currency),
                    currency,
                )
                for f in s.families
            ),
            id=str(s.id),
            version=s.version,
        )
        for s in sets
    )


def _attributes(stored: Any, currency: str) -> dict[str, Any]:
    """A family's attributes as configured, defaults filled in, fees in the currency's units."""
    read = FareFamilyAttributes.model_validate(stored or {}).model_dump(mode="json")
    for name in ("change_fee", "refund_fee"):
        if read[name] is not None:
            read[name] = str(money.quantize(Decimal(read[name]), currency))
    return dict(read)


def _per_airport_day(product: ProductFacts) -> bool:
    spec = product.attributes.get("inventory")
    return isinstance(spec, Mapping) and spec.get("per") == "airport_day"
