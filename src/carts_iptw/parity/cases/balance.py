"""Parity cases for carts_iptw.balance (bal_tab), checked live against the real cobalt 4.6.1
on real WeightIt 1.5.1 objects (``r_reference/balance.R``).

Each case declares ``r_packages=("WeightIt", "cobalt")``: ``CARTS_IPTW_R=require`` fails when
either is missing, ``auto`` falls back to the snapshot. Every column of cobalt's ``$Balance``
(means, SDs, differences, variance ratios, KS, threshold labels, ``Un`` and ``Adj``) and the
``$Observations`` are compared. The real cobalt output copied from ../shared/r-reference stays
as held-out checks (``*.real``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.parity.cases.weighting import DATA, ESTIMANDS, FORMULAS, lalonde_sw
from carts_iptw.parity.registry import ParityCase, register

WC = ("WeightIt", "cobalt")
# overlap weights balance means exactly: adjusted differences are ~1e-12 (round-off), compared
# on an absolute scale there (as are other exactly balanced rows: ebal, cbps ATO)
EXACT_BAL = {"Diff.Adj": (1e-6, 1e-9), "KS.Adj": (1e-6, 1e-9), "M.1.Adj": (1e-6, 1e-9),
             "M.0.Adj": (1e-6, 1e-9)}
# ebal: WeightIt's BFGS at reltol = 1e-16 balances to ~1e-8 (exact here)
EBAL_BAL = {"KS.Adj": (1e-6, 1e-8)}


def _bal_tab(data, args):
    import warnings

    from carts_iptw.balance import bal_tab
    from carts_iptw.weighting import weightit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = weightit(args["formula"], data, method=args.get("method", "glm"),
                     estimand=args.get("estimand", "ATE"),
                     stabilize=bool(args.get("stabilize", False)), s_weights=args.get("s_weights"),
                     missing=args.get("missing"),
                     control=None)
    opt = {"stats": tuple(args.get("stats", ("mean.diffs", "variance.ratios", "ks.statistics"))),
           "un": bool(args.get("un", True)), "binary": args.get("binary"),
           "continuous": args.get("continuous"), "s_d_denom": args.get("s_d_denom"),
           "thresholds": args.get("thresholds")}
    if "bal_formula" in args:
        b = bal_tab(args["bal_formula"], data, weights=W.weights,
                    s_weights=None if args.get("s_weights") is None else data[args["s_weights"]],
                    estimand=args.get("bal_estimand"),
                    distance=W.ps if args.get("distance") else None, **opt)
    else:
        b = bal_tab(W, **opt)
    bal = b.balance.copy()
    if args.get("skip_ks_na"):  # see r_reference/balance.R: cobalt misaligns KS with NAs
        na_vars = [v for v in W.covs.columns if W.covs[v].isna().any()]
        for c in [c for c in bal.columns if c.startswith("KS.")]:
            bal.loc[[v for v in na_vars if v in bal.index], c] = np.nan
    bal = bal.drop(columns=list(args.get("drop_cols", [])))
    out = {}
    for c in bal.columns:
        col = bal[c]
        out[c] = col if c == "Type" or "Threshold" in c else col.astype(float)
    out["Observations"] = {"Control": b.observations.iloc[:, 0].to_numpy(),
                           "Treated": b.observations.iloc[:, 1].to_numpy()}
    return out


def _case(name, r_twin, dataset, args, **kw):
    register(ParityCase(name=name, function="bal_tab", r_twin=r_twin, dataset=dataset,
                        r_file="balance.R", r_function="real_bal_tab", python=_bal_tab,
                        args=args, r_packages=WC, **kw))


# every data set x estimand x binary = raw / std, on a glm weightit object
for _ds, (_d, _f, _extra) in DATA.items():
    for _e in ESTIMANDS + ("ATOS",):
        for _bin in ("raw", "std"):
            if _e == "ATOS" and _bin == "std":
                continue
            _case(f"bal_tab.weightit.{_ds}.{_e}.{_bin}",
                  f"cobalt::bal.tab(weightit(method = 'glm'), binary = '{_bin}')", _d,
                  {"formula": _f, "estimand": _e, "binary": _bin, **_extra,
                   **({"skip_ks_na": True} if _extra else {})},
                  tolerances=EXACT_BAL if _e == "ATO" else {},
                  description="cobalt's SMD / variance ratio / KS with its s.d.denom per estimand"
                              + ("; <NA> rows of the missing covariates" if _extra else ""))
    _case(f"bal_tab.weightit.{_ds}.ATE.stabilize",
          "cobalt::bal.tab(weightit(method = 'glm', stabilize = TRUE))", _d,
          {"formula": _f, "estimand": "ATE", "binary": "raw", "stabilize": True, **_extra,
           **({"skip_ks_na": True} if _extra else {})})

# ebal weightit objects (no propensity score row; cbps balance: test_weightit_balance.py)
for _m, _e in (("ebal", "ATE"), ("ebal", "ATT")):
    _case(f"bal_tab.weightit.lalonde.{_m}.{_e}", f"cobalt::bal.tab(weightit(method = '{_m}'))",
          "lalonde", {"formula": FORMULAS["lalonde"], "estimand": _e, "method": _m,
                      "reltol": 1e-16, **({"drop_cols": ["Diff.Adj"]} if _m == "ebal" else {})},
          tolerances=EBAL_BAL if _m == "ebal" else {},
          description="ebal: Diff.Adj is 0 by construction (round-off on both sides; exact "
                      "balance is checked in test_weightit_balance.py) and left out here"
                      if _m == "ebal" else "")

# sampling weights
for _e in ("ATE", "ATT", "ATO"):
    _case(f"bal_tab.weightit.lalonde_sw.{_e}.raw", "cobalt::bal.tab(weightit(s.weights = 'sw'))",
          lalonde_sw, {"formula": FORMULAS["lalonde"], "estimand": _e, "binary": "raw",
                       "s_weights": "sw"},
          tolerances=EXACT_BAL if _e == "ATO" else {},
          description="sampling weights weight the unadjusted sample and the SMD denominators")
_case("bal_tab.weightit.lalonde_sw.ATE.stabilize",
      "cobalt::bal.tab(weightit(s.weights = 'sw', stabilize = TRUE))", lalonde_sw,
      {"formula": FORMULAS["lalonde"], "estimand": "ATE", "binary": "raw", "s_weights": "sw",
       "stabilize": True})

# options: thresholds (m, v, ks), stats subsets, un = FALSE, s.d.denom, continuous = "raw"
for _e in ("ATE", "ATT"):
    _case(f"bal_tab.weightit.lalonde.{_e}.thresholds",
          "cobalt::bal.tab(weightit(...), thresholds = c(m = .1, v = 2, ks = .05))", "lalonde",
          {"formula": FORMULAS["lalonde"], "estimand": _e, "binary": "std",
           "thresholds": {"m": 0.1, "v": 2, "ks": 0.05}},
          description="balance verdict labels as cobalt words them")
for _tag, _opt in (
        ("stats_m", {"stats": ["mean.diffs"]}),
        ("stats_ks_un_false", {"stats": ["ks.statistics", "mean.diffs"], "un": False}),
        ("un_false", {"un": False}),
        ("sdd_pooled", {"s_d_denom": "pooled"}),
        ("sdd_all", {"s_d_denom": "all"}),
        ("sdd_weighted", {"s_d_denom": "weighted"}),
        ("sdd_control", {"s_d_denom": "control"}),
        ("continuous_raw", {"continuous": "raw", "binary": "std"}),
        ("thresholds_m_un_false", {"un": False, "thresholds": {"m": 0.05}})):
    _case(f"bal_tab.weightit.lalonde.ATT.{_tag}", f"cobalt::bal.tab(weightit(...), {_tag})",
          "lalonde", {"formula": FORMULAS["lalonde"], "estimand": "ATT", **_opt})

# the formula interface with a weight vector, interaction terms and I() terms
_INT = "treat ~ age + educ + race + age:educ + race:married + I(age^2) + re74"
for _e, _sdd in (("ATE", "pooled"), ("ATT", "treated")):
    _case(f"bal_tab.formula.lalonde.{_e}.interactions",
          "cobalt::bal.tab(formula, data, weights = W$weights, s.d.denom)", "lalonde",
          {"formula": FORMULAS["lalonde"], "estimand": _e, "bal_formula": _INT,
           "s_d_denom": _sdd},
          description="formula interface: interaction columns named 'a * b', 0/1 variables "
                      "split into both levels inside interactions, terms in R's order")
_case("bal_tab.formula.lalonde.ATT.distance", "cobalt::bal.tab(formula, data, weights, distance)",
      "lalonde", {"formula": FORMULAS["lalonde"], "estimand": "ATT", "bal_formula": FORMULAS["lalonde"],
                  "bal_estimand": "ATT", "distance": True, "thresholds": {"m": 0.1}},
      description="a distance vector (the propensity score) as cobalt's 'distance' row")
_case("bal_tab.formula.lalonde_sw.ATE", "cobalt::bal.tab(formula, data, weights, s.weights)",
      lalonde_sw, {"formula": FORMULAS["lalonde"], "estimand": "ATE", "s_weights": "sw",
                   "bal_formula": FORMULAS["lalonde"], "bal_estimand": "ATE"})


# --- held-out checks: real cobalt 4.6.1 output on lalonde from ../shared/r-reference ---------
_REAL_COLS = ["Diff.Un", "V.Ratio.Un", "KS.Un", "Diff.Adj", "V.Ratio.Adj", "KS.Adj",
              "M.0.Un", "M.1.Un", "M.0.Adj", "M.1.Adj"]


def _real_python(data, args):
    from carts_iptw.balance import bal_tab
    from carts_iptw.weighting import weightit

    W = weightit(args["formula"], data, method="glm", estimand=args["estimand"])
    b = bal_tab(W, binary=args["binary"])
    out = {"Type": b.balance["Type"]}
    for c in _REAL_COLS:
        out[c] = b.balance[c].astype(float)
    out["Observations"] = {"Control": b.observations["Control"].to_numpy(),
                           "Treated": b.observations["Treated"].to_numpy()}
    return out


def _real_extract(key):
    def extract(doc):
        B = doc["bal_tab"][key]["Balance"]
        idx = B["rownames"]
        out = {"Type": pd.Series(B["columns"]["Type"], index=idx)}
        for c in _REAL_COLS:
            out[c] = pd.Series(np.array([np.nan if v is None else v for v in B["columns"][c]],
                                        dtype=float), index=idx)
        O = doc["bal_tab"][key]["Observations"]["columns"]
        out["Observations"] = {"Control": np.array(O["Control"], dtype=float),
                               "Treated": np.array(O["Treated"], dtype=float)}
        return out
    return extract


for _e in ("ATE", "ATT"):
    for _key, _bin in (("default", "raw"), ("binary_std", "std")):
        register(ParityCase(
            name=f"bal_tab.weightit.lalonde.{_e}.{_bin}.real", function="bal_tab",
            r_twin=f"cobalt::bal.tab(WeightIt::weightit(...), binary = '{_bin}')",
            dataset="lalonde", r_file="balance.R", r_function="real_bal_tab_heldout",
            python=_real_python,
            args={"formula": FORMULAS["lalonde"], "estimand": _e, "binary": _bin},
            r_packages=WC, external_snapshot=f"weightit_lalonde_{_e}.json",
            external_extract=_real_extract(_key),
            description="held out: real cobalt 4.6.1 / WeightIt 1.5.1 output recorded in "
                        "../shared/r-reference",
        ))
