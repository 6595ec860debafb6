"""Unit tests for carts_iptw.survival (no R): bad input, edge cases, properties."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from carts_iptw.survival import (
    CoxControl,
    cox_zph,
    coxph,
    coxph_fit,
    finegray_coxph,
    survdiff,
    survfit,
    survfit_km,
    survfit_ms,
)
from carts_iptw.survival._riskset import RiskSets


def _data(n=120, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    z = rng.normal(size=n)
    t = rng.exponential(np.exp(-(0.5 * x + 0.3 * z)))
    if ties:
        t = np.ceil(t * 8) / 8
    e = (rng.uniform(size=n) < 0.75).astype(int)
    w = rng.uniform(0.3, 3, n)
    g = rng.integers(0, 3, n)
    return pd.DataFrame({"time": t, "status": e, "x": x, "z": z, "w": w, "g": g})


# --------------------------------------------------------------------------- bad input
def test_negative_time_names_column():
    d = _data()
    d.loc[3, "time"] = -1.0
    with pytest.raises(ValueError, match="time"):
        coxph("Surv(time, status) ~ x", d)


def test_missing_time_names_column():
    d = _data()
    d.loc[3, "time"] = np.nan
    with pytest.raises(ValueError, match="'time'"):
        coxph("Surv(time, status) ~ x", d)


def test_bad_event_codes():
    d = _data()
    d.loc[3, "status"] = 3
    with pytest.raises(ValueError, match="status"):
        coxph("Surv(time, status) ~ x", d)
    with pytest.raises(ValueError, match="event"):
        coxph_fit(d[["x"]].to_numpy(), d["time"], np.where(d["status"] == 1, 1, 5))


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan])
def test_bad_weights_name_column(bad):
    d = _data()
    d.loc[5, "w"] = bad
    with pytest.raises(ValueError, match="'w'"):
        coxph("Surv(time, status) ~ x", d, weights="w")
    with pytest.raises(ValueError, match="'w'"):
        survfit("Surv(time, status) ~ x", d, weights="w")


def test_all_censored_raises():
    d = _data()
    d["status"] = 0
    with pytest.raises(ValueError, match="no events"):
        coxph("Surv(time, status) ~ x", d)


def test_unknown_weights_column():
    with pytest.raises(ValueError, match="not in data"):
        coxph("Surv(time, status) ~ x", _data(), weights="nope")


def test_group_without_events_warns_infinite():
    d = _data()
    d.loc[d["x"] == 1, "status"] = 0
    with pytest.warns(RuntimeWarning, match="may be infinite"):
        f = coxph("Surv(time, status) ~ x + z", d)
    assert f.infinite == ["x"]
    assert "infinite" in f.summary()


def test_bad_ties_and_conf_type():
    with pytest.raises(ValueError, match="ties"):
        coxph("Surv(time, status) ~ x", _data(), ties="exactish")
    with pytest.raises(ValueError, match="conf_type"):
        survfit("Surv(time, status) ~ x", _data(), conf_type="logit")


def test_start_stop_checked():
    d = _data()
    d["start"] = d["time"] + 1
    with pytest.raises(ValueError):
        coxph("Surv(start, time, status) ~ x", d)


# --------------------------------------------------------------------------- properties
def test_integer_weights_equal_replicated_rows():
    """Breslow: case weight k == k copies (Efron's tie correction counts deaths, not weights,
    so it differs by design in R too)."""
    d = _data(seed=1)
    k = np.random.default_rng(2).integers(1, 4, len(d))
    d["k"] = k.astype(float)
    rep = d.loc[d.index.repeat(k)].reset_index(drop=True)
    ctrl = CoxControl(eps=1e-12, iter_max=50)
    for ties in ("breslow",):
        a = coxph("Surv(time, status) ~ x + z", d, weights="k", ties=ties, control=ctrl)
        b = coxph("Surv(time, status) ~ x + z", rep, ties=ties, control=ctrl)
        assert not a.robust  # integer weights: naive variance (survival 3.5-3)
        np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9)
        np.testing.assert_allclose(a.naive_var, b.naive_var, rtol=1e-8)
        np.testing.assert_allclose(a.loglik, b.loglik, rtol=1e-10)


def test_row_order_invariance():
    d = _data(seed=3)
    f1 = coxph("Surv(time, status) ~ x + z + strata(g)", d, weights="w")
    p = np.random.default_rng(4).permutation(len(d))
    f2 = coxph("Surv(time, status) ~ x + z + strata(g)", d.iloc[p].reset_index(drop=True),
               weights="w")
    np.testing.assert_allclose(f1.coef, f2.coef, rtol=1e-10)
    np.testing.assert_allclose(f1.var, f2.var, rtol=1e-8)
    np.testing.assert_allclose(f1.linear_predictors[p], f2.linear_predictors, rtol=1e-8, atol=1e-12)


def _score_resid_loop(X, t, e, w, eta, efron):
    """coxscore2 written as a direct loop over tied death times (the reference)."""
    n, p = X.shape
    r = np.exp(eta)
    res = np.zeros((n, p))
    for tk in np.unique(t[e == 1]):
        risk = t >= tk
        dead = (t == tk) & (e == 1)
        d = dead.sum()
        wtave = w[dead].sum() / d
        den0 = (w * r)[risk].sum()
        a0 = ((w * r)[risk][:, None] * X[risk]).sum(axis=0)
        dd0 = (w * r)[dead].sum()
        da = ((w * r)[dead][:, None] * X[dead]).sum(axis=0)
        nterm = d if efron else 1
        for j in range(nterm):
            f = j / d if efron else 0.0
            den = den0 - f * dd0
            mean = (a0 - f * da) / den
            haz = (wtave if efron else w[dead].sum()) / den
            for i in np.flatnonzero(risk):
                if dead[i]:
                    res[i] += (X[i] - mean) / nterm
                    res[i] -= (X[i] - mean) * r[i] * haz * (1 - f)
                else:
                    res[i] -= (X[i] - mean) * r[i] * haz
    return res


@pytest.mark.parametrize("efron", [True, False])
def test_score_residuals_match_direct_loop(efron):
    d = _data(n=60, seed=5)
    X = d[["x", "z"]].to_numpy(float)
    t, e, w = d["time"].to_numpy(), d["status"].to_numpy(float), d["w"].to_numpy()
    eta = X @ np.array([0.4, -0.2])
    rs = RiskSets(t, e, w, efron=efron)
    np.testing.assert_allclose(rs.score_residuals(eta, X), _score_resid_loop(X, t, e, w, eta, efron),
                               rtol=1e-10, atol=1e-12)


def test_score_residuals_sum_to_score_at_mle():
    d = _data(seed=6)
    f = coxph("Surv(time, status) ~ x + z", d, weights="w", control=CoxControl(eps=1e-12, iter_max=50))
    core = f.fit_data
    u = (core.rs.score_residuals(core.lp, core.X) * core.weights[:, None]).sum(axis=0)
    np.testing.assert_allclose(u, 0.0, atol=1e-8)


def test_km_robust_variance_equals_numerical_jackknife():
    """IJ variance: S(t)-influence = w_i dS/dw_i (numerical derivative), summed in squares."""
    d = _data(n=40, seed=7)
    t, e, w = d["time"].to_numpy(), d["status"].to_numpy(float), d["w"].to_numpy()
    base = survfit_km(t, e, w, robust=True).table
    h = 1e-6
    infl = []
    for i in range(len(t)):
        w2 = w.copy()
        w2[i] *= 1 + h
        s2 = survfit_km(t, e, w2, robust=True).table["surv"].to_numpy()
        infl.append((s2 - base["surv"].to_numpy()) / h)
    V = (np.array(infl) ** 2).sum(axis=0)
    np.testing.assert_allclose(base["std_err"].to_numpy(), np.sqrt(V), rtol=1e-4, atol=1e-9)


def test_aj_single_cause_equals_one_minus_km():
    d = _data(seed=8)
    t, e, w = d["time"].to_numpy(), d["status"].to_numpy(), d["w"].to_numpy()
    ms = survfit_ms(t, e, ["event"], w)
    km = survfit_km(t, e.astype(float), w, robust=True).table
    cif = ms.cif("event")
    np.testing.assert_allclose(cif["pstate"], 1 - km["surv"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cif["std_err"], km["std_err"], rtol=1e-9, atol=1e-14)


def test_finegray_without_competing_events_is_cox():
    d = _data(seed=9)
    d["st"] = pd.Categorical.from_codes(d["status"].to_numpy(), categories=["censor", "event", "death"])
    fg = finegray_coxph("Surv(time, st) ~ x + z", d, etype="event")
    cx = coxph("Surv(time, status) ~ x + z", d)
    np.testing.assert_allclose(fg.coef, cx.coef, rtol=1e-8)


def test_survdiff_two_groups_matches_score_test():
    """Without ties the log-rank chi-square equals the Cox score test (one binary x)."""
    d = _data(seed=10, ties=False)
    s = survdiff("Surv(time, status) ~ x", d)
    f = coxph("Surv(time, status) ~ x", d, ties="breslow")
    assert s.df == 1
    assert abs(s.chisq - f.tests["sctest"]["test"]) < 1e-8 * s.chisq
    assert s.obs.sum() == d["status"].sum()


def test_cox_zph_runs_and_has_global_row():
    d = _data(seed=11)
    f = coxph("Surv(time, status) ~ x + z", d)
    z = cox_zph(f)
    assert list(z.table.index) == ["x", "z", "GLOBAL"]
    assert (z.table["p"].between(0, 1)).all()


def test_robust_default_follows_survival_3_5_3():
    d = _data(seed=12)
    assert coxph("Surv(time, status) ~ x", d, weights="w").robust  # non-integer weights
    d["one"] = 1.0
    assert not coxph("Surv(time, status) ~ x", d, weights="one").robust
    assert coxph("Surv(time, status) ~ x + cluster(g)", d).robust
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = coxph("Surv(time, status) ~ x", d, weights="w", robust=False)
    assert not f.robust and "robscore" not in f.tests


def test_survfit_labels_and_median_table():
    d = _data(seed=13)
    f = survfit("Surv(time, status) ~ x", d)
    assert f.strata == ["x=0", "x=1"]
    m = f.median()
    assert list(m.columns) == ["median", "lower", "upper"]
    assert set(f.table.columns) >= {"strata", "time", "n_risk", "n_event", "n_censor", "surv",
                                    "std_err", "lower", "upper"}
    at = f.at_times([0.5])
    assert len(at) == 2


def test_plots_return_figures(tmp_path):
    from carts_iptw.survival import cuminc_plot, forest_plot, km_plot

    d = _data(seed=14)
    f = survfit("Surv(time, status) ~ x", d, weights="w")
    fig = km_plot(f, pvalue=0.03)
    fig.savefig(tmp_path / "km.png")
    c = coxph("Surv(time, status) ~ x + z", d, weights="w")
    forest_plot(c).savefig(tmp_path / "forest.png")
    d["st"] = pd.Categorical.from_codes(d["status"].to_numpy() * (1 + (d["g"] == 0)).to_numpy(),
                                        categories=["censor", "event", "death"])
    ms = survfit("Surv(time, st) ~ x", d, weights="w")
    cuminc_plot(ms, "event").savefig(tmp_path / "cif.png")
    assert (tmp_path / "km.png").stat().st_size > 0


def test_cuminc_plot_band_starts_at_the_curve():
    """Before the first event the limits are NA: the band collapses onto the curve (0), never
    spans 0 to 1."""
    from carts_iptw.survival import cuminc_plot

    rng = np.random.default_rng(3)
    n = 60
    code = np.r_[[2, 0, 2, 2, 0, 2], rng.choice([0, 1, 2], n - 6)]  # competing events first
    d = pd.DataFrame({"time": np.arange(1.0, n + 1), "x": np.tile([0, 1], n // 2),
                      "w": rng.uniform(0.5, 2.0, n),
                      "st": pd.Categorical.from_codes(code, categories=["censor", "event",
                                                                       "death"])})
    d.loc[:5, "x"] = [0, 1, 0, 1, 0, 1]
    ms = survfit("Surv(time, st) ~ x", d, weights="w")
    tab = ms.cif("event")
    assert tab["upper"].isna().any()  # rows before the first event: no interval
    fig = cuminc_plot(ms, "event")
    ax = fig.axes[0]
    for coll in ax.collections:  # the fill_between bands
        verts = np.concatenate([p.vertices for p in coll.get_paths()])
        top = verts[:, 1].max()
        assert top <= float(tab["upper"].max()) + 1e-12 and top < 1.0
        first = float(tab.loc[tab["pstate"] > 0, "time"].min())
        before = verts[verts[:, 0] < first - 1e-9]
        assert (before[:, 1] == 0).all()
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_survey_functions_bad_input():
    from carts_iptw.design.svydesign import svydesign
    from carts_iptw.survival import svykm, svylogrank

    d = _data(seed=15)
    des = svydesign(d, weights="w")
    with pytest.raises(ValueError, match="method"):
        svylogrank("Surv(time, status) ~ x", des, method="exact")
    with pytest.raises(ValueError, match="design"):
        svylogrank("Surv(time, status) ~ x", None)
    r = svylogrank("Surv(time, status) ~ x", des)
    assert 0 <= r.p_value <= 1 and r.statistic >= 0
    km = svykm("Surv(time, status) ~ x", des, se=True)
    assert set(km) == {"0", "1"}
    assert np.all(np.diff(km["0"].surv) <= 0)


def test_competing_bad_input():
    d = _data(seed=16)
    with pytest.raises(ValueError, match="robust"):
        survfit_ms(d["time"], d["status"], ["event"], robust=False)
    with pytest.raises(ValueError, match="status"):
        survfit_ms(d["time"], d["status"] * 3, ["event"])
    d["st"] = pd.Categorical.from_codes(d["status"].to_numpy(), categories=["censor", "event"])
    with pytest.raises(ValueError, match="etype"):
        finegray_coxph("Surv(time, st) ~ x", d, etype="relapse")


def test_split_followup_equals_unsplit_fit():
    """(start, stop] rows that split each subject's follow-up leave the Cox fit unchanged."""
    d = _data(seed=17)
    d["id"] = np.arange(len(d))
    cut = float(np.median(d["time"]))
    late = d["time"] > cut
    a = d.assign(t0=0.0, t1=np.where(late, cut, d["time"]), ev=np.where(late, 0, d["status"]))
    b = d[late].assign(t0=cut, t1=d.loc[late, "time"], ev=d.loc[late, "status"])
    s = pd.concat([a, b], ignore_index=True)
    ctrl = CoxControl(eps=1e-12, iter_max=50)
    f1 = coxph("Surv(time, status) ~ x + z", d, weights="w", control=ctrl)
    f2 = coxph("Surv(t0, t1, ev) ~ x + z + cluster(id)", s, weights="w", control=ctrl)
    np.testing.assert_allclose(f1.coef, f2.coef, rtol=1e-9)
    np.testing.assert_allclose(f1.naive_var, f2.naive_var, rtol=1e-7)
    np.testing.assert_allclose(f1.var, f2.var, rtol=1e-7)
