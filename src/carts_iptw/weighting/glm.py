"""Logistic propensity score fitted as WeightIt's ``method = "glm"`` fits it.

R twin: ``WeightIt:::weightit2glm`` (WeightIt 1.5.1, R/weightit2glm.R), binary treatment,
``link = "logit"``. WeightIt calls ``stats::glm(treat ~ covs, weights = s.weights,
mustart = .25 + .5 * treat, family = quasibinomial(), method = glm.fit,
control = glm.control(...))``. So the fit is ``glm.fit``'s IRLS (replayed by
:func:`carts_iptw.irls.glm_fit`) with:

* starting fitted values ``mu = 0.25 + 0.5 * treat`` (binomial's default start without prior
  weights; WeightIt keeps it also with sampling weights);
* prior weights = the sampling weights (1 when absent);
* quasibinomial family: same IRLS path, deviance and fitted values as binomial, no warning for
  non-integer successes;
* ``glm.control()`` defaults ``epsilon = 1e-8, maxit = 25`` unless ``control`` is given.

WeightIt first rescales its covariates (continuous ones centred and scaled by their SD, binary
ones recoded 0/1) and builds factor dummies its own way; that changes the coefficients' scale and
names but not the column space, hence not the IRLS iterates of the linear predictor nor the
propensity scores. Here the coefficients are on the formula's own scale with R's ``glm`` names
(``racehispan``), as ``glm(formula, family = binomial)`` reports them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from carts_iptw.families import ConvergenceWarning


@dataclass
class PSModel:
    """A fitted propensity-score GLM.

    Coefficients, convergence, iterations, deviance, fitted values, linear predictor and the IRLS
    result.
    """

    coef: pd.Series
    converged: bool
    iter: int
    deviance: float
    fitted: np.ndarray
    linear_predictor: np.ndarray
    fit: object  # the irls result


def fit_ps_glm(X: np.ndarray, names: list[str], treat: np.ndarray, s_weights: np.ndarray,
               control=None, treat_name: str = "treatment", describe=None) -> PSModel:
    """Fit the logistic propensity score model by glm.fit's IRLS (see module docstring).

    ``describe`` formats columns in messages (``ModelFrame.describe``: no factor levels).
    """
    from carts_iptw.irls import GlmControl, glm_fit

    if control is None:
        control = GlmControl()
    elif isinstance(control, dict):
        control = GlmControl(**control)
    y = np.asarray(treat, dtype=float)
    mustart = 0.25 + 0.5 * y
    fit = glm_fit(X, y, weights=np.asarray(s_weights, dtype=float), family="quasibinomial",
                  control=control, mustart=mustart, column_names=list(names),
                  describe=describe)
    if not fit.converged:
        warnings.warn(
            f"propensity score model (glm.fit IRLS) did not converge in {fit.iter} iterations "
            f"(epsilon = {control.epsilon}, maxit = {control.maxit}); increase maxit",
            ConvergenceWarning, stacklevel=3)
    mu = np.asarray(fit.fitted, dtype=float)
    if not fit.converged or np.any(np.minimum(mu, 1.0 - mu) < 1e-8):
        # glm.fit's symptoms of (quasi-)separation: confirm by the linear program and name the
        # covariates instead of returning weights from diverging coefficients.  (Utility
        # imported lazily: it depends only on numpy/scipy.)
        from carts_iptw.separation import detect_separation

        sep = detect_separation(X, y, list(names), np.asarray(s_weights, dtype=float))
        if sep.separated:
            kind = "complete" if sep.complete else "quasi-complete"
            raise ValueError(
                f"perfect separation ({kind}) of the treatment '{treat_name}' by "
                f"{(describe or ', '.join)(sep.infinite)}: propensity scores of 0 or 1 (infinite weights); "
                "remove or coarsen these covariates")
    coef = pd.Series(np.asarray(fit.coef, dtype=float), index=list(names))
    return PSModel(coef=coef, converged=bool(fit.converged), iter=int(fit.iter),
                   deviance=float(fit.deviance), fitted=np.asarray(fit.fitted, dtype=float),
                   linear_predictor=np.asarray(fit.linear_predictor, dtype=float), fit=fit)
