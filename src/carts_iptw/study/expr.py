"""A small, safe evaluator of R expressions over the rows of a cohort (no Python ``eval``).

Study specs write row conditions (eligibility rules, outcome definitions, subgroups, derived
columns, consistency checks) in **R syntax**, so that each can be pasted into R verbatim
(``subset(data, <rule>)``). Supported::

    literals     3  2.5  1e3  2L  "text"  'text'  TRUE  FALSE  NA
    columns      age   `odd name`
    arithmetic   + - * / ^ %% %/%  (unary -, +)
    comparison   == != < > <= >=
    logic        !  &  |  (also && and || on a row-wise basis)
    membership   x %in% c("a", "b")      (never NA, as R's match())
    functions    is.na(x)  as.Date("YYYY-MM-DD")  as.numeric(x)  as.integer(x)  abs(x)
                 ifelse(test, yes, no)  pmin(a, b, ...)  pmax(a, b, ...)  (numbers)
                 c(...)   (only as the right-hand side of %in%)
    grouping     ( ... )

Operator precedence is R's (``?Syntax``). Missing values follow R: arithmetic and comparisons
with ``NA`` give ``NA``; ``NA & FALSE`` is ``FALSE``, ``NA | TRUE`` is ``TRUE``; ``is.na`` and
``%in%`` are never ``NA``. A condition that is ``NA`` for a row does not select it
(:func:`evaluate`), as ``subset()`` and ``dplyr::filter()`` drop it. Factors compare with
``==``, ``!=`` and ``%in%`` by their labels; a date column compares with ``as.Date("...")`` or
with a "YYYY-MM-DD" string (R's ``Ops.Date`` converts it).

Errors are ``ValueError`` naming the expression (its label) and, for a syntax error, the
character position; an unknown column is named. No data value ever appears in a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["RExpr", "parse", "columns_used", "evaluate", "evaluate_values"]


# ----------------------------------------------------------------------------- syntax
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?L?)
  | (?P<name>(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*)
  | (?P<bq>`[^`]+`)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>%in%|%%|%/%|>=|<=|==|!=|&&|\|\||[+\-*/^(),<>!&|])
    """,
    re.VERBOSE,
)

_PREC = {"|": 2, "||": 2, "&": 3, "&&": 3, "==": 5, "!=": 5, "<": 5, ">": 5, "<=": 5, ">=": 5,
         "+": 6, "-": 6, "*": 7, "/": 7, "%in%": 8, "%%": 8, "%/%": 8, "^": 11}
_NOT_PREC, _SIGN_PREC = 4, 10
_FUNCTIONS = {"is.na": 1, "as.Date": 1, "as.numeric": 1, "as.integer": 1, "abs": 1, "c": None,
              "ifelse": 3, "pmin": None, "pmax": None}


@dataclass(frozen=True)
class _Lit:
    value: object  # float, str, bool or None (NA)


@dataclass(frozen=True)
class _Col:
    name: str


@dataclass(frozen=True)
class _Call:
    func: str
    args: tuple


@dataclass(frozen=True)
class _Bin:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class _Un:
    op: str
    operand: object


class _Parser:
    def __init__(self, text: str, where: str):
        self.text, self.where = text, where
        self.toks: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                self.fail(pos, "unexpected character")
            kind = m.lastgroup
            if kind != "ws":
                val = m.group(kind)
                if kind == "bq":
                    kind, val = "name", val[1:-1]
                elif kind == "str":
                    val = re.sub(r"\\(.)", r"\1", val[1:-1])
                self.toks.append((kind, val, pos))
            pos = m.end()
        self.toks.append(("end", "", len(text)))
        self.i = 0

    def fail(self, pos: int, what: str):
        raise ValueError(f"{self.where}: the R expression does not parse at character "
                         f"{pos + 1}: {what}")

    def peek(self):
        return self.toks[self.i]

    def take(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, val: str) -> None:
        k, v, pos = self.take()
        if (k, v) != ("op", val):
            self.fail(pos, f"expected '{val}', found {self._show(k, v)}")

    @staticmethod
    def _show(k: str, v: str) -> str:
        return "end of the expression" if k == "end" else f"'{v}'"

    def expr(self, min_prec: int = 0):
        left = self.unary()
        while True:
            k, v, _ = self.peek()
            prec = _PREC.get(v) if k == "op" else None
            if prec is None or prec < min_prec:
                return left
            self.take()
            right = self.expr(prec if v == "^" else prec + 1)
            left = _Bin(v, left, right)

    def unary(self):
        k, v, _ = self.peek()
        if k == "op" and v in ("-", "+"):
            self.take()
            return _Un(v, self.expr(_SIGN_PREC))
        if k == "op" and v == "!":
            self.take()
            return _Un("!", self.expr(_NOT_PREC))
        return self.primary()

    def primary(self):
        k, v, pos = self.take()
        if k == "num":
            return _Lit(float(v[:-1] if v.endswith("L") else v))
        if k == "str":
            return _Lit(v)
        if k == "name":
            if self.peek()[:2] == ("op", "("):
                if v not in _FUNCTIONS:
                    self.fail(pos, f"unknown function '{v}' (supported: "
                                   f"{', '.join(sorted(_FUNCTIONS))})")
                self.take()
                args = []
                if self.peek()[:2] != ("op", ")"):
                    while True:
                        args.append(self.expr())
                        if self.peek()[:2] == ("op", ","):
                            self.take()
                            continue
                        break
                self.expect(")")
                want = _FUNCTIONS[v]
                if want is not None and len(args) != want:
                    self.fail(pos, f"{v}() takes {want} argument(s), got {len(args)}")
                return _Call(v, tuple(args))
            if v in ("TRUE", "FALSE"):
                return _Lit(v == "TRUE")
            if v == "NA":
                return _Lit(None)
            return _Col(v)
        if k == "op" and v == "(":
            inner = self.expr()
            self.expect(")")
            return inner
        self.fail(pos, f"unexpected {self._show(k, v)}")


def _check_c(node, where: str, in_rhs: bool = False) -> None:
    """``c(...)`` only as the right-hand side of ``%in%``, with literal (or as.Date) items."""
    if isinstance(node, _Call):
        if node.func == "c":
            if not in_rhs:
                raise ValueError(f"{where}: c(...) is supported only on the right-hand side of "
                                 "%in%")
            for a in node.args:
                ok = isinstance(a, _Lit) or (isinstance(a, _Call) and a.func == "as.Date") or \
                    (isinstance(a, _Un) and a.op == "-" and isinstance(a.operand, _Lit))
                if not ok:
                    raise ValueError(f"{where}: c(...) after %in% takes literal values only")
            return
        for a in node.args:
            _check_c(a, where)
    elif isinstance(node, _Bin):
        _check_c(node.left, where)
        _check_c(node.right, where, in_rhs=node.op == "%in%")
    elif isinstance(node, _Un):
        _check_c(node.operand, where)


def _columns(node, out: list[str]) -> list[str]:
    if isinstance(node, _Col):
        if node.name not in out:
            out.append(node.name)
    elif isinstance(node, _Call):
        for a in node.args:
            _columns(a, out)
    elif isinstance(node, _Bin):
        _columns(node.left, out)
        _columns(node.right, out)
    elif isinstance(node, _Un):
        _columns(node.operand, out)
    return out


# ----------------------------------------------------------------------------- values
@dataclass
class _V:
    """A vector (length n, or 1 for a literal) with its NA mask.

    kind: num, lgl, str, date (float days since 1970-01-01), fac (labels as str).
    """

    kind: str
    x: np.ndarray
    na: np.ndarray


def _lit(value) -> _V:
    if value is None:
        return _V("lgl", np.array([False]), np.array([True]))
    if isinstance(value, bool):
        return _V("lgl", np.array([value]), np.array([False]))
    if isinstance(value, str):
        return _V("str", np.array([value], dtype=object), np.array([False]))
    return _V("num", np.array([float(value)]), np.array([False]))


def _col(s: pd.Series) -> _V:
    na = s.isna().to_numpy()
    if isinstance(s.dtype, pd.CategoricalDtype):
        # each level by its code ("" for a missing value): no per-row object conversion
        cats = np.empty(len(s.cat.categories) + 1, dtype=object)
        cats[:-1] = s.cat.categories.to_numpy(dtype=object)
        cats[-1] = ""
        return _V("fac", cats[s.cat.codes.to_numpy()], na)
    if pd.api.types.is_datetime64_any_dtype(s):
        days = (s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s)
        x = (days - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy(
            dtype=float, na_value=np.nan) / 86400.0
        return _V("date", np.where(na, 0.0, x), na)
    if pd.api.types.is_bool_dtype(s):
        return _V("lgl", s.fillna(False).to_numpy(dtype=bool), na)
    if pd.api.types.is_numeric_dtype(s):
        x = s.to_numpy(dtype=float, na_value=np.nan)
        return _V("num", np.where(na, 0.0, x), na)
    return _V("str", s.astype(object).where(~na, "").to_numpy(dtype=object), na)


def _as_date(v: _V, where: str) -> _V:
    if v.kind == "date":
        return v
    if v.kind in ("str", "fac"):
        d = pd.to_datetime(pd.Series(v.x, dtype=object).where(~v.na), errors="coerce",
                           format="%Y-%m-%d")
        bad = d.isna().to_numpy() & ~v.na
        if bad.any():
            raise ValueError(f"{where}: as.Date() needs dates written YYYY-MM-DD "
                             f"({int(bad.sum())} value(s) are not)")
        out = _col(d)
        return _V("date", out.x, out.na | v.na)
    if v.kind == "num":
        return _V("date", v.x, v.na)
    raise ValueError(f"{where}: as.Date() of a logical value")


def _num(v: _V, where: str, op: str) -> np.ndarray:
    if v.kind in ("num", "date"):
        return v.x.astype(float)
    if v.kind == "lgl":
        return v.x.astype(float)
    raise ValueError(f"{where}: '{op}' needs numbers, got text (a character or factor column)")


def _lgl(v: _V, where: str, op: str) -> np.ndarray:
    if v.kind == "lgl":
        return v.x.astype(bool)
    if v.kind == "num":
        return v.x != 0
    raise ValueError(f"{where}: '{op}' needs logical values, got {'a date' if v.kind == 'date' else 'text'}")


def _fmt_num(x: np.ndarray) -> np.ndarray:
    from carts_iptw.formula.parser import r_format_number

    return np.array([r_format_number(float(v)) for v in x], dtype=object)


def _comparable(a: _V, b: _V, where: str, op: str) -> tuple[np.ndarray, np.ndarray]:
    text = ("str", "fac")
    if a.kind == "date" or b.kind == "date":
        a2 = _as_date(a, where) if a.kind in text else a
        b2 = _as_date(b, where) if b.kind in text else b
        if a2.kind == "lgl" or b2.kind == "lgl":
            raise ValueError(f"{where}: '{op}' compares a date with a logical value")
        return a2.x.astype(float), b2.x.astype(float)
    if a.kind in text or b.kind in text:
        if op not in ("==", "!=") and ("fac" in (a.kind, b.kind)):
            raise ValueError(f"{where}: '{op}' is not meaningful for a factor (use ==, != or "
                             "%in%)")
        ax = a.x if a.kind in text else (_fmt_num(a.x) if a.kind == "num" else
                                         np.where(a.x, "TRUE", "FALSE").astype(object))
        bx = b.x if b.kind in text else (_fmt_num(b.x) if b.kind == "num" else
                                         np.where(b.x, "TRUE", "FALSE").astype(object))
        return ax, bx
    return _num(a, where, op), _num(b, where, op)


class RExpr:
    """A parsed R expression: ``.columns`` (read from the data), ``.values(df)``, ``.mask(df)``."""

    def __init__(self, text: str, where: str = "expression"):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{where}: the R expression is empty")
        self.text, self.where = text, where
        p = _Parser(text, where)
        self.tree = p.expr()
        k, v, pos = p.peek()
        if k != "end":
            p.fail(pos, f"unexpected '{v}'")
        _check_c(self.tree, where)
        self.columns: list[str] = _columns(self.tree, [])

    def __repr__(self) -> str:
        """``RExpr('<text>')``."""
        return f"RExpr({self.text!r})"

    # evaluation ---------------------------------------------------------------
    def _eval(self, node, df: pd.DataFrame) -> _V:
        w = self.where
        if isinstance(node, _Lit):
            return _lit(node.value)
        if isinstance(node, _Col):
            if node.name not in df.columns:
                raise ValueError(f"{w}: reads column '{node.name}', which is not in the cohort")
            return _col(df[node.name])
        if isinstance(node, _Un):
            v = self._eval(node.operand, df)
            if node.op == "!":
                return _V("lgl", ~_lgl(v, w, "!"), v.na)
            x = _num(v, w, node.op)
            return _V("num", -x if node.op == "-" else x, v.na)
        if isinstance(node, _Call):
            return self._call(node, df)
        op = node.op
        if op == "%in%":
            return self._in(node, df)
        a, b = self._eval(node.left, df), self._eval(node.right, df)
        na = a.na | b.na
        if op in ("&", "&&", "|", "||"):
            ax, bx = _lgl(a, w, op), _lgl(b, w, op)
            if op in ("&", "&&"):
                false = (~ax & ~a.na) | (~bx & ~b.na)
                return _V("lgl", ax & bx & ~na, na & ~false)
            true = (ax & ~a.na) | (bx & ~b.na)
            return _V("lgl", true, na & ~true)
        if op in ("==", "!=", "<", ">", "<=", ">="):
            ax, bx = _comparable(a, b, w, op)
            with np.errstate(invalid="ignore"):
                r = {"==": np.equal, "!=": np.not_equal, "<": np.less, ">": np.greater,
                     "<=": np.less_equal, ">=": np.greater_equal}[op](ax, bx)
            r = np.asarray(r, dtype=bool)
            return _V("lgl", r & ~na, na)
        ax, bx = _num(a, w, op), _num(b, w, op)
        with np.errstate(all="ignore"):
            if op == "+":
                r = ax + bx
            elif op == "-":
                r = ax - bx
            elif op == "*":
                r = ax * bx
            elif op == "/":
                r = ax / bx
            elif op == "^":
                r = np.power(ax, bx)
            elif op == "%%":
                r = ax - np.floor(ax / bx) * bx
            else:  # %/%
                r = np.floor(ax / bx)
        na = na | np.isnan(r)
        kind = "date" if (a.kind == "date") != (b.kind == "date") and op in ("+", "-") \
            else "num"
        return _V(kind, np.where(na, 0.0, r), na)

    def _call(self, node: _Call, df) -> _V:
        w, f = self.where, node.func
        if f == "c":  # pragma: no cover - rejected by _check_c
            raise ValueError(f"{w}: c(...) is supported only after %in%")
        if f in ("pmin", "pmax"):
            if len(node.args) < 1:
                raise ValueError(f"{w}: {f}() needs at least one argument")
            vs = [self._eval(a, df) for a in node.args]
            xs = np.broadcast_arrays(*[_num(v, w, f) for v in vs])
            na = np.logical_or.reduce(np.broadcast_arrays(*[v.na for v in vs]))
            r = (np.minimum if f == "pmin" else np.maximum).reduce(np.stack(xs))
            kind = "date" if all(v.kind == "date" for v in vs) else "num"
            return _V(kind, np.where(na, 0.0, r), na)
        if f == "ifelse":
            t, yes, no = (self._eval(a, df) for a in node.args)
            tx = _lgl(t, w, "ifelse")
            if yes.kind in ("str", "fac") or no.kind in ("str", "fac"):
                if yes.kind not in ("str", "fac") or no.kind not in ("str", "fac"):
                    raise ValueError(f"{w}: ifelse() mixes text and numbers")
                kind = "str"
                yx, nx = yes.x, no.x
            else:
                kind = "date" if yes.kind == no.kind == "date" else (
                    "lgl" if yes.kind == no.kind == "lgl" else "num")
                yx = yes.x if kind == "lgl" else _num(yes, w, "ifelse")
                nx = no.x if kind == "lgl" else _num(no, w, "ifelse")
            r = np.where(tx, yx, nx)
            na = t.na | np.where(tx, yes.na, no.na)
            return _V(kind, r, na)
        v = self._eval(node.args[0], df)
        if f == "is.na":
            return _V("lgl", v.na.copy(), np.zeros_like(v.na))
        if f == "as.Date":
            return _as_date(v, w)
        if f in ("as.numeric", "as.integer"):
            if v.kind in ("str", "fac"):
                x = pd.to_numeric(pd.Series(v.x, dtype=object).where(~v.na), errors="coerce")
                x = x.to_numpy(dtype=float, na_value=np.nan)
            else:
                x = v.x.astype(float)
            if f == "as.integer":
                x = np.trunc(x)
            na = v.na | np.isnan(x)
            return _V("num", np.where(na, 0.0, x), na)
        x = _num(v, w, f)
        return _V("num", np.abs(x), v.na)

    def _in(self, node: _Bin, df) -> _V:
        w = self.where
        a = self._eval(node.left, df)
        rhs = node.right
        items = rhs.args if isinstance(rhs, _Call) and rhs.func == "c" else (rhs,)
        table = [self._eval(i, df) for i in items]
        for t in table:
            if len(t.x) != 1:
                raise ValueError(f"{w}: the right-hand side of %in% must be literal values")
        table_na = any(bool(t.na[0]) for t in table)
        vals = [t for t in table if not t.na[0]]
        if a.kind == "date" or any(t.kind == "date" for t in vals):
            ax = _as_date(a, w).x if a.kind != "lgl" else _num(a, w, "%in%")
            tx = [float(_as_date(t, w).x[0]) for t in vals]
        elif a.kind in ("str", "fac") or any(t.kind == "str" for t in vals):
            ax = a.x if a.kind in ("str", "fac") else _comparable(a, _lit("x"), w, "==")[0]
            tx = [t.x[0] if t.kind == "str" else _comparable(t, _lit("x"), w, "==")[0][0]
                  for t in vals]
        else:
            ax = _num(a, w, "%in%")
            tx = [float(_num(t, w, "%in%")[0]) for t in vals]
        r = pd.Series(np.asarray(ax)).isin(tx).to_numpy(dtype=bool) if tx else \
            np.zeros(len(ax), dtype=bool)
        if len(r) == 1 and len(a.na) != 1:  # pragma: no cover - literal lhs
            r = np.repeat(r, len(a.na))
        r = (r & ~a.na) | (a.na & table_na)
        return _V("lgl", r, np.zeros_like(r))

    def _vector(self, df: pd.DataFrame) -> _V:
        v = self._eval(self.tree, df)
        n = len(df)
        if len(v.x) == 1 and n != 1:
            v = _V(v.kind, np.repeat(v.x, n), np.repeat(v.na, n))
        return v

    def values(self, df: pd.DataFrame) -> pd.Series:
        """The expression's value per row as a pandas Series (missing as NA).

        Float for numbers, nullable boolean for logical values, datetime for dates, object for text.
        """
        v = self._vector(df)
        if v.kind == "lgl":
            s = pd.Series(pd.array(v.x.astype(bool), dtype="boolean"), index=df.index)
            s[v.na] = pd.NA
            return s
        if v.kind == "num":
            return pd.Series(np.where(v.na, np.nan, v.x), index=df.index, dtype=float)
        if v.kind == "date":
            d = pd.to_datetime(np.where(v.na, np.nan, v.x) * 86400.0, unit="s")
            return pd.Series(d, index=df.index)
        return pd.Series(np.where(v.na, None, v.x), index=df.index, dtype=object)

    def logical(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(TRUE, NA) masks of a logical expression (numbers: non-zero is TRUE, as R's if())."""
        v = self._vector(df)
        if v.kind not in ("lgl", "num"):
            raise ValueError(f"{self.where}: the R expression must be a condition (TRUE/FALSE "
                             "per row), not text or a date")
        x = _lgl(v, self.where, "condition") & ~v.na
        return x, v.na.copy()

    def mask(self, df: pd.DataFrame) -> np.ndarray:
        """Rows where the condition is TRUE (NA is not TRUE: R's ``subset()``)."""
        return self.logical(df)[0]


def parse(text: str, where: str = "expression") -> RExpr:
    """Parse an R expression (raises ``ValueError`` naming ``where`` and the position)."""
    return RExpr(text, where)


def columns_used(expr: str, where: str = "expression") -> list[str]:
    """The column names an R expression reads, in order of first appearance."""
    return parse(expr, where).columns


def evaluate(expr: str, df: pd.DataFrame, where: str = "expression") -> np.ndarray:
    """Boolean mask of the rows of ``df`` where the R condition ``expr`` is TRUE.

    An NA condition does not select the row, as R's ``subset()``.
    """
    return parse(expr, where).mask(df)


def evaluate_values(expr: str, df: pd.DataFrame, where: str = "expression") -> pd.Series:
    """The value of the R expression ``expr`` for every row (NA where R gives NA)."""
    return parse(expr, where).values(df)
