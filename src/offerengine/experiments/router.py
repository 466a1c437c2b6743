"""Experiments: configuration with start and stop (the generic routes of the kind declared in
:mod:`offerengine.experiments.service`), sticky assignment, results."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query, Response
from pydantic import BaseModel, Field

from offerengine.auth.deps import ConfigReader
from offerengine.clock import utcnow
from offerengine.deps import DbSession
from offerengine.experiments import assigning, service
from offerengine.experiments.models import Experiment
from offerengine.experiments.schemas import AssignmentRead, AssignRequest, ResultsRead
from offerengine.http.routing import router
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes, loader

api = router(tags=["experiments"])
PathExperiment = Annotated[Experiment, Depends(loader(service.EXPERIMENT_KIND))]


def experiment_filters(
    status: Annotated[Literal["draft", "running", "stopped"] | None, Query()] = None,
) -> str | None:
    return status


add_kind_routes(
    api,
    service.EXPERIMENT_KIND,
    filters=experiment_filters,
    docs=RouteDocs(
        list="The tenant's experiments, oldest first.",
        create="Create an experiment, as a draft: nobody is assigned until it is started.",
        update="Change an experiment. Once started, its variant keys are fixed; new weights "
        "apply to units not yet exposed (exposed units keep their variant).",
    ),
)


@api.get("/v1/experiments/{id:uuid}/results", operation_id="getExperimentResults")
async def get_experiment_results(
    experiment: PathExperiment, _: ConfigReader, session: DbSession
) -> ResultsRead:
    """Per variant and metric: units, conversions, rate, mean and variance; against control:
    lifts with 95% intervals, the p-value (two-proportion z-test or Welch's t-test), the chance to
    beat control and the expected loss; the sample-ratio check; and a verdict."""
    return await service.results(session, experiment=experiment)


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
