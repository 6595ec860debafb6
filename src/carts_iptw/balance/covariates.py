"""Covariates as cobalt lays them out for balance tables.

R twin: cobalt's ``get_covs_from_formula`` + ``.get_C2`` (cobalt 4.6.1,
R/functions_for_processing.R). Facts carried over:

* every variable the formula reads is one entry; a factor (or character/logical) is split into
  one 0/1 column per level named ``<var>_<level>`` (``race_black``, ``factor(race)_2``);
* a variable with exactly two distinct values is treated as a two-level factor; if its levels
  are 0/1 (or FALSE/TRUE) only the "1" column is kept and it keeps the bare name (``married``),
  otherwise the first level's column is dropped (``sex_M``);
* factors with more than two levels keep every level (no reference level is dropped);
* interaction terms come after the main effects (R's ``terms()`` order) and become product
  columns joined by ``" * "``; inside an interaction every variable with two values is split into
  both levels (``race_black * married_0``, ``race_black * married_1``), the first variable's
  levels varying fastest; columns constant in the data are dropped;
* a variable with missing values gets an extra ``<var>:<NA>`` indicator column, and its own
  columns keep NaN in those rows (statistics then skip them);
* column type is ``"Binary"`` when the column has at most two distinct values, else
  ``"Contin."``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

_FACTOR_CALL = re.compile(r"^\s*(?:as\.)?factor\(\s*([A-Za-z_.][A-Za-z0-9_.]*)\s*\)\s*$")
_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")


@dataclass
class CovMatrix:
    X: np.ndarray
    names: list[str]
    types: list[str]


def split_top(s: str, sep: str) -> list[str]:
    """Split ``s`` on ``sep`` outside parentheses."""
    out, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [p.strip() for p in out if p.strip()]


def rhs_terms(formula: str) -> tuple[str | None, list[str], list[list[str]]]:
    """Response, variables (in order of first appearance) and terms (lists of variables).

    Supports ``a + b``, ``a:b``, ``a*b`` (expanded to ``a + b + a:b``), ``- 1`` / ``+ 0``
    (ignored: balance tables have no intercept), ``offset()`` (dropped).
    """
    if "~" in formula:
        lhs, rhs = formula.split("~", 1)
        lhs = lhs.strip() or None
    else:
        lhs, rhs = None, formula
    # top-level "+ x" adds a term, "- x" removes one (inside parentheses "-" is arithmetic)
    pieces, removed = [], []
    depth, cur, sign = 0, [], "+"
    for ch in rhs + "+":
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch in "+-" and depth == 0:
            tok = "".join(cur).strip()
            if tok:
                (pieces if sign == "+" else removed).append(tok)
            cur, sign = [], ch
        else:
            cur.append(ch)
    terms: list[list[str]] = []
    for tok in pieces:
        if tok in ("0", "1") or tok.startswith("offset("):
            continue
        if "*" in tok and split_top(tok, "*") != [tok]:
            parts = split_top(tok, "*")
            new = [[p] for p in parts] + [parts]
        else:
            new = [split_top(tok, ":")]
        for t in new:
            if t not in terms:
                terms.append(t)
    terms = [t for t in terms if ":".join(t) not in removed and not (len(t) == 1 and t[0] in ("0", "1"))]
    variables: list[str] = []
    for t in terms:
        for v in t:
            if v not in variables:
                variables.append(v)
    return lhs, variables, terms


def _r_to_py(expr: str) -> str:
    return expr.replace("^", "**")


def eval_variable(expr: str, data: pd.DataFrame) -> pd.Series:
    """Evaluate one formula variable as R would: a column, ``factor(x)``, ``I(...)``, ``log(x)``."""
    expr = expr.strip()
    if expr.startswith("`") and expr.endswith("`"):
        expr = expr[1:-1]
    if expr in data.columns:
        return data[expr]
    m = _FACTOR_CALL.match(expr)
    if m:
        col = m.group(1)
        if col not in data.columns:
            raise ValueError(f"unknown column '{col}' in formula term '{expr}'")
        s = data[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            return s.cat.remove_unused_categories()
        vals = pd.unique(s.dropna())
        try:
            levels = sorted(vals)
        except TypeError:
            levels = sorted(vals, key=str)
        cat = pd.Categorical(s, categories=levels)
        return pd.Series(cat, index=data.index).cat.rename_categories(
            [_r_level(v) for v in levels])
    inner = expr[2:-1] if expr.startswith("I(") and expr.endswith(")") else expr
    names = set(re.findall(r"[A-Za-z_.][A-Za-z0-9_.]*", inner))
    env = {"log": np.log, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs, "log2": np.log2,
           "log10": np.log10, "pi": np.pi}
    unknown = [n for n in names if n not in env and n not in data.columns]
    if unknown:
        raise ValueError(f"unknown column(s) {sorted(unknown)} in formula term '{expr}'")
    for n in names:
        if n in data.columns:
            env[n] = data[n].to_numpy(dtype=float)
    val = eval(_r_to_py(inner), {"__builtins__": {}}, env)  # noqa: S307 - restricted namespace
    return pd.Series(np.broadcast_to(np.asarray(val, dtype=float), (len(data),)), index=data.index)


def _r_level(v) -> str:
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _is_factor_like(s: pd.Series) -> bool:
    return (isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == bool
            or s.dtype == object or pd.api.types.is_string_dtype(s.dtype))


def variable_frame(formula: str, data: pd.DataFrame) -> pd.DataFrame:
    """The covariates as the formula uses them, one column per variable (WeightIt's ``covs``)."""
    _, variables, _ = rhs_terms(formula)
    cols = {}
    for v in variables:
        cols[v] = eval_variable(v, data)
    return pd.DataFrame(cols, index=data.index)


def _levels_of(s: pd.Series) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.dropna().unique())
        return [c for c in s.cat.categories if c in present]
    vals = pd.unique(s.dropna())
    try:
        return sorted(vals)
    except TypeError:
        return sorted(vals, key=str)


def _expand_variable(name: str, s: pd.Series, all_levels: bool = False) -> list[tuple[str, np.ndarray]]:
    """cobalt's columns for one variable (before NA indicators); ``all_levels``: one column per
    level also for two-level variables (as cobalt splits them inside interactions)."""
    na = s.isna().to_numpy()
    if not _is_factor_like(s):
        x = s.to_numpy(dtype=float)
        uniq = np.unique(x[~na])
        if len(uniq) != 2:
            return [(name, x)]
        levels = list(uniq)
    else:
        levels = _levels_of(s)
    lab = [_r_level(v) if not isinstance(v, bool | np.bool_) else ("TRUE" if v else "FALSE")
           for v in levels]
    cols = []
    for v, lv in zip(levels, lab, strict=True):
        col = (s == v).to_numpy(dtype=float)
        col[na] = np.nan
        cols.append((f"{name}_{lv}", col, lv))
    if len(cols) == 2 and not all_levels:
        is0 = [c[2] in ("0", "FALSE") for c in cols]
        is1 = [c[2] in ("1", "TRUE") for c in cols]
        if all(a or b for a, b in zip(is0, is1, strict=True)):
            k = is1.index(True)
            return [(name, cols[k][1])]
        return [(cols[1][0], cols[1][1])]
    return [(c[0], c[1]) for c in cols]


def col_type(x: np.ndarray) -> str:
    u = np.unique(x[~np.isnan(x)])
    return "Binary" if len(u) <= 2 else "Contin."


def cobalt_matrix(covs: pd.DataFrame, terms: list[list[str]] | None = None) -> CovMatrix:
    """Balance-table columns from a frame of variables (and optional interaction terms)."""
    names: list[str] = []
    cols: list[np.ndarray] = []
    per_var: dict[str, list[tuple[str, np.ndarray]]] = {}
    na_cols: dict[str, np.ndarray] = {}
    for v in covs.columns:
        s = covs[v]
        per_var[v] = _expand_variable(v, s)
        if s.isna().any():
            na_cols[v] = s.isna().to_numpy(dtype=float)
    term_list = terms if terms is not None else [[v] for v in covs.columns]
    # R's terms() order: main effects first, then two-way interactions, ... (stable)
    term_list = sorted(term_list, key=len)
    for t in term_list:
        if len(t) == 1:
            for nm, x in per_var[t[0]]:
                names.append(nm)
                cols.append(x)
            if t[0] in na_cols:
                names.append(f"{t[0]}:<NA>")
                cols.append(na_cols[t[0]])
        else:
            parts = [_expand_variable(v, covs[v], all_levels=True) for v in t]
            combos = [("", np.ones(len(covs)))]
            for p in parts:  # the first variable's levels vary fastest, as cobalt names them
                combos = [(a + (" * " if a else "") + nm, xa * x) for nm, x in p for a, xa in combos]
            for nm, x in combos:
                if np.unique(x[~np.isnan(x)]).size > 1:
                    names.append(nm)
                    cols.append(x)
    X = np.column_stack(cols) if cols else np.empty((len(covs), 0))
    return CovMatrix(X=X, names=names, types=[col_type(X[:, j]) for j in range(X.shape[1])])
