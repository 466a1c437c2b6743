"""From text to a typed syntax tree: parse, bound, type-check against a vocabulary, fold constants.

Every problem is a :class:`RuleError` naming the character where it is, with a "did you mean"
suggestion for unknown names.
"""

from __future__ import annotations

import ast as python_ast
import difflib
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from lark import Token, Tree
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from offerengine.errors import FieldError, Invalid
from offerengine.rules import _codegen
from offerengine.rules import _runtime as rt
from offerengine.rules._ast import (
    TIME_FUNCTIONS,
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
from offerengine.rules._grammar import parser
from offerengine.rules.types import (
    ANY,
    BOOLEAN,
    DATE,
    DATETIME,
    NULL,
    NUMBER,
    ORDERED,
    STRING,
    Type,
    list_of,
)
from offerengine.rules.vocabulary import FUNCTIONS, Vocabulary

MAX_LENGTH = 2000
MAX_DEPTH = 40
MAX_LIST = 1000
MAX_LITERAL_EXPONENT = 1000


class RuleError(Invalid):
    """A rule that cannot be compiled; its errors are located relative to the rule."""

    code = "rule"
    title = "Invalid rule"

    @classmethod
    def at(cls, position: int, message: str, loc: tuple[str | int, ...] = ()) -> RuleError:
        """An error at a character of an expression, or (position -1) at a place in JSON."""
        where = f"at {position}: " if position >= 0 else ""
        spot = position if position >= 0 else None
        return cls(f"{where}{message}", [FieldError(loc, message, "rule_error", spot)])

    def under(self, prefix: tuple[str | int, ...]) -> Invalid:
        """This error as an input error of the field holding the rule."""
        errors = [e.under(prefix) for e in self.errors]
        first = errors[0]
        path = ".".join(str(p) for p in first.loc)
        where = f" (at {first.position})" if first.position is not None else ""
        return Invalid(f"{path}: {first.msg}{where}", errors)


def parse(text: str, vocabulary: Vocabulary) -> Node:
    """Parse and check ``text``; the tree's constants are folded."""
    if not isinstance(text, str) or not text.strip():
        raise RuleError.at(0, "the expression is empty")
    if len(text) > MAX_LENGTH:
        raise RuleError.at(MAX_LENGTH, f"the expression is longer than {MAX_LENGTH} characters")
    _check_brackets(text)
    try:
        tree = parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    except LarkError as exc:  # pragma: no cover - Lark's other errors are grammar bugs
        raise RuleError.at(0, f"cannot parse: {exc}") from None
    _check_depth(tree)
    return _Checker(text, vocabulary).node(tree)


def _syntax_error(text: str, exc: UnexpectedInput) -> RuleError:
    position = getattr(exc, "pos_in_stream", None)
    if position is None:
        position = len(text)
    if isinstance(exc, UnexpectedCharacters):
        return RuleError.at(position, f"unexpected character {text[position]!r}")
    if isinstance(exc, UnexpectedEOF):
        return RuleError.at(len(text), "the expression ends too early")
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            return RuleError.at(len(text), "the expression ends too early")
        expected = sorted(_readable(t) for t in exc.expected if _readable(t))
        hint = f"; expected {', '.join(expected[:6])}" if expected else ""
        return RuleError.at(position, f"unexpected {token.value!r}{hint}")
    return RuleError.at(position, "cannot parse the expression")


_TERMINALS = {
    "NUMBER": "a number",
    "STRING": "a string",
    "NAME": "a name",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "COMP": "a comparison",
    "ADD_OP": "+ or -",
    "MUL_OP": "*, / or %",
}


def _readable(terminal: str) -> str:
    return _TERMINALS.get(terminal, "")


def _check_brackets(text: str) -> None:
    """Bound nesting as written: parentheses and brackets, outside string literals."""
    depth, quote = 0, ""
    escaped = False
    for position, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
            continue
        if char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
            if depth > MAX_DEPTH:
                raise RuleError.at(position, f"the expression nests deeper than {MAX_DEPTH} levels")
        elif char in ")]":
            depth -= 1


def _check_depth(tree: Tree[Token]) -> None:
    # Iterative, so that the check itself cannot overflow the stack on hostile input.
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            position = node.meta.start_pos if isinstance(node, Tree) and not node.meta.empty else 0
            raise RuleError.at(position, f"the expression nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, Tree):
            stack.extend((child, depth + 1) for child in node.children)


class _Checker:
    def __init__(self, text: str, vocabulary: Vocabulary) -> None:
        self.text = text
        self.vocabulary = vocabulary

    def node(self, tree: Tree[Token] | Token | None) -> Node:
        if not isinstance(tree, Tree):
            raise RuleError.at(0, "cannot parse the expression")  # pragma: no cover
        pos = tree.meta.start_pos if not tree.meta.empty else 0
        handler = getattr(self, f"_{tree.data}", None)
        if handler is None:
            raise RuleError.at(pos, f"unsupported construct {tree.data}")  # pragma: no cover
        built: Node = handler(tree, pos)
        return fold(built)

    # --- literals ---------------------------------------------------------------------------------

    def _number(self, tree: Tree[Token], pos: int) -> Node:
        text = str(tree.children[0])
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the grammar only lets numbers through
            raise RuleError.at(pos, f"not a number: {text}") from None
        if abs(value.adjusted()) > MAX_LITERAL_EXPONENT:
            raise RuleError.at(pos, f"the number {text} is out of range")
        return Const(pos, NUMBER, value)

    def _string(self, tree: Tree[Token], pos: int) -> Node:
        raw = str(tree.children[0])
        try:
            value = python_ast.literal_eval(raw)  # a string literal only: the grammar guarantees it
        except (ValueError, SyntaxError):
            raise RuleError.at(pos, "the string has a bad escape") from None
        if not isinstance(value, str):  # pragma: no cover
            raise RuleError.at(pos, "not a string")
        return Const(pos, STRING, value)

    def _true(self, tree: Tree[Token], pos: int) -> Node:
        return Const(pos, BOOLEAN, True)

    def _false(self, tree: Tree[Token], pos: int) -> Node:
        return Const(pos, BOOLEAN, False)

    def _list_(self, tree: Tree[Token], pos: int) -> Node:
        items = tuple(self.node(c) for c in tree.children if c is not None)
        if len(items) > MAX_LIST:
            raise RuleError.at(pos, f"a list may hold at most {MAX_LIST} items")
        types = {i.type for i in items if i.type not in (ANY, NULL)}
        if len(types) > 1:
            raise RuleError.at(
                pos,
                "a list's items must all have one type, not "
                + " and ".join(sorted(map(str, types))),
            )
        item_type = types.pop() if types else (ANY if items else None)
        return ListLit(pos, list_of(item_type), items)

    # --- names ------------------------------------------------------------------------------------

    def _fact(self, tree: Tree[Token], pos: int) -> Node:
        parts = [str(t) for t in tree.children]
        name = ".".join(parts)
        if any(p.startswith("_") for p in parts):
            raise RuleError.at(pos, f"{name!r}: names may not start with '_'")
        fact = self.vocabulary.lookup(name)
        if fact is None:
            raise RuleError.at(pos, self._unknown(name))
        return FactRef(pos, fact.type, name)

    def _index(self, tree: Tree[Token], pos: int) -> Node:
        *parts, key_tree = tree.children
        base = ".".join(str(t) for t in parts)
        if any(str(p).startswith("_") for p in parts):
            raise RuleError.at(pos, f"{base!r}: names may not start with '_'")
        key = self.node(key_tree)
        if not STRING.accepts(key.type) or key.type == NULL:
            raise RuleError.at(key.pos, f"{base}[…] takes a string key, not {key.type}")
        fact = self.vocabulary.lookup(base)
        if fact is None:
            raise RuleError.at(pos, self._unknown(base))
        if fact.type.name == "map":
            return Index(pos, fact.type.item or ANY, base, key, fact.default)
        if fact.type == ANY and base not in self.vocabulary.facts:
            return Index(pos, ANY, base, key)  # within an open namespace: whatever it holds
        raise RuleError.at(pos, f"{base} is a {fact.type}, not a map: it cannot be indexed")

    def _unknown(self, name: str) -> str:
        if name in FUNCTIONS:
            return f"{name} is a function: write {name}(…)"
        candidates = [
            *self.vocabulary.facts,
            *(p.rstrip(".") for p in self.vocabulary.open_namespaces),
        ]
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown fact {name!r} for {self.vocabulary.use} rules{hint}"

    def _call(self, tree: Tree[Token], pos: int) -> Node:
        name = str(tree.children[0])
        args = tuple(self.node(c) for c in tree.children[1:] if c is not None)
        if name not in FUNCTIONS:
            close = difflib.get_close_matches(name, list(FUNCTIONS), n=1, cutoff=0.6)
            hint = (
                f"; did you mean {close[0]}()?" if close else f"; functions: {', '.join(FUNCTIONS)}"
            )
            raise RuleError.at(pos, f"unknown function {name}(){hint}")
        return Call(pos, self._call_type(name, args, pos), name, args)

    def _call_type(self, name: str, args: tuple[Node, ...], pos: int) -> Type:
        signature = FUNCTIONS[name].signature

        def arity(low: int, high: int | None = None) -> None:
            top = low if high is None else high
            if not low <= len(args) <= top:
                raise RuleError.at(pos, f"{name}() takes {signature}, not {len(args)} argument(s)")

        def of(index: int, *allowed: Type) -> None:
            given = args[index].type
            if not any(t.accepts(given) for t in allowed):
                wanted = " or ".join(map(str, allowed))
                raise RuleError.at(args[index].pos, f"{name}() takes {wanted} here, not {given}")

        if name in ("min", "max"):
            arity(2, 50)
            for i in range(len(args)):
                of(i, NUMBER)
            return NUMBER
        if name == "abs":
            arity(1)
            of(0, NUMBER)
            return NUMBER
        if name == "round":
            arity(1, 2)
            for i in range(len(args)):
                of(i, NUMBER)
            return NUMBER
        if name == "clamp":
            arity(3)
            for i in range(3):
                of(i, NUMBER)
            return NUMBER
        if name == "date":
            arity(1)
            of(0, STRING)
            return DATE
        if name == "now":
            arity(0)
            return DATETIME
        if name == "bought_within":
            if self.vocabulary.lookup("profile.last_purchase_in") is None:
                raise RuleError.at(
                    pos,
                    f"bought_within() reads a profile, which {self.vocabulary.use} rules have not",
                )
            arity(2)
            of(0, STRING)
            of(1, NUMBER)
            days = args[1]
            if isinstance(days, Const) and not 0 <= days.value <= rt.MAX_DAYS:
                raise RuleError.at(days.pos, f"bought_within() takes 0 to {rt.MAX_DAYS} days")
            return BOOLEAN
        if name == "days_until":
            arity(1)
            of(0, DATE, DATETIME)
            return NUMBER
        arity(1)  # hours_until
        of(0, DATETIME)
        return NUMBER

    # --- operators --------------------------------------------------------------------------------

    def _sign(self, tree: Tree[Token], pos: int) -> Node:
        operand = self.node(tree.children[1])
        self._need(operand, NUMBER, "a sign")
        return operand if str(tree.children[0]) == "+" else Neg(pos, NUMBER, operand)

    def _pow(self, tree: Tree[Token], pos: int) -> Node:
        base, exponent = self.node(tree.children[0]), self.node(tree.children[1])
        self._need(base, NUMBER, "^")
        self._need(exponent, NUMBER, "^")
        if isinstance(exponent, Const) and abs(exponent.value) > rt.MAX_EXPONENT:
            raise RuleError.at(
                exponent.pos,
                f"the exponent {exponent.value} is out of range (|exponent| ≤ {rt.MAX_EXPONENT})",
            )
        return Pow(pos, NUMBER, base, exponent)

    def _sum(self, tree: Tree[Token], pos: int) -> Node:
        return self._chain(tree, pos)

    def _product(self, tree: Tree[Token], pos: int) -> Node:
        return self._chain(tree, pos)

    def _chain(self, tree: Tree[Token], pos: int) -> Node:
        items = tree.children
        left = self.node(items[0])
        for index in range(1, len(items), 2):
            op = str(items[index])
            right = self.node(items[index + 1])
            left = fold(Arith(pos, self._arith_type(op, left, right, pos), op, left, right))
        return left

    def _arith_type(self, op: str, left: Node, right: Node, pos: int) -> Type:
        a, b = left.type, right.type
        temporal = {DATE, DATETIME}
        if op == "-" and a in temporal and b in temporal:
            if a != b:
                raise RuleError.at(pos, f"cannot subtract {b} from {a}")
            return NUMBER
        if op in "+-" and a in temporal and NUMBER.accepts(b):
            return a
        if op == "+" and b in temporal and NUMBER.accepts(a):
            return b
        for side in (left, right):
            if not NUMBER.accepts(side.type):
                raise RuleError.at(side.pos, f"{op} needs numbers, not {side.type}")
        if ANY in (a, b) and (a in temporal or b in temporal):
            return ANY
        return NUMBER

    def _compare(self, tree: Tree[Token], pos: int) -> Node:
        left, op, right = (
            self.node(tree.children[0]),
            str(tree.children[1]),
            self.node(tree.children[2]),
        )
        if op in ("==", "!="):
            if not (left.type.accepts(right.type) or right.type.accepts(left.type)):
                raise RuleError.at(pos, self._mismatch(left, right, op))
        else:
            for side in (left, right):
                if side.type not in (ANY,) and side.type.name not in ORDERED:
                    raise RuleError.at(
                        side.pos, f"{op} compares numbers, strings or dates, not {side.type}"
                    )
            if ANY not in (left.type, right.type) and left.type != right.type:
                raise RuleError.at(pos, self._mismatch(left, right, op))
        return Compare(pos, BOOLEAN, op, left, right)

    @staticmethod
    def _mismatch(left: Node, right: Node, op: str) -> str:
        message = f"cannot compare {left.type} with {right.type} using {op}"
        if {left.type, right.type} == {DATE, STRING}:
            message += "; write dates as date('2024-06-01')"
        return message

    def _in_(self, tree: Tree[Token], pos: int) -> Node:
        return self._member(tree, pos, negated=False)

    def _not_in(self, tree: Tree[Token], pos: int) -> Node:
        return self._member(tree, pos, negated=True)

    def _member(self, tree: Tree[Token], pos: int, negated: bool) -> Node:
        item, container = self.node(tree.children[0]), self.node(tree.children[1])
        kind = container.type
        if kind.name == "list":
            if kind.item is not None and not (
                kind.item.accepts(item.type) or item.type.accepts(kind.item)
            ):
                raise RuleError.at(pos, f"a {item.type} cannot be in a list of {kind.item}")
        elif kind == STRING:
            self._need(item, STRING, "in a string")
        elif kind != ANY:
            raise RuleError.at(container.pos, f"'in' needs a list or a string, not {kind}")
        return Member(pos, BOOLEAN, item, container, negated)

    def _or_expr(self, tree: Tree[Token], pos: int) -> Node:
        return self._logic("or", tree, pos)

    def _and_expr(self, tree: Tree[Token], pos: int) -> Node:
        return self._logic("and", tree, pos)

    def _logic(self, op: str, tree: Tree[Token], pos: int) -> Node:
        operands = tuple(self.node(c) for c in tree.children)
        for operand in operands:
            self._need(operand, BOOLEAN, op)
        return Logic(pos, BOOLEAN, op, operands)

    def _not_(self, tree: Tree[Token], pos: int) -> Node:
        operand = self.node(tree.children[0])
        self._need(operand, BOOLEAN, "not")
        return Not(pos, BOOLEAN, operand)

    @staticmethod
    def _need(node: Node, wanted: Type, what: str) -> None:
        if not wanted.accepts(node.type) or node.type == NULL:
            raise RuleError.at(node.pos, f"{what} needs {wanted}, not {node.type}")


def fold(node: Node) -> Node:
    """Replace a node whose inputs are all constants by its value (errors become save-time errors)."""
    if isinstance(node, Const | FactRef | Index):
        return node  # an index reads a fact, whatever its key
    if isinstance(node, Call) and node.function in TIME_FUNCTIONS:
        return node
    parts = children(node)
    if not all(isinstance(c, Const) for c in parts):
        return node
    if isinstance(node, ListLit):
        return Const(node.pos, node.type, tuple(c.value for c in parts))  # type: ignore[attr-defined]
    function, _ = _codegen.generate(node)
    try:
        with localcontext(rt.RULES_CONTEXT):
            value = function({})
    except rt.EvaluationError as exc:
        raise RuleError.at(node.pos, str(exc)) from None
    return Const(node.pos, node.type, value)
