"""Parity cases for carts_iptw.design against survey / sandwich / stats (and WeightIt)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.parity.cases._fixtures import ate_weights, design_matrix
from carts_iptw.parity.registry import ParityCase, register

# ---------------------------------------------------------------------------------------------
# data sets with IPT weights (the weights are data here: both sides receive the same column)
# ---------------------------------------------------------------------------------------------




def lalonde_ipw() -> pd.DataFrame:
    from carts_iptw.datasets import load_dataset

    d = load_dataset("lalonde").copy()
    d["employed"] = (d["re78"] > 0).astype(int)
    cov = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
    d["w"] = ate_weights(d["treat"].to_numpy(float), design_matrix(d, cov))
    return d


def birthwt_ipw() -> pd.DataFrame:
    from carts_iptw.datasets import load_dataset

    d = load_dataset("birthwt").copy()
    d["race"] = pd.Categorical(d["race"].map({1: "white", 2: "black", 3: "other"}),
                               categories=["white", "black", "other"])
    cov = ["age", "lwt", "race", "ptl", "ht", "ui", "ftv"]
    d["w"] = ate_weights(d["smoke"].to_numpy(float), design_matrix(d, cov))
    return d


def cart_ipw() -> pd.DataFrame:
    from carts_iptw.study.synthetic import load_synthetic_cohort

    d = load_synthetic_cohort()
    keep = ["age", "histology", "ldh_elevated", "prior_hct", "lines_ge3", "kps_le70",
            "construct_41bb", "cns_or_extranodal", "status_sdpd", "anakinra", "crs_grade",
            "icans_grade", "infection_any_d30", "steroid_cum_dose"]
    d = d[keep].copy()
    d["crs3"] = (d["crs_grade"] >= 3).astype(int)
    d["icans3"] = (d["icans_grade"] >= 3).astype(int)
    cov = keep[:9]
    d["w"] = ate_weights(d["anakinra"].to_numpy(float), design_matrix(d, cov))
    return d


def _htest(h) -> dict:
    out = {"statistic": h.statistic, "p_value": h.p_value}
    if h.parameter:
        out["parameter"] = pd.Series(h.parameter, dtype=float)
    if h.estimate is not None:
        out["estimate"] = h.estimate
    if h.conf_int is not None:
        out["conf_int"] = np.asarray(h.conf_int, dtype=float)
    return out


def _design(data, args):
    from carts_iptw.design.svydesign import svydesign

    d = svydesign(data, weights=args["weights"], ids=args.get("ids"), strata=args.get("strata"),
                  nest=bool(args.get("nest", False)))
    if args.get("subset"):
        d = d.subset(data[args["subset"]].to_numpy() == 1)
    return d


# ---------------------------------------------------------------------------------------------
# svymean / svyby / svyquantile
# ---------------------------------------------------------------------------------------------
def _py_svymean(data, args):
    from carts_iptw.design.describe import svymean

    d = _design(data, args)
    m = svymean(args["x"], d)
    return {"coef": m.coef, "se": m.se, "degf": d.degf()}


def _py_svyby(data, args):
    from carts_iptw.design.describe import svyby

    b = svyby(args["x"], args["by"], _design(data, args))
    names = [v.strip() for v in args["x"].lstrip("~").split("+")]
    ses = ["se"] if len(names) == 1 else [f"se.{n}" for n in names]
    return {"coef": b[names].to_numpy().T.ravel(), "se": b[ses].to_numpy().T.ravel()}


def _py_svyquantile(data, args):
    from carts_iptw.design.describe import svyquantile

    t = svyquantile(args["x"], _design(data, args), args["quantiles"])[args["x"]]
    return {"quantile": t.iloc[:, 0].to_numpy(), "lower": t.iloc[:, 1].to_numpy(),
            "upper": t.iloc[:, 2].to_numpy(), "se": t.iloc[:, 3].to_numpy()}


_DATA = {"lalonde": lalonde_ipw, "birthwt": birthwt_ipw, "cart": cart_ipw}

for _ds, _x in (("lalonde", "~employed + race + age + re78"), ("birthwt", "~low + race + bwt"),
                ("cart", "~crs3 + icans3 + histology + steroid_cum_dose")):
    register(ParityCase(
        name=f"svymean.{_ds}.ATE", function="svymean", r_twin="survey::svymean",
        dataset=_DATA[_ds], r_file="design.R", r_function="ref_svymean",
        args={"weights": "w", "x": _x}, python=_py_svymean, exact=("degf",),
        r_packages=("survey",), description="IPT-weighted means/proportions with linearisation SEs",
    ))

def _py_svytotal(data, args):
    from carts_iptw.design.describe import svytotal

    m = svytotal(args["x"], _design(data, args))
    return {"coef": m.coef, "se": m.se}


for _ds, _x in (("lalonde", "~employed + race"), ("cart", "~crs3 + histology")):
    register(ParityCase(
        name=f"svytotal.{_ds}.ATE", function="svytotal", r_twin="survey::svytotal",
        dataset=_DATA[_ds], r_file="design.R", r_function="ref_svytotal",
        args={"weights": "w", "x": _x}, python=_py_svytotal, r_packages=("survey",),
        description="weighted counts (pseudo-population) with design-based SEs",
    ))

for _ds, _x, _by in (("lalonde", "~employed + re78", "~treat"), ("birthwt", "~low + bwt", "~smoke"),
                     ("cart", "~crs3", "~anakinra")):
    register(ParityCase(
        name=f"svyby.{_ds}.ATE", function="svyby", r_twin="survey::svyby(FUN = svymean)",
        dataset=_DATA[_ds], r_file="design.R", r_function="ref_svyby",
        args={"weights": "w", "x": _x, "by": _by}, python=_py_svyby,
        r_packages=("survey",), description="weighted outcome rates by treatment (domain SEs)",
    ))

register(ParityCase(
    name="svyby.lalonde.strata_cluster", function="svyby", r_twin="survey::svyby(FUN = svymean)",
    dataset=lalonde_ipw, r_file="design.R", r_function="ref_svyby",
    args={"weights": "w", "x": "~employed + re78", "by": "~treat", "strata": "married",
          "ids": "educ", "nest": True},
    python=_py_svyby, r_packages=("survey",),
    description="stratified cluster design (strata = married, PSU = educ)",
))

for _ds, _x in (("lalonde", "re78"), ("birthwt", "bwt"), ("cart", "steroid_cum_dose")):
    register(ParityCase(
        name=f"svyquantile.{_ds}.ATE", function="svyquantile", r_twin="survey::svyquantile",
        dataset=_DATA[_ds], r_file="design.R", r_function="ref_svyquantile",
        args={"weights": "w", "x": _x, "quantiles": [0.25, 0.5, 0.75, 0.9]},
        python=_py_svyquantile, r_packages=("survey",),
        description="qrule 'math', Woodruff 'mean' intervals (survey >= 4.1 defaults)",
    ))


# ---------------------------------------------------------------------------------------------
# svychisq / svyttest / svyranktest
# ---------------------------------------------------------------------------------------------
def _py_svychisq(data, args):
    from carts_iptw.design.tests import svychisq

    return _htest(svychisq(args["formula"], _design(data, args), statistic=args["statistic"]))


def _py_svyttest(data, args):
    from carts_iptw.design.tests import svyttest

    return _htest(svyttest(args["formula"], _design(data, args)))


def _py_svyranktest(data, args):
    from carts_iptw.design.tests import svyranktest

    return _htest(svyranktest(args["formula"], _design(data, args), test=args["test"]))


_CHISQ = (("lalonde", "~employed + treat"), ("lalonde", "~race + treat"),
          ("birthwt", "~low + smoke"), ("birthwt", "~race + low"), ("cart", "~crs3 + anakinra"),
          ("cart", "~histology + anakinra"))
for _ds, _f in _CHISQ:
    for _st in ("F", "Chisq"):
        _tag = _f.replace("~", "").replace(" ", "").replace("+", "_")
        register(ParityCase(
            name=f"svychisq.{_st}.{_ds}.{_tag}", function="svychisq",
            r_twin=f"survey::svychisq(statistic = '{_st}')", dataset=_DATA[_ds],
            r_file="design.R", r_function="ref_svychisq",
            args={"weights": "w", "formula": _f, "statistic": _st}, python=_py_svychisq,
            r_packages=("survey",), description="Rao-Scott adjusted Pearson test",
        ))

for _ds, _f in (("lalonde", "re78 ~ treat"), ("birthwt", "bwt ~ smoke"), ("cart", "steroid_cum_dose ~ anakinra"),
                ("lalonde", "re78 ~ 1")):
    _tag = _f.replace(" ", "").replace("~", "_by_")
    register(ParityCase(
        name=f"svyttest.{_ds}.{_tag}", function="svyttest", r_twin="survey::svyttest",
        dataset=_DATA[_ds], r_file="design.R", r_function="ref_svyttest",
        args={"weights": "w", "formula": _f}, python=_py_svyttest, r_packages=("survey",),
    ))

for _ds, _f in (("lalonde", "re78 ~ treat"), ("birthwt", "bwt ~ smoke"), ("cart", "steroid_cum_dose ~ anakinra")):
    for _t in ("wilcoxon", "median", "vanderWaerden"):
        _tag = _f.replace(" ", "").replace("~", "_by_")
        register(ParityCase(
            name=f"svyranktest.{_t}.{_ds}.{_tag}", function="svyranktest",
            r_twin=f"survey::svyranktest(test = '{_t}')", dataset=_DATA[_ds],
            r_file="design.R", r_function="ref_svyranktest",
            args={"weights": "w", "formula": _f, "test": _t}, python=_py_svyranktest,
            r_packages=("survey",),
        ))


# ---------------------------------------------------------------------------------------------
# unweighted Table 1 tests
# ---------------------------------------------------------------------------------------------
def _py_wilcox(data, args):
    from carts_iptw.design.table1_tests import wilcox_test

    h = wilcox_test(f"{args['x']} ~ {args['group']}", data=data)
    return {"statistic": h.statistic, "p_value": h.p_value}


def _py_chisq(data, args):
    from carts_iptw.design.table1_tests import chisq_test

    h = chisq_test(args["x"], args["y"], data=data)
    return {"statistic": h.statistic, "parameter": h.parameter["df"], "p_value": h.p_value}


def _py_fisher(data, args):
    from carts_iptw.design.table1_tests import fisher_test

    h = fisher_test(args["x"], args["y"], data=data)
    out = {"p_value": h.p_value}
    if h.estimate is not None:
        out.update(estimate=h.estimate, conf_int=np.asarray(h.conf_int))
    return out


def birthwt_small() -> pd.DataFrame:
    """Every sixth row of birthwt (32 mothers): small enough for the exact Wilcoxon rule."""
    from carts_iptw.datasets import load_dataset

    return load_dataset("birthwt").iloc[::6].reset_index(drop=True)


def ranks_no_ties() -> pd.DataFrame:
    """30 distinct values in two groups of 12 and 18 (exact Wilcoxon distribution)."""
    from carts_iptw.datasets import load_dataset

    d = load_dataset("lalonde").iloc[::20].reset_index(drop=True)
    d = d.loc[~d["re78"].duplicated()].reset_index(drop=True)
    return d


_T1 = {"lalonde": lalonde_ipw, "birthwt": birthwt_ipw, "cart": cart_ipw,
       "birthwt_small": birthwt_small, "lalonde_sub": ranks_no_ties}
for _ds, _x, _g in (("lalonde", "age", "treat"), ("birthwt", "bwt", "smoke"), ("cart", "age", "anakinra"),
                    ("birthwt_small", "bwt", "smoke"), ("lalonde_sub", "re78", "treat")):
    register(ParityCase(
        name=f"wilcox_test.{_ds}.{_x}_by_{_g}", function="wilcox_test", r_twin="stats::wilcox.test",
        dataset=_T1[_ds], r_file="design.R", r_function="ref_wilcox_test",
        args={"x": _x, "group": _g}, python=_py_wilcox,
        description="exact when n < 50 per group and no ties, else normal with correction",
    ))
for _ds, _x, _y in (("lalonde", "race", "treat"), ("birthwt", "low", "smoke"), ("birthwt", "race", "smoke"),
                    ("cart", "crs3", "anakinra"), ("cart", "histology", "anakinra"),
                    ("birthwt_small", "low", "smoke")):
    register(ParityCase(
        name=f"chisq_test.{_ds}.{_x}_{_y}", function="chisq_test", r_twin="stats::chisq.test",
        dataset=_T1[_ds], r_file="design.R", r_function="ref_chisq_test",
        args={"x": _x, "y": _y}, python=_py_chisq, description="Yates' correction for 2 x 2",
    ))
    register(ParityCase(
        name=f"fisher_test.{_ds}.{_x}_{_y}", function="fisher_test", r_twin="stats::fisher.test",
        dataset=_T1[_ds], r_file="design.R", r_function="ref_fisher_test",
        args={"x": _x, "y": _y}, python=_py_fisher,
        description="2 x 2: conditional MLE odds ratio and exact CI; r x 2: exact p-value",
    ))


# ---------------------------------------------------------------------------------------------
# svyglm / glm_robust: R's default convergence (1e-6) and tightened epsilon = 1e-12 (1e-9)
# ---------------------------------------------------------------------------------------------
def _model_out(r) -> dict:
    ci = r.confint()
    return {"coef": r.coef, "se": r.se, "vcov": r.vcov, "tvalues": r.statistic,
            "pvalues": r.p_values, "lower": ci.iloc[:, 0], "upper": ci.iloc[:, 1]}


def _control(args):
    from carts_iptw.irls import GlmControl

    return GlmControl(epsilon=args.get("epsilon", 1e-8))


def _py_svyglm(data, args):
    from carts_iptw.design.svyglm import svyglm

    r = svyglm(args["formula"], _design(data, args), family=args["family"], control=_control(args))
    out = _model_out(r)
    out["df_residual"] = r.df_residual
    if r.link == "logit":
        o = r.odds_ratios()
        out.update(odds_ratio=o["OR"], or_lower=o.iloc[:, 1], or_upper=o.iloc[:, 2])
    return out


def _py_glm_robust(data, args):
    from carts_iptw.design.glm_robust import glm_robust

    return _model_out(glm_robust(args["formula"], data, weights=args["weights"],
                                 family=args["family"], vcov=args["type"],
                                 control=_control(args)))


_MODELS = (
    ("lalonde", "uni", "employed ~ treat"),
    ("lalonde", "multi", "employed ~ treat + age + educ + race + married + nodegree + re74 + re75"),
    ("birthwt", "uni", "low ~ smoke"),
    ("birthwt", "multi", "low ~ smoke + age + lwt + race + ptl + ht + ui + ftv"),
    ("cart", "uni", "crs3 ~ anakinra"),
    ("cart", "multi", "crs3 ~ anakinra + age + ldh_elevated + kps_le70"),
)
for _ds, _kind, _f in _MODELS:
    for _eps, _tol, _tag in ((1e-8, 1e-6, "default"), (1e-12, 1e-9, "tight")):
        for _fam in ("quasibinomial", "binomial"):
            register(ParityCase(
                name=f"svyglm.{_fam}.{_ds}.{_kind}.{_tag}", function="svyglm",
                r_twin=f"survey::svyglm(family = {_fam}())", dataset=_DATA[_ds],
                r_file="design.R", r_function="ref_svyglm",
                args={"weights": "w", "formula": _f, "family": _fam, "epsilon": _eps},
                python=_py_svyglm, rtol=_tol, exact=("df_residual",), r_packages=("survey",),
                description=f"IPT-weighted logistic model, glm.control(epsilon = {_eps:g}); "
                            "summary.svyglm table, confint.svyglm, exp() for odds ratios",
            ))
        for _type in ("HC0", "HC1"):
            register(ParityCase(
                name=f"glm_robust.{_type}.{_ds}.{_kind}.{_tag}", function="glm_robust",
                r_twin=f"glm(binomial) + sandwich::vcovHC(type = '{_type}')", dataset=_DATA[_ds],
                r_file="design.R", r_function="ref_glm_robust",
                args={"weights": "w", "formula": _f, "family": "binomial", "type": _type,
                      "epsilon": _eps},
                python=_py_glm_robust, rtol=_tol, r_packages=("sandwich",),
                description=f"weighted glm with robust SEs, glm.control(epsilon = {_eps:g})",
            ))

for _fam, _f in (("gaussian", "re78 ~ treat + age + educ + race"),
                 ("quasipoisson", "educ ~ treat + age + race")):
    register(ParityCase(
        name=f"svyglm.{_fam}.lalonde.multi.default", function="svyglm",
        r_twin=f"survey::svyglm(family = {_fam}())", dataset=lalonde_ipw, r_file="design.R",
        r_function="ref_svyglm", args={"weights": "w", "formula": _f, "family": _fam},
        python=_py_svyglm, exact=("df_residual",), r_packages=("survey",),
    ))
    register(ParityCase(
        name=f"glm_robust.HC0.{_fam}.lalonde.multi.default", function="glm_robust",
        r_twin="glm + sandwich::vcovHC(type = 'HC0')", dataset=lalonde_ipw, r_file="design.R",
        r_function="ref_glm_robust",
        args={"weights": "w", "formula": _f, "family": _fam, "type": "HC0"},
        python=_py_glm_robust, r_packages=("sandwich",),
    ))


# ---------------------------------------------------------------------------------------------
# glm_weightit: live against the real WeightIt 1.5.1 (r_reference/weighting.R)
# ---------------------------------------------------------------------------------------------
_PS = {
    "lalonde": "treat ~ age + educ + race + married + nodegree + re74 + re75",
    "birthwt": "smoke ~ age + lwt + race + ptl + ht + ui + ftv",
    "cart": "anakinra ~ age + histology + ldh_elevated + prior_hct + lines_ge3 + kps_le70 + "
            "construct_41bb + cns_or_extranodal + status_sdpd",
}


def _no_w(fixture):
    """The fixture's data without its Python-computed ``w`` column (glm_weightit estimates its
    weights on both sides)."""
    def data() -> pd.DataFrame:
        return fixture().drop(columns="w")
    data.__name__ = fixture.__name__.replace("_ipw", "")
    return data


_GW_DATA = {k: _no_w(v) for k, v in _DATA.items()}


def _py_glm_weightit(data, args):
    import warnings

    from carts_iptw.design.glm_weightit import glm_weightit
    from carts_iptw.weighting import weightit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = weightit(args["formula"], data, method=args.get("method", "glm"),
                     estimand=args["estimand"], stabilize=bool(args.get("stabilize", False)))
    r = glm_weightit(args["outcome"], data, W, family=args["family"],
                     vcov=args.get("vcov", "asympt"), R=args.get("R_py", args.get("R", 500)),
                     seed=args.get("seed", 12345), progress=False)
    if args["vcov"] in ("BS", "FWB"):
        return {"coef": r.coef, "se": r.se}
    return _model_out(r)


def _gw_case(name, r_twin, dataset, args, **kw):
    register(ParityCase(name=name, function="glm_weightit", r_twin=r_twin, dataset=dataset,
                        r_file="weighting.R", r_function="real_glm_weightit",
                        python=_py_glm_weightit, args=args, r_packages=("WeightIt",), **kw))


for _ds, _kind, _f in _MODELS:
    for _est in ("ATE", "ATT", "ATC", "ATO", "ATM"):
        for _v in ("asympt", "HC0"):
            _gw_case(f"glm_weightit.{_v}.{_ds}.{_kind}.{_est}",
                     f"WeightIt::glm_weightit(vcov = '{_v}')", _GW_DATA[_ds],
                     {"formula": _PS[_ds], "outcome": _f, "estimand": _est,
                      "family": "binomial", "vcov": _v},
                     description="M-estimation (propensity score's logistic score stacked) vs "
                                 "WeightIt's numerical-derivative sandwich" if _v == "asympt"
                                 else "HC0 sandwich, weights treated as known")
for _ds, _kind, _f in _MODELS[::2]:
    _gw_case(f"glm_weightit.asympt.{_ds}.{_kind}.ATE.stabilized",
             "WeightIt::glm_weightit(vcov = 'asympt'), weightit(stabilize = TRUE)", _GW_DATA[_ds],
             {"formula": _PS[_ds], "outcome": _f, "estimand": "ATE", "family": "binomial",
              "vcov": "asympt", "stabilize": True},
             description="stabilized weights: WeightIt's intercept-only model for P(A = 1) is "
                         "stacked too")
for _fam, _f in (("gaussian", "re78 ~ treat + age + educ"), ("poisson", "educ ~ treat + age")):
    _gw_case(f"glm_weightit.asympt.lalonde.{_fam}.ATT", "WeightIt::glm_weightit(vcov = 'asympt')",
             _GW_DATA["lalonde"], {"formula": _PS["lalonde"], "outcome": _f, "estimand": "ATT",
                                   "family": _fam, "vcov": "asympt"})

for _est in ("ATE", "ATT"):
    _gw_case(f"glm_weightit.HC0.lalonde.multi.{_est}.ebal", "WeightIt::glm_weightit(vcov = 'HC0')",
             _GW_DATA["lalonde"], {"formula": _PS["lalonde"], "outcome": _MODELS[1][2],
                                   "estimand": _est, "family": "binomial", "vcov": "HC0",
                                   "method": "ebal", "reltol": 1e-16},
             rtol=2e-5,
             description="ebal weights: WeightIt's BFGS at reltol = 1e-16 lands ~1e-7 from the "
                         "exact optimum in the weights, which a near-zero coefficient (intercept "
                         "-0.013) amplifies to ~6e-6: compared at 2e-5")

#: Bootstraps (R's RNG cannot be replayed: numpy draws here, R's in WeightIt/fwb), compared
#: statistically. The SE of a coefficient estimated from B replicates has relative Monte Carlo
#: SD ~ sqrt((kurtosis - 1) / (4 B)) (~ sqrt(1 / (2 B)) for these near-normal coefficients), so
#: Python's (B = 1000; cheap) and R's (B = 300; WeightIt's replicates cost ~15 ms each) differ
#: by relative SD ~ sqrt(1/2000 + 1/600) = 0.047: the SEs are compared at 0.2 relative (> 4
#: Monte Carlo SDs; a false alarm well under 1 in 10^4 runs; both sides seeded, so a given
#: machine gives the same answer every run). That still separates, e.g., lalonde ATT's
#: bootstrap SE of treat from the HC0 one that ignores the estimation of the weights. All four
#: bootstrap cases together take ~25 s of R and ~25 s of Python. The point estimates do not
#: depend on the draws and are compared at 1e-6.
BOOT_R, BOOT_R_PY, BOOT_RTOL = 300, 1000, 0.2
for _v in ("BS", "FWB"):
    for _est in ("ATE", "ATT"):
        _gw_case(f"glm_weightit.{_v}.lalonde.uni.{_est}", f"WeightIt::glm_weightit(vcov = '{_v}')",
                 _GW_DATA["lalonde"], {"formula": _PS["lalonde"], "outcome": "employed ~ treat",
                                       "estimand": _est, "family": "binomial", "vcov": _v,
                                       "R": BOOT_R, "R_py": BOOT_R_PY, "seed": 20240},
                 tolerances={"se": (BOOT_RTOL, 0.0)},
                 description=f"statistical: bootstrap SEs within {BOOT_RTOL:g} relative "
                             f"(> 4 Monte Carlo SDs at {BOOT_R_PY} / {BOOT_R} replicates)")


def glm_weightit_lalonde() -> pd.DataFrame:
    """The exact input of the real-WeightIt snapshot (lalonde + employed = re78 > 0)."""
    import json

    from carts_iptw.parity.snapshots import external_dir

    doc = json.loads((external_dir() / "glm_weightit_lalonde_ATE.json").read_text())
    c = doc["data"]
    df = pd.DataFrame({k: c["columns"][k] for k in c["column_order"]},
                      index=pd.Index(c["id"]))
    for k, lv in c["factor_levels"].items():
        df[k] = pd.Categorical(df[k], categories=lv)
    for k, t in c["column_types"].items():
        if t == "integer":
            df[k] = df[k].astype("int64")
    return df


def _real_glm_weightit_extract(label):
    def extract(doc):
        fit = next(f for f in doc["fits"] if f["label"] == label)
        names = fit["coefficients"]["names"]
        V = pd.DataFrame(fit["vcov"]["data"], index=fit["vcov"]["rownames"],
                         columns=fit["vcov"]["colnames"])
        tab = fit["coef_table"]["columns"]
        return {"coef": pd.Series(fit["coefficients"]["values"], index=names),
                "se": pd.Series(fit["se"]["values"], index=names), "vcov": V,
                "tvalues": pd.Series(tab["z value"], index=names),
                "pvalues": pd.Series(tab["Pr(>|z|)"], index=names)}
    return extract


def _py_glm_weightit_heldout(data, args):
    out = _py_glm_weightit(data, args)
    return {k: out[k] for k in ("coef", "se", "vcov", "tvalues", "pvalues")}


for _kind, _f in (("univariable", "employed ~ treat"),
                  ("multivariable", "employed ~ treat + age + educ + race + married + nodegree + re74 + re75")):
    for _v in ("asympt", "HC0"):
        register(ParityCase(
            name=f"glm_weightit.{_v}.lalonde.{_kind}.ATE.real", function="glm_weightit",
            r_twin=f"WeightIt::glm_weightit(vcov = '{_v}')", dataset=glm_weightit_lalonde,
            r_file="weighting.R", r_function="real_glm_weightit_heldout",
            python=_py_glm_weightit_heldout,
            args={"formula": _PS["lalonde"], "outcome": _f, "estimand": "ATE",
                  "family": "binomial", "vcov": _v},
            r_packages=("WeightIt",), external_snapshot="glm_weightit_lalonde_ATE.json",
            external_extract=_real_glm_weightit_extract(f"{_kind}_{_v}"),
            description="held out: real WeightIt 1.5.1 output recorded in ../shared/r-reference",
        ))


# Firth (logistf): cases in parity/cases/firth.py (against brglm2, r_reference/firth.R)


# ---------------------------------------------------------------------------------------------
# domains (design.subset / R's subset(design, ...)): the study's "among" analyses
# ---------------------------------------------------------------------------------------------
def cart_domain() -> pd.DataFrame:
    d = cart_ipw()
    d["crs_any"] = (d["crs_grade"] >= 1).astype(int)
    return d


register(ParityCase(
    name="svymean.cart.domain", function="svymean", r_twin="survey::svymean(subset(design))",
    dataset=cart_domain, r_file="design.R", r_function="ref_svymean",
    args={"weights": "w", "x": "~icans3 + steroid_cum_dose", "subset": "crs_any"},
    python=_py_svymean, exact=("degf",), r_packages=("survey",),
    description="domain: patients with any CRS",
))
for _st in ("F", "Chisq"):
    register(ParityCase(
        name=f"svychisq.{_st}.cart.domain", function="svychisq",
        r_twin=f"survey::svychisq(subset(design), statistic = '{_st}')", dataset=cart_domain,
        r_file="design.R", r_function="ref_svychisq",
        args={"weights": "w", "formula": "~icans3 + anakinra", "statistic": _st,
              "subset": "crs_any"},
        python=_py_svychisq, r_packages=("survey",),
    ))
register(ParityCase(
    name="svyranktest.wilcoxon.cart.domain", function="svyranktest",
    r_twin="survey::svyranktest(subset(design))", dataset=cart_domain, r_file="design.R",
    r_function="ref_svyranktest",
    args={"weights": "w", "formula": "steroid_cum_dose ~ anakinra", "test": "wilcoxon",
          "subset": "crs_any"},
    python=_py_svyranktest, r_packages=("survey",),
))
register(ParityCase(
    name="svyglm.quasibinomial.cart.domain", function="svyglm",
    r_twin="survey::svyglm(design = subset(design))", dataset=cart_domain, r_file="design.R",
    r_function="ref_svyglm",
    args={"weights": "w", "formula": "icans3 ~ anakinra + age", "family": "quasibinomial",
          "subset": "crs_any"},
    python=_py_svyglm, exact=("df_residual",), r_packages=("survey",),
))


# stratified cluster designs (strata = married, PSU = educ within strata)
_SC = {"weights": "w", "strata": "married", "ids": "educ", "nest": True}
register(ParityCase(
    name="svyglm.quasibinomial.lalonde.strata_cluster", function="svyglm",
    r_twin="survey::svyglm (stratified cluster design)", dataset=lalonde_ipw, r_file="design.R",
    r_function="ref_svyglm",
    args={**_SC, "formula": "employed ~ treat + age + race", "family": "quasibinomial"},
    python=_py_svyglm, exact=("df_residual",), r_packages=("survey",),
    description="df.residual = PSUs - strata + 1 - rank; PSU totals centred within strata",
))
for _st in ("F", "Chisq"):
    register(ParityCase(
        name=f"svychisq.{_st}.lalonde.strata_cluster", function="svychisq",
        r_twin=f"survey::svychisq(statistic = '{_st}') (stratified cluster design)",
        dataset=lalonde_ipw, r_file="design.R", r_function="ref_svychisq",
        args={**_SC, "formula": "~employed + treat", "statistic": _st},
        python=_py_svychisq, r_packages=("survey",),
    ))
register(ParityCase(
    name="svyttest.lalonde.strata_cluster", function="svyttest",
    r_twin="survey::svyttest (stratified cluster design)", dataset=lalonde_ipw,
    r_file="design.R", r_function="ref_svyttest",
    args={**_SC, "formula": "re78 ~ treat"}, python=_py_svyttest, r_packages=("survey",),
))


for _ds, _f in (("lalonde", "re78 ~ race"), ("cart", "steroid_cum_dose ~ histology")):
    for _t in ("wilcoxon", "median"):
        _tag = _f.replace(" ", "").replace("~", "_by_")
        register(ParityCase(
            name=f"svyranktest.{_t}.{_ds}.{_tag}.kgroups", function="svyranktest",
            r_twin=f"survey::svyranktest(test = '{_t}') with k > 2 groups (multiranktest)",
            dataset=_DATA[_ds], r_file="design.R", r_function="ref_svyranktest_k",
            args={"weights": "w", "formula": _f, "test": _t}, python=_py_svyranktest,
            exact=("parameter",), r_packages=("survey",),
        ))


# ---------------------------------------------------------------------------------------------
# glm_robust(HC0) against geepack::geeglm (independence, sandwich SE): What If ch. 12
# ---------------------------------------------------------------------------------------------
def nhefs_ipw() -> pd.DataFrame:
    """NHEFS (the bundled worked study's columns), rows with wt82_71 recorded, and the book's
    unstabilised IP weights (Program 12.2's propensity model, fitted by this package's weightit)."""
    from carts_iptw.study.spec import example_paths
    from carts_iptw.weighting import weightit

    d = pd.read_csv(example_paths("nhefs")[1])
    d = d[d["wt82_71"].notna()].reset_index(drop=True)
    ps = ("qsmk ~ sex + race + age + I(age^2) + factor(education) + smokeintensity + "
          "I(smokeintensity^2) + smokeyrs + I(smokeyrs^2) + factor(exercise) + factor(active) + "
          "wt71 + I(wt71^2)")
    d["w"] = np.asarray(weightit(ps, d, method="glm", estimand="ATE").weights, dtype=float)
    return d


register(ParityCase(
    name="glm_robust.HC0.gaussian.nhefs.whatif12", function="glm_robust",
    r_twin="geepack::geeglm(corstr = 'independence', std.err = 'san.se')",
    dataset=nhefs_ipw, r_file="gee.R", r_function="ref_geeglm",
    args={"weights": "w", "id": "seqn", "formula": "wt82_71 ~ qsmk", "family": "gaussian",
          "type": "HC0"},
    python=_py_glm_robust, r_packages=("geepack",),
    description="What If ch. 12 (Program 12.2): the IP-weighted mean difference in weight gain "
                "with the GEE robust SE the book reports (3.4 kg, 95% CI 2.4 to 4.5); geeglm's "
                "sandwich equals sandwich::vcovHC(type = 'HC0')",
))
