"""All-or-nothing imports: check every row first, report every bad row with all its errors, then
create or update by a natural key, recording a version for each change. Used by every import."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.errors import FieldError, Invalid, Loc
from offerengine.versioning import service as versioning
from offerengine.wording import plain

S = TypeVar("S", bound=BaseModel)
V = TypeVar("V")
Obj = TypeVar("Obj", bound=versioning.Versioned)


def check_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    collection: str,
    schema: type[S],
    check: Callable[[S, Loc], V | list[FieldError]],
    key: Callable[[V], str],
    key_field: str,
    row_errors: Mapping[int, Sequence[FieldError]] | None = None,
) -> list[V]:
    """The checked values of every row, in order; or an :class:`Invalid` listing every bad row.

    ``check`` turns a row that matched ``schema`` into its value, or says what is wrong with it;
    two rows with the same ``key`` are an error on the second.
    """
    problems: dict[int, list[FieldError]] = {i: list(e) for i, e in (row_errors or {}).items()}
    accepted: list[V] = []
    first_row_of: dict[str, int] = {}
    for index, row in enumerate(rows):
        loc: Loc = (collection, index)
        if index in problems:
            continue
        try:
            parsed = schema.model_validate(row)
        except ValidationError as exc:
            problems[index] = [
                FieldError((*loc, *e["loc"]), plain(e), e["type"]) for e in exc.errors()
            ]
            continue
        result = check(parsed, loc)
        if isinstance(result, list):
            problems[index] = result
            continue
        earlier = first_row_of.setdefault(key(result), index)
        if earlier != index:
            problems[index] = [FieldError((*loc, key_field), f"repeats row {earlier + 1}")]
            continue
        accepted.append(result)
    if problems:
        flat = [err for index in sorted(problems) for err in problems[index]]
        report = [
            {
                "row": index + 1,
                key_field: _key_of(rows[index], key_field) if index < len(rows) else None,
                "errors": [err.as_dict() for err in problems[index]],
            }
            for index in sorted(problems)
        ]
        raise Invalid(
            f"{len(problems)} of {len(rows)} rows have errors; nothing was imported.",
            flat,
            rows=report,
        )
    return accepted


def _key_of(row: Mapping[str, Any], key_field: str) -> str | None:
    value = row.get(key_field)
    return value if isinstance(value, str) else None


@dataclass
class Outcome(Generic[Obj]):
    created: list[Obj] = field(default_factory=list)
    updated: list[Obj] = field(default_factory=list)
    unchanged: list[Obj] = field(default_factory=list)

    @property
    def all(self) -> list[Obj]:
        return [*self.created, *self.updated, *self.unchanged]


async def upsert(
    session: AsyncSession,
    *,
    kind: versioning.Kind[Obj],
    values: Sequence[V],
    key: Callable[[V], str],
    existing: Callable[[list[str]], Awaitable[dict[str, Obj]]],
    make: Callable[[], Obj],
    apply: Callable[[Obj, V], None],
    same: Callable[[Obj, V], bool],
    actor: Actor,
) -> Outcome[Obj]:
    """Create or update an object for each checked value; an unchanged one gets no new version."""
    found = await existing([key(v) for v in values])
    outcome: Outcome[Obj] = Outcome()
    befores: dict[int, dict[str, Any]] = {}
    for value in values:
        obj = found.get(key(value))
        if obj is None:
            obj = make()
            apply(obj, value)
            session.add(obj)
            outcome.created.append(obj)
        elif same(obj, value):
            outcome.unchanged.append(obj)
        else:
            befores[id(obj)] = kind.dump(obj)
            apply(obj, value)
            versioning.bump(obj)
            outcome.updated.append(obj)
    await session.flush()
    for obj in outcome.created:
        versioning.record_flushed(session, kind, obj, action="create", actor=actor, before=None)
    for obj in outcome.updated:
        versioning.record_flushed(
            session, kind, obj, action="update", actor=actor, before=befores[id(obj)]
        )
    return outcome
