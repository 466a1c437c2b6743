"""The grammar, for Lark's LALR parser (linear time; positions on every token).

Keywords are plain strings in the rules, so Lark treats a NAME that spells one as the keyword and
nothing else: ``android`` and ``order`` stay names.
"""

from __future__ import annotations

from functools import cache

from lark import Lark

GRAMMAR = r"""
?start: expr

?expr: or_expr
?or_expr: and_expr (("or" | "||") and_expr)*
?and_expr: not_expr (("and" | "&&") not_expr)*
?not_expr: ("not" | "!") not_expr -> not_
         | comparison
?comparison: sum
           | sum COMP sum -> compare
           | sum "in" sum -> in_
           | sum "not" "in" sum -> not_in
?sum: product (ADD_OP product)*
?product: unary (MUL_OP unary)*
?unary: ADD_OP unary -> sign
      | power
?power: atom
      | atom "^" unary -> pow
?atom: NUMBER -> number
     | STRING -> string
     | "true" -> true
     | "false" -> false
     | "[" [expr ("," expr)*] "]" -> list_
     | NAME "(" [expr ("," expr)*] ")" -> call
     | NAME ("." NAME)* -> fact
     | NAME ("." NAME)* "[" expr "]" -> index
     | "(" expr ")"

COMP: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/" | "%"
NUMBER: /\d+(\.\d+)?([eE][+-]?\d+)?/ | /\.\d+([eE][+-]?\d+)?/
STRING: /"([^"\\\n]|\\.)*"/ | /'([^'\\\n]|\\.)*'/
NAME: /[A-Za-z_][A-Za-z0-9_]*/

%ignore /[ \t\r\n]+/
"""


@cache
def parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True)
