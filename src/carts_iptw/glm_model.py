"""``glm()``: the public twin of ``stats::glm`` + ``summary.glm`` (+ ``confint.default``)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ._diagnostics import warn_collinear
from ._validation import numeric_column_or_vector, require_dataframe
from .families import Family, GlmWarning, get_family
from .formula import ModelFrame, model_frame
from .irls import GlmControl, GlmFit, glm_fit
from .results import (
    ModelResults,
    Summary,
    check_level,
    deprecated_alias,
    format_num,
    format_vector,
    print_coefmat,
)

__all__ = ["glm", "GlmResult", "GlmSummary"]


@dataclass(repr=False)
class GlmSummary(Summary):
    """``summary.glm``: the coefficient table and the fit statistics, printed as R prints."""

    coefficients: pd.DataFrame
    family: str
    link: str
    dispersion: float
    null_deviance: float
    df_null: int
    deviance: float
    df_residual: int
    aic: float
    iter: int
    formula: str
    n_aliased: int

    def __str__(self) -> str:
        """R's ``print.summary.glm`` (digits 4; deviances to 5 digits, as R)."""
        body = print_coefmat(self.coefficients)
        disp = (f"(Dispersion parameter for {self.family} family taken to be "
                f"{format_num(self.dispersion, 7)})")
        nd, rd = format_vector([self.null_deviance, self.deviance], 5)
        aic = format_num(self.aic, 5)
        sing = (f" ({self.n_aliased} not defined because of singularities)"
                if self.n_aliased else "")
        return (
            f"\nCall:\nglm(formula = {self.formula}, family = {self.family}"
            f"{'' if self.link in ('logit', 'identity', 'log') else f'(link = {self.link})'})\n\n"
            f"Coefficients:{sing}\n{body}\n\n"
            f"{disp}\n\n"
            f"    Null deviance: {nd}  on {self.df_null}  degrees of freedom\n"
            f"Residual deviance: {rd}  on {self.df_residual}  degrees of freedom\n"
            f"AIC: {aic}\n\nNumber of Fisher Scoring iterations: {self.iter}\n"
        )

    __repr__ = __str__


class GlmResult(ModelResults):
    """A fitted GLM (R: an object of class ``glm``; its summary is ``summary.glm``).

    Attributes
    ----------
    coef, se, tvalues, pvalues : pandas.Series
        R's ``coef`` and ``summary()$coefficients`` columns, indexed by R's column names.
    vcov : pandas.DataFrame
        R's ``vcov``.
    fitted, linear_predictor, working_weights, prior_weights, y : numpy.ndarray
        R's ``fitted``, ``linear.predictors``, ``weights``, ``prior.weights`` and ``y``, in row
        order.
    deviance, null_deviance, aic, loglik, bic : float
        R's ``deviance``, ``null.deviance``, ``aic``, ``logLik``, ``BIC``.
    iter, converged, boundary, rank, df_residual, df_null, dispersion, aliased
        As R's components of the same names.
    model_frame, family, formula, control
        The model frame, family, formula and ``glm.control`` of the fit.

    Notes
    -----
    Methods: ``summary()``, ``confint(level)`` [``confint.default``], ``predict(newdata,
    type)``, ``residuals(type)``. R twin: ``stats::glm`` (R 4.2.2); see :func:`glm`.
    """

    def __init__(self, fit: GlmFit, mf: ModelFrame, formula: str, control: GlmControl,
                 null_deviance: float, offset_arg=None) -> None:
        self._fit = fit
        self._offset_arg = offset_arg
        self.model_frame = mf
        self.formula = formula
        self.control = control
        self.family: Family = fit.family
        names = mf.column_names
        self.column_names = list(names)
        self.coef = pd.Series(fit.coef, index=names, name="Estimate")
        cov = fit.dispersion * fit.cov_unscaled
        self.vcov = pd.DataFrame(cov, index=names, columns=names)
        self.ratio_scale = {"logit": "odds ratio", "log": "ratio"}.get(fit.family.link.name)
        self.fitted = fit.fitted
        self.linear_predictor = fit.linear_predictor
        self.deviance = fit.deviance
        self.null_deviance = null_deviance
        self.aic = fit.aic
        self.iter = fit.iter
        self.converged = fit.converged
        self.boundary = fit.boundary
        self.df_residual = fit.df_residual
        self.df_null = fit.df_null
        self.dispersion = fit.dispersion
        self.rank = fit.rank
        self.prior_weights = fit.prior_weights
        self.working_weights = fit.working_weights
        self.y = fit.y
        self.offset = fit.offset
        self.aliased = pd.Series(fit.aliased, index=names)
        self.n = len(fit.y)

    @property
    def df_loglik(self) -> int:
        """Degrees of freedom of ``logLik``: rank (+1 for gaussian's dispersion), as R."""
        return self.rank + (1 if self.family.family == "gaussian" else 0)

    @property
    def loglik(self) -> float:
        """R's ``logLik.glm``: ``df - aic / 2`` (NaN for quasi families, as R's NA)."""
        return float(self.df_loglik - self.aic / 2)

    @property
    def bic(self) -> float:
        """R's ``BIC(fit)``: ``-2 logLik + log(n) df`` with n all rows (R's logLik nobs)."""
        return float(-2 * self.loglik + np.log(self.n) * self.df_loglik)

    @property
    def df(self) -> float:
        """Reference df of the coefficient tests (summary.glm).

        ``inf`` (z tests) for binomial and poisson, ``df_residual`` (t tests) for families with an
        estimated dispersion.
        """
        return math.inf if self.family.fixed_dispersion else float(self.df_residual)

    def _quantile(self, level: float) -> float:
        # confint.default: the normal quantile for every family
        return float(stats.norm.ppf(1 - (1 - check_level(level)) / 2))

    @property
    def fit(self) -> GlmFit:
        """The underlying :class:`~carts_iptw.irls.GlmFit` (R's glm.fit list)."""
        return self._fit

    @property
    def X(self) -> np.ndarray:
        """The model matrix."""
        return self.model_frame.X

    def residuals(self, type: str = "deviance") -> np.ndarray:
        """R's ``residuals.glm``: 'deviance', 'pearson', 'working' or 'response'."""
        f = self._fit
        y, mu, wts = f.y, f.fitted, f.prior_weights
        if type == "working":
            return f.working_residuals
        if type == "response":
            return y - mu
        if type == "pearson":
            return (y - mu) * np.sqrt(wts) / np.sqrt(self.family.variance(mu))
        if type == "deviance":
            d = self.family.dev_resids(y, mu, wts)
            return np.sign(y - mu) * np.sqrt(np.maximum(d, 0))
        raise ValueError(f"unknown residual type {type!r}")

    def predict(self, newdata: pd.DataFrame | None = None, type: str = "link") -> np.ndarray:
        """R's ``predict.glm(fit, newdata, type = c("link", "response"))``.

        New data are coded with the fitted factor levels (R's ``xlev``); a level not seen in
        the fit raises ``ValueError``; ``poly()``, ``ns()`` and ``bs()`` are rebuilt with the
        fitted parameters (R's ``makepredictcall``), extrapolating beyond the boundary knots
        as R does. Formula offsets are evaluated on ``newdata``; an
        ``offset=`` given as a column name is read from it (given as an array it cannot be).
        Aliased (NaN) coefficients count as 0, as R's predict does (with its warning).
        """
        if type not in ("link", "response"):
            raise ValueError("type must be 'link' or 'response'")
        if newdata is None:
            eta = self.linear_predictor
        else:
            mf = model_frame(self.formula, require_dataframe(newdata, "newdata"),
                             xlevels=self.model_frame.xlevels, bases=self.model_frame.bases,
                             with_response=False)
            if mf.column_names != self.column_names:
                raise ValueError("newdata gives other model-matrix columns than the fit")
            eta = mf.X @ np.nan_to_num(self.coef.to_numpy(), nan=0.0)
            if mf.offset is not None:
                eta = eta + mf.offset
            if self._offset_arg is not None:
                if not isinstance(self._offset_arg, str):
                    raise ValueError("the fit's offset was an array: predict() cannot evaluate "
                                     "it on newdata; put offset(x) in the formula")
                eta = eta + numeric_column_or_vector(self._offset_arg, newdata, "offset")
        return self.family.linkinv(eta) if type == "response" else np.asarray(eta)

    def confint(self, level: float = 0.95, parm=None) -> pd.DataFrame:
        """R's ``confint.default(fit, parm, level)``.

        ``coef -/+ qnorm((1 + level)/2) * se`` (the normal quantile for every family).

        R's ``confint(glm_fit)`` profiles the likelihood instead (MASS); that is not offered here.
        Columns ``"2.5 %"``, ``"97.5 %"``.
        """
        return super().confint(level, parm)

    confint_wald = deprecated_alias("confint")

    def summary(self) -> GlmSummary:
        """R's ``summary.glm(fit)``: coefficient table (Estimate, Std.

        Error, z/t value, Pr(>|z|)/Pr(>|t|); aliased rows omitted as R prints them), dispersion,
        null and residual deviance with df, AIC and Fisher scoring iterations; ``str()`` prints it
        as R does.
        """
        tab = self.coef_table()
        tab = tab[~self.aliased.to_numpy()]
        return GlmSummary(
            coefficients=tab, family=self.family.family, link=self.family.link.name,
            dispersion=self.dispersion, null_deviance=self.null_deviance, df_null=self.df_null,
            deviance=self.deviance, df_residual=self.df_residual, aic=self.aic, iter=self.iter,
            formula=self.formula, n_aliased=int(self.aliased.sum()),
        )

    def _print_text(self) -> str:
        """R's ``print.glm``: call, coefficients, degrees of freedom, deviances and AIC."""
        coefs = pd.DataFrame([[format_num(v) for v in self.coef]], columns=self.coef.index,
                             index=[""]).to_string()
        fam = self.family.family
        link = self.family.link.name
        call = (f"glm(formula = {self.formula}, family = {fam}"
                f"{'' if link in ('logit', 'identity', 'log') else f'(link = {link})'})")
        return (f"\nCall:  {call}\n\nCoefficients:\n{coefs}\n\n"
                f"Degrees of Freedom: {self.df_null} Total (i.e. Null);  {self.df_residual} "
                f"Residual\nNull Deviance:\t    {format_num(self.null_deviance)} \n"
                f"Residual Deviance: {format_num(self.deviance)} \tAIC: {format_num(self.aic)}\n")


def glm(
    formula: str,
    data: pd.DataFrame,
    family: str | Family = "binomial",
    weights=None,
    offset=None,
    control: GlmControl | dict | None = None,
    link: str | None = None,
    *,
    frames=None,
) -> GlmResult:
    """Fit a generalized linear model: the twin of R's ``stats::glm``.

    Parameters
    ----------
    formula : str
        R model formula, e.g. ``"y ~ treat + age"``. The model matrix is
        :func:`~carts_iptw.formula.model_frame`'s (R names, treatment contrasts).
    data : pandas.DataFrame
        The data.
    family : str or Family, default "binomial"
        A name (``"binomial"``, ``"quasibinomial"``, ``"gaussian"``, ``"poisson"``,
        ``"quasipoisson"``) or a :class:`~carts_iptw.families.Family`.
    weights : str or array-like, optional
        A column name or an array: R's prior weights (non-integer weights with binomial fit as
        in R, with R's "non-integer #successes" warning).
    offset : str or array-like, optional
        A column name or an array.
    control : GlmControl or dict, optional
        A :class:`~carts_iptw.irls.GlmControl` or a dict of its fields.
    link : str, optional
        A non-canonical link: ``"probit"``, ``"cloglog"``, ``"identity"``, ``"log"``.
    frames : FrameCache, optional
        A :class:`~carts_iptw.formula.cache.FrameCache` shared by models of the same data: the
        right-hand side's model matrix is built once for all of them (the same numbers; R builds
        it per fit).

    Returns
    -------
    GlmResult
        ``.coef``, ``.se``, ``.statistic``, ``.p_values``, ``.vcov``, ``.deviance``,
        ``.null_deviance``, ``.aic``, ``.loglik``, ``.bic``, ``.dispersion``,
        ``.residuals(type)``, ``.predict(newdata, type)``, ``.confint(level)`` and
        ``.summary()`` (``summary.glm``).

    Raises
    ------
    TypeError
        ``data`` is not a DataFrame.
    ValueError
        No response or a ``Surv()`` response; special terms; missing values; unknown or
        non-numeric weights/offset columns; a binomial response outside [0, 1]; a constant
        covariate; negative or all-zero weights; an unknown family or link.

    Notes
    -----
    R twin: ``glm(formula, family, data, weights, offset, control = glm.control(...))`` and
    ``summary.glm`` / ``vcov`` / ``confint.default`` on the result. The fit is
    :func:`~carts_iptw.irls.glm_fit` (IRLS exactly as ``glm.fit``: McCullagh & Nelder 1989).

    Standard errors are ``sqrt(diag(dispersion * (R'R)^-1))`` from the final IRLS QR;
    dispersion is 1 for binomial/poisson (z tests) and the Pearson chi2 / df.residual otherwise
    (t tests with df.residual), as summary.glm. With an offset and an intercept the null
    deviance is refitted (intercept-only with the offset), as glm() does. Formulas: deviance
    ``D = sum_i w_i d(y_i, mu_i)``; ``Var(b) = phi (X' W X)^-1`` with ``W`` the final working
    weights; Pearson dispersion ``phi = sum w (y - mu)^2 / V(mu) / (n - rank)``;
    ``AIC = family$aic + 2 rank``. Separated binary data keep R's answer (huge coefficients)
    with R's warning "fitted probabilities numerically 0 or 1 occurred" (use :func:`logistf`
    instead).

    Differences from R: missing values raise ``ValueError`` (no na.omit); a response outside
    [0, 1] for binomial raises ``ValueError``; a constant covariate raises ``ValueError``
    (R: NA coefficient); other exactly aliased columns get NaN coefficients and standard errors
    (R: NA) plus a :class:`~carts_iptw.families.GlmWarning` naming them. ``confint()`` is R's
    ``confint.default`` (Wald); R's profile-likelihood ``confint(glm_fit)`` (MASS) is not
    offered.

    R twin version: R 4.2.2 ``stats``.

    References
    ----------
    McCullagh P, Nelder JA (1989) Generalized Linear Models, 2nd ed., Chapman & Hall; R Core
    Team, ``?glm``, ``?summary.glm``.
    """
    data = require_dataframe(data)
    fam = get_family(family, link)
    if isinstance(control, dict):
        control = GlmControl(**control)
    control = control or GlmControl()
    mf = model_frame(formula, data) if frames is None else frames.model_frame(formula, data)
    if mf.surv is not None or mf.y is None:
        raise ValueError("glm() needs a response on the left of '~' (not Surv())")
    if mf.specials:
        raise ValueError(f"{'/'.join(f'{k}()' for k in mf.specials)} terms belong to survival "
                         "models (coxph), not glm()")
    if mf.y_levels is not None and fam.family not in ("binomial", "quasibinomial"):
        raise ValueError(
            f"response '{mf.response_name}' is a factor: only binomial families accept it"
        )
    if fam.family in ("binomial", "quasibinomial"):
        y = mf.y
        bad = (y < 0) | (y > 1)
        if bad.any():
            raise ValueError(
                f"response '{mf.response_name}' must be binary (0/1, logical or a two-level "
                f"factor) for the {fam.family} family; {int(bad.sum())} value(s) are outside "
                "[0, 1]"
            )
    w = numeric_column_or_vector(weights, data, "weights")
    if w is not None and np.any(w < 0):
        raise ValueError(f"weights have {int((w < 0).sum())} negative value(s)")
    if w is not None and not np.any(w > 0):
        raise ValueError("weights are all zero")
    off = numeric_column_or_vector(offset, data, "offset")
    if mf.offset is not None:
        off = mf.offset if off is None else off + mf.offset
    fit = glm_fit(mf.X, mf.y, weights=w, offset=off, family=fam, control=control,
                  intercept=mf.intercept, column_names=mf.column_names, describe=mf.describe,
                  x_fortran=None if frames is None else frames.fortran(mf.X))
    warn_collinear(mf.X, mf.column_names, "glm", weights=w,
                   skip=list(np.flatnonzero(fit.aliased)), describe=mf.describe, frames=frames)
    null_dev = fit.null_deviance
    if off is not None and mf.intercept:
        fit2 = glm_fit(mf.X[:, [0]], mf.y, weights=w, offset=off, family=fam, control=control,
                       intercept=True, mustart=fit.fitted)
        if not fit2.converged:
            warnings.warn("fitting to calculate the null deviance did not converge -- "
                          "increase 'maxit'?", GlmWarning, stacklevel=2)
        null_dev = fit2.deviance
    return GlmResult(fit, mf, formula, control, null_dev, offset_arg=offset)
