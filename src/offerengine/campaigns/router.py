"""Campaigns (admin): the configuration kind's routes, recommending for a campaign (grants as
personal coupons, a holdout never granted), its grants, its measured uplift, and the sweep that
expires grants and releases their reservations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import BackgroundTasks, Depends, Query
from fastapi.responses import StreamingResponse

from offerengine.auth.deps import ConfigReader, ConfigWriter
from offerengine.campaigns import (
    delivery,
    grants,
    measuring,
    recommending,
    retraining,
    service,
)
from offerengine.campaigns.models import Campaign
from offerengine.campaigns.schemas import CampaignDeliver, CampaignGrantRead, CampaignRecommend
from offerengine.clock import utcnow
from offerengine.deps import Ctx, DbSession, begin_writing
from offerengine.errors import FieldError, Invalid
from offerengine.http.routing import router
from offerengine.tenants.deps import PathTenant
from offerengine.transfer import core as files
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes, loader
from offerengine.webhooks import core as webhook_core

api = router(tags=["promotions"])
PathCampaign = Annotated[Campaign, Depends(loader(service.CAMPAIGN_KIND))]

add_kind_routes(
    api,
    service.CAMPAIGN_KIND,
    docs=RouteDocs(
        list="The tenant's campaigns, the latest to start first.",
        create="A campaign: its promotions, audience (a segment, a rule over profile.*, or "
        "both), channel, budget in its currency, dates, and the share of targeted customers "
        "held out (never granted) to measure it.",
    ),
)


@api.post("/v1/admin/tenants/{tenant}/campaigns/sweep", operation_id="sweepCampaignGrants")
async def sweep_campaign_grants(
    tenant: PathTenant, _: ConfigWriter, session: DbSession
) -> dict[str, int]:
    """Expire the tenant's grants past their time and release their budget reservations; run
    again, it expires nothing more."""
    return {"expired": await grants.sweep(session, tenant.id, utcnow())}


@api.post("/v1/admin/campaigns/{id:uuid}/recommend", operation_id="recommendCampaign")
async def recommend_campaign(
    campaign: PathCampaign, _: ConfigWriter, session: DbSession, body: CampaignRecommend
) -> dict[str, Any]:
    """Of these customers, those of the audience the campaign's promotions change most within
    its budget: the held out (by the experiments' hashing) are recorded and never granted; each
    treated one gets a personal coupon code, its expected cost reserved from the budget."""
    return await recommending.recommend(session, campaign, body, utcnow())


@api.get("/v1/admin/campaigns/{id:uuid}/grants", operation_id="listCampaignGrants")
async def list_campaign_grants(
    campaign: PathCampaign,
    _: ConfigReader,
    session: DbSession,
    status: Annotated[Literal["ISSUED", "REDEEMED", "EXPIRED"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CampaignGrantRead]:
    """The campaign's grants, oldest first: code, customer, status, expiry, what was spent."""
    return await grants.list_grants(session, campaign, status=status, limit=limit)


@api.get("/v1/admin/campaigns/{id:uuid}/measurement", operation_id="measureCampaign")
async def measure_campaign(
    campaign: PathCampaign, _: ConfigReader, session: DbSession
) -> dict[str, Any]:
    """Treated against held out: redemption rate, conversion and revenue per member with 95%
    intervals, incremental orders and revenue, cost per incremental order, and the uplift
    model's predicted against realised uplift by decile."""
    return await measuring.measure(session, campaign, utcnow())


@api.post("/v1/admin/campaigns/{id:uuid}/retrain", operation_id="retrainCampaignModels")
async def retrain_campaign_models(
    campaign: PathCampaign,
    _: ConfigWriter,
    session: DbSession,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> dict[str, Any]:
    """Retrain the uplift model of each of the campaign's promotions from its treated and
    held-out members' outcomes: a new version, kept with its Qini and the serving version's on
    a held-out third; it serves only if its Qini is the higher."""
    return await retraining.retrain(session, campaign, utcnow(), seed=seed)


Channel = Literal["email", "sms", "push"]
BatchSize = Annotated[int, Query(ge=1, le=10_000, description="Selections per batch.")]


@api.get(
    "/v1/admin/campaigns/{id:uuid}/selections",
    operation_id="exportCampaignSelections",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The granted customers with their codes, promotion and message.",
            "content": {
                files.MEDIA_TYPES[f]: {"schema": {"type": "string"}} for f in ("csv", "parquet")
            },
        }
    },
)
async def export_campaign_selections(
    campaign: PathCampaign,
    _: ConfigReader,
    ctx: Ctx,
    session: DbSession,
    channel: Annotated[Channel, Query(description="email, sms or push: what the message is.")],
    format: Annotated[Literal["csv", "parquet"], Query()] = "csv",
    batch_size: BatchSize = 1000,
) -> StreamingResponse:
    """The campaign's selections (its customers granted an unused code: code, promotion,
    discount, expiry, and the channel's message), streamed a batch at a time as CSV or
    Parquet; each batch is logged in the campaign's delivery log."""
    await begin_writing(session)  # a GET that logs the batches it streams
    await delivery.log_export(session, campaign, channel, format, batch_size, utcnow())
    await session.commit()
    filename = f"{campaign.code.lower()}-{channel}.{format}"
    return StreamingResponse(
        delivery.export(ctx, campaign, channel, format, batch_size),
        media_type=files.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@api.post("/v1/admin/campaigns/{id:uuid}/deliver", operation_id="deliverCampaignSelections")
async def deliver_campaign_selections(
    campaign: PathCampaign,
    _: ConfigWriter,
    ctx: Ctx,
    session: DbSession,
    body: CampaignDeliver,
    background: BackgroundTasks,
) -> list[dict[str, Any]]:
    """Send the campaign's selections not sent on the channel yet to a webhook, one signed POST
    per batch (event ``campaign.selections``, through the webhook outbox: signed, retried, at
    least once; a batch that failed for good is sent again); the batches as logged (none when
    everything was sent)."""
    refusal = webhook_core.url_refusal(
        body.webhook, allow_private=ctx.settings.webhook_allow_private_networks
    )
    if refusal is not None:
        raise Invalid(refusal, [FieldError(("body", "webhook"), refusal)])
    made = await delivery.send(
        session,
        campaign,
        channel=body.channel,
        url=body.webhook,
        batch_size=body.batch_size,
        attempt_limit=ctx.settings.webhook_max_attempts,
        now=utcnow(),
    )
    background.add_task(ctx.webhooks.wake)  # after the commit, which precedes the response
    return made


@api.get("/v1/admin/campaigns/{id:uuid}/deliveries", operation_id="listCampaignDeliveries")
async def list_campaign_deliveries(
    campaign: PathCampaign,
    _: ConfigReader,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """The campaign's delivery log, newest first: per batch its channel, method (csv, parquet
    or webhook), count, status (EXPORTED; a webhook's QUEUED, DELIVERED or FAILED) and
    attempts."""
    return await delivery.log(session, campaign, limit)
