"""The tenant's shopping configuration: offer rules and fare settings (one document each,
versioned), and the snapshot section that compiles them with flights, bundles and inventory rules."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.auth.core import Actor
from offerengine.bundles import service as bundles
from offerengine.bundles.core import BundleIndex
from offerengine.catalog.core import ProductFacts
from offerengine.errors import FieldError, Loc, raise_if_any
from offerengine.inventory import service as inventory
from offerengine.learning.policy import ContextualDef, OfferTypeAction, ShopLearner
from offerengine.network import core as network
from offerengine.shopping import core
from offerengine.shopping.models import TenantDocument
from offerengine.shopping.schemas import (
    ConfigRead,
    FareSettingsIn,
    FareSettingsRead,
    OfferRulesIn,
    OfferRulesRead,
)
from offerengine.versioning import service as versioning
from offerengine.webhooks import core as webhooks

R = TypeVar("R", bound=ConfigRead)


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
    if weights.conversion_probability + weights.profit_margin == 0:
        return [FieldError(("body", "ranking_weights"), "at least one weight above zero")]
    return []


@dataclass(frozen=True)
class Document(Generic[R]):
    """A tenant's one-of-a-kind configuration: its input and read models, its checks, its
    history. Never saved, it reads as the input model's defaults at version 0."""

    kind: str
    schema: type[BaseModel]
    read_model: type[R]
    check: Callable[[Any], list[FieldError]]
    # The URLs the engine will call (webhooks), by field: checked against the deployment's
    # destination policy when saved (webhooks.core.url_refusal).
    destinations: Callable[[Any], Mapping[Loc, str]] | None = None

    def read(self, doc: TenantDocument | None) -> R:
        data = self.schema.model_validate(doc.data if doc else {}).model_dump(by_alias=True)
        return self.read_model.model_validate(
            {
                **data,
                "id": doc.id if doc else None,
                "version": doc.version if doc else 0,
                "updated_at": doc.updated_at if doc else None,
            }
        )

    def dump(self, doc: TenantDocument) -> dict[str, Any]:
        return self.read(doc).model_dump(mode="json", by_alias=True)

    @functools.cached_property
    def versioned(self) -> versioning.Kind[TenantDocument]:
        async def restore(
            session: AsyncSession,
            doc: TenantDocument | None,
            data: Mapping[str, Any],
            tenant_id: uuid.UUID,
        ) -> TenantDocument:
            recorded = self.schema.model_validate(
                {k: v for k, v in data.items() if k not in ("id", "version", "updated_at")}
            )
            target = doc if doc is not None else TenantDocument(tenant_id=tenant_id, kind=self.kind)
            target.data = recorded.model_dump(mode="json", by_alias=True)
            return target

        return versioning.Kind(
            name=self.kind, model=TenantDocument, dump=self.dump, restore=restore
        )

    async def get(self, session: AsyncSession, tenant_id: uuid.UUID) -> TenantDocument | None:
        return await session.scalar(
            sa.select(TenantDocument).where(
                TenantDocument.tenant_id == tenant_id, TenantDocument.kind == self.kind
            )
        )

    async def put(
        self,
        session: AsyncSession,
        *,
        tenant_id: uuid.UUID,
        data: BaseModel,
        actor: Actor,
        expected_version: int | None,
        allow_private_destinations: bool = False,
    ) -> TenantDocument:
        """Replace the document (created on first save); a new version when it changes. A URL
        the engine would call must be http(s) and, unless ``allow_private_destinations`` (the
        deployment's ``webhook_allow_private_networks``), not name a non-public host."""
        raise_if_any(self.check(data) + self._destination_errors(data, allow_private_destinations))
        doc = await self.get(session, tenant_id)
        what = self.kind.replace("_", " ")
        versioning.check_version(doc if doc is not None else _NEVER_SAVED, expected_version, what)
        values = data.model_dump(mode="json", by_alias=True, exclude={"version"})
        if doc is None:
            doc = TenantDocument(tenant_id=tenant_id, kind=self.kind, data=values)
            session.add(doc)
            await versioning.record(
                session, self.versioned, doc, action="create", actor=actor, before=None
            )
            return doc
        if doc.data == values:
            return doc
        before = self.dump(doc)
        doc.data = values
        await versioning.record(
            session, self.versioned, doc, action="update", actor=actor, before=before
        )
        return doc

    def _destination_errors(self, data: BaseModel, allow_private: bool) -> list[FieldError]:
        found = self.destinations(data) if self.destinations is not None else {}
        errors = []
        for loc, url in found.items():
            refusal = webhooks.url_refusal(url, allow_private=allow_private)
            if refusal is not None:
                errors.append(FieldError(loc, refusal))
        return errors


_NEVER_SAVED = SimpleNamespace(version=0)
OFFER_RULES = Document("offer_rules", OfferRulesIn, OfferRulesRead, check_offer_rules)
FARE_SETTINGS = Document(
    "fare_settings",
    FareSettingsIn,
    FareSettingsRead,
    check_fare_settings,
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
    for code in airports:
        found = network.lookup(code)
        if found is not None:
            countries[code] = found.country
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
    )


def _per_airport_day(product: ProductFacts) -> bool:
    spec = product.attributes.get("inventory")
    return isinstance(spec, Mapping) and spec.get("per") == "airport_day"
