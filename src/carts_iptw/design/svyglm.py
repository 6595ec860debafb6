"""``svyglm``: survey-weighted GLM, the twin of ``survey::svyglm``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from carts_iptw._validation import numeric_column_or_vector
from carts_iptw.design.results import ModelResult
from carts_iptw.design.sandwich import vcov_design
from carts_iptw.design.svydesign import SurveyDesign
from carts_iptw.separation import check_separation, check_separation_after_fit

FAMILIES = ("quasibinomial", "binomial", "gaussian", "quasipoisson", "poisson")


def _check_terms(formula, data, weights):
    """Raise for a term that is constant among the rows with positive weight (R: NA)."""
    from carts_iptw.formula import model_frame

    if weights is None:
        return
    pos = numeric_column_or_vector(weights, data, "weights") > 0
    if pos.all() or not pos.any():
        return
    mf = model_frame(formula, data)
    X = mf.X[pos]
    bad = [nm for j, nm in enumerate(mf.column_names)
           if nm != "(Intercept)" and np.ptp(X[:, j]) == 0]
    if bad:
        raise ValueError(
            f"term(s) {mf.describe(bad)} are constant among the {int(pos.sum())} rows with positive weight "
            "(a group with zero total weight?); R would report NA coefficients"
        )


def _fit_glm(formula, data, family, weights, control, frames=None):
    """glm() with glm.fit's warnings passed on (as survey::svyglm) and kept as notes.

    Singular designs raise naming the aliased terms (R reports NA coefficients: documented
    difference).
    """
    from carts_iptw.families import GlmWarning
    from carts_iptw.glm_model import glm

    _check_terms(formula, data, weights)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = glm(formula, data, family=family, weights=weights, control=control,
                  frames=frames)
    notes = []
    for w in caught:
        msg = str(w.message)
        if "singularities" in msg:
            continue  # aliasing raises below
        # glm.fit's warnings pass on as survey::svyglm passes them on (it suppresses none):
        # "non-integer #successes in a binomial glm!" (family="binomial" with non-integer
        # weights), "fitted probabilities numerically 0 or 1 occurred", "algorithm did not
        # converge"
        if issubclass(w.category, GlmWarning):
            notes.append(f"warning: {msg}")
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if fit.aliased.any():
        names = list(fit.aliased.index[fit.aliased.to_numpy()])
        raise ValueError(f"the design matrix is singular: aliased term(s) "
                         f"{fit.model_frame.describe(names)} (R reports "
                         "NA coefficients); remove them from the formula")
    return fit, notes


def fit_checking_separation(formula, data, family, w, control, fit_glm=None, frames=None):
    """``_fit_glm`` for a binomial family; separation raises as if checked before the fit.

    The fit runs first with its warnings held back; its score proves the absence of separation
    in the usual case (:func:`~carts_iptw.separation.separation_excluded`), else the linear
    program decides. On separation (or when the fit itself fails and the data are separated)
    :class:`SeparationError` is raised and the fit's warnings are dropped, as when the check ran
    before the fit; otherwise they are re-emitted.
    """
    if fit_glm is None:
        def fit_glm(formula, data, family, w, control):
            return _fit_glm(formula, data, family, w, control, frames=frames)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fit_glm(formula, data, family, w, control)
        except Exception:
            check_separation(formula, data, weights=w, frames=frames)
            raise
    check_separation_after_fit(formula, data, w, out[0], frames=frames)
    for c in caught:
        warnings.warn_explicit(c.message, c.category, c.filename, c.lineno)
    return out


def svyglm(formula: str, design: SurveyDesign, family: str = "quasibinomial", control=None,
           check_separation_: bool = True, *, frames=None) -> ModelResult:
    """Survey-weighted generalised linear model; twin of ``survey::svyglm``.

    Parameters
    ----------
    formula : str
        R model formula, e.g. ``"y ~ treat + age"``.
    design : SurveyDesign
        The design (:func:`svydesign`).
    family : str, default "quasibinomial"
        ``"quasibinomial"`` (default here, as used for weighted binary outcomes), ``"binomial"``,
        ``"gaussian"``, ``"quasipoisson"`` or ``"poisson"``.
    control : GlmControl or dict, optional
        R's ``glm.control`` (default ``epsilon = 1e-8``).
    check_separation_ : bool, default True
        Check binary families for (quasi-)separation first.
    frames : FrameCache, optional
        A :class:`~carts_iptw.formula.cache.FrameCache` shared by the models of one design
        (e.g. a study's outcome models, which differ only in the response): the model matrix
        of the right-hand side is built once (the same numbers; R builds it per fit).

    Returns
    -------
    ModelResult
        ``.coef``, ``.vcov``, ``.se``, ``.statistic``, ``.p_values`` (t on ``df_residual``),
        ``.confint()``, ``.odds_ratios()`` (logit), ``.coef_table()``, ``.summary()`` and
        ``.glm`` (the underlying fit).

    Raises
    ------
    TypeError
        ``design`` is not a :func:`svydesign` result.
    ValueError
        Unknown family; separation (naming the covariates, see :func:`check_separation`);
        constant / aliased terms; missing values; a response outside [0, 1] for binomial
        families.

    Notes
    -----
    Twin of ``survey::svyglm(formula, design, family = quasibinomial())``.

    Fit: ``glm(formula, weights = w / mean(w))`` (survey's rescaled weights; the coefficients do
    not depend on the scale), glm.fit's IRLS replayed.  Covariance: ``svy.varcoef`` -- the
    linearisation sandwich ``svyrecvar(estfun %*% A)`` with ``A = cov.unscaled`` of the last
    IRLS step (for ``ids = ~1`` this is HC0 times ``n / (n - 1)`` after centring). Reference
    distribution: t with ``df.residual = degf(design) + 1 - rank`` for every family
    (``summary.svyglm``); ``confint()`` is ``confint.svyglm``'s Wald default with the same df.

    Formula (survey 4.1-1, Binder 1983)::

        V(b) = A^-1 B A^-1,  A^-1 = cov.unscaled = (X' W X)^-1,
        B = svyrecvar(U) = n/(n-1) sum_i (U_i - Ubar)(U_i - Ubar)'   (ids = ~1, no strata),
        U_i = x_i * W_i * r_i = x_i w_i (y_i - mu_i) mu.eta_i / V(mu_i),

    with ``W_i`` the final working weights (which include the rescaled sampling weights ``w_i``)
    and ``r_i`` the working residuals (survey's ``svy.varcoef``).

    Differences from R (documented): missing values raise (no na.omit); a term constant among
    the rows with positive weight, and a singular design (aliased terms), raise ``ValueError``
    naming the terms, where R reports NA coefficients; (quasi-)separated binary outcomes raise
    (R: fitted probabilities 0 or 1 and a warning), unless ``check_separation_=False``.

    Warnings: R's, mirrored (survey passes glm.fit's warnings on; checked against survey 4.1-1
    by the ``svyglm.warnings.*`` parity cases): ``GlmWarning`` "non-integer #successes in a
    binomial glm!" for ``family="binomial"`` with non-integer weights (IPT weights: use the
    default ``"quasibinomial"``, which gives the same coefficients without it), "glm.fit:
    fitted probabilities numerically 0 or 1 occurred" (binomial, ``check_separation_=False``)
    and "glm.fit: algorithm did not converge". The design's own check of extreme weights
    (:func:`svydesign`) is this package's, not R's.

    R twin version: survey 4.1-1.

    References
    ----------
    Binder DA (1983) Int Stat Rev 51:279-292; Lumley T (2004) J Stat Softw 9(8); Lumley T,
    Scott A (2017) Stat Sci 32:265-278; survey 4.1-1 ``?svyglm``.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}; got {family!r}")
    if not isinstance(design, SurveyDesign):
        raise TypeError("design must be a SurveyDesign from svydesign()")
    data = design.data
    w = design.weights / design.weights.mean()
    if check_separation_ and family in ("binomial", "quasibinomial"):
        fit, notes = fit_checking_separation(formula, data, family, w, control, frames=frames)
    else:
        fit, notes = _fit_glm(formula, data, family, w, control, frames=frames)
    X = fit.X
    V = vcov_design(fit, X, design)
    names = fit.column_names
    df = design.degf() + 1 - int(fit.rank)
    res = ModelResult(
        fit.coef.rename(None), pd.DataFrame(V, index=names, columns=names), float(df),
        model="svyglm", vcov_type="design-based (linearisation)", family=family,
        link=fit.family.link.name, formula=formula, n=design.n, glm=fit, notes=notes,
        design=design,
    )
    return res

