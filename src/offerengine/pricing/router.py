"""Pricing rules: the standard configuration routes (the kind is declared in
:mod:`offerengine.pricing.service`), and beside them the simulation and the status toggle."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Response

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor, CurrentPrincipal
from offerengine.catalog.models import Product
from offerengine.deps import Ctx, DbSession
from offerengine.errors import NotFound
from offerengine.http.routing import IfMatch, expected_version, router, set_etag
from offerengine.pricing import service
from offerengine.pricing.models import PricingRule
from offerengine.pricing.schemas import (
    PriceRead,
    PricingRuleRead,
    PricingRuleStatus,
    RuleType,
    SimulateRequest,
)
from offerengine.snapshots.build import product_facts
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes, loader

api = router(tags=["pricing"])
PathRule = Annotated[PricingRule, Depends(loader(service.RULE_KIND))]


def rule_filters(
    rule_type: Annotated[RuleType | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
    product_id: Annotated[uuid.UUID | None, Query()] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Search rule names.")
    ] = None,
) -> service.RuleFilter:
    return service.RuleFilter(
        rule_type=rule_type, active=active, product_id=product_id, tag=tag, q=q
    )


add_kind_routes(
    api,
    service.RULE_KIND,
    filters=rule_filters,
    docs=RouteDocs(
        list="The tenant's pricing rules in the order they apply (priority, then creation).",
        create="Create a rule. Its conditions and formula are compiled now: an error is a 422 "
        "pointing into them.",
        update="Replace a rule's fields (If-Match or `version` guards against lost updates).",
        delete="Delete a rule; its history stays and a rollback brings it back.",
        export="Every rule, in the shape import takes.",
        import_="Create or update rules by rule_name, all or nothing; the 422 lists every bad "
        "rule.",
    ),
)


@api.post("/v1/admin/pricing-rules/simulate", operation_id="simulatePricing")
async def simulate_pricing(
    body: SimulateRequest,
    principal: CurrentPrincipal,
    _: ConfigReader,
    ctx: Ctx,
) -> PriceRead:
    """Price a product for a scenario with the tenant's rules, as run time would, with the trace:
    every adjustment (rule, version, multiplier, amount, price before and after) and every rule in
    scope that did not apply, with the reason."""
    # A session of its own, closed before the wait for the snapshot (no connection held there).
    async with ctx.session_factory() as session:
        product = await session.get(Product, body.product_id)
    if product is None or not principal.sees_tenant(product.tenant_id):
        raise NotFound(f"No product {body.product_id}.")
    snapshot = await ctx.snapshots.get(product.tenant_id)
    facts = product_facts(product)
    done = service.simulate(snapshot=snapshot, product=facts, scenario=body.scenario, at=body.at)
    return PriceRead.of(done.result, product=facts, at=done.at, facts=done.facts)


@api.patch("/v1/admin/pricing-rules/{id:uuid}/status", operation_id="setPricingRuleStatus")
async def set_pricing_rule_status(
    rule: PathRule,
    body: PricingRuleStatus,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    if_match: IfMatch,
    response: Response,
) -> PricingRuleRead:
    """Activate or deactivate a rule (seed 001's Active toggle); a new version either way."""
    updated = await service.set_status(
        session,
        rule=rule,
        is_active=body.is_active,
        actor=actor,
        expected_version=expected_version(if_match, body.version),
    )
    set_etag(response, updated.version)
    return PricingRuleRead.of(updated)
