"""Inputs that once gave a silently wrong answer now raise or give R's answer (issue 10).

* a text event column in ``Surv(time, status)``: R's ``Surv()`` errors ("Invalid status value,
  must be logical or numeric"); only a factor (pandas Categorical, ``factor(x)``) is the
  multi-state form;
* backticked columns named ``TRUE`` / ``FALSE`` are columns (R), not the constants;
* backticked names with ``-``, ``+``, ``:``, ``*`` mean the same column in every function that
  reads a formula (``weightit`` and ``bal_tab`` read it with the same parser as ``model_frame``).

Each "is a column" check compares the fit with the same fit on the column renamed to a plain
name: the answers must be identical (names aside).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import carts_iptw as ci


def _data(n=80, seed=3, text_dtype=None):
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({
        "t": rng.integers(0, 2, n),
        "y": rng.integers(0, 2, n),
        "a": rng.normal(size=n),
        "b": rng.normal(size=n),
        "g": rng.choice(["u", "v", "w"], n),
        "time": rng.exponential(size=n).round(3) + 0.01,
        "event": rng.integers(0, 2, n),
        "w": rng.uniform(0.5, 2.0, n),
    })
    d["status"] = np.where(d["event"] == 1, "died", "survived")
    if text_dtype is not None:
        d["status"] = d["status"].astype(text_dtype)
        d["g"] = d["g"].astype(text_dtype)
    return d


# ---------------------------------------------------------------------------- text status

TEXT_DTYPES = [object, "str"] if hasattr(pd, "StringDtype") else [object]


@pytest.mark.parametrize("dtype", TEXT_DTYPES)
@pytest.mark.parametrize("fn", [
    lambda d: ci.survfit("Surv(time, status) ~ t", d),
    lambda d: ci.survfit("Surv(time, status) ~ 1", d),
    lambda d: ci.coxph("Surv(time, status) ~ a", d),
    lambda d: ci.survdiff("Surv(time, status) ~ t", d),
    lambda d: ci.svykm("Surv(time, status) ~ t", ci.svydesign(d, weights="w")),
    lambda d: ci.svycoxph("Surv(time, status) ~ a", ci.svydesign(d, weights="w")),
    lambda d: ci.svylogrank("Surv(time, status) ~ t", ci.svydesign(d, weights="w")),
    lambda d: ci.model_frame("Surv(time, status) ~ a", d),
], ids=["survfit", "survfit1", "coxph", "survdiff", "svykm", "svycoxph", "svylogrank",
        "model_frame"])
def test_text_status_raises_as_r(fn, dtype):
    d = _data(text_dtype=dtype)
    with pytest.raises(ValueError, match="status variable 'status'.*logical or numeric") as e:
        fn(d)
    assert "died" not in str(e.value) and "survived" not in str(e.value)


def test_start_stop_text_status_raises():
    d = _data()
    d["start"] = 0.0
    with pytest.raises(ValueError, match="status variable 'status'"):
        ci.survfit("Surv(start, time, status) ~ t", d)


def test_factor_status_is_still_multistate():
    d = _data()
    d["status"] = pd.Categorical(d["status"], categories=["survived", "died"])
    fit = ci.survfit("Surv(time, status) ~ t", d)
    assert list(fit.states)[-1] == "died"
    d2 = _data()
    fit2 = ci.survfit("Surv(time, factor(status)) ~ t", d2)  # R's factor(): C-locale order
    assert "survived" in list(fit2.states)


# ---------------------------------------------------------------------------- `TRUE` / `FALSE`

def _true_false(d):
    d = d.copy()
    d["TRUE"] = np.exp(d["a"] / 2)
    d["FALSE"] = d["b"] ** 2
    return d


def test_model_frame_backticked_true_false_are_columns():
    d = _true_false(_data())
    mf = ci.model_frame("y ~ a + `TRUE` + `FALSE`", d)
    assert mf.column_names == ["(Intercept)", "a", "`TRUE`", "`FALSE`"]  # R's names
    assert mf.intercept
    np.testing.assert_array_equal(mf.X[:, 2], d["TRUE"].to_numpy())
    np.testing.assert_array_equal(mf.X[:, 3], d["FALSE"].to_numpy())
    # the bare constants keep their meaning: + FALSE is "+ 0", no intercept
    assert not ci.model_frame("y ~ a + FALSE", d).intercept
    assert ci.model_frame("y ~ a + `FALSE`", d).intercept
    assert ci.model_frame("y ~ I(a > 0) == TRUE", d).column_names[-1] == "I(a > 0) == TRUETRUE"


def _renamed(d, mapping):
    return d.rename(columns=mapping)


@pytest.mark.parametrize("name", ["TRUE", "FALSE"])
def test_true_false_columns_in_models(name):
    d = _true_false(_data())
    plain = _renamed(d, {name: "z"})
    f1, f0 = f"y ~ a + `{name}`", "y ~ a + z"
    g1, g0 = ci.svyglm(f1, ci.svydesign(d, weights="w")), ci.svyglm(f0, ci.svydesign(plain, weights="w"))
    np.testing.assert_array_equal(g1.coef.to_numpy(), g0.coef.to_numpy())
    assert list(g1.coef.index) == ["(Intercept)", "a", f"`{name}`"]
    r1 = ci.glm_robust(f1, d, weights="w")
    r0 = ci.glm_robust(f0, plain, weights="w")
    np.testing.assert_array_equal(r1.se.to_numpy(), r0.se.to_numpy())
    c1 = ci.coxph(f"Surv(time, event) ~ a + `{name}`", d)
    c0 = ci.coxph("Surv(time, event) ~ a + z", plain)
    np.testing.assert_array_equal(np.asarray(c1.coef), np.asarray(c0.coef))
    w1 = ci.weightit(f"t ~ a + `{name}`", d)
    w0 = ci.weightit("t ~ a + z", plain)
    np.testing.assert_array_equal(w1.weights, w0.weights)
    assert list(w1.covs.columns) == ["a", name]


# ---------------------------------------------------------------------------- odd names

ODD = ["x-1", "b+c", "d:e", "f*g", "h i", "TRUE"]


def _odd(d):
    d = d.copy()
    d["x-1"] = d["a"] ** 2
    d["b+c"] = d["b"]
    d["d:e"] = d["g"]
    d["f*g"] = (d["a"] > 0).astype(int)
    d["h i"] = np.sin(3 * d["a"]) + d["b"] ** 3
    d["TRUE"] = np.exp(d["b"] / 2)
    return d


_PLAIN = {n: f"v{i}" for i, n in enumerate(ODD)}


def _bt(n):
    return f"`{n}`"


def test_weightit_and_bal_tab_read_backticked_names_as_model_frame():
    d = _odd(_data())
    plain = _renamed(d, _PLAIN)
    rhs_odd = " + ".join(["a"] + [_bt(n) for n in ODD] + [f"{_bt('b+c')}:{_bt('x-1')}"])
    rhs_plain = " + ".join(["a"] + [_PLAIN[n] for n in ODD] + [f"{_PLAIN['b+c']}:{_PLAIN['x-1']}"])
    for method in ("glm", "ebal", "cbps"):
        W1 = ci.weightit(f"t ~ {rhs_odd}", d, method=method)
        W0 = ci.weightit(f"t ~ {rhs_plain}", plain, method=method)
        np.testing.assert_array_equal(W1.weights, W0.weights)
        assert list(W1.covs.columns) == ["a"] + ODD  # cobalt's bare column names
    B1, B0 = ci.bal_tab(W1), ci.bal_tab(W0)
    np.testing.assert_array_equal(B1.balance["Diff.Adj"].to_numpy(), B0.balance["Diff.Adj"].to_numpy())
    assert "d:e_v" in B1.balance.index and "h i" in B1.balance.index
    F1 = ci.bal_tab(f"t ~ {rhs_odd}", d, weights="w")
    F0 = ci.bal_tab(f"t ~ {rhs_plain}", plain, weights="w")
    np.testing.assert_array_equal(F1.balance["Diff.Adj"].to_numpy(), F0.balance["Diff.Adj"].to_numpy())
    # the odd names are the ones svyglm and coxph read
    g1 = ci.svyglm(f"y ~ {rhs_odd}", ci.svydesign(d, weights="w"))
    g0 = ci.svyglm(f"y ~ {rhs_plain}", ci.svydesign(plain, weights="w"))
    np.testing.assert_array_equal(g1.coef.to_numpy(), g0.coef.to_numpy())


def test_weightit_missing_ind_with_an_odd_name():
    d = _odd(_data())
    d.loc[d.index[:5], "x-1"] = np.nan
    W = ci.weightit("t ~ a + `x-1`", d, missing="ind")
    assert "`x-1_NA`" in list(W.ps_model.coef.index)


def test_balance_formula_terms_follow_r():
    from carts_iptw.balance.covariates import rhs_terms

    lhs, variables, terms = rhs_terms("`f*g` ~ a*`b+c` + I(a^2) - 1 + offset(b) + `x-1` - `x-1`")
    assert lhs == "f*g"
    assert variables == ["a", "b+c", "I(a^2)"]
    assert terms == [["a"], ["b+c"], ["I(a^2)"], ["a", "b+c"]]  # R orders terms by degree


def test_bal_tab_expression_with_missing_inputs_is_missing():
    """``I(a > 0)`` with a missing ``a`` is NA (R), not FALSE: cobalt's ``<NA>`` row."""
    d = _data()
    d.loc[d.index[:4], "a"] = np.nan
    b = ci.bal_tab("t ~ I(a > 0) + b", d)
    assert "I(a > 0):<NA>" in b.balance.index


# ---------------------------------------------------------------------------- svychisq codes

def test_svychisq_many_levels_is_not_overflowed():
    """Cell codes are int64: with pandas' int8 codes ``ia + nr * ib`` wrapped around past 127
    (an error, or for larger tables a silently wrong cell). The same table with levels
    relabelled and rows permuted gives the same statistic."""
    rng = np.random.default_rng(0)
    n = 1400
    d = pd.DataFrame({"t": rng.integers(0, 2, n), "m": [f"X{i % 70:03d}" for i in range(n)],
                      "w": rng.uniform(0.5, 3, n)})
    r = ci.svychisq("~t + m", ci.svydesign(d, weights="w"))
    assert np.isfinite(r.statistic) and r.parameter["ndf"] > 50
    p = rng.permutation(n)
    d2 = d.iloc[p].reset_index(drop=True)
    d2["m"] = d2["m"].str.replace("X", "Y") + "z"
    r2 = ci.svychisq("~t + m", ci.svydesign(d2, weights="w"))
    np.testing.assert_allclose(r2.statistic, r.statistic, rtol=1e-10)
    np.testing.assert_allclose(r2.p_value, r.p_value, rtol=1e-8)


def test_svychisq_singular_design_effect_raises_as_r():
    """3 x 90 cells for 300 rows: R's solve() stops ("computationally singular"); the answer
    would be rounding noise (it changed with the row order)."""
    rng = np.random.default_rng(0)
    d = pd.DataFrame({"t": rng.integers(0, 3, 300), "m": [f"X{i % 90:03d}" for i in range(300)],
                      "w": rng.uniform(0.5, 3, 300)})
    with pytest.raises(ValueError, match="computationally singular") as e:
        ci.svychisq("~t + m", ci.svydesign(d, weights="w"))
    assert "X0" not in str(e.value)


def test_svychisq_unused_level_no_future_warning():
    import warnings

    rng = np.random.default_rng(1)
    d = pd.DataFrame({"t": rng.integers(0, 2, 60),
                      "g": pd.Categorical(rng.choice(["a", "b"], 60), categories=["a", "c", "b"])})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = ci.svychisq("~t + g", ci.svydesign(d, weights=np.ones(60)))
    d2 = d.assign(g=d["g"].astype(str))
    r2 = ci.svychisq("~t + g", ci.svydesign(d2, weights=np.ones(60)))
    assert r.statistic == r2.statistic


def test_design_tests_read_backticked_names():
    d = _odd(_data())
    plain = _renamed(d, _PLAIN)
    r1 = ci.svychisq("~`f*g` + `d:e`", ci.svydesign(d, weights="w"))
    r0 = ci.svychisq(f"~{_PLAIN['f*g']} + {_PLAIN['d:e']}", ci.svydesign(plain, weights="w"))
    assert r1.statistic == r0.statistic
    t1 = ci.svyttest("`b+c` ~ `f*g`", ci.svydesign(d, weights="w"))
    t0 = ci.svyttest(f"{_PLAIN['b+c']} ~ {_PLAIN['f*g']}", ci.svydesign(plain, weights="w"))
    assert t1.statistic == t0.statistic
    assert ci.wilcox_test("`b+c` ~ `f*g`", data=d).statistic == ci.wilcox_test(
        f"{_PLAIN['b+c']} ~ {_PLAIN['f*g']}", data=plain).statistic


# ---------------------------------------------------------------------------- message-safe names

def test_model_frame_describe_hides_levels():
    d = _data()
    d["mrn"] = [f"P{i:04d}" for i in range(len(d))]
    mf = ci.model_frame("y ~ a + g + I(a > 0) + mrn + a:g", d)
    assert mf.describe(["a", "gv", "I(a > 0)TRUE"]) == "a, g (factor: column 1 of 2), I(a > 0)TRUE"
    text = mf.describe(["gw", "a:gv", "mrnP0003", "mrnP0004"])
    assert "P000" not in text and "gw" not in text
    assert "mrn (factor: 2 of its 79 columns)" in text
    assert "column 'mrn' has 80 levels for 80 rows (an identifier?)" in text
    assert "a:g (factor: column 1 of 2)" in text
