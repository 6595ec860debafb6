"""The fast paths give the replayed algorithms' answers: LAPACK QR for dqrdc2, and the
score certificate that lets the separation LP be skipped."""

import warnings

import numpy as np
import pytest

from carts_iptw.irls import _qr_replay, glm_fit, qr_dqrdc2
from carts_iptw.separation import detect_separation, separation_excluded


def _design(n, p, seed=1):
    rng = np.random.default_rng(seed)
    X = np.c_[np.ones(n), rng.normal(size=(n, p - 1)) * rng.uniform(0.1, 50, size=p - 1)]
    X[:, 1] = np.round(X[:, 1])  # a coarse column, as ages are
    return X


@pytest.mark.parametrize("n,p,tol", [(40, 4, 1e-7), (500, 9, 1e-11), (5000, 15, 1e-11)])
def test_lapack_qr_is_dqrdc2_on_full_rank_designs(n, p, tol):
    X = _design(n, p)
    fast, slow = qr_dqrdc2(X, tol, method="lapack"), _qr_replay(X, tol)
    assert fast.rank == slow.rank == p
    assert np.array_equal(fast.pivot, slow.pivot)
    scale = np.abs(slow.qr).max()
    np.testing.assert_allclose(fast.qr, slow.qr, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(fast.qraux, slow.qraux, rtol=1e-12)
    y = np.random.default_rng(2).normal(size=(n, 2))
    np.testing.assert_allclose(fast.qty(y), slow.qty(y), rtol=0, atol=1e-10 * np.abs(y).max())
    np.testing.assert_allclose(fast.qy(y), slow.qy(y), rtol=0, atol=1e-10 * np.abs(y).max())
    np.testing.assert_allclose(fast.coef(y[:, 0]), slow.coef(y[:, 0]), rtol=1e-9)


def test_rank_deficient_design_falls_back_to_the_replay():
    X = _design(200, 5)
    X = np.c_[X[:, :2], X[:, 1] + X[:, 2], X[:, 2:]]  # column 2 = column 1 + column 3
    q = qr_dqrdc2(X, 1e-7)
    ref = _qr_replay(X, 1e-7)
    assert q.rank == ref.rank == 5
    assert np.array_equal(q.pivot, ref.pivot) and q.pivot[-1] == 3  # the aliased column moves
    assert np.array_equal(q.qr, ref.qr)


def test_near_collinear_design_is_replayed():
    X = _design(300, 4)
    X[:, 3] = X[:, 2] + 1e-9 * np.random.default_rng(5).normal(size=300)
    q = qr_dqrdc2(X, 1e-7)
    assert np.array_equal(q.qr, _qr_replay(X, 1e-7).qr)


def _fit_lambda(X, y, w=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = glm_fit(X, y, weights=w, family="quasibinomial")
    pw = np.ones(len(y)) if w is None else w
    return pw * np.abs(y - f.fitted)


def test_certificate_on_an_ordinary_fit_and_the_lp_agree():
    rng = np.random.default_rng(7)
    n = 20_000
    X = np.c_[np.ones(n), rng.normal(size=(n, 3)), rng.integers(0, 2, size=(n, 2))]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ [-1, 0.5, -0.3, 0.2, 0.4, -0.2])))) * 1.0
    w = rng.exponential(size=n) + 0.1
    assert separation_excluded(X, y, w, _fit_lambda(X, y, w))
    assert not detect_separation(X, y, list("abcdef"), w).separated


@pytest.mark.parametrize("kind", ["complete", "quasi"])
def test_certificate_never_passes_separated_data(kind):
    rng = np.random.default_rng(11)
    n = 400
    x = rng.normal(size=n)
    if kind == "quasi":
        x[:40] = 0.0
    y = (x > 0).astype(float)
    if kind == "quasi":
        y[:20] = 1.0  # both outcomes at x = 0: quasi-complete separation
    X = np.c_[np.ones(n), x, rng.normal(size=n)]
    assert detect_separation(X, y, ["(Intercept)", "x", "z"]).separated
    assert not separation_excluded(X, y, None, _fit_lambda(X, y))
