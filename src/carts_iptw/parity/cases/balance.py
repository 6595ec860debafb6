"""Parity cases for carts_iptw.balance (bal_tab) against cobalt (real snapshots) and base R."""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.parity.cases.weighting import ESTIMANDS, FORMULAS, lalonde_sw
from carts_iptw.parity.registry import ParityCase, register

COLUMNS = [f"{p}.{t}" for t in ("Un", "Adj")
           for p in ("M.0", "SD.0", "M.1", "SD.1", "Diff", "V.Ratio", "KS")]


def _bal_tab(data, args):
    from carts_iptw.balance import bal_tab
    from carts_iptw.weighting import weightit

    W = weightit(args["formula"], data, method="glm", estimand=args["estimand"],
                 stabilize=bool(args.get("stabilize", False)), s_weights=args.get("s_weights"))
    thr = {k: args[f"{k}_threshold"] for k in ("m", "v") if f"{k}_threshold" in args}
    b = bal_tab(W, binary=args.get("binary"), thresholds=thr or None)
    out = {"Type": b.balance["Type"]}
    for c in COLUMNS:
        out[c] = b.balance[c].astype(float)
    for c in ("M.Threshold", "V.Threshold"):
        if c in b.balance.columns:
            out[c] = b.balance[c]
    out["Observations"] = {"Control": b.observations["Control"].to_numpy(),
                           "Treated": b.observations["Treated"].to_numpy()}
    return out


for _ds, _f in FORMULAS.items():
    for _e in ESTIMANDS:
        for _bin in ("raw", "std"):
            register(ParityCase(
                name=f"bal_tab.weightit.{_ds}.{_e}.{_bin}", function="bal_tab",
                r_twin=f"cobalt::bal.tab(weightit(method = 'glm'), binary = '{_bin}')",
                dataset=_ds, r_file="balance.R", r_function="ref_bal_tab", python=_bal_tab,
                args={"formula": _f, "estimand": _e, "binary": _bin},
                # overlap weights balance means exactly: adjusted differences are ~1e-12 (round-off)
                # and are compared on an absolute scale there
                tolerances={"Diff.Adj": (1e-6, 1e-10), "KS.Adj": (1e-6, 1e-10)} if _e == "ATO" else {},
                description="cobalt's SMD / variance ratio / KS with its s.d.denom per estimand",
            ))
    register(ParityCase(
        name=f"bal_tab.weightit.{_ds}.ATE.stabilize", function="bal_tab",
        r_twin="cobalt::bal.tab(weightit(method = 'glm', stabilize = TRUE))",
        dataset=_ds, r_file="balance.R", r_function="ref_bal_tab", python=_bal_tab,
        args={"formula": _f, "estimand": "ATE", "binary": "raw", "stabilize": True},
    ))


# --- real cobalt 4.6.1 output on lalonde (snapshot with provenance; live when installed) ------
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
            dataset="lalonde", r_file="weightit_real.R", r_function="real_bal_tab",
            python=_real_python,
            args={"formula": FORMULAS["lalonde"], "estimand": _e, "binary": _bin},
            r_packages=("WeightIt", "cobalt"), external_snapshot=f"weightit_lalonde_{_e}.json",
            external_extract=_real_extract(_key),
            description="against real cobalt 4.6.1 / WeightIt 1.5.1 output (R 4.2.2)",
        ))


from carts_iptw.parity.cases.weighting import CART_FORMULA, cart_cohort  # noqa: E402

for _e in ESTIMANDS:
    for _bin in ("raw", "std"):
        register(ParityCase(
            name=f"bal_tab.weightit.cart.{_e}.{_bin}", function="bal_tab",
            r_twin=f"cobalt::bal.tab(weightit(method = 'glm'), binary = '{_bin}')",
            dataset=cart_cohort, r_file="balance.R", r_function="ref_bal_tab", python=_bal_tab,
            args={"formula": CART_FORMULA, "estimand": _e, "binary": _bin},
            tolerances={"Diff.Adj": (1e-6, 1e-10), "KS.Adj": (1e-6, 1e-10)} if _e == "ATO" else {},
        ))

register(ParityCase(
    name="bal_tab.weightit.lalonde_sw.ATE.stabilize", function="bal_tab",
    r_twin="cobalt::bal.tab(weightit(method = 'glm', s.weights = sw, stabilize = TRUE))",
    dataset=lalonde_sw, r_file="balance.R", r_function="ref_bal_tab", python=_bal_tab,
    args={"formula": FORMULAS["lalonde"], "estimand": "ATE", "binary": "raw", "s_weights": "sw",
          "stabilize": True},
))

for _e in ("ATE", "ATT", "ATO"):
    register(ParityCase(
        name=f"bal_tab.weightit.lalonde_sw.{_e}.raw", function="bal_tab",
        r_twin="cobalt::bal.tab(weightit(method = 'glm', s.weights = sw))",
        dataset=lalonde_sw, r_file="balance.R", r_function="ref_bal_tab", python=_bal_tab,
        args={"formula": FORMULAS["lalonde"], "estimand": _e, "binary": "raw", "s_weights": "sw"},
        tolerances={"Diff.Adj": (1e-6, 1e-10), "KS.Adj": (1e-6, 1e-10)} if _e == "ATO" else {},
        description="sampling weights weight the unadjusted sample and the SMD denominators",
    ))

for _e in ("ATE", "ATT"):
    register(ParityCase(
        name=f"bal_tab.weightit.lalonde.{_e}.thresholds", function="bal_tab",
        r_twin="cobalt::bal.tab(weightit(...), thresholds = c(m = .1, v = 2))", dataset="lalonde",
        r_file="balance.R", r_function="ref_bal_tab", python=_bal_tab,
        args={"formula": FORMULAS["lalonde"], "estimand": _e, "binary": "std",
              "m_threshold": 0.1, "v_threshold": 2},
        description="balance verdict labels as cobalt words them",
    ))
