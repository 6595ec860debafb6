"""Concordance (coxph's ``fit$concordance``) on random data with heavy ties, against live R.

Each seed draws a data set with many ties in time and in the risk score; every layout the
Cox model passes on (right-censored or (start, stop], strata, case weights, clusters) is sent
through rpy2 to ``survival::concordancefit(reverse = TRUE, timefix = FALSE)``
(``r_reference/concordance.R``). Tolerance relative 1e-9 on the weighted pair counts, the
concordance and its std err (a count R gives as exactly 0 must be 0 to 1e-9 of all pairs).
``CARTS_IPTW_R=require`` fails when R cannot start; otherwise the module skips with the reason.
Every test records the R and survival versions it compared against.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carts_iptw.parity import rbridge
from carts_iptw.parity.runner import current_mode
from carts_iptw.survival.concordance import concordance_fit

SEEDS = [3, 17, 2026, 404, 99, 8080]
LAYOUTS = ["right", "strata", "counting", "counting.strata.cluster"]
R_FILE = "concordance.R"


@pytest.fixture(scope="module")
def call(request):
    if current_mode() == "snapshot":
        pytest.skip("CARTS_IPTW_R=snapshot: random data are compared against live R only")
    return request.getfixturevalue("r_reference")  # fails in require mode without R


def draw(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(150, 400))
    time = np.ceil(rng.exponential(6, n))  # heavy ties on time
    x = np.round(rng.normal(size=n), 1)  # heavy ties on the risk score
    d = pd.DataFrame({"time": time, "ev": (rng.random(n) < 0.6).astype(int), "x": x,
                      "w": rng.uniform(0.3, 3.0, n), "s": rng.integers(0, 3, n),
                      "cl": rng.integers(0, n // 4, n)})
    d["start"] = np.maximum(d["time"] - rng.integers(1, 5, n), 0) - rng.choice([0.0, 0.5], n)
    return d


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("seed", SEEDS)
def test_concordance_random_heavy_ties(call, record_parity, seed, layout):
    d = draw(seed)
    counting, strata, cluster = "counting" in layout, "strata" in layout, "cluster" in layout
    r = call(R_FILE, "conc_fit", d, {"counting": counting, "strata": strata, "cluster": cluster})
    py = concordance_fit(d["time"], d["ev"], d["x"], d["w"], d["s"] if strata else None,
                         d["start"] if counting else None, d["cl"] if cluster else None)
    want = np.r_[np.asarray(r["count"], float), float(np.asarray(r["concordance"]).ravel()[0]),
                 float(np.asarray(r["std"]).ravel()[0])]
    got = py.to_numpy()
    pairs = want[:3].sum()
    assert pairs > 0
    scale = np.r_[[pairs] * 5, 0.0, 0.0]
    np.testing.assert_array_less(np.abs(got - want), 1e-9 * np.maximum(np.abs(want), scale) + 1e-300,
                                 err_msg=f"{list(py.index)}: {got} vs R {want}")
    v = rbridge.r_versions()
    record_parity(f"random.concordance.{layout}.seed{seed}", "PASS",
                  f"live {v['R']} (rpy2 {v['rpy2']}), survival {v['packages'].get('survival')}")
