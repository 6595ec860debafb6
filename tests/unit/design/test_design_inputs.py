"""carts_iptw.design: bad input, edge cases and properties (no R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from carts_iptw.datasets import load_dataset
from carts_iptw.design import (
    chisq_test,
    detect_separation,
    fisher_test,
    glm_robust,
    glm_weightit,
    logistf,
    svyby,
    svychisq,
    svydesign,
    svyglm,
    svymean,
    svyquantile,
    svyranktest,
    svyttest,
    wilcox_test,
)
from carts_iptw.design._zeroin import uniroot
from carts_iptw.irls import GlmControl


@pytest.fixture(scope="module")
def lalonde():
    d = load_dataset("lalonde").copy()
    d["employed"] = (d["re78"] > 0).astype(int)
    rng = np.random.default_rng(7)
    d["w"] = rng.uniform(0.5, 3.0, len(d))
    return d


@pytest.fixture(scope="module")
def birthwt():
    d = load_dataset("birthwt").copy()
    d["vlbw"] = (d["bwt"] < 2000).astype(int)
    return d


# --- svydesign --------------------------------------------------------------------------
def test_svydesign_missing_weight_names_column(lalonde):
    d = lalonde.copy()
    d.loc[d.index[:3], "w"] = np.nan
    with pytest.raises(ValueError, match="'w' has 3 missing"):
        svydesign(d, weights="w")


def test_svydesign_negative_weights(lalonde):
    d = lalonde.copy()
    d.loc[d.index[0], "w"] = -1
    with pytest.raises(ValueError, match="negative"):
        svydesign(d, weights="w")


def test_svydesign_unknown_column(lalonde):
    with pytest.raises(ValueError, match="unknown column"):
        svydesign(lalonde, weights="nope")


def test_svydesign_non_nested_clusters(lalonde):
    with pytest.raises(ValueError, match="not nested"):
        svydesign(lalonde, weights="w", ids="educ", strata="married")
    assert svydesign(lalonde, weights="w", ids="educ", strata="married", nest=True).degf() > 0


def test_svydesign_formula_style_and_repr(lalonde):
    d = svydesign(lalonde, weights="~w")
    assert d.degf() == len(lalonde) - 1
    assert "degf = 613" in repr(d)


# --- svymean / svyby / svyquantile --------------------------------------------------------
def test_svymean_unit_weights_is_mean_and_se(lalonde):
    d = svydesign(lalonde.assign(one=1.0), weights="one")
    m = svymean("age", d)
    x = lalonde["age"].to_numpy(float)
    assert m.coef["age"] == pytest.approx(x.mean(), rel=1e-12)
    assert m.se["age"] == pytest.approx(x.std(ddof=1) / np.sqrt(len(x)), rel=1e-12)


def test_svymean_factor_levels_sum_to_one(lalonde):
    m = svymean("~race", svydesign(lalonde, weights="w"))
    assert list(m.coef.index) == ["raceblack", "racehispan", "racewhite"]
    assert m.coef.sum() == pytest.approx(1.0, rel=1e-12)


def test_svymean_missing_values_raise_or_drop(lalonde):
    d = lalonde.copy()
    d.loc[d.index[:5], "age"] = np.nan
    des = svydesign(d, weights="w")
    with pytest.raises(ValueError, match="5 row"):
        svymean("age", des)
    m = svymean("age", des, na_rm=True)
    assert np.isfinite(m.coef["age"])


def test_svyby_zero_weight_group(lalonde):
    d = lalonde.copy()
    d.loc[d["treat"] == 1, "w"] = 0.0
    with pytest.raises(ValueError, match="zero total weight"):
        svyby("~employed", "~treat", svydesign(d, weights="w"))


def test_svyquantile_checks(lalonde):
    des = svydesign(lalonde, weights="w")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        svyquantile("re78", des, [1.5])
    with pytest.raises(TypeError, match="categorical"):
        svyquantile("race", des, [0.5])
    t = svyquantile("age", des, [0.5])["age"]
    assert t["ci.2.5"].iloc[0] <= t["quantile"].iloc[0] <= t["ci.97.5"].iloc[0]


# --- svychisq / svyttest / svyranktest ------------------------------------------------------
def test_svychisq_bad_input(lalonde):
    des = svydesign(lalonde, weights="w")
    with pytest.raises(ValueError, match="statistic"):
        svychisq("~employed + treat", des, statistic="Wald")
    with pytest.raises(ValueError, match="two variables"):
        svychisq("~employed", des)
    d = lalonde.assign(const=1)
    with pytest.raises(ValueError, match="'const' has fewer than 2"):
        svychisq("~employed + const", svydesign(d, weights="w"))


def test_svychisq_unit_weights_is_pearson(lalonde):
    """With unit weights and ids = ~1 the design effect is ~1: Chisq statistic = Pearson X^2."""
    d = svydesign(lalonde.assign(one=1.0), weights="one")
    h = svychisq("~employed + treat", d, statistic="Chisq")
    tab = pd.crosstab(lalonde["employed"], lalonde["treat"]).to_numpy()
    x2 = stats.chi2_contingency(tab, correction=False)[0]
    assert h.statistic == pytest.approx(x2, rel=1e-10)


def test_svyttest_and_ranktest_need_two_groups(lalonde):
    des = svydesign(lalonde, weights="w")
    with pytest.raises(ValueError, match="2 levels"):
        svyttest("re78 ~ race", des)
    assert svyranktest("re78 ~ race", des).parameter["df"] == 2  # k groups: multiranktest
    with pytest.raises(ValueError, match="fewer than 2 groups"):
        svyranktest("re78 ~ one", svydesign(lalonde.assign(one=1), weights="w"))
    with pytest.raises(ValueError, match="test must be"):
        svyranktest("re78 ~ treat", des, test="mood")


def test_svyttest_estimate_is_difference_of_weighted_means(lalonde):
    des = svydesign(lalonde, weights="w")
    h = svyttest("re78 ~ treat", des)
    m = svyby("~re78", "~treat", des)
    assert h.estimate == pytest.approx(m["re78"].iloc[1] - m["re78"].iloc[0], rel=1e-10)
    assert h.conf_int[0] < h.estimate < h.conf_int[1]


# --- Table 1 tests ----------------------------------------------------------------------------
def test_wilcox_exact_matches_scipy_without_ties():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=9), rng.normal(0.8, size=12)
    h = wilcox_test(x, y)
    assert h.method == "Wilcoxon rank sum exact test"
    ref = stats.mannwhitneyu(x, y, method="exact")
    assert h.statistic == ref.statistic
    assert h.p_value == pytest.approx(ref.pvalue, rel=1e-12)


def test_wilcox_bad_input(lalonde):
    with pytest.raises(ValueError, match="exactly 2 groups"):
        wilcox_test("age ~ race", data=lalonde)
    with pytest.raises(ValueError, match="missing"):
        wilcox_test([1.0, np.nan, 3.0], [2.0, 4.0])


def test_chisq_test_yates_matches_scipy(birthwt):
    h = chisq_test("low", "smoke", data=birthwt)
    tab = pd.crosstab(birthwt["low"], birthwt["smoke"]).to_numpy()
    x2, p, df, _ = stats.chi2_contingency(tab, correction=True)
    assert h.statistic == pytest.approx(x2, rel=1e-12)
    assert h.p_value == pytest.approx(p, rel=1e-12)
    with pytest.raises(ValueError, match="empty"):
        chisq_test(np.array([[3, 0], [4, 0]]))


def test_fisher_2x2_matches_scipy_pvalue(birthwt):
    h = fisher_test("low", "smoke", data=birthwt)
    tab = pd.crosstab(birthwt["low"], birthwt["smoke"]).to_numpy()
    assert h.p_value == pytest.approx(stats.fisher_exact(tab)[1], rel=1e-9)
    assert h.conf_int[0] < h.estimate < h.conf_int[1]
    with pytest.raises(ValueError, match="2 x 2"):
        fisher_test(np.array([[3, 1, 2], [4, 2, 1], [1, 1, 5]]))


def test_uniroot_replay_finds_root():
    assert uniroot(lambda t: t * t - 2, 0.0, 2.0, tol=1e-12) == pytest.approx(np.sqrt(2), rel=1e-11)
    with pytest.raises(ValueError, match="opposite sign"):
        uniroot(lambda t: t * t + 1, 0.0, 2.0)


# --- svyglm / glm_robust -------------------------------------------------------------------
def test_svyglm_is_centered_hc0_times_n_over_n_minus_1(lalonde):
    """For ids = ~1 and a converged fit, survey's variance = HC0 * n/(n-1)."""
    ctl = GlmControl(epsilon=1e-14, maxit=50)
    f = "employed ~ treat + age + race"
    s = svyglm(f, svydesign(lalonde, weights="w"), control=ctl)
    r = glm_robust(f, lalonde, weights="w", family="quasibinomial", control=ctl)
    n = len(lalonde)
    np.testing.assert_allclose(s.vcov.to_numpy(), r.vcov.to_numpy() * n / (n - 1), rtol=1e-7, atol=1e-10)
    assert s.df_residual == n - 5
    ci = s.confint()
    assert list(ci.columns) == ["2.5 %", "97.5 %"]
    assert (ci["2.5 %"] < s.coef).all() and (s.coef < ci["97.5 %"]).all()
    orr = s.odds_ratios()
    np.testing.assert_allclose(orr["OR"], np.exp(s.coef))


def test_glm_robust_hc1_is_scaled_hc0(lalonde):
    f = "employed ~ treat + age"
    a = glm_robust(f, lalonde, weights="w", vcov="HC0")
    b = glm_robust(f, lalonde, weights="w", vcov="HC1")
    n, k = len(lalonde), 3
    np.testing.assert_allclose(b.vcov.to_numpy(), a.vcov.to_numpy() * n / (n - k), rtol=1e-14)
    with pytest.raises(ValueError, match="HC0"):
        glm_robust(f, lalonde, weights="w", vcov="HC3")


def test_svyglm_bad_input(lalonde):
    des = svydesign(lalonde, weights="w")
    with pytest.raises(ValueError, match="family"):
        svyglm("employed ~ treat", des, family="tweedie")
    with pytest.raises(ValueError, match="'educ'"):
        svyglm("educ ~ treat", des)  # not 0/1
    d = lalonde.copy()
    d.loc[d.index[:2], "age"] = np.nan
    with pytest.raises(ValueError, match="age"):
        svyglm("employed ~ treat + age", svydesign(d, weights="w"))
    with pytest.raises(TypeError):
        svyglm("employed ~ treat", lalonde)


def test_separation_is_detected_and_named(birthwt):
    d = birthwt.assign(w=1.0)
    with pytest.raises(ValueError, match="separation of 'low' by vlbw"):
        svyglm("low ~ smoke + vlbw", svydesign(d, weights="w"))
    with pytest.raises(ValueError, match="vlbw"):
        glm_robust("low ~ smoke + vlbw", d, weights="w")
    from carts_iptw.formula import model_frame

    mf = model_frame("low ~ smoke + age", birthwt)
    assert not detect_separation(mf.X, mf.y, mf.column_names)


# --- logistf ------------------------------------------------------------------------------
def test_logistf_finite_under_separation(birthwt):
    r = logistf("low ~ smoke + vlbw", birthwt)
    assert np.isfinite(r.coef).all() and np.isfinite(r.se).all()
    ci = r.confint()
    assert (ci.iloc[:, 0] < r.coef).all() and (r.coef < ci.iloc[:, 1]).all()
    assert "profile penalised likelihood" in r.summary()


def test_logistf_case_weights_equal_duplicated_rows(birthwt):
    d = birthwt.iloc[:80].reset_index(drop=True)
    w = np.where(np.arange(80) % 3 == 0, 2.0, 1.0)
    a = logistf("low ~ smoke + age", d, weights=w)
    dup = pd.concat([d, d.loc[w == 2]], ignore_index=True)
    b = logistf("low ~ smoke + age", dup)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9)
    np.testing.assert_allclose(a.se, b.se, rtol=1e-9)


def test_logistf_bad_input(birthwt):
    with pytest.raises(ValueError, match="binary"):
        logistf("ftv ~ smoke", birthwt)
    with pytest.raises(ValueError, match="weights"):
        logistf("low ~ smoke", birthwt, weights=-np.ones(len(birthwt)))


# --- glm_weightit --------------------------------------------------------------------------
def test_glm_weightit_bad_input_and_bootstrap(lalonde):
    from carts_iptw.weighting import weightit

    W = weightit("treat ~ age + educ + race + married", lalonde, method="glm", estimand="ATE")
    with pytest.raises(ValueError, match="vcov"):
        glm_weightit("employed ~ treat", lalonde, W, vcov="HC3")
    with pytest.raises(ValueError, match="rows"):
        glm_weightit("employed ~ treat", lalonde.iloc[:100], W)
    with pytest.raises(TypeError):
        glm_weightit("employed ~ treat", lalonde, weightit=np.ones(len(lalonde)))
    a = glm_weightit("employed ~ treat", lalonde, W, vcov="FWB", R=40, seed=1, progress=False)
    b = glm_weightit("employed ~ treat", lalonde, W, vcov="FWB", R=40, seed=1, progress=False)
    np.testing.assert_array_equal(a.vcov.to_numpy(), b.vcov.to_numpy())
    m = glm_weightit("employed ~ treat", lalonde, W, vcov="asympt")
    # bootstrap SEs are of the same order as the M-estimation SEs
    assert 0.5 < a.se["treat"] / m.se["treat"] < 2.0


def test_constant_after_weighting_and_aliased_terms_raise(lalonde):
    d = lalonde.copy()
    d.loc[d["treat"] == 1, "w"] = 0.0
    with pytest.raises(ValueError, match="constant among the .* rows with positive weight"):
        svyglm("employed ~ treat + age", svydesign(d, weights="w"))
    d2 = lalonde.assign(age2=lalonde["age"] * 2.0)
    with pytest.raises(ValueError, match="aliased term"):
        glm_robust("employed ~ age + age2", d2, weights="w")
