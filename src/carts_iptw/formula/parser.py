"""A recursive-descent parser of R's formula grammar, and R's ``deparse`` of the result.

Operator precedence follows R's ``?Syntax`` (highest first): ``^``; unary ``- +``; ``:``;
``%any%``; ``* /``; binary ``+ -``; comparisons; ``!``; ``& &&``; ``| ||``; ``~``.
Only what formulas need is parsed: names (also in backticks), numbers, strings, calls with
positional or named arguments, parentheses and the operators above.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "Node", "Name", "Num", "Str", "Call", "Binary", "Unary", "Paren",
    "parse_formula", "parse_expression", "deparse", "r_format_number", "FormulaSyntaxError",
]


class FormulaSyntaxError(ValueError):
    """The formula text is not a valid R formula."""


@dataclass(frozen=True)
class Node:
    """A node of a parsed R formula expression."""

    pass


@dataclass(frozen=True)
class Name(Node):
    """A variable name (backticks removed)."""

    id: str


@dataclass(frozen=True)
class Num(Node):
    """A numeric (or ``TRUE``/``FALSE``) literal; ``text`` as written."""

    value: float
    text: str  # as written (for deparse of integer literals like 2L)


@dataclass(frozen=True)
class Str(Node):
    """A string literal."""

    value: str


@dataclass(frozen=True)
class Call(Node):
    """A function call with positional ``args`` and keyword ``kwargs``."""

    func: str
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node], ...] = ()


@dataclass(frozen=True)
class Binary(Node):
    """A binary operator (``+``, ``:``, ``*``, ``^``, ``~``, ...) with its operands."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Unary(Node):
    """A unary operator (``-``, ``+``, ``!``) with its operand."""

    op: str
    operand: Node


@dataclass(frozen=True)
class Paren(Node):
    """A parenthesised expression."""

    inner: Node


# ----------------------------------------------------------------------------- tokenizer

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?L?)
  | (?P<name>(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*)
  | (?P<bq>`[^`]+`)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>%[^%]*%|>=|<=|==|!=|&&|\|\||[~+\-*/:^(),<>!&|=])
    """,
    re.VERBOSE,
)

_R_RESERVED = {
    "if", "else", "repeat", "while", "function", "for", "next", "break", "TRUE", "FALSE",
    "NULL", "Inf", "NaN", "NA", "NA_integer_", "NA_real_", "NA_character_", "in",
}


def _tokenize(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FormulaSyntaxError(f"cannot parse formula at character {pos + 1}: {text!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        val = m.group(kind)
        if kind == "bq":  # a backticked name is always a name (`TRUE` is a column, as R)
            kind, val = "bqname", val[1:-1]
        elif kind == "str":
            kind, val = "str", bytes(val[1:-1], "utf-8").decode("unicode_escape")
        out.append((kind, val))
    out.append(("end", ""))
    return out


# ----------------------------------------------------------------------------- parser

_BINARY_PREC = {
    "~": 1, "|": 2, "||": 2, "&": 3, "&&": 3,
    "==": 5, "!=": 5, "<": 5, ">": 5, "<=": 5, ">=": 5,
    "+": 6, "-": 6, "*": 7, "/": 7, "%": 8, ":": 9, "^": 11,
}
_UNARY_NOT_PREC = 4
_UNARY_SIGN_PREC = 10


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i]

    def next(self) -> tuple[str, str]:
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, val: str) -> None:
        k, v = self.next()
        if v != val or k != "op":
            raise FormulaSyntaxError(f"expected {val!r} in formula {self.text!r}, found {v!r}")

    @staticmethod
    def _prec(kind: str, val: str) -> int | None:
        if kind != "op":
            return None
        if val.startswith("%") and len(val) > 1:
            return _BINARY_PREC["%"]
        return _BINARY_PREC.get(val)

    def expr(self, min_prec: int = 0) -> Node:
        left = self.unary()
        while True:
            kind, val = self.peek()
            prec = self._prec(kind, val)
            if prec is None or prec < min_prec:
                return left
            self.next()
            # ^ is right-associative; everything else left-associative
            right = self.expr(prec if val == "^" else prec + 1)
            left = Binary(val, left, right)

    def unary(self) -> Node:
        kind, val = self.peek()
        if kind == "op" and val in ("-", "+"):
            self.next()
            return Unary(val, self.expr(_UNARY_SIGN_PREC))
        if kind == "op" and val == "!":
            self.next()
            return Unary("!", self.expr(_UNARY_NOT_PREC))
        if kind == "op" and val == "~":  # one-sided formula
            self.next()
            return Unary("~", self.expr(_BINARY_PREC["~"] + 1))
        return self.primary()

    def primary(self) -> Node:
        kind, val = self.next()
        if kind == "num":
            num = float(val[:-1]) if val.endswith("L") else float(val)
            return Num(num, val)
        if kind == "str":
            return Str(val)
        if kind in ("name", "bqname"):
            if self.peek() == ("op", "("):
                self.next()
                args: list[Node] = []
                kwargs: list[tuple[str, Node]] = []
                if self.peek() != ("op", ")"):
                    while True:
                        k2, v2 = self.peek()
                        if k2 in ("name", "bqname") and self.toks[self.i + 1] == ("op", "="):
                            self.i += 2
                            kwargs.append((v2, self.expr()))
                        else:
                            if kwargs:
                                raise FormulaSyntaxError(
                                    f"positional argument after a named one in {self.text!r}"
                                )
                            args.append(self.expr())
                        if self.peek() == ("op", ","):
                            self.next()
                            continue
                        break
                self.expect(")")
                return Call(val, tuple(args), tuple(kwargs))
            if kind == "name" and val == "TRUE":
                return Num(1.0, "TRUE")
            if kind == "name" and val == "FALSE":
                return Num(0.0, "FALSE")
            return Name(val)
        if kind == "op" and val == "(":
            inner = self.expr()
            self.expect(")")
            return Paren(inner)
        raise FormulaSyntaxError(f"unexpected {val or 'end of formula'!r} in formula {self.text!r}")


def parse_expression(text: str) -> Node:
    """Parse an R expression; :class:`FormulaSyntaxError` for text left over."""
    p = _Parser(text)
    node = p.expr()
    if p.peek()[0] != "end":
        raise FormulaSyntaxError(f"unexpected {p.peek()[1]!r} in formula {text!r}")
    return node


def parse_formula(text: str) -> tuple[Node | None, Node]:
    """Return (response or None, right-hand side) of an R formula ``y ~ rhs`` or ``~ rhs``."""
    if not isinstance(text, str):
        raise TypeError(f"formula must be a string, got {type(text).__name__}")
    node = parse_expression(text)
    if isinstance(node, Binary) and node.op == "~":
        return node.left, node.right
    if isinstance(node, Unary) and node.op == "~":
        return None, node.operand
    raise FormulaSyntaxError(f"a formula needs '~': {text!r}")


# ----------------------------------------------------------------------------- deparse

_SYNTACTIC = re.compile(r"^((?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*|\.)$")


def _is_syntactic(name: str) -> bool:
    return bool(_SYNTACTIC.match(name)) and name not in _R_RESERVED


def r_format_number(x: float, digits: int = 15) -> str:
    """``as.character()`` / ``deparse()`` of a double as R prints it.

    15 significant digits, fixed unless scientific is strictly narrower, as R with ``scipen =
    0``.
    """
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0"
    neg = x < 0
    ax = abs(x)
    # minimal number of significant digits (<= digits) reproducing the 15-digit rounding
    target = float(f"{ax:.{digits - 1}e}")
    sig = digits
    for s in range(1, digits + 1):
        if float(f"{ax:.{s - 1}e}") == target:
            sig = s
            break
    mant, exp_s = f"{target:.{sig - 1}e}".split("e")
    e = int(exp_s)
    rgt = max(0, sig - 1 - e)
    fixed_w = (e + 1 if e >= 0 else 1) + (rgt + 1 if rgt > 0 else 0)
    sci_w = (1 if sig == 1 else sig + 1) + (4 if abs(e) < 100 else 5)
    if fixed_w <= sci_w:
        s = f"{target:.{rgt}f}"
    else:
        s = f"{mant}e{'-' if e < 0 else '+'}{abs(e):02d}"
    return ("-" if neg else "") + s


_SPACED = {"+", "-", "*", "~", "==", "!=", "<", ">", "<=", ">=", "&", "&&", "|", "||", "="}


def all_names(node: Node) -> list[str]:
    """R's ``all.vars(expr)``: the names an expression reads, in order of first appearance."""
    out: list[str] = []

    def walk(n: Node) -> None:
        if isinstance(n, Name):
            if n.id not in out:
                out.append(n.id)
        elif isinstance(n, Call):
            for a in n.args:
                walk(a)
            for _, a in n.kwargs:
                walk(a)
        elif isinstance(n, Binary):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Unary):
            walk(n.operand)
        elif isinstance(n, Paren):
            walk(n.inner)

    walk(node)
    return out


def deparse(node: Node) -> str:
    """R's ``deparse()`` of an expression, e.g. ``I(age ^ 2)`` -> ``I(age^2)``."""
    if isinstance(node, Name):
        return node.id if _is_syntactic(node.id) else f"`{node.id}`"
    if isinstance(node, Num):
        if node.text in ("TRUE", "FALSE") or node.text.endswith("L"):
            return node.text
        return r_format_number(node.value)
    if isinstance(node, Str):
        esc = node.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{esc}"'
    if isinstance(node, Call):
        parts = [deparse(a) for a in node.args]
        parts += [f"{k} = {deparse(v)}" for k, v in node.kwargs]
        return f"{node.func}({', '.join(parts)})"
    if isinstance(node, Paren):
        return f"({deparse(node.inner)})"
    if isinstance(node, Unary):
        if node.op == "~":
            return f"~{deparse(node.operand)}"
        return f"{node.op}{deparse(node.operand)}"
    if isinstance(node, Binary):
        if node.op in _SPACED or node.op.startswith("%"):
            return f"{deparse(node.left)} {node.op} {deparse(node.right)}"
        return f"{deparse(node.left)}{node.op}{deparse(node.right)}"
    raise TypeError(f"cannot deparse {node!r}")
