"""``glm_robust``: a (weighted) GLM with heteroskedasticity-consistent ("robust") SEs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from carts_iptw._diagnostics import warn_extreme_weights
from carts_iptw._validation import check_weights, numeric_column_or_vector, require_dataframe
from carts_iptw.design.results import ModelResult
from carts_iptw.design.sandwich import vcov_hc
from carts_iptw.design.svyglm import _fit_glm
from carts_iptw.families import CartsIptwWarning
from carts_iptw.results import renamed_keyword
from carts_iptw.separation import check_separation, check_separation_after_fit


def glm_robust(formula: str, data: pd.DataFrame, weights=None, family: str = "binomial",
               vcov: str = "HC0", control=None, firth: bool = False, **deprecated):
    """GLM with sandwich standard errors; twin of ``glm`` + ``sandwich::vcovHC`` + ``lmtest::coeftest``.

    Parameters
    ----------
    formula : str
        R model formula, e.g. ``"y ~ treat"``.
    data : pandas.DataFrame
        The data.
    weights : str or array-like, optional
        A column name or an array (e.g. IPT weights).
    family : str, default "binomial"
        A :func:`glm` family name.
    vcov : {"HC0", "HC1"}, default "HC0"
        The covariance keyword of every model function (``glm_weightit``, the causal contrasts).
        ``vcov_type=`` still works for one release, with a deprecation warning.
    control : GlmControl or dict, optional
        R's ``glm.control``.
    firth : bool, default False
        Fit Firth's penalised likelihood instead (:func:`logistf`, profile-likelihood CIs,
        model-based variance).
    **deprecated
        Old keyword spellings (``vcov_type``).

    Returns
    -------
    ModelResult or FirthResult
        A ``ModelResult`` (normal reference, ``df_residual = inf``), or a Firth result
        (:func:`logistf`) with ``firth=True``.

    Raises
    ------
    ValueError
        For an unknown ``vcov`` or family, ``firth=True`` with a non-binomial family, negative /
        missing weights, separation (binary families), missing values, aliased terms.

    Notes
    -----
    Twin of ``glm(formula, data, weights = w, family = ...)`` + ``sandwich::vcovHC(fit, type =
    "HC0" | "HC1")`` + ``lmtest::coeftest`` / ``coefci`` (normal reference, as
    ``coeftest.glm``'s ``df = Inf``).

    The fit replays glm.fit's IRLS, and the sandwich uses its last-iteration working weights
    and residuals, so it equals R's at R's default convergence.  HC0: ``A (sum u_i u_i') A``;
    HC1: times ``n/(n-k)``. For a weighted logistic model this is the "robust SE" most IPTW
    papers report.  Unlike ``svyglm`` there is no ``n/(n-1)`` factor and no centring.  Binary
    families check for separation and raise naming the covariates.

    Formula (Zeileis 2006): ``V = A^-1 B A^-1`` with ``A^-1 = (X' W X)^-1`` (glm's
    ``cov.unscaled``) and ``B = sum_i U_i U_i'``, ``U_i = x_i w_i (y_i - mu_i) / V(mu_i) *
    dmu/deta`` (``sandwich::estfun.glm``); HC1 multiplies by ``n / (n - k)``. Inference:
    ``z = b / se`` against the normal, as ``lmtest::coeftest(fit, vcov. = vcovHC(fit, "HC0"))``.
    These are the usual "robust" IPTW standard errors; they ignore the estimation of the weights
    (conservative for the ATE; see :func:`glm_weightit`).

    Weights' scale (a documented difference from R): the estimates and the HC0/HC1 sandwich do
    not depend on the weights' scale at convergence (``A`` scales by ``k``, ``B`` by ``k^2``),
    but glm.fit's binomial starting values ``(w y + 0.5) / (w + 1)`` do, and IPT weights
    multiplied by 1e2-1e4 make R's IRLS diverge (``glm`` returns coefficients near 1e15 with
    "algorithm did not converge"). Here the fit is R's, on the weights as given, whenever it
    converges; when it does not, it is refitted with the weights normalised to mean 1 (as
    ``svyglm`` normalises them) and, if that converges, that fit is returned with a
    ``CartsIptwWarning`` saying so (``.notes`` too). Extreme weights (largest / smallest > 1e6
    or a Kish effective sample size below 5% of the rows) and near-collinear terms warn
    (``CartsIptwWarning``, naming the terms); a sandwich variance that rounding makes negative
    gives a NaN standard error with a warning naming the term, never silently.

    R twin versions: R 4.2.2 ``stats``, sandwich 3.0-2.

    References
    ----------
    White H (1980) Econometrica 48:817-838; Zeileis A (2006) J Stat Softw 16(9); Austin PC,
    Stuart EA (2015) Stat Med 34:3661-3679 (robust SEs with IPT weights).
    """
    vcov = renamed_keyword(deprecated, "vcov_type", "vcov", vcov, "HC0", "glm_robust")
    if vcov not in ("HC0", "HC1"):
        raise ValueError("vcov must be 'HC0' or 'HC1'")
    if firth:
        from carts_iptw.design.firth import logistf

        if family not in ("binomial", "quasibinomial"):
            raise ValueError("firth=True needs a binomial family")
        return logistf(formula, data, weights=weights)
    w = None
    if weights is not None:
        w = check_weights(numeric_column_or_vector(weights, require_dataframe(data), "weights"),
                          "weights")
        warn_extreme_weights(w, "glm_robust: weights")
    binary = family in ("binomial", "quasibinomial")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit, notes = _fit_glm(formula, data, family, weights if w is None else w, control)
        except Exception:
            if binary:  # separation first, as if checked before the fit
                check_separation(formula, data, weights=w)
            raise
    refitted = False
    if not fit.converged and w is not None and not np.isclose(w.mean(), 1.0):
        # glm.fit's binomial start (w y + 0.5) / (w + 1) depends on the weights' scale: weights
        # in the hundreds start IRLS near 0/1 and it can diverge (R's glm does the same). The
        # estimates and the HC0/HC1 sandwich do not depend on the scale at convergence, so
        # refit with weights of mean 1 (svyglm's normalisation) and say so.
        with warnings.catch_warnings(record=True) as caught2:
            warnings.simplefilter("always")
            try:
                fit2, notes2 = _fit_glm(formula, data, family, w / w.mean(), control)
            except Exception:
                if binary:
                    check_separation(formula, data, weights=w)
                raise
        if fit2.converged:
            fit, notes, caught = fit2, notes2, caught2
            notes.append("weights normalised to mean 1: the fit did not converge on their scale")
            refitted = True
    if binary:
        # the LP of check_separation runs only when the fit's score does not certify that
        # there is no separation (separation_excluded); raises before any warning is shown
        check_separation_after_fit(formula, data, w, fit)
    if refitted:
        warnings.warn(
            "glm_robust: glm.fit's IRLS did not converge with the weights on their given "
            "scale (their mean sets the binomial starting values); refitted with the weights "
            "normalised to mean 1, which converged (estimates and sandwich standard errors "
            "do not depend on the weights' scale at convergence; R's glm would return the "
            "diverged fit)", CartsIptwWarning, stacklevel=2)
    for c in caught:
        warnings.warn_explicit(c.message, c.category, c.filename, c.lineno)
    V = vcov_hc(fit, fit.X, vcov)
    names = fit.column_names
    d = np.diag(V)
    bad = ~(d >= 0)
    if bad.any():  # rounding in a (near-)singular design: never a NaN SE without a reason
        warnings.warn(
            f"glm_robust: the sandwich variance of {fit.model_frame.describe(np.asarray(names)[bad])} "
            "is negative or undefined (rounding in a numerically singular design): standard "
            "error NaN; remove or combine near-collinear terms", CartsIptwWarning, stacklevel=2)
        V = V.copy()
        V[bad, :] = np.nan
        V[:, bad] = np.nan
    return ModelResult(
        fit.coef.rename(None), pd.DataFrame(V, index=names, columns=names), np.inf,
        model="glm_robust", vcov_type=f"sandwich {vcov}", family=family,
        link=fit.family.link.name, formula=formula, n=fit.n, glm=fit, notes=notes,
        data=data.copy(),  # for avg_comparisons (a copy: later edits of data do not leak in)
    )
