"""The fused logistic kernel of glm_fit gives the family functions' values bit for bit."""

import warnings

import numpy as np
import pytest

from carts_iptw import _glm_kernels, irls
from carts_iptw._glm_kernels import FamilyKernel, LogitBinaryKernel, kernel
from carts_iptw.families import get_family
from carts_iptw.irls import glm_fit


def _data(n=3000, seed=3):
    rng = np.random.default_rng(seed)
    eta = rng.normal(scale=4, size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    w = rng.gamma(2.0, size=n)
    return eta, y, w


@pytest.mark.parametrize("family", ["binomial", "quasibinomial"])
def test_kernel_functions_equal_the_family_functions_exactly(family):
    fam = get_family(family)
    eta, y, w = _data()
    k = kernel(fam, y, w)
    assert isinstance(k, LogitBinaryKernel)
    mu = k.linkinv(eta)
    assert np.array_equal(mu, fam.linkinv(eta))
    assert np.array_equal(k.mu_eta(eta), fam.mu_eta(eta))
    assert np.array_equal(k.variance(mu), fam.variance(mu))
    assert k.deviance(mu) == float(np.sum(fam.dev_resids(y, mu, w)))
    assert k.valid(eta, mu) is True
    for m in (float(np.sum(w * y) / np.sum(w)), 0.0, 1.0, 1e-300):
        with np.errstate(all="ignore"):
            ref = float(np.sum(fam.dev_resids(y, np.float64(m), w)))
        got = k.deviance_const(m)
        assert (got == ref) or (np.isnan(got) and np.isnan(ref)), m
    # a linear predictor beyond R's clamp at |eta| = 30 takes the family's functions
    far = eta.copy()
    far[:5] = [-45.0, 31.0, 60.0, -30.5, 29.0]
    assert np.array_equal(k.linkinv(far), fam.linkinv(far))
    assert np.array_equal(k.mu_eta(far), fam.mu_eta(far))
    # fitted probabilities at 0 or 1 (separation): the same infinite / NaN deviance and verdict
    mu2 = fam.linkinv(far).copy()
    mu2[0], mu2[1] = 0.0, 1.0
    with np.errstate(all="ignore"):
        ref = float(np.sum(fam.dev_resids(y, mu2, w)))
    got = k.deviance(mu2)
    assert (got == ref) or (np.isnan(got) and np.isnan(ref))
    assert k.valid(far, mu2) is fam.validmu(mu2) is False
    mu2[0] = np.nan
    assert k.valid(far, mu2) is False


def test_kernel_is_the_family_outside_its_domain():
    eta, y, w = _data()
    assert type(kernel(get_family("binomial", "probit"), y, w)) is FamilyKernel
    assert type(kernel(get_family("gaussian"), y, w)) is FamilyKernel
    yp = y.copy()
    yp[0] = 0.5  # proportions: the generic arithmetic
    assert type(kernel(get_family("quasibinomial"), yp, w)) is FamilyKernel


@pytest.mark.parametrize("family", ["binomial", "quasibinomial"])
@pytest.mark.parametrize("zero_weights", [False, True])
def test_glm_fit_with_the_kernel_equals_the_family_functions_bit_for_bit(
        family, zero_weights, monkeypatch):
    rng = np.random.default_rng(7)
    n = 4000
    X = np.c_[np.ones(n), rng.normal(size=(n, 4)), rng.integers(0, 2, n)]
    eta = X @ np.array([-1.0, 0.5, -0.3, 0.8, 0.1, 1.2])
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    w = rng.gamma(2.0, size=n)
    if zero_weights:
        w[:50] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = glm_fit(X, y, weights=w, family=family)
        monkeypatch.setattr(irls, "_kernel", _glm_kernels.FamilyKernel)
        slow = glm_fit(X, y, weights=w, family=family)
    assert fast.iter == slow.iter
    for name in ("coef", "fitted", "linear_predictor", "working_weights",
                 "working_residuals", "cov_unscaled"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    for name in ("deviance", "null_deviance", "dispersion"):
        assert getattr(fast, name) == getattr(slow, name), name
    if family == "binomial":
        assert fast.aic == slow.aic


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_linkinv_mu_eta_equals_the_family_functions(link):
    from carts_iptw._glm_kernels import linkinv_mu_eta

    fam = get_family("binomial", link)
    eta, _, _ = _data()
    eta[:3] = [-40.0, 35.0, 0.0]
    for e in (eta, np.clip(eta, -5, 5)):
        mu, d = linkinv_mu_eta(fam, e)
        assert np.array_equal(mu, fam.linkinv(e))
        assert np.array_equal(d, fam.mu_eta(e))
