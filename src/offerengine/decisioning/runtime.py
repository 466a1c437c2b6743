"""`POST /v1/decisions`: the funnel of :mod:`core` per activity, then capping (exact, see
:mod:`counting`) and de-duplication as items are picked; the propositions are recorded behind the
response."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

from offerengine.context import AppContext
from offerengine.decisioning import core, counting
from offerengine.decisioning.schemas import DecisionRequest
from offerengine.errors import FieldError, raise_if_any
from offerengine.rules import core as rules
from offerengine.shopping.writer import new_decision_id
from offerengine.snapshots.core import Snapshot


def _check_request(
    index: core.DecisioningIndex, request: DecisionRequest
) -> list[core.ActivityDef]:
    errors: list[FieldError] = []
    if len(request.activities) > index.max_activities:
        errors.append(
            FieldError(
                ("body", "activities"),
                f"at most {index.max_activities} activities per request (the tenant's "
                "settings.decisioning.max_activities)",
            )
        )
    found: list[core.ActivityDef] = []
    seen: set[uuid.UUID] = set()
    for i, activity_id in enumerate(request.activities):
        activity = index.activities.get(activity_id)
        if activity_id in seen:
            errors.append(FieldError(("body", "activities", i), "named twice"))
        elif activity is None:
            errors.append(
                FieldError(
                    ("body", "activities", i),
                    index.idle.get(activity_id, f"no activity {activity_id}"),
                )
            )
        else:
            found.append(activity)
        seen.add(activity_id)
    raise_if_any(errors)
    return found


def _score(value: Any) -> float | None:
    return None if value is None else float(value)


async def decide(
    ctx: AppContext, snapshot: Snapshot, request: DecisionRequest, now: datetime
) -> dict[str, Any]:
    """Propositions for every activity of the request (see the module's doc)."""
    index = snapshot.decisioning
    activities = _check_request(index, request)
    decision_id = new_decision_id()
    profile_id = request.profile.id
    facts = core.request_facts(profile_id, request.profile.attributes, request.context, now)
    taken: dict[uuid.UUID, str] = {}  # offer → the activity that proposed it
    propositions: list[dict[str, Any]] = []
    explained: dict[str, Any] | None = {} if request.explain else None
    ctx.metrics.observe_decision(request.dry_run)
    async with AsyncExitStack() as stack:
        counters = counting.for_request(ctx, stack, snapshot.tenant.id, profile_id, now)
        with rules.rules_context():
            for activity in activities:
                fates: list[dict[str, Any]] | None = [] if explained is not None else None
                items: list[dict[str, Any]] = []
                closed = activity.off_calendar(now)
                candidates = () if closed else core.ranked(activity, facts, now, fates)
                for candidate in candidates:
                    offer = candidate.offer
                    if len(items) == request.count:
                        if fates is None:
                            break
                        fates.append(_fate(candidate, "ranked lower", "the items were filled"))
                        continue
                    if offer.id in taken and not request.allow_duplicates:
                        if fates is not None:
                            fates.append(
                                _fate(
                                    candidate, "de-duplication", f"proposed for {taken[offer.id]}"
                                )
                            )
                        continue
                    if offer.caps:
                        refused = await counters.admit(offer, request.dry_run)
                        if refused is not None:
                            cap, count = refused
                            if fates is not None:
                                fates.append(
                                    _fate(
                                        candidate,
                                        "capping",
                                        f"capped: {cap.describe()}",
                                        count=count,
                                        limit=cap.limit,
                                    )
                                )
                            continue
                    taken.setdefault(offer.id, activity.name)
                    if fates is not None:
                        fates.append(_fate(candidate, "chosen", "proposed"))
                    items.append(
                        {
                            "offer_id": offer.key,
                            "name": offer.name,
                            "fallback": False,
                            "score": _score(candidate.score),
                            "representation": offer.content[activity.placement_id],
                        }
                    )
                if not items:
                    fallback = activity.fallback
                    items.append(
                        {
                            "offer_id": str(fallback.id),
                            "name": fallback.name,
                            "fallback": True,
                            "score": None,
                            "representation": fallback.content,
                        }
                    )
                propositions.append(
                    {
                        "activity_id": activity.key,
                        "placement_id": activity.placement_key,
                        "items": items,
                    }
                )
                if explained is not None:
                    explained[activity.key] = {
                        "name": activity.name,
                        "ranking": activity.ranking,
                        "candidates": len(activity.candidates),
                        "closed": closed,
                        "fallback": items[0]["fallback"],
                        "fates": fates,
                    }
    if not request.dry_run:
        ctx.shop.writer.decided(
            _decision(snapshot.tenant.id, decision_id, profile_id, propositions, now)
        )
    response: dict[str, Any] = {
        "decision_id": str(decision_id),
        "dry_run": request.dry_run,
        "propositions": propositions,
    }
    if explained is not None:
        response["explain"] = {"activities": explained}
    return response


def _fate(candidate: core.Candidate, stage: str, reason: str, **extra: Any) -> dict[str, Any]:
    fate = {
        "offer_id": candidate.offer.key,
        "name": candidate.offer.name,
        "stage": stage,
        "reason": reason,
        "score": _score(candidate.score),
        **extra,
    }
    if candidate.parts:
        fate["score_parts"] = candidate.parts
    return fate


def _decision(
    tenant_id: uuid.UUID,
    decision_id: uuid.UUID,
    profile_id: str,
    propositions: Sequence[dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    """The decision row: every proposed item (the fallback included), in order."""
    return {
        "id": decision_id,
        "tenant_id": tenant_id,
        "profile_id": profile_id,
        "made_at": now,
        "propositions": [
            {
                "activity_id": p["activity_id"],
                "placement_id": p["placement_id"],
                "offer_id": item["offer_id"],
                "score": item["score"],
                "fallback": item["fallback"],
            }
            for p in propositions
            for item in p["items"]
        ],
    }
