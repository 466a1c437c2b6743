"""`POST /v1/decisions`: the funnel of :mod:`core` per activity, then capping (exact, see
:mod:`counting`) and de-duplication as items are picked; the propositions are recorded behind the
response."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from offerengine.campaigns import core as campaigns
from offerengine.campaigns import grants as campaign_grants
from offerengine.context import AppContext
from offerengine.decisioning import bandits, core, counting, learning
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
    for i, named in enumerate(request.activities):
        activity_id = _activity_id(index, named)
        activity = index.activities.get(activity_id) if activity_id is not None else None
        if activity_id is None:
            errors.append(
                FieldError(
                    ("body", "activities", i),
                    f"no activity has the id or name {named!r}",
                )
            )
        elif activity_id in seen:
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
        if activity_id is not None:
            seen.add(activity_id)
    raise_if_any(errors)
    return found


def _activity_id(index: core.DecisioningIndex, named: str) -> uuid.UUID | None:
    """The activity a request names by id or by name (from the snapshot: no query), or None."""
    try:
        activity_id = uuid.UUID(named)
    except ValueError:
        return index.names.get(named)
    if activity_id in index.activities or activity_id in index.idle:
        return activity_id
    return index.names.get(named)  # a name that looks like an id


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
    facts = await _request_facts(ctx, snapshot, request, now)
    assignments = _assign(index, request, now) if index.experiments else []
    if assignments:
        activities = [_as_assigned(index, assignments, a) for a in activities]
    ctx.metrics.observe_decision(request.dry_run)
    async with AsyncExitStack() as stack:
        counters = counting.for_request(ctx, stack, snapshot.tenant.id, profile_id, now)
        deciding = _DecisionInProgress(ctx, snapshot, request, now, facts, counters)
        with rules.rules_context():
            for activity in activities:
                await deciding.decide_activity(activity)
    if not request.dry_run:
        await ctx.recorder.record(
            _decision(
                snapshot.tenant.id,
                decision_id,
                profile_id,
                deciding.propositions,
                now,
                deciding.logs,
            ),
            *records.exposed(snapshot.tenant.id, assignments, now),
        )
    response: dict[str, Any] = {
        "decision_id": str(decision_id),
        "dry_run": request.dry_run,
        "propositions": deciding.propositions,
    }
    if assignments:
        response["experiments"] = [
            {"key": a.experiment.key, "variant": a.variant.key, "in_experiment": a.in_experiment}
            for a in assignments
        ]
    await _feature_flags(ctx, snapshot, request, now, response)
    if deciding.explained is not None:
        response["explain"] = {"activities": deciding.explained}
    return response


async def _request_facts(
    ctx: AppContext, snapshot: Snapshot, request: DecisionRequest, now: datetime
) -> dict[str, Any]:
    """The facts rules read: the request's profile over what is kept of it, and its context."""
    attributes: Mapping[str, Any] = request.profile.attributes
    stored = await ctx.profiles.get(snapshot.tenant.id, request.profile.id)
    if stored is not None:  # what is kept of the profile, under what the request says
        attributes = profiles.decision_attributes(
            stored, request.profile.attributes, snapshot.segments, now
        )
    return core.request_facts(request.profile.id, attributes, request.context, now)


_UNREAD = object()  # the profile's grant, not read yet


@dataclass(frozen=True)
class _RankedCandidates:
    """An activity's candidates best first, and, under a contextual bandit, the bandit's ranking
    and state (its propensities and logs need them)."""

    candidates: Iterable[core.Candidate]
    spec: ContextualDef | None = None
    learnt: LinearBandit | None = None
    by_bandit: core.BanditRanking | None = None


class _DecisionInProgress:
    """One request being decided, activity after activity: what they share — the offers already
    proposed (de-duplication), the learnt states (read when an activity first needs them), the
    bandits' logs — and what the response is built from (propositions, explanations)."""

    def __init__(
        self,
        ctx: AppContext,
        snapshot: Snapshot,
        request: DecisionRequest,
        now: datetime,
        facts: dict[str, Any],
        counters: counting.Counters,
    ) -> None:
        self._ctx = ctx
        self._snapshot = snapshot
        self._request = request
        self._now = now
        self._facts = facts
        self._counters = counters
        self._taken: dict[uuid.UUID, str] = {}  # offer → the activity that proposed it
        self._estimates: learning.Estimates | None = None  # read when an activity ranks by model
        # The bandits' states, read when an activity (or its shadow) first ranks by one.
        self._policies: Mapping[tuple[uuid.UUID, str], store.Served] | None = None
        self.logs: dict[tuple[str, str], dict[str, Any]] = {}  # what bandits log per proposal
        self.propositions: list[dict[str, Any]] = []
        self.explained: dict[str, Any] | None = {} if request.explain else None
        self._granted: dict[str, str] | object | None = _UNREAD  # the profile's open grant

    async def decide_activity(self, activity: core.ActivityDef) -> None:
        """The activity's proposition (its fallback when nothing is picked), and its explanation."""
        fates: list[dict[str, Any]] | None = [] if self.explained is not None else None
        closed = activity.off_calendar(self._now)
        ranked = await self._ranked(activity, closed, fates)
        items = await self._pick(activity, ranked, fates)
        if activity.shadow is not None and items and not closed:
            assert self._policies is not None
            bandits.shadow_pick(
                activity, self._policies, self._facts, self._now, items[0], self.logs, _RNG
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
        self.propositions.append(
            {"activity_id": activity.key, "placement_id": activity.placement_key, "items": items}
        )
        if self.explained is not None:
            self.explained[activity.key] = {
                "name": activity.name,
                "ranking": activity.ranking,
                "candidates": len(activity.candidates),
                "closed": closed,
                "fallback": items[0]["fallback"],
                "fates": fates,
            }

    async def _ranked(
        self, activity: core.ActivityDef, closed: str | None, fates: list[dict[str, Any]] | None
    ) -> _RankedCandidates:
        """The candidates as the activity ranks them: none when it is closed; by its bandit, its
        model, or its formula or priorities."""
        tenant_id = self._snapshot.tenant.id
        spec = activity.contextual
        if (spec is not None or activity.shadow is not None) and self._policies is None:
            self._policies = await self._ctx.models.get(tenant_id)
        if closed:
            return _RankedCandidates(())
        facts, now = self._facts, self._now
        if spec is not None:
            assert self._policies is not None
            learnt = bandits.serving(self._policies, activity, spec)
            by_bandit = core.ranked_by_bandit(activity, facts, now, fates, learnt, _RNG)
            return _RankedCandidates(by_bandit.candidates, spec, learnt, by_bandit)
        if activity.model is not None:
            if self._estimates is None:
                self._estimates = await self._ctx.learned.get(tenant_id)
            posterior = _posterior(self._estimates, activity)
            return _RankedCandidates(
                core.ranked_by_model(activity, facts, now, fates, posterior, _RNG)
            )
        return _RankedCandidates(core.ranked(activity, facts, now, fates))

    async def _pick(
        self,
        activity: core.ActivityDef,
        ranked: _RankedCandidates,
        fates: list[dict[str, Any]] | None,
    ) -> list[dict[str, Any]]:
        """The first ``count`` candidates that de-duplication and the caps let through."""
        items: list[dict[str, Any]] = []
        passed_over: set[uuid.UUID] = set()  # refused or already picked (model ranking)
        for candidate in ranked.candidates:
            if len(items) == self._request.count:
                if fates is None:
                    break
                fates.append(_fate(candidate, "ranked lower", "the items were filled"))
                continue
            content = candidate.offer.content[activity.placement_id]
            if campaigns.uses_grant(content) and await self._grant() is None:
                if fates is not None:
                    fates.append(_fate(candidate, "grant", "the profile holds no open grant"))
                passed_over.add(candidate.offer.id)
                continue
            if not await self._admits(candidate, fates):
                passed_over.add(candidate.offer.id)
                continue
            self._taken.setdefault(candidate.offer.id, activity.name)
            if fates is not None:
                fates.append(_fate(candidate, "chosen", "proposed"))
            items.append(self._item(activity, ranked, candidate, passed_over))
        return items

    async def _grant(self) -> dict[str, str] | None:
        """The profile's open campaign grant (read once per request, when an offer's content
        first names it)."""
        if self._granted is _UNREAD:
            async with self._ctx.session_factory() as session:
                self._granted = await campaign_grants.open_grant(
                    session, self._snapshot.tenant.id, self._request.profile.id, self._now
                )
        return self._granted if isinstance(self._granted, dict) else None

    def _represent(self, content: Mapping[str, Any]) -> Mapping[str, Any]:
        """The representation's content, its grant tokens filled with the profile's grant."""
        if isinstance(self._granted, dict) and campaigns.uses_grant(content):
            return campaigns.fill(content, self._granted)
        return content

    async def _admits(self, candidate: core.Candidate, fates: list[dict[str, Any]] | None) -> bool:
        """Whether de-duplication and the offer's caps let it through (its decision caps counted
        when they do); why not, in ``fates``."""
        offer = candidate.offer
        if offer.id in self._taken and not self._request.allow_duplicates:
            if fates is not None:
                reason = f"proposed for {self._taken[offer.id]}"
                fates.append(_fate(candidate, "de-duplication", reason))
            return False
        if offer.caps:
            refused = await self._counters.admit(offer, self._request.dry_run)
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
                return False
        return True

    def _item(
        self,
        activity: core.ActivityDef,
        ranked: _RankedCandidates,
        candidate: core.Candidate,
        passed_over: set[uuid.UUID],
    ) -> dict[str, Any]:
        """The picked candidate as an item; ranked by a bandit or a model, with its propensity
        among the candidates still in the running (and a bandit's log)."""
        offer = candidate.offer
        item = {
            "offer_id": offer.key,
            "name": offer.name,
            "fallback": False,
            "score": _score(candidate.score),
            "representation": self._represent(offer.content[activity.placement_id]),
        }
        by_bandit = ranked.by_bandit
        if by_bandit is not None:
            assert ranked.spec is not None
            assert ranked.learnt is not None
            pool = [c for c in by_bandit.candidates if c.offer.id not in passed_over]
            item["propensity"] = bandits.propensity(
                ranked.spec, ranked.learnt, by_bandit, pool, candidate, _RNG
            )
            self.logs[(activity.key, offer.key)] = bandits.choice_log(
                activity, ranked.spec, self._policies, by_bandit.x, pool, self._facts
            )
            passed_over.add(offer.id)
        elif activity.model is not None:
            pool = [c for c in ranked.candidates if c.offer.id not in passed_over]
            item["propensity"] = core.propensity(activity.model, pool, candidate, _RNG)
            passed_over.add(offer.id)
        return item


async def _feature_flags(
    ctx: AppContext,
    snapshot: Snapshot,
    request: DecisionRequest,
    now: datetime,
    response: dict[str, Any],
) -> None:
    """The flags tagged ``decide``, evaluated for the profile into the response; their exposures
    recorded (unless a dry run)."""
    keys = snapshot.flags.tagged.get("decide")
    if not keys:
        return
    profile_id = request.profile.id
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
        await ctx.recorder.record(*records.exposures(snapshot.tenant.id, evaluated.exposures, now))


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
