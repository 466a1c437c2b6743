"""Readable differences between two versions of an object. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Bookkeeping fields that change with every version and say nothing about the change itself.
BOOKKEEPING = frozenset({"version", "created_at", "updated_at"})


@dataclass(frozen=True, slots=True)
class Change:
    path: tuple[str | int, ...]
    before: Any
    after: Any

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": ".".join(str(p) for p in self.path),
            "before": self.before,
            "after": self.after,
        }


_ABSENT = object()


def diff(before: Any, after: Any, path: tuple[str | int, ...] = ()) -> list[Change]:
    """The leaf-level changes from ``before`` to ``after``; dictionaries are compared key by key,
    lists as wholes (an edited list shows up once, with both values)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        changes: list[Change] = []
        for key in sorted(set(before) | set(after), key=str):
            if not path and key in BOOKKEEPING:
                continue
            old, new = before.get(key, _ABSENT), after.get(key, _ABSENT)
            if old is _ABSENT:
                changes.append(Change((*path, key), None, new))
            elif new is _ABSENT:
                changes.append(Change((*path, key), old, None))
            else:
                changes.extend(diff(old, new, (*path, key)))
        return changes
    if before == after and type(before) is type(after):
        return []
    return [Change(path, before, after)]
