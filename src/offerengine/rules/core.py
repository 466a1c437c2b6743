"""Compiling rules: text expressions and JSON conditions, checked against a vocabulary.

    compiled = compile_expression("1.0 + (utilization^2 * 2.0)", PRICING, expect=NUMBER)
    compiled({"utilization": Decimal("0.5")})  → Decimal("1.50")

A rule that needs a fact the caller did not give raises :class:`MissingFact` (callers treat the
rule as not applicable and say why); ``and``/``or`` are three-valued, so ``true or missing`` is
true and ``false and missing`` false, in either order. Any other failure at run time (division
by zero, an exponent out of range, a context value of the wrong type) raises
:class:`EvaluationError`. Neither is a server error.

Facts mappings hold no ``None``: an absent fact is an absent key. ``Compiled(facts)`` evaluates once
under ``RULES_CONTEXT``; a hot loop enters ``rules_context()`` once and calls ``.evaluate``.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from offerengine.rules import _codegen
from offerengine.rules._ast import Node, facts_of, reads_now
from offerengine.rules._check import RuleError, parse
from offerengine.rules._conditions import compile_condition as _condition_tree
from offerengine.rules._runtime import RULES_CONTEXT, EvaluationError, MissingFact
from offerengine.rules.types import ANY, BOOLEAN, NUMBER, Type
from offerengine.rules.vocabulary import Vocabulary

NOW = _codegen.NOW

__all__ = [
    "NOW",
    "Compiled",
    "EvaluationError",
    "MissingFact",
    "RuleError",
    "compile_condition",
    "compile_expression",
    "rules_context",
]


def rules_context() -> AbstractContextManager[decimal.Context]:
    """The one decimal context rules compute in; enter it around evaluations."""
    return decimal.localcontext(RULES_CONTEXT)


@dataclass(frozen=True, slots=True)
class Compiled:
    """A checked, compiled rule."""

    source: str
    type: Type
    facts: tuple[str, ...]
    python: str = field(repr=False)
    # Whether it reads the request time (now(), days_until, hours_until).
    timed: bool = field(repr=False)
    # The generated function itself: call it under rules_context() (hot loops do, once).
    evaluate: Callable[[Mapping[str, Any]], Any] = field(repr=False)

    def __call__(self, facts: Mapping[str, Any]) -> Any:
        """Evaluate once, under the rules' decimal context."""
        with decimal.localcontext(RULES_CONTEXT):
            return self.evaluate(facts)


def _finish(tree: Node, source: str, expect: Type | None) -> Compiled:
    if expect is not None and not expect.accepts(tree.type):
        what = "true or false" if expect == BOOLEAN else f"a {expect}"
        raise RuleError.at(tree.pos, f"the rule must give {what}, and this gives a {tree.type}")
    function, python = _codegen.generate(tree)
    return Compiled(source, tree.type, tuple(facts_of(tree)), python, reads_now(tree), function)


# Compiled rules are immutable, so the same rule text shares one compilation: a snapshot of a
# tenant whose thousands of offers repeat a few dozen eligibility rules compiles each once.
_CACHE_SIZE = 4096
_compiled: dict[tuple[int, str, str, Type | None], Compiled] = {}


def _cached(key: tuple[int, str, str, Type | None], make: Callable[[], Compiled]) -> Compiled:
    found = _compiled.get(key)
    if found is None:
        found = make()
        if len(_compiled) >= _CACHE_SIZE:
            _compiled.pop(next(iter(_compiled)))
        _compiled[key] = found
    return found


def compile_expression(
    text: str, vocabulary: Vocabulary, *, expect: Type | None = None
) -> Compiled:
    """Compile a text expression; raise :class:`RuleError` (with the position) if it is wrong."""
    return _cached(
        (id(vocabulary), "expression", text, expect),
        lambda: _finish(parse(text, vocabulary), text, expect),
    )


def compile_condition(condition: Any, vocabulary: Vocabulary) -> Compiled:
    """Compile a JSON condition (or a text one); its errors are located by JSON path."""
    source = (
        condition
        if isinstance(condition, str)
        else json.dumps(condition, sort_keys=True, default=str)
    )
    return _cached(
        (id(vocabulary), "condition", source, None),
        lambda: _finish(_condition_tree(condition, vocabulary), source, BOOLEAN),
    )


def expected(kind: str) -> Type:
    return {"number": NUMBER, "boolean": BOOLEAN}.get(kind, ANY)
