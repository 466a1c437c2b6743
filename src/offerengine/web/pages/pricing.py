"""The pricing rules' pages: the list, each rule's conditions and adjustment written as a person
reads them, and the rule editor (a new rule, a copy, or an existing one)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from offerengine.catalog import service as catalog
from offerengine.context import AppContext
from offerengine.deps import context_of
from offerengine.pricing import browsing
from offerengine.pricing.schemas import PricingRuleRead
from offerengine.web.pages.layout import PAGE, cursor_pager, not_found, render, templates
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)

_OPERATORS = {
    "min": "≥",
    "max": "≤",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "eq": "=",
    "ne": "≠",
}


def readable_conditions(conditions: Any) -> str:
    """Seed 001's condition JSON as a line a person reads."""
    if conditions in (None, {}, ""):
        return "always"
    if isinstance(conditions, str):
        return conditions
    if not isinstance(conditions, dict):
        return json.dumps(conditions)
    if "expression" in conditions and len(conditions) == 1:
        return str(conditions["expression"])
    return " and ".join(_readable_condition(key, value) for key, value in conditions.items())


def _readable_condition(key: str, value: Any) -> str:
    if key in ("any", "all") and isinstance(value, list):
        return f" {'or' if key == 'any' else 'and'} ".join(
            f"({readable_conditions(v)})" for v in value
        )
    if key == "not":
        return f"not ({readable_conditions(value)})"
    if isinstance(value, list):
        return f"{key} in {', '.join(map(str, value))}"
    if key == "date_range" and isinstance(value, dict):
        fact = value.get("fact", "departure_date")
        span = [
            f"from {value['start']}" if "start" in value else "",
            f"to {value['end']}" if "end" in value else "",
        ]
        return f"{fact} {' '.join(p for p in span if p)}"
    if isinstance(value, dict):
        return " and ".join(f"{key} {_OPERATORS.get(op, op)} {v}" for op, v in value.items())
    return f"{key} = {value}"


def readable_adjustment(adjustment: dict[str, Any]) -> str:
    """A rule's price adjustment as a formula a person reads."""
    kind = adjustment.get("type")
    if kind == "MULTIPLIER":
        formula = adjustment.get("formula")
        body = f"({formula})" if formula else adjustment.get("value")
        bounds = [
            f"{name} {adjustment[key]}"
            for name, key in (("min", "min_multiplier"), ("max", "max_multiplier"))
            if adjustment.get(key) is not None
        ]
        return f"price × {body}" + (f" ({', '.join(bounds)})" if bounds else "")
    if kind == "FIXED":
        return f"price + {adjustment.get('value')}"
    if kind == "SET":
        return f"price = {adjustment.get('value')}"
    return f"price = {adjustment.get('formula')}"


templates.env.filters["conditions"] = readable_conditions
templates.env.filters["adjustment"] = readable_adjustment


async def _product_choices(ctx: AppContext, tenant_id: uuid.UUID) -> list[dict[str, str]]:
    """The products a rule may apply to, as the editor's picker lists them."""
    rows: Sequence[tuple[uuid.UUID, str, str, str]] = await catalog.product_choices(ctx, tenant_id)
    return [
        {"id": str(i), "code": code, "name": name, "type": kind} for i, code, name, kind in rows
    ]


@router.get("/admin/pricing-rules")
async def rules_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    ctx = context_of(request)
    rows, next_cursor = await browsing.pricing_rules(
        ctx, tenant_id=tenant.id, q=q or None, limit=PAGE, cursor=cursor or None
    )
    filters = {"q": q or ""}
    return await render(
        request,
        "rules.html",
        visitor,
        tenant=tenant,
        rules=[PricingRuleRead.of(r) for r in rows],
        products=await _product_choices(ctx, tenant.id),
        filters=filters,
        **cursor_pager(filters, next_cursor, cursor),
    )


@router.get("/admin/pricing-rules/new")
async def new_rule(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    copy: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    ctx = context_of(request)
    rule = None
    if copy is not None:
        found = await browsing.pricing_rule(ctx, tenant_id=tenant.id, rule_id=copy)
        if found is not None:
            rule = PricingRuleRead.of(found).model_dump(mode="json")
            rule["rule_name"] = f"{rule['rule_name']} (copy)"[:100]
            rule["id"] = None
    products = await _product_choices(ctx, tenant.id)
    return await render(
        request, "rule_form.html", visitor, tenant=tenant, rule=rule, products=products
    )


@router.get("/admin/pricing-rules/{rule_id:uuid}")
async def edit_rule(
    request: Request, visitor: Visitor, tenant: PageTenant, rule_id: uuid.UUID
) -> Response:
    ctx = context_of(request)
    found = await browsing.pricing_rule(ctx, tenant_id=tenant.id, rule_id=rule_id)
    if found is None:
        return await not_found(request, visitor, tenant, f"No pricing rule {rule_id}.")
    rule = PricingRuleRead.of(found).model_dump(mode="json")
    products = await _product_choices(ctx, tenant.id)
    return await render(
        request, "rule_form.html", visitor, tenant=tenant, rule=rule, products=products
    )
