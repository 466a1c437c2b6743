"""What `offerengine train`, `export-logs` and `evaluate-policy` do, against a database."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.db.base import utcnow
from offerengine.decisioning import core
from offerengine.decisioning import service as configuration
from offerengine.decisioning.models import DecisioningObject
from offerengine.errors import Invalid, NotFound
from offerengine.learning import bandit, evaluate, store
from offerengine.learning.models import LearningModel
from offerengine.learning.policy import ContextualDef, Learner, Logged, Proposable
from offerengine.snapshots import build as snapshots
from offerengine.snapshots.core import Snapshot
from offerengine.tenants import service as tenants


async def snapshot(session: AsyncSession, tenant: str) -> Snapshot:
    found = await tenants.find(session, tenant)
    if found is None:
        raise NotFound(f"No tenant {tenant!r}.")
    built = await snapshots.build(session, found.id)
    if built is None:
        raise NotFound(f"No tenant {tenant!r}.")
    return built


def activity_of(built: Snapshot, name: str) -> Learner:
    """An approved activity by name or id, or ``shop``: the offer rules' conversion model."""
    for activity in built.decisioning.activities.values():
        if name in (activity.key, activity.name):
            return activity
    if name == "shop":
        if built.shopping.learner is None:
            raise Invalid("the offer rules have no conversion_model: searches log nothing")
        return built.shopping.learner
    raise NotFound(f"no approved activity {name!r}")


def judge(activity: Learner) -> ContextualDef:
    """The bandit whose reward and features the logs are read with: live, else the shadow."""
    spec = activity.contextual or activity.shadow
    if spec is None:
        raise Invalid(
            f"activity {activity.name!r} has no contextual ranking or shadow: its decisions "
            "log no candidates or features to evaluate on"
        )
    return spec


def to_json(row: Logged) -> str:
    data = asdict(row)
    data["decision_id"] = str(row.decision_id)
    data["made_at"] = row.made_at.isoformat()
    data["candidates"] = list(row.candidates)
    data["contexts"] = dict(row.contexts)
    return json.dumps(data, separators=(",", ":"))


def from_json(line: str, where: str) -> Logged:
    try:
        data = json.loads(line)
        return Logged(
            decision_id=uuid.UUID(data["decision_id"]),
            made_at=datetime.fromisoformat(data["made_at"]),
            offer_id=str(data["offer_id"]),
            candidates=tuple(str(c) for c in data["candidates"]),
            propensity=float(data["propensity"]),
            contexts={str(k): [float(v) for v in x] for k, x in data["contexts"].items()},
            reward=float(data["reward"]),
            model=data.get("model"),
            shadow=data.get("shadow"),
            rank=int(data.get("rank", 0)),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Invalid(f"{where}: not a logged decision ({exc})") from exc


def read_logs(path: Path) -> list[Logged]:
    with path.open(encoding="utf-8") as handle:
        return [from_json(line, f"{path}:{n}") for n, line in enumerate(handle, 1) if line.strip()]


async def export_logs(
    session: AsyncSession, tenant: str, activity_name: str, out: Path, since: datetime | None
) -> int:
    built = await snapshot(session, tenant)
    activity = activity_of(built, activity_name)
    rows = await store.logged(
        session, built.tenant.id, activity, judge(activity), now=utcnow(), since=since
    )
    with out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(to_json(row) + "\n")
    return len(rows)


async def policy_of(
    session: AsyncSession, built: Snapshot, activity: Learner, name: str
) -> evaluate.Policy:
    """``priority``, ``random``, ``logged``, ``shadow``, ``model:<version>`` (the live line's
    version, or a version id), or ``formula:<name>`` (an approved ranking formula that reads only
    the offer)."""
    if name == "priority":
        return evaluate.priority()
    if name == "random":
        return evaluate.uniform()
    if name == "logged":
        return evaluate.logged_policy()
    if name == "shadow" or name.startswith("model:"):
        row = await _version(session, built.tenant.id, activity, name)
        settings = dict(row.settings)
        spec = ContextualDef.of(row.line, settings, float(settings.get("prior_rate", 0.05)))
        model = bandit.LinearBandit.from_dict(row.state)
        return evaluate.of_bandit(f"{row.line} v{row.version}", spec, model)
    if name.startswith("formula:"):
        if not isinstance(activity, core.ActivityDef):
            raise Invalid(f"{name!r}: ranking formulas rank an activity's offers, not offer types")
        return await _formula(session, built, activity, name.removeprefix("formula:"))
    raise Invalid(
        f"unknown policy {name!r}: priority, random, logged, shadow, model:<version> or "
        "formula:<name>"
    )


async def _version(
    session: AsyncSession, tenant_id: uuid.UUID, activity: Learner, name: str
) -> LearningModel:
    stmt = sa.select(LearningModel).where(
        LearningModel.tenant_id == tenant_id, LearningModel.activity_id == activity.id
    )
    if name == "shadow":
        stmt = stmt.where(LearningModel.line == "shadow", LearningModel.active)
    else:
        ref = name.removeprefix("model:")
        try:
            stmt = stmt.where(LearningModel.id == uuid.UUID(ref))
        except ValueError:
            if not ref.isdigit():
                raise Invalid(f"{name!r}: model:<version number or id>") from None
            stmt = stmt.where(LearningModel.line == "live", LearningModel.version == int(ref))
    found = await session.scalar(stmt)
    if found is None:
        raise NotFound(f"activity {activity.name!r} has no model {name!r}")
    return found


async def _formula(
    session: AsyncSession, built: Snapshot, activity: core.ActivityDef, name: str
) -> evaluate.Policy:
    row = await session.scalar(
        sa.select(DecisioningObject).where(
            DecisioningObject.tenant_id == built.tenant.id,
            DecisioningObject.kind == "ranking_formula",
            DecisioningObject.name == name,
        )
    )
    if row is None:
        raise NotFound(f"no ranking formula {name!r}")
    compiled = configuration.compile_formula(row.body["expression"])
    if not core.static(compiled):
        reads = ", ".join(sorted(f for f in compiled.facts if not f.startswith("offer.")))
        raise Invalid(
            f"ranking formula {name!r} reads {reads or 'the time'}: the logs keep only the "
            "bandit's features, so only formulas over offer.* can be replayed on them"
        )
    _, scores = core.score_statically(compiled, activity.candidates)
    by_key = {str(offer_id): score for offer_id, score in scores.items()}

    def chances(row: Logged, offers: Sequence[Proposable]) -> Any:
        import numpy as np

        values = [by_key.get(o.key) for o in offers]
        ranked = [
            (-float(v) if not isinstance(v, str) and v is not None else float("inf"), i)
            for i, v in enumerate(values)
        ]
        found = np.zeros(len(offers))
        found[min(ranked)[1]] = 1.0
        return found

    return evaluate.Policy(f"formula {name}", chances, None)


async def evaluate_policies(
    session: AsyncSession,
    tenant: str,
    activity_name: str,
    logs: Path | None,
    policies: Sequence[str],
    interval: str,
) -> list[dict[str, Any]]:
    built = await snapshot(session, tenant)
    activity = activity_of(built, activity_name)
    spec = judge(activity)
    rows = (
        read_logs(logs)
        if logs is not None
        else await store.logged(session, built.tenant.id, activity, spec, now=utcnow())
    )
    found = []
    for name in policies:
        policy = await policy_of(session, built, activity, name)
        found.append(
            evaluate.evaluate(
                rows,
                activity,
                policy,
                interval="bootstrap" if interval == "bootstrap" else "normal",
            )
        )
    return found


async def train_until_done(session_factory: Any, tenant: str, is_sqlite: bool) -> list[store.Round]:
    """Rounds until one learns nothing: everything whose reward window has closed."""
    from offerengine.learning.trainer import train_snapshot

    async with session_factory() as session:
        built = await snapshot(session, tenant)
    total: dict[tuple[uuid.UUID, str], store.Round] = {}
    while True:
        rounds = await train_snapshot(session_factory, built, is_sqlite=is_sqlite)
        for r in rounds:
            kept = total.get((r.activity_id, r.line))
            total[(r.activity_id, r.line)] = store.Round(
                r.activity_id,
                r.line,
                r.version,
                r.learnt + (kept.learnt if kept else 0),
                r.started or (kept.started if kept else False),
            )
        if not any(r.learnt for r in rounds):
            return list(total.values())
