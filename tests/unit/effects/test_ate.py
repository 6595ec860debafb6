"""Unit tests of carts_iptw.effects.ate (no R): estimator formulas recomputed from the fitted
models, influence functions against leave-one-out changes, bad input, the results contract.

Parity with the real riskRegression::ate is in the registry (parity/cases/ate.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import carts_iptw as c
from carts_iptw.effects import ATE
from carts_iptw.results import Result, Summary

LAL = "age + educ + race + married + nodegree + re74 + re75"
COL = "sex + age + obstruct + nodes + differ"


@pytest.fixture(scope="module")
def colon():
    d = c.load_dataset("colon")
    d = d[(d["etype"] == 2) & (d["rx"] != "Lev")].dropna(subset=["nodes", "differ"]).copy()
    d["lev5fu"] = (d["rx"] == "Lev+5FU").astype(int)
    d["years"] = d["time"] / 365.25
    return d.reset_index(drop=True)


@pytest.fixture(scope="module")
def lal_fit(lal):
    return c.ate(f"employed ~ treat + {LAL}", f"treat ~ {LAL}", lal)


def _col_ate(d, estimator=("GFORMULA", "IPTW", "AIPTW"), times=(1.0, 3.0)):
    return c.ate(f"Surv(years, status) ~ lev5fu + {COL}", f"lev5fu ~ {COL}", d,
                 censor="Surv(years, status == 0) ~ lev5fu + age + nodes", times=list(times),
                 estimator=estimator)


# ------------------------------------------------------------------------------ estimators
def test_binary_estimators_are_the_textbook_formulas(lal, lal_fit):
    ps = c.glm(f"treat ~ {LAL}", lal).fitted
    out = c.glm(f"employed ~ treat + {LAL}", lal)
    y = lal["employed"].to_numpy(float)
    a = lal["treat"].to_numpy(float)
    m = lal_fit.mean_risk.set_index(["estimator", "treatment"])["estimate"]
    for lv, p_a, ind in ((0, 1 - ps, a == 0), (1, ps, a == 1)):
        f = out.predict(lal.assign(treat=lv), type="response")
        assert m[("GFORMULA", lv)] == pytest.approx(f.mean(), rel=1e-12)
        # unnormalised Horvitz-Thompson: weights not rescaled to sum to n
        assert m[("IPTW", lv)] == pytest.approx(np.mean(ind * y / p_a), rel=1e-12)
        assert m[("AIPTW", lv)] == pytest.approx(np.mean(f + ind * (y - f) / p_a), rel=1e-12)


def test_differences_ratios_and_intervals_follow_riskregression(lal_fit):
    m = lal_fit.mean_risk
    d = lal_fit.diff_risk
    r = lal_fit.ratio_risk
    for e in ("GFORMULA", "IPTW", "AIPTW"):
        a, b = m[m.estimator == e].estimate.to_numpy()
        de = d[d.estimator == e].iloc[0]
        re = r[r.estimator == e].iloc[0]
        assert de.estimate == pytest.approx(b - a, rel=1e-14)
        assert re.estimate == pytest.approx(b / a, rel=1e-14)
        iid_a, iid_b = lal_fit.iid[e][0][:, 0], lal_fit.iid[e][1][:, 0]
        assert de.se == pytest.approx(np.sqrt(np.sum((iid_b - iid_a) ** 2)), rel=1e-12)
        assert re.se == pytest.approx(np.sqrt(np.sum((iid_b / a - iid_a * b / a**2) ** 2)),
                                      rel=1e-12)
        # Wald on the natural scale, ratios included; p-value of ratio = 1
        assert re.lower == pytest.approx(re.estimate - 1.959963984540054 * re.se, rel=1e-12)
        z = (re.estimate - 1) / re.se
        from scipy import stats

        assert re.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def test_mean_risk_limits_are_clipped_to_the_unit_interval(lal):
    d = lal.copy()
    d["rare"] = (np.arange(len(d)) % 97 == 0).astype(int)
    a = c.ate("rare ~ treat + age", "treat ~ age + educ", d, estimator="IPTW")
    assert (a.mean_risk.lower >= 0).all() and (a.mean_risk.upper <= 1).all()


def test_influence_functions_sum_to_zero(lal_fit):
    # binary: the direct part is centred and the nuisance parts are glm scores times a fixed
    # matrix, which sum to zero at the MLE (riskRegression's Cox influence functions do not
    # quite: one 1/S0 term per distinct time, Efron baseline)
    for e in lal_fit.estimator:
        for lv in lal_fit.levels:
            assert abs(lal_fit.iid[e][lv].sum()) < 1e-8


@pytest.mark.parametrize("kind", ["binary", "survival"])
def test_influence_function_predicts_leave_one_out_changes(lal, colon, kind):
    """theta(-j) - theta ~ -iid_j: every nuisance term (outcome, treatment, censoring model)
    must be present for the first-order approximation to hold."""
    if kind == "binary":
        d = lal.iloc[::2].reset_index(drop=True)

        def fit(x):
            return c.ate("employed ~ treat + age + educ + re74", "treat ~ age + educ + re74", x)
    else:
        d = colon.iloc[::3].reset_index(drop=True)

        def fit(x):
            return c.ate("Surv(years, status) ~ lev5fu + age + nodes", "lev5fu ~ age + nodes", x,
                         censor="Surv(years, status == 0) ~ lev5fu + age", times=[2.0])
    full = fit(d)
    rows = np.linspace(0, len(d) - 1, 8).astype(int)
    loo = [fit(d.drop(index=j).reset_index(drop=True)).diff_risk.set_index("estimator")
           for j in rows]
    est = full.diff_risk.set_index("estimator")["estimate"]
    for e in ("IPTW", "AIPTW", "GFORMULA"):
        obs = np.array([x.loc[e, "estimate"] - est[e] for x in loo])
        pred = np.array([-(full.iid[e][1][j, 0] - full.iid[e][0][j, 0]) * len(d) / (len(d) - 1)
                         for j in rows])
        rel = np.sort(np.abs(pred - obs) / np.maximum(np.abs(obs), 1e-4))
        # first order: all but the most influential row (a large IPTW weight) within 5%
        assert rel[-2] < 0.05, (e, rel)


def test_survival_without_censoring_before_the_horizon_needs_no_censoring_model(colon):
    # no row is censored in the first year: IPTW is the plain Horvitz-Thompson estimator
    a = c.ate(f"Surv(years, status) ~ lev5fu + {COL}", f"lev5fu ~ {COL}", colon, times=0.5)
    ps = c.glm(f"lev5fu ~ {COL}", colon).fitted
    y = ((colon.years <= 0.5) & (colon.status == 1)).to_numpy(float)
    t = colon["lev5fu"].to_numpy(float)
    m = a.mean_risk.set_index(["estimator", "treatment"])["estimate"]
    assert m[("IPTW", 1)] == pytest.approx(np.mean(t * y / ps), rel=1e-12)
    assert m[("IPTW", 0)] == pytest.approx(np.mean((1 - t) * y / (1 - ps)), rel=1e-12)


def test_treatment_levels_categorical_and_bool(lal):
    d = lal.copy()
    d["trt"] = pd.Categorical(np.where(d.treat == 1, "nsw", "control"),
                              categories=["control", "nsw"])
    a = c.ate("employed ~ trt + age + educ", "trt ~ age + educ", d)
    b = c.ate("employed ~ treat + age + educ", "treat ~ age + educ", lal)
    assert a.levels == ("control", "nsw")
    np.testing.assert_allclose(a.diff_risk.estimate, b.diff_risk.estimate, rtol=1e-12)
    d["tb"] = d.treat == 1
    e = c.ate("employed ~ tb + age + educ", "tb ~ age + educ", d)
    np.testing.assert_allclose(e.diff_risk.se, b.diff_risk.se, rtol=1e-12)


# ------------------------------------------------------------------------------ bad input
SECRET = "Zq7secret"


def _err(fn, *a, **k):
    with pytest.raises(ValueError) as ei:
        fn(*a, **k)
    msg = str(ei.value)
    assert SECRET not in msg and "nan" not in msg.lower()
    return msg


def test_missing_values_are_named(lal):
    d = lal.copy()
    d.iloc[3, d.columns.get_loc("age")] = np.nan
    msg = _err(c.ate, f"employed ~ treat + {LAL}", f"treat ~ {LAL}", d)
    assert "age" in msg and "missing" in msg
    d = lal.copy().astype({"treat": float})
    d.iloc[5, d.columns.get_loc("treat")] = np.nan
    assert "treat" in _err(c.ate, "employed ~ treat + age", "treat ~ age", d)


def test_non_binary_treatment(lal):
    d = lal.copy()
    d["grp"] = pd.Categorical(np.where(d.treat == 1, SECRET, np.where(d.age > 25, "b", "c")))
    msg = _err(c.ate, "employed ~ grp + age", "grp ~ age", d)
    assert "grp" in msg and "2 levels" in msg
    d["one"] = 1
    assert "one" in _err(c.ate, "employed ~ age", "one ~ age", d)


def test_treatment_separation_names_the_covariate(lal):
    d = lal.copy()
    d["leak"] = d["treat"] * 2.0 + 1.0
    msg = _err(c.ate, "employed ~ treat + age", "treat ~ age + leak", d)
    assert "separation" in msg and "leak" in msg


def test_censoring_model_that_cannot_be_fitted(colon):
    d = colon.copy()
    msg = _err(c.ate, "Surv(years, status) ~ lev5fu + age", "lev5fu ~ age", d,
               censor="Surv(years, status == 2) ~ lev5fu + age", times=[2.0])
    assert "censoring model" in msg
    msg = _err(c.ate, "Surv(years, status) ~ lev5fu + age", "lev5fu ~ age", d,
               censor="Surv(years, status == 1) ~ lev5fu + age", times=[2.0])
    assert "censoring indicator" in msg
    msg = _err(c.ate, "Surv(years, status) ~ lev5fu + age", "lev5fu ~ age", d, times=[2.0])
    assert "censor" in msg


def test_horizons(colon, lal):
    f, t = "Surv(years, status) ~ lev5fu + age", "lev5fu ~ age"
    assert "beyond the last follow-up" in _err(c.ate, f, t, colon, times=[2.0, 99.0],
                                               estimator="GFORMULA")
    assert "horizon" in _err(c.ate, f, t, colon, estimator="GFORMULA")
    assert "positive" in _err(c.ate, f, t, colon, times=[-1.0], estimator="GFORMULA")
    assert "binary outcome" in _err(c.ate, "employed ~ treat", "treat ~ age", lal, times=[1.0])
    first = colon.loc[colon.status == 1, "years"].min()
    msg = _err(c.ate, f, t, colon, times=[first / 2], estimator="GFORMULA")
    assert "not finite" in msg and "ratio" in msg


def test_bad_estimator_and_formulas(lal):
    assert "estimator" in _err(c.ate, "employed ~ treat", "treat ~ age", lal, estimator="TMLE")
    assert "treat" in _err(c.ate, "employed ~ age", "treat ~ age", lal)
    assert "left-hand side" in _err(c.ate, "employed ~ treat", "~ age", lal)
    with pytest.raises(TypeError):
        c.ate("employed ~ treat", "treat ~ age", lal.to_numpy())


def test_outcome_with_aliased_coefficient(lal):
    d = lal.copy()
    d["age2"] = d["age"] * 2
    assert "aliased" in _err(c.ate, "employed ~ treat + age + age2", "treat ~ age", d)


# ------------------------------------------------------------------------------ contract
def test_result_contract(lal_fit):
    assert isinstance(lal_fit, ATE) and isinstance(lal_fit, Result)
    assert list(lal_fit.mean_risk.columns) == ["estimator", "time", "treatment", "estimate",
                                               "se", "lower", "upper"]
    for tab in (lal_fit.diff_risk, lal_fit.ratio_risk):
        assert list(tab.columns) == ["estimator", "time", "A", "B", "estimate_A", "estimate_B",
                                     "estimate", "se", "lower", "upper", "p_value"]
    t = lal_fit.tidy()
    assert list(t.columns) == ["type", "estimator", "time", "level", "estimate", "std_error",
                               "conf_low", "conf_high", "p_value"]
    assert len(t) == 12
    s = lal_fit.summary()
    assert isinstance(s, Summary) and "Average treatment effect" in str(s)
    assert "Ratio of standardized risks" in str(s)
    assert "[min;max]" in repr(lal_fit) and "ratio (B/A)" in repr(lal_fit)
    assert "[" in lal_fit._repr_html_()


def test_survival_print_lists_horizons(colon):
    a = _col_ate(colon, estimator="GFORMULA")
    text = str(a.summary())
    assert "Eval. time" in text and "G-formula" in text
    assert a.mean_risk.time.tolist() == [1.0, 3.0, 1.0, 3.0]


def test_estimator_subsets_give_the_same_rows(colon):
    full = _col_ate(colon)
    for e in ("AIPTW", "IPTW"):
        one = _col_ate(colon, estimator=e.lower())
        assert one.estimator == (e,)
        ref = full.diff_risk[full.diff_risk.estimator == e].reset_index(drop=True)
        pd.testing.assert_frame_equal(one.diff_risk, ref, rtol=1e-13)
