"""Experiments: configuration, start and stop, sticky assignment, results."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query, Response, status
from pydantic import BaseModel, Field

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor
from offerengine.auth.scoping import owned_loader
from offerengine.clock import utcnow
from offerengine.deps import DbSession
from offerengine.experiments import assigning, service
from offerengine.experiments.models import Experiment
from offerengine.experiments.schemas import (
    AssignmentRead,
    AssignRequest,
    ExperimentCreate,
    ExperimentRead,
    ExperimentUpdate,
    ResultsRead,
    StopRequest,
)
from offerengine.http.routing import IfMatch, expected_version, router, set_etag
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.pagination import Page
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.router import add_version_routes

api = router(tags=["experiments"])
PathExperiment = Annotated[Experiment, Depends(owned_loader(Experiment, "experiment"))]
TENANT_EXPERIMENTS = "/v1/admin/tenants/{tenant}/experiments"
EXPERIMENT = "/v1/admin/experiments/{id:uuid}"


@api.get(TENANT_EXPERIMENTS, operation_id="listExperiments")
async def list_experiments(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    status: Annotated[Literal["draft", "running", "stopped"] | None, Query()] = None,
) -> Page[ExperimentRead]:
    """The tenant's experiments, oldest first."""
    rows = await service.list_experiments(session, tenant_id=tenant.id, status=status)
    return Page[ExperimentRead](items=[ExperimentRead.of(e) for e in rows], next_cursor=None)


@api.post(TENANT_EXPERIMENTS, status_code=status.HTTP_201_CREATED, operation_id="createExperiment")
async def create_experiment(
    tenant: PathTenant,
    body: ExperimentCreate,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    response: Response,
) -> ExperimentRead:
    """Create an experiment, as a draft: nobody is assigned until it is started."""
    experiment = await service.create(session, tenant=tenant, data=body, actor=actor)
    set_etag(response, experiment.version)
    return ExperimentRead.of(experiment)


@api.get(EXPERIMENT, operation_id="getExperiment")
async def get_experiment(
    experiment: PathExperiment, _: ConfigReader, response: Response
) -> ExperimentRead:
    set_etag(response, experiment.version)
    return ExperimentRead.of(experiment)


@api.put(EXPERIMENT, operation_id="updateExperiment")
async def update_experiment(
    experiment: PathExperiment,
    body: ExperimentUpdate,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    if_match: IfMatch,
    response: Response,
) -> ExperimentRead:
    """Change an experiment. Once started, its variant keys are fixed; new weights apply to units
    not yet exposed (exposed units keep their variant)."""
    updated = await service.update(
        session,
        experiment=experiment,
        data=body,
        actor=actor,
        expected_version=expected_version(if_match, body.version),
    )
    set_etag(response, updated.version)
    return ExperimentRead.of(updated)


@api.post(f"{EXPERIMENT}/start", operation_id="startExperiment")
async def start_experiment(
    experiment: PathExperiment,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    if_match: IfMatch,
    response: Response,
) -> ExperimentRead:
    """Start assigning units (a draft only: a stopped experiment's results are final)."""
    started = await service.start(
        session, experiment=experiment, actor=actor, expected_version=if_match
    )
    set_etag(response, started.version)
    return ExperimentRead.of(started)


@api.post(f"{EXPERIMENT}/stop", operation_id="stopExperiment")
async def stop_experiment(
    experiment: PathExperiment,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    if_match: IfMatch,
    response: Response,
    body: StopRequest | None = None,
) -> ExperimentRead:
    """Stop assigning; with a `winner`, everyone is served that variant from now on."""
    stopped = await service.stop(
        session,
        experiment=experiment,
        winner=body.winner if body else None,
        actor=actor,
        expected_version=expected_version(if_match, body.version if body else None),
    )
    set_etag(response, stopped.version)
    return ExperimentRead.of(stopped)


@api.get("/v1/experiments/{id:uuid}/results", operation_id="getExperimentResults")
async def get_experiment_results(
    experiment: PathExperiment, _: ConfigReader, session: DbSession
) -> ResultsRead:
    """Per variant and metric: units, conversions, rate, mean and variance; against control:
    lifts with 95% intervals, the p-value (two-proportion z-test or Welch's t-test), the chance to
    beat control and the expected loss; the sample-ratio check; and a verdict."""
    return await service.results(session, experiment=experiment)


add_version_routes(
    api,
    service.EXPERIMENT,
    path="/v1/admin/experiments",
    operation="Experiment",
    read_model=ExperimentRead,
    to_read=ExperimentRead.of,
)


# --- run time ----------------------------------------------------------------------------------

runtime = RuntimeRouter(tags=["run time"])


class ExperimentPath(BaseModel):
    key: str = Field(max_length=64, description="The experiment's key.")


@runtime.post(
    "/v1/experiments/{key}/assign",
    operation_id="assignExperiment",
    params=ExperimentPath,
    body=AssignRequest,
    raw=True,  # validated by the use case once the experiment is found: 404 before 422
    response=AssignmentRead,
)
async def assign_experiment(call: Call, params: ExperimentPath, body: bytes) -> Response:
    """The unit's variant. Its first exposure is recorded, once; from then on it keeps that
    variant even if the weights change. Outside the experiment, control (or the shipped winner)."""
    return respond(await assigning.assign(call.context, call.snapshot, params.key, body, utcnow()))
