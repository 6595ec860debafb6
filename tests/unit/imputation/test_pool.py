"""pool(): Rubin's rules, mice's dfcom per model, and bad input (the numbers themselves are
checked against mice::pool live in the parity cases pool.*)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from carts_iptw.design.glm_weightit import glm_weightit
from carts_iptw.design.svydesign import svydesign
from carts_iptw.design.svyglm import svyglm
from carts_iptw.effects import avg_comparisons
from carts_iptw.imputation import pool, pool_scalar
from carts_iptw.imputation.pool import POOLED_COLUMNS, barnard_rubin
from carts_iptw.parity.cases.mi import _datasets, colon_mi
from carts_iptw.survival.coxph import coxph
from carts_iptw.weighting import weightit

PS = "trt ~ age + sex + obstruct + nodes + differ + extent"


@pytest.fixture(scope="module")
def sets():
    ds = _datasets(colon_mi())[:3]
    out = []
    for d in ds:
        W = weightit(PS, d)
        out.append((d.assign(w=W.weights), W))
    return out


def test_columns_are_mices(sets):
    p = pool([glm_weightit("status ~ trt", d, W) for d, W in sets])
    assert list(p.pooled.columns) == ["term", *POOLED_COLUMNS]
    t = p.tidy()
    assert list(t.columns[:8]) == ["term", "estimate", "std_error", "statistic", "df",
                                   "p_value", "conf_low", "conf_high"]
    assert "exp_estimate" in t.columns  # logit link: odds ratios
    assert "Pooled over m = 3" in str(p.summary())


def test_rubins_rules_against_the_per_fit_numbers(sets):
    fits = [glm_weightit("status ~ trt", d, W) for d, W in sets]
    p = pool(fits)
    est = np.array([f.coef["trt"] for f in fits])
    u = np.array([f.se["trt"] ** 2 for f in fits])
    row = p.pooled.set_index("term").loc["trt"]
    m = 3
    assert row["estimate"] == pytest.approx(est.mean(), rel=1e-12)
    assert row["ubar"] == pytest.approx(u.mean(), rel=1e-12)
    assert row["b"] == pytest.approx(est.var(ddof=1), rel=1e-12)
    assert row["t"] == pytest.approx(u.mean() + (1 + 1 / m) * est.var(ddof=1), rel=1e-12)
    ps = pool_scalar(est, u, n=row["dfcom"] + 1, k=1)
    assert row["df"] == pytest.approx(ps["df"], rel=1e-12)
    assert row["fmi"] == pytest.approx(ps["fmi"], rel=1e-12)


def test_dfcom_per_model(sets):
    d, W = sets[0]
    n = len(d)
    g = pool([glm_weightit("status ~ trt + age", d, W) for d, W in sets])
    assert g.pooled["dfcom"].iloc[0] == n - 3
    s = pool([svyglm("status ~ trt", svydesign(d, weights="w")) for d, _ in sets])
    assert s.pooled["dfcom"].iloc[0] == svyglm("status ~ trt", svydesign(d, weights="w")).df_residual
    c = pool([coxph("Surv(time, status) ~ trt", d, weights="w", robust=True) for d, _ in sets])
    assert c.pooled["dfcom"].iloc[0] == d["status"].sum() - 1
    assert c.ratio_scale == "hazard ratio"
    a = pool([avg_comparisons(glm_weightit("status ~ trt * age", d, W), "trt") for d, W in sets])
    assert math.isinf(a.pooled["dfcom"].iloc[0])
    assert list(a.pooled.columns[:2]) == ["term", "contrast"]
    given = pool([glm_weightit("status ~ trt", d, W) for d, W in sets], dfcom=0.2)
    assert given.pooled["dfcom"].iloc[0] == 1.0  # mice: max(dfcom, 1)


def test_identical_fits_floor_lambda_as_mice(sets):
    d, W = sets[0]
    f = glm_weightit("status ~ trt", d, W)
    p = pool([f, f, f])
    row = p.pooled.iloc[1]
    assert row["b"] == 0 and row["riv"] == 0 and row["lambda"] == 0
    # barnard.rubin floors lambda at 1e-4: dfold = (m - 1) / 1e-8
    dfcom = row["dfcom"]
    dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - 1e-4)
    assert row["df"] == pytest.approx(2e8 * dfobs / (2e8 + dfobs), rel=1e-12)
    assert barnard_rubin(3, [0.0], [1.0])[0] == pytest.approx(2e8)


def test_bad_input(sets):
    d, W = sets[0]
    f = glm_weightit("status ~ trt", d, W)
    with pytest.raises(ValueError, match="at least 2"):
        pool([f])
    with pytest.raises(TypeError, match="list"):
        pool(f)
    with pytest.raises(TypeError, match="one kind"):
        pool([f, svyglm("status ~ trt", svydesign(d, weights="w"))])
    with pytest.raises(ValueError, match="different terms"):
        pool([f, glm_weightit("status ~ trt + age", d, W)])
    with pytest.raises(TypeError, match="fitted results"):
        pool([1, 2])
    r = avg_comparisons(glm_weightit("status ~ trt", d, W), "trt", comparison="ratio")
    with pytest.raises(ValueError, match="ratio"):
        pool([r, r])
    with pytest.raises(TypeError, match="dfcom"):
        pool([f, f], dfcom="many")
    with pytest.raises(ValueError, match="at least 2"):
        pool_scalar([1.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        pool_scalar([1.0, np.nan], [1.0, 1.0])


def test_weightit_mi_and_balance_across(sets):
    from carts_iptw.imputation import bal_tab_mi, mice, weightit_mi, with_imputations

    d = _datasets(colon_mi())[0][["trt", "age", "nodes", "differ", "status"]].copy()
    d.loc[d.index % 9 == 0, "nodes"] = np.nan
    imp = mice(d, m=2, seed=3, maxit=2)
    W = weightit_mi("trt ~ age + nodes + differ", imp)
    fits = with_imputations(W, lambda x, w: glm_weightit("status ~ trt", x, w))
    assert len(fits) == 2 and pool(fits).m == 2
    b = bal_tab_mi(W)
    assert {"Min.Diff.Adj", "Mean.Diff.Adj", "Max.Diff.Adj"} <= set(b.balance_across.columns)
    assert (b.balance_across["Min.Diff.Adj"] <= b.balance_across["Max.Diff.Adj"]).all()
    assert "across all imputations" in str(b.summary())
    d2 = d.copy()
    d2.loc[0, "trt"] = np.nan
    with pytest.raises(ValueError, match="treatment column 'trt'"):
        weightit_mi("trt ~ age + nodes", mice(d2, m=2, seed=1, maxit=1))
    with pytest.raises(TypeError, match="mice"):
        weightit_mi("trt ~ age", d)
    with pytest.raises(TypeError):
        bal_tab_mi(imp)
