"""Bad rows, counted and the first listed (see the package's doc)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from offerengine.errors import FieldError, Invalid, Loc
from offerengine.transfer.core._reading import MAX_LISTED_ROWS


class Problems:
    """The errors of a file's rows, by row: every bad row counted, the first
    :data:`MAX_LISTED_ROWS` kept with their errors."""

    def __init__(self, collection: str, key_field: str | None) -> None:
        self.collection = collection
        self.key_field = key_field
        self.bad_rows = 0
        self.listed: dict[int, tuple[str | None, list[FieldError]]] = {}

    def __bool__(self) -> bool:
        return self.bad_rows > 0

    def add(self, index: int, key: str | None, errors: Sequence[FieldError]) -> None:
        """Row ``index`` (from 0) is bad; ``key`` is its natural key, if it gave one."""
        if index in self.listed:
            self.listed[index][1].extend(errors)
            return
        self.bad_rows += 1
        if len(self.listed) < MAX_LISTED_ROWS:
            self.listed[index] = (key, list(errors))

    def refuse(self, total: int) -> Invalid:
        """The 422 of a file with bad rows: nothing was imported."""
        listed = sorted(self.listed.items())
        report = []
        for index, (key, errors) in listed:
            entry: dict[str, Any] = {"row": index + 1}
            if self.key_field is not None:
                entry[self.key_field] = key
            entry["errors"] = [e.as_dict() for e in errors]
            report.append(entry)
        flat = [e for _, (_, errors) in listed for e in errors]
        first = flat[0]
        more = f"; the first {len(listed)} are listed" if self.bad_rows > len(listed) else ""
        return Invalid(
            f"{self.bad_rows} of {total} rows have errors; nothing was imported{more}. "
            f"Row {listed[0][0] + 1}: {'.'.join(map(str, first.loc[2:])) or 'row'}: {first.msg}",
            flat,
            rows=report,
            bad_rows=self.bad_rows,
            total_rows=total,
        )


def located(errors: Iterable[FieldError], collection: str, index: int) -> list[FieldError]:
    """``errors`` of a single object (located from its body) as errors of row ``index``."""
    found = []
    for e in errors:
        loc: Loc = e.loc[1:] if e.loc[:1] == ("body",) else e.loc
        found.append(FieldError((collection, index, *loc), e.msg, e.type, e.position))
    return found
