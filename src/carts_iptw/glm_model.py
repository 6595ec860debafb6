"""``glm()``: the public twin of ``stats::glm`` + ``summary.glm`` (+ ``confint.default``)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ._diagnostics import warn_collinear
from ._validation import as_float_array, require_dataframe
from .families import Family, GlmWarning, get_family
from .formula import ModelFrame, model_frame
from .irls import GlmControl, GlmFit, glm_fit

__all__ = ["glm", "GlmResult", "GlmSummary"]


def _vector_arg(value, data: pd.DataFrame, what: str) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in data.columns:
            raise ValueError(f"unknown column '{value}' given as {what} (not in data)")
        s = data[value]
        k = int(pd.isna(s).sum())
        if k:
            raise ValueError(f"column '{value}' ({what}) has {k} missing value(s)")
        if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            raise ValueError(f"column '{value}' ({what}) must be numeric")
        return s.to_numpy(dtype=float)
    arr = as_float_array(value, what)
    if arr.ndim != 1 or len(arr) != len(data):
        raise ValueError(f"{what} must have one value per row of data ({len(data)})")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{what} has {int(bad.sum())} missing or non-finite value(s)")
    return arr


def _pct_label(p: float) -> str:
    # R: paste(format(100 * a, trim = TRUE, scientific = FALSE, digits = 3), "%")
    s = f"{100 * p:.3g}"
    if "e" in s:
        s = f"{100 * p:f}".rstrip("0").rstrip(".")
    return f"{s} %"


@dataclass
class GlmSummary:
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
        tab = self.coefficients.copy()
        pcol = tab.columns[3]
        stars = tab[pcol].map(_stars)
        body = tab.to_string(float_format=lambda v: f"{v:.6g}")
        body_lines = body.splitlines()
        body = "\n".join([body_lines[0]] + [
            f"{line} {s}" for line, s in zip(body_lines[1:], stars, strict=True)
        ])
        disp = (f"(Dispersion parameter for {self.family} family taken to be "
                f"{self.dispersion:.6g})")
        aic = ("NA" if np.isnan(self.aic) else "Inf" if self.aic == np.inf
               else "-Inf" if self.aic == -np.inf else f"{self.aic:.6g}")
        sing = (f" ({self.n_aliased} not defined because of singularities)"
                if self.n_aliased else "")
        return (
            f"Call:\nglm(formula = {self.formula}, family = {self.family}"
            f"{'' if self.link in ('logit', 'identity', 'log') else f'(link = {self.link})'})\n\n"
            f"Coefficients:{sing}\n{body}\n---\n"
            "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1\n\n"
            f"{disp}\n\n"
            f"    Null deviance: {self.null_deviance:.5g}  on {self.df_null}  degrees of freedom\n"
            f"Residual deviance: {self.deviance:.5g}  on {self.df_residual}  degrees of freedom\n"
            f"AIC: {aic}\n\nNumber of Fisher Scoring iterations: {self.iter}\n"
        )

    __repr__ = __str__


def _stars(p: float) -> str:
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "." if p < 0.1 \
        else ""


class GlmResult:
    """A fitted GLM (R: an object of class ``glm``; its summary is ``summary.glm``).

    Attributes (R's names in brackets): ``coef`` [coef], ``se``, ``tvalues``, ``pvalues``
    [summary()$coefficients], ``vcov`` [vcov] — pandas indexed by R's column names;
    ``fitted`` [fitted], ``linear_predictor`` [linear.predictors], ``working_weights``
    [weights], ``prior_weights`` [prior.weights], ``y`` — numpy arrays in row order;
    ``deviance``, ``null_deviance``, ``aic``, ``loglik`` [logLik], ``bic`` [BIC], ``iter``,
    ``converged``, ``boundary``, ``rank``, ``df_residual``, ``df_null``, ``dispersion``,
    ``aliased``, ``model_frame``, ``family``, ``formula``, ``control``. Methods:
    ``summary()``, ``confint_wald(level)`` [confint.default], ``predict(newdata, type)``,
    ``residuals(type)``.
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
        self.se = pd.Series(np.sqrt(np.diag(cov)) if len(names) else np.zeros(0), index=names,
                            name="Std. Error")
        with np.errstate(divide="ignore", invalid="ignore"):
            t = fit.coef / self.se.to_numpy()
        self.tvalues = pd.Series(t, index=names, name=self._stat_name)
        if self.family.fixed_dispersion:
            p = 2 * stats.norm.cdf(-np.abs(t))
        elif fit.df_residual > 0:
            p = 2 * stats.t.cdf(-np.abs(t), fit.df_residual)
        else:
            p = np.full(len(t), np.nan)
        self.pvalues = pd.Series(p, index=names, name=self._p_name)
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
    def _stat_name(self) -> str:
        return "z value" if self.family.fixed_dispersion else "t value"

    @property
    def _p_name(self) -> str:
        return "Pr(>|z|)" if self.family.fixed_dispersion else "Pr(>|t|)"

    @property
    def fit(self) -> GlmFit:
        """The underlying :class:`~carts_iptw.irls.GlmFit` (R's glm.fit list)."""
        return self._fit

    @property
    def X(self) -> np.ndarray:
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
        Aliased (NaN) coefficients count as 0, as R's predict does (with its warning)."""
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
                eta = eta + _vector_arg(self._offset_arg, newdata, "offset")
        return self.family.linkinv(eta) if type == "response" else np.asarray(eta)

    def confint_wald(self, level: float = 0.95) -> pd.DataFrame:
        """R's ``confint.default``: coef -/+ qnorm((1 + level)/2) * se (normal quantile for
        every family)."""
        if not 0 < level < 1:
            raise ValueError("level must be in (0, 1)")
        a = (1 - level) / 2
        q = stats.norm.ppf(1 - a)
        lo = self.coef - q * self.se
        hi = self.coef + q * self.se
        return pd.DataFrame({_pct_label(a): lo, _pct_label(1 - a): hi})

    def summary(self) -> GlmSummary:
        """R's ``summary.glm(fit)``: coefficient table (Estimate, Std. Error, z/t value,
        Pr(>|z|)/Pr(>|t|); aliased rows omitted as R prints them), dispersion, null and residual
        deviance with df, AIC and Fisher scoring iterations; ``str()`` prints it as R does."""
        tab = pd.DataFrame({
            "Estimate": self.coef, "Std. Error": self.se, self._stat_name: self.tvalues,
            self._p_name: self.pvalues,
        })
        tab = tab[~self.aliased.to_numpy()]
        return GlmSummary(
            coefficients=tab, family=self.family.family, link=self.family.link.name,
            dispersion=self.dispersion, null_deviance=self.null_deviance, df_null=self.df_null,
            deviance=self.deviance, df_residual=self.df_residual, aic=self.aic, iter=self.iter,
            formula=self.formula, n_aliased=int(self.aliased.sum()),
        )

    def __repr__(self) -> str:
        coefs = ", ".join(f"{k}={v:.4g}" for k, v in self.coef.items())
        return (
            f"<GlmResult {self.family.family}({self.family.link.name}) {self.formula!r}: "
            f"n={self.n}, deviance={self.deviance:.6g}, iter={self.iter}, "
            f"converged={self.converged}; {coefs}>"
        )


def glm(
    formula: str,
    data: pd.DataFrame,
    family: str | Family = "binomial",
    weights=None,
    offset=None,
    control: GlmControl | dict | None = None,
    link: str | None = None,
) -> GlmResult:
    """Fit a generalized linear model: the twin of R's ``stats::glm``.

    R twin: ``glm(formula, family, data, weights, offset, control = glm.control(...))`` and
    ``summary.glm`` / ``vcov`` / ``confint.default`` on the result. The model matrix is
    :func:`~carts_iptw.formula.model_frame`'s (R names, treatment contrasts); the fit is
    :func:`~carts_iptw.irls.glm_fit` (IRLS exactly as ``glm.fit``: McCullagh & Nelder 1989).
    ``family`` is a name (``"binomial"``, ``"quasibinomial"``, ``"gaussian"``, ``"poisson"``,
    ``"quasipoisson"``) or a :class:`~carts_iptw.families.Family` (``link`` picks a
    non-canonical link: ``"probit"``, ``"cloglog"``, ``"identity"``, ``"log"``); ``control`` is
    a :class:`~carts_iptw.irls.GlmControl` or a dict of its fields; ``weights``/``offset`` are a
    column name or an array (R's prior weights; non-integer weights with binomial fit as in R,
    with R's "non-integer #successes" warning).

    Standard errors are ``sqrt(diag(dispersion * (R'R)^-1))`` from the final IRLS QR;
    dispersion is 1 for binomial/poisson (z tests) and the Pearson chi2 / df.residual otherwise
    (t tests with df.residual), as summary.glm. With an offset and an intercept the null
    deviance is refitted (intercept-only with the offset), as glm() does.

    Differences from R: missing values raise ``ValueError`` (no na.omit); a response outside
    [0, 1] for binomial raises ``ValueError``; a constant covariate raises ``ValueError``
    (R: NA coefficient); other exactly aliased columns get NaN coefficients and standard errors
    (R: NA) plus a :class:`~carts_iptw.families.GlmWarning` naming them. There is no profile
    likelihood ``confint()`` (R's ``confint.glm``, MASS): ``confint_wald()`` is
    ``confint.default``.

    R twin version: R 4.2.2 ``stats``. Formulas: deviance ``D = sum_i w_i d(y_i, mu_i)``;
    ``Var(b) = phi (X' W X)^-1`` with ``W`` the final working weights; Pearson dispersion
    ``phi = sum w (y - mu)^2 / V(mu) / (n - rank)``; ``AIC = family$aic + 2 rank``.
    Separated binary data keep R's answer (huge coefficients) with R's warning "fitted
    probabilities numerically 0 or 1 occurred" (use :func:`logistf` instead).

    Returns
    -------
    GlmResult with ``.coef``, ``.se``, ``.tvalues``, ``.pvalues``, ``.vcov``, ``.deviance``,
    ``.null_deviance``, ``.aic``, ``.loglik``, ``.bic``, ``.dispersion``, ``.residuals(type)``,
    ``.predict(newdata, type)``, ``.confint_wald(level)`` and ``.summary()`` (``summary.glm``).

    Raises
    ------
    TypeError
        ``data`` is not a DataFrame.
    ValueError
        No response or a ``Surv()`` response; special terms; missing values; unknown or
        non-numeric weights/offset columns; a binomial response outside [0, 1]; a constant
        covariate; negative or all-zero weights; an unknown family or link.

    References: McCullagh P, Nelder JA (1989) Generalized Linear Models, 2nd ed., Chapman &
    Hall; R Core Team, ``?glm``, ``?summary.glm``.
    """
    data = require_dataframe(data)
    fam = get_family(family, link)
    if isinstance(control, dict):
        control = GlmControl(**control)
    control = control or GlmControl()
    mf = model_frame(formula, data)
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
    w = _vector_arg(weights, data, "weights")
    if w is not None and np.any(w < 0):
        raise ValueError(f"weights have {int((w < 0).sum())} negative value(s)")
    if w is not None and not np.any(w > 0):
        raise ValueError("weights are all zero")
    off = _vector_arg(offset, data, "offset")
    if mf.offset is not None:
        off = mf.offset if off is None else off + mf.offset
    fit = glm_fit(mf.X, mf.y, weights=w, offset=off, family=fam, control=control,
                  intercept=mf.intercept, column_names=mf.column_names, describe=mf.describe)
    warn_collinear(mf.X, mf.column_names, "glm", weights=w,
                   skip=list(np.flatnonzero(fit.aliased)), describe=mf.describe)
    null_dev = fit.null_deviance
    if off is not None and mf.intercept:
        fit2 = glm_fit(mf.X[:, [0]], mf.y, weights=w, offset=off, family=fam, control=control,
                       intercept=True, mustart=fit.fitted)
        if not fit2.converged:
            warnings.warn("fitting to calculate the null deviance did not converge -- "
                          "increase 'maxit'?", GlmWarning, stacklevel=2)
        null_dev = fit2.deviance
    return GlmResult(fit, mf, formula, control, null_dev, offset_arg=offset)
