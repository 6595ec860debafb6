"""Evaluate the variables of a formula on a data frame, with R's types.

Variables such as ``age``, ``factor(race)``, ``I(age >= 65)``; types numeric, logical, factor (codes
+ level labels) and character.

Inside ``I()`` the operators are R's: ``^`` is a power, ``/`` true division, comparisons give
logicals, ``&``/``|``/``!`` are logical. Only a fixed set of functions is known (``factor``,
``as.factor``, ``I``, ``log``, ``exp``, ``sqrt``, ``abs``, ``log2``, ``log10``, ``log1p``,
``expm1``, ``as.numeric``, ``as.double``, ``as.integer``, ``as.logical``, ``c``, ``pmin``,
``pmax``, ``scale`` (defaults), ``relevel``, ``poly`` (one variable), ``ns``/``bs`` (splines
package; boundary knots = range), and ``%in%``); anything else is a ``ValueError``. ``poly()``,
``ns()`` and ``bs()`` give a matrix variable (kind 'matrix', columns named 1..k as R).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .parser import Binary, Call, Name, Node, Num, Paren, Str, Unary, deparse, r_format_number

__all__ = ["Value", "evaluate", "evaluate_variable", "column_names_used", "level_labels"]


@dataclass
class Value:
    """An evaluated R vector: kind is 'numeric', 'logical', 'factor' or 'character'."""

    kind: str
    values: np.ndarray  # float64 | bool | int codes (0-based) | object (str) | (n, k) matrix
    levels: list[str] | None = None  # factor levels, or a matrix variable's column names
    integer: bool = False  # numeric that R holds as integer (formats levels without decimals)
    ordered: bool = False  # an ordered factor (coded by contr.poly, as R)
    #: for poly()/ns()/bs(): what new data need to get the same basis (R's makepredictcall)
    basis: dict | None = None

    @property
    def is_scalar(self) -> bool:
        """Whether the value is a scalar (0-dimensional)."""
        return self.values.ndim == 0


def level_labels(values: np.ndarray, integer: bool) -> list[str]:
    """R's as.character() of sorted unique numbers."""
    if integer:
        return [str(int(v)) for v in values]
    return [r_format_number(float(v)) for v in values]


def column_names_used(node: Node, out: list[str] | None = None) -> list[str]:
    """Data column names read by an expression, in order of first appearance."""
    out = [] if out is None else out
    if isinstance(node, Name):
        if node.id not in out:
            out.append(node.id)
    elif isinstance(node, Call):
        for a in node.args:
            column_names_used(a, out)
        for _, v in node.kwargs:
            column_names_used(v, out)
    elif isinstance(node, Binary):
        column_names_used(node.left, out)
        column_names_used(node.right, out)
    elif isinstance(node, Unary):
        column_names_used(node.operand, out)
    elif isinstance(node, Paren):
        column_names_used(node.inner, out)
    return out


def _from_column(s: pd.Series) -> Value:
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        if pd.api.types.is_integer_dtype(cats.dtype) or pd.api.types.is_float_dtype(cats.dtype):
            labels = level_labels(np.asarray(cats), pd.api.types.is_integer_dtype(cats.dtype))
        else:
            labels = [str(c) for c in cats]
        return Value("factor", s.cat.codes.to_numpy().astype(np.int64), labels,
                     ordered=bool(s.cat.ordered))
    if pd.api.types.is_bool_dtype(s.dtype):
        return Value("logical", s.to_numpy(dtype=bool))
    if pd.api.types.is_numeric_dtype(s.dtype):
        return Value(
            "numeric", s.to_numpy(dtype=float), integer=pd.api.types.is_integer_dtype(s.dtype)
        )
    if pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype):
        kind = pd.api.types.infer_dtype(s, skipna=True)
        if kind not in ("string", "empty"):
            raise TypeError(f"column '{s.name}' holds {kind} values: use text, numbers, "
                            "booleans or a Categorical")
        return Value("character", s.to_numpy(dtype=object))
    raise TypeError(f"column '{s.name}' has unsupported type {s.dtype}")


def as_factor(v: Value, levels: list[str] | None = None, what: str = "") -> Value:
    """R's factor(): numbers sorted numerically, strings in C-locale order, logicals FALSE < TRUE.

    A factor keeps its level order and drops unused levels.
    """
    ordered = v.ordered if v.kind == "factor" else False
    if v.kind == "factor":
        labels = v.levels
        codes = v.values
    elif v.kind == "logical":
        labels = ["FALSE", "TRUE"]
        codes = v.values.astype(np.int64)
    elif v.kind == "numeric":
        uniq, codes = np.unique(v.values, return_inverse=True)
        labels = level_labels(uniq, v.integer)
    else:
        uniq, codes = np.unique(v.values.astype(str), return_inverse=True)
        labels = [str(u) for u in uniq]
    codes = np.asarray(codes, dtype=np.int64)
    if levels is not None:
        pos = {lab: i for i, lab in enumerate(levels)}
        current = [labels[c] for c in range(len(labels))]
        remap = np.array([pos.get(lab, -1) for lab in current], dtype=np.int64)
        new = remap[codes] if len(codes) else codes
        k = int((new < 0).sum())
        if k:
            raise ValueError(f"{what or 'factor()'}: {k} value(s) are not among the given levels")
        return Value("factor", new, list(levels), ordered=ordered)
    # drop unused levels, keep order
    used = np.zeros(len(labels), dtype=bool)
    used[np.unique(codes)] = True
    if not used.all():
        newpos = np.cumsum(used) - 1
        codes = newpos[codes]
        labels = [lab for lab, u in zip(labels, used, strict=True) if u]
    return Value("factor", codes, list(labels), ordered=ordered)


def _num(v: Value, what: str) -> np.ndarray:
    if v.kind == "numeric":
        return v.values
    if v.kind == "logical":
        return v.values.astype(float)
    raise ValueError(f"non-numeric argument to an arithmetic operator in '{what}'")


def _labels(v: Value) -> np.ndarray:
    if v.kind == "factor":
        return np.asarray(v.levels, dtype=object)[v.values]
    if v.kind == "character":
        return v.values
    if v.kind == "logical":
        return np.where(v.values, "TRUE", "FALSE").astype(object)
    raise TypeError


_CMP = {
    "==": np.equal, "!=": np.not_equal, "<": np.less, ">": np.greater,
    "<=": np.less_equal, ">=": np.greater_equal,
}
_MATH = {
    "log": np.log, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs, "log2": np.log2,
    "log10": np.log10, "log1p": np.log1p, "expm1": np.expm1,
}


def evaluate(node: Node, data: pd.DataFrame) -> Value:
    """Evaluate a parsed formula expression on ``data`` as R would.

    ValueError for an unknown column.
    """
    what = deparse(node)
    if isinstance(node, Name):
        if node.id not in data.columns:
            raise ValueError(f"unknown column '{node.id}' (not in data)")
        return _from_column(data[node.id])
    if isinstance(node, Num):
        if node.text in ("TRUE", "FALSE"):
            return Value("logical", np.asarray(node.value == 1.0))
        return Value("numeric", np.asarray(node.value), integer=node.text.endswith("L"))
    if isinstance(node, Str):
        return Value("character", np.asarray(node.value, dtype=object))
    if isinstance(node, Paren):
        return evaluate(node.inner, data)
    if isinstance(node, Unary):
        v = evaluate(node.operand, data)
        if node.op == "-":
            return Value("numeric", -_num(v, what))
        if node.op == "+":
            return Value("numeric", _num(v, what))
        if node.op == "!":
            if v.kind == "logical":
                return Value("logical", ~v.values)
            return Value("logical", _num(v, what) == 0)
        raise ValueError(f"unsupported operator {node.op!r} in '{what}'")
    if isinstance(node, Binary):
        a, b = evaluate(node.left, data), evaluate(node.right, data)
        op = node.op
        if op in _CMP:
            if a.kind in ("factor", "character") or b.kind in ("factor", "character"):
                if op not in ("==", "!="):
                    raise ValueError(f"ordering comparison of text/factor values in '{what}'")
                la = _labels(a) if a.kind != "numeric" else a.values.astype(str)
                lb = _labels(b) if b.kind != "numeric" else b.values.astype(str)
                return Value("logical", np.asarray(_CMP[op](la, lb), dtype=bool))
            return Value("logical", np.asarray(_CMP[op](_num(a, what), _num(b, what))))
        if op == "%in%":
            la = _labels(a) if a.kind != "numeric" else np.asarray(
                level_labels(np.atleast_1d(a.values), a.integer), dtype=object)
            lb = _labels(b) if b.kind != "numeric" else np.asarray(
                level_labels(np.atleast_1d(b.values), b.integer), dtype=object)
            return Value("logical", np.isin(np.atleast_1d(la).astype(str),
                                            np.atleast_1d(lb).astype(str)))
        if op in ("&", "&&", "|", "||"):
            xa = a.values if a.kind == "logical" else _num(a, what) != 0
            xb = b.values if b.kind == "logical" else _num(b, what) != 0
            f = np.logical_and if op in ("&", "&&") else np.logical_or
            return Value("logical", np.asarray(f(xa, xb)))
        x, y = _num(a, what), _num(b, what)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if op == "+":
                r = x + y
            elif op == "-":
                r = x - y
            elif op == "*":
                r = x * y
            elif op == "/":
                r = x / y
            elif op == "^":
                r = np.power(x, y)
            elif op == "%%":
                r = np.mod(x, y)
            elif op == "%/%":
                r = np.floor_divide(x, y)
            elif op == ":":
                raise ValueError(f"':' inside I() is not supported: '{what}'")
            else:
                raise ValueError(f"unsupported operator {op!r} in '{what}'")
        return Value("numeric", np.asarray(r, dtype=float))
    if isinstance(node, Call):
        f = node.func
        if f in ("factor", "as.factor"):
            if not node.args:
                raise ValueError(f"{f}() needs an argument")
            levels = None
            for k, vnode in node.kwargs:
                if k == "levels" and f == "factor":
                    lv = evaluate(vnode, data)
                    levels = [str(x) for x in np.atleast_1d(_labels(lv) if lv.kind != "numeric"
                                                          else level_labels(lv.values,
                                                                            lv.integer))]
                else:
                    raise ValueError(f"argument '{k}' of {f}() is not supported")
            return as_factor(evaluate(node.args[0], data), levels, what)
        if f == "I":
            if len(node.args) != 1:
                raise ValueError("I() takes one argument")
            return evaluate(node.args[0], data)
        if f == "c":
            vals = [evaluate(a, data) for a in node.args]
            if all(v.kind == "character" for v in vals):
                return Value("character", np.asarray([v.values.item() for v in vals], dtype=object))
            return Value("numeric", np.asarray([float(_num(v, what)) for v in vals]),
                         integer=all(v.integer for v in vals))
        if f in _MATH:
            if len(node.args) == 2 and f == "log":
                base = float(_num(evaluate(node.args[1], data), what))
                with np.errstate(divide="ignore", invalid="ignore"):
                    return Value("numeric", np.log(_num(evaluate(node.args[0], data), what))
                                 / np.log(base))
            if len(node.args) != 1 or node.kwargs:
                raise ValueError(f"{f}() takes one argument")
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return Value("numeric", np.asarray(_MATH[f](_num(evaluate(node.args[0], data),
                                                                 what)), dtype=float))
        if f in ("pmin", "pmax"):
            if len(node.args) < 2 or node.kwargs:
                raise ValueError(f"{f}() takes two or more arguments (no na.rm) in '{what}'")
            vals = [_num(evaluate(a, data), what) for a in node.args]
            g = np.minimum if f == "pmin" else np.maximum
            out = vals[0]
            for v in vals[1:]:
                out = g(out, v)
            return Value("numeric", np.asarray(out, dtype=float))
        if f == "scale":
            if len(node.args) != 1 or node.kwargs:
                raise ValueError(f"only scale(x) with R's defaults is supported (in '{what}')")
            x = _num(evaluate(node.args[0], data), what)
            if x.ndim == 0 or len(x) < 2:
                raise ValueError(f"scale() needs at least two values (in '{what}')")
            return Value("numeric", (x - x.mean()) / x.std(ddof=1))
        if f == "relevel":
            if len(node.args) == 2 and not node.kwargs:
                ref_node = node.args[1]
            elif len(node.args) == 1 and len(node.kwargs) == 1 and node.kwargs[0][0] == "ref":
                ref_node = node.kwargs[0][1]
            else:
                raise ValueError(f"use relevel(x, ref = \"level\") (in '{what}')")
            v = evaluate(node.args[0], data)
            if v.kind != "factor" or v.ordered:
                raise ValueError(f"'relevel' only for (unordered) factors (in '{what}')")
            rv = evaluate(ref_node, data)
            ref = str(rv.values.item()) if rv.kind == "character" else level_labels(
                np.atleast_1d(rv.values), rv.integer)[0]
            if ref not in v.levels:
                raise ValueError(f"'ref' must be an existing level (in '{what}')")
            return as_factor(v, [ref] + [lv for lv in v.levels if lv != ref], what)
        if f == "poly":
            return _poly(node, data, what)
        if f in ("ns", "bs"):
            return _spline(node, data, what)
        if f in ("as.numeric", "as.double", "as.integer"):
            v = evaluate(node.args[0], data)
            if v.kind == "factor":
                x = v.values.astype(float) + 1.0
            elif v.kind == "character":
                raise ValueError(f"{f}() of text values in '{what}'")
            else:
                x = _num(v, what)
            if f == "as.integer":
                return Value("numeric", np.trunc(x), integer=True)
            return Value("numeric", x)
        if f == "as.logical":
            v = evaluate(node.args[0], data)
            if v.kind == "logical":
                return v
            return Value("logical", _num(v, what) != 0)
        raise ValueError(f"function '{f}()' is not supported in formulas (in '{what}')")
    raise ValueError(f"cannot evaluate '{what}'")


def _poly(node: Call, data: pd.DataFrame, what: str, params: dict | None = None) -> Value:
    """R's ``poly(x, degree, raw = FALSE)``.

    Orthonormal polynomials from the LINPACK QR of the centred powers (as stats::poly), or raw
    powers.
    """
    from carts_iptw.irls import qr_dqrdc2

    if not node.args:
        raise ValueError(f"poly() needs a variable (in '{what}')")
    degree, raw = 1, False
    if len(node.args) == 2:
        degree = node.args[1]
    elif len(node.args) > 2:
        raise ValueError(f"poly() of several variables is not supported (in '{what}')")
    for k, v in node.kwargs:
        if k == "degree":
            degree = v
        elif k == "raw":
            raw = bool(evaluate(v, data).values)
        else:
            raise ValueError(f"poly() argument '{k}' is not supported (in '{what}')")
    if isinstance(degree, Node):
        degree = float(_num(evaluate(degree, data), what))
    if degree < 1 or degree != int(degree):
        raise ValueError(f"'degree' must be a positive integer (in '{what}')")
    d = int(degree)
    x = _num(evaluate(node.args[0], data), what)
    names = [str(k) for k in range(1, d + 1)]
    if raw:
        Z = np.power.outer(x, np.arange(1, d + 1, dtype=float))
        return Value("matrix", Z, names, basis={"kind": "poly_raw"})
    if params is not None:  # stats::poly with coefs: the three-term recursion
        alpha, norm2 = params["alpha"], params["norm2"]
        Z = np.ones((len(x), d + 1))
        Z[:, 1] = x - alpha[0]
        for i in range(1, d):
            Z[:, i + 1] = (x - alpha[i]) * Z[:, i] - (norm2[i + 1] / norm2[i]) * Z[:, i - 1]
        Z = (Z / np.sqrt(norm2[1:]))[:, 1:]
        return Value("matrix", Z, names, basis=params)
    else:
        if d >= len(np.unique(x)):
            raise ValueError(f"'degree' must be less than number of unique points (in '{what}')")
        xc = x - x.mean()
        qr = qr_dqrdc2(np.power.outer(xc, np.arange(d + 1, dtype=float)), 1e-7)
        if qr.rank < d:
            raise ValueError(f"'degree' must be less than number of unique points (in '{what}')")
        z = np.zeros_like(qr.qr)
        idx = np.arange(d + 1)
        z[idx, idx] = qr.qr[idx, idx]
        Z = qr.qy(z)
        norm2 = np.sum(Z * Z, axis=0)
        alpha = (np.sum(xc[:, None] * Z * Z, axis=0) / norm2 + x.mean())[:d]
        Z = (Z / np.sqrt(norm2))[:, 1:]
    return Value("matrix", Z, names,
                 basis={"kind": "poly", "alpha": alpha, "norm2": np.r_[1.0, norm2]})


def _spline(node: Call, data: pd.DataFrame, what: str, params: dict | None = None) -> Value:
    """``splines::ns`` / ``splines::bs`` with R's argument order."""
    from .splines import bs_eval, bs_fit, ns_eval, ns_fit

    names = (["x", "df", "knots", "degree", "intercept"] if node.func == "bs"
             else ["x", "df", "knots", "intercept"])
    bound: dict[str, Node] = {}
    if len(node.args) > len(names):
        raise ValueError(f"too many arguments to {node.func}() (in '{what}')")
    for nm, a in zip(names, node.args, strict=False):
        bound[nm] = a
    for k, v in node.kwargs:
        if k not in names:
            raise ValueError(f"{node.func}() argument '{k}' is not supported (in '{what}')")
        bound[k] = v
    if "x" not in bound:
        raise ValueError(f"{node.func}() needs a variable (in '{what}')")
    x = _num(evaluate(bound["x"], data), what)
    df = float(_num(evaluate(bound["df"], data), what)) if "df" in bound else None
    knots = (np.atleast_1d(_num(evaluate(bound["knots"], data), what))
             if "knots" in bound else None)
    intercept = bool(evaluate(bound["intercept"], data).values) if "intercept" in bound else False
    if params is not None:  # new data: the fitted knots (R's makepredictcall)
        if params["kind"] == "bs":
            Z = bs_eval(x, params["knots"], params["bk"], params["degree"], params["intercept"])
        else:
            Z = ns_eval(x, params["knots"], params["bk"], params["intercept"])
    else:
        if x.ndim == 0 or np.ptp(x) == 0:
            raise ValueError(f"{node.func}() needs a non-constant variable (in '{what}')")
        if node.func == "bs":
            degree = float(_num(evaluate(bound["degree"], data), what)) if "degree" in bound \
                else 3
            Z, params = bs_fit(x, df, knots, int(degree), intercept)
        else:
            Z, params = ns_fit(x, df, knots, intercept)
    return Value("matrix", Z, [str(k) for k in range(1, Z.shape[1] + 1)], basis=params)


def evaluate_variable(node: Node, data: pd.DataFrame, basis: dict | None = None) -> Value:
    """Evaluate a model variable.

    ``basis`` (from the fit) rebuilds poly()/ns()/bs() on new data with the fitted parameters, as
    R's ``predict`` does through ``makepredictcall``.
    """
    if basis is not None and isinstance(node, Call):
        what = deparse(node)
        if node.func == "poly" and basis["kind"] == "poly":
            return _poly(node, data, what, basis)
        if node.func in ("ns", "bs") and basis["kind"] == node.func:
            return _spline(node, data, what, basis)
    return evaluate(node, data)
