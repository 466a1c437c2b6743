"""What the feature flag editor is made of, apart from its routes: the condition builder's
operators (GrowthBook's, with the words a person reads), a targeting condition as builder rows,
and the "who gets what" preview, which evaluates a draft flag for a sample of contexts with the
run-time code (:func:`offerengine.flags.core.evaluate`) and counts what each context is served.

The builder shows a condition as rows of (attribute, operator, value), all of which must hold;
a condition it cannot show that way (``$or``, ``$not``, nested objects) stays editable as JSON.
The browser writes rows back into a condition (``static/flags.js``); reading one into rows is
here, so that the page arrives with them drawn."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from offerengine.experiments import core as experiments
from offerengine.flags import core as flags

ArgKind = Literal["value", "list", "text", "bool", "number"]


@dataclass(frozen=True, slots=True)
class Operator:
    op: str  # GrowthBook's name
    label: str  # as a person reads it
    arg: ArgKind  # what its value box takes


# The builder's operators, in the order its menu lists them. Every one is GrowthBook's
# (experiments.assignment.VALUE_OPERATORS), checked when the flag is saved.
OPERATORS: tuple[Operator, ...] = (
    Operator("$eq", "is", "value"),
    Operator("$ne", "is not", "value"),
    Operator("$in", "is one of", "list"),
    Operator("$nin", "is none of", "list"),
    Operator("$ini", "is one of (any case)", "list"),
    Operator("$nini", "is none of (any case)", "list"),
    Operator("$gt", "is more than", "value"),
    Operator("$gte", "is at least", "value"),
    Operator("$lt", "is less than", "value"),
    Operator("$lte", "is at most", "value"),
    Operator("$exists", "is set (true) or not (false)", "bool"),
    Operator("$regex", "matches the pattern", "text"),
    Operator("$regexi", "matches the pattern (any case)", "text"),
    Operator("$veq", "is the version", "text"),
    Operator("$vne", "is not the version", "text"),
    Operator("$vgt", "is a version after", "text"),
    Operator("$vgte", "is the version or after", "text"),
    Operator("$vlt", "is a version before", "text"),
    Operator("$vlte", "is the version or before", "text"),
    Operator("$inGroup", "is in the saved group", "text"),
    Operator("$notInGroup", "is not in the saved group", "text"),
    Operator("$all", "holds all of", "list"),
    Operator("$size", "has this many items", "number"),
    Operator("$type", "is of the JSON type", "text"),
)
_BY_OP = {o.op: o for o in OPERATORS}

# What the flag types are called on the screen.
FLAG_TYPES = (
    ("BOOLEAN", "On or off (true / false)"),
    ("STRING", "Text"),
    ("NUMBER", "Number"),
    ("PERCENTAGE", "Percentage (0 to 100)"),
    ("JSON", "JSON object or value"),
)
RULE_TYPES = (
    ("force", "Serve a value"),
    ("rollout", "Serve a value to a percentage"),
    ("split", "Split between the variants"),
    ("experiment", "Follow an experiment"),
)

_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")


def typed(text: str) -> Any:
    """A value box's text as the builder reads it: a JSON number, true, false or null, or a
    JSON string in quotes, as that; anything else as the text itself."""
    value = text.strip()
    if value in ("true", "false", "null") or _NUMBER.fullmatch(value):
        return json.loads(value)
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def shown(value: Any) -> str | None:
    """A value as its box shows it, so that :func:`typed` reads it back the same; None for a
    value a box cannot hold (an object, a list)."""
    if isinstance(value, str):
        return json.dumps(value) if typed(value) != value else value
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


def _arg_text(operator: Operator, arg: Any) -> str | None:
    if operator.arg == "list":
        if not isinstance(arg, list):
            return None
        items = [shown(a) for a in arg]
        if any(i is None or "," in i for i in items):
            return None
        return ", ".join(i for i in items if i is not None)
    if operator.arg == "bool":
        return json.dumps(arg) if isinstance(arg, bool) else None
    if operator.arg == "text":
        return arg if isinstance(arg, str) else None
    if operator.arg == "number":
        number = isinstance(arg, int | float) and not isinstance(arg, bool)
        return json.dumps(arg) if number else None
    return shown(arg)


def condition_rows(condition: Any) -> list[dict[str, str]] | None:
    """A targeting condition as builder rows ``{attribute, operator, value}`` that must all
    hold; [] for none; None when the builder cannot show it (it stays JSON)."""
    if condition is None or condition == {}:
        return []
    if not isinstance(condition, dict):
        return None
    parts = condition["$and"] if list(condition) == ["$and"] else [condition]
    if not isinstance(parts, list):
        return None
    rows: list[dict[str, str]] = []
    for part in parts:
        if not isinstance(part, dict):
            return None
        for attribute, test in part.items():
            if attribute.startswith("$"):
                return None
            if isinstance(test, dict) and test and all(k.startswith("$") for k in test):
                for op, arg in test.items():
                    operator = _BY_OP.get(op)
                    text = None if operator is None else _arg_text(operator, arg)
                    if text is None:
                        return None
                    rows.append({"attribute": attribute, "operator": op, "value": text})
            else:
                text = shown(test)
                if text is None:
                    return None
                rows.append({"attribute": attribute, "operator": "$eq", "value": text})
    return rows


def operators_json() -> list[dict[str, str]]:
    """The operators as the page hands them to the builder."""
    return [{"op": o.op, "label": o.label, "arg": o.arg} for o in OPERATORS]


# --- who gets what ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Served:
    """One value the sample is served: what it is called, and by how many and why."""

    label: str
    value: Any
    count: int
    share: float
    reasons: dict[str, int]


@dataclass(frozen=True, slots=True)
class Preview:
    total: int
    served: list[Served]


def _encoded(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _label(flag: flags.Flag, value: Any, variants: Counter[str]) -> str:
    """A served value's name: the flag variants that serve it, else "on" or "off", else
    the value itself (a rule's)."""
    named = [v.key for v in flag.variants if _encoded(v.value) == _encoded(value)]
    if named:
        return " / ".join(named)
    if variants:
        return " / ".join(sorted(variants))
    if _encoded(value) == _encoded(flag.value):
        return "on"
    if _encoded(value) == _encoded(flag.default_value):
        return "off"
    return value if isinstance(value, str) else _encoded(value)


def who_gets_what(
    flag: flags.Flag,
    contexts: Iterable[Mapping[str, Any]],
    *,
    at: datetime,
    experiments_index: experiments.ExperimentIndex,
    saved_groups: Mapping[str, Any] | None,
) -> Preview:
    """Evaluate ``flag`` for every context (as the evaluation API sees it: see
    :func:`offerengine.flags.core.attributes_of`) and count the values served, most served
    first, each with its reasons (``SPLIT via rule 'beta'``). Nothing is recorded: an
    experiment's units are not exposed."""
    counts: Counter[str] = Counter()
    values: dict[str, Any] = {}
    reasons: dict[str, Counter[str]] = {}
    variants: dict[str, Counter[str]] = {}
    total = 0
    for context in contexts:
        found = flags.evaluate(
            flag, context, at=at, experiments_index=experiments_index, saved_groups=saved_groups
        )
        key = _encoded(found.value)
        values.setdefault(key, found.value)
        counts[key] += 1
        why = found.reason + (f" via rule {found.rule_id!r}" if found.rule_id else "")
        reasons.setdefault(key, Counter())[why] += 1
        if found.variant and found.variant not in ("on", "off"):
            variants.setdefault(key, Counter())[found.variant] += 1
        total += 1
    served = [
        Served(
            label=_label(flag, values[key], variants.get(key, Counter())),
            value=values[key],
            count=n,
            share=n / total,
            reasons=dict(reasons[key].most_common()),
        )
        for key, n in counts.most_common()
    ]
    return Preview(total, served)
