"""glm / glm_fit: bad input, R's warnings, aliasing, and properties of the IRLS solution."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from carts_iptw import GlmControl, GlmWarning, glm, glm_fit
from carts_iptw.families import CartsIptwWarning, binomial, get_family
from carts_iptw.irls import qr_dqrdc2


@pytest.fixture
def df():
    rng = np.random.default_rng(11)
    n = 200
    x = rng.normal(size=n)
    g = rng.choice(["a", "b", "c"], n)
    eta = -0.3 + 0.8 * x + 0.5 * (g == "b")
    return pd.DataFrame({
        "y": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int),
        "x": x, "g": g, "z": rng.normal(size=n),
        "count": rng.poisson(np.exp(0.2 + 0.3 * x)),
        "w": rng.uniform(0.2, 3, n),
        "cont": 2 + x + rng.normal(size=n),
    })


def _messages(rec):
    return [str(w.message) for w in rec if issubclass(w.category, GlmWarning)]


# ------------------------------------------------------------------------------- bad input
def test_missing_value_names_column(df):
    d = df.copy()
    d.loc[[1, 2], "z"] = np.nan
    with pytest.raises(ValueError, match=r"column 'z' has 2 missing"):
        glm("y ~ x + z", d)


def test_unknown_column(df):
    with pytest.raises(ValueError, match="unknown column 'nope'"):
        glm("y ~ x + nope", df)
    with pytest.raises(ValueError, match="unknown column 'ww'"):
        glm("y ~ x", df, weights="ww")


def test_non_binary_binomial_response(df):
    with pytest.raises(ValueError, match=r"'count' must be binary .* outside \[0, 1\]"):
        glm("count ~ x", df, family="binomial")


def test_constant_column(df):
    with pytest.raises(ValueError, match="'k' is constant"):
        glm("y ~ x + k", df.assign(k=5.0))


def test_bad_weights_and_family(df):
    with pytest.raises(ValueError, match="1 negative"):
        glm("y ~ x", df, weights=np.r_[-1.0, np.ones(len(df) - 1)])
    with pytest.raises(ValueError, match="one value per row"):
        glm("y ~ x", df, weights=np.ones(3))
    with pytest.raises(ValueError, match="all zero"):
        glm("y ~ x", df, weights=np.zeros(len(df)))
    with pytest.raises(ValueError, match="family must be one of"):
        glm("y ~ x", df, family="gamma")
    with pytest.raises(ValueError, match="negative values not allowed"):
        glm("cont ~ x", df.assign(cont=df["cont"] - 100), family="poisson")
    with pytest.raises(ValueError, match="factor"):
        glm("g ~ x", df, family="gaussian")
    with pytest.raises(ValueError, match="Surv"):
        glm("Surv(w, y) ~ x", df)


def test_control_validation():
    with pytest.raises(ValueError):
        GlmControl(epsilon=0)
    with pytest.raises(ValueError):
        GlmControl(maxit=0)


# ------------------------------------------------------------------------------- warnings
def test_perfect_separation_warns(df):
    d = df.assign(sep=(df["x"] > 0).astype(int))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit = glm("sep ~ x", d)
    assert "glm.fit: fitted probabilities numerically 0 or 1 occurred" in _messages(rec)
    assert fit.se["x"] > 100 * abs(fit.coef["x"]) or abs(fit.coef["x"]) > 10


def test_non_convergence_warns(df):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit = glm("y ~ x + g", df, control=GlmControl(maxit=1))
    assert "glm.fit: algorithm did not converge" in _messages(rec)
    assert not fit.converged and fit.iter == 1


def test_non_integer_successes_warns(df):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        glm("y ~ x", df, weights="w")
    assert "non-integer #successes in a binomial glm!" in _messages(rec)
    with warnings.catch_warnings(record=True) as rec:  # quasibinomial: no such warning in R
        warnings.simplefilter("always")
        glm("y ~ x", df, weights="w", family="quasibinomial")
    assert _messages(rec) == []


def test_warning_class_hierarchy():
    assert issubclass(GlmWarning, CartsIptwWarning) and issubclass(GlmWarning, UserWarning)


def test_aliased_column_gets_nan(df):
    d = df.assign(x2=2 * df["x"])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit = glm("y ~ x + x2 + z", d)
    assert any("singularities: x2" in m for m in _messages(rec))
    assert np.isnan(fit.coef["x2"]) and np.isnan(fit.se["x2"])
    assert fit.rank == 3 and fit.df_residual == len(d) - 3
    ref = glm("y ~ x + z", d)
    np.testing.assert_allclose(fit.coef[["(Intercept)", "x", "z"]], ref.coef, rtol=1e-10)
    np.testing.assert_allclose(fit.se[["(Intercept)", "x", "z"]], ref.se, rtol=1e-10)
    assert "x2" not in fit.summary().coefficients.index


# ------------------------------------------------------------------------------- properties
def test_score_equations_at_convergence(df):
    """Canonical links: X' W_prior (y - mu) = 0 at the MLE."""
    for fam, resp in (("quasibinomial", "y"), ("poisson", "count"), ("gaussian", "cont")):
        fit = glm(f"{resp} ~ x + g + z", df, family=fam, weights="w",
                  control=GlmControl(epsilon=1e-14))
        score = fit.X.T @ (df["w"].to_numpy() * (fit.y - fit.fitted))
        assert np.max(np.abs(score)) < 1e-6 * len(df), fam


def test_gaussian_is_weighted_least_squares(df):
    fit = glm("cont ~ x + g", df, family="gaussian", weights="w")
    X = fit.X
    sw = np.sqrt(df["w"].to_numpy())
    beta, *_ = np.linalg.lstsq(X * sw[:, None], df["cont"].to_numpy() * sw, rcond=None)
    np.testing.assert_allclose(fit.coef.to_numpy(), beta, rtol=1e-10)
    resid = df["cont"].to_numpy() - X @ beta
    sigma2 = np.sum(df["w"].to_numpy() * resid ** 2) / (len(df) - X.shape[1])
    np.testing.assert_allclose(fit.dispersion, sigma2, rtol=1e-10)
    cov = sigma2 * np.linalg.inv(X.T @ (X * df["w"].to_numpy()[:, None]))
    np.testing.assert_allclose(fit.vcov.to_numpy(), cov, rtol=1e-8)
    assert fit.p_values.name == "Pr(>|t|)"


def test_quasi_equals_base_coefficients(df):
    b = glm("y ~ x + g", df, weights="w", family="quasibinomial")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GlmWarning)
        a = glm("y ~ x + g", df, weights="w", family="binomial")
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-12)
    np.testing.assert_allclose(b.se, a.se * np.sqrt(b.dispersion), rtol=1e-12)
    assert np.isnan(b.aic) and a.dispersion == 1.0


def test_confint_wald_and_summary(df):
    fit = glm("y ~ x + g", df)
    ci = fit.confint()
    assert list(ci.columns) == ["2.5 %", "97.5 %"]
    assert list(fit.confint(0.9).columns) == ["5 %", "95 %"]
    np.testing.assert_allclose((ci.iloc[:, 1] - ci.iloc[:, 0]) / 2,
                               stats.norm.ppf(0.975) * fit.se, rtol=1e-12)
    s = str(fit.summary())
    for piece in ("Estimate", "Std. Error", "z value", "Pr(>|z|)", "(Intercept)", "gb",
                  "Null deviance", "Number of Fisher Scoring iterations"):
        assert piece in s
    assert "binomial" in repr(fit)


def test_offset_argument_equals_formula_offset(df):
    d = df.assign(logw=np.log(df["w"]))
    a = glm("count ~ x + offset(logw)", d, family="poisson")
    b = glm("count ~ x", d, family="poisson", offset="logw")
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-12)
    assert a.null_deviance == pytest.approx(b.null_deviance, rel=1e-12)


def test_empty_model_and_no_intercept(df):
    fit = glm("cont ~ 0 + x", df, family="gaussian")
    assert fit.column_names == ["x"]
    r = glm_fit(np.empty((len(df), 0)), df["y"].to_numpy(), family="binomial")
    assert r.iter == 0 and r.rank == 0
    np.testing.assert_allclose(r.fitted, 0.5)


def test_get_family_links():
    assert get_family("binomial").link.name == "logit"
    assert get_family("binomial", "probit").link.name == "probit"
    assert get_family(binomial("cloglog")).link.name == "cloglog"
    with pytest.raises(ValueError):
        get_family("poisson", "logit")


# ------------------------------------------------------------------------------- the QR
def test_dqrdc2_reconstructs_and_pivots():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 4))
    X = np.column_stack([X[:, 0], X[:, 0] * 3.0, X[:, 1:]])  # column 1 aliased with 0
    qr = qr_dqrdc2(X, 1e-7)
    assert qr.rank == 4
    assert list(qr.pivot) == [0, 2, 3, 4, 1]  # R moves the aliased column to the end
    R = qr.R()
    # Q'X = R for the pivoted columns that are in the basis
    QtX = np.column_stack([qr.qty(X[:, j]) for j in qr.pivot])
    np.testing.assert_allclose(QtX[:4, :4], R[:4, :4], atol=1e-12)
    np.testing.assert_allclose(QtX[4:, :4], 0, atol=1e-12)
    full = rng.normal(size=(20, 3))
    q2 = qr_dqrdc2(full)
    np.testing.assert_allclose(np.abs(np.diag(q2.R())),
                               np.abs(np.diag(np.linalg.qr(full)[1])), rtol=1e-12)


# ------------------------------------------------------------------------------- predict
def test_predict(df):
    fit = glm("y ~ x + g + I(x^2)", df)
    np.testing.assert_allclose(fit.predict(), fit.linear_predictor)
    np.testing.assert_allclose(fit.predict(df, "response"), fit.fitted, rtol=1e-12)
    one = df.iloc[[5]].drop(columns="y")  # one row, one level of g, no response: fine
    np.testing.assert_allclose(fit.predict(one), fit.linear_predictor[[5]], rtol=1e-12)
    with pytest.raises(ValueError, match="new level"):
        fit.predict(df.assign(g="zzz"))
    with pytest.raises(ValueError, match="type"):
        fit.predict(df, "terms")


def test_glm_rejects_survival_specials(df):
    with pytest.raises(ValueError, match="strata"):
        glm("y ~ x + strata(g)", df)


def test_control_as_dict_and_loglik(df):
    a = glm("y ~ x", df, control={"epsilon": 1e-12, "maxit": 50})
    b = glm("y ~ x", df, control=GlmControl(epsilon=1e-12, maxit=50))
    assert a.iter == b.iter and a.control == b.control
    # logLik = df - aic/2; BIC = -2 logLik + log(n) df
    assert a.loglik == pytest.approx(a.rank - a.aic / 2, rel=1e-14)
    assert a.bic == pytest.approx(-2 * a.loglik + np.log(len(df)) * a.rank, rel=1e-14)
    g = glm("cont ~ x", df, family="gaussian")
    assert g.df_loglik == g.rank + 1


def test_predict_rebuilds_fitted_bases(df):
    """On the fitted rows, poly/ns/bs rebuilt from the stored parameters give the fit back."""
    for f in ("y ~ poly(x, 3)", "y ~ ns(x, 3)", "y ~ bs(z, 4) + x", "y ~ poly(x, 2, raw = TRUE)"):
        fit = glm(f, df)
        np.testing.assert_allclose(fit.predict(df), fit.linear_predictor, rtol=1e-9, atol=1e-12)
        sub = df.iloc[[3, 10, 50]]  # a few rows: the basis must not be recomputed from them
        np.testing.assert_allclose(fit.predict(sub), fit.linear_predictor[[3, 10, 50]],
                                   rtol=1e-9, atol=1e-12)
