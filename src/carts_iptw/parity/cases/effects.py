"""Parity cases for carts_iptw.effects: marginal effects after weighting.

- ``avg_comparisons``: against the REAL marginaleffects 0.22.0 (``avg_comparisons``) on REAL
  WeightIt 1.5.1 ``glm_weightit`` fits (M-estimation vcov), on survey's ``svyglm`` and on
  ``glm`` + ``vcov = "HC0"`` (sandwich), r_reference/effects.R.
- RMST: survival's ``summary(survfit(...), rmean = tau)`` (weighted and unweighted) and the
  real ``survRM2::rmst2`` (unweighted).
- Survival / cumulative-incidence differences at horizons: ``summary(survfit(...), times =)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.parity.cases.design import birthwt_ipw, lalonde_ipw
from carts_iptw.parity.registry import ParityCase, register

_ME = ("WeightIt", "marginaleffects", "insight")

# ---------------------------------------------------------------------------------------------
# avg_comparisons
# ---------------------------------------------------------------------------------------------
_PS = {
    "lalonde": "treat ~ age + educ + race + married + nodegree + re74 + re75",
    "birthwt": "smoke ~ age + lwt + race + ptl + ht + ui + ftv",
}
_OUTCOME = {
    "lalonde": ("treat", "employed ~ treat * (age + educ + re74) + race + married + nodegree + re75"),
    "birthwt": ("smoke", "low ~ smoke * (age + lwt) + race + ptl + ht + ui"),
}
_DATA = {"lalonde": lalonde_ipw, "birthwt": birthwt_ipw}
_TARGET = {"ATE": "all", "ATT": "treated", "ATC": "controls", "ATO": "all", "ATM": "all"}


def lalonde_sw_ipw() -> pd.DataFrame:
    """lalonde (employed = re78 > 0) with deterministic unequal sampling weights ``sw``."""
    d = lalonde_ipw()
    d["sw"] = 0.5 + (np.arange(len(d)) % 5) / 4.0
    return d


def _me_out(a, comparison) -> dict:
    out = {"estimate": a.estimate, "std_error": a.std_error, "statistic": a.statistic,
           "p_value": a.p_value, "conf_low": a.conf_low, "conf_high": a.conf_high, "n": a.n}
    if comparison != "difference":
        out["log_estimate"] = float(np.log(a.estimate))
    return out


def _py_weightit(data, args):
    from carts_iptw.design.glm_weightit import glm_weightit
    from carts_iptw.effects import avg_comparisons
    from carts_iptw.weighting import weightit

    W = weightit(args["ps_formula"], data, method="glm", estimand=args["estimand"],
                 s_weights=args.get("s_weights"))
    fit = glm_weightit(args["formula"], data, W, family=args["family"], vcov=args["vcov"])
    a = avg_comparisons(fit, args["variable"], args["comparison"])
    return _me_out(a, args["comparison"])


def _py_svyglm(data, args):
    from carts_iptw.design.svydesign import svydesign
    from carts_iptw.design.svyglm import svyglm
    from carts_iptw.effects import avg_comparisons

    fit = svyglm(args["formula"], svydesign(data, weights=args["weights"]), family=args["family"])
    return _me_out(avg_comparisons(fit, args["variable"], args["comparison"]), args["comparison"])


def _py_robust(data, args):
    from carts_iptw.design.glm_robust import glm_robust
    from carts_iptw.effects import avg_comparisons

    fit = glm_robust(args["formula"], data, weights=args["weights"], family=args["family"],
                     vcov="HC0")
    a = avg_comparisons(fit, args["variable"], args["comparison"])
    log = a.estimate if args["comparison"] == "difference" else float(np.log(a.estimate))
    return {"std_error": a.std_error, "statistic": a.statistic, "p_value": a.p_value,
            "log_or_diff": log}


_DESC = ("real marginaleffects 0.22.0 avg_comparisons on a real WeightIt 1.5.1 glm_weightit fit "
         "(vcov = 'asympt'); marginaleffects' forward-difference jacobian vs the analytic one "
         "here: measured gap below 5e-7 relative")

for _ds in ("lalonde", "birthwt"):
    _v, _f = _OUTCOME[_ds]
    for _est in ("ATE", "ATT", "ATC", "ATO"):
        for _cmp in ("difference", "ratio", "oddsratio"):
            register(ParityCase(
                name=f"avg_comparisons.weightit.{_ds}.{_est}.{_cmp}", function="avg_comparisons",
                r_twin="marginaleffects::avg_comparisons(glm_weightit fit)"
                       + ("" if _cmp == "difference" else
                          f", comparison = '{'lnratioavg' if _cmp == 'ratio' else 'lnoravg'}', "
                          "transform = 'exp'"),
                dataset=_DATA[_ds], r_file="effects.R", r_function="ref_avg_comparisons_weightit",
                args={"ps_formula": _PS[_ds], "formula": _f, "estimand": _est,
                      "family": "binomial", "vcov": "asympt", "variable": _v,
                      "comparison": _cmp, "target": _TARGET[_est]},
                python=_py_weightit, exact=("n",), r_packages=_ME, description=_DESC,
            ))

for _cmp in ("difference", "ratio"):
    register(ParityCase(
        name=f"avg_comparisons.weightit.lalonde.ATM.{_cmp}", function="avg_comparisons",
        r_twin="marginaleffects::avg_comparisons(glm_weightit fit, wts = W$weights)",
        dataset=_DATA["lalonde"], r_file="effects.R", r_function="ref_avg_comparisons_weightit",
        args={"ps_formula": _PS["lalonde"], "formula": _OUTCOME["lalonde"][1], "estimand": "ATM",
              "family": "binomial", "vcov": "asympt", "variable": "treat", "comparison": _cmp,
              "target": "all"},
        python=_py_weightit, exact=("n",), r_packages=_ME,
        description="ATM weights: the average is weighted with them, as WeightIt documents; "
                    + _DESC,
    ))


def _cart():
    from carts_iptw.parity.cases.design import cart_ipw

    return cart_ipw()


_CART_PS = ("anakinra ~ age + histology + ldh_elevated + prior_hct + lines_ge3 + kps_le70 + "
            "construct_41bb + cns_or_extranodal + status_sdpd")
for _est in ("ATE", "ATT"):
    for _cmp in ("difference", "ratio", "oddsratio"):
        register(ParityCase(
            name=f"avg_comparisons.weightit.cart.{_est}.{_cmp}", function="avg_comparisons",
            r_twin="marginaleffects::avg_comparisons(glm_weightit fit)",
            dataset=_cart, r_file="effects.R", r_function="ref_avg_comparisons_weightit",
            args={"ps_formula": _CART_PS, "formula": "infection_any_d30 ~ anakinra + age + "
                  "ldh_elevated + kps_le70", "estimand": _est, "family": "binomial",
                  "vcov": "asympt", "variable": "anakinra", "comparison": _cmp,
                  "target": _TARGET[_est]},
            python=_py_weightit, exact=("n",), r_packages=_ME,
            description="held-out data set (the bundled SYNTHETIC CAR T cohort); " + _DESC,
        ))

for _est in ("ATE", "ATT"):
    for _cmp in ("difference", "ratio"):
        register(ParityCase(
            name=f"avg_comparisons.weightit.lalonde_sw.{_est}.{_cmp}", function="avg_comparisons",
            r_twin="marginaleffects::avg_comparisons(glm_weightit fit, wts = s.weights)",
            dataset=lalonde_sw_ipw, r_file="effects.R",
            r_function="ref_avg_comparisons_weightit",
            args={"ps_formula": _PS["lalonde"], "formula": _OUTCOME["lalonde"][1],
                  "estimand": _est, "family": "binomial", "vcov": "asympt", "variable": "treat",
                  "comparison": _cmp, "target": _TARGET[_est], "s_weights": "sw"},
            python=_py_weightit, exact=("n",), r_packages=_ME,
            description="sampling weights: the average is weighted with them, as WeightIt "
                        "documents; " + _DESC,
        ))

for _ds in ("lalonde", "birthwt"):
    _v, _f = _OUTCOME[_ds]
    for _cmp in ("difference", "ratio", "oddsratio"):
        register(ParityCase(
            name=f"avg_comparisons.svyglm.{_ds}.{_cmp}", function="avg_comparisons",
            r_twin="marginaleffects::avg_comparisons(survey::svyglm fit)",
            dataset=_DATA[_ds], r_file="effects.R", r_function="ref_avg_comparisons_svyglm",
            args={"formula": _f, "weights": "w", "family": "quasibinomial", "variable": _v,
                  "comparison": _cmp, "target": "all"},
            python=_py_svyglm, exact=("n",), r_packages=("marginaleffects", "insight", "survey"),
            description="design-based vcov; z inference as marginaleffects' df = Inf",
        ))
        register(ParityCase(
            name=f"avg_comparisons.glm_robust.{_ds}.{_cmp}", function="avg_comparisons",
            r_twin="marginaleffects::avg_comparisons(glm fit, vcov = 'HC0')",
            dataset=_DATA[_ds], r_file="effects.R", r_function="ref_avg_comparisons_robust",
            args={"formula": _f, "weights": "w", "family": "quasibinomial", "variable": _v,
                  "comparison": _cmp},
            python=_py_robust, r_packages=("marginaleffects", "insight", "sandwich"),
            description="sandwich HC0 vcov (glm_robust) vs vcov = 'HC0' in marginaleffects",
        ))


# ---------------------------------------------------------------------------------------------
# restricted mean survival time
# ---------------------------------------------------------------------------------------------
def _rmst_lists(res) -> dict:
    t = res.tidy()
    return {"rmean": res.arms["rmean"].to_numpy(), "se_rmean": res.arms["se_rmean"].to_numpy(),
            "estimate": t["estimate"].to_numpy(), "std_error": t["std_error"].to_numpy(),
            "statistic": t["statistic"].to_numpy(), "p_value": t["p_value"].to_numpy(),
            "conf_low": t["conf_low"].to_numpy(), "conf_high": t["conf_high"].to_numpy()}


def _py_rmean(data, args):
    from carts_iptw.effects import rmst_difference
    from carts_iptw.survival.survfit import survfit

    f = survfit(args["formula"], data, weights=args.get("weights"))
    return _rmst_lists(rmst_difference(f, args["tau"], variance=args.get("variance", "survmean")))


def _py_rmst2(data, args):
    from carts_iptw.effects import rmst_difference
    from carts_iptw.survival.survfit import survfit

    f = survfit(f"Surv({args['time']}, {args['status']}) ~ {args['arm']}", data)
    out = _rmst_lists(rmst_difference(f, args["tau"]))
    r = rmst_difference(f, args["tau"])
    out = {k: out[k] for k in ("rmean", "se_rmean", "estimate", "conf_low", "conf_high", "p_value")}
    out["arm_lower"] = r.arms["conf_low"].to_numpy()
    out["arm_upper"] = r.arms["conf_high"].to_numpy()
    return out


def _lazy(name):
    def load():
        from carts_iptw.parity.cases import survival as s

        return getattr(s, name)()
    load.__name__ = name
    return load


def _lazy_cr(name):
    def load():
        from carts_iptw.parity.cases import competing as c

        return getattr(c, name)()
    load.__name__ = name
    return load


_RMST = [
    ("rotterdam.os", "rotterdam_rfs", "Surv(dtime, death) ~ chemo", None, 3000.0),
    ("rotterdam.os.iptw", "rotterdam_rfs", "Surv(dtime, death) ~ chemo", "w", 3000.0),
    ("rotterdam.rfs.iptw", "rotterdam_rfs", "Surv(rfstime, rfs) ~ chemo", "w", 1826.25),
    ("colon.recurrence", "colon_recurrence", "Surv(time, status) ~ lev5fu", None, 2000.0),
    ("colon.recurrence.iptw", "colon_recurrence", "Surv(time, status) ~ lev5fu", "w", 2000.0),
    ("lung.iptw", "lung_complete", "Surv(time, status) ~ female", "w", 500.0),
]
for _name, _ds, _f, _w, _tau in _RMST:
    register(ParityCase(
        name=f"rmst_difference.survfit.{_name}", function="rmst_difference",
        r_twin="summary(survival::survfit(...), rmean = tau)$table; difference / ratio with "
               "survRM2's formulas",
        dataset=_lazy(_ds), r_file="effects.R", r_function="ref_rmean",
        args={"formula": _f, "tau": _tau, **({"weights": _w} if _w else {})},
        python=_py_rmean, r_packages=("survival",),
        description="rmean and se(rmean) from survival's survmean"
                    + ("; weighted counts (Greenwood-type variance, as R)" if _w else ""),
    ))

for _name, _ds, _f, _w, _tau in _RMST:
    if _w:
        register(ParityCase(
            name=f"rmst_difference.survfit.{_name}.robust", function="rmst_difference",
            r_twin="sqrt(sum(resid(survival::survfit(...), times = tau, type = 'sojourn', "
                   "weighted = TRUE)^2)) per arm",
            dataset=_lazy(_ds), r_file="effects.R", r_function="ref_rmean",
            args={"formula": _f, "tau": _tau, "weights": _w, "variance": "robust"},
            python=_py_rmean, r_packages=("survival",),
            description="infinitesimal-jackknife (robust) RMST variance of weighted curves",
        ))

for _name, _ds, _t, _s, _a, _tau in (
        ("rotterdam.os", "rotterdam_rfs", "dtime", "death", "chemo", 3000.0),
        ("rotterdam.rfs", "rotterdam_rfs", "rfstime", "rfs", "hormon", 2500.0),
        ("colon.recurrence", "colon_recurrence", "time", "status", "lev5fu", 2000.0)):
    register(ParityCase(
        name=f"rmst_difference.rmst2.{_name}", function="rmst_difference",
        r_twin="survRM2::rmst2(time, status, arm, tau)", dataset=_lazy(_ds),
        r_file="effects.R", r_function="ref_rmst2",
        args={"time": _t, "status": _s, "arm": _a, "tau": _tau},
        python=_py_rmst2, r_packages=("survRM2", "survival"),
        description="the real survRM2 1.0-4 (unweighted): per-arm RMST, se and CI, difference "
                    "and ratio with CI and p",
    ))


# ---------------------------------------------------------------------------------------------
# survival / cumulative incidence differences at horizons
# ---------------------------------------------------------------------------------------------
def _py_surv_difference(data, args):
    from carts_iptw.effects import survfit_difference
    from carts_iptw.survival.survfit import survfit

    f = survfit(args["formula"], data, weights=args.get("weights"))
    r = survfit_difference(f, args["times"], measure=args.get("measure", "survival"),
                           state=args.get("state"))
    t = r.tidy()
    a = r.arms
    s0, s1 = f.strata
    out = {k: t[k].to_numpy() for k in ("estimate", "std_error", "statistic", "p_value",
                                         "conf_low", "conf_high")}
    out.update({"arm0": a.loc[a["strata"] == s0, "value"].to_numpy(),
                "arm1": a.loc[a["strata"] == s1, "value"].to_numpy(),
                "se0": a.loc[a["strata"] == s0, "std_err"].to_numpy(),
                "se1": a.loc[a["strata"] == s1, "std_err"].to_numpy()})
    return out


_SD = [
    ("rotterdam.rfs.iptw.survival", _lazy("rotterdam_rfs"), "Surv(rfstime, rfs) ~ chemo", "w",
     [365.25, 1826.25, 3652.5], "survival", None),
    ("rotterdam.os.risk", _lazy("rotterdam_rfs"), "Surv(dtime, death) ~ chemo", None,
     [1826.25, 3652.5], "risk", None),
    ("colon.recurrence.iptw.risk", _lazy("colon_recurrence"), "Surv(time, status) ~ lev5fu", "w",
     [365.0, 1095.0, 1825.0], "risk", None),
    ("lung.iptw.survival", _lazy("lung_complete"), "Surv(time, status) ~ female", "w",
     [180.0, 365.0], "survival", None),
    ("rotterdam.cif.iptw", _lazy_cr("rotterdam_cr"), "Surv(rfstime, event) ~ chemo", "w",
     [1826.25, 3652.5], "risk", "recurrence"),
    ("cart.cif.iptw", _lazy_cr("cart_cr"), "Surv(inf_months, event) ~ anakinra", "w",
     [3.0, 6.0], "risk", "infection"),
]
for _name, _ds, _f, _w, _times, _m, _state in _SD:
    register(ParityCase(
        name=f"survfit_difference.{_name}", function="survfit_difference",
        r_twin="summary(survival::survfit(...), times = t) per arm; difference with "
               "sqrt(se1^2 + se0^2)",
        dataset=_ds, r_file="effects.R", r_function="ref_surv_difference",
        args={"formula": _f, "times": _times, "measure": _m,
              **({"weights": _w} if _w else {}), **({"state": _state} if _state else {})},
        python=_py_surv_difference, r_packages=("survival",),
        description=("robust (IJ) curve variances (non-integer weights), as R"
                     if _w else "Greenwood curve variances"),
    ))


# ---------------------------------------------------------------------------------------------
# E-values
# ---------------------------------------------------------------------------------------------
def no_data() -> pd.DataFrame:
    """E-values take numbers, not data: a one-cell frame for the harness."""
    return pd.DataFrame({"x": [0.0]})


def _py_evalue(data, args):
    from carts_iptw.effects import evalue

    e = evalue(args["estimate"], args.get("lower"), args.get("upper"), args["measure"],
               args.get("rare"))
    out = {"rr": e.rr, "point": e.point, "ci": e.ci}
    if args.get("lower") is not None:
        out["rr_lower"] = e.rr_ci[0]
    if args.get("upper") is not None:
        out["rr_upper"] = e.rr_ci[1]
    return out


_EV = [
    ("paper_example.RR", {"estimate": 3.9, "lower": 1.8, "upper": 8.7, "measure": "RR"}),
    ("protective.RR", {"estimate": 0.80, "lower": 0.71, "upper": 0.91, "measure": "RR"}),
    ("crosses_null.RR", {"estimate": 1.3, "lower": 0.9, "upper": 1.9, "measure": "RR"}),
    ("upper_only.RR", {"estimate": 0.7, "upper": 0.95, "measure": "RR"}),
    ("common.OR", {"estimate": 0.86, "lower": 0.75, "upper": 0.99, "measure": "OR", "rare": False}),
    ("rare.OR", {"estimate": 2.4, "lower": 1.3, "upper": 4.1, "measure": "OR", "rare": True}),
    ("common.HR", {"estimate": 0.56, "lower": 0.46, "upper": 0.69, "measure": "HR", "rare": False}),
    ("common.HR_harm", {"estimate": 1.8, "lower": 1.2, "upper": 2.7, "measure": "HR", "rare": False}),
    ("rare.HR", {"estimate": 1.25, "lower": 1.05, "upper": 1.49, "measure": "HR", "rare": True}),
]
for _name, _a in _EV:
    register(ParityCase(
        name=f"evalue.{_name}", function="evalue",
        r_twin="EValue::evalues.RR / evalues.OR / evalues.HR (formulas of VanderWeele & Ding 2017)",
        dataset=no_data, r_file="effects.R", r_function="ref_evalue", args=_a,
        python=_py_evalue, r_packages=(),
        description="base-R restatement of the paper's formulas: EValue does not install here "
                    "(needs metafor, dplyr)",
    ))


# ---------------------------------------------------------------------------------------------
# subgroups
# ---------------------------------------------------------------------------------------------
def _py_subgroups(data, args):
    from carts_iptw.effects.subgroups import subgroup_effects

    r = subgroup_effects(args["formula"], data, args["treatment"], args["modifier"],
                         weights=args.get("weights"), ps_formula=args.get("ps_formula"),
                         reestimate=bool(args.get("reestimate", False)),
                         estimand=args.get("estimand", "ATE"), family=args["family"])
    t = r.tidy()
    out = {k: t[k].to_numpy() for k in ("estimate", "std_error", "statistic", "p_value",
                                         "conf_low", "conf_high")}
    out.update({"F": r.interaction["statistic"], "df": r.interaction["df"],
                "ddf": r.interaction["ddf"], "p_interaction": r.interaction["p_value"]})
    return out


_SG = [
    ("lalonde.married", _DATA["lalonde"], {"formula": "employed ~ treat", "treatment": "treat",
                                           "modifier": "married", "weights": "w"}),
    ("lalonde.nodegree.adjusted", _DATA["lalonde"], {"formula": "employed ~ treat + age + educ",
                                                     "treatment": "treat", "modifier": "nodegree",
                                                     "weights": "w"}),
    ("birthwt.race", _DATA["birthwt"], {"formula": "low ~ smoke", "treatment": "smoke",
                                        "modifier": "race", "weights": "w"}),
]
for _name, _ds, _a in _SG:
    register(ParityCase(
        name=f"subgroup_effects.{_name}", function="subgroup_effects",
        r_twin="survey::svyglm on subset(design, modifier == level) + survey::regTermTest",
        dataset=_ds, r_file="effects.R", r_function="ref_subgroups",
        args={**_a, "family": "quasibinomial"}, python=_py_subgroups,
        exact=("df",), r_packages=("survey",),
        description="weights kept from the whole cohort: each subgroup a domain of the design",
    ))

register(ParityCase(
    name="subgroup_effects.lalonde.married.reestimated", function="subgroup_effects",
    r_twin="WeightIt::weightit within each subgroup + survey::svyglm + survey::regTermTest",
    dataset=_DATA["lalonde"], r_file="effects.R", r_function="ref_subgroups",
    args={"formula": "employed ~ treat", "treatment": "treat", "modifier": "married",
          "ps_formula": "treat ~ age + educ + race + nodegree + re74 + re75",
          "reestimate": True, "estimand": "ATE", "family": "quasibinomial"},
    python=_py_subgroups, exact=("df",), r_packages=("survey", "WeightIt"),
    description="weights re-estimated within subgroups by the real WeightIt 1.5.1",
))
