"""Unit tests for carts_iptw.weighting (no R): formulas, properties, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carts_iptw.datasets import load_dataset
from carts_iptw.weighting import get_w_from_ps, trim, weightit
from carts_iptw.weighting.trim import quantile_type3

LALONDE = "treat ~ age + educ + race + married + nodegree + re74 + re75"


@pytest.fixture(scope="module")
def lalonde():
    return load_dataset("lalonde")


def test_weight_formulas_per_estimand():
    p = np.array([0.2, 0.7, 0.4, 0.9])
    t = np.array([1.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(get_w_from_ps(p, t, "ATE"), [5, 1 / 0.7, 1 / 0.6, 10])
    np.testing.assert_allclose(get_w_from_ps(p, t, "ATT"), [1, 1, 0.4 / 0.6, 9])
    np.testing.assert_allclose(get_w_from_ps(p, t, "ATC"), [4, 0.3 / 0.7, 1, 1])
    np.testing.assert_allclose(get_w_from_ps(p, t, "ATO"), [0.8, 0.3, 0.4, 0.9])
    np.testing.assert_allclose(get_w_from_ps(p, t, "ATM"), [1, 0.3 / 0.7, 0.4 / 0.6, 1])
    np.testing.assert_allclose(get_w_from_ps(p, t, "ATE", stabilize=True),
                               get_w_from_ps(p, t, "ATE") * 0.5)


def test_ps_of_zero_or_one_is_an_error():
    with pytest.raises(ValueError, match="0 or 1"):
        get_w_from_ps([0.0, 0.5], [1, 0], "ATE")
    with pytest.raises(ValueError, match="estimand"):
        get_w_from_ps([0.3, 0.5], [1, 0], "ATX")


def test_glm_weights_sum_properties(lalonde):
    W = weightit(LALONDE, lalonde, estimand="ATE")
    t, w, p = W.treat, W.weights, W.ps
    # ATE weights: sum over treated of 1/p approximates n; logistic score equations make
    # sum(p) equal the number treated (intercept) at the MLE
    assert abs(p.sum() - t.sum()) < 1e-6
    np.testing.assert_allclose(w[t == 1], 1 / p[t == 1])
    S = weightit(LALONDE, lalonde, estimand="ATE", stabilize=True)
    np.testing.assert_allclose(S.weights[t == 1], w[t == 1] * t.mean())
    assert W.ps_model.coef.index[3] == "racehispan"


def test_ato_balances_means_exactly(lalonde):
    from carts_iptw.irls import GlmControl

    W = weightit(LALONDE, lalonde, estimand="ATO", control=GlmControl(epsilon=1e-14, maxit=50))
    X = pd.get_dummies(lalonde[["age", "educ", "race", "married", "nodegree", "re74", "re75"]],
                       drop_first=True).astype(float).to_numpy()
    t, w = W.treat, W.weights
    d = X[t == 1].T @ w[t == 1] / w[t == 1].sum() - X[t == 0].T @ w[t == 0] / w[t == 0].sum()
    assert np.max(np.abs(d) / X.std(axis=0)) < 1e-8


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_ebal_exact_mean_balance(lalonde, estimand):
    W = weightit(LALONDE, lalonde, method="ebal", estimand=estimand)
    C = W.info["design"].to_numpy()
    t, w = W.treat, W.weights
    target = {"ATE": np.ones_like(t, dtype=bool), "ATT": t == 1, "ATC": t == 0}[estimand]
    m = C[target].mean(axis=0)
    for g in (0, 1):
        mg = C[t == g].T @ w[t == g] / w[t == g].sum()
        assert np.max(np.abs(mg - m)) < 1e-8
    if estimand == "ATT":
        assert np.all(w[t == 1] == 1)
    # WeightIt 1.5.1's scale: each weighted group's weights sum to the group's size
    for g in ((0, 1) if estimand == "ATE" else (0 if estimand == "ATT" else 1,)):
        assert abs(w[t == g].sum() - (t == g).sum()) < 1e-8


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_cbps_solves_balance_conditions(lalonde, estimand):
    W = weightit(LALONDE, lalonde, method="cbps", estimand=estimand)
    assert W.info["cbps"]["balance_norm"] < 1e-10
    X = pd.get_dummies(lalonde[["age", "educ", "race", "married", "nodegree", "re74", "re75"]],
                       drop_first=True).astype(float).to_numpy()
    t, w = W.treat, W.weights
    d = X[t == 1].T @ w[t == 1] / w[t == 1].sum() - X[t == 0].T @ w[t == 0] / w[t == 0].sum()
    assert np.max(np.abs(d) / X.std(axis=0)) < 1e-8


def test_missing_covariate_raises_with_column_name(lalonde):
    d = lalonde.copy()
    d.loc[d.index[:3], "re74"] = np.nan
    with pytest.raises(ValueError, match=r"'re74' \(3 missing\)"):
        weightit(LALONDE, d)


def test_missing_ind_adds_indicator_and_balance_row(lalonde):
    from carts_iptw.balance import bal_tab

    d = lalonde.copy()
    d.loc[d.index[::7], "re74"] = np.nan
    W = weightit(LALONDE, d, missing="ind")
    assert np.isfinite(W.weights).all()
    assert "re74_NA" in W.ps_model.coef.index
    b = bal_tab(W)
    assert "re74:<NA>" in b.balance.index
    assert np.isfinite(b.balance.loc["re74", "Diff.Adj"])


@pytest.mark.parametrize(("mutate", "pattern"), [
    (lambda d: d.assign(treat=d["treat"] * 2 + (d["age"] > 30)), "treat"),
    (lambda d: d.assign(treat=1), "treat"),
    (lambda d: d.assign(const=1.0), "const"),
])
def test_bad_treatment_or_covariate(lalonde, mutate, pattern):
    d = mutate(lalonde.copy())
    f = LALONDE + (" + const" if "const" in d.columns else "")
    with pytest.raises(ValueError, match=pattern):
        weightit(f, d)


def test_unknown_column_and_bad_weights(lalonde):
    with pytest.raises(ValueError, match="nosuch"):
        weightit("treat ~ age + nosuch", lalonde)
    with pytest.raises(ValueError, match="negative"):
        weightit(LALONDE, lalonde, s_weights=-np.ones(len(lalonde)))
    with pytest.raises(ValueError, match="all zero"):
        weightit(LALONDE, lalonde, s_weights=np.zeros(len(lalonde)))
    with pytest.raises(ValueError, match="method"):
        weightit(LALONDE, lalonde, method="gbm")
    with pytest.raises(ValueError, match="ebal"):
        weightit(LALONDE, lalonde, method="ebal", estimand="ATO")


def test_perfect_separation_is_an_error():
    rng = np.random.default_rng(1)
    x = rng.normal(size=60)
    d = pd.DataFrame({"t": (x > 0).astype(int), "x": x, "z": rng.normal(size=60)})
    with pytest.raises(ValueError, match="perfect separation"), pytest.warns(RuntimeWarning):
        weightit("t ~ x + z", d)


def test_nonconvergence_warns_with_iteration_count(lalonde):
    from carts_iptw.irls import GlmControl

    with pytest.warns(RuntimeWarning, match="did not converge in 1 iterations"):
        weightit(LALONDE, lalonde, control=GlmControl(maxit=1))


def test_focal_control_under_att_is_atc(lalonde):
    a = weightit(LALONDE, lalonde, estimand="ATT", focal=0)
    b = weightit(LALONDE, lalonde, estimand="ATC")
    assert a.estimand == "ATC" and a.focal == 0
    np.testing.assert_allclose(a.weights, b.weights)


def test_quantile_type3_matches_definition():
    x = np.arange(1.0, 11.0)  # 1..10
    # R: quantile(1:10, c(.1, .25, .5, .9, .95), type = 3) -> 1 2 5 9 10
    np.testing.assert_array_equal(quantile_type3(x, [0.1, 0.25, 0.5, 0.9, 0.95]), [1, 2, 5, 9, 10])


def test_trim_quantile_count_lower_and_focal():
    w = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 100])
    out = trim(w, at=0.9)
    assert out.max() == 9 and out.min() == 1
    out = trim(w, at=2)
    np.testing.assert_array_equal(out[-3:], [8, 8, 8])
    out = trim(w, at=0.9, lower=True)
    assert out.min() == 1 and out.max() == 9
    out = trim(w, at=1, lower=True)
    assert out.min() == 2 and out.max() == 9
    t = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    wf = np.where(t == 1, 1.0, w)
    out = trim(wf, at=1, treat=t)
    np.testing.assert_array_equal(out[t == 1], 1.0)
    assert out.max() == 9
    assert (trim(w, at=0.9, drop=True) == 0).sum() == 1
    with pytest.warns(UserWarning, match="all the same"):
        trim(np.ones(5), at=0.9)


def test_trim_weightit_object(lalonde):
    W = weightit(LALONDE, lalonde, estimand="ATT")
    T = trim(W, at=0.95)
    assert T.trim == (0.95, False)
    assert np.all(T.weights[W.treat == 1] == 1)
    assert T.weights.max() < W.weights.max()


def test_summary_quantities(lalonde):
    W = weightit(LALONDE, lalonde, estimand="ATE")
    s = W.summary()
    w1 = W.weights[W.treat == 1]
    assert s.effective_sample_size.loc["Weighted", "Treated"] == pytest.approx(w1.sum() ** 2 / (w1 ** 2).sum())
    assert s.coef_of_var["treated"] == pytest.approx(w1.std(ddof=1) / w1.mean())
    assert list(s.weight_top["treated"].to_numpy()) == sorted(np.sort(w1)[-5:])
    assert s.weight_range.loc["treated", "max"] == w1.max()
    assert "Effective Sample Sizes" in repr(s)
    assert "estimand: ATE" in repr(W)


def test_stabilize_is_ate_only_and_uses_sampling_weights(lalonde):
    with pytest.raises(ValueError, match="stabilize"):
        weightit(LALONDE, lalonde, estimand="ATT", stabilize=True)
    sw = 0.5 + (np.arange(len(lalonde)) % 5) / 4.0
    a = weightit(LALONDE, lalonde, s_weights=sw)
    b = weightit(LALONDE, lalonde, s_weights=sw, stabilize=True)
    t = a.treat
    p1 = (sw * t).sum() / sw.sum()
    np.testing.assert_allclose(b.weights, a.weights * np.where(t == 1, p1, 1 - p1))
    # WeightIt ignores stabilize for ebal and cbps (stabilize_ok = FALSE), with a warning
    from carts_iptw.families import CartsIptwWarning

    for m in ("ebal", "cbps"):
        with pytest.warns(CartsIptwWarning, match="stabilize"):
            e = weightit(LALONDE, lalonde, method=m, stabilize=True)
        assert not e.stabilize
        np.testing.assert_array_equal(e.weights, weightit(LALONDE, lalonde, method=m).weights)


def test_focal_with_ate_warns_and_uses_att_as_weightit():
    import warnings

    from carts_iptw import load_dataset, weightit
    from carts_iptw.families import CartsIptwWarning

    d = load_dataset("lalonde")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        w = weightit("treat ~ age + educ", d, focal=1)
    assert any(issubclass(r.category, CartsIptwWarning) and "focal" in str(r.message) for r in rec)
    assert w.estimand == "ATT"
