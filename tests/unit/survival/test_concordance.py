"""Concordance (coxph's fit$concordance): the O(n log^2 n) counts against a direct pair loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carts_iptw.survival import coxph
from carts_iptw.survival.concordance import concordance_fit


def _brute(t, e, x, w, s, start, cl):
    n = len(t)
    conc = disc = tx = ty = txy = 0.0
    A = np.zeros(n)
    B = np.zeros(n)
    T = np.zeros(n)
    for a in range(n):
        if not e[a]:
            continue
        for j in range(n):
            if j == a or s[j] != s[a]:
                continue
            if e[j] and t[j] == t[a]:
                if j > a:  # each tied-event pair once
                    if x[j] == x[a]:
                        txy += w[a] * w[j]
                    else:
                        ty += w[a] * w[j]
                continue
            at_risk = start[j] < t[a] and (t[j] > t[a] or (t[j] == t[a] and not e[j]))
            if not at_risk:
                continue
            ww = w[a] * w[j]
            if x[j] < x[a]:
                conc += ww
                B[a] += w[j]  # survival's influence columns are per pair type:
                B[j] += w[a]  # both members of a pair count it
            elif x[j] > x[a]:
                disc += ww
                A[a] += w[j]
                A[j] += w[a]
            else:
                tx += ww
                T[a] += w[j]
                T[j] += w[a]
    npair = conc + disc + tx
    d_nr = (disc - conc) / npair
    dfb = w * ((A - B) / npair - d_nr / npair * (A + B + T))
    if cl is not None:
        dfb = pd.Series(dfb).groupby(cl).sum().to_numpy()
    c = (conc + tx / 2) / npair
    return np.array([conc, disc, tx, ty, txy, c, np.sqrt(np.sum(dfb**2) / 4)])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layout", ["right", "strata", "counting", "cluster"])
def test_concordance_matches_pair_loop(weighted, layout):
    rng = np.random.default_rng(11)
    n = 90
    t = np.ceil(rng.exponential(1, n) * 5)
    e = rng.random(n) < 0.7
    x = np.round(rng.normal(size=n), 1)  # ties on x
    w = rng.uniform(0.2, 3, n) if weighted else np.ones(n)
    s = rng.integers(0, 3, n) if layout == "strata" else np.zeros(n, int)
    start = (t - rng.integers(1, 4, n) + 0.5) if layout == "counting" else np.full(n, -np.inf)
    cl = rng.integers(0, 20, n) if layout == "cluster" else None
    got = concordance_fit(t, e, x, w if weighted else None, s if layout == "strata" else None,
                          start if layout == "counting" else None, cl)
    np.testing.assert_allclose(got.to_numpy(), _brute(t, e, x, w, s, start, cl), rtol=1e-12)


def test_concordance_reversed_score_and_names():
    rng = np.random.default_rng(2)
    t = rng.exponential(1, 60)
    e = rng.random(60) < 0.8
    x = rng.normal(size=60)
    a = concordance_fit(t, e, x)
    b = concordance_fit(t, e, -x)
    assert list(a.index) == ["concordant", "discordant", "tied.x", "tied.y", "tied.xy",
                             "concordance", "std"]
    assert a["concordance"] + b["concordance"] == pytest.approx(1.0, abs=1e-14)
    assert a["std"] == pytest.approx(b["std"], rel=1e-12)
    assert 0 <= a["concordance"] <= 1


def test_coxph_concordance_and_summary():
    rng = np.random.default_rng(4)
    n = 150
    x = rng.normal(size=n)
    t = rng.exponential(np.exp(-0.8 * x))
    d = pd.DataFrame({"time": t, "status": (rng.random(n) < 0.8).astype(int), "x": x})
    fit = coxph("Surv(time, status) ~ x", d)
    c = fit.concordance
    assert 0.5 < c["concordance"] < 1
    assert "Concordance=" in fit.summary()
