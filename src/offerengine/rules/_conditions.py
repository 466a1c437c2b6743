"""Seed 001's JSON conditions, compiled to the same syntax tree as text expressions.

    {"cabin_class": "ECONOMY"}                         cabin_class == "ECONOMY"
    {"cabin_class": ["ECONOMY", "BUSINESS"]}           cabin_class in [...]
    {"days_until_departure": {"max": 7}}               days_until_departure <= 7
        operators: min (>=), max (<=), gt, gte, lt, lte, eq, ne, in, not_in
    {"date_range": {"start": "2024-06-01", "end": "2024-08-31"}}
        start <= departure_date <= end (inclusive); "fact": "booking_date" picks another date fact
    {"any": [...]}, {"all": [...]}, {"not": {...}}, {"expression": "utilization > 0.8"}

Several keys in one object must all hold; an empty object always holds.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from offerengine.rules._ast import Compare, Const, FactRef, Logic, Member, Node, Not
from offerengine.rules._check import RuleError, fold, parse
from offerengine.rules.types import ANY, BOOLEAN, DATE, DATETIME, NUMBER, STRING, Type, list_of
from offerengine.rules.vocabulary import Vocabulary

Loc = tuple[str | int, ...]
RANGE_OPERATORS = {
    "min": ">=",
    "max": "<=",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "eq": "==",
    "ne": "!=",
}
MAX_CONDITION_DEPTH = 20


def compile_condition(condition: Any, vocabulary: Vocabulary) -> Node:
    """The syntax tree of a JSON condition (or of a text expression given as a string)."""
    return _Builder(vocabulary).build(condition, (), 0)


class _Builder:
    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary

    def build(self, condition: Any, loc: Loc, depth: int) -> Node:
        if depth > MAX_CONDITION_DEPTH:
            raise RuleError.at(-1, f"conditions nest deeper than {MAX_CONDITION_DEPTH} levels", loc)
        if isinstance(condition, str):
            return self._expression(condition, loc)
        if not isinstance(condition, Mapping):
            raise RuleError.at(-1, "a condition is an object (or an expression string)", loc)
        parts = [
            self._key(str(key), value, (*loc, str(key)), depth) for key, value in condition.items()
        ]
        if not parts:
            return Const(0, BOOLEAN, True)
        return parts[0] if len(parts) == 1 else fold(Logic(0, BOOLEAN, "and", tuple(parts)))

    def _expression(self, text: str, loc: Loc) -> Node:
        try:
            node = parse(text, self.vocabulary)
        except RuleError as exc:
            raise RuleError(exc.detail, [e.under(loc) for e in exc.errors]) from None
        if not BOOLEAN.accepts(node.type):
            raise RuleError.at(
                -1, f"a condition must be true or false, and this is a {node.type}", loc
            )
        return node

    def _key(self, key: str, value: Any, loc: Loc, depth: int) -> Node:
        if key in ("any", "all"):
            if not isinstance(value, list) or not value:
                raise RuleError.at(-1, f"{key} takes a non-empty list of conditions", loc)
            parts = tuple(self.build(v, (*loc, i), depth + 1) for i, v in enumerate(value))
            return fold(Logic(0, BOOLEAN, "or" if key == "any" else "and", parts))
        if key == "not":
            return fold(Not(0, BOOLEAN, self.build(value, loc, depth + 1)))
        if key == "expression":
            if not isinstance(value, str):
                raise RuleError.at(-1, "expression takes the text of a condition", loc)
            return self._expression(value, loc)
        if key == "date_range":
            return self._date_range(value, loc)
        fact = self._fact(key, loc)
        if isinstance(value, Mapping):
            return self._ranges(fact, value, loc)
        if value is None:
            raise RuleError.at(
                -1, "a missing fact already makes a rule not apply; compare with a value", loc
            )
        if isinstance(value, list):
            return self._member(fact, value, loc, negated=False)
        return Compare(0, BOOLEAN, "==", fact, self._literal(value, fact.type, loc))

    def _fact(self, name: str, loc: Loc) -> FactRef:
        found = self.vocabulary.lookup(name)
        if found is None:
            close = difflib.get_close_matches(
                name,
                [*self.vocabulary.facts, "any", "all", "not", "expression", "date_range"],
                n=1,
                cutoff=0.6,
            )
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise RuleError.at(
                -1, f"unknown fact {name!r} for {self.vocabulary.use} rules{hint}", loc
            )
        return FactRef(0, found.type, name)

    def _ranges(self, fact: FactRef, spec: Mapping[str, Any], loc: Loc) -> Node:
        if not spec:
            raise RuleError.at(
                -1, "give at least one of " + ", ".join([*RANGE_OPERATORS, "in", "not_in"]), loc
            )
        parts: list[Node] = []
        for name, value in spec.items():
            where = (*loc, str(name))
            if name in ("in", "not_in"):
                if not isinstance(value, list):
                    raise RuleError.at(-1, f"{name} takes a list", where)
                parts.append(self._member(fact, value, where, negated=name == "not_in"))
                continue
            op = RANGE_OPERATORS.get(str(name))
            if op is None:
                raise RuleError.at(
                    -1,
                    f"unknown operator {name!r}; use "
                    + ", ".join([*RANGE_OPERATORS, "in", "not_in"]),
                    where,
                )
            if op not in ("==", "!=") and fact.type not in (NUMBER, DATE, DATETIME, STRING, ANY):
                raise RuleError.at(
                    -1, f"{name} compares numbers, strings or dates, not {fact.type}", where
                )
            parts.append(Compare(0, BOOLEAN, op, fact, self._literal(value, fact.type, where)))
        return parts[0] if len(parts) == 1 else Logic(0, BOOLEAN, "and", tuple(parts))

    def _member(self, fact: FactRef, values: list[Any], loc: Loc, *, negated: bool) -> Node:
        items = tuple(self._literal(v, fact.type, (*loc, i)).value for i, v in enumerate(values))
        container = Const(0, list_of(fact.type), items)
        return Member(0, BOOLEAN, fact, container, negated)

    def _date_range(self, spec: Any, loc: Loc) -> Node:
        if not isinstance(spec, Mapping) or not ({"start", "end"} & set(spec)):
            raise RuleError.at(
                -1, "date_range takes {start, end} (ISO dates, either may be left out)", loc
            )
        unknown = set(spec) - {"start", "end", "fact"}
        if unknown:
            raise RuleError.at(
                -1, f"date_range takes start, end and fact, not {', '.join(sorted(unknown))}", loc
            )
        fact_name = spec.get("fact", "departure_date")
        fact = self._fact(str(fact_name), (*loc, "fact"))
        if fact.type not in (DATE, ANY):
            raise RuleError.at(
                -1,
                f"date_range needs a date fact, and {fact_name} is a {fact.type}",
                (*loc, "fact"),
            )
        parts = []
        if "start" in spec:
            parts.append(
                Compare(0, BOOLEAN, ">=", fact, self._literal(spec["start"], DATE, (*loc, "start")))
            )
        if "end" in spec:
            parts.append(
                Compare(0, BOOLEAN, "<=", fact, self._literal(spec["end"], DATE, (*loc, "end")))
            )
        if len(parts) == 2 and parts[0].right.value > parts[1].right.value:  # type: ignore[attr-defined]
            raise RuleError.at(-1, "date_range ends before it starts", loc)
        return parts[0] if len(parts) == 1 else Logic(0, BOOLEAN, "and", tuple(parts))

    @staticmethod
    def _literal(value: Any, wanted: Type, loc: Loc) -> Const:
        if wanted == DATE:
            if isinstance(value, str):
                try:
                    return Const(0, DATE, date.fromisoformat(value))
                except ValueError:
                    pass
            raise RuleError.at(-1, f"expected an ISO date such as '2024-06-01', not {value!r}", loc)
        if wanted == NUMBER:
            if isinstance(value, int | float | str) and not isinstance(value, bool):
                try:
                    number = Decimal(repr(value) if isinstance(value, float) else str(value))
                except InvalidOperation:
                    number = None
                if number is not None and number.is_finite():
                    return Const(0, NUMBER, number)
            raise RuleError.at(-1, f"expected a number, not {value!r}", loc)
        if wanted == STRING:
            if isinstance(value, str):
                return Const(0, STRING, value)
            raise RuleError.at(-1, f"expected a string, not {value!r}", loc)
        if wanted == BOOLEAN:
            if isinstance(value, bool):
                return Const(0, BOOLEAN, value)
            raise RuleError.at(-1, f"expected true or false, not {value!r}", loc)
        if wanted == ANY:
            if isinstance(value, float):
                return Const(0, ANY, Decimal(repr(value)))
            if isinstance(value, int) and not isinstance(value, bool):
                return Const(0, ANY, Decimal(value))
            if isinstance(value, str | bool):
                return Const(0, ANY, value)
            raise RuleError.at(-1, f"expected a string, number or boolean, not {value!r}", loc)
        raise RuleError.at(-1, f"cannot compare a {wanted} fact in JSON; use an expression", loc)
