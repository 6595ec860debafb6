"""Parity cases for carts_iptw.weighting against WeightIt (real snapshots) and base-R statements."""

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


def lalonde_sw() -> pd.DataFrame:
    """lalonde with deterministic, unequal sampling weights ``sw`` (0.5 to 1.5)."""
    from carts_iptw.datasets import load_dataset

    d = load_dataset("lalonde").copy()
    d["sw"] = 0.5 + (np.arange(len(d)) % 5) / 4.0
    return d


def _control(args):
    from carts_iptw.irls import GlmControl

    if "epsilon" in args:
        return GlmControl(epsilon=args["epsilon"], maxit=args.get("maxit", 25))
    return None


def _weightit_glm(data, args):
    from carts_iptw.weighting import weightit

    W = weightit(args["formula"], data, method="glm", estimand=args["estimand"],
                 stabilize=bool(args.get("stabilize", False)), s_weights=args.get("s_weights"),
                 control=_control(args))
    m = W.ps_model
    return {"ps": W.ps, "weights": W.weights, "coef": m.coef, "deviance": m.deviance,
            "iter": m.iter, "converged": float(m.converged)}


def _weight_summary(data, args):
    from carts_iptw.weighting import weightit

    W = weightit(args["formula"], data, method="glm", estimand=args["estimand"],
                 stabilize=bool(args.get("stabilize", False)), s_weights=args.get("s_weights"))
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
    return out


def _trim(data, args):
    from carts_iptw.weighting import trim, weightit

    W = weightit(args["formula"], data, method="glm", estimand=args["estimand"])
    return {"weights": trim(W.weights, at=args["at"], lower=bool(args.get("lower", False)),
                            treat=W.treat)}


def _ebal(data, args):
    from carts_iptw.weighting import weightit

    W = weightit(args["formula"], data, method="ebal", estimand=args["estimand"],
                 s_weights=args.get("s_weights"), stabilize=bool(args.get("stabilize", False)))
    out = {"weights": W.weights}
    for g, z in sorted(W.info["dual"].items()):
        out[f"dual{g}"] = z
    return out


# --- glm: every data set x estimand, R's default control and tightened control ---------------
for _ds, _f in FORMULAS.items():
    for _e in ESTIMANDS:
        register(ParityCase(
            name=f"weightit.glm.{_ds}.{_e}", function="weightit",
            r_twin="WeightIt::weightit(method = 'glm')", dataset=_ds, r_file="weighting.R",
            r_function="ref_weightit_glm", python=_weightit_glm,
            args={"formula": _f, "estimand": _e}, exact=("iter", "converged"),
            description="propensity score by glm.fit's IRLS path at glm.control() defaults; "
                        "WeightIt's weight formula",
        ))
        register(ParityCase(
            name=f"weightit.glm.{_ds}.{_e}.tight", function="weightit",
            r_twin="WeightIt::weightit(method = 'glm', control = list(epsilon = 1e-12))",
            dataset=_ds, r_file="weighting.R", r_function="ref_weightit_glm",
            python=_weightit_glm, args={"formula": _f, "estimand": _e, **TIGHT},
            rtol=1e-9, exact=("converged",),
            description="tightened convergence on both sides: agreement to 1e-9",
        ))
    register(ParityCase(
        name=f"weightit.glm.{_ds}.ATE.stabilize", function="weightit",
        r_twin="WeightIt::weightit(method = 'glm', stabilize = TRUE)", dataset=_ds,
        r_file="weighting.R", r_function="ref_weightit_glm", python=_weightit_glm,
        args={"formula": _f, "estimand": "ATE", "stabilize": True}, exact=("iter", "converged"),
    ))
    register(ParityCase(
        name=f"weightit.summary.{_ds}.ATE", function="weightit",
        r_twin="WeightIt::summary.weightit", dataset=_ds, r_file="weighting.R",
        r_function="ref_weight_summary", python=_weight_summary,
        args={"formula": _f, "estimand": "ATE"},
    ))

register(ParityCase(
    name="weightit.glm.lalonde_sw.ATE.stabilize", function="weightit",
    r_twin="WeightIt::weightit(method = 'glm', s.weights = sw, stabilize = TRUE)",
    dataset=lalonde_sw, r_file="weighting.R", r_function="ref_weightit_glm", python=_weightit_glm,
    args={"formula": FORMULAS["lalonde"], "estimand": "ATE", "s_weights": "sw", "stabilize": True},
    exact=("iter", "converged"),
    description="stabilisation factor = sampling-weighted group share (intercept-only glm)",
))

for _e in ("ATE", "ATT"):
    register(ParityCase(
        name=f"weightit.glm.lalonde_sw.{_e}", function="weightit",
        r_twin="WeightIt::weightit(method = 'glm', s.weights = sw)", dataset=lalonde_sw,
        r_file="weighting.R", r_function="ref_weightit_glm", python=_weightit_glm,
        args={"formula": FORMULAS["lalonde"], "estimand": _e, "s_weights": "sw"},
        exact=("iter", "converged"),
        description="sampling weights as prior weights with WeightIt's mustart",
    ))

for _ds in ("lalonde", "rotterdam"):
    for _at, _lower in ((0.9, False), (0.95, True), (3, False)):
        register(ParityCase(
            name=f"trim.{_ds}.ATE.{_at}{'.lower' if _lower else ''}", function="trim",
            r_twin="WeightIt::trim", dataset=_ds, r_file="weighting.R", r_function="ref_trim",
            python=_trim, args={"formula": FORMULAS[_ds], "estimand": "ATE", "at": _at,
                                "lower": _lower},
        ))
    register(ParityCase(
        name=f"trim.{_ds}.ATT.0.9", function="trim", r_twin="WeightIt::trim", dataset=_ds,
        r_file="weighting.R", r_function="ref_trim", python=_trim,
        args={"formula": FORMULAS[_ds], "estimand": "ATT", "at": 0.9},
        description="focal (treated) weights all 1 are left out of the quantile",
    ))

for _ds, _f in FORMULAS.items():
    for _e in ("ATE", "ATT", "ATC"):
        register(ParityCase(
            name=f"weightit.ebal.{_ds}.{_e}", function="weightit",
            r_twin="WeightIt::weightit(method = 'ebal')", dataset=_ds, r_file="weighting.R",
            r_function="ref_ebal", python=_ebal, args={"formula": _f, "estimand": _e},
            description="entropy balancing: weights and dual solution vs optim on the dual",
        ))
register(ParityCase(
    name="weightit.ebal.lalonde_sw.ATE", function="weightit",
    r_twin="WeightIt::weightit(method = 'ebal', s.weights = sw)", dataset=lalonde_sw,
    r_file="weighting.R", r_function="ref_ebal", python=_ebal,
    args={"formula": FORMULAS["lalonde"], "estimand": "ATE", "s_weights": "sw"},
))
register(ParityCase(
    name="weightit.ebal.lalonde_sw.ATE.stabilize", function="weightit",
    r_twin="WeightIt::weightit(method = 'ebal', s.weights = sw, stabilize = TRUE)",
    dataset=lalonde_sw, r_file="weighting.R", r_function="ref_ebal", python=_ebal,
    args={"formula": FORMULAS["lalonde"], "estimand": "ATE", "s_weights": "sw", "stabilize": True},
))


# --- real WeightIt 1.5.1 output on lalonde (snapshot with provenance; live when installed) ----
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
        r_file="weightit_real.R", r_function="real_weightit_glm", python=_real_python,
        args={"formula": FORMULAS["lalonde"], "estimand": _e},
        r_packages=("WeightIt",), external_snapshot=f"weightit_lalonde_{_e}.json",
        external_extract=_real_extract,
        tolerances={"ess_weighted": (1e-6, 0.0)},
        description="against real WeightIt 1.5.1 output (R 4.2.2)",
    ))


def _cbps(data, args):
    from carts_iptw.weighting import weightit

    W = weightit(args["formula"], data, method="cbps", estimand=args["estimand"],
                 stabilize=bool(args.get("stabilize", False)), s_weights=args.get("s_weights"))
    return {"ps": W.ps, "weights": W.weights}


for _ds, _f in FORMULAS.items():
    for _e in ("ATE", "ATT", "ATC"):
        register(ParityCase(
            name=f"weightit.cbps.{_ds}.{_e}", function="weightit",
            r_twin="WeightIt::weightit(method = 'cbps', over = FALSE)", dataset=_ds,
            r_file="weighting.R", r_function="ref_cbps", python=_cbps,
            args={"formula": _f, "estimand": _e},
            description="just-identified CBPS: root of the balance equations (base-R Newton)",
        ))
register(ParityCase(
    name="weightit.cbps.lalonde_sw.ATE.stabilize", function="weightit",
    r_twin="WeightIt::weightit(method = 'cbps', s.weights = sw, stabilize = TRUE)",
    dataset=lalonde_sw, r_file="weighting.R", r_function="ref_cbps", python=_cbps,
    args={"formula": FORMULAS["lalonde"], "estimand": "ATE", "s_weights": "sw", "stabilize": True},
))


# --- the bundled CAR T-like cohort (SYNTHETIC; anakinra vs control) ---------------------------
CART_FORMULA = ("anakinra ~ age + histology + ldh_elevated + prior_hct + lines_ge3 + kps_le70 + "
                "construct + status_at_infusion + cns_or_extranodal")


def cart_cohort() -> pd.DataFrame:
    """The SYNTHETIC CAR T cohort's treatment and baseline covariates."""
    from carts_iptw.study.synthetic import load_synthetic_cohort

    d = load_synthetic_cohort()
    cols = ["anakinra", "age", "histology", "ldh_elevated", "prior_hct", "lines_ge3", "kps_le70",
            "construct", "status_at_infusion", "cns_or_extranodal"]
    return d[cols].copy()


for _e in ESTIMANDS:
    register(ParityCase(
        name=f"weightit.glm.cart.{_e}", function="weightit",
        r_twin="WeightIt::weightit(method = 'glm')", dataset=cart_cohort, r_file="weighting.R",
        r_function="ref_weightit_glm", python=_weightit_glm,
        args={"formula": CART_FORMULA, "estimand": _e}, exact=("iter", "converged"),
    ))
for _e in ("ATE", "ATT"):
    register(ParityCase(
        name=f"weightit.ebal.cart.{_e}", function="weightit",
        r_twin="WeightIt::weightit(method = 'ebal')", dataset=cart_cohort, r_file="weighting.R",
        r_function="ref_ebal", python=_ebal, args={"formula": CART_FORMULA, "estimand": _e},
    ))
    register(ParityCase(
        name=f"weightit.cbps.cart.{_e}", function="weightit",
        r_twin="WeightIt::weightit(method = 'cbps', over = FALSE)", dataset=cart_cohort,
        r_file="weighting.R", r_function="ref_cbps", python=_cbps,
        args={"formula": CART_FORMULA, "estimand": _e},
    ))

register(ParityCase(
    name="weightit.summary.lalonde_sw.ATT", function="weightit",
    r_twin="WeightIt::summary.weightit (s.weights)", dataset=lalonde_sw, r_file="weighting.R",
    r_function="ref_weight_summary", python=_weight_summary,
    args={"formula": FORMULAS["lalonde"], "estimand": "ATT", "s_weights": "sw"},
    description="weights times sampling weights; unweighted ESS from the sampling weights",
))
