"""Parity cases for carts_iptw.imputation: pooling by Rubin's rules and balance across imputations.

The completed data sets are FIXED: ``cases/data/colon_mi.csv`` holds the 5 completed data sets
(stacked, ``.imp`` = 1..5, as mice's ``complete(imp, "long")``) that
``carts_iptw.imputation.mice`` drew from ``survival::colon`` (death records, Lev+5FU vs
observation; real missing values: 12 in ``nodes``, 13 in ``differ``) with seed 20261127,
m = 5, maxit = 10. The imputation itself is stochastic and not bit-stable across numpy/LAPACK
builds, so it is tested by its properties (tests/unit/imputation); what is compared with R
here is everything after it, on the SAME data sets: the weights (real WeightIt 1.5.1) and the
analysis in each data set, and the pooling by the real ``mice::pool`` (mice 3.15.0) for
``svyglm``, ``glm_weightit``, ``coxph`` and ``avg_comparisons`` fits, and cobalt 4.6.1's
``bal.tab(..., imp = ".imp")`` balance across imputations (r_reference/mi.R).
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from carts_iptw.parity.registry import ParityCase, register

_PS = "trt ~ age + sex + obstruct + nodes + differ + extent"
_LEVELS = ["well", "moderate", "poor"]


def colon_mi() -> pd.DataFrame:
    """The 5 fixed completed data sets of colon (stacked, ``.imp``, ``.id`` first)."""
    path = resources.files("carts_iptw.parity.cases").joinpath("data/colon_mi.csv")
    with resources.as_file(path) as p:
        d = pd.read_csv(p)
    d["differ"] = pd.Categorical(d["differ"], categories=_LEVELS)
    for c in ("trt", ".imp", ".id"):
        d[c] = d[c].astype(np.int64)
    return d


def lung_mi() -> pd.DataFrame:
    """Held-out: 5 fixed completed data sets of survival::lung (seed 20261128, m = 5).

    ``female`` (sex == 2) as the "treatment", ``dead`` = status == 2, ``ecog`` = ph.ecog as a
    factor (3 merged into 2); real missing values in ecog (1), ph_karno (1), pat_karno (3),
    meal_cal (47) and wt_loss (14).
    """
    path = resources.files("carts_iptw.parity.cases").joinpath("data/lung_mi.csv")
    with resources.as_file(path) as p:
        d = pd.read_csv(p)
    d["ecog"] = pd.Categorical(d["ecog"], categories=["e0", "e1", "e2"])
    for c in d.columns:
        if c != "ecog":
            ints = c in ("female", "dead", ".imp", ".id")
            d[c] = d[c].astype(np.int64 if ints else float)
    return d


def _datasets(data: pd.DataFrame) -> list[pd.DataFrame]:
    out = []
    for i in sorted(data[".imp"].unique()):
        x = data[data[".imp"] == i].drop(columns=[".imp", ".id"]).reset_index(drop=True)
        out.append(x)
    return out


def _fit(x: pd.DataFrame, args):
    from carts_iptw.design.glm_weightit import glm_weightit
    from carts_iptw.design.svydesign import svydesign
    from carts_iptw.design.svyglm import svyglm
    from carts_iptw.effects import avg_comparisons
    from carts_iptw.survival.coxph import coxph
    from carts_iptw.weighting import weightit

    W = weightit(args["ps_formula"], x, method="glm", estimand=args["estimand"])
    x = x.assign(_w=W.weights)
    model = args["model"]
    if model == "svyglm":
        return svyglm(args["formula"], svydesign(x, weights="_w"), family=args["family"])
    if model == "glm_weightit":
        return glm_weightit(args["formula"], x, W, family=args["family"])
    if model == "coxph":
        return coxph(args["formula"], x, weights="_w", robust=True)
    if model == "avg_comparisons":
        return avg_comparisons(glm_weightit(args["formula"], x, W, family=args["family"]),
                               args["variable"])
    raise ValueError(model)


def _py_pool(data, args):
    from carts_iptw.imputation import pool

    fits = [_fit(x, args) for x in _datasets(data)]
    p = pool(fits, dfcom=args.get("dfcom"))
    x = p.pooled
    s = p.tidy()
    terms = list(x["term"])
    out = {"m": float(p.m)}
    for k in ("estimate", "ubar", "b", "t", "dfcom", "df", "riv", "lambda", "fmi"):
        out[k] = pd.Series(x[k].to_numpy(dtype=float), index=terms)
    for k in ("std_error", "statistic", "p_value", "conf_low", "conf_high"):
        out[k] = pd.Series(s[k].to_numpy(dtype=float), index=terms)
    return out


_MODELS = {
    "svyglm": ("status ~ trt", "quasibinomial",
               "survey::svyglm per data set; dfcom = df.residual (broom's glance)"),
    "glm_weightit": ("status ~ trt", "binomial",
                     "WeightIt::glm_weightit (M-estimation vcov) per data set; dfcom = nobs - "
                     "length(coef) (glance has nobs only)"),
    "coxph": ("Surv(time, status) ~ trt", "binomial",
              "survival::coxph(weights, robust = TRUE) per data set; mice takes broom's "
              "robust.se; dfcom = nevent - length(coef)"),
    "avg_comparisons": ("status ~ trt * (age + nodes + extent)", "binomial",
                        "marginaleffects::avg_comparisons(glm_weightit fit) per data set; "
                        "dfcom = Inf (mice: 'Infinite sample size assumed', broom's glance of "
                        "a comparisons object needs modelsummary, absent)"),
}
_POOL_PKGS = ("mice", "WeightIt", "survey", "survival", "marginaleffects", "insight")

for _est in ("ATE", "ATT"):
    for _model, (_f, _fam, _desc) in _MODELS.items():
        register(ParityCase(
            name=f"pool.{_model}.colon_mi.{_est}", function="pool",
            r_twin=f"mice::pool(list of {_model} fits)",
            dataset=colon_mi, r_file="mi.R", r_function="ref_mi_pool",
            args={"model": _model, "ps_formula": _PS, "formula": _f, "estimand": _est,
                  "family": _fam, "variable": "trt"},
            python=_py_pool, exact=("m",), r_packages=_POOL_PKGS,
            description="the same 5 completed data sets (colon, real missing nodes/differ) in "
                        "R and Python; weights by the real WeightIt in each; " + _desc,
        ))

register(ParityCase(
    name="pool.glm_weightit.colon_mi.ATE.dfcom", function="pool",
    r_twin="mice::pool(list of glm_weightit fits, dfcom = 50)",
    dataset=colon_mi, r_file="mi.R", r_function="ref_mi_pool",
    args={"model": "glm_weightit", "ps_formula": _PS, "formula": "status ~ trt + age",
          "estimand": "ATE", "family": "binomial", "variable": "trt", "dfcom": 50},
    python=_py_pool, exact=("m",), r_packages=_POOL_PKGS,
    description="a given complete-data df (finite: the Barnard-Rubin small-sample branch)",
))


def _py_bal(data, args):
    from carts_iptw.imputation.within import BalTabMi, WeightItMi, bal_tab_mi
    from carts_iptw.weighting import weightit

    ds = _datasets(data)
    ws = [weightit(args["ps_formula"], x, method="glm", estimand=args["estimand"]) for x in ds]
    obj = WeightItMi(None, ds, ws, args["ps_formula"], "glm", args["estimand"])
    b: BalTabMi = bal_tab_mi(obj, stats=args["stats"])
    a = b.balance_across.drop(index="prop.score")  # R: a formula, no distance row
    out = {"rows": list(a.index)}
    for c in a.columns:
        if c != "Type":
            out[c] = pd.Series(a[c].to_numpy(dtype=float), index=list(a.index))
    out["obs_unadjusted"] = b.observations.loc["Unadjusted"].to_numpy(dtype=float)
    out["obs_adjusted"] = b.observations.loc["Adjusted"].to_numpy(dtype=float)
    return out


for _est in ("ATE", "ATT"):
    register(ParityCase(
        name=f"bal_tab_mi.colon_mi.{_est}", function="bal_tab_mi",
        r_twin="cobalt::bal.tab(formula, data = stacked, weights, imp = '.imp')",
        dataset=colon_mi, r_file="mi.R", r_function="ref_mi_bal_tab",
        args={"ps_formula": _PS, "estimand": _est, "stats": ["m", "v", "ks"]},
        python=_py_bal, r_packages=("WeightIt", "cobalt"),
        description="Balance.Across.Imputations (Min/Mean/Max of each statistic over the 5 "
                    "imputations) and the average (effective) sample sizes; the real WeightIt "
                    "weights in each data set; the prop.score row of the Python table (a "
                    "weightit object) is left out, R's call has no distance",
    ))


def _py_pool_scalar(data, args):
    from carts_iptw.imputation import pool_scalar

    xs = [x[args["column"]].to_numpy(dtype=float) for x in _datasets(data)]
    q = [x.mean() for x in xs]
    u = [x.var(ddof=1) / len(x) for x in xs]
    n = args.get("n")
    p = pool_scalar(q, u, n=np.inf if n is None else n, k=args["k"])
    return {k: float(p[k]) for k in ("m", "qbar", "ubar", "b", "t", "df", "r", "fmi")}


for _n in (None, 619):
    register(ParityCase(
        name=f"pool_scalar.colon_mi.nodes.{'inf' if _n is None else _n}", function="pool_scalar",
        r_twin="mice::pool.scalar(Q, U, n, k = 1)",
        dataset=colon_mi, r_file="mi.R", r_function="ref_mi_pool_scalar",
        args={"column": "nodes", "k": 1, **({} if _n is None else {"n": _n})},
        python=_py_pool_scalar, exact=("m",), r_packages=("mice",),
        description="the mean of the imputed column nodes in each completed data set, "
                    "variance var(x)/n; n = Inf and the cohort size",
    ))


_LUNG_PS = "female ~ age + ecog + ph_karno + pat_karno + meal_cal + wt_loss"
for _model, _f, _fam in (("coxph", "Surv(time, dead) ~ female", "binomial"),
                         ("svyglm", "dead ~ female + age", "quasibinomial"),
                         ("glm_weightit", "dead ~ female", "binomial"),
                         ("avg_comparisons", "dead ~ female * (age + ph_karno)", "binomial")):
    register(ParityCase(
        name=f"pool.{_model}.lung_mi.ATE", function="pool",
        r_twin=f"mice::pool(list of {_model} fits)",
        dataset=lung_mi, r_file="mi.R", r_function="ref_mi_pool",
        args={"model": _model, "ps_formula": _LUNG_PS, "formula": _f, "estimand": "ATE",
              "family": _fam, "variable": "female"},
        python=_py_pool, exact=("m",), r_packages=_POOL_PKGS,
        description="held-out data set: survival::lung (real missing meal.cal, wt.loss, ...), "
                    "5 fixed completed data sets; " + _MODELS[_model][2],
    ))

register(ParityCase(
    name="bal_tab_mi.lung_mi.ATE", function="bal_tab_mi",
    r_twin="cobalt::bal.tab(formula, data = stacked, weights, imp = '.imp')",
    dataset=lung_mi, r_file="mi.R", r_function="ref_mi_bal_tab",
    args={"ps_formula": _LUNG_PS, "estimand": "ATE", "stats": ["m", "v", "ks"]},
    python=_py_bal, r_packages=("WeightIt", "cobalt"),
    description="held-out data set: survival::lung, 5 fixed completed data sets",
))
