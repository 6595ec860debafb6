"""A study with ``[propensity] missing = "mi"``: multiple imputation of missing covariates.

The eligible cohort's propensity and adjustment covariates are imputed ``m`` times by chained
equations (:func:`carts_iptw.imputation.mice`, seeded by the spec's ``seed``; the treatment
and the outcome columns are in the imputation model, as predictors only). The whole analysis
(weights, balance, Table 1, outcomes, effect models) runs in each completed data set; the
odds ratios, hazard ratios and mean differences (svyglm gaussian) are pooled over the ``m`` data sets by Rubin's rules
(:func:`carts_iptw.imputation.pool`, the twin of ``mice::pool``, on the fitted models), the
marginal risk difference and ratio, the survival differences at the horizons and the RMST
difference by :func:`carts_iptw.imputation.pool_scalar`
(``mice::pool.scalar``, infinite complete-data df as mice takes for marginaleffects results),
and the balance is summarised across imputations as cobalt does
(:func:`carts_iptw.imputation.bal_tab_mi`).

Descriptive numbers (Table 1, weighted rates and means, curves, per-imputation balance) and
the estimates not pooled in this version (subgroups, competing risks; the weighted rates,
means and survival per arm) are those of the first completed data set: ``results["mi"]`` says so, and the
report's methods paragraph too. ``results["mi"]["imputed"]`` counts the imputed values per
column (names and counts only, never a value).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from carts_iptw.study import analysis as A
from carts_iptw.study.provenance import num
from carts_iptw.study.spec import StudySpec


def _outcome_columns(spec: StudySpec) -> list[tuple[str, str]]:
    """(column, outcome name) of the columns an outcome is measured by."""
    out = []
    for o in spec.outcomes:
        cols = []
        if o.type in ("time_to_event", "competing"):
            cols += [o.time, o.event, o.competing_time, o.competing_event]
        if o.type == "continuous":
            cols.append(o.column)
        out += [(c, o.name) for c in cols if c]
    return out


def check_mi_input(data: pd.DataFrame, spec: StudySpec) -> None:
    """Treatment and outcome columns complete; ``ValueError`` naming the column otherwise."""
    t = spec.treatment
    k = int(data[t].isna().sum()) if t in data.columns else 0
    if k:
        raise ValueError(f"treatment column '{t}' has {k} missing value(s): missing = \"mi\" "
                         "imputes covariates only; exclude those rows with an eligibility rule")
    for c, name in _outcome_columns(spec):
        if c in data.columns:
            k = int(data[c].isna().sum())
            if k:
                raise ValueError(f"outcome {name}: column '{c}' has {k} missing value(s): "
                                 "missing = \"mi\" imputes covariates only, never an outcome; "
                                 "exclude those rows with an eligibility rule")


def _imputation_columns(data: pd.DataFrame, spec: StudySpec) -> list[str]:
    cols = [spec.treatment, *spec.model_columns(), *(c for c, _ in _outcome_columns(spec))]
    out = []
    for c in dict.fromkeys(cols):
        if c not in data.columns:
            continue
        s = data[c]
        if isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_numeric_dtype(s.dtype) \
                or pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_object_dtype(s.dtype) \
                or pd.api.types.is_string_dtype(s.dtype):
            out.append(c)
    return out


def _pooled_cells(p, term: str) -> dict:
    t = p.tidy()
    row = t[t["term"] == term].iloc[0]
    x = p.pooled[p.pooled["term"] == term].iloc[0]
    cells = {k: num(x[k], "pool") for k in ("ubar", "b", "t", "dfcom", "df", "riv", "lambda",
                                            "fmi")}
    cells["m"] = num(p.m, "count")
    return {"estimate": float(row["estimate"]), "std_error": float(row["std_error"]),
            "low": float(row["conf_low"]), "high": float(row["conf_high"]),
            "p": float(row["p_value"]), "pooled": cells}


def _pool_cells(first: dict, cells: list[dict], log: bool = False) -> dict | None:
    """Pool per-imputation cells ``estimate`` / ``se`` by :func:`pool_scalar` (dfcom = Inf).

    ``log``: the estimate is a ratio whose ``se`` is on the log scale. Returns ``first`` with
    pooled ``estimate``, ``se``, ``lower``, ``upper`` (t with the Barnard-Rubin df) and ``p``
    (function "pool"), or None when a cell is missing.
    """
    from scipy import stats

    from carts_iptw.imputation import pool_scalar

    est = [(c.get("estimate") or {}).get("value") for c in cells]
    se = [(c.get("se") or {}).get("value") for c in cells]
    if any(v is None for v in est + se) or (log and any(v <= 0 for v in est)):
        return None
    q = np.log(est) if log else np.asarray(est, dtype=float)
    ps = pool_scalar(q, np.asarray(se, dtype=float) ** 2)
    s = math.sqrt(ps["t"])
    qt = float(stats.t.ppf(0.975, ps["df"]))
    lo, hi = ps["qbar"] - qt * s, ps["qbar"] + qt * s
    p = float(2 * stats.t.sf(abs(ps["qbar"] / s), max(ps["df"], 0.001))) if s > 0 else math.nan
    tr = math.exp if log else float
    new = dict(first)
    new.update({"estimate": num(tr(ps["qbar"]), "pool"), "se": num(s, "pool"),
                "lower": num(tr(lo), "pool"), "upper": num(tr(hi), "pool"),
                "p": num(p, "pool")})
    if log:
        new["se"]["scale"] = "log"
    return new


def _pool_effects(eff: dict, results: list, key: str, name: str, spec: StudySpec) -> dict:
    """Pool the marginal risk difference and ratio (``avg_comparisons``) by Rubin's rules.

    :func:`pool_scalar` with an infinite complete-data df, as ``mice::pool`` takes for
    marginaleffects results; the ratio on the log scale.
    """
    per = []
    for res in results:
        e = next(x for x in res[key] if x["name"] == name).get("effects") or {}
        per.append(e)
    out = dict(eff)
    for k, log in (("rd", False), ("rr", True)):
        if k not in eff:
            continue
        new = _pool_cells(eff[k], [e.get(k) or {} for e in per], log)
        if new is not None:
            out[k] = new
    if "evalue_rr" in eff and "rr" in out:
        o = next(o for o in spec.outcomes if o.name == name)
        rr = out["rr"]
        out["evalue_rr"] = A._evalue_cells(rr["estimate"], rr["lower"], rr["upper"], "RR", o)
    return out


def _completed(data: pd.DataFrame, comp: pd.DataFrame, imputed: list[str]) -> pd.DataFrame:
    """``data`` with the imputed columns of one completed data set."""
    d = data.copy()
    for c in imputed:
        d[c] = comp[c].to_numpy() if not isinstance(comp[c].dtype, pd.CategoricalDtype) \
            else comp[c]
    return d


def _imputation_task(payload, i: int) -> tuple[dict, dict]:
    """The whole analysis in completed data set ``i`` (1-based); one task of the engine."""
    data, imp, imputed, spec1, analyse_eligible = payload
    d = _completed(data, imp.complete(i), imputed)
    return analyse_eligible(d, spec1, lambda s: None, keep_fits=True)


def analyse_mi(data: pd.DataFrame, spec: StudySpec, step: Callable[[str], None],
               analyse_eligible: Callable, *, client=None, n_workers=None,
               retries: int = 2) -> tuple[dict, dict]:
    """Impute, analyse each completed data set, pool; returns (results, objects).

    ``client`` / ``n_workers``: the engine of :mod:`carts_iptw.resampling` (serial by
    default): the ``m`` chains of :func:`mice` (each from its own seed) and then the ``m``
    per-imputation analyses run on Dask, one task each; the results are the same as serially
    (the imputations are drawn first; each analysis is a function of its completed data set).
    ``analyse_eligible`` must then be importable on the workers (a module-level function).
    Use worker processes (``n_workers=`` starts single-threaded ones): an analysis records its
    warnings with ``warnings.catch_warnings``, which is process-global, so two analyses must
    not run as threads of one process.
    """
    from carts_iptw.imputation import WeightItMi, bal_tab_mi, mice, pool
    from carts_iptw.resampling._engine import check_engine_args, run_tasks, session

    p = spec.propensity
    check_mi_input(data, spec)
    check_engine_args(client, n_workers, retries)
    cols = _imputation_columns(data, spec)
    spec1 = dataclasses.replace(spec, propensity=dataclasses.replace(p, missing="error"))
    with session(client, n_workers) as cl:
        step(f"multiple imputation (m = {p.m}, seed {p.seed})")
        imp = mice(data[cols], m=p.m, seed=p.seed, client=cl, retries=retries)
        imputed = [c for c in cols if imp.method.get(c)]
        # the cohort checks of each analysis (a Table 1 column left incomplete, ...) raise
        # their own error (CohortValidationError) here, before the analyses are farmed out
        A.check_model_columns(_completed(data, imp.complete(1), imputed), spec1)
        step(f"imputations 1 to {p.m}: weights, balance and outcome models"
             + ("" if cl is None else " (on Dask)"))
        runs = run_tasks(
            _imputation_task, (data, imp, imputed, spec1, analyse_eligible),
            list(range(1, p.m + 1)), client=cl, retries=retries,
            progress=lambda done, total: step(f"imputation analyses done: {done} of {total}"),
            label="imputations",
            describe=lambda i, msg: f"imputation {i + 1} of {p.m}: {msg}")
    res, objs = runs[0]
    res = dict(res)
    step("pooling (Rubin's rules) and balance across imputations")
    trt = spec.treatment
    pooled_names, not_pooled = [], []
    entries = []
    for r in res.get("continuous_outcomes", []):
        fits = [o.get("fits", {}).get(("continuous", r["name"])) for _, o in runs]
        r = dict(r)
        if all(f is not None for f in fits) and "difference" in r:
            c = _pooled_cells(pool(fits), trt)
            r["difference"] = {"estimate": num(c["estimate"], "pool"),
                               "se": num(c["std_error"], "pool"),
                               "lower": num(c["low"], "pool"), "upper": num(c["high"], "pool"),
                               "p": num(c["p"], "pool")}
            r["pooled"] = c["pooled"]
            pooled_names.append(f"continuous_outcomes:{r['name']}")
        entries.append(r)
    if "continuous_outcomes" in res:
        res["continuous_outcomes"] = entries
    for kind, key, ratio in (("odds_ratio", "odds_ratios", "or"), ("cox", "cox", "hr")):
        entries = []
        for r in res.get(key, []):
            fits = [o.get("fits", {}).get((kind, r["name"])) for _, o in runs]
            if any(f is None for f in fits):  # separation (Firth) in an imputation, etc.
                r = dict(r)
                r["mi"] = "not pooled: the model was not fitted by maximum likelihood in "
                r["mi"] += "every completed data set; the numbers are those of the first"
                not_pooled.append(f"{key}:{r['name']}")
                entries.append(r)
                continue
            c = _pooled_cells(pool(fits), trt)
            r = dict(r)
            r[ratio] = num(math.exp(c["estimate"]), "pool")
            r["lower"] = num(math.exp(c["low"]), "pool")
            r["upper"] = num(math.exp(c["high"]), "pool")
            r["p"] = num(c["p"], "pool")
            if "robust_se" in r:
                r["robust_se"] = num(c["std_error"], "pool")
            r["pooled"] = c["pooled"]
            if "effects" in r:
                r["effects"] = _pool_effects(r["effects"], [rr for rr, _ in runs], key,
                                             r["name"], spec)
            if "evalue" in r:
                o = next(o for o in spec.outcomes if o.name == r["name"])
                r["evalue"] = A._evalue_cells(r[ratio], r["lower"], r["upper"],
                                              "OR" if ratio == "or" else "HR", o)
            pooled_names.append(f"{key}:{r['name']}")
            entries.append(r)
        if key in res:
            res[key] = entries
    # survival differences at the horizons and the RMST difference: pool_scalar (z-based)
    surv = []
    for k, r in enumerate(res.get("survival", [])):
        r = dict(r)
        per = [rr["survival"][k] for rr, _ in runs]
        if isinstance(r.get("difference"), dict):
            diff = dict(r["difference"])
            for h in [h for h, v in diff.items() if isinstance(v, dict) and "estimate" in v]:
                new = _pool_cells(diff[h], [(x.get("difference") or {}).get(h) or {}
                                            for x in per])
                if new is not None:
                    diff[h] = new
            r["difference"] = diff
        if isinstance(r.get("rmst"), dict) and isinstance(r["rmst"].get("difference"), dict):
            new = _pool_cells(r["rmst"]["difference"],
                              [((x.get("rmst") or {}).get("difference") or {}) for x in per])
            if new is not None:
                r["rmst"] = {**r["rmst"], "difference": new}
                pooled_names.append(f"survival:{r['name']}:rmst")
        surv.append(r)
        pooled_names.append(f"survival:{r['name']}:differences")
    if "survival" in res:
        res["survival"] = surv
    # balance across imputations (cobalt's bal.tab of imputed data)
    ws = [o["weightit"] for _, o in runs]
    wmi = WeightItMi(imp, [None] * len(ws), ws, res.get("propensity", {}).get("formula", ""),
                     p.method, p.estimand)
    b = bal_tab_mi(wmi, stats=("mean.diffs", "variance.ratios"), un=True, binary="std",
                   continuous="std")
    ba = b.balance_across
    rows = A.balance_rows(ba, ("Mean.Diff.Adj", "Max.Diff.Adj", "Min.Diff.Adj", "Mean.Diff.Un"),
                          "bal_tab_mi")
    cov = ba[ba["Type"].astype(str) != "Distance"]
    worst = float(np.nanmax(np.abs(np.column_stack([cov["Min.Diff.Adj"], cov["Max.Diff.Adj"]]))))
    if "propensity" in res:
        res["propensity"] = {**res["propensity"], "missing": "mi", "m": p.m, "seed": p.seed}
    res["mi"] = {
        "m": p.m, "seed": p.seed, "method": "mice (chained equations; statsmodels MICEData)",
        "imputed": {c: int(imp.nmis[c]) for c in imputed},
        "imputation_methods": {c: imp.method[c] for c in imputed},
        "columns_in_model": cols,
        "pooled": pooled_names, "not_pooled": not_pooled,
        "from_first_imputation": ["table1", "balance", "binary_outcomes",
                                  "continuous_outcomes", "distribution_outcomes", "survival",
                                  "competing", "subgroups"],
        "balance_across": rows,
        "max_abs_smd_weighted_any_imputation": num(worst, "bal_tab_mi"),
    }
    objs = dict(objs)
    objs["imputations"] = imp
    return res, objs
