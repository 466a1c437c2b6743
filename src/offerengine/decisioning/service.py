"""Decisioning configuration: six versioned kinds in one table, their references checked when
saved.

Each kind (:class:`Spec`: placements, offers, fallback offers, collections, ranking formulas,
activities) is stored as a ``DecisioningObject`` with its body as JSON, versioned with a history,
and served by the generic configuration routes (``KINDS``) over the generic edits
(``EDITINGS``, :mod:`offerengine.versioning.editing`: the name unique within the kind). Saving
checks what the schema cannot:
every reference names an object of the right kind of the tenant, every rule compiles
(:func:`compile_eligibility`, :func:`compile_formula`, also used when compiling the index); an
object still referenced cannot be deleted. The snapshot's index is compiled from them in
:mod:`offerengine.decisioning.compiling`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from pydantic import create_model
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.db import search
from offerengine.decisioning import schemas as s
from offerengine.decisioning.models import DecisioningObject
from offerengine.errors import Conflict, FieldError, raise_if_any
from offerengine.pagination import DEFAULT_LIMIT, decode_cursor, encode_cursor
from offerengine.rules import core as rules
from offerengine.rules.types import NUMBER
from offerengine.rules.vocabulary import DECISIONING
from offerengine.versioning.editing import Editing
from offerengine.versioning.kinds import ConfigKind, PageRequest

BODY = ("body",)


@dataclass(frozen=True)
class Spec:
    """One kind of decisioning object: its name, API path, schemas and history."""

    kind: str
    path: str
    what: str
    schema_in: type[s.Named]
    schema_read: type[s.Stored]
    history_name: str  # object_type in history and the audit log

    def read(self, obj: DecisioningObject) -> s.Stored:
        return self.schema_read.model_validate(
            {
                **obj.body,
                "name": obj.name,
                "status": obj.status,
                "id": obj.id,
                "tenant_id": obj.tenant_id,
                "version": obj.version,
                "created_at": obj.created_at,
                "updated_at": obj.updated_at,
            }
        )

    def as_input(self, obj: DecisioningObject) -> s.Named:
        return self.schema_in.model_validate({**obj.body, "name": obj.name, "status": obj.status})

    def input_of(self, values: Mapping[str, Any]) -> s.Named:
        """The kind's input among ``values`` (an update's body, a recorded state)."""
        return self.schema_in.model_validate(
            {k: v for k, v in values.items() if k in self.schema_in.model_fields}
        )

    @property
    def editing(self) -> Editing[DecisioningObject, s.Named]:
        return EDITINGS[self.kind]


PLACEMENT = Spec(
    "placement", "placements", "placement", s.PlacementIn, s.PlacementRead, "placement"
)
OFFER = Spec("offer", "offers", "offer", s.OfferIn, s.OfferRead, "decision_offer")
FALLBACK = Spec(
    "fallback_offer",
    "fallback-offers",
    "fallback offer",
    s.FallbackOfferIn,
    s.FallbackOfferRead,
    "fallback_offer",
)
COLLECTION = Spec(
    "collection", "collections", "collection", s.CollectionIn, s.CollectionRead, "offer_collection"
)
FORMULA = Spec(
    "ranking_formula",
    "ranking-formulas",
    "ranking formula",
    s.RankingFormulaIn,
    s.RankingFormulaRead,
    "ranking_formula",
)
ACTIVITY = Spec("activity", "activities", "activity", s.ActivityIn, s.ActivityRead, "activity")
SPECS: Mapping[str, Spec] = MappingProxyType(
    {spec.kind: spec for spec in (PLACEMENT, OFFER, FALLBACK, COLLECTION, FORMULA, ACTIVITY)}
)


def _apply(obj: DecisioningObject, spec: Spec, data: s.Named) -> None:
    values = data.model_dump(mode="json", include=set(spec.schema_in.model_fields))
    obj.kind = spec.kind
    obj.name = values.pop("name")
    obj.status = values.pop("status")
    obj.body = values


async def _kinds_of(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, DecisioningObject]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.scalars(
        sa.select(DecisioningObject).where(
            DecisioningObject.tenant_id == tenant_id, DecisioningObject.id.in_(wanted)
        )
    )
    return {row.id: row for row in rows}


def _rule_errors(compile_: Any, loc: tuple[str | int, ...]) -> list[FieldError]:
    try:
        compile_()
    except rules.RuleError as exc:
        return [e.under(loc) for e in exc.errors]
    return []


def compile_eligibility(rule: Any) -> rules.Compiled | None:
    if rule is None or rule == "" or rule == {}:
        return None
    return rules.compile_condition(rule, DECISIONING)


def compile_formula(expression: str) -> rules.Compiled:
    return rules.compile_expression(expression, DECISIONING, expect=NUMBER)


async def _check(session: AsyncSession, tenant_id: uuid.UUID, spec: Spec, data: s.Named) -> None:
    """Every reference names an object of the right kind of this tenant; every rule compiles."""
    refs: list[tuple[tuple[str | int, ...], uuid.UUID, str]] = []
    errors: list[FieldError] = []
    if isinstance(data, s.OfferIn | s.FallbackOfferIn):
        refs += [
            (("representations", i, "placement_id"), rep.placement_id, "placement")
            for i, rep in enumerate(data.representations)
        ]
    if isinstance(data, s.OfferIn):
        errors += _rule_errors(
            lambda: compile_eligibility(data.eligibility), (*BODY, "eligibility")
        )
    if isinstance(data, s.CollectionIn):
        refs += [(("offer_ids", i), oid, "offer") for i, oid in enumerate(data.offer_ids or ())]
    if isinstance(data, s.RankingFormulaIn):
        errors += _rule_errors(lambda: compile_formula(data.expression), (*BODY, "expression"))
    if isinstance(data, s.ActivityIn):
        refs += [
            (("placement_id",), data.placement_id, "placement"),
            (("collection_id",), data.collection_id, "collection"),
            (("fallback_offer_id",), data.fallback_offer_id, "fallback_offer"),
        ]
        if data.ranking.formula_id is not None:
            refs.append((("ranking", "formula_id"), data.ranking.formula_id, "ranking_formula"))
    found = await _kinds_of(session, tenant_id, (ref for _, ref, _ in refs))
    for loc, ref, kind in refs:
        obj = found.get(ref)
        if obj is None or obj.kind != kind:
            errors.append(FieldError((*BODY, *loc), f"no {SPECS[kind].what} {ref}"))
    if isinstance(data, s.ActivityIn):
        fallback = found.get(data.fallback_offer_id)
        if fallback is not None and fallback.kind == FALLBACK.kind:
            placements = {r["placement_id"] for r in fallback.body["representations"]}
            if str(data.placement_id) not in placements:
                errors.append(
                    FieldError(
                        (*BODY, "fallback_offer_id"),
                        f"fallback offer {fallback.name!r} has no representation for the "
                        "activity's placement",
                    )
                )
    raise_if_any(errors)


def dump(obj: DecisioningObject) -> dict[str, Any]:
    return SPECS[obj.kind].read(obj).model_dump(mode="json")


async def _check_unused(session: AsyncSession, obj: DecisioningObject) -> None:
    """An object still referenced cannot be deleted: its users name it by id."""
    users = [
        other
        for other in await session.scalars(
            sa.select(DecisioningObject).where(
                DecisioningObject.tenant_id == obj.tenant_id, DecisioningObject.id != obj.id
            )
        )
        if str(obj.id) in _references(other)
    ]
    if users:
        what = SPECS[obj.kind].what
        named = ", ".join(f"{SPECS[u.kind].what} {u.name!r}" for u in users[:5])
        raise Conflict(f"{what} {obj.name!r} is used by {named}; change those first, or archive it")


def _edits(spec: Spec) -> Editing[DecisioningObject, s.Named]:
    """``spec``'s edits: the name unique among the tenant's objects of the kind."""

    async def check(
        session: AsyncSession,
        tenant_id: uuid.UUID,
        data: s.Named,
        current: DecisioningObject | None,
    ) -> None:
        await _check(session, tenant_id, spec, data)

    return Editing(
        name=spec.history_name,
        what=spec.what,
        model=DecisioningObject,
        dump=dump,
        apply=lambda obj, data: _apply(obj, spec, data),
        same=lambda obj, data: spec.as_input(obj) == spec.input_of(data.model_dump()),
        recorded=spec.input_of,
        title=lambda obj: f"{spec.what} {obj.name!r}",
        check=check,
        key=DecisioningObject.name,
        key_where=(DecisioningObject.kind == spec.kind,),
        check_delete=_check_unused,
    )


EDITINGS: Mapping[str, Editing[DecisioningObject, s.Named]] = MappingProxyType(
    {spec.kind: _edits(spec) for spec in SPECS.values()}
)


def _references(obj: DecisioningObject) -> set[str]:
    body = obj.body
    refs = {r["placement_id"] for r in body.get("representations", ())}
    refs.update(body.get("offer_ids") or ())
    for key in ("placement_id", "collection_id", "fallback_offer_id"):
        if key in body:
            refs.add(body[key])
    formula = (body.get("ranking") or {}).get("formula_id")
    if formula:
        refs.add(formula)
    return refs


@dataclass(frozen=True, slots=True)
class ObjectFilter:
    """A list's filters: the status, and a search of the name."""

    status: str | None = None
    q: str | None = None


def _filtered(stmt: Any, spec: Spec, tenant_id: uuid.UUID, where: ObjectFilter) -> Any:
    stmt = stmt.where(DecisioningObject.tenant_id == tenant_id, DecisioningObject.kind == spec.kind)
    if where.status is not None:
        stmt = stmt.where(DecisioningObject.status == where.status)
    if where.q:
        stmt = stmt.where(search.contains(DecisioningObject.name, where.q))
    return stmt


async def list_objects(
    session: AsyncSession,
    *,
    spec: Spec,
    tenant_id: uuid.UUID,
    where: ObjectFilter,
    page: PageRequest | None = None,
) -> tuple[Sequence[DecisioningObject], str | None]:
    """A page of the tenant's objects of ``spec``'s kind by name (every one when ``page`` is
    None), and the cursor of the next page."""
    stmt = _filtered(sa.select(DecisioningObject), spec, tenant_id, where)
    if page is None:
        return (await session.scalars(stmt.order_by(DecisioningObject.name))).all(), None
    if page.cursor:
        (after,) = decode_cursor(page.cursor, 1)
        stmt = stmt.where(DecisioningObject.name > str(after))
    rows = (
        await session.scalars(stmt.order_by(DecisioningObject.name).limit(page.limit + 1))
    ).all()
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_cursor([rows[-1].name])


async def count_objects(
    session: AsyncSession, *, spec: Spec, tenant_id: uuid.UUID, filters: ObjectFilter
) -> int:
    """How many objects :func:`list_objects` finds, all pages together."""
    stmt = sa.select(sa.func.count()).select_from(DecisioningObject)
    return int(await session.scalar(_filtered(stmt, spec, tenant_id, filters)) or 0)


def _declare(spec: Spec) -> ConfigKind[DecisioningObject]:
    """``spec`` as a configuration kind (:mod:`offerengine.versioning.kinds`): its routes are
    ``/v1/admin/…/decisioning/{spec.path}``, its list by name a page at a time, filtered by
    status and searched by name."""
    title = "".join(part.capitalize() for part in spec.kind.split("_"))

    async def find(session: AsyncSession, id: uuid.UUID) -> DecisioningObject | None:
        found = await session.get(DecisioningObject, id)
        return found if found is not None and found.kind == spec.kind else None

    async def list_page(
        session: AsyncSession,
        *,
        tenant_id: uuid.UUID,
        filters: ObjectFilter | None,
        page: PageRequest | None,
    ) -> tuple[Sequence[DecisioningObject], str | None]:
        return await list_objects(
            session,
            spec=spec,
            tenant_id=tenant_id,
            where=filters or ObjectFilter(),
            page=page or PageRequest(DEFAULT_LIMIT),
        )

    async def count(
        session: AsyncSession, *, tenant_id: uuid.UUID, filters: ObjectFilter | None
    ) -> int:
        return await count_objects(
            session, spec=spec, tenant_id=tenant_id, filters=filters or ObjectFilter()
        )

    return ConfigKind(
        history=spec.editing.history,
        what=spec.what,
        path=f"decisioning/{spec.path}",
        operation=f"Decisioning{title}",
        create_schema=spec.schema_in,
        update_schema=create_model(
            f"{title}Update", __base__=spec.schema_in, version=(int | None, None)
        ),
        read_schema=spec.schema_read,
        read=spec.read,
        create=spec.editing.create,
        update=spec.editing.update,
        delete=spec.editing.delete,
        list=list_page,
        count=count,
        find=find,
    )


# The six kinds, as the generic configuration routes take them.
KINDS: Mapping[str, ConfigKind[DecisioningObject]] = MappingProxyType(
    {spec.kind: _declare(spec) for spec in SPECS.values()}
)
