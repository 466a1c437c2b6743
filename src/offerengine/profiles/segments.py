"""Segments of a tenant's profiles: rule-based (a rules-language condition over profile.*) and
learned (k-means clusters of profile features, fitted with scikit-learn on the stored profiles).

The definitions are one versioned document per tenant (``GET/PUT …/segments``); a learned
segment's fit (feature means and scales, centroids, sizes) is kept apart, in ``segment_fits``,
made by ``POST …/segments/{name}/learn``; both are compiled into the tenant's snapshot. A profile
is in every rule segment whose condition holds for it, and in the nearest cluster of every fitted
learned segment, named ``<segment>:<cluster>``; decisions read the list as ``profile.segments``.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Self

import numpy as np
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.db.base import utcnow
from offerengine.errors import Conflict, FieldError, NotFound
from offerengine.profiles.core import Clusters, RuleSegment, SegmentIndex, profile_facts, vector
from offerengine.profiles.models import Profile, SegmentFit
from offerengine.profiles.service import attributes_of, personalised, segments_of
from offerengine.rules import core as rules
from offerengine.rules.vocabulary import DECISIONING
from offerengine.shopping.schemas import ConfigRead
from offerengine.versioning.documents import DocumentKind

SegmentName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,49}$")]
FeatureName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.]{0,99}$")]
MAX_SEGMENTS = 50
MAX_FIT_PROFILES = 200_000


class Learned(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[FeatureName] = Field(
        min_length=1,
        max_length=20,
        description="Numeric profile facts, without the profile. prefix: aggregates (views, "
        "clicks, accepts, purchases, spend, days_since_seen, categories.<c>.clicks …) or "
        "attributes. Missing or not a number: 0. Standardised before clustering.",
        examples=[["views", "clicks", "purchases", "spend", "days_since_seen"]],
    )
    clusters: int = Field(default=4, ge=2, le=12, description="k of k-means.")


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SegmentName
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    condition: str | dict[str, JsonValue] | None = Field(
        default=None,
        description="Rule-based: a rules-language expression or JSON condition over profile.*.",
        examples=["profile.purchases >= 3 and profile.spend > 500"],
    )
    learned: Learned | None = Field(default=None, description="Learned: k-means clusters.")

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.condition is None) == (self.learned is None):
            raise ValueError("a segment has either a condition or learned, not both")
        return self


class SegmentsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    segments: list[SegmentIn] = Field(default_factory=list, max_length=MAX_SEGMENTS)


class SegmentsUpdate(SegmentsIn):
    version: int | None = Field(default=None, description="The version you read (optional).")


class SegmentsRead(SegmentsIn, ConfigRead):
    pass


def check(data: Any) -> list[FieldError]:
    errors = []
    seen: set[str] = set()
    for i, segment in enumerate(data.segments):
        if segment.name in seen:
            errors.append(FieldError(("body", "segments", i, "name"), "named twice"))
        seen.add(segment.name)
        if segment.condition is not None:
            try:
                compiled = rules.compile_condition(segment.condition, DECISIONING)
            except rules.RuleError as exc:
                errors.append(FieldError(("body", "segments", i, "condition"), str(exc)))
                continue
            outside = [f for f in compiled.facts if not f.startswith("profile.")]
            if outside:
                errors.append(
                    FieldError(
                        ("body", "segments", i, "condition"),
                        f"a segment reads the profile only, not {', '.join(outside)}",
                    )
                )
    return errors


def compile_index(
    definitions: Sequence[dict[str, Any]], fits: Iterable[SegmentFit]
) -> SegmentIndex:
    fitted = {f.name: f.data for f in fits}
    rule_segments, clusters = [], []
    for d in definitions:
        if d.get("condition") is not None:
            rule_segments.append(
                RuleSegment(d["name"], rules.compile_condition(d["condition"], DECISIONING))
            )
            continue
        fit = fitted.get(d["name"])
        learned = d["learned"]
        if (
            fit is None
            or fit.get("features") != learned["features"]
            or len(fit.get("centroids", ())) != learned["clusters"]
        ):
            continue  # not fitted (again) since its definition changed
        clusters.append(
            Clusters(
                d["name"],
                tuple(fit["features"]),
                np.array(fit["means"]),
                np.array(fit["scales"]),
                np.array(fit["centroids"]),
            )
        )
    return SegmentIndex(tuple(rule_segments), tuple(clusters))


async def load_index(session: AsyncSession, tenant_id: uuid.UUID) -> SegmentIndex:
    doc = await SEGMENTS.get(session, tenant_id)
    if doc is None:
        return SegmentIndex()
    definitions = [s.model_dump(mode="json") for s in SEGMENTS.read(doc).segments]
    fits = await session.scalars(sa.select(SegmentFit).where(SegmentFit.tenant_id == tenant_id))
    return compile_index(definitions, fits)


# ---- fitting and sizes ----


async def _profiles(session: AsyncSession, tenant_id: uuid.UUID) -> list[Profile]:
    return list(
        (
            await session.scalars(
                sa.select(Profile)
                .where(Profile.tenant_id == tenant_id)
                .order_by(Profile.profile_id)
                .limit(MAX_FIT_PROFILES)
            )
        ).all()
    )


async def learn(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    definitions: Sequence[dict[str, Any]],
    name: str,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit the learned segment ``name`` on the tenant's profiles (those that consent to
    personalisation; up to 200,000) and keep the fit; 409 with fewer profiles than clusters."""
    from sklearn.cluster import KMeans

    definition = next((d for d in definitions if d["name"] == name), None)
    if definition is None:
        raise NotFound(f"No segment {name!r}.")
    if definition.get("learned") is None:
        raise Conflict(f"segment {name!r} is rule-based: there is nothing to learn")
    features, k = definition["learned"]["features"], int(definition["learned"]["clusters"])
    now = utcnow()
    rows = [r for r in await _profiles(session, tenant_id) if personalised(r)]
    if len(rows) < k:
        raise Conflict(f"{len(rows)} profiles to cluster, fewer than the {k} clusters asked for")
    matrix = np.stack([vector(profile_facts(attributes_of(r, now)), features) for r in rows])
    means = matrix.mean(axis=0)
    scales = matrix.std(axis=0)
    scales[scales == 0] = 1.0
    fitted = KMeans(n_clusters=k, n_init=4, random_state=seed).fit((matrix - means) / scales)
    sizes = Counter(int(c) for c in fitted.labels_)
    data = {
        "features": list(features),
        "means": means.tolist(),
        "scales": scales.tolist(),
        "centroids": fitted.cluster_centers_.tolist(),
        "sizes": [sizes.get(i, 0) for i in range(k)],
        "profiles": len(rows),
        "inertia": float(fitted.inertia_),
    }
    found = await session.get(SegmentFit, (tenant_id, name))
    if found is None:
        session.add(SegmentFit(tenant_id=tenant_id, name=name, data=data, fitted_at=now))
    else:
        found.data = data
        found.fitted_at = now
    await session.flush()
    return {"name": name, "fitted_at": now, **data}


async def sizes(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    index: SegmentIndex,
    definitions: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """Every segment with how many stored profiles are in it now (learned: per cluster, with
    its centroid in the features' own units)."""
    now = utcnow()
    counts: Counter[str] = Counter()
    total = 0
    for row in await _profiles(session, tenant_id):
        total += 1
        counts.update(segments_of(index, row, now))
    clusters = {c.name: c for c in index.clusters}
    found = []
    for d in definitions:
        item: dict[str, Any] = {
            "name": d["name"],
            "kind": "rule" if d.get("condition") is not None else "learned",
            "description": d.get("description"),
        }
        if d.get("condition") is not None:
            item["size"] = counts.get(d["name"], 0)
        elif d["name"] in clusters:
            c = clusters[d["name"]]
            item["features"] = list(c.features)
            item["clusters"] = [
                {
                    "name": f"{c.name}:{i}",
                    "size": counts.get(f"{c.name}:{i}", 0),
                    "centroid": dict(
                        zip(
                            c.features,
                            (c.centroids[i] * c.scales + c.means).round(4).tolist(),
                            strict=True,
                        )
                    ),
                }
                for i in range(len(c.centroids))
            ]
            item["size"] = sum(cl["size"] for cl in item["clusters"])
        else:
            item["size"] = None
            item["fitted"] = False
        found.append(item)
    return {"profiles": total, "segments": found}


SEGMENTS = DocumentKind(
    "segments",
    SegmentsIn,
    SegmentsRead,
    check,
    path="segments",
    operation="Segments",
    update_schema=SegmentsUpdate,
)
