"""Parity of warnings: the Python function gives R's warnings where it says it mirrors them.

R's reference functions here (r_reference/conditions.R) let every warning reach the harness
(``rbridge.call_r_captured``); the cases are ``warnings="mirrored"``, so the set of Python's
warnings must equal R's (``compare.compare_warnings``), besides the numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.parity.cases.glm import quasi_separated
from carts_iptw.parity.registry import ParityCase, register


def _py_glm(data, args):
    from carts_iptw.glm_model import glm
    from carts_iptw.irls import GlmControl

    fit = glm(args["formula"], data, family="binomial",
              control=GlmControl(epsilon=args.get("epsilon", 1e-8), maxit=args.get("maxit", 25)))
    return {"coef": fit.coef, "deviance": fit.deviance, "iter": fit.iter,
            "converged": float(fit.converged)}


def separated() -> pd.DataFrame:
    """Complete separation: y = 1 exactly when x > 0.3."""
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=80), 4)
    return pd.DataFrame({"y": (x > 0.3).astype(np.int64), "x": x})


def not_converging() -> pd.DataFrame:
    """A logistic model that needs more than 2 IRLS iterations (lalonde-like, deterministic)."""
    from carts_iptw.datasets import load_dataset

    return load_dataset("lalonde")[["treat", "age", "educ", "re74"]]


register(ParityCase(
    name="glm.warnings.separation.complete", function="glm", r_twin="stats::glm",
    dataset=separated, r_file="conditions.R", r_function="ref_glm_conditions",
    args={"formula": "y ~ x"}, python=_py_glm, warnings="mirrored",
    # complete separation: the coefficients run off along the IRLS path, the same on both
    # sides after 25 iterations (relative 1e-12 here), so the default tolerance holds
    exact=("iter", "converged"),
    description="glm.fit: fitted probabilities numerically 0 or 1 occurred",
))
register(ParityCase(
    name="glm.warnings.separation.quasi_separated", function="glm", r_twin="stats::glm",
    dataset=quasi_separated, r_file="conditions.R", r_function="ref_glm_conditions",
    args={"formula": "y ~ x + hi"}, python=_py_glm, warnings="mirrored",
    # separation: the IRLS path (same on both sides) stops where the deviance criterion does
    exact=("iter", "converged"),
    description="quasi-complete separation that R fits without a warning: none in Python either",
))
register(ParityCase(
    name="glm.warnings.maxit2.lalonde", function="glm", r_twin="stats::glm",
    dataset=not_converging, r_file="conditions.R", r_function="ref_glm_conditions",
    args={"formula": "treat ~ age + educ + re74", "maxit": 2}, python=_py_glm,
    warnings="mirrored", exact=("iter", "converged"),
    description="glm.fit: algorithm did not converge (maxit = 2)",
))


def monotone_cox() -> pd.DataFrame:
    """Every patient with x = 1 has an event before any patient with x = 0 is at risk of one:
    the partial likelihood is monotone in x (its coefficient runs to +infinity)."""
    n = 40
    i = np.arange(n)
    x = (i < 15).astype(int)
    time = np.where(x == 1, 1.0 + i, 100.0 + i)
    status = np.where((x == 1) | (i % 3 != 0), 1, 0)
    z = np.round(np.sin(i * 1.7) * 2.0, 3)
    return pd.DataFrame({"time": time, "status": status, "x": x, "z": z})


def _py_coxph(data, args):
    from carts_iptw.survival import coxph
    from carts_iptw.survival._coxfit import CoxControl

    fit = coxph(args["formula"], data, ties=args["ties"],
                control=CoxControl(iter_max=args.get("iter_max", 20)))
    return {"loglik": np.asarray(fit.loglik, dtype=float), "coef": fit.coef[list(args["finite"])],
            "iter": fit.iter}


register(ParityCase(
    name="coxph.warnings.monotone", function="coxph", r_twin="survival::coxph",
    dataset=monotone_cox, r_file="conditions.R", r_function="ref_coxph_conditions",
    args={"formula": "Surv(time, status) ~ x + z", "ties": "efron", "finite": ["z"]},
    python=_py_coxph, warnings="mirrored", r_packages=("survival",), exact=("iter",),
    description="Loglik converged before variable 1; coefficient may be infinite",
))
register(ParityCase(
    name="coxph.warnings.iter_max2.monotone", function="coxph", r_twin="survival::coxph",
    dataset=monotone_cox, r_file="conditions.R", r_function="ref_coxph_conditions",
    args={"formula": "Surv(time, status) ~ x + z", "ties": "breslow", "finite": ["x", "z"],
          "iter_max": 2},
    python=_py_coxph, warnings="mirrored", r_packages=("survival",), exact=("iter",),
    description="Ran out of iterations and did not converge",
))


# ---------------------------------------------------------------------------------------------
# weightit: the real WeightIt 1.5.1 (r_reference/weighting.R's real_weightit lets its warnings
# through). WeightIt warns, and so does weightit() here, on: weights whose coefficient of
# variation exceeds 4 in a treatment group ("some extreme weights were generated"), the
# propensity-score glm not converging ("(from `glm()`): glm.fit: algorithm did not converge"),
# `focal` with an estimand other than ATT/ATC, and `stabilize` with ebal/cbps. Not mirrored, on
# purpose (documented in weightit's docstring): propensity scores numerically 0 or 1 and
# missing covariates without `missing=` raise ValueError here where WeightIt warns.
# ---------------------------------------------------------------------------------------------
def _py_weightit(data, args):
    from carts_iptw.irls import GlmControl
    from carts_iptw.weighting import weightit

    control = GlmControl(maxit=args["maxit"]) if "maxit" in args else None
    W = weightit(args["formula"], data, method=args.get("method", "glm"),
                 estimand=args.get("estimand", "ATE"), stabilize=bool(args.get("stabilize")),
                 s_weights=args.get("s_weights"), focal=args.get("focal"), control=control)
    out = {"weights": W.weights}
    if W.ps is not None:
        out["ps"] = W.ps
    if W.method == "glm":
        m = W.ps_model
        out.update(deviance=m.deviance, iter=m.iter, converged=float(m.converged))
    return out


def extreme_ps() -> pd.DataFrame:
    """A treatment that a covariate predicts strongly (logit -2 + 2x, 300 units, fixed seed):
    the ATE weights of the few treated units with low x are large (treated-group coefficient of
    variation of the weights about 4.4, above WeightIt's threshold of 4), without separation."""
    rng = np.random.default_rng(2)
    n = 300
    x = np.round(rng.normal(size=n), 3)
    z = np.round(rng.normal(size=n), 3)
    p = 1 / (1 + np.exp(-(-2.0 + 2.0 * x)))
    return pd.DataFrame({"treat": (rng.random(n) < p).astype(np.int64), "x": x, "z": z})


def lalonde_one_heavy() -> pd.DataFrame:
    """lalonde with sampling weights 1 except one treated unit's 1000: the sampling-weighted
    IPT weights of the treated are extreme (WeightIt multiplies by s.weights before its check)."""
    from carts_iptw.datasets import load_dataset

    d = load_dataset("lalonde")[["treat", "age", "educ", "re74"]].copy()
    sw = np.ones(len(d))
    sw[int(np.flatnonzero(d["treat"].to_numpy() == 1)[0])] = 1000.0
    d["sw"] = sw
    return d


def _lalonde_small() -> pd.DataFrame:
    from carts_iptw.datasets import load_dataset

    return load_dataset("lalonde")[["treat", "age", "educ", "re74"]].copy()


_WI = ("WeightIt",)
register(ParityCase(
    name="weightit.warnings.extreme_weights.ATE", function="weightit",
    r_twin="WeightIt::weightit(method='glm')", dataset=extreme_ps, r_file="weighting.R",
    r_function="real_weightit", args={"formula": "treat ~ x + z", "estimand": "ATE"},
    python=_py_weightit, warnings="mirrored", r_packages=_WI, exact=("iter", "converged"),
    description="WeightIt: some extreme weights were generated (sd/mean of a group's weights > 4)",
))
register(ParityCase(
    name="weightit.warnings.extreme_s_weights.lalonde.ATE", function="weightit",
    r_twin="WeightIt::weightit(method='glm', s.weights)", dataset=lalonde_one_heavy,
    r_file="weighting.R", r_function="real_weightit",
    args={"formula": "treat ~ age + educ + re74", "estimand": "ATE", "s_weights": "sw"},
    python=_py_weightit, warnings="mirrored", r_packages=_WI, exact=("iter", "converged"),
    # weightit() also checks the sampling weights themselves (Kish ESS below 5% of the rows):
    # this package's own warning, which WeightIt never gives
    package_only_warnings=(r"weightit: s_weights: extreme weights",),
    description="extreme weights through s.weights (WeightIt's check is on weights x s.weights)",
))
register(ParityCase(
    name="weightit.warnings.maxit2.lalonde.ATE", function="weightit",
    r_twin="WeightIt::weightit(method='glm', maxit = 2)", dataset=_lalonde_small,
    r_file="weighting.R", r_function="real_weightit",
    args={"formula": "treat ~ age + educ + re74", "estimand": "ATE", "maxit": 2},
    python=_py_weightit, warnings="mirrored", r_packages=_WI, exact=("iter", "converged"),
    description="(from `glm()`): glm.fit: algorithm did not converge (the weights after 2 IRLS "
                "steps agree)",
))
register(ParityCase(
    name="weightit.warnings.focal_with_ATE.lalonde", function="weightit",
    r_twin="WeightIt::weightit(method='glm', focal = 1)", dataset=_lalonde_small,
    r_file="weighting.R", r_function="real_weightit",
    args={"formula": "treat ~ age + educ + re74", "estimand": "ATE", "focal": 1},
    python=_py_weightit, warnings="mirrored", r_packages=_WI, exact=("iter", "converged"),
    description='`estimand = "ATE"` is not compatible with `focal`; the ATT is estimated',
))
for _m in ("ebal", "cbps"):
    register(ParityCase(
        name=f"weightit.warnings.stabilize_{_m}.lalonde.ATE", function="weightit",
        r_twin=f"WeightIt::weightit(method='{_m}', stabilize = TRUE)", dataset=_lalonde_small,
        r_file="weighting.R", r_function="real_weightit",
        # ebal at reltol 1e-16 (WeightIt's default 1e-10 stops ~1e-4 short, see weighting.py)
        args={"formula": "treat ~ age + educ + re74", "estimand": "ATE", "method": _m,
              "stabilize": True, "reltol": 1e-16},
        python=_py_weightit, warnings="mirrored", r_packages=_WI,
        # cbps: WeightIt's optim stalls short of the root (weighting.py's CBPS_RTOL, CBPS_ATOL)
        **({"rtol": 1e-2, "atol": 1e-3} if _m == "cbps" else {}),
        description=f"`stabilize` cannot be used with method '{_m}' and is ignored",
    ))


# ---------------------------------------------------------------------------------------------
# svyglm: survey 4.1-1 passes glm.fit's warnings on (it suppresses none of them)
# ---------------------------------------------------------------------------------------------
def _py_svyglm(data, args):
    from carts_iptw.design.svydesign import svydesign
    from carts_iptw.design.svyglm import svyglm
    from carts_iptw.irls import GlmControl

    fit = svyglm(args["formula"], svydesign(data, weights=args["weights"]),
                 family=args["family"],
                 control=GlmControl(epsilon=args.get("epsilon", 1e-8),
                                    maxit=args.get("maxit", 25)),
                 check_separation_=not args.get("separated", False))
    out = {"coef": fit.coef, "iter": fit.glm.iter, "converged": float(fit.glm.converged)}
    if args.get("se", True):
        out["se"] = fit.se
    return out


def lalonde_employed() -> pd.DataFrame:
    """lalonde, the outcome ``employed`` (1978 earnings > 0) and IPT (ATE) weights ``w`` (the
    design cases' data), plus integer weights ``w1`` (all 1)."""
    from carts_iptw.parity.cases.design import lalonde_ipw

    d = lalonde_ipw()
    d["w1"] = 1
    return d


def separated_w1() -> pd.DataFrame:
    d = separated()
    d["w1"] = 1
    return d


_SVY = ("survey",)
for _name, _ds, _args, _desc in (
    ("binomial.ipt_weights.lalonde", lalonde_employed,
     {"formula": "employed ~ treat + age + educ", "family": "binomial", "weights": "w"},
     "non-integer #successes in a binomial glm! (IPT weights with family = binomial)"),
    ("quasibinomial.ipt_weights.lalonde", lalonde_employed,
     {"formula": "employed ~ treat + age + educ", "family": "quasibinomial", "weights": "w"},
     "quasibinomial (the IPTW default): no warning on either side"),
    ("binomial.unit_weights.lalonde", lalonde_employed,
     {"formula": "employed ~ treat + age + educ", "family": "binomial", "weights": "w1"},
     "binomial with weights all 1 (integer successes): no warning on either side"),
    ("maxit2.quasibinomial.lalonde", lalonde_employed,
     {"formula": "employed ~ treat + age + educ + re74", "family": "quasibinomial",
      "weights": "w", "maxit": 2},
     "glm.fit: algorithm did not converge (maxit = 2; coefficients and SEs after 2 steps)"),
    ("separation.binomial", separated_w1,
     {"formula": "y ~ x", "family": "binomial", "weights": "w1", "separated": True,
      "se": False},
     "complete separation with check_separation_=False: fitted probabilities numerically 0 "
     "or 1 occurred, algorithm did not converge"),
):
    register(ParityCase(
        name=f"svyglm.warnings.{_name}", function="svyglm",
        r_twin=f"survey::svyglm(family = {_args['family']}())", dataset=_ds,
        r_file="conditions.R", r_function="ref_svyglm_conditions", args=_args,
        python=_py_svyglm, warnings="mirrored", r_packages=_SVY, exact=("iter", "converged"),
        description=_desc,
    ))


# ---------------------------------------------------------------------------------------------
# survfit: survival 3.5-3's survfitKM warns when a cluster is given with robust = FALSE (and
# ignores it); weighted curves with non-integer (IPT) weights draw no warning in R, nor here.
# r_reference/survival.R's ref_survfit lets warnings through.
# ---------------------------------------------------------------------------------------------
def _py_survfit(data, args):
    from carts_iptw.parity.cases.survival import _py_survfit as survfit_quantities

    return survfit_quantities(data, args)


def lung_clustered() -> pd.DataFrame:
    """survival::lung (status 1/2 -> 0/1), IPT-like weights ``w`` and an institution cluster."""
    from carts_iptw.datasets import load_dataset

    d = load_dataset("lung")[["time", "status", "sex", "inst"]].dropna().reset_index(drop=True)
    d["status"] = (d["status"] == 2).astype(np.int64)
    d["inst"] = d["inst"].astype(np.int64)
    d["w"] = np.where(d["sex"] == 1, 1.5, 2.25)
    return d


for _name, _args, _desc in (
    ("cluster_robust_false", {"formula": "Surv(time, status) ~ sex", "cluster": "inst",
                              "robust": False},
     "cluster specified with robust=FALSE, cluster ignored"),
    ("cluster_robust_false.weighted", {"formula": "Surv(time, status) ~ sex", "cluster": "inst",
                                       "robust": False, "weights": "w"},
     "the same with non-integer weights (Greenwood variance, cluster ignored)"),
    ("weighted", {"formula": "Surv(time, status) ~ sex", "weights": "w"},
     "non-integer weights (robust IJ variance by default): no warning on either side"),
):
    register(ParityCase(
        name=f"survfit.warnings.{_name}.lung", function="survfit", r_twin="survival::survfit",
        dataset=lung_clustered, r_file="survival.R", r_function="ref_survfit", args=_args,
        python=_py_survfit, warnings="mirrored", r_packages=("survival",),
        # weighted counts are sums of weights: compared at the tolerance, not exactly
        exact=("strata", "time") + (() if "weights" in _args else ("n_risk", "n_event",
                                                                    "n_censor")),
        description=_desc,
    ))
