"""Entropy balancing for a binary treatment, as WeightIt's ``method = "ebal"``.

R twin: ``WeightIt:::weightit2ebal`` (WeightIt 1.5.1, R/weightit2ebal.R), ``moments = 1``,
``tols = 0``, base weights 1.

The covariate matrix is the model matrix of the formula (intercept first); every other column
is brought "closer to 1" as WeightIt's ``.make_covs_closer_to_1``: a column with two distinct
values becomes the 0/1 indicator of its larger value, any other is centred at its mean and
divided by its SD (``n - 1``). The column space, hence the weights, is the one WeightIt uses.

Sampling weights ``S`` are rescaled to mean 1 in the target sample (the whole sample for the
ATE, the focal group for the ATT/ATC) and ``N`` is the number of target units with non-zero
sampling weight. For each weighted group the dual

    f(Z) = sum_i S_i exp(-C_i' Z) / N + Z' M,   M = S-weighted mean of C in the target sample

is minimised (WeightIt: ``optim(method = "BFGS", reltol = 1e-10)`` on the equivalent dual
``log sum_i S_i exp(C_i' Z)`` of the covariates centred at the target means; here Newton's
method with step halving to machine precision, the same unique minimiser). The weights are
proportional to ``exp(-C_i' Z)``; they satisfy ``sum_i S_i w_i C_i / sum_i S_i w_i = M``
exactly (mean balance). As WeightIt 1.5.1, the weights of each weighted group are then scaled
to sum to that group's number of units with non-zero sampling weight ``n_g`` (lalonde ATE:
185 treated, 429 control; ATT: treated weights 1, control weights sum to 429). Focal units of
an ATT/ATC keep weight 1. WeightIt ignores ``stabilize`` for entropy balancing (with a
warning); so does :func:`weightit`.

WeightIt's default ``reltol = 1e-10`` stops its BFGS about 1e-4 (relative, in the weights)
short of the optimum; run with ``weightit(..., reltol = 1e-16)`` it agrees with this exact
solution to better than 1e-6 (checked live in the parity suite).

Reference: Hainmueller J (2012) Entropy balancing for causal effects. Political Analysis
20:25-46.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from carts_iptw.families import ConvergenceWarning


def closer_to_1(X: np.ndarray, names: list[str]) -> np.ndarray:
    """WeightIt's ``.make_closer_to_1`` applied to every non-intercept column."""
    C = np.array(X, dtype=float, copy=True)
    for j, nm in enumerate(names):
        if nm == "(Intercept)":
            continue
        x = C[:, j]
        u = np.unique(x)
        if u.size <= 1:
            continue
        if u.size == 2:
            C[:, j] = (x == u.max()).astype(float)
        else:
            C[:, j] = (x - x.mean()) / x.std(ddof=1)
    return C


def ebal_dual(C: np.ndarray, S: np.ndarray, M: np.ndarray, N: float, maxit: int = 200,
              tol: float = 1e-13) -> tuple[np.ndarray, int, bool]:
    """Minimise ``sum(S exp(-C Z))/N + Z.M`` by damped Newton. Returns (Z, iterations, converged)."""
    Z = np.zeros(C.shape[1])

    def f(z):
        return float(np.sum(S * np.exp(-C @ z)) / N + z @ M)

    fz = f(Z)
    for it in range(1, maxit + 1):
        w = np.exp(-C @ Z)
        g = -(S * w) @ C / N + M
        if np.max(np.abs(g)) < tol:
            return Z, it - 1, True
        H = (C * (S * w)[:, None]).T @ C / N
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H, g, rcond=None)[0]
        t = 1.0
        while t > 1e-12:
            Zn = Z - t * step
            fn = f(Zn)
            if np.isfinite(fn) and fn <= fz + 1e-4 * t * (g @ -step) + 1e-15 * abs(fz):
                break
            t /= 2
        Z, fz = Zn, fn
    w = np.exp(-C @ Z)
    g = -(S * w) @ C / N + M
    return Z, maxit, bool(np.max(np.abs(g)) < 1e-8)


def fit_ebal(X: np.ndarray, names: list[str], treat: np.ndarray, s_weights: np.ndarray,
             estimand: str, maxit: int = 200) -> tuple[np.ndarray, dict]:
    """Entropy-balancing weights. ``estimand`` is ATE, ATT (focal = 1) or ATC (focal = 0)."""
    if estimand not in ("ATE", "ATT", "ATC"):
        raise ValueError(f"method 'ebal' supports estimands ATE, ATT and ATC; got {estimand!r}")
    C = closer_to_1(X, names)
    if "(Intercept)" not in names:
        C = np.column_stack([np.ones(C.shape[0]), C])
        names = ["(Intercept)"] + list(names)
    # drop columns that are constant (besides the intercept) or collinear
    keep = [j for j in range(C.shape[1]) if names[j] == "(Intercept)" or np.ptp(C[:, j]) > 0]
    C, names = C[:, keep], [names[j] for j in keep]
    q, r = np.linalg.qr(C)
    diag = np.abs(np.diag(r))
    if (diag < 1e-7 * diag.max()).any():
        ok = diag >= 1e-7 * diag.max()
        C, names = C[:, ok], [n for n, k in zip(names, ok, strict=True) if k]
    t = np.asarray(treat, dtype=float)
    sw = np.asarray(s_weights, dtype=float)
    sw0 = np.abs(sw) < np.sqrt(np.finfo(float).eps)
    if estimand == "ATE":
        target = np.ones(t.size, dtype=bool)
        groups = [0, 1]
    else:
        focal = 1 if estimand == "ATT" else 0
        target = t == focal
        groups = [1 - focal]
    N = float(np.sum(~sw0 & target))
    S = sw / sw[target].mean()
    M = (S[target] @ C[target]) / S[target].sum()
    w = np.ones(t.size)
    duals, iters, convs = {}, {}, {}
    for g in groups:
        idx = np.flatnonzero((t == g) & ~sw0)
        Z, it, conv = ebal_dual(C[idx], S[idx], M, N, maxit=maxit)
        if not conv:
            warnings.warn(
                f"entropy balancing did not converge in {it} iterations for treatment group {g}; "
                "the weights may not balance the covariates (try fewer covariates)",
                ConvergenceWarning, stacklevel=3)
        wg = np.exp(-C[idx] @ Z)
        # WeightIt 1.5.1 (weightit2ebal's eb()): w <- w * n / sum(w), n = units weighted
        w[idx] = wg * (idx.size / wg.sum())
        duals[g] = pd.Series(Z, index=names)
        iters[g] = it
        convs[g] = bool(conv)
    return w, {"dual": duals, "iterations": iters, "design": pd.DataFrame(C, columns=names),
               "target_means": pd.Series(M, index=names), "N": N, "converged": convs}
