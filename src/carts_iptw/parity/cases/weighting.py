"""Parity cases for carts_iptw.weighting, checked live against the real WeightIt 1.5.1.

Every case calls ``WeightIt`` itself (``r_reference/weighting.R``) and declares it in
``r_packages``: ``CARTS_IPTW_R=require`` fails when WeightIt is missing, ``auto`` then falls back
to the snapshot R wrote. The real-WeightIt JSON files copied from ../shared/r-reference
(``tests/parity/snapshots/external/``) stay as held-out checks (``*.real`` cases).

Tolerances: relative 1e-6 by default; ``.tight`` glm cases 1e-9 (both sides at
``epsilon = 1e-12``). ``method = "ebal"`` is compared with WeightIt run at ``reltol = 1e-16``
(its default 1e-10 stops its BFGS ~1e-4 short of the optimum this package solves exactly).
``method = "cbps"``: WeightIt 1.5.1 solves it with ``optim`` (rootSolve is not installed) and
stalls short of the root even at ``reltol = 1e-16``; the weights are compared at
``CBPS_RTOL`` (see there) and tests/parity/test_weightit_balance.py requires this package's
balance to be at least as good as WeightIt's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.parity.registry import ParityCase, register

FORMULAS = {
    "lalonde": "treat ~ age + educ + race + married + nodegree + re74 + re75",
    "birthwt": "smoke ~ age + lwt + factor(race) + ptl + ht + ui",
    "rotterdam": "chemo ~ age + meno + size + grade + nodes + pgr + er + hormon",
}
ESTIMANDS = ("ATE", "ATT", "ATC", "ATO", "ATM")
TIGHT = {"epsilon": 1e-12, "maxit": 100}
WI = ("WeightIt",)
#: WeightIt's cbps stops short of the root of its balance equations (optim on the norm of the
#: mean balance condition, no rootSolve): on these data its weights differ from the exact root
#: by up to ~2e-3 relative (largest weights of birthwt ATT), so the weights are compared at 1e-2
#: relative and 1e-3 absolute; balance is compared separately (ours must be at least as good).
CBPS_RTOL, CBPS_ATOL = 1e-2, 1e-3


def lalonde_sw() -> pd.DataFrame:
    """lalonde with deterministic, unequal sampling weights ``sw`` (0.5 to 1.5)."""
    from carts_iptw.datasets import load_dataset

    d = load_dataset("lalonde").copy()
    d["sw"] = 0.5 + (np.arange(len(d)) % 5) / 4.0
    return d


COLON_FORMULA = "fu5 ~ age + sex + obstruct + perfor + adhere + nodes + differ + extent + surg"


def colon_missing() -> pd.DataFrame:
    """survival::colon (recurrence rows, etype 1), treatment ``fu5`` = Lev+5FU vs Obs/Lev: a real
    data set with missing covariate values (nodes: 18, differ: 23 missing)."""
    from carts_iptw.datasets import load_dataset

    d = load_dataset("colon")
    d = d[d["etype"] == 1].reset_index(drop=True)
    out = d[["age", "sex", "obstruct", "perfor", "adhere", "nodes", "differ", "extent",
             "surg"]].copy()
    out.insert(0, "fu5", (d["rx"] == "Lev+5FU").astype("int64"))
    return out


CART_FORMULA = ("anakinra ~ age + histology + ldh_elevated + prior_hct + lines_ge3 + kps_le70 + "
                "construct + status_at_infusion + cns_or_extranodal")


def cart_cohort() -> pd.DataFrame:
    """The SYNTHETIC CAR T cohort's treatment and baseline covariates."""
    from carts_iptw.study.synthetic import load_synthetic_cohort

    d = load_synthetic_cohort()
    cols = ["anakinra", "age", "histology", "ldh_elevated", "prior_hct", "lines_ge3", "kps_le70",
            "construct", "status_at_infusion", "cns_or_extranodal"]
    return d[cols].copy()


DATA = {"lalonde": ("lalonde", FORMULAS["lalonde"], {}),
        "birthwt": ("birthwt", FORMULAS["birthwt"], {}),
        "rotterdam": ("rotterdam", FORMULAS["rotterdam"], {}),
        "cart": (cart_cohort, CART_FORMULA, {}),
        "colon_missing": (colon_missing, COLON_FORMULA, {"missing": "ind"})}


def _control(args):
    from carts_iptw.irls import GlmControl

    if "epsilon" in args:
        return GlmControl(epsilon=args["epsilon"], maxit=args.get("maxit", 25))
    return None


def fit_weightit(data, args, method=None):
    """The Python twin of ``.wi_fit`` in r_reference/weighting.R."""
    from carts_iptw.weighting import weightit

    return weightit(args["formula"], data, method=method or args.get("method", "glm"),
                    estimand=args.get("estimand", "ATE"),
                    stabilize=bool(args.get("stabilize", False)), s_weights=args.get("s_weights"),
                    focal=args.get("focal"), missing=args.get("missing"), control=_control(args))


def _weightit(data, args):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # extreme-weight / stabilize notes (R warns alike)
        W = fit_weightit(data, args)
    out = {"weights": W.weights}
    if W.ps is not None:
        # WeightIt with focal = <control level> reports P(A = focal); .ps here is always
        # P(treated) (README: conventions that differ)
        out["ps"] = 1 - W.ps if args.get("focal") == 0 else W.ps
    if W.method == "glm":
        m = W.ps_model
        out.update(deviance=m.deviance, iter=m.iter, converged=float(m.converged))
    if args.get("group_sums"):
        out["group_sums"] = np.array([W.weights[W.treat == 0].sum(), W.weights[W.treat == 1].sum()])
    return out


def _weight_summary(data, args):
    W = fit_weightit(data, args)
    s = W.summary()
    out = {}
    for g in ("treated", "control"):
        col = "Treated" if g == "treated" else "Control"
        out[g] = {
            "min": s.weight_range.loc[g, "min"], "max": s.weight_range.loc[g, "max"],
            "top": s.weight_top[g].to_numpy(),
            "coef_of_var": s.coef_of_var[g], "scaled_mad": s.scaled_mad[g],
            "negative_entropy": s.negative_entropy[g],
            "ess_unweighted": s.effective_sample_size.loc["Unweighted", col],
            "ess_weighted": s.effective_sample_size.loc["Weighted", col],
        }
        if args.get("skip_max"):
            del out[g]["max"]
    return out


def _trim(data, args):
    from carts_iptw.weighting import trim

    W = fit_weightit(data, args)
    kw = {"at": args["at"], "lower": bool(args.get("lower", False)),
          "drop": bool(args.get("drop", False))}
    return {"object": trim(W, **kw).weights,
            "vector_treat": trim(W.weights, treat=W.treat, **kw),
            "vector": trim(W.weights, **kw)}


def _get_w(data, args):
    from carts_iptw.weighting import get_w_from_ps

    W = fit_weightit(data, args, method="glm")
    return {"ps": W.ps, "weights": get_w_from_ps(W.ps, W.treat, args["target"],
                                                 stabilize=bool(args.get("stabilize_w", False)))}


def _case(name, r_twin, dataset, r_function, python, args, **kw):
    register(ParityCase(name=name, function=kw.pop("function", "weightit"), r_twin=r_twin,
                        dataset=dataset, r_file="weighting.R", r_function=r_function,
                        python=python, args=args, r_packages=WI, **kw))


# --- method "glm": every data set x estimand; R's default control and tightened control -----
for _ds, (_d, _f, _extra) in DATA.items():
    for _e in ESTIMANDS + ("ATOS",):
        _case(f"weightit.glm.{_ds}.{_e}", "WeightIt::weightit(method = 'glm')", _d,
              "real_weightit", _weightit, {"formula": _f, "estimand": _e, **_extra},
              exact=("iter", "converged"),
              description="propensity score by glm.fit's IRLS path at glm.control() defaults "
                          "(same iterations as WeightIt)"
                          + ("; missing = 'ind' (median + indicator)" if _extra else ""))
        if _ds in FORMULAS:
            _case(f"weightit.glm.{_ds}.{_e}.tight",
                  "WeightIt::weightit(method = 'glm', epsilon = 1e-12, maxit = 100)", _d,
                  "real_weightit", _weightit, {"formula": _f, "estimand": _e, **TIGHT},
                  rtol=1e-9, exact=("converged",),
                  description="tightened convergence on both sides: agreement to 1e-9")
    _case(f"weightit.glm.{_ds}.ATE.stabilize", "WeightIt::weightit(method = 'glm', stabilize = TRUE)",
          _d, "real_weightit", _weightit,
          {"formula": _f, "estimand": "ATE", "stabilize": True, **_extra},
          exact=("iter", "converged"))
    _case(f"weightit.summary.{_ds}.ATE", "WeightIt::summary.weightit", _d, "real_weight_summary",
          _weight_summary, {"formula": _f, "estimand": "ATE", **_extra})

for _e, _st in (("ATE", False), ("ATT", False), ("ATO", False), ("ATE", True)):
    _case(f"weightit.glm.lalonde_sw.{_e}{'.stabilize' if _st else ''}",
          f"WeightIt::weightit(method = 'glm', s.weights = 'sw'{', stabilize = TRUE' if _st else ''})",
          lalonde_sw, "real_weightit", _weightit,
          {"formula": FORMULAS["lalonde"], "estimand": _e, "s_weights": "sw", "stabilize": _st},
          exact=("iter", "converged"),
          description="sampling weights as prior weights with WeightIt's mustart; stabilisation "
                      "factor = sampling-weighted group share")
_case("weightit.summary.lalonde_sw.ATT", "WeightIt::summary.weightit (s.weights)", lalonde_sw,
      "real_weight_summary", _weight_summary,
      {"formula": FORMULAS["lalonde"], "estimand": "ATT", "s_weights": "sw", "skip_max": True},
      description="weights times sampling weights; unweighted ESS from the sampling weights. "
                  "The range maximum is left out: WeightIt 1.5.1 takes it from the weights "
                  "without the sampling weights (its minimum with them); here both ends are "
                  "of weights x sampling weights (README: conventions that differ)")

# focal: the treated group (= ATT) and the control group (WeightIt: ATT with focal 0; here the ATC)
for _focal in (1, 0):
    _case(f"weightit.glm.lalonde.ATT.focal{_focal}", f"WeightIt::weightit(estimand = 'ATT', focal = {_focal})",
          "lalonde", "real_weightit", _weightit,
          {"formula": FORMULAS["lalonde"], "estimand": "ATT", "focal": _focal},
          exact=("iter", "converged"))

# --- method "ebal": WeightIt's weight scale, at WeightIt's tightened optim tolerance --------
for _ds, (_d, _f, _extra) in DATA.items():
    for _e in ("ATE", "ATT", "ATC"):
        _case(f"weightit.ebal.{_ds}.{_e}", "WeightIt::weightit(method = 'ebal', reltol = 1e-16)",
              _d, "real_weightit", _weightit,
              {"formula": _f, "estimand": _e, "reltol": 1e-16, "group_sums": True, **_extra},
              description="entropy balancing: WeightIt's scale (each weighted group sums to its "
                          "size) vs WeightIt's BFGS at reltol = 1e-16 (its default 1e-10 stops "
                          "~1e-4 short)")
for _st in (False, True):
    _case(f"weightit.ebal.lalonde_sw.ATE{'.stabilize' if _st else ''}",
          "WeightIt::weightit(method = 'ebal', s.weights = 'sw', reltol = 1e-16"
          + (", stabilize = TRUE)" if _st else ")"),
          lalonde_sw, "real_weightit", _weightit,
          {"formula": FORMULAS["lalonde"], "estimand": "ATE", "s_weights": "sw", "reltol": 1e-16,
           "stabilize": _st, "group_sums": True},
          description="stabilize is ignored for ebal (WeightIt warns)" if _st else "")

# --- method "cbps": just-identified CBPS; WeightIt's optim stalls (stated tolerance) ---------
for _ds, (_d, _f, _extra) in DATA.items():
    for _e in ("ATE", "ATT", "ATC", "ATO"):
        _case(f"weightit.cbps.{_ds}.{_e}", "WeightIt::weightit(method = 'cbps', reltol = 1e-16)",
              _d, "real_weightit", _weightit,
              {"formula": _f, "estimand": _e, "reltol": 1e-16, **_extra},
              # ATO with the logit link: the root is the glm MLE, which WeightIt reaches
              rtol=1e-6 if _e == "ATO" else CBPS_RTOL, atol=0.0 if _e == "ATO" else CBPS_ATOL,
              description="exact root of the balance equations vs WeightIt's optim, which "
                          "stalls short of it: compared at rel 1e-2 / abs 1e-3 (balance: "
                          "test_weightit_balance.py)" if _e != "ATO" else
                          "ATO: the balance equations are the logistic score (exact in both)")
_case("weightit.cbps.lalonde_sw.ATE", "WeightIt::weightit(method = 'cbps', s.weights = 'sw')",
      lalonde_sw, "real_weightit", _weightit,
      {"formula": FORMULAS["lalonde"], "estimand": "ATE", "s_weights": "sw", "reltol": 1e-16},
      rtol=CBPS_RTOL, atol=CBPS_ATOL)

# --- trim(): on the weightit object, on the vector with treat, and on the bare vector --------
for _ds in ("lalonde", "rotterdam"):
    for _e, _at, _lower, _drop in (("ATE", 0.9, False, False), ("ATE", 0.95, True, False),
                                   ("ATE", 3, False, False), ("ATE", 3, True, False),
                                   ("ATE", 0.9, False, True), ("ATT", 0.9, False, False),
                                   ("ATT", 5, True, False)):
        _case(f"trim.{_ds}.{_e}.{_at}{'.lower' if _lower else ''}{'.drop' if _drop else ''}",
              "WeightIt::trim (weightit object, vector + treat, vector)", _ds, "real_trim", _trim,
              {"formula": FORMULAS[_ds], "estimand": _e, "at": _at, "lower": _lower, "drop": _drop},
              function="trim",
              description="quantile type 3 or a count; focal (treated, all 1) weights of an ATT "
                          "left out (object: the focal group; vector + treat: groups of equal "
                          "weights)")

# --- get_w_from_ps(): every estimand, stabilized or not --------------------------------------
for _e in ESTIMANDS + ("ATOS",):
    for _st in (False, True):
        _case(f"get_w_from_ps.lalonde.{_e}{'.stabilize' if _st else ''}",
              "WeightIt::get_w_from_ps", "lalonde", "real_get_w_from_ps", _get_w,
              {"formula": FORMULAS["lalonde"], "target": _e, "stabilize_w": _st},
              function="get_w_from_ps")


# --- held-out checks: real WeightIt 1.5.1 output on lalonde from ../shared/r-reference --------
def _real_python(data, args):
    from carts_iptw.weighting import weightit

    W = weightit(args["formula"], data, method="glm", estimand=args["estimand"])
    s = W.summary()
    return {
        "ps": W.ps, "weights": W.weights,
        "ess_weighted": s.effective_sample_size.loc["Weighted", ["Control", "Treated"]].to_numpy(),
        "range_treated": s.weight_range.loc["treated"].to_numpy(),
        "range_control": s.weight_range.loc["control"].to_numpy(),
        "top_treated": s.weight_top["treated"].to_numpy(),
        "top_control": s.weight_top["control"].to_numpy(),
        "coef_of_var": s.coef_of_var[["treated", "control"]].to_numpy(),
        "scaled_mad": s.scaled_mad[["treated", "control"]].to_numpy(),
        "negative_entropy": s.negative_entropy[["treated", "control"]].to_numpy(),
        "deviance": W.ps_model.deviance,
    }


def _real_extract(doc):
    w = doc["weightit"]
    s = w["summary"]
    return {
        "ps": np.array(w["ps"]), "weights": np.array(w["weights"]),
        "ess_weighted": np.array([s["ess"]["columns"]["Control"][1], s["ess"]["columns"]["Treated"][1]]),
        "range_treated": np.array([s["weight_range"]["treated"]["min"], s["weight_range"]["treated"]["max"]]),
        "range_control": np.array([s["weight_range"]["control"]["min"], s["weight_range"]["control"]["max"]]),
        "top_treated": np.array(s["weight_top"]["treated"]["values"], dtype=float),
        "top_control": np.array(s["weight_top"]["control"]["values"], dtype=float),
        "coef_of_var": np.array([s["coef_of_var"]["treated"], s["coef_of_var"]["control"]], dtype=float),
        "scaled_mad": np.array([s["scaled_mad"]["treated"], s["scaled_mad"]["control"]], dtype=float),
        "negative_entropy": np.array([s["negative_entropy"]["treated"], s["negative_entropy"]["control"]], dtype=float),
        "deviance": w["ps_model"]["deviance"],
    }


for _e in ("ATE", "ATT"):
    register(ParityCase(
        name=f"weightit.glm.lalonde.{_e}.real", function="weightit",
        r_twin="WeightIt::weightit(method = 'glm') + summary()", dataset="lalonde",
        r_file="weighting.R", r_function="real_weightit_heldout", python=_real_python,
        args={"formula": FORMULAS["lalonde"], "estimand": _e},
        r_packages=WI, external_snapshot=f"weightit_lalonde_{_e}.json",
        external_extract=_real_extract,
        description="held out: real WeightIt 1.5.1 output recorded in ../shared/r-reference",
    ))
