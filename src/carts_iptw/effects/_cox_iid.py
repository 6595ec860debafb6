"""Influence functions of a Cox model's predictions, as riskRegression computes them.

The twin of ``riskRegression::iidCox`` + ``predictCox(..., average.iid = )`` (riskRegression
2022.11.28) for an unstratified, right-censored ``survival::coxph`` fit without weights, used by
:func:`carts_iptw.effects.ate`. Conventions (riskRegression's ``calcE_cpp``, ``IFbeta_cpp``,
``IFlambda0_cpp``):

- ``t_k``: the distinct event times; ``S0_k = sum_{T_i >= t_k} exp(x_i'b)`` (uncentred
  covariates); ``E_k = S1_k / S0_k``;
- ``lambda_k``: the baseline hazard jump of ``predictCox`` (Efron's estimator for Efron ties,
  survival's ``basehaz(fit, centered = FALSE)``); ``Lambda0(t) = sum_{t_k <= t} lambda_k``;
- coefficient influence (scaled so that ``b_hat - b ~ sum_j IFb_j``)::

      IFb_j = V [d_j (x_j - E(T_j)) - r_j (x_j C1(T_j) - CE(T_j))]

  with ``V`` the fit's (naive) variance, ``r_j = exp(x_j'b)``, ``C1(t) = sum_{t_k <= t} 1/S0_k``
  and ``CE(t) = sum_{t_k <= t} E_k / S0_k`` (one term per distinct time, whatever the number of
  tied events, as riskRegression);
- cumulative baseline hazard::

      IFL_j(t) = -IFb_j'H(t) - r_j C(min(t, T_j)) + d_j / S0(T_j) 1{T_j <= t}

  with ``H(t) = sum_{t_k <= t} E_k lambda_k`` and ``C(t) = sum_{t_k <= t} lambda_k / S0_k``;
  the hazard jump at ``t = t_k``: ``-IFb_j'E_k lambda_k - r_j lambda_k / S0_k 1{t_k <= T_j} +
  d_j / S0_k 1{T_j = t_k}``.

Predictions use the exponential form ``S(t|x) = exp(-Lambda0(t) exp(x'b))`` (riskRegression's
``product.limit = FALSE``, its default for ``coxph`` objects). Every function returns, for each
observation ``j`` of the fit, ``sum_m a_m IF_j(prediction_m)`` for given factors ``a`` (R's
``average.iid`` with ``factor``), vectorised with cumulative sums; the result is never divided by
the number of predictions (the caller scales, as R's ``colMeans``).
"""

from __future__ import annotations

import numpy as np


class CoxIID:
    """The pieces of a fitted Cox model that its influence functions need.

    Parameters
    ----------
    X : numpy.ndarray
        (n, p) covariates of the fit (uncentred, row order).
    time, status : numpy.ndarray
        The response (status 0/1).
    coef : numpy.ndarray
        The coefficients.
    var : numpy.ndarray
        The (naive) variance, ``fit$var``.
    ties : str
        ``"efron"`` or ``"breslow"`` (the baseline hazard estimator).
    """

    def __init__(self, X, time, status, coef, var, ties: str = "efron"):
        X = np.asarray(X, dtype=float)
        self.n, self.p = X.shape
        self.X = X
        self.time = np.asarray(time, dtype=float)
        self.status = np.asarray(status, dtype=float)
        self.coef = np.asarray(coef, dtype=float)
        self.var = np.asarray(var, dtype=float).reshape(self.p, self.p)
        self.lp = X @ self.coef
        self.r = np.exp(self.lp)
        ev = self.status > 0
        tk = np.unique(self.time[ev])
        self.tk = tk
        # risk sets: S0_k = sum_{T_i >= t_k} r_i, S1_k likewise (reverse cumulative sums)
        order = np.argsort(self.time, kind="stable")
        ts = self.time[order]
        rs = self.r[order]
        S0_rev = np.cumsum(rs[::-1])[::-1]
        S1_rev = np.cumsum((X[order] * rs[:, None])[::-1], axis=0)[::-1]
        first = np.searchsorted(ts, tk, side="left")
        self.S0 = S0_rev[first]
        S1 = S1_rev[first]
        self.E = S1 / self.S0[:, None]
        # tied events at each time: count and sum of r
        kev = np.searchsorted(tk, self.time[ev])
        d = np.bincount(kev, minlength=len(tk)).astype(float)
        D = np.bincount(kev, weights=self.r[ev], minlength=len(tk))
        if ties == "efron":
            # Efron: sum_{l=0}^{d-1} 1 / (S0 - l/d D), vectorised over the tied events
            dd = d[kev]
            # position l of each event within its tie block
            pos = np.zeros(len(kev))
            if len(kev):
                so = np.argsort(kev, kind="stable")
                ks = kev[so]
                start = np.searchsorted(ks, ks, side="left")
                pos[so] = np.arange(len(ks)) - start
            terms = 1.0 / (self.S0[kev] - pos / dd * D[kev])
            self.lam = np.bincount(kev, weights=terms, minlength=len(tk))
        else:
            self.lam = d / self.S0
        self.Lam = np.cumsum(self.lam)
        self.C = np.cumsum(self.lam / self.S0)  # C(t_k)
        self.H = np.cumsum(self.E * self.lam[:, None], axis=0)  # H(t_k)
        C1 = np.cumsum(1.0 / self.S0)
        CE = np.cumsum(self.E / self.S0[:, None], axis=0)
        # k(T_j): index of the last event time <= T_j (-1 before the first)
        self.kT = np.searchsorted(tk, self.time, side="right") - 1
        kk = np.maximum(self.kT, 0)
        has = self.kT >= 0
        ET = np.where(has[:, None], self.E[kk], 0.0)
        score = self.status[:, None] * (X - ET)
        score -= self.r[:, None] * (X * np.where(has, C1[kk], 0.0)[:, None]
                                     - np.where(has[:, None], CE[kk], 0.0))
        self.IFbeta = score @ self.var.T
        # d_j / S0(T_j) for events
        self.dS0 = np.where(ev, 1.0 / self.S0[kk], 0.0)
        self.last_time = float(self.time.max())

    # -------------------------------------------------------------- step functions at times
    def _k(self, t) -> np.ndarray:
        """Index of the last event time <= t (-1 before the first)."""
        return np.searchsorted(self.tk, np.asarray(t, dtype=float), side="right") - 1

    def cumhazard0(self, t) -> np.ndarray:
        """Baseline cumulative hazard ``Lambda0(t)`` (uncentred)."""
        k = self._k(t)
        return np.where(k >= 0, self.Lam[np.maximum(k, 0)], 0.0)

    def hazard0(self, t) -> np.ndarray:
        """Baseline hazard jump at ``t`` (0 off the event times)."""
        t = np.asarray(t, dtype=float)
        k = self._k(t)
        kk = np.maximum(k, 0)
        on = (k >= 0) & (self.tk[kk] == t) if len(self.tk) else np.zeros(t.shape, bool)
        return np.where(on, self.lam[kk], 0.0)

    def _stepC(self, k):
        return np.where(k >= 0, self.C[np.maximum(k, 0)], 0.0)

    # -------------------------------------------------------------- averaged influence
    def avg_iid_cumhazard(self, t, A, B):
        """``sum_m A_m IFL_j(t_m) + IFb_j'B`` for each ``j``.

        ``t`` (M,), ``A`` (M, L), ``B`` (p, L); returns (n, L).
        """
        t = np.asarray(t, dtype=float)
        A = np.asarray(A, dtype=float).reshape(len(t), -1)
        km = self._k(t)
        Hm = np.where((km >= 0)[:, None], self.H[np.maximum(km, 0)], 0.0)  # (M, p)
        Bt = B - Hm.T @ A  # (p, L)
        out = self.IFbeta @ Bt
        # - r_j sum_m A_m C(min(t_m, T_j))
        o = np.argsort(t, kind="stable")
        ts = t[o]
        As = A[o]
        Cm = self._stepC(km[o])
        cumAC = np.vstack([np.zeros((1, A.shape[1])), np.cumsum(As * Cm[:, None], axis=0)])
        cumA = np.vstack([np.zeros((1, A.shape[1])), np.cumsum(As, axis=0)])
        totA = cumA[-1]
        nle = np.searchsorted(ts, self.time, side="right")  # number of t_m <= T_j
        CT = self._stepC(self.kT)
        s = cumAC[nle] + CT[:, None] * (totA[None, :] - cumA[nle])
        out -= self.r[:, None] * s
        # + d_j / S0(T_j) sum_{t_m >= T_j} A_m
        nlt = np.searchsorted(ts, self.time, side="left")
        out += self.dS0[:, None] * (totA[None, :] - cumA[nlt])
        return out

    def avg_iid_hazard(self, t, A, B):
        """``sum_m A_m IFlambda_j(t_m) + IFb_j'B`` for the baseline hazard jumps at ``t``.

        ``A`` (M, L) multiplies the baseline jump's influence; returns (n, L).
        """
        t = np.asarray(t, dtype=float)
        A = np.asarray(A, dtype=float).reshape(len(t), -1)
        km = self._k(t)
        kk = np.maximum(km, 0)
        on = (km >= 0) & (self.tk[kk] == t)
        lam = np.where(on, self.lam[kk], 0.0)
        S0 = np.where(on, self.S0[kk], np.inf)
        Em = np.where(on[:, None], self.E[kk], 0.0)
        Bt = B - (Em * lam[:, None]).T @ A
        out = self.IFbeta @ Bt
        # - r_j sum_{m: t_m <= T_j} A_m lambda_m / S0_m
        o = np.argsort(t, kind="stable")
        ts = t[o]
        w = (A * (lam / S0)[:, None])[o]
        cw = np.vstack([np.zeros((1, A.shape[1])), np.cumsum(w, axis=0)])
        nle = np.searchsorted(ts, self.time, side="right")
        out -= self.r[:, None] * cw[nle]
        # + d_j / S0(T_j) sum_{t_m == T_j} A_m
        ca = np.vstack([np.zeros((1, A.shape[1])), np.cumsum(A[o], axis=0)])
        nlt = np.searchsorted(ts, self.time, side="left")
        out += self.dS0[:, None] * (ca[nle] - ca[nlt])
        return out

    # -------------------------------------------------------------- predictions
    def lin_pred(self, Xnew) -> np.ndarray:
        """``exp(x'b)`` of new rows."""
        return np.exp(np.asarray(Xnew, float) @ self.coef)

    def survival(self, Xnew, t):
        """``S(t|x) = exp(-Lambda0(t) exp(x'b))``: (N, M) for common times ``t`` (M,)."""
        return np.exp(-np.outer(self.lin_pred(Xnew), self.cumhazard0(t)))

    def survival_diag(self, Xnew, t):
        """``S(t_i|x_i)``, one time per row: (N,)."""
        return np.exp(-self.lin_pred(Xnew) * self.cumhazard0(t))

    def avg_iid_survival(self, Xnew, t, F, mask=None, S=None):
        """``sum_{i,m} F_{i,m} mask_{m,l} IF_j(S(t_m | x_i))`` for each ``j`` and column ``l``.

        ``Xnew`` (N, p), ``t`` (M,), ``F`` (N, M), ``mask`` (M, L) (default: the identity, one
        column per time), ``S`` the predictions ``survival(Xnew, t)`` when already computed;
        returns (n, L).
        """
        Xnew = np.asarray(Xnew, float)
        t = np.asarray(t, dtype=float)
        F = np.asarray(F, dtype=float).reshape(len(Xnew), len(t))
        mask = np.eye(len(t)) if mask is None else np.asarray(mask, dtype=float)
        r = self.lin_pred(Xnew)
        L0 = self.cumhazard0(t)
        if S is None:
            S = np.exp(-np.outer(r, L0))
        a = F * S  # (N, M); times -r: the factor times dS/d(Lambda0 r)
        a *= -r[:, None]
        A = a.sum(axis=0)[:, None] * mask
        B = ((Xnew.T @ a) * L0[None, :]) @ mask
        return self.avg_iid_cumhazard(t, A, B)

    def avg_iid_survival_diag(self, Xnew, t, F):
        """``sum_i F_{i,l} IF_j(S(t_i | x_i))`` with one time per row; ``F`` (N, L); (n, L)."""
        Xnew = np.asarray(Xnew, float)
        t = np.asarray(t, dtype=float)
        F = np.asarray(F, dtype=float).reshape(len(t), -1)
        r = self.lin_pred(Xnew)
        L0 = self.cumhazard0(t)
        a = -F * (np.exp(-r * L0) * r)[:, None]
        B = Xnew.T @ (a * L0[:, None])
        return self.avg_iid_cumhazard(t, a, B)

    def avg_iid_hazard_pred(self, Xnew, t, F, mask):
        """``sum_{i,m} F_{i,m} mask_{m,l} IF_j(lambda0(t_m) exp(x_i'b))``; returns (n, L)."""
        Xnew = np.asarray(Xnew, float)
        t = np.asarray(t, dtype=float)
        F = np.asarray(F, dtype=float)
        mask = np.asarray(mask, dtype=float)
        r = self.lin_pred(Xnew)
        lam = self.hazard0(t)
        a = F * r[:, None]
        A = a.sum(axis=0)[:, None] * mask
        B = (Xnew.T @ a * lam[None, :]) @ mask
        return self.avg_iid_hazard(t, A, B)

    def product_sums(self, P, Wrow, Xnew):
        """Sums over rows ``(A, BB)`` of the row weights times ``P``.

        ``A[l, m] = sum_i w_il r_i P_im`` and ``BB[:, l, m] = sum_i w_il r_i P_im x_i`` with
        ``r_i = exp(x_i'b)``, for rows ``Xnew``; the sums of row blocks add up.
        """
        Xnew = np.asarray(Xnew, float)
        Wr = np.asarray(Wrow, float) * self.lin_pred(Xnew)[:, None]
        N, L = Wr.shape
        p = Xnew.shape[1]
        A = Wr.T @ P  # (L, M)
        XW = (Xnew[:, :, None] * Wr[:, None, :]).reshape(N, p * L)
        return A, (XW.T @ P).reshape(p, L, -1)

    def avg_iid_from_sums(self, t, A, BB, mask, hazard: bool = False):
        """Influence ``(n, L)`` of ``sum_{i,m} w_il P_im mask_ml Lambda_i(t_m)``.

        From the sums of :meth:`product_sums`; ``Lambda_i`` is the cumulative hazard, or the
        hazard jump when ``hazard``.
        """
        t = np.asarray(t, dtype=float)
        lvl = self.hazard0(t) if hazard else self.cumhazard0(t)
        Am = A.T * mask
        Bm = np.einsum("plk,k,kl->pl", BB, lvl, mask)
        if hazard:
            return self.avg_iid_hazard(t, Am, Bm)
        return self.avg_iid_cumhazard(t, Am, Bm)

    def avg_iid_products(self, t, P, Wrow, Xnew, mask, hazard: bool = False):
        """``sum_{i,m} Wrow_{i,l} P_{i,m} mask_{m,l} IF_j(Lambda_i(t_m))`` for each column ``l``.

        ``Lambda_i(t) = Lambda0(t) exp(x_i'b)`` (or the hazard jump ``lambda0(t) exp(x_i'b)`` when
        ``hazard``); the coefficient of row ``i`` and time ``m`` factorises into a row weight
        ``Wrow`` (N, L) and a matrix ``P`` (N, M), so the sums over rows are matrix products.
        ``mask`` (M, L); returns (n, L).
        """
        A, BB = self.product_sums(P, Wrow, Xnew)
        return self.avg_iid_from_sums(t, A, BB, mask, hazard)
