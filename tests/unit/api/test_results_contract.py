"""One results contract: every result has tidy(), summary() (str = R's printout), repr and
_repr_html_; every model result has confint() with R's labels and the same tidy() columns; old
names still work for one release with a CartsIptwDeprecationWarning."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import carts_iptw as c
from carts_iptw.results import (
    Estimates,
    ModelResults,
    Result,
    Summary,
    TableResult,
    TestResult,
    ci_labels,
    format_pvals,
    format_vector,
)

TIDY_MODEL = ["term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]


@pytest.fixture(scope="module")
def lal():
    d = c.load_dataset("lalonde").copy()
    d["w"] = c.weightit("treat ~ age + educ + race + married", d).weights
    d["re78_pos"] = (d["re78"] > 0).astype(int)
    return d


@pytest.fixture(scope="module")
def lung():
    return c.load_dataset("lung").dropna(subset=["ph.ecog"]).reset_index(drop=True)


def _models(lal, lung):
    W = c.weightit("treat ~ age + educ + race + married", lal)
    des = c.svydesign(lal, weights="~w")
    return {
        "glm": c.glm("re78_pos ~ treat + age", lal),
        "glm.gaussian": c.glm("re78 ~ treat + age", lal, family="gaussian"),
        "svyglm": c.svyglm("re78_pos ~ treat + age", des),
        "glm_robust": c.glm_robust("re78_pos ~ treat + age", lal, weights="w"),
        "glm_weightit": c.glm_weightit("re78_pos ~ treat", lal, W),
        "logistf": c.logistf("re78_pos ~ treat + age", lal),
        "coxph": c.coxph("Surv(time, status) ~ age + sex", lung),
        "svycoxph": c.svycoxph("Surv(time, status) ~ sex", c.svydesign(
            lung.assign(w=np.linspace(0.5, 2, len(lung))), weights="w")),
    }


def test_every_model_result_speaks_the_contract(lal, lung):
    for name, fit in _models(lal, lung).items():
        assert isinstance(fit, ModelResults), name
        for attr in ("coef", "se", "statistic", "p_values"):
            v = getattr(fit, attr)
            assert isinstance(v, pd.Series) and list(v.index) == list(fit.coef.index), (name, attr)
        assert isinstance(fit.vcov, pd.DataFrame) and fit.vcov.shape == (len(fit.coef),) * 2
        assert isinstance(fit.df, float)
        ci = fit.confint(0.9)
        assert list(ci.columns) == ["5 %", "95 %"] and list(ci.index) == list(fit.coef.index)
        assert (ci.iloc[:, 0] <= fit.coef).all() and (fit.coef <= ci.iloc[:, 1]).all(), name
        t = fit.tidy()
        assert list(t.columns[:7]) == TIDY_MODEL, name
        assert t["term"].tolist() == list(fit.coef.index)
        np.testing.assert_allclose(t["estimate"], fit.coef.to_numpy())
        np.testing.assert_allclose(t["p_value"], fit.p_values.to_numpy())
        if fit.ratio_scale:
            np.testing.assert_allclose(t["exp_estimate"], np.exp(fit.coef.to_numpy()))
        s = fit.summary()
        assert isinstance(s, Summary) and isinstance(str(s), str) and str(s)
        assert isinstance(repr(fit), str) and repr(fit)
        assert fit._repr_html_().startswith("<pre>")
        assert isinstance(fit.coef_table(), pd.DataFrame)


def test_tests_and_tables_speak_the_contract(lal, lung):
    des = c.svydesign(lal, weights="w")
    W = c.weightit("treat ~ age + educ + race + married", lal)
    tests = [c.wilcox_test("age ~ treat", data=lal), c.chisq_test("race", "treat", data=lal),
             c.fisher_test("married", "treat", data=lal), c.svychisq("~race + treat", des),
             c.svyttest("age ~ treat", des), c.survdiff("Surv(time, status) ~ sex", lung),
             c.svylogrank("Surv(time, status) ~ sex", c.svydesign(lung.assign(w=1.0),
                                                                  weights="w"))]
    for t in tests:
        assert isinstance(t, TestResult), type(t)
        td = t.tidy()
        assert len(td) >= 1 and {"statistic", "p_value"} <= set(td.columns), type(t)
        assert 0 <= t.p_value <= 1
        assert isinstance(t.summary(), Summary) and repr(t)
        assert not hasattr(t, "confint")
    tables = [c.survfit("Surv(time, status) ~ sex", lung), W, W.summary(),
              c.bal_tab(W), c.cox_zph(c.coxph("Surv(time, status) ~ age", lung)),
              c.svyquantile("~age", des, [0.5])]
    for t in tables:
        assert isinstance(t.tidy(), pd.DataFrame) and len(t.tidy()) > 0, type(t)
        assert str(t.summary() if not isinstance(t, Summary) else t) and repr(t)
        assert not hasattr(t, "confint"), type(t)
    assert isinstance(tables[0], TableResult) and isinstance(tables[3], TableResult)
    est = c.svymean("~age", des)
    assert isinstance(est, Estimates) and not isinstance(est, ModelResults)
    assert list(est.tidy().columns) == ["term", "estimate", "std_error", "conf_low", "conf_high"]


def test_old_names_warn_once_and_still_answer(lal, lung):
    fit = c.glm("re78_pos ~ treat + age", lal)
    with pytest.warns(c.CartsIptwDeprecationWarning, match="p_values"):
        p = fit.pvalues
    pd.testing.assert_series_equal(p, fit.p_values)
    with pytest.warns(c.CartsIptwDeprecationWarning, match="confint"):
        ci = fit.confint_wald(0.9)
    pd.testing.assert_frame_equal(ci, fit.confint(0.9))
    sd = c.survdiff("Surv(time, status) ~ sex", lung)
    with pytest.warns(c.CartsIptwDeprecationWarning):
        assert sd.pvalue == sd.p_value
    with pytest.warns(c.CartsIptwDeprecationWarning):
        pd.testing.assert_frame_equal(sd.table(), pd.DataFrame(sd.table))
    km = c.survfit("Surv(time, status) ~ sex", lung)
    with pytest.warns(c.CartsIptwDeprecationWarning):
        assert km.conf_int == km.conf_level == 0.95
    with pytest.warns(c.CartsIptwDeprecationWarning, match="vcov="):
        a = c.glm_robust("re78_pos ~ treat", lal, weights="w", vcov_type="HC1")
    b = c.glm_robust("re78_pos ~ treat", lal, weights="w", vcov="HC1")
    pd.testing.assert_frame_equal(a.vcov, b.vcov)
    with pytest.raises(TypeError, match="unexpected keyword"):
        c.glm_robust("re78_pos ~ treat", lal, weights="w", vcov_typo="HC1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit.p_values, fit.statistic, fit.confint(), fit.tidy()  # the new names never warn


@pytest.mark.parametrize("spec", ["w", "~w", " ~ w", "`w`"])
def test_one_weights_convention(lal, lung, spec):
    ref = c.glm_robust("re78_pos ~ treat", lal, weights=lal["w"].to_numpy())
    pd.testing.assert_series_equal(c.glm_robust("re78_pos ~ treat", lal, weights=spec).se, ref.se)
    des = c.svydesign(lal, weights=spec)
    np.testing.assert_allclose(des.weights, lal["w"].to_numpy())
    g = c.glm("re78_pos ~ treat", lal, weights=spec)
    np.testing.assert_allclose(g.coef, c.glm("re78_pos ~ treat", lal, weights=lal["w"]).coef)
    lw = lung.assign(w=np.linspace(0.5, 2, len(lung)))
    f = c.coxph("Surv(time, status) ~ age", lw, weights=spec)
    np.testing.assert_allclose(f.coef, c.coxph("Surv(time, status) ~ age", lw,
                                               weights=lw["w"].to_numpy()).coef)


def test_unknown_weights_column_is_named(lal):
    with pytest.raises(ValueError, match="unknown column 'nope' given as weights"):
        c.glm_robust("re78_pos ~ treat", lal, weights="~nope")


def test_r_formatting_helpers_match_r_printouts():
    """Printout formatting only (no statistic): the strings R 4.2.2 prints for these vectors
    (``format(x, digits = 4)``, ``format.pval(p, digits = 3)``); tests/parity/test_r_format.py
    checks the same helpers against live R on random vectors."""
    assert format_vector([0.361762, -0.0105325, 0.048778, -2.25469, -3.33704]) == [
        " 0.36176", "-0.01053", " 0.04878", "-2.25469", "-3.33704"]
    assert format_pvals([0.232416, 0.000986, 4.45e-05]) == ["0.232416", "0.000986", "4.45e-05"]
    assert format_pvals([0.557, 2.66589e-10, 1e-32]) == ["0.557", "2.67e-10", "< 2e-16"]
    assert format_vector([1e-10, 3.5]) == ["1.0e-10", "3.5e+00"]
    assert ci_labels(0.95) == ("2.5 %", "97.5 %") and ci_labels(0.9) == ("5 %", "95 %")
    assert ci_labels(0.999) == ("0.05 %", "99.95 %")
    with pytest.raises(ValueError):
        ci_labels(1.0)


def test_result_base_is_the_only_root():
    for cls in (ModelResults, TestResult, TableResult, Estimates):
        assert issubclass(cls, Result)
