from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Response, status

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor, CurrentPrincipal
from offerengine.auth.scoping import owned_loader
from offerengine.catalog.models import Product
from offerengine.deps import Ctx, DbSession
from offerengine.errors import NotFound
from offerengine.http.query import Cursor, Limit
from offerengine.http.routing import IfMatch, expected_version, router, set_etag
from offerengine.pagination import DEFAULT_LIMIT, Page
from offerengine.pricing import service
from offerengine.pricing.models import PricingRule
from offerengine.pricing.schemas import (
    PriceRead,
    PricingRuleCreate,
    PricingRuleImportResult,
    PricingRuleRead,
    PricingRuleStatus,
    PricingRuleTransfer,
    PricingRuleUpdate,
    RuleType,
    SimulateRequest,
)
from offerengine.snapshots.build import product_facts
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.router import add_version_routes

api = router(tags=["pricing"])
PathRule = Annotated[PricingRule, Depends(owned_loader(PricingRule, "pricing rule"))]
TENANT_RULES = "/v1/admin/tenants/{tenant}/pricing-rules"


@api.get(TENANT_RULES, operation_id="listPricingRules")
async def list_pricing_rules(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    rule_type: Annotated[RuleType | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
    product_id: Annotated[uuid.UUID | None, Query()] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Search rule names.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[PricingRuleRead]:
    """The tenant's pricing rules in the order they apply (priority, then creation)."""
    where = service.RuleFilter(
        rule_type=rule_type, active=active, product_id=product_id, tag=tag, q=q
    )
    rows, next_cursor = await service.list_rules(
        session, tenant_id=tenant.id, where=where, limit=limit, cursor=cursor
    )
    return Page[PricingRuleRead](
        items=[PricingRuleRead.of(r) for r in rows], next_cursor=next_cursor
    )


@api.post(TENANT_RULES, status_code=status.HTTP_201_CREATED, operation_id="createPricingRule")
async def create_pricing_rule(
    tenant: PathTenant,
    body: PricingRuleCreate,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    response: Response,
) -> PricingRuleRead:
    """Create a rule. Its conditions and formula are compiled now: an error is a 422 pointing into them."""
    rule = await service.create(session, tenant=tenant, data=body, actor=actor)
    set_etag(response, rule.version)
    return PricingRuleRead.of(rule)


@api.get(f"{TENANT_RULES}/export", operation_id="exportPricingRules")
async def export_pricing_rules(
    tenant: PathTenant, _: ConfigReader, session: DbSession
) -> PricingRuleTransfer:
    """Every rule, in the shape import takes."""
    return PricingRuleTransfer(pricing_rules=await service.export(session, tenant_id=tenant.id))


@api.post(f"{TENANT_RULES}/import", operation_id="importPricingRules")
async def import_pricing_rules(
    tenant: PathTenant,
    body: PricingRuleTransfer,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
) -> PricingRuleImportResult:
    """Create or update rules by rule_name, all or nothing; the 422 lists every bad rule."""
    outcome = await service.import_rules(
        session, tenant=tenant, rows=body.pricing_rules, actor=actor
    )
    return PricingRuleImportResult(
        created=len(outcome.created),
        updated=len(outcome.updated),
        unchanged=len(outcome.unchanged),
        items=[PricingRuleRead.of(r) for r in outcome.all],
    )


@api.post("/v1/admin/pricing-rules/simulate", operation_id="simulatePricing")
async def simulate_pricing(
    body: SimulateRequest,
    principal: CurrentPrincipal,
    _: ConfigReader,
    session: DbSession,
    ctx: Ctx,
) -> PriceRead:
    """Price a product for a scenario with the tenant's rules, as run time would, with the trace:
    every adjustment (rule, version, multiplier, amount, price before and after) and every rule in
    scope that did not apply, with the reason."""
    product = await session.get(Product, body.product_id)
    if product is None or not principal.sees_tenant(product.tenant_id):
        raise NotFound(f"No product {body.product_id}.")
    snapshot = await ctx.snapshots.get(product.tenant_id)
    facts = product_facts(product)
    done = service.simulate(snapshot=snapshot, product=facts, scenario=body.scenario, at=body.at)
    return PriceRead.of(done.result, product=facts, at=done.at, facts=done.facts)


@api.get("/v1/admin/pricing-rules/{id:uuid}", operation_id="getPricingRule")
async def get_pricing_rule(rule: PathRule, _: ConfigReader, response: Response) -> PricingRuleRead:
    set_etag(response, rule.version)
    return PricingRuleRead.of(rule)


@api.put("/v1/admin/pricing-rules/{id:uuid}", operation_id="updatePricingRule")
async def update_pricing_rule(
    rule: PathRule,
    body: PricingRuleUpdate,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    if_match: IfMatch,
    response: Response,
) -> PricingRuleRead:
    """Replace a rule's fields (If-Match or `version` guards against lost updates)."""
    updated = await service.update(
        session,
        rule=rule,
        data=body,
        actor=actor,
        expected_version=expected_version(if_match, body.version),
    )
    set_etag(response, updated.version)
    return PricingRuleRead.of(updated)


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


@api.delete(
    "/v1/admin/pricing-rules/{id:uuid}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deletePricingRule",
)
async def delete_pricing_rule(
    rule: PathRule, _: ConfigWriter, actor: CurrentActor, session: DbSession, if_match: IfMatch
) -> Response:
    """Delete a rule; its history stays and a rollback brings it back."""
    await service.delete(session, rule=rule, actor=actor, expected_version=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


add_version_routes(
    api,
    service.PRICING_RULE,
    path="/v1/admin/pricing-rules",
    operation="PricingRule",
    read_model=PricingRuleRead,
    to_read=PricingRuleRead.of,
)
