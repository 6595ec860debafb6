"""R's term algebra (``terms.formula``): expand ``+ - : * / ^`` into an ordered list of terms.

A term is a set of variables; a variable is any expression that is not a formula operator
(``age``, ``factor(race)``, ``I(age^2)``, ``log(re74 + 1)``). As in R:

- variables are numbered in order of first appearance in the formula, response first;
- a term's label joins its variables' deparsed texts with ``:`` in that variable order;
- terms are ordered by degree (main effects, then two-way interactions, ...), keeping the
  order of first appearance within a degree (``keep.order = FALSE``);
- ``- 1``, ``+ 0`` and ``0 +`` drop the intercept; ``- term`` removes a term;
- ``a * b`` is ``a + b + a:b``; ``(a + b)^2`` crosses ``a + b`` with itself; ``a / b`` is
  ``a + a:b``;
- ``offset(x)``, ``strata(...)`` and ``cluster(...)`` are not terms: they are returned apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .parser import Binary, Call, FormulaSyntaxError, Node, Num, Paren, Unary, deparse

__all__ = ["Terms", "build_terms", "SPECIAL_FUNCTIONS"]

SPECIAL_FUNCTIONS = ("strata", "cluster")
_FORMULA_OPS = {"+", "-", "*", "/", ":", "^", "%in%"}


@dataclass
class Terms:
    """R's ``terms`` object of a formula.

    Variables, terms and term labels, response, intercept, offsets and specials.
    """

    variables: list[Node]
    var_labels: list[str]
    response: Node | None
    terms: list[tuple[int, ...]]  # variable indices, sorted, by degree
    term_labels: list[str]
    intercept: bool
    offsets: list[Node] = field(default_factory=list)
    specials: dict[str, list[Call]] = field(default_factory=dict)


def _is_structural(node: Node) -> bool:
    return isinstance(node, Paren) or (isinstance(node, Binary) and node.op in _FORMULA_OPS) or (
        isinstance(node, Unary) and node.op in ("+", "-")
    )


class _Builder:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.nodes: list[Node] = []
        self.offsets: list[Node] = []
        self.specials: dict[str, list[Call]] = {}

    def var(self, node: Node) -> int:
        label = deparse(node)
        if label not in self.index:
            self.index[label] = len(self.nodes)
            self.nodes.append(node)
        return self.index[label]

    def collect(self, node: Node) -> None:
        """Number variables in order of first appearance (left to right)."""
        if isinstance(node, Num):
            return
        if isinstance(node, Paren):
            self.collect(node.inner)
        elif isinstance(node, Binary) and node.op in _FORMULA_OPS:
            self.collect(node.left)
            if node.op != "^":
                self.collect(node.right)
        elif isinstance(node, Unary) and node.op in ("+", "-"):
            self.collect(node.operand)
        else:
            self.var(node)

    # expand returns (terms as frozensets, intercept flag: None = untouched, False = dropped,
    # True = explicitly added)
    def expand(self, node: Node) -> tuple[list[frozenset[int]], bool | None]:
        if isinstance(node, Num):
            if node.value == 0:
                return [], False
            if node.value == 1:
                return [], True
            raise FormulaSyntaxError(f"invalid model term {deparse(node)!r}")
        if isinstance(node, Paren):
            return self.expand(node.inner)
        if isinstance(node, Unary) and node.op in ("+", "-"):
            terms, icpt = self.expand(node.operand)
            if node.op == "+":
                return terms, icpt
            return [], (None if icpt is None else not icpt)
        if isinstance(node, Binary) and node.op in _FORMULA_OPS:
            op = node.op
            if op == "^":
                if not isinstance(node.right, Num) or node.right.value < 1 or (
                    node.right.value != int(node.right.value)
                ):
                    raise FormulaSyntaxError(
                        f"the power in {deparse(node)!r} must be a positive integer"
                    )
                # R's PowerTerms: right <- left; repeat: right <- {l | r : l in left,
                # r in right} (products only, left-major), duplicates trimmed
                base, icpt = self.expand(node.left)
                out = list(base)
                for _ in range(int(node.right.value) - 1):
                    out = _unique([a | b for a in base for b in out])
                return out, icpt
            if op == "%in%":
                raise FormulaSyntaxError("'%in%' in formulas is not supported; write a:b")
            left, li = self.expand(node.left)
            if op == "-":
                right, ri = self.expand(node.right)
                removed = set(right)
                icpt = li
                if ri is True:
                    icpt = False
                elif ri is False:
                    icpt = True if li is None else li
                return [t for t in left if t not in removed], icpt
            right, ri = self.expand(node.right)
            if op == "+":
                icpt = li if ri is None else ri if li is None else (li and ri)
                return _unique(left + right), icpt
            if op == ":":
                return _unique([a | b for a in left for b in right]), None
            if op == "*":
                return _unique(left + right + [a | b for a in left for b in right]), li
            if op == "/":
                allvars = frozenset().union(*left) if left else frozenset()
                return _unique(left + [allvars | b for b in right]), li
        # a variable
        if isinstance(node, Call) and node.func == "offset":
            if len(node.args) != 1 or node.kwargs:
                raise FormulaSyntaxError("offset() takes one argument")
            self.offsets.append(node.args[0])
            return [], None
        if isinstance(node, Call) and node.func in SPECIAL_FUNCTIONS:
            self.specials.setdefault(node.func, []).append(node)
            return [], None
        return [frozenset([self.var(node)])], None


def _unique(terms: list[frozenset[int]]) -> list[frozenset[int]]:
    seen: set[frozenset[int]] = set()
    out = []
    for t in terms:
        if t and t not in seen:
            seen.add(t)
            out.append(t)
    return out


def build_terms(response: Node | None, rhs: Node) -> Terms:
    """Expand a formula into :class:`Terms`.

    R's ``terms.formula`` of the response and right-hand side.
    """
    if isinstance(rhs, Binary) and rhs.op == "~":
        raise FormulaSyntaxError("a formula has one '~'")
    b = _Builder()
    if response is not None:
        b.var(response)
    b.collect(rhs)
    terms, icpt = b.expand(rhs)
    resp_idx = {0} if response is not None else set()
    terms = [t for t in terms if not (t & resp_idx)]  # R drops the response from the rhs
    ordered = sorted(terms, key=len)  # stable: order of appearance within degree
    sorted_terms = [tuple(sorted(t)) for t in ordered]
    labels = [":".join(deparse(b.nodes[i]) for i in t) for t in sorted_terms]
    # only variables that are used by the response or a term are needed
    return Terms(
        variables=b.nodes,
        var_labels=[deparse(n) for n in b.nodes],
        response=response,
        terms=sorted_terms,
        term_labels=labels,
        intercept=icpt is not False,
        offsets=b.offsets,
        specials=b.specials,
    )
