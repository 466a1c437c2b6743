"""Seed 001's business rules API: every kind of rule at one place, in one shape.

``GET/POST /v1/admin/tenants/{tenant}/rules`` and ``GET/PUT/DELETE /v1/admin/rules/{id}``,
``PATCH …/{id}/status``; each call is the rule's own kind's use case (see
:mod:`offerengine.rulebook.service`).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Query, Response, status

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor, CurrentPrincipal
from offerengine.deps import DbSession
from offerengine.errors import Invalid, NotFound
from offerengine.http.query import Cursor, Limit
from offerengine.http.routing import IfMatch, expected_version, router, set_etag
from offerengine.pagination import DEFAULT_LIMIT, Page
from offerengine.rulebook import service
from offerengine.rulebook.schemas import (
    RULE_TYPES_DOC,
    BusinessRuleCreate,
    BusinessRuleRead,
    BusinessRuleStatus,
    BusinessRuleUpdate,
    RuleType,
)
from offerengine.tenants.deps import PathTenant

api = router(tags=["business rules"])
RULE = "/v1/admin/rules/{id:uuid}"


async def _load(
    id: Annotated[uuid.UUID, Path(description="The rule's id (of any kind).")],
    principal: CurrentPrincipal,
    session: DbSession,
) -> service.Found:
    found = await service.find(session, id)
    if found is None or not principal.sees_tenant(found.tenant_id):
        raise NotFound(f"No rule {id}.")
    return found


PathRule = Annotated[service.Found, Depends(_load)]


@api.get(
    "/v1/admin/tenants/{tenant}/rules",
    operation_id="listBusinessRules",
    response_model=Page[BusinessRuleRead],
)
async def list_business_rules(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    rule_type: Annotated[
        RuleType | None, Query(description=f"Only rules of this kind: {RULE_TYPES_DOC}.")
    ] = None,
    type: Annotated[RuleType | None, Query(description="Seed 001's name for `rule_type`.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[BusinessRuleRead]:
    """Every rule of the tenant, whatever its kind, as seed 001's business rule: pricing rules,
    bundle templates, inventory rules, the offer rules, fee rules and commission rates, in that
    order (each kind in its own list's order)."""
    if rule_type is not None and type is not None and rule_type != type:
        raise Invalid.field(("query", "type"), f"differs from rule_type ({rule_type}): send one")
    items, next_cursor = await service.list_rules(
        session, tenant_id=tenant.id, rule_type=rule_type or type, limit=limit, cursor=cursor
    )
    return Page(items=items, next_cursor=next_cursor)


@api.post(
    "/v1/admin/tenants/{tenant}/rules",
    status_code=status.HTTP_201_CREATED,
    operation_id="createBusinessRule",
)
async def create_business_rule(
    tenant: PathTenant,
    body: BusinessRuleCreate,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    response: Response,
) -> BusinessRuleRead:
    """Create a rule of any kind in seed 001's shape: `rule_config` holds the kind's own fields
    (as its own create takes them), `rule_name`, `priority`, `is_active`, `valid_from` and
    `valid_until` those the kind has. It is checked, versioned and audited by its kind."""
    created = await service.create(session, tenant=tenant, data=body, actor=actor)
    set_etag(response, created.version)
    return created


@api.get(RULE, operation_id="getBusinessRule")
async def get_business_rule(
    rule: PathRule, _: ConfigReader, response: Response
) -> BusinessRuleRead:
    """A rule of any kind, as seed 001's business rule; `href` is its own kind's route."""
    found = service.read(rule.source, rule.obj)
    set_etag(response, found.version)
    return found


@api.put(RULE, operation_id="updateBusinessRule")
async def update_business_rule(
    rule: PathRule,
    body: BusinessRuleUpdate,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    if_match: IfMatch,
    response: Response,
) -> BusinessRuleRead:
    """Replace a rule (a new version, through its kind's own update): what a get shows, sent
    back with changes."""
    updated = await service.update(
        session,
        found=rule,
        data=body,
        actor=actor,
        expected_version=expected_version(if_match, body.version),
    )
    set_etag(response, updated.version)
    return updated


@api.patch(f"{RULE}/status", operation_id="setBusinessRuleStatus")
async def set_business_rule_status(
    rule: PathRule,
    body: BusinessRuleStatus,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    if_match: IfMatch,
    response: Response,
) -> BusinessRuleRead:
    """Activate or deactivate a rule (seed 001's `is_active` toggle); a new version."""
    updated = await service.set_status(
        session,
        found=rule,
        data=body,
        actor=actor,
        expected_version=expected_version(if_match, body.version),
    )
    set_etag(response, updated.version)
    return updated


@api.delete(
    RULE,
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteBusinessRule",
    response_class=Response,
)
async def delete_business_rule(
    rule: PathRule, _: ConfigWriter, actor: CurrentActor, session: DbSession, if_match: IfMatch
) -> Response:
    """Delete a rule through its kind's own delete; its history stays (a rollback at its own
    route brings it back). The offer rules are replaced, never deleted: 409."""
    await service.delete(session, found=rule, actor=actor, expected_version=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
