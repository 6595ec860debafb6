"""The Python <-> R conversion is faithful: types, factor levels, NA, integer vs double."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _frame():
    return pd.DataFrame({
        "f": pd.Categorical(["b", "a", None, "c"], categories=["c", "b", "a"]),
        "o": pd.Categorical(["lo", "hi", "mid", "lo"], categories=["lo", "mid", "hi"], ordered=True),
        "lg": pd.array([True, None, False, True], dtype="boolean"),
        "b": [True, False, True, True],
        "i": pd.array([1, None, 3, 4], dtype="Int64"),
        "i64": np.array([1, 2, 3, 4], dtype=np.int64),
        "x": [0.1, np.nan, 1e-300, -2.5],
        "s": ["u", None, "w", "x"],
    }, index=["r1", "r2", "r3", "r4"])


def test_types_levels_and_na_reach_r(r_reference):
    d = r_reference("harness.R", "describe_columns", _frame(), {})
    assert d["f"]["class"] == "factor" and d["f"]["levels"] == ["c", "b", "a"]
    assert d["f"]["n_na"] == 1 and d["f"]["is_object"] == 1.0  # a real factor: model.matrix codes it
    assert d["o"]["class"] == "ordered" and d["o"]["levels"] == ["lo", "mid", "hi"]
    assert d["lg"]["typeof"] == "logical" and d["lg"]["n_na"] == 1
    assert d["b"]["typeof"] == "logical" and d["b"]["n_na"] == 0
    assert d["i"]["typeof"] == "integer" and d["i"]["n_na"] == 1
    assert d["i64"]["typeof"] == "integer"
    assert d["x"]["typeof"] == "double" and d["x"]["n_na"] == 1 and d["x"]["n_nan"] == 0
    assert d["s"]["typeof"] == "character" and d["s"]["n_na"] == 1
    assert d[".rownames"] == ["r1", "r2", "r3", "r4"]


def test_factor_is_coded_by_model_matrix(r_reference):
    d = r_reference("harness.R", "model_matrix_names", _frame().dropna(), {"formula": "~ f + s"})
    assert d == ["(Intercept)", "fb", "fa", "sx"]  # levels c < b < a kept, c the reference


def test_round_trip_values(r_reference):
    df = _frame()
    back = r_reference("harness.R", "echo_data", df, {})
    assert list(back.index) == list(df.index)
    assert list(back["f"].cat.categories) == ["c", "b", "a"]
    assert back["f"].isna().tolist() == [False, False, True, False]
    assert back["o"].cat.ordered and not back["f"].cat.ordered
    assert back["f"].astype(object).iloc[[0, 1, 3]].tolist() == ["b", "a", "c"]
    np.testing.assert_array_equal(back["x"].to_numpy(), df["x"].to_numpy())
    np.testing.assert_array_equal(back["i"].to_numpy(), [1.0, np.nan, 3.0, 4.0])
    np.testing.assert_array_equal(back["lg"].to_numpy(), [1.0, np.nan, 0.0, 1.0])


def test_args_and_results(r_reference):
    a = r_reference("harness.R", "echo_args", None,
                    {"eps": 1e-12, "n": 3, "flag": True, "names": ["a", "b"], "sub": {"k": 2.5}})
    assert a == {"eps": 1e-12, "n": 3.0, "flag": 1.0, "names": ["a", "b"], "sub": {"k": 2.5}}
    r = r_reference("harness.R", "named_values", None, {})
    assert list(r["vec"].index) == ["alpha", "beta"] and r["vec"]["alpha"] == 1.5
    assert np.isnan(r["vec"]["beta"])
    np.testing.assert_array_equal(r["int"], [1.0, np.nan])
    np.testing.assert_array_equal(r["lgl"], [1.0, np.nan, 0.0])
    assert r["chr"] == ["u", None] and r["fac"] == ["lo", "hi"]
    assert r["mat"].loc["b", "x"] == 2.0 and list(r["mat"].columns) == ["x", "y"]
    assert r["scalar"] == np.pi and r["nested"] == {"inner": 2.0}


def test_r_warnings_and_messages_are_captured(r_reference):
    """R's warnings reach Python with their text (and are not printed by R's own handler)."""
    from carts_iptw.parity import rbridge
    from carts_iptw.parity.cases.conditions import separated

    value, cond = rbridge.call_r_captured("conditions.R", "ref_glm_conditions", separated(),
                                          {"formula": "y ~ x"})
    assert value["converged"] == 0.0
    assert cond["warnings"] == ["glm.fit: algorithm did not converge",
                                "glm.fit: fitted probabilities numerically 0 or 1 occurred"]
    assert cond["messages"] == [] and cond["output"] == []
    _, cond = rbridge.call_r_captured("conditions.R", "ref_glm_conditions", separated(),
                                      {"formula": "y ~ x", "maxit": 100})
    assert "glm.fit: algorithm did not converge" not in cond["warnings"]


def test_capture_keeps_messages_and_printed_output(r_reference):
    from carts_iptw.parity import rbridge

    ro = rbridge._r()
    fn = ro.r('function(d, a) { message("note ", a$k); print("shown"); warning("w1"); list(x = 1) }')
    res = ro.globalenv.find(".carts_iptw_capture")(fn, ro.NULL, rbridge.to_r({"k": 2}))
    parts = dict(zip(rbridge._names(res), list(res), strict=True))
    assert rbridge._strings(parts["messages"]) == ["note 2"]
    assert rbridge._strings(parts["warnings"]) == ["w1"]
    assert rbridge._strings(parts["output"]) == ['[1] "shown"']
