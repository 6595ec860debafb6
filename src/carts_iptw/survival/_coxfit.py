"""Newton-Raphson for the Cox partial likelihood, replaying survival's coxfit6.c / agfit4.c.

Steps as coxfit6: covariates centred on their weighted mean and scaled by
sum(w) / sum(w |x - mean|) (columns coded only -1/0/1 are left alone, R's ``nocenter``);
iteration 0 evaluates the log-likelihood at ``init`` (score test from it), then Newton steps;
a step that lowers the log-likelihood (or overflows) is halved toward the last good beta
(``(new + h * old) / (h + 1)``, h = number of consecutive halvings); convergence when
``|1 - loglik_old / loglik_new| <= eps`` (eps = 1e-9, iter.max = 20); the information matrix
is inverted by cholesky2/chinv2 (toler.chol = .Machine$double.eps^0.75).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from carts_iptw.families import ConvergenceWarning
from carts_iptw.survival._chol import chinv2, cholesky2, chsolve2
from carts_iptw.survival._riskset import RiskSets, row_blocks


@dataclass(frozen=True)
class CoxControl:
    """Cox fit control; R twin ``survival::coxph.control()`` defaults (survival 3.5-3).

    Parameters
    ----------
    eps : float, default 1e-9
        Newton-Raphson stops when ``|1 - loglik_old / loglik| <= eps``.
    toler_chol : float, default ``.Machine$double.eps^0.75``
        Pivot tolerance of the Cholesky (singular columns get NaN coefficients).
    iter_max : int, default 20
        Maximum number of Newton-Raphson iterations.
    toler_inf : float, optional
        Default ``sqrt(eps)``: at convergence a coefficient is flagged as possibly infinite
        when the one-step change ``|U' I^-1|_j`` exceeds ``eps`` and ``toler_inf * |b_j|``
        (right-censored; ``toler_inf * (1 + |b_j|)`` for (start, stop] data), survival's
        "Loglik converged before variable" warning.

    Notes
    -----
    Use tighter values (e.g. ``eps=1e-12, iter_max=100``) to compare the mathematical optimum.
    """

    eps: float = 1e-9
    toler_chol: float = float(np.finfo(float).eps ** 0.75)
    iter_max: int = 20
    toler_inf: float | None = None  # default sqrt(eps)

    @property
    def tol_inf(self) -> float:
        return self.toler_inf if self.toler_inf is not None else float(np.sqrt(self.eps))


@dataclass
class CoxFitCore:
    coef: np.ndarray
    var: np.ndarray
    loglik: tuple[float, float]
    score_test: float
    iter: int
    flag: int
    u: np.ndarray
    means: np.ndarray
    linear_predictors: np.ndarray
    singular: np.ndarray
    infinite: np.ndarray
    converged: bool


def _scaling(X, w, nocenter=(-1.0, 0.0, 1.0)):
    n, p = X.shape
    sw = w.sum()
    wmean = (w @ X) / sw
    s = np.zeros(p)
    if tuple(nocenter) == (-1.0, 0.0, 1.0):
        # one pass over blocks of rows (no n x p temporaries): the -1/0/1 columns and
        # sum(w |x - mean|); the latter is not used for those columns (their scale is 1)
        skip = np.ones(p, dtype=bool)
        for sl in row_blocks(n, p):
            xb = X[sl]
            A = np.abs(xb)
            skip &= ((A == 0.0) | (A == 1.0)).all(axis=0)
            np.subtract(xb, wmean, out=A)
            np.abs(A, out=A)
            s += w[sl] @ A
    else:
        skip = np.array([bool(np.all(np.isin(X[:, i], nocenter))) for i in range(p)])
        for sl in row_blocks(n, p):
            s += w[sl] @ np.abs(X[sl] - wmean)
    means = np.where(skip, 0.0, wmean)
    scale = np.where(skip | ~(s > 0), 1.0, sw / np.where(s > 0, s, 1.0))
    return means, scale


def cox_newton(X, rs: RiskSets, offset=None, init=None, control=CoxControl(),
               right_censored=True) -> CoxFitCore:
    n, p = X.shape
    w = rs.weights
    has_offset = offset is not None
    offset = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
    means, scale = _scaling(X, w)
    Xs = np.subtract(X, means)
    Xs *= scale
    beta = np.zeros(p) if init is None else np.asarray(init, dtype=float) / scale
    bufs = (np.empty(n), np.empty(n), np.empty(n))  # eta and two n-vectors, reused

    def ev(b):
        eta = np.dot(Xs, b, out=bufs[0])
        if has_offset:
            eta += offset
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return rs.loglik_score_info(eta, Xs, buffers=bufs[1:])

    loglik0, u, imat = ev(beta)
    f, flag = cholesky2(imat, control.toler_chol)
    a = chsolve2(f, u)
    sctest = float(u @ a)
    maxiter = control.iter_max
    it = 0
    if maxiter == 0 or not np.isfinite(loglik0):
        var = chinv2(f)
        return _finish(beta, var, u, scale, means, (loglik0, loglik0), sctest, 0, flag, X,
                       offset, control, maxiter, right_censored, converged=True)
    best = loglik0
    newbeta = beta + a
    halving = 0
    for it in range(1, maxiter + 1):
        newlk, u, imat = ev(newbeta)
        f, flag = cholesky2(imat, control.toler_chol)
        notfinite = (not np.all(np.isfinite(u))) or (not np.all(np.isfinite(imat))) or (
            not np.isfinite(newlk))
        if not notfinite and abs(1 - best / newlk) <= control.eps:
            var = chinv2(f)
            return _finish(newbeta, var, u, scale, means, (loglik0, newlk), sctest, it,
                           -2 if halving else flag, X, offset, control, maxiter,
                           right_censored, converged=True)
        if notfinite or newlk < best:
            halving += 1
            newbeta = (newbeta + halving * beta) / (halving + 1.0)
        else:
            halving = 0
            best = newlk
            step = chsolve2(f, u)
            beta = newbeta
            newbeta = newbeta + step
    # Ran out of iterations (survival 3.5-3, checked against R with iter.max = 1, 2): the
    # last accepted beta is returned with iter = iter.max + 1. For iter.max > 1 the
    # log-likelihood, score and information are recomputed at that beta and the information
    # is passed to chinv2 without a fresh cholesky2, so R's variance is diag(1 / diag(I))
    # (scaled coordinates); we reproduce that, and warn that the fit did not converge.
    if maxiter > 1:
        best, u, imat = ev(beta)
        d = np.diag(imat)
        var = np.diag(np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0))
    else:
        var = chinv2(f)
    return _finish(beta, var, u, scale, means, (loglik0, best), sctest, maxiter + 1, 1000, X,
                   offset, control, maxiter, right_censored, converged=False)


def _finish(beta_s, var_s, u_s, scale, means, loglik, sctest, it, flag, X, offset, control,
            maxiter, right_censored, converged) -> CoxFitCore:
    coef = beta_s * scale
    u = u_s / scale
    var = var_s * np.outer(scale, scale)
    p = len(coef)
    singular = (np.diag(var) == 0) if flag < p else np.zeros(p, bool)
    lp = X @ coef + offset - np.sum(coef * means)
    infinite = np.zeros(p, bool)
    if maxiter > 1:
        with np.errstate(invalid="ignore", over="ignore"):
            infs = np.abs(u @ var)
        if flag == 1000:
            warnings.warn("Ran out of iterations and did not converge", ConvergenceWarning,
                          stacklevel=3)
        elif right_censored:
            infinite = (~np.isfinite(u)) | ((infs > control.eps) & (infs > control.tol_inf * np.abs(coef)))
        else:
            infinite = (~np.isfinite(u)) | (infs > control.tol_inf * (1 + np.abs(coef)))
    return CoxFitCore(coef=coef, var=var, loglik=(float(loglik[0]), float(loglik[1])),
                      score_test=float(sctest), iter=int(it), flag=int(flag), u=u, means=means,
                      linear_predictors=lp, singular=singular, infinite=infinite,
                      converged=converged)
