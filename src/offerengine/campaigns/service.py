"""Campaigns (issue 33): promotions given to an audience on a channel between two dates, within
a budget, with a holdout that measures them.

A campaign is versioned configuration (:class:`~offerengine.versioning.editing.Editing`'s
create, update, delete and rollback, with its history and audit). Recommending for a campaign
(:func:`offerengine.campaigns.recommending.recommend`):

1. keeps the customers of its audience (a segment of the stored profiles, a rule over
   ``profile.*``, or both) who are not already members of it;
2. asks the promotions' recommendation (:func:`offerengine.promotions.service.recommend`, by
   uplift, within the promotions' budgets and stock) which of them to give which of the
   campaign's promotions, within the campaign's budget left, scaled up by the holdout share
   (the held-out customers are chosen by the same selection but cost nothing);
3. splits the chosen customers by the experiments' hashing (:func:`core.arm_of`, sticky): the
   held out become members and are never granted; each treated one reserves the grant's
   expected cost against the campaign's budget (a conditional update: two recommendations at
   once never overspend it) and gets a grant, a personal coupon code that ``POST /v1/quote``
   accepts for that customer only (:mod:`offerengine.campaigns.grants`).

The unit of work (``offerengine.deps.DbSession``) commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.campaigns.models import Campaign
from offerengine.campaigns.schemas import (
    CampaignIn,
    CampaignRead,
    CampaignUpdate,
)
from offerengine.errors import FieldError, Invalid, Loc, raise_if_any
from offerengine.promotions import service as promoting
from offerengine.rules import core as rules
from offerengine.rules.vocabulary import DECISIONING
from offerengine.tenants.models import Tenant
from offerengine.versioning.editing import Editing, read_back
from offerengine.versioning.kinds import ConfigKind, PageRequest

_FIELDS = set(CampaignIn.model_fields)


def read(obj: Campaign) -> CampaignRead:
    return CampaignRead.model_validate(
        {
            "id": obj.id,
            "tenant_id": obj.tenant_id,
            "code": obj.code,
            "name": obj.name,
            "promotions": obj.promotions,
            "audience": obj.audience,
            "channel": obj.channel,
            "currency": obj.currency,
            "budget": money.from_minor(obj.budget_minor, obj.currency),
            "min_basket": None
            if obj.min_basket_minor is None
            else money.from_minor(obj.min_basket_minor, obj.currency),
            "starts_at": obj.starts_at,
            "ends_at": obj.ends_at,
            "holdout_share": obj.holdout_share,
            "grant_days": obj.grant_days,
            "is_active": obj.is_active,
            "version": obj.version,
            "created_at": obj.created_at,
            "updated_at": obj.updated_at,
        }
    )


def dump(obj: Campaign) -> dict[str, Any]:
    return read(obj).model_dump(mode="json")


def compile_audience(rule: Any) -> rules.Compiled:
    """The audience rule, compiled as segments compile theirs (over profile.* only)."""
    compiled = rules.compile_condition(rule, DECISIONING)
    outside = [f for f in compiled.facts if not f.startswith("profile.")]
    if outside:
        raise Invalid(
            "an audience reads the profile only",
            [FieldError(("body", "audience", "rule"), f"reads {', '.join(outside)}")],
        )
    return compiled


async def _prepare(session: AsyncSession, tenant_id: uuid.UUID, data: CampaignIn) -> CampaignIn:
    """The campaign in the tenant's currency unless it names one."""
    if data.currency is not None:
        return data
    tenant = await session.get(Tenant, tenant_id)
    assert tenant is not None  # the route loaded it
    return data.model_copy(update={"currency": tenant.base_currency})


async def _check(
    session: AsyncSession, tenant_id: uuid.UUID, data: CampaignIn, current: Campaign | None
) -> None:
    """Its amounts exact in its currency; its promotions defined, in that currency, each once;
    its audience rule valid."""
    loc: Loc = ("body",)
    errors: list[FieldError] = []
    currency = data.currency or ""
    try:
        money.currency(currency)
    except money.UnknownCurrency as exc:
        raise Invalid(str(exc), [FieldError((*loc, "currency"), str(exc))]) from exc
    for name in ("budget", "min_basket"):
        amount = getattr(data, name)
        if amount is None:
            continue
        try:
            money.to_minor(amount, currency)
        except ValueError as exc:
            errors.append(FieldError((*loc, name), str(exc)))
    defined = {p.code: p for p in await promoting.definitions(session, tenant_id)}
    for i, code in enumerate(data.promotions):
        found = defined.get(code)
        if code in data.promotions[:i]:
            errors.append(FieldError((*loc, "promotions", i), "named twice"))
        elif found is None:
            errors.append(FieldError((*loc, "promotions", i), f"no promotion {code!r}"))
        elif found.currency != currency:
            errors.append(
                FieldError(
                    (*loc, "promotions", i), f"{code} is in {found.currency}, not {currency}"
                )
            )
    if data.audience.rule is not None:
        try:
            compile_audience(data.audience.rule)
        except rules.RuleError as exc:
            errors.append(FieldError((*loc, "audience", "rule"), str(exc)))
        except Invalid as exc:
            errors.extend(exc.errors)
    raise_if_any(errors)


def _apply(obj: Campaign, data: CampaignIn) -> None:
    currency = data.currency or obj.currency
    obj.code = data.code
    obj.name = data.name
    obj.promotions = list(data.promotions)
    obj.audience = data.audience.model_dump(mode="json")
    obj.channel = data.channel
    obj.currency = currency
    obj.budget_minor = money.to_minor(data.budget, currency)
    obj.min_basket_minor = (
        None if data.min_basket is None else money.to_minor(data.min_basket, currency)
    )
    obj.starts_at = data.starts_at
    obj.ends_at = data.ends_at
    obj.holdout_share = data.holdout_share
    obj.grant_days = data.grant_days
    obj.is_active = data.is_active


def _same(obj: Campaign, data: CampaignIn) -> bool:
    return bool(read(obj).as_input() == data.model_dump(mode="json", include=_FIELDS))


EDITING: Editing[Campaign, CampaignIn] = Editing(
    name="campaign",
    what="campaign",
    model=Campaign,
    dump=dump,
    apply=_apply,
    same=_same,
    recorded=read_back(CampaignRead, CampaignIn),
    title=lambda obj: f"campaign {obj.code!r}",
    check=_check,
    key=Campaign.code,
    prepare=_prepare,
)


async def _list(
    session: AsyncSession, *, tenant_id: uuid.UUID, filters: None, page: PageRequest | None
) -> tuple[Sequence[Campaign], str | None]:
    rows = await session.scalars(
        sa.select(Campaign)
        .where(Campaign.tenant_id == tenant_id)
        .order_by(Campaign.starts_at.desc(), Campaign.code)
    )
    return rows.all(), None


CAMPAIGN_KIND: ConfigKind[Campaign] = ConfigKind(
    history=EDITING.history,
    what="campaign",
    path="campaigns",
    operation="Campaign",
    create_schema=CampaignIn,
    update_schema=CampaignUpdate,
    read_schema=CampaignRead,
    read=read,
    create=EDITING.create,
    update=EDITING.update,
    delete=EDITING.delete,
    list=_list,
    paged=False,
)
