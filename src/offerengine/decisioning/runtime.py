"""`POST /v1/decisions`: the funnel of :mod:`core` per activity, then capping (exact, see
:mod:`counting`) and de-duplication as items are picked; the propositions are recorded behind the
response."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

import numpy as np

from offerengine.context import AppContext
from offerengine.decisioning import core, counting, learning
from offerengine.decisioning.schemas import DecisionRequest
from offerengine.errors import FieldError, raise_if_any
from offerengine.experiments.core import Assignment, assign
from offerengine.flags import core as flags
from offerengine.ids import new_time_uuid
from offerengine.learning import store
from offerengine.learning.bandit import LinearBandit
from offerengine.learning.policy import ContextualDef
from offerengine.profiles import service as profiles
from offerengine.recording import records
from offerengine.rules import core as rules
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


# Thompson sampling's draws; decisions need not repeat (the propensity says how likely each was).
_RNG = np.random.default_rng()


def _posterior(
    estimates: learning.Estimates, activity: core.ActivityDef
) -> Callable[[core.OfferDef], tuple[float, float]]:
    model = activity.model
    assert model is not None
    placement = activity.placement_key
    return lambda offer: estimates.posterior(offer.id, placement, model)


def _assign(
    index: core.DecisioningIndex, request: DecisionRequest, now: datetime
) -> list[Assignment]:
    """The request's unit in every experiment that ranks decisions. The unit is the experiment's
    unit attribute (profile_id by default, the profile's id) from the profile's attributes or the
    context; targeting conditions read the same."""
    attributes = {
        **request.context,
        **request.profile.attributes,
        "profile_id": request.profile.id,
    }
    found = []
    for experiment in index.experiments:
        unit = attributes.get(experiment.unit)
        found.append(assign(experiment, None if unit is None else str(unit), attributes, at=now))
    return found


def _as_assigned(
    index: core.DecisioningIndex, assignments: list[Assignment], activity: core.ActivityDef
) -> core.ActivityDef:
    """The activity as the unit's variants rank it (the first experiment that changes it)."""
    for a in assignments:
        changed = index.variants.get((a.experiment.key, a.variant.key, activity.id))
        if changed is not None:
            return changed
    return activity


def _serving(
    policies: Mapping[tuple[uuid.UUID, str], store.Served],
    activity: core.ActivityDef,
    spec: ContextualDef,
) -> LinearBandit:
    """The bandit state a line serves: its active version's, or nothing learnt yet."""
    served = policies.get((activity.id, spec.line))
    return served.under(spec) if served is not None else store.fresh(spec)


def _bandit_propensity(
    spec: ContextualDef,
    learnt: LinearBandit,
    ranking: core.BanditRanking,
    pool: list[core.Candidate],
    chosen: core.Candidate,
) -> float:
    """How likely the bandit was to propose ``chosen`` first among ``pool`` (the candidates
    still in the running, itself included)."""
    if len(pool) == len(ranking.candidates):
        return ranking.propensity
    ordered = sorted(pool, key=lambda c: c.position)
    prior = spec.prior([c.offer.worth for c in ordered], [c.offer.cost for c in ordered])
    chances = learnt.probabilities([c.offer.key for c in ordered], ranking.x, prior, _RNG)
    found = float(chances[ordered.index(chosen)])
    return max(found, 1.0 / spec.settings.draws)


def _bandit_log(
    activity: core.ActivityDef,
    spec: ContextualDef,
    policies: Mapping[tuple[uuid.UUID, str], store.Served] | None,
    x: list[float],
    pool: list[core.Candidate],
    facts: Mapping[str, Any],
) -> dict[str, Any]:
    """What a proposal logs for learning and offline evaluation: the candidates it was chosen
    from (in the activity's order), the feature vectors, and the version that chose."""
    served = policies.get((activity.id, spec.line)) if policies else None
    contexts = {spec.shape: x}
    shadow = activity.shadow
    if shadow is not None and shadow.shape not in contexts:
        contexts[shadow.shape] = shadow.context(facts)
    return {
        "candidates": [c.offer.key for c in sorted(pool, key=lambda c: c.position)],
        "contexts": contexts,
        "model": {"line": spec.line, "version": served.version if served else None},
    }


def _shadow(
    activity: core.ActivityDef,
    policies: Mapping[tuple[uuid.UUID, str], store.Served],
    facts: dict[str, Any],
    now: datetime,
    first: dict[str, Any],
    logs: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The shadow bandit's pick for the activity's first item, logged beside the live one (and,
    when the live ranking is no bandit, the candidates and features it needs, propensity 1)."""
    shadow = activity.shadow
    assert shadow is not None
    key = (activity.key, first["offer_id"])
    logged = logs.get(key)
    if logged is None:
        offers = list(core.passing(activity, facts, now, None))
        logged = logs[key] = {
            "candidates": [o.key for o in offers],
            "contexts": {shadow.shape: shadow.context(facts)},
        }
        first["propensity"] = 1.0
    keys = logged["candidates"]
    offers_by_key = {o.key: o for o in activity.candidates}
    chosen = [offers_by_key[k] for k in keys if k in offers_by_key]
    if not chosen:
        return
    learnt = _serving(policies, activity, shadow)
    prior = shadow.prior([o.worth for o in chosen], [o.cost for o in chosen])
    x = logged["contexts"].get(shadow.shape) or shadow.context(facts)
    pick = learnt.choose([o.key for o in chosen], x, prior, _RNG)
    logged["shadow"] = chosen[pick.chosen].key


def _score(value: Any) -> float | None:
    return None if value is None else float(value)


async def decide(
    ctx: AppContext, snapshot: Snapshot, request: DecisionRequest, now: datetime
) -> dict[str, Any]:
    """Propositions for every activity of the request (see the module's doc)."""
    if not request.dry_run:
        await ctx.recorder.catch_up()
    index = snapshot.decisioning
    activities = _check_request(index, request)
    decision_id = new_time_uuid()
    profile_id = request.profile.id
    attributes: Mapping[str, Any] = request.profile.attributes
    stored = await ctx.profiles.get(snapshot.tenant.id, profile_id)
    if stored is not None:  # what is kept of the profile, under what the request says
        attributes = profiles.decision_attributes(
            stored, request.profile.attributes, snapshot.segments, now
        )
    facts = core.request_facts(profile_id, attributes, request.context, now)
    taken: dict[uuid.UUID, str] = {}  # offer → the activity that proposed it
    propositions: list[dict[str, Any]] = []
    explained: dict[str, Any] | None = {} if request.explain else None
    estimates: learning.Estimates | None = None  # read when an activity ranks by model
    policies: Mapping[tuple[uuid.UUID, str], store.Served] | None = None  # bandits' states
    logs: dict[tuple[str, str], dict[str, Any]] = {}  # what bandits log per proposal
    assignments = _assign(index, request, now) if index.experiments else []
    if assignments:
        activities = [_as_assigned(index, assignments, a) for a in activities]
    ctx.metrics.observe_decision(request.dry_run)
    async with AsyncExitStack() as stack:
        counters = counting.for_request(ctx, stack, snapshot.tenant.id, profile_id, now)
        with rules.rules_context():
            for activity in activities:
                fates: list[dict[str, Any]] | None = [] if explained is not None else None
                items: list[dict[str, Any]] = []
                closed = activity.off_calendar(now)
                model = activity.model
                candidates: Iterable[core.Candidate]
                spec = activity.contextual
                learnt: LinearBandit | None = None
                by_bandit: core.BanditRanking | None = None
                if (spec is not None or activity.shadow is not None) and policies is None:
                    policies = await ctx.models.get(snapshot.tenant.id)
                if closed:
                    candidates = ()
                elif spec is not None:
                    assert policies is not None
                    learnt = _serving(policies, activity, spec)
                    by_bandit = core.ranked_by_bandit(activity, facts, now, fates, learnt, _RNG)
                    candidates = by_bandit.candidates
                elif model is not None:
                    if estimates is None:
                        estimates = await ctx.learned.get(snapshot.tenant.id)
                    candidates = core.ranked_by_model(
                        activity, facts, now, fates, _posterior(estimates, activity), _RNG
                    )
                else:
                    candidates = core.ranked(activity, facts, now, fates)
                passed_over: set[uuid.UUID] = set()  # refused or already picked (model ranking)
                for candidate in candidates:
                    offer = candidate.offer
                    if len(items) == request.count:
                        if fates is None:
                            break
                        fates.append(_fate(candidate, "ranked lower", "the items were filled"))
                        continue
                    if offer.id in taken and not request.allow_duplicates:
                        passed_over.add(offer.id)
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
                            passed_over.add(offer.id)
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
                    item = {
                        "offer_id": offer.key,
                        "name": offer.name,
                        "fallback": False,
                        "score": _score(candidate.score),
                        "representation": offer.content[activity.placement_id],
                    }
                    if by_bandit is not None:
                        assert spec is not None
                        assert learnt is not None
                        pool = [c for c in by_bandit.candidates if c.offer.id not in passed_over]
                        item["propensity"] = _bandit_propensity(
                            spec, learnt, by_bandit, pool, candidate
                        )
                        logs[(activity.key, offer.key)] = _bandit_log(
                            activity, spec, policies, by_bandit.x, pool, facts
                        )
                        passed_over.add(offer.id)
                    elif model is not None:
                        pool = [c for c in candidates if c.offer.id not in passed_over]
                        item["propensity"] = core.propensity(model, pool, candidate, _RNG)
                        passed_over.add(offer.id)
                    items.append(item)
                if activity.shadow is not None and items and not closed:
                    assert policies is not None
                    _shadow(activity, policies, facts, now, items[0], logs)
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
        await ctx.recorder.record(
            _decision(snapshot.tenant.id, decision_id, profile_id, propositions, now, logs),
            *records.exposed(snapshot.tenant.id, assignments, now),
        )
    response: dict[str, Any] = {
        "decision_id": str(decision_id),
        "dry_run": request.dry_run,
        "propositions": propositions,
    }
    if assignments:
        response["experiments"] = [
            {"key": a.experiment.key, "variant": a.variant.key, "in_experiment": a.in_experiment}
            for a in assignments
        ]
    keys = snapshot.flags.tagged.get("decide")
    if keys:
        evaluated = flags.evaluate_all(
            snapshot.flags,
            keys,
            {
                **request.context,
                **request.profile.attributes,
                "user_id": profile_id,
                "profile_id": profile_id,
            },
            at=now,
            experiments_index=snapshot.experiments,
            saved_groups=snapshot.tenant.saved_groups,
        )
        response["feature_flags"] = evaluated.values
        if evaluated.exposures and not request.dry_run:
            await ctx.recorder.record(
                *records.exposures(snapshot.tenant.id, evaluated.exposures, now)
            )
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
    logs: Mapping[tuple[str, str], Mapping[str, Any]],
) -> records.Decision:
    """The decision's record: every proposed item (the fallback included), in order, and what
    the bandits logged of their proposals."""
    return records.Decision(
        tenant_id=tenant_id,
        id=decision_id,
        profile_id=profile_id,
        made_at=now,
        propositions=[
            {
                "activity_id": p["activity_id"],
                "placement_id": p["placement_id"],
                "offer_id": item["offer_id"],
                "score": item["score"],
                "fallback": item["fallback"],
                **({"propensity": item["propensity"]} if "propensity" in item else {}),
            }
            for p in propositions
            for item in p["items"]
        ],
        logs=[
            records.ChoiceLog(
                decision_id=decision_id,
                activity_id=uuid.UUID(p["activity_id"]),
                rank=rank,
                made_at=now,
                offer_id=item["offer_id"],
                propensity=item.get("propensity", 1.0),
                candidates=logged["candidates"],
                contexts=logged["contexts"],
                model=logged.get("model"),
                shadow=logged.get("shadow"),
            )
            for p in propositions
            for rank, item in enumerate(p["items"])
            if (logged := logs.get((p["activity_id"], item["offer_id"]))) is not None
        ],
    )
