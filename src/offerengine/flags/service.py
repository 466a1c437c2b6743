"""Feature flag use cases: configuration checked when saved, compiled into the snapshot.

Flags are a configuration kind (``FEATURE_FLAG_KIND``): their create, update, delete and history
are the generic ones (:mod:`offerengine.versioning.editing`), the key unique per tenant; what is
theirs is the check (values of the flag's type, readable conditions, experiments that exist)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.db import search
from offerengine.errors import FieldError, Loc, raise_if_any
from offerengine.experiments.assignment import condition_errors
from offerengine.experiments.models import Experiment
from offerengine.flags import core
from offerengine.flags.models import FeatureFlag
from offerengine.flags.schemas import (
    ExperimentRule,
    FeatureFlagCreate,
    FeatureFlagIn,
    FeatureFlagRead,
    FeatureFlagUpdate,
)
from offerengine.pagination import DEFAULT_LIMIT, decode_cursor, encode_cursor
from offerengine.versioning.editing import Editing, read_back
from offerengine.versioning.kinds import ConfigKind, PageRequest

_FIELDS = tuple(FeatureFlagIn.model_fields)
DEFAULTS: dict[str, Any] = {
    "BOOLEAN": False,
    "STRING": "",
    "NUMBER": 0,
    "PERCENTAGE": 0,
    "JSON": {},
}


def dump(flag: FeatureFlag) -> dict[str, Any]:
    return FeatureFlagRead.of(flag).model_dump(mode="json")


def type_error(flag_type: str, value: Any) -> str | None:
    """Why ``value`` cannot be served by a flag of ``flag_type``, or None."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if flag_type == "BOOLEAN" and not isinstance(value, bool):
        return "a BOOLEAN flag serves true or false"
    if flag_type == "STRING" and not isinstance(value, str):
        return "a STRING flag serves a string"
    if flag_type == "NUMBER" and not number:
        return "a NUMBER flag serves a number"
    if flag_type == "PERCENTAGE" and not (number and 0 <= value <= 100):
        return "a PERCENTAGE flag serves a number from 0 to 100"
    return None


def check(data: FeatureFlagIn, loc: Loc = ("body",)) -> list[FieldError]:
    """Values of the flag's type, readable conditions, unique rule and variant keys."""
    errors: list[FieldError] = []

    def typed(value: Any, *where: str | int) -> None:
        problem = type_error(data.type, value)
        if problem:
            errors.append(FieldError((*loc, *where), problem))

    typed(data.value, "value")
    if data.default_value is not None:
        typed(data.default_value, "default_value")
    seen_variants: set[str] = set()
    for i, variant in enumerate(data.variants):
        typed(variant.value, "variants", i, "value")
        if variant.key in seen_variants:
            errors.append(FieldError((*loc, "variants", i, "key"), f"{variant.key!r} is repeated"))
        seen_variants.add(variant.key)
    if data.variants and sum(v.weight for v in data.variants) <= 0:
        errors.append(FieldError((*loc, "variants"), "at least one weight must be above zero"))
    seen_rules: set[str] = set()
    for i, rule in enumerate(data.rules):
        where = (*loc, "rules", i)
        if rule.id in seen_rules:
            errors.append(FieldError((*where, "id"), f"rule id {rule.id!r} is repeated"))
        seen_rules.add(rule.id)
        if rule.condition is not None:
            errors += [
                FieldError((*where, "condition", *path), msg)
                for path, msg in condition_errors(rule.condition)
            ]
        if rule.type in ("force", "rollout"):
            typed(rule.value, "rules", i, "value")
        if rule.type in ("split", "experiment") and not data.variants:
            errors.append(
                FieldError(
                    (*where, "type"), f"a {rule.type} rule serves the flag's variants: add some"
                )
            )
    rollout = data.rollout
    if rollout is not None and rollout.start and rollout.end and rollout.start >= rollout.end:
        errors.append(FieldError((*loc, "rollout", "end"), "must be after start"))
    return errors


async def _check_experiments(
    session: AsyncSession, tenant_id: uuid.UUID, data: FeatureFlagIn, loc: Loc = ("body",)
) -> list[FieldError]:
    """An experiment rule names an experiment of this tenant whose variants the flag has."""
    errors: list[FieldError] = []
    keys = {v.key for v in data.variants}
    for i, rule in enumerate(data.rules):
        if not isinstance(rule, ExperimentRule):
            continue
        experiment = await session.scalar(
            sa.select(Experiment).where(
                Experiment.tenant_id == tenant_id, Experiment.key == rule.experiment_key
            )
        )
        where = (*loc, "rules", i, "experiment_key")
        if experiment is None:
            errors.append(
                FieldError(where, f"no experiment {rule.experiment_key!r} in this tenant")
            )
            continue
        missing = [v["key"] for v in experiment.variants if v["key"] not in keys]
        if missing:
            errors.append(
                FieldError(
                    where,
                    f"the flag has no variant for the experiment's {', '.join(map(repr, missing))}",
                )
            )
    return errors


def _values(data: FeatureFlagIn) -> dict[str, Any]:
    values = data.model_dump(mode="json", include=set(_FIELDS))
    if values["default_value"] is None:
        values["default_value"] = DEFAULTS[data.type]
    return values


def _apply(flag: FeatureFlag, data: FeatureFlagIn) -> None:
    for name, value in _values(data).items():
        setattr(flag, name, value)


def _same(flag: FeatureFlag, data: FeatureFlagIn) -> bool:
    return FeatureFlagRead.of(flag).as_input() == FeatureFlagIn.model_validate(
        _values(data)
    ).model_dump(mode="json", include=set(_FIELDS))


async def _check(
    session: AsyncSession, tenant_id: uuid.UUID, data: FeatureFlagIn, current: FeatureFlag | None
) -> None:
    """What saving a flag checks beyond its schema (the key's uniqueness is the kind's)."""
    raise_if_any(check(data) + await _check_experiments(session, tenant_id, data))


EDITING: Editing[FeatureFlag, FeatureFlagIn] = Editing(
    name="feature_flag",
    what="flag",
    model=FeatureFlag,
    dump=dump,
    apply=_apply,
    same=_same,
    recorded=read_back(FeatureFlagRead, FeatureFlagCreate),
    title=lambda flag: f"feature flag {flag.key!r}",
    check=_check,
    key=FeatureFlag.key,
)
FEATURE_FLAG = EDITING.history
create = EDITING.create  # for callers outside HTTP (the demo's seed)


@dataclass(frozen=True, slots=True)
class FlagFilter:
    tag: str | None = None
    enabled: bool | None = None


async def list_flags(
    session: AsyncSession, *, tenant_id: uuid.UUID, filters: FlagFilter, page: PageRequest | None
) -> tuple[Sequence[FeatureFlag], str | None]:
    """A page of the tenant's flags by key, filtered in the database, and the next's cursor."""
    page = page or PageRequest(DEFAULT_LIMIT)
    stmt = _filtered(sa.select(FeatureFlag), session, tenant_id, filters)
    if page.cursor:
        (after,) = decode_cursor(page.cursor, 1)
        stmt = stmt.where(FeatureFlag.key > str(after))
    rows = (await session.scalars(stmt.order_by(FeatureFlag.key).limit(page.limit + 1))).all()
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_cursor([rows[-1].key])


async def count_flags(session: AsyncSession, *, tenant_id: uuid.UUID, filters: FlagFilter) -> int:
    """How many flags :func:`list_flags` finds, all pages together."""
    stmt = sa.select(sa.func.count()).select_from(FeatureFlag)
    return int(await session.scalar(_filtered(stmt, session, tenant_id, filters)) or 0)


def _filtered(stmt: Any, session: AsyncSession, tenant_id: uuid.UUID, where: FlagFilter) -> Any:
    stmt = stmt.where(FeatureFlag.tenant_id == tenant_id)
    if where.enabled is not None:
        stmt = stmt.where(FeatureFlag.is_enabled == where.enabled)
    if where.tag:
        dialect = session.get_bind().dialect.name
        stmt = stmt.where(search.json_list_holds(FeatureFlag.tags, where.tag, dialect))
    return stmt


# Feature flags as a configuration kind: the standard routes at /v1/admin/…/feature-flags.
FEATURE_FLAG_KIND: ConfigKind[FeatureFlag] = ConfigKind(
    history=FEATURE_FLAG,
    what="feature flag",
    path="feature-flags",
    operation="FeatureFlag",
    create_schema=FeatureFlagCreate,
    update_schema=FeatureFlagUpdate,
    read_schema=FeatureFlagRead,
    read=FeatureFlagRead.of,
    create=EDITING.create,
    update=EDITING.update,
    delete=EDITING.delete,
    list=list_flags,
    count=count_flags,
)


# --- the snapshot section ----------------------------------------------------------------------


def compile_stored(flag: FeatureFlag) -> core.Flag:
    values = {name: getattr(flag, name) for name in _FIELDS}
    return compile_values(values, id=flag.id, version=flag.version, shown=dump(flag))


def compile_input(data: FeatureFlagIn, *, id: uuid.UUID, version: int) -> core.Flag:
    """A flag as it would run once saved (its defaults applied), not stored: the admin
    editor's preview evaluates a draft with the code run time uses."""
    values = _values(data)
    return compile_values(values, id=id, version=version, shown=values)


def compile_values(
    values: dict[str, Any], *, id: uuid.UUID, version: int, shown: dict[str, Any]
) -> core.Flag:
    """The run-time flag of a flag's fields (as stored: JSON values); ``shown`` is its
    definition as the API shows it."""
    key = values["key"]
    r = values["rollout"]
    rollout = (
        None
        if r is None
        else core.Rollout(
            percentage=float(r.get("percentage", 100.0)),
            user_segments=tuple(r.get("user_segments") or ()),
            regions=frozenset(x.casefold() for x in r.get("regions") or ()),
            start=_when(r.get("start")),
            end=_when(r.get("end")),
            hash_attribute=r.get("hash_attribute") or "user_id",
            seed=r.get("seed") or key,
            hash_version=int(r.get("hash_version") or 2),
        )
    )
    rules = tuple(
        core.Rule(
            id=rule["id"],
            type=rule["type"],
            condition=rule.get("condition") or None,
            value=rule.get("value"),
            percentage=float(rule.get("percentage", 100.0)),
            hash_attribute=rule.get("hash_attribute") or "user_id",
            seed=rule.get("seed") or key,
            hash_version=int(rule.get("hash_version") or 2),
            coverage=float(rule.get("coverage", 1.0)),
            experiment_key=rule.get("experiment_key"),
        )
        for rule in values["rules"]
    )
    return core.Flag(
        id=id,
        key=key,
        type=values["type"],
        value=values["value"],
        default_value=values["default_value"],
        is_enabled=values["is_enabled"],
        rollout=rollout,
        rules=rules,
        variants=tuple(
            core.Variant(v["key"], v.get("value"), float(v.get("weight", 1.0)))
            for v in values["variants"]
        ),
        version=version,
        definition=core.encode(shown),
        tags=tuple(values["tags"] or ()),
    )


def _when(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text)


async def load_index(session: AsyncSession, tenant_id: uuid.UUID) -> core.FlagIndex:
    rows = await session.scalars(sa.select(FeatureFlag).where(FeatureFlag.tenant_id == tenant_id))
    return core.FlagIndex.build([compile_stored(f) for f in rows])
