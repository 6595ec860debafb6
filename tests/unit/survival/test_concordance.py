"""Concordance (coxph's fit$concordance): the O(n log n) sweep against a direct pair loop."""

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
    if npair == 0:
        return np.array([0.0, 0.0, 0.0, ty, txy, np.nan, np.nan])
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


@pytest.mark.parametrize("block", [None, 4, 16])
@pytest.mark.parametrize("seed", range(12))
def test_concordance_heavy_ties_all_layouts_match_pair_loop(seed, block, monkeypatch):
    """Random mixes of strata, start/stop, weights and clusters, with heavy ties in time and x.

    ``block``: tiny blocks, so that the sweep's block-by-block lower bits run here too.
    """
    from carts_iptw.survival import concordance as cmod

    if block is not None:
        monkeypatch.setattr(cmod, "_BLOCK", block)
    rng = np.random.default_rng(100 + seed)
    for _ in range(4):
        n = int(rng.integers(2, 70))
        t = np.ceil(rng.exponential(1, n) * rng.choice([2, 6, 40]))
        e = rng.random(n) < rng.uniform(0.2, 1)
        e[0] = True
        x = np.round(rng.normal(size=n), int(rng.choice([0, 1, 3])))
        w = rng.uniform(0.2, 3, n) if rng.random() < 0.5 else np.ones(n)
        s = rng.integers(0, rng.integers(1, 4), n) if rng.random() < 0.5 else None
        start = t - rng.integers(1, 4, n) + rng.choice([0, 0.5]) if rng.random() < 0.5 else None
        cl = rng.integers(0, max(1, n // 3), n) if rng.random() < 0.3 else None
        want = _brute(t, e, x, w, np.zeros(n, int) if s is None else s,
                      np.full(n, -np.inf) if start is None else start, cl)
        got = concordance_fit(t, e, x, w, s, start, cl).to_numpy()
        scale = np.r_[[want[:3].sum()] * 5, 1.0, 1.0]  # counts: relative to all pairs
        assert np.array_equal(np.isnan(got), np.isnan(want))
        ok = np.isnan(want) | (np.abs(got - want) <= 1e-12 * np.maximum(np.abs(want), scale))
        assert ok.all(), (got, want)


def test_concordance_without_comparable_pairs_is_nan():
    """Every event alone in its stratum: no pair, so C and its std err are NaN (as in R)."""
    t = np.array([1.0, 2.0, 3.0, 3.0])
    e = np.array([1, 1, 1, 1])
    got = concordance_fit(t, e, [0.1, 0.5, 0.2, 0.7], [1.3, 0.7, 2.0, 1.1], strata=[0, 1, 2, 3],
                          start=[0.0, 0.5, 1.0, 2.5])
    assert got[["concordant", "discordant", "tied.x"]].tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(got["concordance"]) and np.isnan(got["std"])


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


# --------------------------------------------------------------------------- ties = "exact"
def _tied(n=80, seed=9):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.integers(0, 2, n)
    t = np.ceil(rng.exponential(np.exp(-0.5 * x)) * 4)
    return pd.DataFrame({"time": t, "status": (rng.random(n) < 0.8).astype(int), "x": x, "g": g,
                         "w": rng.uniform(0.5, 2, n), "start": t - 0.5})


def test_exact_equals_breslow_without_ties():
    d = _tied()
    d["time"] = d["time"] + np.arange(len(d)) * 1e-3  # all times distinct
    a = coxph("Surv(time, status) ~ x + g", d, ties="exact")
    b = coxph("Surv(time, status) ~ x + g", d, ties="breslow")
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-8)
    np.testing.assert_allclose(a.var, b.var, rtol=1e-7)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-10)


def test_exact_loglik_is_brute_force_subset_sum():
    """Exact partial likelihood at a fixed beta: log e_d(risk scores) by enumerating subsets."""
    from itertools import combinations

    from carts_iptw.survival._exact import ExactTerms

    d = _tied(n=25, seed=3)
    X = d[["x", "g"]].to_numpy(float)
    beta = np.array([0.3, -0.4])
    et = ExactTerms(d["time"], d["status"])
    lk, _, _ = et.evaluate(X[et.order], beta, np.zeros(len(d)))
    t, e, eta = d["time"].to_numpy(), d["status"].to_numpy(), X @ beta
    want = 0.0
    for tk in np.unique(t[e == 1]):
        dead = np.flatnonzero((t == tk) & (e == 1))
        risk = np.flatnonzero(t >= tk)
        den = sum(np.exp(eta[list(c)].sum()) for c in combinations(risk, len(dead)))
        want += eta[dead].sum() - np.log(den)
    assert lk == pytest.approx(want, rel=1e-12)


def test_exact_refuses_what_r_refuses_or_is_not_implemented():
    d = _tied()
    with pytest.raises(ValueError, match="Case weights"):
        coxph("Surv(time, status) ~ x", d, weights="w", ties="exact")
    with pytest.raises(ValueError, match="start, stop"):
        coxph("Surv(start, time, status) ~ x", d, ties="exact")
    with pytest.raises(ValueError, match="robust"):
        coxph("Surv(time, status) ~ x", d, ties="exact", robust=True)
