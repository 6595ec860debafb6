"""Table 1 before and after weighting, with unweighted and weighted SMD columns.

``table_one(data, vars, treatment, weights=None, labels=None)`` returns one row per continuous
or binary variable and one per level of a categorical variable, with per-arm summaries before
and after weighting and cobalt's standardised mean differences (treated minus control, pooled
SD of the unweighted sample: ``bal.tab(..., binary = "std", continuous = "std",
s.d.denom = "pooled")``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.balance.statistics import col_w_smd

__all__ = ["table_one"]


def _kind(s: pd.Series) -> str:
    if isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s) \
            or pd.api.types.is_bool_dtype(s):
        return "binary" if s.dropna().nunique() <= 2 and pd.api.types.is_bool_dtype(s) \
            else "categorical"
    vals = set(np.unique(s.dropna().to_numpy(dtype=float)).tolist())
    return "binary" if vals <= {0.0, 1.0} else "continuous"


def _levels(s: pd.Series) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return [c for c in s.cat.categories if (s == c).any()]
    vals = pd.unique(s.dropna())
    try:
        return sorted(vals)
    except TypeError:
        return sorted(vals, key=str)


def table_one(data: pd.DataFrame, vars, treatment: str, weights=None, labels=None
              ) -> pd.DataFrame:
    """Table 1 by treatment arm, unweighted and weighted, with both SMDs.

    Parameters
    ----------
    data : pandas.DataFrame
        The cohort.
    vars : list of str
        The column names; their kind is inferred: numeric with values other than 0/1 =
        continuous; 0/1 = binary; anything else = categorical.
    treatment : str
        A 0/1 column.
    weights : str or array-like, optional
        None (unweighted columns only), a column name or an array (one non-negative weight per
        row).
    labels : dict, optional
        ``{column: label}``.

    Returns
    -------
    pandas.DataFrame
        Columns ``variable``, ``label``, ``level``, ``kind``, ``n_control``, ``n_treated``,
        ``mean_control``, ``mean_treated`` (for a binary row or a level: the proportion),
        ``sd_control``, ``sd_treated`` (continuous, unweighted, n - 1), ``smd`` and, with
        weights, ``wmean_control``, ``wmean_treated``, ``smd_weighted``.

    Raises
    ------
    ValueError
        Naming the column, for an unknown column, a treatment that is not 0/1 or leaves an arm
        empty, missing values, or weights of the wrong length / negative.

    Notes
    -----
    Twin of ``tableone::svyCreateTableOne`` summaries (means and percentages by arm; weighted:
    ``survey::svymean`` per arm) with ``cobalt::bal.tab`` SMD conventions (see module doc):
    continuous variables standardised by the pooled SD of the unweighted arms, binary and each
    level of a categorical variable as a proportion standardised the same way (cobalt's
    ``binary = "std"``; tableone instead reports one multivariate SMD per categorical
    variable). R twin versions: survey 4.1-1, cobalt 4.6.1.

    References
    ----------
    Austin PC (2009) Stat Med 28:3083-3107; Greifer N, cobalt 4.6.1 ``?bal.tab``; Yoshida K,
    tableone ``?svyCreateTableOne``.
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    vars = [vars] if isinstance(vars, str) else list(vars)
    labels = dict(labels or {})
    for c in [treatment, *vars]:
        if c not in data.columns:
            raise ValueError(f"table_one: column '{c}' is not in data")
    t = pd.to_numeric(data[treatment], errors="coerce").to_numpy(dtype=float)
    if np.isnan(t).any() or not set(np.unique(t)) <= {0.0, 1.0}:
        raise ValueError(f"table_one: treatment column '{treatment}' must be 0/1 without "
                         "missing values")
    if (t == 1).sum() == 0 or (t == 0).sum() == 0:
        raise ValueError(f"table_one: treatment column '{treatment}' leaves an arm empty")
    w = None
    if weights is not None:
        if isinstance(weights, str):
            if weights not in data.columns:
                raise ValueError(f"table_one: weights column '{weights}' is not in data")
            w = pd.to_numeric(data[weights], errors="coerce").to_numpy(dtype=float)
        else:
            w = np.asarray(weights, dtype=float)
        if w.shape != (len(data),):
            raise ValueError(f"table_one: weights must have one value per row ({len(data)})")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("table_one: weights must be finite and non-negative")
    rows, cols, binv = [], [], []
    for v in vars:
        s = data[v]
        k = int(s.isna().sum())
        if k:
            raise ValueError(f"table_one: column '{v}' has {k} missing value(s)")
        kind = _kind(s)
        if kind == "continuous":
            cols.append(s.to_numpy(dtype=float))
            binv.append(False)
            rows.append((v, "", kind))
        elif kind == "binary":
            cols.append(s.to_numpy(dtype=float))
            binv.append(True)
            rows.append((v, "1", kind))
        else:
            for lv in _levels(s):
                cols.append((s == lv).to_numpy(dtype=float))
                binv.append(True)
                rows.append((v, str(lv), kind))
    X = np.column_stack(cols) if cols else np.zeros((len(data), 0))
    tr = t.astype(int)
    out = pd.DataFrame({"variable": [r[0] for r in rows],
                        "label": [labels.get(r[0], r[0]) for r in rows],
                        "level": [r[1] for r in rows], "kind": [r[2] for r in rows]})
    for g, arm in ((0, "control"), (1, "treated")):
        m = tr == g
        out[f"n_{arm}"] = int(m.sum())
        out[f"mean_{arm}"] = X[m].mean(axis=0)
        sd = X[m].std(axis=0, ddof=1) if m.sum() > 1 else np.full(X.shape[1], np.nan)
        out[f"sd_{arm}"] = np.where(binv, np.nan, sd)
    out["smd"] = col_w_smd(X, tr, None, std=True, s_d_denom="pooled", bin_vars=binv)
    if w is not None:
        from carts_iptw.design.describe import svymean
        from carts_iptw.design.svydesign import svydesign

        names = [f"_t1_{i}" for i in range(X.shape[1])]
        frame = pd.DataFrame(X, columns=names)
        for g, arm in ((0, "control"), (1, "treated")):
            m = tr == g
            d = svydesign(frame.loc[m].reset_index(drop=True), weights=w[m])
            out[f"wmean_{arm}"] = np.asarray(svymean(names, d).coef, dtype=float)
        out["smd_weighted"] = col_w_smd(X, tr, w, std=True, s_d_denom="pooled",
                                        bin_vars=binv)
    return out
