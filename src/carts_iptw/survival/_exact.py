"""The exact partial likelihood for tied event times (``ties = "exact"``).

Replays survival's coxexact.fit / coxexact.c (right-censored data, no case weights).

At an event time with d tied deaths and risk set R (all rows with time >= t in the stratum) the
likelihood term is exp(sum of the deaths' eta) / e_d(R), e_d the elementary symmetric polynomial
of degree d of the risk scores r = exp(eta) (Gail, Lubin & Rubinstein 1981; Therneau & Grambsch
2000, sec. 3.3). With rows in survival's order (stratum, decreasing time), the risk sets are
prefixes and e_k over every prefix is one cumulative sum per degree:
E_k(m) = E_k(m - 1) + r_m E_{k-1}(m - 1), likewise its first and second derivatives (coxd0, coxd1,
coxd2). Work O(n d_max p^2), loops over the degree only.

coxexact.fit conventions: covariates centred and scaled by ``scale()`` (mean, sd), columns coded
only -1/0/1 left alone; Newton steps with a single step-halving rule (beta <- (old + beta) / 2);
convergence when |1 - loglik_best / loglik_new| <= eps and the last step was not halved.
"""

from __future__ import annotations

import warnings

import numpy as np

from carts_iptw.families import ConvergenceWarning
from carts_iptw.survival._chol import chinv2, cholesky2, chsolve2


class ExactTerms:
    """Row order, strata and tied-death groups of survival's coxexact."""

    def __init__(self, time, event, strata=None):
        time = np.asarray(time, dtype=float)
        n = len(time)
        sid = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
        self.order = np.lexsort((-time, sid))  # R: order(strata, -time)
        t = time[self.order]
        s = sid[self.order]
        e = np.asarray(event, dtype=float)[self.order]
        self.event = e
        self.n = n
        # stratum segments and, within each, the ends of the runs of equal times
        seg_start = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        self.segments = list(zip(seg_start, np.r_[seg_start[1:], n], strict=True))
        self.groups = []
        for a, b in self.segments:
            tt = t[a:b]
            last = np.flatnonzero(np.r_[tt[1:] != tt[:-1], True])  # last row of each time run
            first = np.r_[0, last[:-1] + 1]
            d = np.add.reduceat(e[a:b], first) if len(first) else np.zeros(0)
            keep = d > 0
            self.groups.append((last[keep] + 1, d[keep].astype(np.int64)))  # prefix lengths

    def evaluate(self, X, beta, offset):
        """loglik, score u, information imat at beta (X in survival's row order)."""
        p = X.shape[1]
        eta = X @ beta + offset
        r = np.exp(eta)
        dead = self.event > 0
        loglik = float(np.sum(eta[dead]))
        u = X[dead].sum(axis=0)
        imat = np.zeros((p, p))
        for (a, b), (ends, d) in zip(self.segments, self.groups, strict=True):
            if len(ends) == 0:
                continue
            x = X[a:b]
            rr = r[a:b]
            m = b - a
            dmax = int(d.max())
            E = np.ones(m + 1)  # E_0 over prefixes 0..m
            G = np.zeros((m + 1, p))
            H = np.zeros((m + 1, p, p))
            xx = x[:, :, None] * x[:, None, :]
            for k in range(1, dmax + 1):
                E_prev, G_prev, H_prev = E[:-1], G[:-1], H[:-1]
                inc_h = xx * E_prev[:, None, None]
                xg = x[:, :, None] * G_prev[:, None, :]
                inc_h += xg
                inc_h += np.swapaxes(xg, 1, 2)
                inc_h += H_prev
                inc_h *= rr[:, None, None]
                inc_g = x * E_prev[:, None]
                inc_g += G_prev
                inc_g *= rr[:, None]
                E = np.concatenate([[0.0], np.cumsum(rr * E_prev)])
                G = np.concatenate([np.zeros((1, p)), np.cumsum(inc_g, axis=0)])
                H = np.concatenate([np.zeros((1, p, p)), np.cumsum(inc_h, axis=0)])
                sel = d == k
                if not sel.any():
                    continue
                idx = ends[sel]
                d0 = E[idx]
                d1 = G[idx] / d0[:, None]
                loglik -= float(np.sum(np.log(d0)))
                u -= d1.sum(axis=0)
                imat += (H[idx] / d0[:, None, None]).sum(axis=0) - d1.T @ d1
        return loglik, u, imat


def coxexact_fit(X, time, event, strata=None, offset=None, init=None, control=None):
    """Replay of survival::coxexact.fit; returns a dict in the original coefficient scale."""
    from carts_iptw.survival._coxfit import CoxControl

    control = control or CoxControl()
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    et = ExactTerms(time, event, strata)
    o = et.order
    off = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)[o]
    Xo = X[o]
    means = Xo.mean(axis=0)
    sd = Xo.std(axis=0, ddof=1) if n > 1 else np.ones(p)
    zero_one = np.all(np.isin(X, (-1.0, 0.0, 1.0)), axis=0)
    means = np.where(zero_one, 0.0, means)
    rescale = np.where(zero_one, 1.0, sd)
    Xs = (Xo - means) / rescale
    beta = np.zeros(p) if init is None else np.asarray(init, dtype=float) * rescale
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        lk0, u, imat = et.evaluate(Xs, beta, off)
    f, flag = cholesky2(imat, control.toler_chol)
    step = chsolve2(f, u)
    sctest = float(step @ u)
    best = lk0
    maxiter = control.iter_max
    it = 0
    converged = True
    if maxiter == 0:
        var = chinv2(f)
        newlk = lk0
    else:
        oldbeta = beta
        beta = beta + step
        halving = False
        converged = False
        for it in range(1, maxiter + 1):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                newlk, u, imat = et.evaluate(Xs, beta, off)
            f, flag = cholesky2(imat, control.toler_chol)
            if abs(1 - best / newlk) <= control.eps and not halving:
                converged = True
                break
            if it == maxiter:
                break
            if newlk < best:
                halving = True
                beta = (oldbeta + beta) / 2
            else:
                halving = False
                best = newlk
                step = chsolve2(f, u)
                oldbeta = beta
                beta = beta + step
        var = chinv2(f)
        if not converged:
            flag = 1000
    singular = (np.diag(var) == 0) if flag < p else np.zeros(p, bool)
    infinite = np.zeros(p, bool)
    if maxiter > 1:
        infs = np.abs(u @ var)
        if flag == 1000:
            warnings.warn("Ran out of iterations and did not converge", ConvergenceWarning, stacklevel=3)
        else:
            infinite = (infs > control.eps) & (infs > control.tol_inf * np.abs(beta))
    lp_sorted = Xs @ beta + off
    lp = np.empty(n)
    lp[o] = lp_sorted
    return {"coef": beta / rescale, "var": var / np.outer(rescale, rescale),
            "loglik": (float(lk0), float(newlk)), "score_test": sctest, "iter": int(it),
            "flag": int(flag), "singular": singular, "infinite": infinite, "means": means,
            "linear_predictors": lp, "converged": converged}
