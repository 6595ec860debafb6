"""model_frame: R's names and coding conventions, specials, and bad input (no R needed)."""

import numpy as np
import pandas as pd
import pytest

from carts_iptw.formula import FormulaSyntaxError, model_frame
from carts_iptw.formula.parser import deparse, parse_expression, r_format_number


@pytest.fixture
def df():
    rng = np.random.default_rng(1)
    n = 40
    return pd.DataFrame({
        "y": rng.integers(0, 2, n),
        "age": rng.normal(50, 10, n),
        "race": pd.Categorical(rng.choice(["white", "black", "other"], n),
                               categories=["white", "black", "other"]),
        "site": rng.choice(["b", "a", "c"], n),
        "smoker": rng.random(n) < 0.5,
        "dose": rng.integers(1, 4, n),
        "t": rng.uniform(1, 10, n),
        "status": rng.integers(1, 3, n),
    })


def test_contract_fields(df):
    mf = model_frame("y ~ age + race + I(age^2)", df)
    assert mf.column_names == ["(Intercept)", "age", "raceblack", "raceother", "I(age^2)"]
    assert mf.term_labels == ["age", "race", "I(age^2)"]
    assert mf.assign == [0, 1, 2, 2, 3]
    assert mf.X.shape == (40, 5) and mf.X.dtype == np.float64
    np.testing.assert_array_equal(mf.X[:, 4], df["age"].to_numpy() ** 2)
    np.testing.assert_array_equal(mf.y, df["y"].to_numpy(dtype=float))
    assert mf.variables == ["y", "age", "race"]
    assert mf.offset is None and mf.specials == {} and mf.surv is None


def test_level_order_categorical_strings_numbers_logicals(df):
    mf = model_frame("y ~ race + site + factor(dose) + smoker", df)
    # Categorical keeps its order; strings sort; numbers sort numerically; logical -> xTRUE
    assert mf.column_names == ["(Intercept)", "raceblack", "raceother", "siteb", "sitec",
                               "factor(dose)2", "factor(dose)3", "smokerTRUE"]
    assert mf.xlevels["site"] == ["a", "b", "c"]


def test_factor_levels_argument(df):
    mf = model_frame('y ~ factor(site, levels = c("c", "a", "b"))', df)
    assert mf.column_names[1:] == ['factor(site, levels = c("c", "a", "b"))a',
                                   'factor(site, levels = c("c", "a", "b"))b']


def test_interaction_coding_rule(df):
    # marginal present -> contrasts; absent -> indicator coding of the factor
    assert model_frame("y ~ age + age:race", df).column_names == [
        "(Intercept)", "age", "age:raceblack", "age:raceother"]
    assert model_frame("y ~ age:race", df).column_names == [
        "(Intercept)", "age:racewhite", "age:raceblack", "age:raceother"]
    assert model_frame("y ~ 0 + race + age", df).column_names == [
        "racewhite", "raceblack", "raceother", "age"]
    assert model_frame("y ~ race:smoker - 1", df).column_names == [
        "racewhite:smokerFALSE", "raceblack:smokerFALSE", "raceother:smokerFALSE",
        "racewhite:smokerTRUE", "raceblack:smokerTRUE", "raceother:smokerTRUE"]


def test_term_order_and_removal(df):
    mf = model_frame("y ~ (age + race + smoker)^2 - age:smoker", df)
    assert mf.term_labels == ["age", "race", "smoker", "age:race", "race:smoker"]
    mf = model_frame("y ~ smoker:age + age", df)
    assert mf.term_labels == ["age", "smoker:age"]  # variable order = first appearance
    assert model_frame("y ~ race/age", df).term_labels == ["race", "race:age"]
    assert model_frame("y ~ age + age", df).term_labels == ["age"]


def test_intercept_forms(df):
    for f in ("y ~ age - 1", "y ~ 0 + age", "y ~ age + 0", "y ~ -1 + age"):
        mf = model_frame(f, df)
        assert not mf.intercept and mf.column_names == ["age"], f
    mf = model_frame("y ~ 1", df)
    assert mf.column_names == ["(Intercept)"] and mf.term_labels == []


def test_I_power_comparisons_and_logicals(df):
    mf = model_frame("y ~ I(age >= 50) + I(age/10 - 2) + I(-age) + I(site == \"a\")", df)
    assert mf.column_names == ["(Intercept)", "I(age >= 50)TRUE", "I(age/10 - 2)", "I(-age)",
                               'I(site == "a")TRUE']
    np.testing.assert_array_equal(mf.X[:, 1], (df["age"] >= 50).astype(float))
    np.testing.assert_allclose(mf.X[:, 2], df["age"] / 10 - 2)
    # ^ is a power inside I(), never XOR
    mf = model_frame("y ~ I(dose^2)", df)
    np.testing.assert_array_equal(mf.X[:, 1], df["dose"].to_numpy() ** 2.0)


def test_offset_summed_and_not_a_column(df):
    mf = model_frame("y ~ age + offset(log(t)) + offset(dose)", df)
    assert mf.column_names == ["(Intercept)", "age"]
    np.testing.assert_allclose(mf.offset, np.log(df["t"]) + df["dose"])


def test_factor_response(df):
    d = df.assign(grp=np.where(df["y"] == 1, "yes", "no"))
    mf = model_frame("grp ~ age", d)
    assert mf.y_levels == ["no", "yes"]
    np.testing.assert_array_equal(mf.y, df["y"].to_numpy(dtype=float))


def test_surv_status_codings(df):
    mf = model_frame("Surv(t, status) ~ age", df)  # 1/2 coding
    np.testing.assert_array_equal(mf.surv.event, df["status"].to_numpy() - 1)
    assert mf.surv.type == "right" and mf.column_names == ["(Intercept)", "age"]
    mf = model_frame("Surv(t, smoker) ~ 1", df)
    np.testing.assert_array_equal(mf.surv.event, df["smoker"].astype(int).to_numpy())


def test_surv_multistate_keeps_levels(df):
    d = df.assign(ev=pd.Categorical(np.where(df["status"] == 1, "cens", "death"),
                                    categories=["cens", "relapse", "death"]))
    s = model_frame("Surv(t, ev) ~ age", d).surv
    assert s.type == "mright" and s.states == ["relapse", "death"]


def test_strata_labels(df):
    st = model_frame("Surv(t, status) ~ age + strata(dose)", df).specials["strata"]
    assert list(st.categories) == ["dose=1", "dose=2", "dose=3"]
    st = model_frame("Surv(t, status) ~ strata(site)", df).specials["strata"]
    assert list(st.categories) == ["a", "b", "c"]  # character -> short labels, as survival
    st = model_frame("Surv(t, status) ~ strata(dose, smoker)", df).specials["strata"]
    assert st.categories[0] == "dose=1, smoker=FALSE"
    cl = model_frame("Surv(t, status) ~ age + cluster(dose)", df).specials["cluster"]
    np.testing.assert_array_equal(cl, df["dose"].to_numpy())


def test_counting_surv(df):
    d = df.assign(start=0.0)
    s = model_frame("Surv(start, t, status) ~ age", d).surv
    assert s.type == "counting"
    np.testing.assert_array_equal(s.start, 0.0)


# ------------------------------------------------------------------------------- bad input
def test_missing_values_named_with_count(df):
    d = df.copy()
    d["age"] = d["age"].astype(float)
    d.loc[[3, 7, 9], "age"] = np.nan
    with pytest.raises(ValueError, match=r"column 'age' has 3 missing value\(s\)"):
        model_frame("y ~ age + race", d)
    d2 = df.copy()
    d2["race"] = d2["race"].cat.add_categories([]).astype(object)
    d2.loc[0, "race"] = None
    with pytest.raises(ValueError, match="'race' has 1 missing"):
        model_frame("y ~ race", d2)


def test_error_does_not_leak_values(df):
    d = df.copy()
    d.loc[0, "age"] = np.nan
    with pytest.raises(ValueError) as e:
        model_frame("y ~ age", d)
    assert str(round(df["age"].iloc[1], 3)) not in str(e.value)


def test_unknown_column(df):
    with pytest.raises(ValueError, match="unknown column 'weight'"):
        model_frame("y ~ age + weight", df)
    with pytest.raises(ValueError, match="unknown column 'outcome'"):
        model_frame("outcome ~ age", df)


def test_constant_and_single_level(df):
    with pytest.raises(ValueError, match="'one' is constant"):
        model_frame("y ~ age + one", df.assign(one=1.0))
    with pytest.raises(ValueError, match="'g' has a single level"):
        model_frame("y ~ g", df.assign(g="only"))
    with pytest.raises(ValueError, match="single level"):
        model_frame("y ~ factor(k)", df.assign(k=3))


def test_non_finite_transformation(df):
    d = df.copy()
    d.loc[[0, 1], "t"] = 0.0
    with pytest.raises(ValueError, match=r"'log\(t\)' has 2 non-finite"):
        model_frame("y ~ log(t)", d)


def test_surv_bad_input(df):
    with pytest.raises(ValueError, match="status variable 'dose' has .* invalid"):
        model_frame("Surv(t, dose) ~ 1", df.assign(dose=df["dose"] + 5))
    with pytest.raises(ValueError, match="'t' has 1 negative"):
        d = df.copy()
        d.loc[0, "t"] = -1.0
        model_frame("Surv(t, status) ~ 1", d)
    with pytest.raises(ValueError, match="must be > start"):
        model_frame("Surv(t, t, status) ~ 1", df)


@pytest.mark.parametrize("bad", ["y ~ ", "y ~ age +", "y ~ (age", "y age", "y ~ age ~ race",
                                 "y ~ age %in% race", "y ~ (age+race)^0.5"])
def test_syntax_errors(df, bad):
    with pytest.raises(ValueError):
        model_frame(bad, df)
    if bad == "y age":
        with pytest.raises(FormulaSyntaxError):
            model_frame(bad, df)


def test_unsupported_function_and_types(df):
    with pytest.raises(ValueError, match="'s\\(\\)' is not supported"):
        model_frame("y ~ s(age)", df)
    with pytest.raises(TypeError):
        model_frame("y ~ age", df.to_numpy())
    with pytest.raises(TypeError):
        model_frame(None, df)


# ------------------------------------------------------------------------------- deparse
@pytest.mark.parametrize(("text", "expected"), [
    ("I(age ^ 2)", "I(age^2)"), ("I(a>=65)", "I(a >= 65)"), ("log( x+1 )", "log(x + 1)"),
    ("I(a/b*c)", "I(a/b * c)"), ("I(-x)", "I(-x)"), ("I((a+b)^2)", "I((a + b)^2)"),
    ("I(x == 'a')", 'I(x == "a")'), ("`my var`", "`my var`"), ("I(x > 1e5)", "I(x > 1e+05)"),
    ("I(x*2.50)", "I(x * 2.5)"), ("I(!a & b)", "I(!a & b)"),
])
def test_deparse_like_R(text, expected):
    assert deparse(parse_expression(text)) == expected


@pytest.mark.parametrize(("x", "s"), [(1.0, "1"), (0.1, "0.1"), (100000.0, "1e+05"),
                                      (123456.0, "123456"), (1 / 3, "0.333333333333333"),
                                      (-2.5, "-2.5"), (1e-20, "1e-20"), (10000.0, "10000")])
def test_r_format_number(x, s):
    assert r_format_number(x) == s


def test_more_functions(df):
    mf = model_frame('y ~ I(site %in% c("a", "c")) + pmax(age, 45) + scale(age) + '
                     'relevel(race, ref = "other")', df)
    assert mf.column_names == ["(Intercept)", 'I(site %in% c("a", "c"))TRUE', "pmax(age, 45)",
                               "scale(age)", 'relevel(race, ref = "other")white',
                               'relevel(race, ref = "other")black']
    np.testing.assert_array_equal(mf.X[:, 1], df["site"].isin(["a", "c"]).astype(float))
    z = mf.X[:, 3]
    assert abs(z.mean()) < 1e-12 and abs(z.std(ddof=1) - 1) < 1e-12
    with pytest.raises(ValueError, match="only for .*factors"):
        model_frame('y ~ relevel(site, ref = "a")', df)
    with pytest.raises(ValueError, match="existing level"):
        model_frame('y ~ relevel(race, ref = "zz")', df)


def test_duplicate_column_names(df):
    d = pd.concat([df, df[["age"]]], axis=1)
    with pytest.raises(ValueError, match="more than once"):
        model_frame("y ~ age", d)


@pytest.mark.parametrize("k", [2, 3, 4, 7, 12])
def test_contr_poly_is_orthonormal(k):
    from carts_iptw.formula.contrasts import contr_poly, poly_suffixes

    C = contr_poly(k)
    assert C.shape == (k, k - 1)
    np.testing.assert_allclose(C.T @ C, np.eye(k - 1), atol=1e-12)
    np.testing.assert_allclose(C.sum(axis=0), 0, atol=1e-12)
    assert poly_suffixes(k)[: min(3, k - 1)] == [".L", ".Q", ".C"][: k - 1]


def test_ordered_categorical_uses_poly(df):
    d = df.assign(gr=pd.Categorical(df["site"], categories=["a", "b", "c"], ordered=True))
    mf = model_frame("y ~ gr + age", d)
    assert mf.column_names == ["(Intercept)", "gr.L", "gr.Q", "age"]
    assert model_frame("y ~ 0 + gr", d).column_names == ["gra", "grb", "grc"]
    with pytest.raises(ValueError, match="unordered"):
        model_frame('y ~ relevel(gr, ref = "b")', d)


def test_poly_orthonormal_and_raw(df):
    mf = model_frame("y ~ poly(age, 3) + poly(age, 2, raw = TRUE)", df)
    assert mf.column_names == ["(Intercept)", "poly(age, 3)1", "poly(age, 3)2", "poly(age, 3)3",
                               "poly(age, 2, raw = TRUE)1", "poly(age, 2, raw = TRUE)2"]
    P = mf.X[:, 1:4]
    np.testing.assert_allclose(P.T @ P, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(P.sum(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(mf.X[:, 5], df["age"] ** 2)
    with pytest.raises(ValueError, match="unique points"):
        model_frame("y ~ poly(dose, 3)", df)


def test_splines_basic(df):
    mf = model_frame("y ~ ns(age, df = 4) + bs(age, df = 5)", df)
    assert mf.column_names[1:5] == [f"ns(age, df = 4){k}" for k in range(1, 5)]
    assert mf.column_names[5:] == [f"bs(age, df = 5){k}" for k in range(1, 6)]
    # bs with intercept: the B-splines sum to one (partition of unity)
    full = model_frame("y ~ 0 + bs(age, df = 6, intercept = TRUE)", df).X
    np.testing.assert_allclose(full.sum(axis=1), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="non-constant"):
        model_frame("y ~ ns(k, 3)", df.assign(k=1.0))
