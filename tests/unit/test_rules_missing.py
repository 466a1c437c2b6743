"""A missing fact in ``and``/``or`` is decided by three-valued logic, whatever the order: ``true or
missing`` is true, ``false and missing`` false, anything else that needs the fact stays the
missing-fact outcome. It once depended on which operand came first."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offerengine.rules.core import MissingFact, compile_condition, compile_expression
from offerengine.rules.vocabulary import DECISIONING

MISSING = "missing"


def outcome(text: str, facts: dict[str, Any]) -> bool | str:
    """What a rule gives for ``facts``: true, false, or the missing-fact outcome."""
    try:
        return bool(compile_expression(text, DECISIONING)(facts))
    except MissingFact:
        return MISSING


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("context.a == 1 or profile.b == 2", True),
        ("profile.b == 2 or context.a == 1", True),
        ("context.a == 2 and profile.b == 2", False),
        ("profile.b == 2 and context.a == 2", False),
        ("context.a == 1 and profile.b == 2", MISSING),
        ("profile.b == 2 and context.a == 1", MISSING),
        ("context.a == 2 or profile.b == 2", MISSING),
        ("profile.b == 2 or context.a == 2", MISSING),
        ("not (profile.b == 2 or context.a == 1)", False),
        ("not (profile.b == 2 or context.a == 2)", MISSING),
        ("profile.b == 2 or profile.c == 3 or context.a == 1", True),
        ("(profile.b == 2 or context.a == 1) and (context.a == 2 or profile.c > 0)", MISSING),
        ("(profile.b == 2 and context.a == 2) or context.a == 1", True),
    ],
)
def test_a_missing_fact_in_and_or_is_decided_by_the_other_operand_whatever_the_order(
    text: str, expected: bool | str
) -> None:
    assert outcome(text, {"context.a": Decimal(1)}) == expected


def test_a_json_condition_reads_missing_facts_the_same_way() -> None:
    facts = {"context.a": Decimal(1)}
    first = compile_condition({"any": [{"profile.b": 2}, {"context.a": 1}]}, DECISIONING)
    assert first(facts) is True
    both = compile_condition({"all": [{"profile.b": 2}, {"context.a": 2}]}, DECISIONING)
    assert both(facts) is False
    with pytest.raises(MissingFact) as missing:
        compile_condition({"all": [{"context.a": 1}, {"profile.b": 2}]}, DECISIONING)(facts)
    assert missing.value.name == "profile.b"


NAMES = [f"context.n{i}" for i in range(4)]
COMPARE = {
    "==": lambda x, k: x == k,
    "!=": lambda x, k: x != k,
    ">": lambda x, k: x > k,
    "<=": lambda x, k: x <= k,
}
Tree = tuple[Any, ...]  # ("fact", name, op, k) | ("not", tree) | ("and" | "or", trees)


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> Tree:
    """A random boolean expression over four number facts."""
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        op = draw(st.sampled_from(sorted(COMPARE)))
        return ("fact", draw(st.sampled_from(NAMES)), op, draw(st.integers(0, 3)))
    kind = draw(st.sampled_from(["and", "or", "not"]))
    if kind == "not":
        return ("not", draw(trees(depth + 1)))
    return (kind, tuple(draw(st.lists(trees(depth + 1), min_size=2, max_size=3))))


def text(tree: Tree) -> str:
    if tree[0] == "fact":
        return f"{tree[1]} {tree[2]} {tree[3]}"
    if tree[0] == "not":
        return f"not ({text(tree[1])})"
    return "(" + f" {tree[0]} ".join(text(t) for t in tree[1]) + ")"


def kleene(tree: Tree, facts: dict[str, Any]) -> bool | str:
    """The reference: Kleene's three-valued logic, an absent fact unknown."""
    if tree[0] == "fact":
        _, name, op, k = tree
        return MISSING if name not in facts else bool(COMPARE[op](facts[name], k))
    if tree[0] == "not":
        inner = kleene(tree[1], facts)
        return inner if inner == MISSING else not inner
    values = [kleene(t, facts) for t in tree[1]]
    decisive: bool = tree[0] == "or"  # true decides an or, false an and
    if decisive in values:
        return decisive
    return MISSING if MISSING in values else not decisive


@settings(max_examples=400, deadline=None)
@given(
    trees(),
    trees(),
    st.dictionaries(st.sampled_from(NAMES), st.integers(0, 3).map(Decimal)),
)
def test_and_and_or_commute_in_outcome_with_missing_facts(
    a: Tree, b: Tree, facts: dict[str, Any]
) -> None:
    for op in ("and", "or"):
        either = outcome(f"({text(a)}) {op} ({text(b)})", facts)
        assert either == outcome(f"({text(b)}) {op} ({text(a)})", facts)
        assert either == kleene((op, (a, b)), facts)
