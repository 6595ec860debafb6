"""Properties that hold by theory, on random data (hypothesis, derandomized; no R).

* row permutation changes nothing (svyglm, glm_robust, coxph, survfit, weightit, bal_tab);
* weight scale: svyglm (survey normalises the weights), the Cox coefficients and robust SE,
  the Kaplan-Meier curve and its robust (IJ) SE, and weightit's weights under scaled
  ``s_weights`` do not depend on it;
* relabelling factor levels (keeping their order) and renaming columns change only names;
* Breslow ties: a weight of 2 equals the row duplicated (coefficients and naive variance), as
  does the weighted Kaplan-Meier curve.

The data are drawn from a seed (numpy Generator), so each example is reproducible; a live-R
variant of the same relations is ``tests/parity/test_random_live_r.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import carts_iptw as ci
from carts_iptw.irls import GlmControl
from carts_iptw.survival import CoxControl

TIGHT = GlmControl(epsilon=1e-12, maxit=100)
COX_TIGHT = CoxControl(eps=1e-12, iter_max=100)
def prop(n: int):
    """Seeded (derandomized) hypothesis settings with ``n`` draws; ~170 draws in all."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None)

SEEDS = st.integers(0, 2**31 - 1)


def draw(seed: int, n: int | None = None) -> pd.DataFrame:
    """A cohort-like data set: binary treatment depending on covariates, a 3-level text factor,
    a binary and a survival outcome, positive non-integer weights."""
    rng = np.random.default_rng(seed)
    n = n or int(rng.integers(60, 160))
    age = rng.normal(60, 10, n).round(1)
    g = rng.choice(["lo", "mid", "hi"], n, p=[0.3, 0.4, 0.3])
    x = rng.normal(size=n)
    lin = -0.3 + 0.03 * (age - 60) + 0.5 * (g == "hi") + 0.4 * x
    t = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.2 * t + 0.3 * x)))).astype(int)
    time = np.round(rng.exponential(10 * np.exp(-0.3 * t - 0.2 * x)), 1) + 0.1  # ties
    ev = (rng.random(n) < 0.7).astype(int)
    w = rng.uniform(0.3, 3.0, n)
    return pd.DataFrame({"t": t, "y": y, "age": age, "g": g, "x": x, "time": time, "ev": ev,
                         "w": w})


def quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.CartsIptwWarning)
        return fn()


def close(a, b, rtol=1e-8, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=rtol, atol=atol)


def _fits(d: pd.DataFrame) -> dict[str, np.ndarray]:
    des = ci.svydesign(d, weights="w")
    sg = quiet(lambda: ci.svyglm("y ~ t + age + g + x", des, control=TIGHT))
    rb = quiet(lambda: ci.glm_robust("y ~ t + age + g", d, weights="w", control=TIGHT))
    cx = quiet(lambda: ci.coxph("Surv(time, ev) ~ t + age + g", d, weights="w",
                                control=COX_TIGHT))
    W = quiet(lambda: ci.weightit("t ~ age + g + x", d, control=TIGHT))
    return {"svyglm.coef": sg.coef.to_numpy(), "svyglm.se": sg.se.to_numpy(),
            "robust.coef": rb.coef.to_numpy(), "robust.se": rb.se.to_numpy(),
            "cox.coef": cx.coef.to_numpy(), "cox.se": cx.se.to_numpy(),
            "weights": W.weights, "ps": W.ps}


# ---------------------------------------------------------------------------- permutation

@prop(20)
@given(seed=SEEDS)
def test_row_permutation(seed):
    d = draw(seed)
    perm = np.random.default_rng(seed + 1).permutation(len(d))
    dp = d.iloc[perm].reset_index(drop=True)
    a, b = _fits(d), _fits(dp)
    for k in a:
        if k in ("weights", "ps"):
            close(b[k], a[k][perm], rtol=1e-7)
        else:
            close(b[k], a[k], rtol=1e-6)  # SEs: one IRLS / Newton step behind the estimate
    ka = ci.survfit("Surv(time, ev) ~ t", d, weights="w")
    kb = ci.survfit("Surv(time, ev) ~ t", dp, weights="w")
    close(kb.table["surv"], ka.table["surv"], rtol=1e-10)
    close(kb.table["std_err"], ka.table["std_err"], rtol=1e-10)
    ba = ci.bal_tab("t ~ age + g + x", d, weights="w").balance
    bb = ci.bal_tab("t ~ age + g + x", dp, weights="w").balance
    close(bb[["Diff.Adj", "V.Ratio.Adj", "KS.Adj"]].to_numpy(dtype=float),
          ba[["Diff.Adj", "V.Ratio.Adj", "KS.Adj"]].to_numpy(dtype=float), rtol=1e-10, atol=1e-13)


# ---------------------------------------------------------------------------- weight scale

@prop(30)
@given(seed=SEEDS, k=st.sampled_from([1e-3, 0.37, 7.0, 250.0, 1e4]))
def test_weight_scale_invariance(seed, k):
    d = draw(seed)
    dk = d.assign(w=d["w"] * k)
    sa = quiet(lambda: ci.svyglm("y ~ t + age + g", ci.svydesign(d, weights="w"), control=TIGHT))
    sb = quiet(lambda: ci.svyglm("y ~ t + age + g", ci.svydesign(dk, weights="w"), control=TIGHT))
    close(sb.coef, sa.coef, rtol=1e-10)  # survey normalises the weights: the same fit
    close(sb.se, sa.se, rtol=1e-10)
    ca = ci.coxph("Surv(time, ev) ~ t + age + g", d, weights="w", control=COX_TIGHT)
    cb = ci.coxph("Surv(time, ev) ~ t + age + g", dk, weights="w", control=COX_TIGHT)
    close(cb.coef, ca.coef, rtol=1e-9, atol=1e-12)
    close(cb.se, ca.se, rtol=1e-7)  # robust (dfbeta) SE: weights enter as ratios
    close(cb.naive_se * np.sqrt(k), ca.naive_se, rtol=1e-7)  # naive: 1 / information
    fa = ci.survfit("Surv(time, ev) ~ t", d, weights="w")
    fb = ci.survfit("Surv(time, ev) ~ t", dk, weights="w", robust=True)
    close(fb.table["surv"], fa.table["surv"], rtol=1e-10)
    fa_r = ci.survfit("Surv(time, ev) ~ t", d, weights="w", robust=True)
    close(fb.table["std_err"], fa_r.table["std_err"], rtol=1e-9, atol=1e-14)


@prop(40)
@given(seed=SEEDS, k=st.sampled_from([1e-2, 3.0, 1e3]),
       method=st.sampled_from(["glm", "ebal", "cbps"]))
def test_weightit_s_weights_scale(seed, k, method):
    d = draw(seed)
    sw = np.random.default_rng(seed + 2).uniform(0.5, 2.0, len(d))
    a = quiet(lambda: ci.weightit("t ~ age + g + x", d, method=method, s_weights=sw))
    b = quiet(lambda: ci.weightit("t ~ age + g + x", d, method=method, s_weights=sw * k))
    close(b.weights, a.weights, rtol=1e-7)
    if a.ps is not None:
        close(b.ps, a.ps, rtol=1e-8)


# ---------------------------------------------------------------------------- names

@prop(20)
@given(seed=SEEDS)
def test_level_relabelling_and_column_renaming(seed):
    d = draw(seed)
    relab = {"hi": "A_hi", "lo": "B_lo", "mid": "C_mid"}  # same C-locale order as before
    d2 = d.assign(g=d["g"].map(relab)).rename(columns={"age": "years", "x": "score", "w": "wt",
                                                       "y": "outcome", "t": "arm"})
    a = quiet(lambda: ci.svyglm("y ~ t + age + g + x", ci.svydesign(d, weights="w"),
                                control=TIGHT))
    b = quiet(lambda: ci.svyglm("outcome ~ arm + years + g + score",
                                ci.svydesign(d2, weights="wt"), control=TIGHT))
    close(b.coef, a.coef, rtol=1e-10)
    close(b.se, a.se, rtol=1e-10)
    assert list(b.coef.index) == ["(Intercept)", "arm", "years", "gB_lo", "gC_mid", "score"]
    ca = ci.coxph("Surv(time, ev) ~ t + g", d)
    cb = ci.coxph("Surv(time, ev) ~ arm + g", d2)
    close(cb.coef, ca.coef, rtol=1e-10)
    # a pandas Categorical with the levels in a new order is a reparametrisation: same fit
    d3 = d.assign(g=pd.Categorical(d["g"], categories=["mid", "hi", "lo"]))
    c3 = ci.coxph("Surv(time, ev) ~ t + g", d3)
    close(c3.coef["t"], ca.coef["t"], rtol=1e-7)
    close(c3.loglik, ca.loglik, rtol=1e-10)
    Wa = quiet(lambda: ci.weightit("t ~ age + g + x", d))
    Wb = quiet(lambda: ci.weightit("arm ~ years + g + score", d2))
    close(Wb.weights, Wa.weights, rtol=1e-10)


# ---------------------------------------------------------------------------- duplicates

@prop(60)
@given(seed=SEEDS)
def test_breslow_weight_two_is_a_duplicated_row(seed):
    d = draw(seed)
    rng = np.random.default_rng(seed + 3)
    dup = rng.random(len(d)) < 0.3
    w2 = np.where(dup, 2.0, 1.0)
    dd = pd.concat([d, d[dup]], ignore_index=True)
    a = ci.coxph("Surv(time, ev) ~ t + age + x", d, weights=w2, ties="breslow", robust=False,
                 control=COX_TIGHT)
    b = ci.coxph("Surv(time, ev) ~ t + age + x", dd, ties="breslow", control=COX_TIGHT)
    close(a.coef, b.coef, rtol=1e-9, atol=1e-12)
    close(a.naive_se, b.naive_se, rtol=1e-7)
    close(a.loglik, b.loglik, rtol=1e-10)
    ka = ci.survfit("Surv(time, ev) ~ t", d, weights=w2)
    kb = ci.survfit("Surv(time, ev) ~ t", dd)
    close(ka.table["surv"], kb.table["surv"], rtol=1e-10)
    close(ka.table["std_err"], kb.table["std_err"], rtol=1e-10, atol=1e-14)
