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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from carts_iptw.formula.evaluate import column_names_used, evaluate
from carts_iptw.formula.parser import Name, Node, deparse, parse_formula
from carts_iptw.formula.terms import build_terms


@dataclass
class CovMatrix:
    """Balance-table columns: the matrix ``X``, its column ``names`` and cobalt's ``types``."""

    X: np.ndarray
    names: list[str]
    types: list[str]


def _variable_name(node) -> str:
    """A variable's name in balance tables.

    A column's own name (cobalt shows ``x y``, not the backticked form), otherwise R's deparsed
    expression (``factor(race)``, ``I(age^2)``).
    """
    return node.id if isinstance(node, Name) else deparse(node)


def parse_covariates(formula: str) -> tuple[str | None, list[tuple[str, Node]], list[list[str]]]:
    """Treatment column, variables ``(name, expression)`` and terms of a formula.

    Variables in order of first appearance, terms as lists of variable names, read by the
    package's one R-formula parser (:mod:`carts_iptw.formula`), so that backticked names (a
    column ``x-1`` or ``TRUE``) mean the same column here as in ``model_frame``, ``glm``,
    ``svyglm`` and ``coxph``.

    As R's ``terms()``: ``a*b`` is ``a + b + a:b``, ``- x`` removes a term, terms are ordered
    by degree; ``- 1`` / ``+ 0`` are ignored (balance tables have no intercept) and
    ``offset()``, ``strata()`` and ``cluster()`` are dropped.
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise TypeError("formula must be a string 'treatment ~ covariates'")
    response, rhs = parse_formula(formula)
    terms = build_terms(response, rhs)
    lhs = None if response is None else _variable_name(response)
    first = 0 if response is None else 1
    used = sorted({i for t in terms.terms for i in t})
    nodes = {i: terms.variables[i] for i in used if i >= first}
    names = {i: _variable_name(nd) for i, nd in nodes.items()}
    variables = [(names[i], nodes[i]) for i in sorted(nodes)]
    term_list = [[names[i] for i in t] for t in terms.terms]
    return lhs, variables, term_list


def rhs_terms(formula: str) -> tuple[str | None, list[str], list[list[str]]]:
    """Response, variable names (in order of first appearance) and terms (lists of variable names).

    See :func:`parse_covariates`.
    """
    lhs, variables, terms = parse_covariates(formula)
    return lhs, [v for v, _ in variables], terms


def eval_variable(node: Node, data: pd.DataFrame) -> pd.Series:
    """Evaluate one formula variable as R would (the formula layer's ``evaluate``).

    A column is returned as it is (its missing values become cobalt's ``<NA>`` rows), ``factor(x)``
    a Categorical with R's levels; in any other expression a row with a missing input is missing
    (R's NA propagation).
    """
    if isinstance(node, Name):
        if node.id not in data.columns:
            raise ValueError(f"unknown column '{node.id}' in formula (not in data)")
        return data[node.id]
    cols = column_names_used(node)
    unknown = [c for c in cols if c not in data.columns]
    if unknown:
        raise ValueError(f"unknown column(s) {', '.join(repr(u) for u in unknown)} in formula "
                         f"term '{deparse(node)}' (not in data)")
    na = np.zeros(len(data), dtype=bool)
    for c in cols:
        na |= data[c].isna().to_numpy()
    if na.any():  # evaluate on the complete rows, then put the missing rows back
        v = evaluate(node, data.loc[~na])
    else:
        v = evaluate(node, data)
    if v.kind == "matrix":
        raise ValueError(f"'{deparse(node)}' gives several columns: not supported in balance "
                         "tables; list its variables instead")
    vals = np.broadcast_to(v.values, (int((~na).sum()),))
    if v.kind == "factor":
        codes = np.full(len(data), -1, dtype=np.int64)
        codes[~na] = vals
        cat = pd.Categorical.from_codes(codes, categories=list(v.levels))
        return pd.Series(cat, index=data.index).cat.remove_unused_categories()
    if v.kind == "character":
        out = np.full(len(data), None, dtype=object)
        out[~na] = vals
        return pd.Series(out, index=data.index, dtype=object)
    out = np.full(len(data), np.nan)
    out[~na] = vals.astype(float)
    if v.kind == "logical" and not na.any():
        return pd.Series(out.astype(bool), index=data.index)
    return pd.Series(out, index=data.index)


def _r_level(v) -> str:
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _is_factor_like(s: pd.Series) -> bool:
    return (isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == bool
            or s.dtype == object or pd.api.types.is_string_dtype(s.dtype))


def variable_frame(formula: str, data: pd.DataFrame, matrix_terms: str = "raise") -> pd.DataFrame:
    """The covariates as the formula uses them, one column per variable (WeightIt's ``covs``).

    A term that gives several columns (``ns(x, 3)``, ``bs()``, ``poly()``) raises, or with
    ``matrix_terms="columns"`` contributes the data columns it reads (as WeightIt's ``covs``).
    """
    _, variables, _ = parse_covariates(formula)
    out: dict = {}
    for name, node in variables:
        try:
            out[name] = eval_variable(node, data)
        except ValueError as e:
            if matrix_terms != "columns" or "gives several columns" not in str(e):
                raise
            for c in column_names_used(node):
                out.setdefault(c, data[c])
    return pd.DataFrame(out, index=data.index)


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
    """Cobalt's columns for one variable (before NA indicators).

    ``all_levels``: one column per level also for two-level variables (as cobalt splits them inside
    interactions).
    """
    na = s.isna().to_numpy()
    if not _is_factor_like(s):
        x = s.to_numpy(dtype=float)
        uniq = _few_values(x[~na])
        if uniq is None or len(uniq) != 2:
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


def _few_values(x: np.ndarray) -> np.ndarray | None:
    """``np.unique(x)`` when x (no NaN) has at most two distinct values, else None.

    Two comparisons instead of a sort: a continuous column of 10^6 rows is recognised at once.
    """
    if x.size == 0:
        return np.unique(x)
    a = x[0]
    other = x != a
    if not other.any():
        return np.unique(x[:1])
    b = x[int(np.argmax(other))]
    if not ((x == a) | (x == b)).all():
        return None
    return np.unique(np.array([a, b]))


def col_type(x: np.ndarray) -> str:
    """Cobalt's variable type of a column.

    ``"Binary"`` (at most two distinct values) or ``"Contin."``.
    """
    nan = np.isnan(x)
    return "Binary" if _few_values(x[~nan] if nan.any() else x) is not None else "Contin."


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
    # the types from the columns before stacking (contiguous; the same values as X[:, j])
    return CovMatrix(X=X, names=names, types=[col_type(np.asarray(c, dtype=float)) for c in cols])
