"""Unit tests (no R) of finegray() and survfit(factor status, id=): structure and identities.
Their numbers are checked against survival::finegray / survfit in the parity cases
(parity/cases/competing.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carts_iptw.survival import coxph, finegray, finegray_coxph, survfit


def _cr(n=150, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    z = rng.normal(size=n)
    t = np.ceil(rng.exponential(np.exp(-(0.4 * x + 0.2 * z))) * 10) / 10
    code = rng.choice([0, 1, 2], size=n, p=[0.3, 0.45, 0.25])
    d = pd.DataFrame({"pid": np.arange(100, 100 + n), "time": t, "x": x, "z": z,
                      "w": rng.uniform(0.4, 2.5, n), "g": rng.integers(0, 2, n)})
    d["st"] = pd.Categorical.from_codes(code, categories=["censor", "relapse", "death"])
    d.index = [f"r{i}" for i in range(n)]  # non-default labels: the index must follow rows
    return d


def test_finegray_columns_and_source_rows():
    d = _cr()
    fg = finegray("Surv(time, st) ~ pid + x", d, etype="relapse")
    assert list(fg.columns) == ["pid", "x", "fgstart", "fgstop", "fgstatus", "fgwt"]
    # the index is the source row label, and the covariates are that row's
    np.testing.assert_array_equal(fg["pid"].to_numpy(), d.loc[fg.index, "pid"].to_numpy())
    # every subject appears; only competing-event subjects get extra rows
    counts = fg.index.value_counts()
    assert set(counts.index) == set(d.index)
    comp = d.index[d["st"] == "death"]
    assert (counts.drop(comp) == 1).all()
    # events of interest keep (zero, T] with weight 1 and status 1
    ev = fg[fg["fgstatus"] == 1]
    assert set(ev.index) == set(d.index[d["st"] == "relapse"])
    np.testing.assert_array_equal(ev["fgwt"].to_numpy(), 1.0)
    np.testing.assert_array_equal(ev["fgstop"].to_numpy(), d.loc[ev.index, "time"].to_numpy())
    # weights of a competing subject's later rows fall (G is a survival curve)
    for lab in comp[:10]:
        w = fg.loc[[lab], "fgwt"].to_numpy()
        assert w[0] == 1.0 and np.all(np.diff(w) <= 1e-15) and np.all(w > 0)


def test_finegray_default_etype_is_first_state_and_dot_takes_other_columns():
    d = _cr(seed=1)
    a = finegray("Surv(time, st) ~ .", d)
    b = finegray("Surv(time, st) ~ pid + x + z + w + g", d, etype="relapse")
    pd.testing.assert_frame_equal(a, b)


def test_finegray_case_weights_multiply_fgwt_only():
    d = _cr(seed=2)
    a = finegray("Surv(time, st) ~ pid", d, etype="death")
    b = finegray("Surv(time, st) ~ pid", d, etype="death", weights="w")
    np.testing.assert_array_equal(a[["fgstart", "fgstop", "fgstatus"]], b[["fgstart", "fgstop", "fgstatus"]])
    np.testing.assert_allclose(b["fgwt"], a["fgwt"] * d.loc[a.index, "w"].to_numpy(), rtol=1e-15)


def test_finegray_strata_equals_separate_strata():
    d = _cr(seed=3)
    fg = finegray("Surv(time, st) ~ pid + strata(g)", d, etype="relapse", weights="w")
    assert "g" not in fg.columns
    parts = [finegray("Surv(time, st) ~ pid", d[d["g"] == k], etype="relapse", weights="w")
             for k in (0, 1)]
    pd.testing.assert_frame_equal(fg, pd.concat(parts))


def test_finegray_data_refits_finegray_coxph():
    d = _cr(seed=4)
    fg = finegray("Surv(time, st) ~ x + z", d, etype="relapse", weights="w")
    a = coxph("Surv(fgstart, fgstop, fgstatus) ~ x + z", fg, weights="fgwt")
    b = finegray_coxph("Surv(time, st) ~ x + z", d, etype="relapse", weights="w")
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10)


def test_survfit_factor_status_with_id_equals_without():
    d = _cr(seed=5)
    a = survfit("Surv(time, st) ~ x", d, weights="w").table
    b = survfit("Surv(time, st) ~ x", d, weights="w", id="pid").table
    pd.testing.assert_frame_equal(a, b)
    # R's counts: unweighted n.event per state (0 for the initial state), n.censor
    s0 = a[a["state"] == "(s0)"]
    assert (s0["n_event"] == 0).all()
    tot = sum(a.loc[a["state"] == s, "n_event"].sum() for s in ("relapse", "death"))
    assert tot == int((d["st"] != "censor").sum())
    assert s0["n_censor"].sum() == int((d["st"] == "censor").sum())


def test_survfit_factor_status_id_must_be_unique():
    d = _cr(seed=6)
    d["pid"] = d["pid"] // 2
    with pytest.raises(ValueError, match="pid"):
        survfit("Surv(time, st) ~ 1", d, id="pid")
