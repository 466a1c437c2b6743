"""From a checked syntax tree to a Python function.

The generated source is made only of this module's own tokens and of names (``_k0``, ``_k1`` …)
bound to constants and helpers as the function's default arguments: no text a user wrote is ever
evaluated, and every value arrives as an object, not as source.

Speed (bench/rules.py keeps compiled rules within 2x of the same logic by hand): names are default
arguments, so each is a fast local lookup; numbers use Python's operators, which compute under the
current decimal context, and callers establish ``RULES_CONTEXT`` once around a whole evaluation
(``Compiled.__call__`` does it for a single call; the pricing engine once per price); and a missing
fact is detected by the ``KeyError`` of reading it (fact mappings hold no ``None``), inside the
generated function's own ``try``, which costs nothing when nothing fails.

A missing fact under ``and``/``or`` follows three-valued logic, so operands commute: ``true or
missing`` is true, ``false and missing`` is false, and whatever else needs the fact is the missing
fact. Python's short-circuit already gives that answer whenever it reads no missing fact (it
skips only operands that cannot change the result), so the function is first run as plain Python;
only when a fact is missing is the rule run again by a second function, whose ``and``/``or`` try
every operand (``_runtime.all_of``/``any_of``). Rules that have everything they read pay nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from offerengine.rules import _runtime as rt
from offerengine.rules._ast import (
    Arith,
    Call,
    Compare,
    Const,
    FactRef,
    Index,
    ListLit,
    Logic,
    Member,
    Neg,
    Node,
    Not,
    Pow,
    children,
)
from offerengine.rules.types import NUMBER

NOW = "@now"
_CALLS: Mapping[str, Callable[..., Any]] = {
    "min": rt.smallest,
    "max": rt.largest,
    "abs": rt.absolute,
    "round": rt.rounded,
    "clamp": rt.clamp,
    "date": rt.to_date,
}


class _Emitter:
    def __init__(self) -> None:
        self.bound: dict[str, Any] = {}
        self._ids: dict[int, str] = {}
        self.three_valued = False  # and/or as any_of/all_of of every operand (see the docstring)

    def bind(self, value: Any) -> str:
        key = id(value)
        if key in self._ids:
            return self._ids[key]
        name = f"_k{len(self._ids)}"
        self._ids[key] = name
        self.bound[name] = value
        return name

    def emit(self, node: Node) -> str:
        match node:
            case Const(value=value):
                return self.bind(value)
            case FactRef(name=name):
                return f"f[{self.bind(name)}]"
            case Neg(operand=x):
                if x.type == NUMBER:
                    return f"(-{self.emit(x)})"
                return f"{self.bind(rt.negate)}({self.emit(x)})"
            case Arith(op=op, left=a, right=b):
                return self._arith(op, a, b)
            case Pow(base=a, exponent=b):
                if isinstance(b, Const) and a.type == NUMBER:
                    return f"({self.emit(a)} ** {self.bind(b.value)})"  # exponent checked when compiled
                return f"{self.bind(rt.power)}({self.emit(a)}, {self.emit(b)})"
            case Compare(op=op, left=a, right=b):
                return f"({self.emit(a)} {op} {self.emit(b)})"
            case Member(item=a, container=b, negated=negated):
                return self._member(a, b, negated)
            case Logic(op=op, operands=xs):
                if self.three_valued:
                    helper = self.bind(rt.any_of if op == "or" else rt.all_of)
                    return f"{helper}(" + "".join(f"lambda: {self.emit(x)}, " for x in xs) + ")"
                return "(" + f" {op} ".join(self.emit(x) for x in xs) + ")"
            case Not(operand=x):
                return f"(not {self.emit(x)})"
            case Call(function=name, args=args):
                return self._call(name, args)
            case ListLit(items=items):
                return "(" + "".join(f"{self.emit(x)}, " for x in items) + ")"
            case Index(base=base, key=key, default=default):
                prefix = self.bind(f"{base}.")
                return f"{self.bind(rt.index)}(f, {prefix}, {self.emit(key)}, {self.bind(default)})"
        raise TypeError(f"cannot emit {type(node).__name__}")  # pragma: no cover - a checker bug

    def _arith(self, op: str, a: Node, b: Node) -> str:
        left, right = self.emit(a), self.emit(b)
        if a.type == NUMBER and b.type == NUMBER:
            return f"({left} {op} {right})"
        if op in "+-":
            helper = rt.add if op == "+" else rt.subtract
            return f"{self.bind(helper)}({left}, {right})"
        return f"{self.bind(rt.arith)}({self.bind(op)}, {left}, {right})"

    def _member(self, item: Node, container: Node, negated: bool) -> str:
        if isinstance(container, Const) and isinstance(container.value, tuple):
            values: tuple[Any, ...] | frozenset[Any] = container.value
            if all(isinstance(v, Hashable) for v in values):
                values = frozenset(values)  # constant membership: one hash lookup
            test = f"({self.emit(item)} in {self.bind(values)})"
        elif container.type.name == "list":
            test = f"({self.emit(item)} in {self.emit(container)})"
        else:
            test = f"{self.bind(rt.contains)}({self.emit(container)}, {self.emit(item)})"
        return f"(not {test})" if negated else test

    def _call(self, name: str, args: tuple[Node, ...]) -> str:
        rendered = ", ".join(self.emit(a) for a in args)
        now = f"f[{self.bind(NOW)}]"
        if name == "now":
            return now
        if name in ("days_until", "hours_until"):
            helper = rt.days_until if name == "days_until" else rt.hours_until
            return f"{self.bind(helper)}({rendered}, {now})"
        if name == "bought_within":
            return f"{self.bind(rt.bought_within)}(f, {rendered}, {now})"
        return f"{self.bind(_CALLS[name])}({rendered})"


def _missing(exc: KeyError) -> rt.MissingFact:
    name = str(exc.args[0]) if exc.args else "?"
    return rt.MissingFact("now" if name == NOW else name)


def _has_logic(node: Node) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Logic):
            return True
        stack.extend(children(current))
    return False


_HANDLERS = (
    "    except _EvaluationError:\n"
    "        raise\n"
    "    except (ArithmeticError, TypeError, ValueError) as exc:\n"
    "        raise _failed(exc) from None\n"
)


def generate(node: Node) -> tuple[Callable[[Mapping[str, Any]], Any], str]:
    """A function of the facts mapping computing ``node``, and its source (for debugging).

    It raises :class:`MissingFact` for a fact that is not there and :class:`EvaluationError` for any
    other failure; run it under ``RULES_CONTEXT``. With ``and``/``or`` in the rule, a missing fact
    first sends the evaluation to its three-valued twin, ``_three`` (see the module docstring).
    """
    emitter = _Emitter()
    body = emitter.emit(node)
    slow = None
    if _has_logic(node):
        emitter.three_valued = True
        slow = emitter.emit(node)
    emitter.bound.update(_missing=_missing, _failed=rt.failed, _EvaluationError=rt.EvaluationError)
    params = ", ".join(f"{name}={name}" for name in emitter.bound)
    source = ""
    on_missing = "        raise _missing(exc) from None\n"
    if slow is not None:
        source = (
            f"def _three(f, {params}):\n"
            f"    try:\n"
            f"        return {slow}\n"
            f"    except KeyError as exc:\n"
            f"{on_missing}"
            f"{_HANDLERS}"
        )
        params += ", _three=_three"
        on_missing = "        return _three(f)\n"
    source += (
        f"def _rule(f, {params}):\n"
        f"    try:\n"
        f"        return {body}\n"
        f"    except KeyError as exc:\n"
        f"{on_missing}"
        f"{_HANDLERS}"
    )
    namespace = dict(emitter.bound)
    # No builtins at all; only the exception classes the handler names.
    scope = {
        "__builtins__": {},
        "KeyError": KeyError,
        "ArithmeticError": ArithmeticError,
        "TypeError": TypeError,
        "ValueError": ValueError,
    }
    exec(compile(source, "<rule>", "exec"), scope, namespace)  # noqa: S102 - see the module docstring
    function: Callable[[Mapping[str, Any]], Any] = namespace["_rule"]
    return function, source
