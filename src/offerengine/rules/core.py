"""Compiling rules: text expressions and JSON conditions, checked against a vocabulary.

    compiled = compile_expression("1.0 + (utilization^2 * 2.0)", PRICING, expect=NUMBER)
    compiled({"utilization": Decimal("0.5")})  → Decimal("1.50")

A rule that reads a fact the caller did not give raises :class:`MissingFact` (callers treat the rule
as not applicable and say why); any other failure at run time (division by zero, an exponent out of
range, a context value of the wrong type) raises :class:`EvaluationError`. Neither is a server error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from offerengine.rules import _codegen
from offerengine.rules._ast import Node, facts_of, uses_now
from offerengine.rules._check import RuleError, _describe, parse
from offerengine.rules._conditions import compile_condition as _condition_tree
from offerengine.rules._runtime import EvaluationError, MissingFact
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
]


@dataclass(frozen=True, slots=True)
class Compiled:
    """A checked, compiled rule: call it with the facts."""

    source: str
    type: Type
    facts: tuple[str, ...]
    needs_now: bool
    python: str = field(repr=False)
    function: Callable[[Mapping[str, Any]], Any] = field(repr=False)

    def __call__(self, facts: Mapping[str, Any]) -> Any:
        for name in self.facts:
            if facts.get(name) is None:
                raise MissingFact(name)
        if self.needs_now and facts.get(NOW) is None:
            raise MissingFact("now")
        try:
            return self.function(facts)
        except EvaluationError:
            raise
        except (ArithmeticError, TypeError, ValueError) as exc:
            raise EvaluationError(_describe(exc)) from None


def _finish(tree: Node, source: str, expect: Type | None) -> Compiled:
    if expect is not None and not expect.accepts(tree.type):
        what = "true or false" if expect == BOOLEAN else f"a {expect}"
        raise RuleError.at(tree.pos, f"the rule must give {what}, and this gives a {tree.type}")
    function, python = _codegen.generate(tree)
    return Compiled(source, tree.type, tuple(facts_of(tree)), uses_now(tree), python, function)


def compile_expression(
    text: str, vocabulary: Vocabulary, *, expect: Type | None = None
) -> Compiled:
    """Compile a text expression; raise :class:`RuleError` (with the position) if it is wrong."""
    return _finish(parse(text, vocabulary), text, expect)


def compile_condition(condition: Any, vocabulary: Vocabulary) -> Compiled:
    """Compile a JSON condition (or a text one); its errors are located by JSON path."""
    tree = _condition_tree(condition, vocabulary)
    source = (
        condition
        if isinstance(condition, str)
        else json.dumps(condition, sort_keys=True, default=str)
    )
    return _finish(tree, source, BOOLEAN)


def expected(kind: str) -> Type:
    return {"number": NUMBER, "boolean": BOOLEAN}.get(kind, ANY)
