"""Regression splines as R's splines package builds them inside a model frame.

``bs(x, df, knots, degree = 3, intercept = FALSE)`` and ``ns(x, df, knots, intercept = FALSE)``.

Boundary knots are ``range(x)``; interior knots, when only ``df`` is given, are R's type-7
quantiles of x at equally spaced probabilities. The B-spline basis is Cox-de Boor's (as
``splines::splineDesign``, derivatives by the B-spline derivative recursion); ``ns`` projects it onto the null space of the
second derivatives at the boundary knots with the LINPACK QR of their transpose, as R does.
New data (``predict``) reuse the fitted knots; points beyond the boundary knots are
extrapolated as R does (``ns``: linearly; ``bs``: by the Taylor polynomial at a pivot).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bs_fit", "ns_fit", "bs_eval", "ns_eval", "r_quantile7"]


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


def _bsplines(t: np.ndarray, x: np.ndarray, m: int) -> np.ndarray:
    """All order-m B-splines on knots t at x (Cox-de Boor, 0/0 = 0).

    The right end of the knot range is included, as splineDesign does.

    Loops over orders only.
    """
    x = np.asarray(x, dtype=float)[:, None]
    B = ((t[:-1] <= x) & (x < t[1:])).astype(float)
    nz = np.flatnonzero(t[:-1] < t[1:])
    if len(nz):
        B[x[:, 0] == t[-1], nz[-1]] = 1.0
    for mm in range(2, m + 1):
        nb = len(t) - mm
        d1 = t[mm - 1: mm - 1 + nb] - t[:nb]
        d2 = t[mm: mm + nb] - t[1: 1 + nb]
        with np.errstate(divide="ignore", invalid="ignore"):
            w1 = np.where(d1 > 0, (x - t[:nb]) / np.where(d1 > 0, d1, 1.0), 0.0)
            w2 = np.where(d2 > 0, (t[mm: mm + nb] - x) / np.where(d2 > 0, d2, 1.0), 0.0)
        B = w1 * B[:, :nb] + w2 * B[:, 1: nb + 1]
    return B


def _design(aknots: np.ndarray, x: np.ndarray, ord_: int, deriv: int = 0) -> np.ndarray:
    """``splineDesign(aknots, x, ord, derivs = deriv)``.

    Derivatives by the B-spline derivative recursion (valid with repeated knots).
    """
    t = np.asarray(aknots, dtype=float)
    if deriv == 0:
        return _bsplines(t, x, ord_)
    if deriv >= ord_:
        return np.zeros((len(np.atleast_1d(x)), len(t) - ord_))
    lower = _design(t, x, ord_ - 1, deriv - 1)
    nb = len(t) - ord_
    d1 = t[ord_ - 1: ord_ - 1 + nb] - t[:nb]
    d2 = t[ord_: ord_ + nb] - t[1: 1 + nb]
    a = np.where(d1 > 0, 1.0 / np.where(d1 > 0, d1, 1.0), 0.0)
    b = np.where(d2 > 0, 1.0 / np.where(d2 > 0, d2, 1.0), 0.0)
    return (ord_ - 1) * (lower[:, :nb] * a - lower[:, 1: nb + 1] * b)


def _interior_knots(x: np.ndarray, n_iknots: int) -> np.ndarray:
    if n_iknots <= 0:
        return np.zeros(0)
    k = n_iknots + 2
    probs = np.arange(k) * (1.0 / (k - 1))
    return r_quantile7(x, probs[1:-1])


def bs_eval(x: np.ndarray, knots: np.ndarray, bk: np.ndarray, degree: int,
            intercept: bool) -> np.ndarray:
    """B-spline basis of ``x`` (R's ``splines::bs`` evaluation).

    Interior ``knots``, boundary knots ``bk`` and ``degree``, with or without the intercept column
    (R's ``splineDesign``).
    """
    ord_ = 1 + int(degree)
    aknots = np.sort(np.r_[np.repeat(bk, ord_), knots])
    ol, orr = x < bk[0], x > bk[1]
    inside = ~(ol | orr)
    basis = np.zeros((len(x), len(aknots) - ord_))
    if inside.any():
        basis[inside] = _design(aknots, x[inside], ord_)
    scalef = np.array([math.gamma(k) for k in range(1, ord_ + 1)])
    e = 0.25
    for side, mask in ((0, ol), (1, orr)):
        if not mask.any():
            continue
        if side == 0:
            pivot = (1 - e) * bk[0] + e * aknots[ord_]
        else:
            pivot = (1 - e) * bk[1] + e * aknots[len(aknots) - ord_ - 1]
        xp = np.column_stack([np.ones(int(mask.sum())),
                              np.power.outer(x[mask] - pivot, np.arange(1, ord_, dtype=float))])
        tt = np.vstack([_design(aknots, np.array([pivot]), ord_, d) for d in range(ord_)])
        basis[mask] = xp @ (tt / scalef[:, None])
    return basis if intercept else basis[:, 1:]


def ns_eval(x: np.ndarray, knots: np.ndarray, bk: np.ndarray, intercept: bool) -> np.ndarray:
    """Natural cubic spline basis of ``x`` (R's ``splines::ns`` evaluation).

    Interior ``knots`` and boundary knots ``bk``, with or without the intercept column.
    """
    from carts_iptw.irls import qr_dqrdc2

    aknots = np.sort(np.r_[np.repeat(bk, 4), knots])
    ol, orr = x < bk[0], x > bk[1]
    inside = ~(ol | orr)
    basis = np.zeros((len(x), len(aknots) - 4))
    if inside.any():
        basis[inside] = _design(aknots, x[inside], 4)
    for pivot, mask in ((bk[0], ol), (bk[1], orr)):
        if not mask.any():
            continue
        xp = np.column_stack([np.ones(int(mask.sum())), x[mask] - pivot])
        tt = np.vstack([_design(aknots, np.array([pivot]), 4, d) for d in (0, 1)])
        basis[mask] = xp @ tt
    const = _design(aknots, bk, 4, deriv=2)
    if not intercept:
        const = const[:, 1:]
        basis = basis[:, 1:]
    qr = qr_dqrdc2(const.T, 1e-7)
    return qr.qty(basis.T).T[:, 2:]


def bs_fit(x: np.ndarray, df: float | None = None, knots=None, degree: int = 3,
           intercept: bool = False) -> tuple[np.ndarray, dict]:
    """``splines::bs`` on the data that define it; returns (basis, parameters for new data)."""
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
    params = {"kind": "bs", "knots": knots, "bk": bk, "degree": int(degree),
              "intercept": bool(intercept)}
    return bs_eval(x, knots, bk, int(degree), intercept), params


def ns_fit(x: np.ndarray, df: float | None = None, knots=None,
           intercept: bool = False) -> tuple[np.ndarray, dict]:
    """``splines::ns`` on the data that define it; returns (basis, parameters for new data)."""
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
    params = {"kind": "ns", "knots": knots, "bk": bk, "intercept": bool(intercept)}
    return ns_eval(x, knots, bk, intercept), params
