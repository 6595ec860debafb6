"""Numerical diagnostics that R leaves silent: near-collinear designs and extreme weights.

R fits a near-singular design without a word (``glm``: coefficients near 1e8 with huge SEs;
``sandwich``: variances that are rounding noise; ``coxph``: an NA coefficient with SE 0) and
accepts weights whose ratio is 1e12. The answers stay R's; these checks add a
:class:`~carts_iptw.families.CartsIptwWarning` saying why a number cannot be trusted. Messages
name terms (through ``ModelFrame.describe``: never a factor level) and counts, never a value.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from carts_iptw.families import CartsIptwWarning

#: reciprocal condition number of the column-scaled design below which terms are "near-collinear"
#: (R's lm/glm.fit alias a column whose QR residual is below 1e-7 of its norm)
COLLINEAR_RCOND = 1e-7
#: extreme weights: largest / median positive weight above this ratio ...
EXTREME_WEIGHT_RATIO = 1e6
#: ... or a Kish effective sample size below this share of the rows with positive weight
EXTREME_WEIGHT_ESS = 0.05


def collinear_columns(X, weights=None, center: bool = False, skip: Sequence[int] = ()):
    """``(rcond, columns)`` of a near-collinear design, else ``None``.

    The design is ``sqrt(w) X`` on the rows with positive weight (centred by the weighted
    column means with ``center=True``, as a Cox model has no intercept), each column scaled to
    unit length; ``rcond`` is its smallest over largest singular value and ``columns`` the
    indices carrying the (nearly) null direction. Constant columns and ``skip`` are left out.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] < 2:
        return None
    n = X.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    keep = w > 0
    allpos = bool(keep.all())
    Xk, wk = (X, w) if allpos else (X[keep], w[keep])
    if center:
        Xk = Xk - (wk @ Xk) / wk.sum()
    # screen by the weighted Gram matrix X' W X (one n x p temporary, no scaled copy of the
    # design): its diagonal gives the column norms of sqrt(w) X and, scaled by them, its
    # eigenvalues are the squared singular values of the unit-column design (accurate to about
    # eps * largest): a design far from the threshold needs no QR of the n x p matrix
    G = (Xk * wk[:, None]).T @ Xk
    norms = np.sqrt(np.maximum(np.diag(G), 0.0))
    cols = [j for j in range(X.shape[1]) if j not in set(skip) and norms[j] > 0
            and np.isfinite(norms[j])]
    if len(cols) < 2 or Xk.shape[0] <= len(cols):  # more columns than rows: aliasing, not here
        return None
    if np.all(np.isfinite(G)):
        S = G[np.ix_(cols, cols)] / np.outer(norms[cols], norms[cols])
        ev = np.linalg.eigvalsh(S)
        if ev[0] > 0 and np.sqrt(ev[0] / ev[-1]) > 1e3 * COLLINEAR_RCOND:
            return None
    Z = Xk[:, cols] * (np.sqrt(wk)[:, None] / norms[cols])
    _, s, vt = np.linalg.svd(np.linalg.qr(Z, mode="r"), full_matrices=False)
    if not s[0] > 0:
        return None
    rcond = float(s[-1] / s[0])
    if rcond >= COLLINEAR_RCOND:
        return None
    v = np.abs(vt[-1])
    involved = [cols[j] for j in np.flatnonzero(v > 0.1 * v.max())]
    return rcond, involved


def warn_collinear(X, names: Sequence[str], what: str, weights=None, center: bool = False,
                   skip: Sequence[int] = (), describe: Callable | None = None,
                   stacklevel: int = 3, frames=None) -> bool:
    """Warn (``CartsIptwWarning``) when the design is near-collinear, naming the terms.

    ``frames``: a :class:`~carts_iptw.formula.cache.FrameCache` holding ``X``; the screen of
    ``X`` with these weights is then computed once for the models that share it.
    """
    if frames is None:
        res = collinear_columns(X, weights, center=center, skip=skip)
    else:
        import hashlib

        wd = "none" if weights is None else hashlib.blake2b(
            np.ascontiguousarray(weights, dtype=float).tobytes(), digest_size=20).hexdigest()
        key = ("collinear", wd, bool(center), tuple(int(j) for j in skip))
        res = frames.design(key, X, lambda: collinear_columns(X, weights, center=center,
                                                               skip=skip))
    if res is None:
        return False
    rcond, cols = res
    text = (describe or ", ".join)([names[j] for j in cols])
    warnings.warn(
        f"{what}: near-collinear terms {text} (reciprocal condition number of the scaled design "
        f"{rcond:.1e}): their coefficients and standard errors are numerically unreliable (R "
        "reports them without a note); remove or combine one of them",
        CartsIptwWarning, stacklevel=stacklevel)
    return True


def warn_extreme_weights(w, name: str, stacklevel: int = 3) -> bool:
    """Warn (``CartsIptwWarning``) about extreme weights.

    When the largest positive weight is more than ``EXTREME_WEIGHT_RATIO`` times their median or
    their Kish effective sample size ``(sum w)^2 / sum w^2`` is below ``EXTREME_WEIGHT_ESS`` of
    the rows with positive weight; the message gives the ESS.
    """
    w = np.asarray(w, dtype=float)
    pos = w[w > 0]
    if pos.size < 2 or not np.all(np.isfinite(pos)):
        return False
    # scale first: (sum w)^2 and sum w^2 of weights near 1e154 would overflow
    v = pos / pos.max()
    ess = float(v.sum() ** 2 / np.sum(v * v))
    # a weight a million times the typical (median) one dominates; tiny weights (a fractional
    # bootstrap's) only drop their rows and are no reason to warn
    wide = pos.max() / np.median(pos) > EXTREME_WEIGHT_RATIO
    if not wide and ess >= EXTREME_WEIGHT_ESS * pos.size:
        return False
    span = f"largest / median > {EXTREME_WEIGHT_RATIO:.0e}; " if wide else ""
    warnings.warn(
        f"{name}: extreme weights ({span}Kish effective sample "
        f"size {ess:.1f} of {pos.size} rows with positive weight ({100 * ess / pos.size:.1f}%): "
        "the estimates rest on a few rows; examine the weights (e.g. .summary()) and consider "
        "trim()", CartsIptwWarning, stacklevel=stacklevel)
    return True
