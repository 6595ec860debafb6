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
