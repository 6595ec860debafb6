"""Chunked and per-stratum versions of the steps that separate over rows (serial or on Dask).

Balance statistics, Table 1 and Kaplan-Meier curves per stratum, from data held in pieces.

Each function takes the data as a list of pandas DataFrames (the chunks: one file each, one
month each, ...) or as a ``dask.dataframe.DataFrame`` (its partitions), and gives the numbers
of the in-memory function on the concatenated data (equal to rounding, ~1e-13 relative; the
tests compare at 1e-12 on uneven chunks):

- :func:`balance_chunked`: weighted group means, (standardised) mean differences and variance
  ratios (cobalt's ``col_w_mean`` / ``col_w_smd`` / ``col_w_vr``, as
  :mod:`carts_iptw.balance.statistics`), from per-chunk sufficient statistics;
- :func:`table_one_chunked`: :func:`carts_iptw.table_one`'s counts, means, SDs, weighted means
  and cobalt SMDs;
- :func:`survfit_by_stratum`: :func:`carts_iptw.survfit`'s weighted Kaplan-Meier curves of
  ``Surv(time, event) ~ strata``, one task per stratum.

Sufficient statistics. For every column, treatment group and weighting (the sampling weights
``sw``, and the balancing weights times them ``w sw``), a chunk gives ``W = sum w``,
``W2 = sum w^2``, the weighted mean ``m`` and ``M2 = sum w (x - m)^2`` over its non-missing
values. Two chunks combine exactly (Chan, Golub & LeVeque 1979)::

    W = Wa + Wb,   m = ma + (mb - ma) Wb / W,   M2 = M2a + M2b + (mb - ma)^2 Wa Wb / W

which, unlike ``sum w x^2 - W m^2``, does not cancel catastrophically (age in days, calendar
times). From them cobalt's conventions follow without another pass: the weighted variance
``(M2 / W) / (1 - W2 / W^2)`` of a continuous column (``col.w.v``, normalised weights, the
usual ``n - 1`` variance under unit weights), ``p (1 - p)`` of a binary one, the standardisation
factor of ``s_d_denom`` from the sampling-weighted statistics only (``"pooled"``: the mean of
the two groups' variances, the *unweighted* pooled SD when there are no sampling weights), and
the whole-sample statistics by combining the two groups.

Not separable this way (and not offered here): weighted KS statistics and quantiles (need the
sorted values across chunks), rank tests. See docs/scale.md.

Engine: a list of chunks runs serially in this process, or with ``client=`` each chunk is sent
to one worker (``client.scatter``) and its statistics computed there; a dask DataFrame's
partitions are computed where they are (``dask.compute`` on the given client, else on dask's
current scheduler). Only the small statistics come back, except for
:func:`survfit_by_stratum`, whose strata gather their own rows (time, event, weight).

References: Chan TF, Golub GH, LeVeque RJ (1979) Updating formulae and a pairwise algorithm for
computing sample variances. Stanford CS report STAN-CS-79-773.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.balance.statistics import _SQRT_EPS, S_D_DENOMS

__all__ = ["balance_chunked", "survfit_by_stratum", "table_one_chunked"]


# --- the engine: one function over the chunks ------------------------------------------------
def _is_dask_frame(obj) -> bool:
    return hasattr(obj, "to_delayed") and hasattr(obj, "npartitions")


def _check_chunks(chunks) -> None:
    if _is_dask_frame(chunks):
        return
    if isinstance(chunks, pd.DataFrame):
        raise TypeError("chunks must be a list of pandas DataFrames or a dask DataFrame; for "
                        "one DataFrame use the in-memory function")
    if not isinstance(chunks, (list, tuple)) or not chunks \
            or not all(isinstance(c, pd.DataFrame) for c in chunks):
        raise TypeError("chunks must be a non-empty list of pandas DataFrames or a dask "
                        "DataFrame")


def _map(fn, args, chunks, client):
    """``[fn(args, chunk) for chunk in chunks]`` here, on ``client``, or where the partitions are."""
    from carts_iptw.resampling._engine import check_engine_args, run_tasks

    check_engine_args(client, None, 0)
    if _is_dask_frame(chunks):
        import dask

        tasks = [dask.delayed(fn)(args, p) for p in chunks.to_delayed()]
        kw = {} if client is None else {"scheduler": client.get}
        return list(dask.compute(*tasks, **kw))
    return run_tasks(fn, args, list(chunks), client=client, retries=2, label="chunks",
                     describe=lambda i, msg: f"chunk {i + 1}: {msg}", scatter_items=True)


# --- sufficient statistics -------------------------------------------------------------------
def _suff(X: np.ndarray, w: np.ndarray) -> dict:
    """W, W2, mean, M2 per column of ``X`` (missing values left out column by column)."""
    ok = ~np.isnan(X)
    Wm = w[:, None] * ok
    W = Wm.sum(axis=0)
    W2 = (Wm * w[:, None]).sum(axis=0)
    x = np.where(ok, X, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(W > 0, (Wm * x).sum(axis=0) / W, 0.0)
    d = np.where(ok, x - mean, 0.0)
    M2 = (Wm * d * d).sum(axis=0)
    return {"W": W, "W2": W2, "mean": mean, "M2": M2, "nz": int(np.count_nonzero(w))}


def _combine(a: dict, b: dict) -> dict:
    """Two chunks' statistics combined (Chan, Golub & LeVeque's pairwise update)."""
    W = a["W"] + b["W"]
    delta = b["mean"] - a["mean"]
    with np.errstate(invalid="ignore", divide="ignore"):
        fb = np.where(W > 0, b["W"] / W, 0.0)
        mean = np.where(a["W"] == 0, b["mean"], np.where(b["W"] == 0, a["mean"],
                                                          a["mean"] + delta * fb))
        M2 = a["M2"] + b["M2"] + np.where((a["W"] > 0) & (b["W"] > 0),
                                          delta * delta * a["W"] * fb, 0.0)
    return {"W": W, "W2": a["W2"] + b["W2"], "mean": mean, "M2": M2, "nz": a["nz"] + b["nz"]}


def _reduce(parts: list[dict]) -> dict:
    out = parts[0]
    for p in parts[1:]:
        out = _combine(out, p)
    return out


def _var(s: dict, bin_vars: np.ndarray) -> np.ndarray:
    """The variance of cobalt's ``col.w.v`` from the statistics: (M2 / W) / (1 - W2 / W^2); p (1 - p) binary."""
    with np.errstate(invalid="ignore", divide="ignore"):
        cont = (s["M2"] / s["W"]) / (1.0 - s["W2"] / (s["W"] * s["W"]))
    return np.where(bin_vars, s["mean"] * (1.0 - s["mean"]), cont)


# --- balance ---------------------------------------------------------------------------------
def _balance_task(args, chunk: pd.DataFrame) -> dict:
    covs, treatment, weights, s_weights = args
    missing = [c for c in [treatment, *covs, *(x for x in (weights, s_weights) if x)]
               if c not in chunk.columns]
    if missing:
        raise ValueError(f"column '{missing[0]}' is not in a chunk")
    t = pd.to_numeric(chunk[treatment], errors="coerce").to_numpy(dtype=float)
    if np.isnan(t).any() or not set(np.unique(t)) <= {0.0, 1.0}:
        raise ValueError(f"treatment column '{treatment}' must be 0/1 without missing values")
    X = np.column_stack([pd.to_numeric(chunk[c], errors="coerce").to_numpy(dtype=float)
                         for c in covs]) if covs else np.zeros((len(chunk), 0))
    for j, c in enumerate(covs):
        if np.isinf(X[:, j]).any():
            raise ValueError(f"column '{c}' has infinite values")
    sw = np.ones(len(chunk)) if s_weights is None else \
        _weights(chunk, s_weights)
    w = None if weights is None else _weights(chunk, weights)
    out = {"binary": np.array([np.isin(X[~np.isnan(X[:, j]), j], (0.0, 1.0)).all()
                               for j in range(X.shape[1])], dtype=bool)}
    for g in (0, 1):
        sel = t == g
        out[("s", g)] = _suff(X[sel], sw[sel])
        if w is not None:
            out[("ws", g)] = _suff(X[sel], w[sel] * sw[sel])
    return out


def _weights(chunk: pd.DataFrame, col: str) -> np.ndarray:
    w = pd.to_numeric(chunk[col], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"weights column '{col}' must be finite and non-negative")
    return w


def _smd(stats: dict, kind: str, bin_vars, s_d_denom, std=True) -> np.ndarray:
    """``col_w_smd`` from the statistics (denominator from the sampling-weighted ones)."""
    diffs = stats[(kind, 1)]["mean"] - stats[(kind, 0)]["mean"]
    to_sd = np.broadcast_to(np.asarray(std, dtype=bool), diffs.shape) & np.isfinite(diffs) \
        & ~(np.abs(diffs) < _SQRT_EPS)
    s0, s1 = stats[("s", 0)], stats[("s", 1)]
    with np.errstate(invalid="ignore"):
        if s_d_denom == "pooled":
            den = np.sqrt((_var(s0, bin_vars) + _var(s1, bin_vars)) / 2)
        elif s_d_denom == "treated":
            den = np.sqrt(_var(s1, bin_vars))
        elif s_d_denom == "control":
            den = np.sqrt(_var(s0, bin_vars))
        elif s_d_denom == "all":
            den = np.sqrt(_var(_combine(s0, s1), bin_vars))
        else:  # weighted: whole sample under this column's weights (col_w_smd's
            # weighted_weights: the balancing weights times the sampling weights for Adj)
            den = np.sqrt(_var(_combine(stats[(kind, 0)], stats[(kind, 1)]), bin_vars))
        bad = ~np.isfinite(den) | (np.abs(den) < _SQRT_EPS)
        den = np.where(bad, np.sqrt(_var(_combine(s0, s1), bin_vars)), den)
        return np.where(to_sd, diffs / den, diffs)


def balance_chunked(chunks, covariates, treatment: str, weights: str | None = None, *,
                    s_weights: str | None = None, bin_vars=None, s_d_denom: str = "pooled",
                    client=None) -> pd.DataFrame:
    """Balance statistics of data in chunks: cobalt's group means, SMDs and variance ratios.

    Parameters
    ----------
    chunks : list of pandas.DataFrame or dask.dataframe.DataFrame
        The data in pieces (any sizes; a chunk may lack a treatment group).
    covariates : list of str
        Numeric columns (0/1 for binary ones; expand factors to indicators first). Missing
        values are left out column by column, as cobalt.
    treatment : str
        A 0/1 column.
    weights : str, optional
        A column of balancing weights (the ``Adj`` columns); ``None``: unadjusted only.
    s_weights : str, optional
        A column of sampling weights (they multiply ``weights`` and alone define the
        standardisation factor, as cobalt's ``s.weights``).
    bin_vars : list of bool, optional
        Which covariates are binary (variance ``p (1 - p)``); default: the columns whose values
        are all 0 or 1.
    s_d_denom : {"pooled", "treated", "control", "all", "weighted"}, default "pooled"
        cobalt's ``s.d.denom``.
    client : dask.distributed.Client, optional
        Compute each chunk's statistics on this cluster.

    Returns
    -------
    pandas.DataFrame
        One row per covariate: ``Type`` (``"Binary"`` / ``"Contin."``), ``M.0.Un``, ``M.1.Un``,
        ``Diff.Un`` (standardised for continuous covariates, raw for binary ones, as cobalt's
        ``binary = "raw"``), ``V.Ratio.Un`` (continuous only), and with ``weights`` the same
        ``.Adj`` columns; also ``SMD.Un`` / ``SMD.Adj`` (every covariate standardised,
        cobalt's ``binary = "std"``).

    Raises
    ------
    TypeError
        ``chunks`` not a list of DataFrames / a dask DataFrame.
    ValueError
        A column missing from a chunk (named), a treatment that is not 0/1 or leaves a group
        without two units of nonzero weight, weights not finite / negative, an unknown
        ``s_d_denom``.

    Notes
    -----
    R twin: ``cobalt::bal.tab(..., disp = "means", stats = c("mean.diffs",
    "variance.ratios"))`` (cobalt 4.6.1), computed by :func:`carts_iptw.balance.statistics`'s
    ``col_w_mean``, ``col_w_smd`` and ``col_w_vr`` on the concatenated data, whose numbers
    this equals to ~1e-13 relative. The rule that leaves a mean difference below
    ``sqrt(eps)`` unstandardised can flip for a difference within rounding of that bound.
    """
    _check_chunks(chunks)
    covs = [covariates] if isinstance(covariates, str) else list(covariates)
    if s_d_denom not in S_D_DENOMS:
        raise ValueError(f"s_d_denom must be one of {S_D_DENOMS}; got {s_d_denom!r}")
    parts = _map(_balance_task, (covs, treatment, weights, s_weights), chunks, client)
    keys = [k for k in parts[0] if k != "binary"]
    stats = {k: _reduce([p[k] for p in parts]) for k in keys}
    if bin_vars is None:
        bv = np.logical_and.reduce([p["binary"] for p in parts]) if covs else np.zeros(0, bool)
    else:
        bv = np.asarray(bin_vars, dtype=bool)
        if bv.shape != (len(covs),):
            raise ValueError("bin_vars must have one value per covariate")
    if stats[("s", 0)]["nz"] == 0 or stats[("s", 1)]["nz"] == 0:
        raise ValueError(f"treatment column '{treatment}' leaves a group empty")
    out = pd.DataFrame({"Type": np.where(bv, "Binary", "Contin.")}, index=covs)
    for kind, suf in (("s", "Un"), ("ws", "Adj")):
        if (kind, 0) not in stats:
            continue
        for g in (0, 1):
            if stats[(kind, g)]["nz"] < 2:
                raise ValueError("at least 2 units in each treatment group must have nonzero "
                                 "weights to compute weighted variance ratios")
        out[f"M.0.{suf}"] = stats[(kind, 0)]["mean"]
        out[f"M.1.{suf}"] = stats[(kind, 1)]["mean"]
        out[f"Diff.{suf}"] = _smd(stats, kind, bv, s_d_denom, std=~bv)
        with np.errstate(invalid="ignore", divide="ignore"):
            vr = _var(stats[(kind, 1)], bv) / _var(stats[(kind, 0)], bv)
        out[f"V.Ratio.{suf}"] = np.where(bv, np.nan, vr)
        out[f"SMD.{suf}"] = _smd(stats, kind, bv, s_d_denom, std=True)
    return out


# --- Table 1 ---------------------------------------------------------------------------------
def _t1_scan(args, chunk: pd.DataFrame) -> dict:
    """Pass 1: each variable's kind, levels and missing count; the treatment's values."""
    from carts_iptw.balance.table_one import _kind

    vars, treatment, weights = args
    for c in [treatment, *vars, *([weights] if weights else [])]:
        if c not in chunk.columns:
            raise ValueError(f"table_one: column '{c}' is not in a chunk")
    out = {}
    for v in vars:
        s = chunk[v]
        info = {"na": int(s.isna().sum()), "cat": isinstance(s.dtype, pd.CategoricalDtype)}
        if info["na"] == 0 and len(s):
            info["kind"] = _kind(s)
        else:
            info["kind"] = None
        if info["cat"]:
            info["categories"] = list(s.cat.categories)
            info["present"] = {c for c in s.cat.categories if (s == c).any()}
        elif info["kind"] != "continuous":
            info["values"] = set(pd.unique(s.dropna()).tolist())
        out[v] = info
    return out


def _t1_stats(args, chunk: pd.DataFrame) -> dict:
    """Pass 2: the sufficient statistics of the Table 1 columns of one chunk."""
    vars, treatment, weights, kinds, levels = args
    t = pd.to_numeric(chunk[treatment], errors="coerce").to_numpy(dtype=float)
    if np.isnan(t).any() or not set(np.unique(t)) <= {0.0, 1.0}:
        raise ValueError(f"table_one: treatment column '{treatment}' must be 0/1 without "
                         "missing values")
    cols = []
    for v in vars:
        s = chunk[v]
        if kinds[v] in ("continuous", "binary"):
            cols.append(s.to_numpy(dtype=float))
        else:
            cols += [(s == lv).to_numpy(dtype=float) for lv in levels[v]]
    X = np.column_stack(cols) if cols else np.zeros((len(chunk), 0))
    one = np.ones(len(chunk))
    out = {}
    for g in (0, 1):
        sel = t == g
        out[("s", g)] = _suff(X[sel], one[sel])
        if weights is not None:
            w = pd.to_numeric(chunk[weights], errors="coerce").to_numpy(dtype=float)
            if not np.isfinite(w).all() or (w < 0).any():
                raise ValueError("table_one: weights must be finite and non-negative")
            out[("ws", g)] = _suff(X[sel], w[sel])
    return out


def table_one_chunked(chunks, vars, treatment: str, weights: str | None = None,
                      labels=None, *, client=None) -> pd.DataFrame:
    """Table 1 of data in chunks: :func:`carts_iptw.table_one` (``smd="cobalt"``), two passes.

    Parameters
    ----------
    chunks : list of pandas.DataFrame or dask.dataframe.DataFrame
        The data in pieces.
    vars, treatment, labels
        As :func:`carts_iptw.table_one`.
    weights : str, optional
        A column of weights (a column name: each chunk carries its rows' weights).
    client : dask.distributed.Client, optional
        Compute each chunk's statistics on this cluster.

    Returns
    -------
    pandas.DataFrame
        :func:`carts_iptw.table_one`'s table: ``variable``, ``label``, ``level``, ``kind``,
        ``n_control``, ``n_treated``, ``mean_control``, ``mean_treated``, ``sd_control``,
        ``sd_treated``, ``smd`` and with weights ``wmean_control``, ``wmean_treated``,
        ``smd_weighted``; the same numbers to ~1e-13 relative.

    Raises
    ------
    TypeError, ValueError
        As :func:`carts_iptw.table_one` (naming the column; the counts of missing values are
        summed over the chunks), and a column absent from a chunk.

    Notes
    -----
    R twin: ``tableone::svyCreateTableOne`` summaries with ``cobalt::bal.tab`` SMDs (survey
    4.1-1, cobalt 4.6.1), as :func:`carts_iptw.table_one`. Pass 1 finds each variable's kind
    (continuous; 0/1 binary; categorical levels: a Categorical's categories present in some
    chunk, in category order, else the sorted union of the values) and the missing values;
    pass 2 the per-arm sufficient statistics under unit weights (counts, means, SDs with
    ``n - 1``, the unweighted pooled SD of both SMDs) and under the weights (the weighted
    means, ``survey::svymean``'s point estimate). tableone's own SMDs (``smd="both"``) are not
    offered here.
    """
    _check_chunks(chunks)
    vars = [vars] if isinstance(vars, str) else list(vars)
    labels = dict(labels or {})
    scans = _map(_t1_scan, (vars, treatment, weights), chunks, client)
    kinds, levels, rows, binv = {}, {}, [], []
    for v in vars:
        infos = [s[v] for s in scans]
        na = sum(i["na"] for i in infos)
        if na:
            raise ValueError(f"table_one: column '{v}' has {na} missing value(s)")
        ks = {i["kind"] for i in infos if i["kind"] is not None}
        if infos[0]["cat"]:
            cats = infos[0]["categories"]
            if any(not i["cat"] or i["categories"] != cats for i in infos):
                raise ValueError(f"table_one: column '{v}' has different categories in "
                                 "different chunks")
            present = set().union(*(i["present"] for i in infos))
            kinds[v] = "categorical"
            levels[v] = [c for c in cats if c in present]
        elif "continuous" in ks:
            kinds[v] = "continuous"
        else:
            vals = set().union(*(i.get("values", set()) for i in infos))
            kind = "categorical" if "categorical" in ks else "binary"
            if kind == "binary" and not ks <= {"binary"}:
                kind = "categorical"
            kinds[v] = kind
            if kind == "categorical":
                try:
                    levels[v] = sorted(vals)
                except TypeError:
                    levels[v] = sorted(vals, key=str)
        if kinds[v] == "continuous":
            rows.append((v, "", "continuous"))
            binv.append(False)
        elif kinds[v] == "binary":
            rows.append((v, "1", "binary"))
            binv.append(True)
        else:
            rows += [(v, str(lv), "categorical") for lv in levels[v]]
            binv += [True] * len(levels[v])
    parts = _map(_t1_stats, (vars, treatment, weights, kinds, levels), chunks, client)
    stats = {k: _reduce([p[k] for p in parts]) for k in parts[0]}
    n = {g: int(stats[("s", g)]["nz"]) for g in (0, 1)}
    if n[0] == 0 or n[1] == 0:
        raise ValueError(f"table_one: treatment column '{treatment}' leaves an arm empty")
    bv = np.asarray(binv, dtype=bool)
    out = pd.DataFrame({"variable": [r[0] for r in rows],
                        "label": [labels.get(r[0], r[0]) for r in rows],
                        "level": [r[1] for r in rows], "kind": [r[2] for r in rows]})
    for g, arm in ((0, "control"), (1, "treated")):
        s = stats[("s", g)]
        out[f"n_{arm}"] = n[g]
        out[f"mean_{arm}"] = s["mean"]
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(s["M2"] / (n[g] - 1)) if n[g] > 1 else np.full(bv.size, np.nan)
        out[f"sd_{arm}"] = np.where(bv, np.nan, sd)
    out["smd"] = _smd(stats, "s", bv, "pooled")
    if weights is not None:
        for g, arm in ((0, "control"), (1, "treated")):
            out[f"wmean_{arm}"] = stats[("ws", g)]["mean"]
        out["smd_weighted"] = _smd(stats, "ws", bv, "pooled")
    return out


# --- Kaplan-Meier per stratum ----------------------------------------------------------------
def _km_scan(args, chunk: pd.DataFrame) -> dict:
    time, event, strata, weights = args
    for c in [time, event, strata, *([weights] if weights else [])]:
        if c not in chunk.columns:
            raise ValueError(f"survfit: column '{c}' is not in a chunk")
    t = pd.to_numeric(chunk[time], errors="coerce").to_numpy(dtype=float)
    s = chunk[strata]
    if s.isna().any():
        raise ValueError(f"survfit: strata column '{strata}' has {int(s.isna().sum())} missing "
                         "value(s)")
    out = {"times": np.unique(t[np.isfinite(t)]), "rwt": False,
           "cat": list(s.cat.categories) if isinstance(s.dtype, pd.CategoricalDtype) else None,
           "levels": set(pd.unique(s).tolist())}
    if weights:
        w = pd.to_numeric(chunk[weights], errors="coerce").to_numpy(dtype=float)
        out["rwt"] = bool(np.any(w != np.floor(w)))
    return out


def _km_split(args, chunk: pd.DataFrame) -> dict:
    """Pass 2: each stratum's (time, event, weight) rows of one chunk."""
    time, event, strata, weights, levels = args
    s = chunk[strata]
    cols = {"t": chunk[time].to_numpy(), "e": chunk[event].to_numpy()}
    if weights:
        cols["w"] = chunk[weights].to_numpy()
    out = {}
    for lv in levels:
        sel = (s == lv).to_numpy()
        if sel.any():
            out[lv] = {k: v[sel] for k, v in cols.items()}
    return out


def _km_task(args, item):
    from carts_iptw.survival.survfit import survfit_km

    conf_type, conf_int, robust, cuts, names = args
    t, e, w = item
    if cuts is not None:  # survival's aeqSurv on the whole sample's times (see survfit_by_stratum)
        t = np.asarray(t, dtype=float)
        z = np.searchsorted(cuts, t, side="right") - 1
        t = np.where(np.isfinite(t), cuts[np.clip(z, 0, len(cuts) - 1)], t)
    return survfit_km(t, e, w, conf_type=conf_type, conf_int=conf_int, robust=robust,
                      timefix=False, names=names)


def _r_label(v) -> str:
    """R's ``as.character`` of a stratum value (15 significant digits; 1.0 -> "1")."""
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.15g}"
    return str(v)


def survfit_by_stratum(chunks, time: str, event: str, strata: str, weights: str | None = None,
                       *, conf_type: str = "log", conf_int: float = 0.95, robust=None,
                       timefix: bool = True, client=None):
    """Weighted Kaplan-Meier curves per stratum of data in chunks, one task per stratum.

    Parameters
    ----------
    chunks : list of pandas.DataFrame or dask.dataframe.DataFrame
        The data in pieces.
    time, event : str
        Right-censored follow-up time and 0/1 event columns.
    strata : str
        The stratum column (one curve per value, labelled ``"strata=value"`` as R).
    weights : str, optional
        A column of case weights.
    conf_type, conf_int, robust, timefix
        As :func:`carts_iptw.survfit`; ``robust=None`` applies survival's rule (robust when
        any weight, in any chunk, is non-integer).
    client : dask.distributed.Client, optional
        Scan the chunks and fit the strata on this cluster (each stratum's rows are gathered
        from the chunks and sent to one worker).

    Returns
    -------
    SurvFit
        The object of ``survfit(f"Surv({time}, {event}) ~ {strata}", concatenated chunks,
        weights=...)``: ``table``, ``strata``, ``n``, ``median()``, ``at_times()``, ...

    Raises
    ------
    TypeError, ValueError
        As :func:`carts_iptw.survfit`, and a column absent from a chunk, missing strata.

    Notes
    -----
    R twin: ``survival::survfit(Surv(time, event) ~ strata, weights = w)`` (survival 3.5-3),
    as :func:`carts_iptw.survfit`. The curves of different strata share nothing but two
    whole-sample facts, found in a first pass over the chunks: the variance rule (any
    non-integer weight) and survival's ``aeqSurv`` tie correction (``timefix``), whose
    tolerance and tied runs are those of the sorted unique times of the whole sample. Each
    stratum's rows are then gathered in chunk order and fitted alone: the same numbers as the
    in-memory fit. A stratum's rows must fit in one worker's memory.
    """
    from carts_iptw.resampling._engine import run_tasks
    from carts_iptw.survival.surv import _TOL
    from carts_iptw.survival.survfit import SurvFit

    _check_chunks(chunks)
    scans = _map(_km_scan, (time, event, strata, weights), chunks, client)
    cats = scans[0]["cat"]
    present = set().union(*(s["levels"] for s in scans))
    if cats is not None:
        levels = [c for c in cats if c in present]
    else:
        try:
            levels = sorted(present)
        except TypeError:
            levels = sorted(present, key=str)
    if robust is None:
        robust = any(s["rwt"] for s in scans)
    cuts = None
    if timefix:
        y = np.unique(np.concatenate([s["times"] for s in scans]))
        if len(y) >= 2:
            dy = np.diff(y)
            tied = (dy <= _TOL) | (dy / np.mean(np.abs(y)) <= _TOL)
            if tied.any():
                cuts = y[np.concatenate([[True], ~tied])]
    parts = _map(_km_split, (time, event, strata, weights, levels), chunks, client)
    items = []
    for lv in levels:  # pop: a chunk's piece of a stratum is freed once gathered
        got = [p.pop(lv) for p in parts if lv in p]
        cat = {k: np.concatenate([g[k] for g in got]) for k in got[0]}
        del got
        items.append((cat["t"], cat["e"], cat.get("w")))
    names = {"time": time, "event": event, "weights": weights or "weights"}
    fits = run_tasks(_km_task, (conf_type, conf_int, bool(robust), cuts, names), items,
                     client=client, retries=2, label="strata", scatter_items=True,
                     describe=lambda i, msg: f"stratum {strata}={levels[i]}: {msg}")
    labels = [f"{strata}={_r_label(lv)}" for lv in levels]
    frames, curves, ns = [], {}, {}
    for lab, f in zip(labels, fits, strict=True):
        frames.append(f.table.assign(strata=lab))
        curves[lab] = f._curves["all"]
        ns[lab] = int(f.n["all"])
    f0 = fits[0]
    return SurvFit(table=pd.concat(frames, ignore_index=True), strata=labels, n=pd.Series(ns),
                   conf_type=f0.conf_type, conf_level=f0.conf_level, robust=f0.robust,
                   logse=f0.logse, formula=f"Surv({time}, {event}) ~ {strata}",
                   _curves=curves)
