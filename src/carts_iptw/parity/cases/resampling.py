"""Parity cases for carts_iptw.resampling: what ``bootstrap`` computes from its replicates.

The replicates of a seeded Python fractional weighted bootstrap (lalonde, weighted mean and rate
differences, R = 250) go to the REAL fwb 0.3.0 (``summary.fwb``: estimate, ``sd(t)``, and the
``"bc"``, ``"perc"``, ``"norm"``, ``"basic"`` intervals of ``fwb.ci``), r_reference/resampling.R.
R's RNG cannot be replayed: the draws themselves are compared statistically elsewhere (the
``glm_weightit`` BS / FWB cases in design.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.parity.registry import ParityCase, register

FWB_R, FWB_SEED = 250, 20261127


def _differences(data, w):
    a = data["treat"].to_numpy() == 1
    y = data["re78"].to_numpy()
    e = (y > 0).astype(float)
    return {"mean_diff": np.average(y[a], weights=w[a]) - np.average(y[~a], weights=w[~a]),
            "rate_diff": np.average(e[a], weights=w[a]) - np.average(e[~a], weights=w[~a])}


def fwb_replicates_lalonde() -> pd.DataFrame:
    """Row 1: the statistic on lalonde (unit weights); rows 2..251: its FWB replicates."""
    from carts_iptw.datasets import load_dataset
    from carts_iptw.resampling import bootstrap

    b = bootstrap(_differences, load_dataset("lalonde"), R=FWB_R, method="FWB", seed=FWB_SEED)
    return pd.concat([b.t0.to_frame().T, b.t], ignore_index=True)


def _py_fwb_summary(data, args):
    from carts_iptw.resampling import BootstrapResult

    t0 = data.iloc[0].astype(float)
    t = data.iloc[1:].reset_index(drop=True).astype(float)
    b = BootstrapResult(t0.rename("t0"), t, "FWB", len(t), FWB_SEED, int(args["n"]))
    s = b.summary(level=args["level"], type=args["type"])
    return {"estimate": s["Estimate"], "se": s["Std. Error"], "lower": s.iloc[:, 2],
            "upper": s.iloc[:, 3]}


for _type in ("bc", "perc", "norm", "basic"):
    for _level in (0.95, 0.8):
        register(ParityCase(
            name=f"bootstrap.fwb_summary.lalonde.{_type}.{round(100 * _level)}",
            function="bootstrap", r_twin=f"fwb::summary.fwb(ci.type = '{_type}')",
            dataset=fwb_replicates_lalonde, r_file="resampling.R",
            r_function="real_fwb_summary", python=_py_fwb_summary,
            args={"type": _type, "level": _level, "n": 614}, r_packages=("fwb",),
            description="the real fwb's estimate, SE and interval from the same replicates "
                        "(Python's seeded FWB draws)"))
