"""The spec's R-expression evaluator: R's operators, precedence and NA rules, and bad input
that names the rule, the position or the column (never a data value)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carts_iptw.study.expr import columns_used, evaluate, evaluate_values, parse


@pytest.fixture()
def df():
    return pd.DataFrame({
        "x": [1.0, 2.0, np.nan, 4.0, 5.0],
        "g": pd.Categorical(["a", "b", None, "a", "c"], categories=["c", "b", "a"]),
        "s": ["u", None, "v", "w", "u"],
        "d": pd.to_datetime(["2019-01-01", "2017-06-30", None, "2020-05-05", "2018-01-01"]),
        "b": [1, 0, 1, 0, 1],
    })


def lgl(expr, df):
    v = evaluate_values(expr, df)
    return [None if pd.isna(x) else bool(x) for x in v]


def test_three_valued_logic(df):
    # R: NA & FALSE is FALSE, NA & TRUE is NA, NA | TRUE is TRUE, NA | FALSE is NA
    assert lgl("x > 1 & b == 0", df) == [False, True, False, True, False]
    assert lgl("x > 1 & b == 1", df) == [False, False, None, False, True]
    assert lgl("x > 1 | b == 1", df) == [True, True, True, True, True]
    assert lgl("x > 1 | b == 0", df) == [False, True, None, True, True]
    assert lgl("!(x > 1)", df) == [True, False, None, False, False]
    # subset(): an NA condition drops the row
    assert evaluate("x > 1 | b == 0", df).tolist() == [False, True, False, True, True]


def test_precedence_and_arithmetic(df):
    # ^ binds tighter than unary minus, which binds tighter than * and +; comparisons after
    assert evaluate_values("-2^2", df.iloc[:1]).tolist() == [-4.0]
    assert evaluate_values("(x + 1) * 2 - x %% 2", df).tolist()[:2] == [3.0, 6.0]
    assert evaluate_values("7 %/% 2", df.iloc[:1]).tolist() == [3.0]
    assert lgl("x * 2 >= 4 & !is.na(x)", df) == [False, True, False, True, True]
    assert evaluate_values("x / 0", df.iloc[:1]).tolist() == [np.inf]


def test_in_is_never_na(df):
    assert lgl('g %in% c("a", "b")', df) == [True, True, False, True, False]
    assert lgl('s %in% c("u", NA)', df) == [True, True, False, False, True]
    assert lgl("x %in% c(1, 4)", df) == [True, False, False, True, False]


def test_factor_labels_and_text(df):
    assert lgl('g == "a"', df) == [True, False, None, True, False]
    assert lgl('s != "u"', df) == [False, None, True, True, False]
    with pytest.raises(ValueError, match="factor"):
        evaluate('g < "b"', df)


def test_dates(df):
    exp = [True, False, None, True, False]
    assert lgl('d >= as.Date("2018-06-01")', df) == exp
    assert lgl('d >= "2018-06-01"', df) == exp  # R's Ops.Date converts the string
    with pytest.raises(ValueError, match="YYYY-MM-DD") as ei:
        evaluate('d >= as.Date("01/06/2018")', df)
    assert "01/06" not in str(ei.value)


def test_functions(df):
    assert evaluate_values("ifelse(b == 1, x, -x)", df).tolist()[:2] == [1.0, -2.0]
    assert np.isnan(evaluate_values("ifelse(b == 1, x, -x)", df).iloc[2])
    assert evaluate_values("pmax(x, 3)", df).tolist()[:2] == [3.0, 3.0]
    assert evaluate_values("as.integer(x > 1)", df).tolist()[:2] == [0.0, 1.0]
    assert evaluate_values("abs(1 - x)", df).tolist()[:2] == [0.0, 1.0]
    assert lgl("is.na(x)", df) == [False, False, True, False, False]


def test_columns_used():
    assert columns_used('a > 1 & b == "x" | c %in% c(1, 2)') == ["a", "b", "c"]
    assert columns_used("`odd name` >= 3 & is.na(y)") == ["odd name", "y"]
    assert parse("TRUE").columns == []


@pytest.mark.parametrize("text, pos, what", [
    ("x >= ", 6, "end of the expression"),
    ("x > 1 and b == 2", 7, "'and'"),
    ("x in c(1, 2)", 3, "'in'"),
    ("(x > 1", 7, "expected ')'"),
    ("x >= 1 ;", 8, "unexpected character"),
])
def test_syntax_error_names_rule_and_position(text, pos, what):
    with pytest.raises(ValueError) as ei:
        parse(text, "eligibility rule 'adults'")
    msg = str(ei.value)
    assert "eligibility rule 'adults'" in msg and f"character {pos}" in msg and what in msg


def test_unknown_function_and_column(df):
    with pytest.raises(ValueError, match="unknown function 'system'"):
        parse('system("ls")')
    with pytest.raises(ValueError, match="c\\(...\\)"):
        parse("x == c(1, 2)")
    with pytest.raises(ValueError, match="rule 'r1'.*'nosuch'"):
        evaluate("nosuch > 1", df, "rule 'r1'")


def test_messages_never_echo_values(df):
    d = df.assign(s=["SECRET1", "SECRET2", None, "SECRET3", "SECRET4"])
    for bad in ("s > 1 & s * 2", "as.Date(s) > 1", "!s"):
        with pytest.raises(ValueError) as ei:
            evaluate(bad, d)
        assert "SECRET" not in str(ei.value)


def test_agrees_with_r_subset_semantics_on_a_cohort():
    """The same rules R applies in the generated reproduce.R (parity cases study.worked.*)
    select the same rows; here a direct check of the vectorised result against pandas."""
    rng = np.random.default_rng(3)
    n = 500
    d = pd.DataFrame({"age": np.where(rng.random(n) < 0.1, np.nan, rng.integers(18, 90, n)),
                      "sex": rng.choice(["f", "m"], n)})
    m = evaluate('age >= 65 | sex == "f"', d)
    exp = ((d["age"] >= 65) & d["age"].notna()) | (d["sex"] == "f")
    assert (m == exp.to_numpy()).all()
