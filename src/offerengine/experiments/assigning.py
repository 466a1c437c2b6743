"""Assigning a unit to an experiment at run time, the use case: the assignment from the compiled
snapshot, and the unit's first exposure recorded (once), which it then keeps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from offerengine.context import AppContext
from offerengine.db.session import write_transaction
from offerengine.errors import NotFound
from offerengine.experiments import core, service
from offerengine.experiments.schemas import AssignRequest
from offerengine.snapshots.core import Snapshot
from offerengine.validation import validate


async def assign(
    ctx: AppContext, snapshot: Snapshot, key: str, body: bytes, now: datetime
) -> dict[str, Any]:
    """The unit's variant in the experiment ``key``, as
    :class:`~offerengine.experiments.schemas.AssignmentRead` shows it, for the JSON ``body`` (an
    :class:`~offerengine.experiments.schemas.AssignRequest`). In the experiment, its first
    exposure is recorded, and from then on it keeps that variant even if the weights change;
    outside it, control (or the shipped winner).

    An unknown experiment is a 404 whatever the body: the body is validated (400, 422) only then.
    """
    experiment = snapshot.experiments.by_key.get(key)
    if experiment is None:
        raise NotFound(f"No experiment {key!r}.")
    request = validate(AssignRequest, body)
    assignment = core.assign(
        experiment,
        request.unit_id,
        {**request.attributes, experiment.unit: request.unit_id},
        at=now,
        saved_groups=snapshot.tenant.saved_groups,
    )
    variant, sticky = assignment.variant, False
    if assignment.in_experiment:
        async with write_transaction(ctx) as session:
            variant, sticky = await service.expose(
                session, tenant_id=snapshot.tenant.id, assignment=assignment, at=now
            )
    return {
        "experiment": experiment.key,
        "variant": variant.key,
        "in_experiment": assignment.in_experiment,
        "hash_value": assignment.hash_value,
        "bucket": assignment.bucket,
        "reason": "assigned at the unit's first exposure" if sticky else assignment.reason,
        "config": variant.config,
        "sticky": sticky,
    }
