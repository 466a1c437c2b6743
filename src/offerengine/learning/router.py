"""The contextual bandits' model versions (admin): list, inspect, restore, train, and the shadow
report."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Path, Query, status
from pydantic import BaseModel, Field

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentPrincipal
from offerengine.deps import Ctx, DbSession
from offerengine.fields import Timestamp
from offerengine.http.routing import router
from offerengine.learning import versions
from offerengine.tenants.deps import PathTenant

api = router(tags=["learning"])

ModelId = Annotated[uuid.UUID, Path(description="The model version's id.")]


class ModelVersionRead(BaseModel):
    id: uuid.UUID
    activity_id: uuid.UUID
    line: str = Field(description="live, shadow, or variant:<experiment>/<variant>.")
    version: int
    active: bool
    started_from: int | None = Field(description="The version whose learnt state it began with.")
    settings: dict[str, Any]
    features: list[str] = Field(description="What each weight multiplies; 1 is the constant.")
    decisions_learnt: int
    reward_total: float
    mean_reward: float | None
    trained_through: str | None
    created_at: str | None
    arms: dict[str, Any] = Field(description="Per offer id: proposals learnt from, and weights.")


class ModelVersions(BaseModel):
    items: list[ModelVersionRead]
    next_cursor: str | None = Field(default=None, description="Always null: one page.")


class TrainRound(BaseModel):
    activity_id: uuid.UUID
    line: str
    version: int
    learnt: int = Field(description="Proposals learnt from in this round.")
    started: bool = Field(description="This round started the version (settings changed).")


class TrainRounds(BaseModel):
    rounds: list[TrainRound]


class LineReport(BaseModel):
    activity_id: uuid.UUID
    activity: str
    line: str
    version: int | None
    agreement: dict[str, Any] | None = Field(
        default=None, description="Shadow: how often it would have proposed what was served."
    )
    evaluation: dict[str, Any] = Field(
        description="Offline estimates of its mean reward on the logs, with 95% intervals, "
        "beside the logged policy's measured mean."
    )


class ModelsReport(BaseModel):
    lines: list[LineReport]


@api.get(
    "/v1/admin/tenants/{tenant}/models",
    operation_id="listModelVersions",
    response_model=ModelVersions,
)
async def list_versions(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    activity_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Any:
    """Every version of the tenant's contextual bandits, by activity, line and version."""
    return {"items": await versions.list_versions(session, tenant.id, activity_id)}


@api.get("/v1/admin/models/{id}", operation_id="getModelVersion", response_model=ModelVersionRead)
async def get_version(
    id: ModelId, principal: CurrentPrincipal, _: ConfigReader, session: DbSession
) -> Any:
    return await versions.get_version(session, principal, id)


@api.post(
    "/v1/admin/models/{id}/restore",
    operation_id="restoreModelVersion",
    status_code=status.HTTP_201_CREATED,
    response_model=ModelVersionRead,
)
async def restore_version(
    id: ModelId, ctx: Ctx, principal: CurrentPrincipal, _: ConfigWriter, session: DbSession
) -> Any:
    """Serve what this version learnt again: a new active version of its line, under the
    activity's current settings, from this version's state (409 when the features differ)."""
    return await versions.restore(session, ctx, principal, id)


@api.post(
    "/v1/admin/tenants/{tenant}/models/train",
    operation_id="trainModels",
    response_model=TrainRounds,
)
async def train(tenant: PathTenant, ctx: Ctx, _: ConfigWriter, session: DbSession) -> Any:
    """A training round now, for every bandit of the tenant: the decisions whose reward window
    has closed since each version last learnt, up to 2,000 (workers also do this every
    `OFFERENGINE_LEARNING_TRAIN_SECONDS`). 409 when another round moved a model meanwhile."""
    return {"rounds": await versions.train(session, ctx, tenant.id)}


@api.get(
    "/v1/admin/tenants/{tenant}/models/report",
    operation_id="reportModels",
    response_model=ModelsReport,
)
async def report(
    tenant: PathTenant,
    ctx: Ctx,
    _: ConfigReader,
    session: DbSession,
    activity_id: Annotated[uuid.UUID | None, Query()] = None,
    since: Annotated[Timestamp | None, Query(description="Decisions made from then on.")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Any:
    """Each bandit line judged on its activity's logs (up to `limit` proposals from `since`, oldest
    first, whose reward window has closed): its offline value estimates beside what was served,
    and for a shadow its agreement with the live ranking."""
    lines = await versions.report(session, ctx, tenant.id, activity_id, since=since, limit=limit)
    return {"lines": lines}
