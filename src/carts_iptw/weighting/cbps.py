"""Just-identified covariate balancing propensity score, as WeightIt's ``method = "cbps"``.

R twin: ``WeightIt:::weightit2cbps`` (WeightIt 1.5.1, R/weightit2cbps.R) with its default
``over = FALSE`` and the logit link (Imai & Ratkovic 2014). The propensity score
``p = plogis(X b)`` solves the balance conditions ``mean_i SW_i psi_i(b) X_i = 0`` with

* ATE: ``psi = A / p - (1 - A) / (1 - p)``
* ATT: ``psi = (A - p) / (1 - p)``
* ATC: ``psi = (A - p) / p``
* ATO: ``psi = A (1 - p) - (1 - A) p = A - p`` (with the logit link, the logistic-regression
  score: the CBPS propensity score is the maximum-likelihood one)

where ``X`` has an intercept and spans the formula's columns (WeightIt uses the intercept and the
scaled left singular vectors of its covariates: the same column space, hence the same
propensity score). WeightIt minimises ``||mean psi X||`` by BFGS (``reltol = 1e-10``) from glm
starting values and, without the rootSolve package (not installed with it here), stalls short of
the root (lalonde ATE: max |standardised mean difference| 2.4e-4 even at ``reltol = 1e-16``);
here the same system is solved by Newton's method with step halving from the
logistic-regression fit, to machine precision (the just-identified system has an exact root, the
one WeightIt's optimiser approaches). Weights then follow :func:`get_w_from_ps`.
"""

from __future__ import annotations

import warnings

import numpy as np

from carts_iptw.families import ConvergenceWarning


def _orthonormal_design(X: np.ndarray, names: list[str]) -> np.ndarray:
    cols = [j for j, n in enumerate(names) if n != "(Intercept)"]
    Z = X[:, cols]
    u, s, _ = np.linalg.svd(Z - Z.mean(axis=0), full_matrices=False)
    u = u[:, s > 1e-10 * s.max()]
    u = (u - u.mean(axis=0)) / u.std(axis=0, ddof=1)
    return np.column_stack([np.ones(X.shape[0]), u])


def _psi_and_jac(b, Xm, A, SW, estimand):
    # a diverging step (separated data) overflows; the caller sees a non-finite norm and halves
    # the step or stops and reports (no numpy RuntimeWarning reaches the user)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        eta = Xm @ b
        p = 1.0 / (1.0 + np.exp(-eta))
        if estimand == "ATE":
            g = A / p - (1 - A) / (1 - p)
            dg = -A * (1 - p) / p - (1 - A) * p / (1 - p)
        elif estimand == "ATT":
            g = (A - p) / (1 - p)
            dg = (A - 1) * p / (1 - p)
        elif estimand == "ATC":
            g = (A - p) / p
            dg = -A * (1 - p) / p
        else:  # ATO
            g = A - p
            dg = -p * (1 - p)
        n = A.size
        gbar = (SW * g) @ Xm / n
        J = (Xm * (SW * dg)[:, None]).T @ Xm / n
    return gbar, J, p


def fit_cbps(X: np.ndarray, names: list[str], treat: np.ndarray, s_weights: np.ndarray,
             estimand: str, maxit: int = 100) -> tuple[np.ndarray, dict]:
    """Propensity score of the just-identified CBPS (see module docstring)."""
    if estimand not in ("ATE", "ATT", "ATC", "ATO"):
        raise ValueError(f"method 'cbps' supports estimands ATE, ATT, ATC and ATO; got {estimand!r}")
    from carts_iptw.irls import GlmControl, glm_fit

    A = np.asarray(treat, dtype=float)
    SW = np.asarray(s_weights, dtype=float)
    Xm = _orthonormal_design(np.asarray(X, dtype=float), names)
    start = glm_fit(Xm, A, weights=SW, family="quasibinomial", mustart=0.25 + 0.5 * A,
                    control=GlmControl(epsilon=1e-12, maxit=100))
    b = np.asarray(start.coef, dtype=float)
    gbar, J, p = _psi_and_jac(b, Xm, A, SW, estimand)
    norm = np.linalg.norm(gbar)
    converged = False
    it = 0
    while it < maxit:
        it += 1
        step = np.linalg.solve(J, gbar)
        t = 1.0
        while t > 1e-10:
            bn = b - t * step
            gn, Jn, pn = _psi_and_jac(bn, Xm, A, SW, estimand)
            nn = np.linalg.norm(gn)
            if np.isfinite(nn) and nn < norm:
                break
            t /= 2
        else:
            break
        b, gbar, J, p, norm = bn, gn, Jn, pn, nn
        if norm < 1e-13:
            converged = True
            break
    if not converged and norm > 1e-8:
        warnings.warn(f"CBPS balance equations not solved after {it} Newton iterations "
                      f"(|mean psi X| = {norm:.2e}); the weights may not balance the covariates",
                      ConvergenceWarning, stacklevel=3)
    return p, {"cbps": {"iterations": it, "balance_norm": float(norm), "coef_scaled": b}}
