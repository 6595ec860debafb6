"""The large-data code paths of the survival fits agree with the paths the parity suite checks.

Above ``surv._ORDERS_MIN_N`` rows the sort order of a time vector is shared (remembered by
content) between the Kaplan-Meier curves, the log-rank test and the Cox model; the robust Cox
variance without clusters is accumulated block by block of rows. R's parity cases are small,
so these tests pin the large paths to the small-data / clustered paths on the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carts_iptw.survival import coxph, survfit, svylogrank
from carts_iptw.survival import surv as S
from carts_iptw.survival._riskset import RiskSets

N = S._ORDERS_MIN_N + 5_000


def _data(n=N, seed=3, near_ties=False):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    z = rng.normal(size=n)
    f = rng.integers(0, 3, n)
    t = np.ceil(rng.exponential(np.exp(-(0.4 * x + 0.3 * z))) * 50) / 50  # many ties
    if near_ties:  # times closer than sqrt(eps): aeqSurv merges them
        t = t + np.where(rng.uniform(size=n) < 0.3, 1e-10, 0.0)
    e = (rng.uniform(size=n) < 0.7).astype(int)
    w = rng.uniform(0.2, 4, n)
    return pd.DataFrame({"time": t, "status": e, "x": x, "z": z, "f": f, "w": w,
                         "id": np.arange(n)})


@pytest.mark.parametrize("near_ties", [False, True])
def test_aeq_with_an_order_equals_aeq(near_ties):
    t = _data(near_ties=near_ties)["time"].to_numpy()
    (a,) = S.aeq_times(t)
    (b,) = S.aeq_times(t, order=S.time_order(t))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(S.aeq_sorted(np.sort(t)), np.sort(a))
    if near_ties:
        assert len(np.unique(a)) < len(np.unique(t))


def test_time_order_is_remembered_by_content_and_read_only():
    t = _data()["time"].to_numpy()
    o1 = S.time_order(t)
    o2 = S.time_order(t.copy())  # same content, another array
    assert o1 is o2
    assert not o1.flags.writeable
    assert np.all(np.diff(t[o1]) >= 0)
    t2 = t.copy()
    t2[0] += 1.0
    o3 = S.time_order(t2)
    assert o3 is not o1 and np.all(np.diff(t2[o3]) >= 0)
    small = t[:100]
    assert np.all(np.diff(small[S.time_order(small)]) >= 0)


def test_robust_cox_blockwise_equals_clustered_by_row():
    """Without clusters C'C is accumulated by blocks; clusters of one row give the same C'C."""
    d = _data()
    f = "Surv(time, status) ~ x + z + factor(f)"
    a = coxph(f, d, weights="w", robust=True)
    b = coxph(f, d, weights="w", robust=True, cluster="id")
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-12)
    np.testing.assert_allclose(a.var.to_numpy(), b.var.to_numpy(), rtol=1e-9)
    assert a.tests["robscore"]["test"] == pytest.approx(b.tests["robscore"]["test"], rel=1e-9)


def test_cox_does_not_depend_on_row_order():
    d = _data()
    f = "Surv(time, status) ~ x + z"
    a = coxph(f, d, weights="w", robust=True)
    p = np.random.default_rng(0).permutation(len(d))
    b = coxph(f, d.iloc[p].reset_index(drop=True), weights="w", robust=True)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10)
    np.testing.assert_allclose(a.var.to_numpy(), b.var.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(a.linear_predictors[p], b.linear_predictors, rtol=1e-9, atol=1e-12)


def test_score_gram_equals_the_gram_of_the_residuals():
    d = _data(n=3000)
    X = d[["x", "z"]].to_numpy(float)
    w = d["w"].to_numpy()
    o = np.argsort(d["time"].to_numpy(), kind="stable")
    rs = RiskSets(d["time"].to_numpy()[o], d["status"].to_numpy(float)[o], w[o])
    eta = X[o] @ np.array([0.3, -0.2])
    R = rs.score_residuals(eta, X[o]) * w[o][:, None]
    G, tot = rs.score_gram(eta, X[o], w[o])
    np.testing.assert_allclose(G, R.T @ R, rtol=1e-11)
    np.testing.assert_allclose(tot, R.sum(axis=0), rtol=1e-9, atol=1e-9)


def test_km_shared_order_equals_row_grouped_km():
    """The plain robust KM (shared sort) equals survfitKM grouped by a one-row id (general path)."""
    d = _data(near_ties=True)
    a = survfit("Surv(time, status) ~ x", d, weights="w")
    b = survfit("Surv(time, status) ~ x", d, weights="w", cluster="id")
    cols = ["time", "n_risk", "n_event", "surv", "std_err", "lower", "upper"]
    np.testing.assert_allclose(a.table[cols].to_numpy(), b.table[cols].to_numpy(), rtol=1e-9,
                               atol=1e-13)


def test_svylogrank_does_not_depend_on_row_order():
    """svylogrank's score (sorted internally) is the same at any row order."""
    d = _data()
    a = svylogrank("Surv(time, status) ~ x", data=d, weights="w")
    p = np.random.default_rng(1).permutation(len(d))
    b = svylogrank("Surv(time, status) ~ x", data=d.iloc[p].reset_index(drop=True), weights="w")
    np.testing.assert_allclose(a.score, b.score, rtol=1e-9)
    assert a.statistic == pytest.approx(b.statistic, rel=1e-9)


def test_rmst_ij_row_index_equals_the_search():
    """The robust RMST variance reads each row's curve time from survfit (else searches it)."""
    d = _data()
    fit = survfit("Surv(time, status) ~ x", d, weights="w")
    a = fit.rmean(1.5, variance="robust")
    for c in fit._curves.values():
        assert "k" in c
        del c["k"]
    b = fit.rmean(1.5, variance="robust")
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-13)
