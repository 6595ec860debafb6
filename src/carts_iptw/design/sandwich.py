"""Sandwich covariance matrices for GLMs fitted by :func:`carts_iptw.glm_model.glm`.

All share R's estimating function for a GLM, ``estfun = X * r_working * w_working`` (the
working residuals and working weights of glm.fit's last iteration; sandwich::estfun.glm,
survey:::svy.varcoef) and the bread ``A = summary.glm(fit)$cov.unscaled`` (from the final IRLS
QR), so each matches its R twin to rounding, including at R's default convergence:

* :func:`vcov_hc` -- ``sandwich::vcovHC(fit, type = "HC0" | "HC1")``:
  ``A (sum_i u_i u_i') A``, HC1 times ``n / (n - k)`` (Zeileis 2006, JSS 16(9)).
* :func:`vcov_design` -- ``survey::svyglm``'s ``svy.varcoef``: ``svyrecvar(estfun %*% A)``
  (centred PSU totals times ``n_h / (n_h - 1)``; Binder 1983).
"""

from __future__ import annotations

import numpy as np

from carts_iptw.design.svydesign import SurveyDesign


def _parts(fit, X):
    """(estfun, bread) on the non-aliased columns."""
    from carts_iptw.irls import GlmFit

    f = fit if isinstance(fit, GlmFit) else fit.fit
    keep = ~np.asarray(f.aliased, dtype=bool)
    Xk = np.asarray(X, dtype=float)
    if not keep.all():
        Xk = Xk[:, keep]
    u = Xk * (f.working_residuals * f.working_weights)[:, None]
    A = np.asarray(f.cov_unscaled)[np.ix_(keep, keep)]
    return u, A, keep


def _expand(V, keep):
    p = len(keep)
    out = np.full((p, p), np.nan)
    out[np.ix_(keep, keep)] = V
    return out


def vcov_hc(fit, X, type: str = "HC0") -> np.ndarray:
    """Heteroskedasticity-consistent covariance; twin of ``sandwich::vcovHC(glm, type)``.

    ``fit`` is a :class:`~carts_iptw.irls.GlmFit` (or a ``glm()`` result); ``X`` its model
    matrix. Aliased coefficients get NaN rows/columns.
    """
    if type not in ("HC0", "HC1"):
        raise ValueError("type must be 'HC0' or 'HC1'")
    u, A, keep = _parts(fit, X)
    V = A @ (u.T @ u) @ A
    if type == "HC1":
        n, k = u.shape
        V = V * n / (n - k)
    return _expand(V, keep)


def vcov_design(fit, X, design: SurveyDesign) -> np.ndarray:
    """Design-based (linearisation) covariance of GLM coefficients; ``survey:::svy.varcoef``."""
    u, A, keep = _parts(fit, X)
    return _expand(design.recvar(u @ A, overwrite=True), keep)
