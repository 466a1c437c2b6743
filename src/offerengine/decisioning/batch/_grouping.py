"""Profiles grouped by the values their rules read: a profile file's rows as request facts, and
each distinct combination of the columns a rule reads judged once for all the rows that share it.

Separate from ranking because it is the only part that knows how a file's columns become facts
(``profile_id``, attribute columns, ``context.*`` columns, dotted names inside struct columns);
ranking asks it questions per offer and gets one answer per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from offerengine.decisioning import core
from offerengine.rules import core as rules

PROFILE_COLUMN = "profile_id"
CONTEXT_PREFIX = "context."


def _column(fact: str) -> str:
    """The profile file's column a profile or context fact is read from."""
    if fact == "profile.id":
        return PROFILE_COLUMN
    if fact.startswith(CONTEXT_PREFIX):
        return fact
    return fact.removeprefix("profile.")


def rule_columns(rule: rules.Compiled | None) -> tuple[str, ...] | None:
    """The columns a rule reads (sorted, so that rules reading the same share their groups)."""
    if rule is None:
        return None
    return tuple(sorted({_column(f) for f in rule.facts if f.startswith(("profile.", "context."))}))


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _dig(value: Any, path: str) -> Any:
    """``address.country`` inside a struct column's value."""
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _value_codes(table: pa.Table, name: str) -> np.ndarray:
    """Per row, a number for the column's value (equal values, equal numbers; null: -1).
    Scalar columns are dictionary-encoded by Arrow; lists and structs are hashed here, and a
    dotted name that is no column is looked for in a struct column."""
    if name in table.column_names:
        column = table.column(name).combine_chunks()
        kind = column.type
        if not (pa.types.is_nested(kind) or pa.types.is_null(kind)):
            encoded = column.dictionary_encode()
            return np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False))
        values = [_hashable(v) for v in column.to_pylist()]
    else:
        head, _, rest = name.partition(".")
        if head not in table.column_names or not rest:
            return np.full(table.num_rows, -1, dtype=np.int64)
        values = [_hashable(_dig(v, rest)) for v in table.column(head).to_pylist()]
    known: dict[Any, int] = {}
    return np.fromiter(
        (known.setdefault(v, len(known)) for v in values), dtype=np.int64, count=len(values)
    )


def _profile_request(row: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A file row as a request: the profile id, its attributes and its context."""
    attributes: dict[str, Any] = {}
    context: dict[str, Any] = {}
    for name, value in row.items():
        if name == PROFILE_COLUMN or value is None:
            continue
        if name.startswith(CONTEXT_PREFIX):
            context[name.removeprefix(CONTEXT_PREFIX)] = value
        else:
            attributes[name] = value
    return str(row[PROFILE_COLUMN]), attributes, context


class GroupedProfiles:
    """A chunk of profiles being ranked: each distinct combination of the values a rule reads is
    judged once (codes per combination, shared by the rules that read the same columns)."""

    def __init__(self, table: pa.Table, now: datetime) -> None:
        self.table = table
        self.n = table.num_rows
        self.now = now
        self._columns: dict[str, np.ndarray] = {}
        self._codes: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._facts: dict[int, dict[str, Any]] = {}

    def column(self, name: str) -> np.ndarray:
        found = self._columns.get(name)
        if found is None:
            found = _value_codes(self.table, name)
            self._columns[name] = found
        return found

    def codes(self, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the code of its combination of these columns' values; per code, a row
        that has it."""
        found = self._codes.get(names)
        if found is None:
            combined = np.zeros(self.n, dtype=np.int64)
            size = 1
            for name in names:  # mixed radix: each column's codes (from -1) as one digit
                digits = self.column(name) + 1
                width = int(digits.max(initial=0)) + 1
                if size * width > 4 * self.n + 1024:  # too sparse to index: compact first
                    _, combined = np.unique(combined, return_inverse=True)
                    size = int(combined.max(initial=0)) + 1
                combined = combined * width + digits
                size *= width
            present = np.zeros(size, dtype=bool)
            present[combined] = True
            codes = (np.cumsum(present) - 1)[combined]
            first = np.full(int(present.sum()), -1, dtype=np.int64)
            first[codes[::-1]] = np.arange(self.n - 1, -1, -1)
            found = (codes, first)
            self._codes[names] = found
        return found

    def facts(self, row: int) -> dict[str, Any]:
        found = self._facts.get(row)
        if found is None:
            request = _profile_request(self.table.slice(row, 1).to_pylist()[0])
            found = core.request_facts(*request, self.now)
            self._facts[row] = found
        return found

    def passes(self, offer: core.OfferDef, names: tuple[str, ...]) -> np.ndarray:
        """Per row, whether the offer's eligibility rule (reading ``names``) passes."""
        codes, first = self.codes(names)
        truth = np.fromiter(
            (core.eligible(offer, self.facts(int(r))) for r in first), dtype=bool, count=len(first)
        )
        passed: np.ndarray = truth[codes]
        return passed

    def scores(
        self, formula: rules.Compiled, offer: core.OfferDef, names: tuple[str, ...]
    ) -> np.ndarray:
        """Per row, the formula's score of the offer (NaN where it cannot be evaluated)."""
        codes, first = self.codes(names)
        values = np.empty(len(first))
        for u, r in enumerate(first):
            try:
                values[u] = float(formula.evaluate({**self.facts(int(r)), **offer.facts}))
            except rules.EvaluationError:
                values[u] = np.nan
        scored: np.ndarray = values[codes]
        return scored
