"""Unit tests for carts_iptw.balance (no R): statistics, cobalt layout, bad input, plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats as sps

from carts_iptw.balance import bal_tab, love_plot, overlap_plot
from carts_iptw.balance import statistics as st
from carts_iptw.balance.covariates import cobalt_matrix, variable_frame
from carts_iptw.datasets import load_dataset
from carts_iptw.weighting import weightit

LALONDE = "treat ~ age + educ + race + married + nodegree + re74 + re75"
EXTERNAL = Path(__file__).resolve().parents[2] / "parity" / "snapshots" / "external"


def test_weighted_variance_conventions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    assert st.col_w_var(x)[0] == pytest.approx(np.var(x, ddof=1))
    b = (rng.random(50) > 0.4).astype(float)
    assert st.col_w_var(b, bin_vars=[True])[0] == pytest.approx(b.mean() * (1 - b.mean()))
    w = rng.random(50) + 0.1
    wn = w / w.sum()
    m = wn @ x
    assert st.col_w_var(x, w)[0] == pytest.approx((wn * (x - m) ** 2).sum() / (1 - (wn ** 2).sum()))


def test_ks_matches_two_sample_ks_unweighted():
    rng = np.random.default_rng(2)
    x = np.round(rng.normal(size=80), 1)  # ties
    t = (rng.random(80) > 0.5).astype(float)
    ks = st.col_w_ks(x, t)[0]
    assert ks == pytest.approx(sps.ks_2samp(x[t == 1], x[t == 0]).statistic)


def test_smd_pooled_and_zero_difference():
    x = np.array([1.0, 2, 3, 4, 1, 2, 3, 4])
    t = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    assert st.col_w_smd(x, t)[0] == 0.0
    y = np.array([2.0, 3, 4, 5, 1, 2, 3, 4])
    sd = np.sqrt((np.var(y[:4], ddof=1) + np.var(y[4:], ddof=1)) / 2)
    assert st.col_w_smd(y, t)[0] == pytest.approx(1 / sd)


def test_cobalt_column_names_and_types():
    d = load_dataset("rotterdam").head(400)
    covs = variable_frame("chemo ~ age + meno + size + grade + factor(hormon)", d)
    cm = cobalt_matrix(covs)
    assert cm.names[:2] == ["age", "meno"]
    assert "size_<=20" in cm.names and "size_>50" in cm.names
    assert "grade_3" in cm.names  # two values, not 0/1: first level dropped
    assert "factor(hormon)" in cm.names  # 0/1 factor keeps its bare name
    assert dict(zip(cm.names, cm.types, strict=True))["age"] == "Contin."
    assert dict(zip(cm.names, cm.types, strict=True))["grade_3"] == "Binary"


def test_bal_tab_matches_real_cobalt_snapshot():
    """The committed real cobalt output (with provenance) reproduced from real WeightIt weights."""
    from types import SimpleNamespace

    from carts_iptw.balance.covariates import rhs_terms

    doc = json.loads((EXTERNAL / "weightit_lalonde_ATT.json").read_text())
    d = load_dataset("lalonde")
    obj = SimpleNamespace(weights=np.array(doc["weightit"]["weights"]),
                          ps=np.array(doc["weightit"]["ps"]), treat=d["treat"].to_numpy(float),
                          covs=variable_frame(LALONDE, d), terms=rhs_terms(LALONDE)[2],
                          s_weights=None, estimand="ATT")
    b = bal_tab(obj)
    B = doc["bal_tab"]["default"]["Balance"]
    ref = pd.DataFrame(B["columns"], index=B["rownames"])
    assert list(b.balance.index) == list(ref.index)
    assert list(b.balance["Type"]) == list(ref["Type"])
    for c in ("Diff.Un", "Diff.Adj", "V.Ratio.Adj", "KS.Adj"):
        np.testing.assert_allclose(b.balance[c].to_numpy(float), ref[c].astype(float).to_numpy(),
                                   rtol=1e-10)
    assert b.s_d_denom == "treated"


def test_bal_tab_formula_interface_and_thresholds():
    d = load_dataset("lalonde")
    b = bal_tab(LALONDE, data=d, thresholds={"m": 0.1})
    assert list(b.observations.index) == ["All"]
    assert "Diff.Adj" not in b.balance.columns
    assert set(b.balance["M.Threshold.Un"]) <= {"Balanced, <0.1", "Not Balanced, >0.1"}
    W = weightit(LALONDE, d, estimand="ATE")
    b2 = bal_tab(LALONDE, data=d, weights=W.weights, estimand="ATE", distance={"prop.score": W.ps})
    b3 = bal_tab(W)
    pd.testing.assert_frame_equal(b2.balance, b3.balance)
    assert b3.balance.loc["prop.score", "Type"] == "Distance"
    assert list(b3.observations.index) == ["Unadjusted", "Adjusted"]


def test_s_d_denom_defaults():
    d = load_dataset("lalonde")
    for est, sdd in (("ATE", "pooled"), ("ATT", "treated"), ("ATC", "control"),
                     ("ATO", "weighted"), ("ATM", "weighted")):
        assert bal_tab(weightit(LALONDE, d, estimand=est)).s_d_denom == sdd
    W = weightit(LALONDE, d, estimand="ATT")
    assert bal_tab(LALONDE, data=d, weights=W.weights).s_d_denom == "treated"


def test_bal_tab_bad_input():
    d = load_dataset("lalonde")
    with pytest.raises(ValueError, match="negative"):
        bal_tab(LALONDE, data=d, weights=-np.ones(len(d)))
    with pytest.raises(ValueError, match="all zero"):
        bal_tab(LALONDE, data=d, weights=np.zeros(len(d)))
    with pytest.raises(ValueError, match="treat"):
        bal_tab(LALONDE, data=d.assign(treat=0))
    with pytest.raises(ValueError, match="s_d_denom"):
        bal_tab(LALONDE, data=d, s_d_denom="bogus")
    with pytest.raises(TypeError):
        bal_tab(42)


def test_plots_return_figures():
    d = load_dataset("lalonde")
    W = weightit(LALONDE, d, estimand="ATT")
    b = bal_tab(W, binary="std")
    f = love_plot(b, threshold=0.1)
    assert isinstance(f, Figure)
    assert f.axes[0].get_xlabel() == "Absolute Standardized Mean Differences"
    assert isinstance(love_plot(b, stat="v", threshold=2), Figure)
    assert isinstance(overlap_plot(W), Figure)
    E = weightit(LALONDE, d, method="ebal", estimand="ATT")
    with pytest.raises(ValueError, match="propensity score"):
        overlap_plot(E)


def test_rhs_terms_parsing():
    from carts_iptw.balance.covariates import rhs_terms

    lhs, variables, terms = rhs_terms("treat ~ age + I(re74 - re75) + race - 1 + a*b")
    assert lhs == "treat"
    assert variables == ["age", "I(re74 - re75)", "race", "a", "b"]
    assert terms[-1] == ["a", "b"]
    assert rhs_terms("t ~ x + z - z")[1] == ["x"]
