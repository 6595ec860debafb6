"""Unit tests of carts_iptw.effects: identities the R parity cases do not cover (analytic
jacobian vs finite differences, target units, integer weights = replicated rows, contract)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import carts_iptw as c
from carts_iptw.effects import AvgComparisons, EValue, RMSTDifference, SurvivalDifference
from carts_iptw.results import Result, Summary

TIDY = ["term", "contrast", "estimate", "std_error", "statistic", "p_value", "conf_low",
        "conf_high"]
PS = "treat ~ age + educ + race + married + nodegree + re74 + re75"
OUT = "employed ~ treat * (age + educ) + race + married + re74"


@pytest.fixture(scope="module")
def rot():
    d = c.load_dataset("rotterdam").copy()
    d["chemo"] = d["chemo"].astype(int)
    return d


def _numeric_avg(fit, data, cmp):
    """The contrast as a function of the coefficients, by direct prediction."""
    glm = fit.glm

    def f(b):
        from carts_iptw.formula import model_frame

        out = []
        for v in (1, 0):
            mf = model_frame(glm.formula, data.assign(treat=v), xlevels=glm.model_frame.xlevels,
                             bases=glm.model_frame.bases, with_response=False)
            out.append(np.mean(glm.family.linkinv(mf.X @ b)))
        m1, m0 = out
        return {"difference": m1 - m0, "ratio": np.log(m1 / m0),
                "oddsratio": np.log(m1 / (1 - m1)) - np.log(m0 / (1 - m0))}[cmp]
    return f


@pytest.mark.parametrize("cmp", ["difference", "ratio", "oddsratio"])
def test_analytic_jacobian_equals_central_differences(lal, cmp):
    W = c.weightit(PS, lal)
    fit = c.glm_weightit(OUT, lal, W)
    a = c.avg_comparisons(fit, "treat", cmp)
    f = _numeric_avg(fit, lal, cmp)
    b = fit.coef.to_numpy()
    J = np.empty_like(b)
    scale = np.abs(fit.glm.X).max(axis=0)
    for j in range(len(b)):
        h = 1e-4 / max(1.0, scale[j])  # a step of about 1e-4 on the linear predictor
        e = np.zeros_like(b)
        e[j] = h
        J[j] = (f(b + e) - f(b - e)) / (2 * h)
    np.testing.assert_allclose(a.jacobian.to_numpy(), J, rtol=1e-6, atol=1e-10)
    est = f(b)
    np.testing.assert_allclose(a.estimate, est if cmp == "difference" else np.exp(est), rtol=1e-12)
    V = fit.vcov.to_numpy()
    np.testing.assert_allclose(a.std_error, np.sqrt(J @ V @ J), rtol=1e-6)


def test_target_follows_the_estimand(lal):
    for est, rows in (("ATT", lal["treat"] == 1), ("ATC", lal["treat"] == 0)):
        W = c.weightit(PS, lal, estimand=est)
        fit = c.glm_weightit(OUT, lal, W)
        auto = c.avg_comparisons(fit, "treat")
        by_hand = c.avg_comparisons(fit, "treat", newdata=lal[rows])
        assert auto.n == int(rows.sum()) and auto.target != "newdata"
        assert auto.estimate == pytest.approx(by_hand.estimate, rel=1e-12)
        assert auto.std_error == pytest.approx(by_hand.std_error, rel=1e-12)
        assert not auto.weighted


def test_ato_averages_with_the_weights_and_wts_overrides(lal):
    W = c.weightit(PS, lal, estimand="ATO")
    fit = c.glm_weightit(OUT, lal, W)
    a = c.avg_comparisons(fit, "treat")
    b = c.avg_comparisons(fit, "treat", wts=W.weights)
    u = c.avg_comparisons(fit, "treat", wts=False)
    assert a.weighted and not u.weighted
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12)
    assert a.estimate != pytest.approx(u.estimate, rel=1e-6)


def test_linear_model_difference_is_the_coefficient(lal):
    fit = c.glm_robust("re78 ~ treat + age + educ", lal, family="gaussian")
    a = c.avg_comparisons(fit, "treat")
    assert a.estimate == pytest.approx(fit.coef["treat"], rel=1e-10)
    assert a.std_error == pytest.approx(fit.se["treat"], rel=1e-10)
    assert a.p_value == pytest.approx(fit.p_values["treat"], rel=1e-8)


def test_factor_treatment(lal):
    d = lal.assign(arm=pd.Categorical(np.where(lal["treat"] == 1, "nsw", "cps"),
                                      categories=["cps", "nsw"]))
    fit = c.glm_robust("employed ~ arm + age", d, weights=None)
    fit2 = c.glm_robust("employed ~ treat + age", lal, weights=None)
    a, b = c.avg_comparisons(fit, "arm"), c.avg_comparisons(fit2, "treat")
    assert a.estimate == pytest.approx(b.estimate, rel=1e-10)
    assert "nsw - cps" in a.tidy()["contrast"].iloc[0]


def test_rmean_integer_weights_equal_replicated_rows(rot):
    d = rot.iloc[::7].reset_index(drop=True).assign(k=lambda x: 1 + (np.arange(len(x)) % 3))
    rep = d.loc[d.index.repeat(d["k"])].reset_index(drop=True)
    a = c.survfit("Surv(dtime, death) ~ chemo", d, weights="k").rmean(2500)
    b = c.survfit("Surv(dtime, death) ~ chemo", rep).rmean(2500)
    np.testing.assert_allclose(a[["rmean", "se_rmean"]], b[["rmean", "se_rmean"]], rtol=1e-12)


def test_rmean_is_the_area_under_the_curve(rot):
    f = c.survfit("Surv(dtime, death) ~ 1", rot)
    t = f.table
    tau = 4000.0
    x = np.concatenate([[0.0], t["time"][t["time"] <= tau], [tau]])
    s = np.concatenate([[1.0], t["surv"][t["time"] <= tau]])
    assert f.rmean(tau)["rmean"].iloc[0] == pytest.approx(np.sum(np.diff(x) * s), rel=1e-12)


def test_survfit_difference_is_the_difference_of_summary_times(rot):
    f = c.survfit("Surv(dtime, death) ~ chemo", rot)
    r = c.survfit_difference(f, [1000.0, 3000.0])
    at = f.at_times([1000.0, 3000.0])
    s0 = at[at["strata"] == "chemo=0"]
    s1 = at[at["strata"] == "chemo=1"]
    np.testing.assert_allclose(r.estimate, s1["surv"].to_numpy() - s0["surv"].to_numpy())
    np.testing.assert_allclose(r.std_error, np.hypot(s1["std_err"].to_numpy(), s0["std_err"].to_numpy()))
    risk = c.survfit_difference(f, [1000.0, 3000.0], measure="risk")
    np.testing.assert_allclose(risk.estimate, -r.estimate)


def test_evalue_paper_example_and_identities():
    # VanderWeele & Ding (2017), Ann Intern Med 167:268, worked example: RR 3.9 (1.8-8.7) ->
    # E-values 7.26 (point) and 3.0 (lower limit); the two numbers are printed in the paper.
    e = c.evalue(3.9, 1.8, 8.7)
    assert round(e.point, 2) == 7.26 and round(e.ci, 2) == 3.0
    assert c.evalue(1 / 3.9).point == pytest.approx(e.point)  # symmetry
    assert c.evalue(1.3, 0.9, 1.9).ci == 1.0  # interval includes 1
    assert c.evalue(2.0, measure="OR", rare=True).point == c.evalue(2.0).point
    assert c.evalue(4.0, measure="OR", rare=False).rr == pytest.approx(2.0)
    assert c.evalue(1.0, 0.8, 1.2).point == 1.0
    assert c.evalue(0.7, upper=0.95).ci == pytest.approx(c.evalue(1 / 0.95).point)


def test_every_effect_result_speaks_the_contract(lal, rot):
    W = c.weightit(PS, lal)
    fit = c.glm_weightit(OUT, lal, W)
    km = c.survfit("Surv(dtime, death) ~ chemo", rot)
    results = [c.avg_comparisons(fit, "treat"), c.avg_comparisons(fit, "treat", "ratio"),
               c.rmst_difference(km, 3000), c.survfit_difference(km, [1000, 2000])]
    for r, cls in zip(results, (AvgComparisons, AvgComparisons, RMSTDifference,
                                SurvivalDifference), strict=True):
        assert isinstance(r, cls) and isinstance(r, Result)
        t = r.tidy()
        assert list(t.columns[:8]) == TIDY
        assert np.isfinite(t[TIDY[2:]].to_numpy(float)).all()
        assert (t["conf_low"] <= t["estimate"]).all() and (t["estimate"] <= t["conf_high"]).all()
        s = r.summary()
        assert isinstance(s, Summary) and "2.5 %" in str(s) and repr(r)
        assert r._repr_html_().startswith("<pre>")
    e = c.evalue(0.56, 0.46, 0.69, "HR", rare=False)
    assert isinstance(e, EValue) and isinstance(e, Result)
    assert "E-values" in str(e.summary()) and not e.tidy().isna().any().any()


def test_subgroups_single_level_equals_domain_fit_and_reports_weights(lal):
    d = lal.assign(w=c.weightit(PS, lal).weights)
    r = c.subgroup_effects("employed ~ treat", d, "treat", "married", weights="w")
    des = c.svydesign(d, weights="w")
    fit = c.svyglm("employed ~ treat", des.subset((d["married"] == 1).to_numpy()))
    assert r.tidy()["estimate"].iloc[1] == pytest.approx(np.exp(fit.coef["treat"]), rel=1e-12)
    assert r.weights_source == "cohort" and "whole cohort" in str(r.summary())
    assert 0 < r.interaction["p_value"] < 1 and r.interaction["df"] == 1
    rr = c.subgroup_effects("employed ~ treat", d, "treat", "married", reestimate=True,
                            ps_formula="treat ~ age + educ + race")
    assert rr.weights_source == "reestimated" and "re-estimated" in str(rr)


def test_subgroup_forest_plot(lal):
    import matplotlib

    matplotlib.use("Agg")
    d = lal.assign(w=c.weightit(PS, lal).weights)
    r = c.subgroup_effects("employed ~ treat", d, "treat", "married", weights="w")
    fig = r.plot()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert sorted(labels) == [f"married={v} (n = {int((d['married'] == v).sum())})" for v in (0, 1)]
    assert "interaction p" in fig.axes[0].get_title()
    g = c.subgroup_effects("re78 ~ treat", d, "treat", "married", weights="w", family="gaussian")
    with pytest.raises(ValueError, match="ratio scale"):
        g.plot()


def test_rmean_robust_variance_identities(rot):
    d = rot.iloc[::5].reset_index(drop=True)
    d["w"] = 0.5 + (np.arange(len(d)) % 4) / 2
    d["id"] = np.arange(len(d))
    plain = c.survfit("Surv(dtime, death) ~ chemo", d)
    # unweighted: the IJ variance of the RMST equals survmean's (as R's resid(type = "sojourn"))
    np.testing.assert_allclose(plain.rmean(3000, "robust"), plain.rmean(3000), rtol=1e-10)
    w = c.survfit("Surv(dtime, death) ~ chemo", d, weights="w")
    wc = c.survfit("Surv(dtime, death) ~ chemo", d, weights="w", cluster="id")
    np.testing.assert_allclose(w.rmean(3000, "robust"), wc.rmean(3000, "robust"), rtol=1e-12)
    r = c.rmst_difference(w, 3000)
    assert r.variance == "robust" and "jackknife" in str(r)
    assert c.rmst_difference(plain, 3000).variance == "survmean"
    with pytest.raises(ValueError, match="variance"):
        w.rmean(3000, "bootstrap")
