"""Table 1 before and after weighting, with unweighted and weighted SMD columns.

``table_one(data, vars, treatment, weights=None, labels=None)`` returns one row per continuous
or binary variable and one per level of a categorical variable, with per-arm summaries before
and after weighting and cobalt's standardised mean differences (treated minus control, pooled
SD of the unweighted sample: ``bal.tab(..., binary = "std", continuous = "std",
s.d.denom = "pooled")``). With ``smd="both"`` it also reports tableone's SMDs
(``tableone::svyCreateTableOne(smd = TRUE)``): one per variable, a multi-level factor's being the
Mahalanobis distance of its level proportions (Yang & Dalton 2012).
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


def _multinomial_smd(P0: np.ndarray, P1: np.ndarray) -> float:
    """Yang & Dalton's SMD of a categorical variable from its level proportions per arm.

    The first level is dropped (the proportions sum to one), the covariance of each arm is the
    multinomial ``diag(p) - p p'``, and the SMD is ``sqrt(d' S^+ d)`` with ``d = p1 - p0`` and
    ``S^+`` the Moore-Penrose inverse of the average covariance at MASS::ginv's tolerance
    (singular values below ``sqrt(eps)`` times the largest are dropped), as tableone.
    """
    if P0.size > 1:
        P0, P1 = P0[1:], P1[1:]
    S = (np.diag(P0) - np.outer(P0, P0) + np.diag(P1) - np.outer(P1, P1)) / 2
    d = P1 - P0
    q = float(d @ np.linalg.pinv(S, rcond=np.sqrt(np.finfo(float).eps)) @ d)
    return float(np.sqrt(max(q, 0.0)))


def _tableone_smds(data, vars, kinds, tr, w) -> dict:
    """{variable: tableone's SMD} (absolute), unweighted (w None) or weighted."""
    ww = np.ones(len(tr)) if w is None else w
    out = {}
    for v in vars:
        s = data[v]
        if kinds[v] == "continuous":
            x = s.to_numpy(dtype=float)
            m, var = [], []
            for g in (0, 1):
                sel = tr == g
                xg, wg = x[sel], ww[sel]
                mg = float(wg @ xg / wg.sum())
                n = int((wg != 0).sum())
                # var(): n - 1; survey::svyvar: the weighted mean square times n / (n - 1)
                var.append(float(wg @ (xg - mg) ** 2 / wg.sum() * n / (n - 1)) if n > 1
                           else np.nan)
                m.append(mg)
            out[v] = abs(m[1] - m[0]) / np.sqrt((var[0] + var[1]) / 2)
        else:  # binary (0/1 or two levels) and categorical: the level proportions
            lv = [0.0, 1.0] if kinds[v] == "binary" else _levels(s)
            vals = s.to_numpy(dtype=float) if kinds[v] == "binary" else s
            P = []
            for g in (0, 1):
                sel = tr == g
                ind = np.column_stack([(np.asarray(vals == lev))[sel] for lev in lv]).astype(float)
                P.append(ww[sel] @ ind / ww[sel].sum())
            out[v] = _multinomial_smd(P[0], P[1])
    return out


def table_one(data: pd.DataFrame, vars, treatment: str, weights=None, labels=None,
              smd: str = "cobalt") -> pd.DataFrame:
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
    smd : {"cobalt", "both"}, default "cobalt"
        ``"cobalt"``: one signed SMD per row (each level of a factor), cobalt's. ``"both"`` adds
        tableone's: ``smd_tableone`` (and with weights ``smd_tableone_weighted``), one absolute
        SMD per variable, repeated on each level row of a factor.

    Returns
    -------
    pandas.DataFrame
        Columns ``variable``, ``label``, ``level``, ``kind``, ``n_control``, ``n_treated``,
        ``mean_control``, ``mean_treated`` (for a binary row or a level: the proportion),
        ``sd_control``, ``sd_treated`` (continuous, unweighted, n - 1), ``smd`` and, with
        weights, ``wmean_control``, ``wmean_treated``, ``smd_weighted``; with ``smd="both"``
        also ``smd_tableone`` (and ``smd_tableone_weighted``).

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

    tableone's SMDs (``smd="both"``; ``tableone::svyCreateTableOne(..., smd = TRUE)``, tableone
    0.13, with binary variables as two-level factors, ``factorVars``): a continuous variable
    ``|m1 - m0| / sqrt((v1 + v0) / 2)`` with each arm's own variance (``var``; weighted:
    ``survey::svyvar``, so the weighted SMD standardises by the weighted variances, unlike
    cobalt); a factor (binary included) the Mahalanobis distance of its level proportions with
    the average multinomial covariance (Yang & Dalton 2012), which for two levels is
    ``|p1 - p0| / sqrt((p1 q1 + p0 q0) / 2)``. Unused factor levels are left out.

    References
    ----------
    Austin PC (2009) Stat Med 28:3083-3107; Greifer N, cobalt 4.6.1 ``?bal.tab``; Yoshida K,
    tableone ``?svyCreateTableOne``; Yang D, Dalton JE (2012) A unified approach to measuring
    the effect size between two groups using SAS, SAS Global Forum paper 335-2012.
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
    if smd not in ("cobalt", "both"):
        raise ValueError("table_one: smd must be 'cobalt' or 'both'")
    rows, cols, binv, kinds = [], [], [], {}
    for v in vars:
        s = data[v]
        k = int(s.isna().sum())
        if k:
            raise ValueError(f"table_one: column '{v}' has {k} missing value(s)")
        kind = kinds[v] = _kind(s)
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
    if smd == "both":
        for col, ww in (("smd_tableone", None), ("smd_tableone_weighted", w)):
            if col.endswith("weighted") and w is None:
                continue
            t1 = _tableone_smds(data, vars, kinds, tr, ww)
            out[col] = out["variable"].map(t1).astype(float)
    return out
