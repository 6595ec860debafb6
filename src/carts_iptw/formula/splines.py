"""Regression splines as R's splines package builds them inside a model frame:
``bs(x, df, knots, degree = 3, intercept = FALSE)`` and ``ns(x, df, knots, intercept = FALSE)``.

Boundary knots are ``range(x)``; interior knots, when only ``df`` is given, are R's type-7
quantiles of x at equally spaced probabilities. The B-spline basis is de Boor's (scipy's
``BSpline``, equal to ``splines::splineDesign``); ``ns`` projects it onto the null space of the
second derivatives at the boundary knots with the LINPACK QR of their transpose, as R does.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import BSpline

__all__ = ["bs_basis", "ns_basis", "r_quantile7"]


def r_quantile7(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """R's ``quantile(x, probs, type = 7)`` with R's arithmetic ((1 - h) x[lo] + h x[hi])."""
    xs = np.sort(np.asarray(x, dtype=float))
    n = len(xs)
    index = 1 + max(n - 1, 0) * np.asarray(probs, dtype=float)
    lo = np.floor(index).astype(int)
    hi = np.ceil(index).astype(int)
    qs = xs[lo - 1].copy()
    xhi = xs[hi - 1]
    i = (index > lo) & (xhi != qs)
    h = (index - lo)[i]
    qs[i] = (1 - h) * qs[i] + h * xhi[i]
    return qs


def _design(aknots: np.ndarray, x: np.ndarray, ord_: int, deriv: int = 0) -> np.ndarray:
    nb = len(aknots) - ord_
    b = BSpline(aknots, np.eye(nb), ord_ - 1, extrapolate=False)
    if deriv:
        b = b.derivative(deriv)
    return np.asarray(b(x), dtype=float)


def _interior_knots(x: np.ndarray, n_iknots: int) -> np.ndarray:
    if n_iknots <= 0:
        return np.zeros(0)
    k = n_iknots + 2
    probs = np.arange(k) * (1.0 / (k - 1))
    return r_quantile7(x, probs[1:-1])


def bs_basis(x: np.ndarray, df: int | None = None, knots=None, degree: int = 3,
             intercept: bool = False) -> np.ndarray:
    """``splines::bs`` evaluated on the data that define it (boundary knots = range(x))."""
    ord_ = 1 + int(degree)
    if ord_ <= 1:
        raise ValueError("'degree' must be integer >= 1")
    if knots is None:
        if df is None:
            knots = np.zeros(0)
        else:
            n_ik = int(df) - ord_ + (1 - int(intercept))
            if n_ik < 0:
                raise ValueError(f"'df' was too small; use at least {ord_ - (1 - int(intercept))}")
            knots = _interior_knots(x, n_ik)
    knots = np.asarray(knots, dtype=float)
    bk = np.array([x.min(), x.max()])
    aknots = np.sort(np.r_[np.repeat(bk, ord_), knots])
    basis = _design(aknots, x, ord_)
    return basis if intercept else basis[:, 1:]


def ns_basis(x: np.ndarray, df: int | None = None, knots=None,
             intercept: bool = False) -> np.ndarray:
    """``splines::ns`` evaluated on the data that define it (boundary knots = range(x))."""
    from carts_iptw.irls import qr_dqrdc2

    if knots is None:
        if df is None:
            knots = np.zeros(0)
        else:
            n_ik = int(df) - 1 - int(intercept)
            if n_ik < 0:
                raise ValueError(f"'df' was too small; use at least {1 + int(intercept)}")
            knots = _interior_knots(x, n_ik)
    knots = np.asarray(knots, dtype=float)
    bk = np.array([x.min(), x.max()])
    aknots = np.sort(np.r_[np.repeat(bk, 4), knots])
    basis = _design(aknots, x, 4)
    const = _design(aknots, bk, 4, deriv=2)
    if not intercept:
        const = const[:, 1:]
        basis = basis[:, 1:]
    qr = qr_dqrdc2(const.T, 1e-7)
    return qr.qty(basis.T).T[:, 2:]
