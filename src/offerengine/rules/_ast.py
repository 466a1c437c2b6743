"""The typed syntax tree that both text expressions and JSON conditions compile to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from offerengine.rules.types import Type


@dataclass(frozen=True, slots=True)
class Node:
    pos: int  # 0-based offset in the expression's text (0 for nodes made from JSON)
    type: Type


@dataclass(frozen=True, slots=True)
class Const(Node):
    value: Any


@dataclass(frozen=True, slots=True)
class FactRef(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Arith(Node):
    op: str  # + - * / %
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Pow(Node):
    base: Node
    exponent: Node


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # == != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Member(Node):
    item: Node
    container: Node
    negated: bool


@dataclass(frozen=True, slots=True)
class Logic(Node):
    op: str  # and or
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Index(Node):
    """``base[key]``: the fact ``base.<key>`` (maps are flat facts under their name), or
    ``default`` when there is none and the map has one."""

    base: str
    key: Node
    default: Any = None


def children(node: Node) -> tuple[Node, ...]:
    match node:
        case Neg(operand=x) | Not(operand=x):
            return (x,)
        case Arith(left=a, right=b) | Compare(left=a, right=b):
            return (a, b)
        case Pow(base=a, exponent=b):
            return (a, b)
        case Member(item=a, container=b):
            return (a, b)
        case Logic(operands=xs) | Call(args=xs) | ListLit(items=xs):
            return xs
        case Index(key=x):
            return (x,)
    return ()


# Functions that read facts of their own (the profile's features), not only their arguments.
FACT_FUNCTIONS = {"bought_within": ("profile.last_purchase_in", "profile.purchases_90d")}


def facts_of(node: Node) -> list[str]:
    """Every fact an expression reads, in first-use order."""
    found: dict[str, None] = {}
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, FactRef):
            found[current.name] = None
        elif isinstance(current, Index):
            found[current.base] = None
        elif isinstance(current, Call):
            found.update(dict.fromkeys(FACT_FUNCTIONS.get(current.function, ())))
        stack.extend(reversed(children(current)))
    return list(found)


TIME_FUNCTIONS = frozenset({"now", "days_until", "hours_until", "bought_within"})


def reads_now(node: Node) -> bool:
    """Whether an expression depends on the time it is evaluated at."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Call) and current.function in TIME_FUNCTIONS:
            return True
        stack.extend(children(current))
    return False
