"""``svyglm``: survey-weighted GLM, the twin of ``survey::svyglm``."""

from __future__ import annotations

import warnings

import pandas as pd

from carts_iptw.design.results import ModelResult
from carts_iptw.design.sandwich import vcov_design
from carts_iptw.design.separation import check_separation
from carts_iptw.design.svydesign import SurveyDesign

FAMILIES = ("quasibinomial", "binomial", "gaussian", "quasipoisson", "poisson")


def _fit_glm(formula, data, family, weights, control):
    from carts_iptw.families import GlmWarning
    from carts_iptw.glm import glm

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = glm(formula, data, family=family, weights=weights, control=control)
    notes = []
    for w in caught:
        msg = str(w.message)
        if "non-integer" in msg:
            continue  # R's binomial warning for weighted fits: expected with IPT weights
        if issubclass(w.category, GlmWarning):
            notes.append(f"warning: {msg}")
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return fit, notes


def svyglm(formula: str, design: SurveyDesign, family: str = "quasibinomial", control=None,
           check_separation_: bool = True) -> ModelResult:
    """Survey-weighted generalised linear model; twin of ``survey::svyglm(formula, design,
    family = quasibinomial())``.

    Fit: ``glm(formula, weights = w / mean(w))`` (survey's rescaled weights; the coefficients
    do not depend on the scale), glm.fit's IRLS replayed (``control`` = R's
    ``glm.control``, default ``epsilon = 1e-8``).  Covariance: ``svy.varcoef`` -- the
    linearisation sandwich ``svyrecvar(estfun %*% A)`` with ``A = cov.unscaled`` of the last
    IRLS step (for ``ids = ~1`` this is HC0 times ``n / (n - 1)`` after centring).
    Reference distribution: t with ``df.residual = degf(design) + 1 - rank`` for every family
    (``summary.svyglm``); ``confint()`` is ``confint.svyglm``'s Wald default with the same df.
    Families: quasibinomial (default here, as used for weighted binary outcomes), binomial,
    gaussian, quasipoisson, poisson.  Binary families check for (quasi-)separation first and
    raise ``ValueError`` naming the covariates (see :func:`check_separation`).
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}; got {family!r}")
    if not isinstance(design, SurveyDesign):
        raise TypeError("design must be a SurveyDesign from svydesign()")
    data = design.data
    w = design.weights / design.weights.mean()
    if check_separation_ and family in ("binomial", "quasibinomial"):
        check_separation(formula, data, weights=w)
    fit, notes = _fit_glm(formula, data, family, w, control)
    X = fit.X
    V = vcov_design(fit, X, design)
    names = fit.column_names
    df = design.degf() + 1 - int(fit.rank)
    res = ModelResult(
        fit.coef.rename(None), pd.DataFrame(V, index=names, columns=names), float(df),
        model="svyglm", vcov_type="design-based (linearisation)", family=family,
        link=fit.family.link.name, formula=formula, n=design.n, glm=fit, notes=notes,
    )
    res.design = design
    res.dispersion = None
    return res

