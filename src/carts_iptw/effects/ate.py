"""``ate``: average treatment effects on the risk scale (G-formula, IPTW, AIPTW).

The twin of ``riskRegression::ate`` (riskRegression 2022.11.28) with a logistic outcome model
(binary outcome) or a Cox outcome model (time-to-event outcome at given horizons), a logistic
treatment model and a Cox censoring model, and riskRegression's influence-function standard
errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from carts_iptw._validation import require_dataframe
from carts_iptw.effects._cox_iid import CoxIID
from carts_iptw.results import (
    Result,
    Summary,
    check_level,
    format_pvals,
    format_vector,
    matrix_text,
)

ESTIMATORS = ("GFORMULA", "IPTW", "AIPTW")
_TOL = 1e-12  # riskRegression's ``tol``: left limits are evaluated at t - 1e-12
_LABEL = {"GFORMULA": "G-formula", "IPTW": "IPTW", "AIPTW": "AIPTW"}
_LONG = {"GFORMULA": "G-formula", "IPTW": "Inverse probability of treatment weighting",
         "AIPTW": "Augmented estimator"}


# ---------------------------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------------------------
class ATE(Result):
    """Result of :func:`ate` (R: an ``ate`` object of riskRegression).

    Attributes
    ----------
    mean_risk : pandas.DataFrame
        ``estimator``, ``time``, ``treatment``, ``estimate``, ``se``, ``lower``, ``upper``: the
        average risk had everyone received ``treatment`` (R: ``$meanRisk``).
    diff_risk : pandas.DataFrame
        ``estimator``, ``time``, ``A``, ``B``, ``estimate_A``, ``estimate_B``, ``estimate``
        (``B - A``), ``se``, ``lower``, ``upper``, ``p_value`` (R: ``$diffRisk``).
    ratio_risk : pandas.DataFrame
        The same for the ratio ``B / A`` (R: ``$ratioRisk``; p-value for ratio = 1).
    iid : dict
        ``{estimator: {treatment level: (n, n_times) array}}``: the influence functions of the
        mean risks, scaled so that ``se = sqrt(sum(iid**2))`` (R: ``$iid``).
    estimator : tuple of str
        The estimators, in R's order.
    times : numpy.ndarray or None
        The horizons (None for a binary outcome; the ``time`` column is then NaN, R's ``NA``).
    treatment, levels, n, conf_level, outcome_type
        Treatment column, its two levels (A = first, B = second), rows, confidence level,
        ``"binary"`` or ``"survival"``.
    """

    def __init__(self, *, mean_risk, diff_risk, ratio_risk, iid, estimator, times, treatment,
                 levels, n, conf_level, outcome_type, event_name, n_censored):
        self.mean_risk = mean_risk
        self.diff_risk = diff_risk
        self.ratio_risk = ratio_risk
        self.iid = iid
        self.estimator = tuple(estimator)
        self.times = times
        self.treatment = treatment
        self.levels = tuple(levels)
        self.n = int(n)
        self.conf_level = float(conf_level)
        self.outcome_type = outcome_type
        self.event_name = event_name
        self.n_censored = n_censored

    def tidy(self) -> pd.DataFrame:
        """One long table, as R's ``as.data.table(ate)``.

        Columns ``type`` (``"mean_risk"``, ``"diff_risk"``, ``"ratio_risk"``), ``estimator``,
        ``time``, ``level`` (the treatment level, ``"B - A"``-style or ``"B / A"``-style
        labels), ``estimate``, ``std_error``, ``conf_low``, ``conf_high``, ``p_value`` (mean risks
        have no test: ``p_value`` is NaN there, as R's ``NA``).
        """
        m = self.mean_risk
        rows = [pd.DataFrame({"type": "mean_risk", "estimator": m["estimator"],
                              "time": m["time"], "level": m["treatment"].astype(str),
                              "estimate": m["estimate"], "std_error": m["se"],
                              "conf_low": m["lower"], "conf_high": m["upper"],
                              "p_value": np.nan})]
        for name, tab, op in (("diff_risk", self.diff_risk, "-"),
                              ("ratio_risk", self.ratio_risk, "/")):
            rows.append(pd.DataFrame({
                "type": name, "estimator": tab["estimator"], "time": tab["time"],
                "level": tab["B"].astype(str) + f" {op} " + tab["A"].astype(str),
                "estimate": tab["estimate"], "std_error": tab["se"], "conf_low": tab["lower"],
                "conf_high": tab["upper"], "p_value": tab["p_value"]}))
        return pd.concat(rows, ignore_index=True)

    def _table(self, tab: pd.DataFrame, kind: str) -> str:
        out = pd.DataFrame(index=[""] * len(tab))
        if self.outcome_type == "survival":
            out["time"] = format_vector(tab["time"].to_numpy(float), 4)
        if kind == "mean":
            out[self.treatment] = tab["treatment"].astype(str).to_numpy()
            out["risk"] = format_vector(tab["estimate"].to_numpy(float), 4)
        else:
            out[f"{self.treatment}=A"] = tab["A"].astype(str).to_numpy()
            out[f"{self.treatment}=B"] = tab["B"].astype(str).to_numpy()
            out["difference" if kind == "diff" else "ratio"] = format_vector(
                tab["estimate"].to_numpy(float), 4)
        out["se"] = format_vector(tab["se"].to_numpy(float), 4)
        lo = format_vector(tab["lower"].to_numpy(float), 4)
        hi = format_vector(tab["upper"].to_numpy(float), 4)
        out["ci"] = [f"[{a.strip()};{b.strip()}]" for a, b in zip(lo, hi, strict=True)]
        if kind != "mean":
            out["p.value"] = format_pvals(tab["p_value"].to_numpy(float), 4)
        return matrix_text(out)

    def _header(self) -> list[str]:
        lev = " ".join(f'"{x}"' for x in self.levels)
        lines = ["     Average treatment effect for cause 1 ", "",
                 f" - Treatment            : {self.treatment} (2 levels: {lev})"]
        if self.outcome_type == "survival":
            lines += [f" - Event                : {self.event_name} (cause: 1, censoring: 0)",
                      " - Eval. time           : " + " ".join(
                          s.strip() for s in format_vector(self.times, 4)),
                      " - Censored by time     : " + " ".join(str(int(c)) for c in
                                                              self.n_censored)]
        else:
            lines.append(f" - Event                : {self.event_name} (cause: 1, competing "
                         "risk(s): 0)")
        return lines + ["", " Estimation procedure ",
                        " - Estimators : " + " ".join(_LONG[e] for e in self.estimator),
                        " - Uncertainty: Gaussian approximation ",
                        "                where the variance is estimated via the influence "
                        "function ", ""]

    def _print_text(self) -> str:
        """R's ``print(ate)``: the set-up and the range of each quantity over estimators."""
        def rng(v):
            return f"[{np.min(v):.2f};{np.max(v):.2f}]"

        m = self.mean_risk
        out = pd.DataFrame(index=[""])
        out[f"{self.treatment}=A"] = [str(self.levels[0])]
        out[f"{self.treatment}=B"] = [str(self.levels[1])]
        out["risk.A"] = [rng(m.loc[m.treatment == self.levels[0], "estimate"])]
        out["risk.B"] = [rng(m.loc[m.treatment == self.levels[1], "estimate"])]
        out["difference (B-A)"] = [rng(self.diff_risk["estimate"])]
        out["ratio (B/A)"] = [rng(self.ratio_risk["estimate"])]
        lines = self._header() + [" Results ", " - Standardized risks   :    [min;max]   ",
                                  matrix_text(out)]
        return "\n".join(lines).rstrip() + "\n"

    def _summary_text(self) -> str:
        lines = self._header() + [
            " Testing procedure",
            " - Null hypothesis     : given two treatments (A,B) and a specific timepoint, "
            "equal risks ",
            f" - Confidence level    : {self.conf_level:g}", "", " Results: "]
        for e in self.estimator:
            lines += ["", f" Estimator: {_LABEL[e]}", "",
                      " - Standardized risk between time zero and 'time', reported on the "
                      "scale [0;1] (probability scale)", ""]
            lines += [self._table(self.mean_risk[self.mean_risk["estimator"] == e], "mean"), ""]
            lines += [" - Difference in standardized risk (B-A) between time zero and 'time' ",
                      ""]
            lines += [self._table(self.diff_risk[self.diff_risk["estimator"] == e], "diff"), ""]
            lines += [" - Ratio of standardized risks (B/A) between time zero and 'time' ", ""]
            lines += [self._table(self.ratio_risk[self.ratio_risk["estimator"] == e], "ratio")]
        lines += ["", " ci              : pointwise confidence intervals ",
                  " p.value         : (unadjusted) p-value "]
        return "\n".join(lines).rstrip() + "\n"

    def summary(self) -> Summary:
        """R's ``summary(ate)`` text, every estimator.

        Tables as attributes: ``.mean_risk``, ``.diff_risk``, ``.ratio_risk``, ``.table``
        (``tidy()``).
        """
        return Summary(self._summary_text(), mean_risk=self.mean_risk.copy(),
                       diff_risk=self.diff_risk.copy(), ratio_risk=self.ratio_risk.copy(),
                       table=self.tidy())


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _estimators(estimator) -> tuple[str, ...]:
    if isinstance(estimator, str):
        estimator = [estimator]
    try:
        req = [str(e).upper().replace("-", "") for e in estimator]
    except TypeError:
        raise TypeError("estimator must be a string or a sequence of strings") from None
    bad = [e for e in req if e not in ESTIMATORS]
    if bad or not req:
        raise ValueError(f"estimator must be among {ESTIMATORS} (R: 'G-formula', 'IPTW', "
                         f"'AIPTW'); {len(bad)} value(s) are not")
    return tuple(e for e in ESTIMATORS if e in req)


def _lhs_name(formula: str, what: str) -> tuple[str, bool]:
    """(response text, is Surv) of a two-sided formula."""
    from carts_iptw.formula.parser import Call, deparse, parse_formula

    if not isinstance(formula, str):
        raise TypeError(f"{what} must be an R formula string, e.g. 'y ~ x1 + x2'")
    response, _ = parse_formula(formula)
    if response is None:
        raise ValueError(f"{what}: the formula needs a left-hand side (the {what} variable)")
    is_surv = isinstance(response, Call) and response.func == "Surv"
    return deparse(response), is_surv


def _treatment_levels(s: pd.Series, name: str) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        levels = list(s.cat.categories)
        observed = [lv for lv in levels if (s == lv).any()]
        if len(observed) != len(levels):
            raise ValueError(f"treatment '{name}': {len(levels) - len(observed)} factor level(s) "
                             "have no rows (R: 'needs to take all possible treatment values')")
    else:
        levels = sorted(pd.unique(s).tolist())
    if len(levels) != 2:
        raise ValueError(f"treatment '{name}' must have exactly 2 levels (a binary treatment; "
                         f"riskRegression's logistic treatment model); it has {len(levels)}")
    return levels


def _fail(model: str, exc: Exception) -> ValueError:
    return ValueError(f"the {model} model could not be fitted: {exc}")


def _glm_parts(fit):
    """(X, mu, iid_beta) of a logistic glm: iid_beta = score %*% solve(information)."""
    X = np.asarray(fit.model_frame.X, dtype=float)
    mu = np.asarray(fit.fitted, dtype=float)
    y = np.asarray(fit.y, dtype=float)
    info = X.T @ (X * (mu * (1 - mu))[:, None])
    iid = np.linalg.solve(info, (X * (y - mu)[:, None]).T).T
    return X, mu, iid


def _check_glm(fit, what: str, name: str) -> None:
    coef = fit.coef.to_numpy(dtype=float)
    if not np.isfinite(coef).all():
        raise ValueError(f"the {what} model for '{name}' has {int((~np.isfinite(coef)).sum())} "
                         "aliased (NA) coefficient(s): remove the collinear terms (R: 'Cannot "
                         "handle missing values in the model coefficients')")
    if not fit.converged:
        raise ValueError(f"the {what} model for '{name}' did not converge")


def _check_treatment_separation(fit, name: str) -> None:
    mu = np.asarray(fit.fitted, dtype=float)
    if fit.converged and np.min(np.minimum(mu, 1 - mu)) >= 1e-8:
        return
    from carts_iptw.separation import detect_separation

    sep = detect_separation(np.asarray(fit.model_frame.X, float), np.asarray(fit.y, float),
                            list(fit.column_names))
    if sep.separated or np.min(np.minimum(mu, 1 - mu)) < 1e-8:
        kind = ("complete" if sep.complete else "quasi-complete") if sep.separated else "near"
        who = fit.model_frame.describe(sep.infinite) if sep.separated else "the covariates"
        raise ValueError(f"treatment model: {kind} separation of the treatment '{name}' by "
                         f"{who}: propensity scores of 0 or 1 (infinite IPTW weights); remove "
                         "or coarsen these covariates")


def _new_design(formula: str, mf, data: pd.DataFrame, drop_intercept: bool) -> np.ndarray:
    from carts_iptw.formula import model_frame

    m = model_frame(formula, data, xlevels=mf.xlevels, bases=mf.bases, with_response=False)
    X = np.asarray(m.X, dtype=float)
    cn = list(m.column_names)
    if drop_intercept and "(Intercept)" in cn:
        X = np.delete(X, cn.index("(Intercept)"), axis=1)
    return X


def _set_level(data: pd.DataFrame, name: str, level) -> pd.DataFrame:
    d = data.copy()
    col = data[name]
    d[name] = pd.Categorical([level] * len(d), categories=col.cat.categories)
    return d


def _cox(formula: str, data: pd.DataFrame, what: str):
    """(CoxIID, model frame) of a coxph fit with Efron ties."""
    import warnings

    from carts_iptw.formula import model_frame
    from carts_iptw.survival._frame import covariates
    from carts_iptw.survival.coxph import coxph

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            fit = coxph(formula, data)
    except (ValueError, RuntimeWarning, np.linalg.LinAlgError) as exc:
        raise _fail(what, exc) from None
    mf = model_frame(formula, data)
    if mf.surv.type != "right":
        raise ValueError(f"the {what} model needs a right-censored Surv(time, status) response")
    if (mf.specials or {}).get("strata") is not None or (mf.specials or {}).get("cluster") \
            is not None:
        raise ValueError(f"the {what} model: strata() and cluster() terms are not supported")
    X, cn = covariates(mf)
    coef = fit.coef.to_numpy(dtype=float)
    var = fit.naive_var.to_numpy(dtype=float)
    if not (np.isfinite(coef).all() and np.isfinite(var).all()):
        raise ValueError(f"the {what} model could not be fitted: non-finite coefficients or "
                         "variance (aliased terms or infinite hazard ratios)")
    return CoxIID(X, mf.surv.time, mf.surv.event, coef, var, ties="efron"), mf


def _inference(est_a, est_b, iid_a, iid_b, q):
    """R's confintIID.ate for one estimator: mean, difference and ratio rows."""
    se_a = np.sqrt((iid_a ** 2).sum(axis=0))
    se_b = np.sqrt((iid_b ** 2).sum(axis=0))
    d_iid = iid_b - iid_a
    d = est_b - est_a
    se_d = np.sqrt((d_iid ** 2).sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = est_b / est_a
        r_iid = iid_b / est_a[None, :] - iid_a * (est_b / est_a ** 2)[None, :]
        se_r = np.sqrt((r_iid ** 2).sum(axis=0))

    def p_of(e, se, null):
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (e - null) / se
        z = np.where(e == null, 0.0, z)
        return 2 * (1 - stats.norm.cdf(np.abs(z)))

    mean = [(est_a, se_a, np.maximum(est_a - q * se_a, 0), np.minimum(est_a + q * se_a, 1)),
            (est_b, se_b, np.maximum(est_b - q * se_b, 0), np.minimum(est_b + q * se_b, 1))]
    diff = (d, se_d, np.maximum(d - q * se_d, -1), np.minimum(d + q * se_d, 1),
            p_of(d, se_d, 0.0))
    ratio = (r, se_r, np.maximum(r - q * se_r, 0), r + q * se_r, p_of(r, se_r, 1.0))
    return mean, diff, ratio


# ---------------------------------------------------------------------------------------------
# ate
# ---------------------------------------------------------------------------------------------
def ate(event: str, treatment: str, data: pd.DataFrame, censor: str | None = None, times=None,
        estimator=ESTIMATORS, conf_level: float = 0.95) -> ATE:
    r"""Average treatment effect on the risk scale; twin of ``riskRegression::ate``.

    R twin: ``riskRegression::ate(event, treatment, censor, data, times, estimator)``
    (riskRegression 2022.11.28) with ``event = glm(<event>, family = binomial)`` or
    ``coxph(<event>, x = TRUE, y = TRUE)``, ``treatment = glm(<treatment>, family = binomial)``
    and ``censor = coxph(<censor>, x = TRUE, y = TRUE)``, the treatment column a factor.

    Parameters
    ----------
    event : str
        The outcome model in R syntax. Binary outcome: ``"y ~ treat + x1 + x2"`` (logistic
        regression; ``y`` a 0/1, logical or two-level column). Time-to-event:
        ``"Surv(time, status) ~ treat + x1"`` (Cox model, Efron ties; status 0/1, 1 = event).
    treatment : str
        The treatment model ``"treat ~ x1 + x2"`` (logistic regression); ``treat`` has exactly two
        levels: the first (A, R's reference level: the smaller value, ``False`` or the first
        category) and the second (B).
    data : pandas.DataFrame
        The data (no missing values in the columns the models use).
    censor : str, optional
        The censoring model ``"Surv(time, status == 0) ~ treat + x1"`` (Cox, Efron ties): needed
        by IPTW and AIPTW when some observation is censored by the last horizon.
    times : float or sequence of float, optional
        Horizons (time-to-event outcome only; required there).
    estimator : str or sequence of str, default ("GFORMULA", "IPTW", "AIPTW")
        Any of ``"GFORMULA"`` (``"G-formula"``), ``"IPTW"``, ``"AIPTW"``; reported in that order.
    conf_level : float, default 0.95
        Confidence level of the Wald intervals.

    Returns
    -------
    ATE
        ``.mean_risk``, ``.diff_risk`` (B - A), ``.ratio_risk`` (B / A), ``.iid``; ``tidy()``,
        ``summary()`` and an R-like print.

    Raises
    ------
    ValueError
        Missing values (naming the column); a treatment without exactly two levels; a treatment
        model with (quasi-)separation (naming the covariates); a model with aliased
        coefficients or that does not converge; a censoring model that cannot be fitted (no
        censored rows, infinite coefficients) or whose status is not the event model's
        censoring indicator; horizons that are missing, not positive, or beyond the last
        follow-up time; IPTW/AIPTW with censoring before a horizon but no ``censor`` model;
        ``times`` with a binary outcome; competing risks or (start, stop] data.
    TypeError
        ``data`` not a DataFrame; formulas not strings.

    Notes
    -----
    For each treatment level ``a`` (indicator ``1{A_i = a}``, propensity ``pi_a(X_i)`` from the
    treatment model, risk ``F_a(X_i) = P(Y = 1 | A = a, X_i)`` from the outcome model with the
    treatment set to ``a`` for everyone):

    - G-formula: ``mean_i F_a(X_i)``;
    - IPTW (riskRegression's unnormalised Horvitz-Thompson form, weights not rescaled to sum
      to n): ``mean_i 1{A_i = a} Y_i / pi_a(X_i)``;
    - AIPTW: ``mean_i [F_a(X_i) + 1{A_i = a} (Y_i - F_a(X_i)) / pi_a(X_i)]``.

    Time-to-event outcome at horizon ``tau``: ``Y_i = 1{T_i <= tau, status_i = 1}``;
    ``F_a(X) = 1 - exp(-Lambda0(tau) exp(X'b))`` from the Cox model (riskRegression's
    exponential form, ``product.limit = FALSE``, with the Efron baseline hazard of
    ``survival::basehaz(fit, centered = FALSE)``). With censoring, IPTW weights ``Y_i`` by
    ``C_i / G(min(T_i, tau)- | X_i)`` (``C_i = 0`` when censored before ``tau``; ``G`` the Cox
    censoring survival just before ``min(T_i, tau)``), and AIPTW adds the augmentation term for
    censoring, ``F_a(tau|X_i) int_0^{min(T_i,tau)} dM^C_i / (S G) - int F(t|X_i) dM^C_i / (S G)``
    with ``F``, ``S`` from the outcome model at the observed covariates, evaluated at
    riskRegression's grid of censoring times (one column per censored row, ties repeated, ``G``
    at the preceding grid time) — exactly as ``riskRegression:::ATE_TI``.

    Standard errors: ``se = sqrt(sum_i iid_i^2)`` with ``iid_i`` the estimated influence
    function over n (riskRegression's ``iidATE``), which includes the estimation of the outcome
    model (glm: ``score I^-1``; Cox: riskRegression's ``iidCox`` of the coefficients and of the
    baseline hazard), of the treatment model and of the censoring model. Differences ``B - A``
    and ratios ``B / A`` take the influence functions ``iid_B - iid_A`` and
    ``iid_B / m_A - iid_A m_B / m_A^2``. Intervals are Wald intervals ``estimate -/+ z se`` on
    the natural scale for every quantity (ratios included; riskRegression's default
    ``transform = "none"``), clipped to [0, 1] for risks, [-1, 1] for differences and at 0 for
    ratios, as riskRegression. p-values ``2 (1 - Phi(|estimate - null| / se))`` with null 0 for
    differences and 1 for ratios.

    Differences from R: R's formula interface fits the Cox models with ``rms::cph`` (whose
    convergence criterion is 1e-4); this function fits ``survival::coxph`` (R's own examples
    pass ``coxph(..., x = TRUE, y = TRUE)`` objects). Missing values raise instead of being
    dropped. Strata, competing risks (CSC), bootstrap, bands and time-dependent covariates are
    not offered.

    References
    ----------
    Ozenne B, Scheike TH, Staerk L, Gerds TA (2020) On the estimation of average treatment
    effects with right-censored time to event outcome and competing risks. Biometrical Journal
    62:751-763. Gerds TA, Ozenne B, riskRegression 2022.11.28, ``?ate``.
    """
    from carts_iptw.glm_model import glm

    data = require_dataframe(data)
    est = _estimators(estimator)
    q = float(stats.norm.ppf(1 - (1 - check_level(conf_level)) / 2))
    tname, tsurv = _lhs_name(treatment, "treatment")
    if tsurv or tname not in data.columns:
        raise ValueError("treatment: the left-hand side must be the treatment column of data")
    ename, surv = _lhs_name(event, "event")
    k = int(pd.isna(data[tname]).sum())
    if k:
        raise ValueError(f"column '{tname}' has {k} missing value(s); remove or impute them first")
    levels = _treatment_levels(data[tname], tname)
    dfac = data.copy()
    dfac[tname] = pd.Categorical(data[tname], categories=levels)
    n = len(data)

    # treatment model
    from carts_iptw.formula import model_frame as _mf

    tmf = _mf(treatment, dfac)
    if any(tname in v for v in tmf.term_variables):
        raise ValueError(f"treatment: '{tname}' cannot also be a covariate of its own model")
    try:
        tfit = glm(treatment, dfac, family="binomial")
    except ValueError as exc:
        raise _fail("treatment", exc) from None
    _check_treatment_separation(tfit, tname)
    _check_glm(tfit, "treatment", tname)
    Xt, p1, iid_bt = _glm_parts(tfit)
    A = (dfac[tname] == levels[1]).to_numpy()
    M = np.column_stack([~A, A]).astype(float)
    pi = np.column_stack([1 - p1, p1])
    W = M / pi
    sign = (-1.0, 1.0)
    dpi = Xt * (p1 * (1 - p1))[:, None]  # d p1 / d beta_t, per row

    def treat_term(c: int, factor):  # R: predictRisk(treatment, average.iid = factor, level)
        return sign[c] * iid_bt @ (dpi.T @ factor) / n

    iid: dict[str, list] = {e: [None, None] for e in est}
    means: dict[str, list] = {e: [None, None] for e in est}

    if not surv:
        if times is not None:
            raise ValueError("times: only for a time-to-event outcome (Surv() response); a "
                             "binary outcome has no horizon (R: times must be NA)")
        if censor is not None:
            raise ValueError("censor: only for a time-to-event outcome")
        if ename not in data.columns:
            raise ValueError("event: the left-hand side must be an outcome column of data "
                             "(create it first, e.g. data['y'] = data['x'] > 0)")
        if ename == tname:
            raise ValueError("the treatment variable has the same name as the event variable")
        try:
            efit = glm(event, dfac, family="binomial")
        except ValueError as exc:
            raise _fail("outcome", exc) from None
        _check_glm(efit, "outcome", ename)
        emf = efit.model_frame
        if tname not in emf.variables:
            raise ValueError(f"event: the outcome model must include the treatment '{tname}'")
        Y = np.asarray(efit.y, dtype=float)[:, None]
        Xy, _, iid_by = _glm_parts(efit)
        b = efit.coef.to_numpy(dtype=float)
        times_arr = None
        tcol = np.array([np.nan])
        for c, lv in enumerate(levels):
            Xa = _new_design(event, emf, _set_level(dfac, tname, lv), drop_intercept=False)
            Fa = 1 / (1 + np.exp(-(Xa @ b)))
            dF = Xa * (Fa * (1 - Fa))[:, None]
            Fa = Fa[:, None]

            def out_term(factor, dF=dF):
                return iid_by @ (dF.T @ factor) / n

            Wc = W[:, [c]]
            for e in est:
                if e == "GFORMULA":
                    v = Fa
                    nuis = out_term(np.ones((n, 1)))
                elif e == "IPTW":
                    v = Wc * Y
                    nuis = treat_term(c, -Y * Wc / pi[:, [c]])
                else:
                    v = Fa + Wc * (Y - Fa)
                    nuis = out_term(1 - Wc) + treat_term(c, -(Y - Fa) * Wc / pi[:, [c]])
                m = v.mean(axis=0)
                means[e][c] = m
                iid[e][c] = (v - m) / n + nuis
        n_cens = None
    else:
        times_arr = _check_times(times)
        tcol = times_arr
        ecox, emf = _cox(event, dfac, "outcome")
        if tname not in emf.variables:
            raise ValueError(f"event: the outcome model must include the treatment '{tname}'")
        time = np.asarray(emf.surv.time, dtype=float)
        status = np.asarray(emf.surv.event, dtype=float)
        if not set(np.unique(status).tolist()) <= {0.0, 1.0}:
            raise ValueError("event: the status must be 0/1 (competing risks are not supported)")
        if times_arr.max() > time.max():
            k = int((times_arr > time.max()).sum())
            raise ValueError(f"times: {k} horizon(s) lie beyond the last follow-up time of the "
                             "data (the Cox predictions are undefined there)")
        cens = status == 0
        before = time[:, None] <= times_arr[None, :]
        n_cens = (before & cens[:, None]).sum(axis=0)
        ipcw = bool(n_cens.sum() > 0) and any(e in est for e in ("IPTW", "AIPTW"))
        Xobs = _new_design(event, emf, dfac, drop_intercept=True)
        Y = (before & (status == 1)[:, None]).astype(float)
        if ipcw:
            if censor is None:
                raise ValueError("censor: IPTW and AIPTW need a censoring model when rows are "
                                 "censored before a horizon, e.g. censor = 'Surv(time, status "
                                 "== 0) ~ treat + x'")
            ccox, cmf = _cox(censor, dfac, "censoring")
            if not np.array_equal(np.asarray(cmf.surv.time, float), time):
                raise ValueError("censor: the censoring model must use the event model's time")
            if not np.array_equal(np.asarray(cmf.surv.event) > 0, cens):
                raise ValueError("censor: its status must be the censoring indicator of the "
                                 "event model (Surv(time, status == 0))")
            Xc = _new_design(censor, cmf, dfac, drop_intercept=True)
            ip = _ipcw_parts(time, cens, times_arr, ccox, Xc)
        for c, lv in enumerate(levels):
            Xa = _new_design(event, emf, _set_level(dfac, tname, lv), drop_intercept=True)
            Fa = 1 - ecox.survival(Xa, times_arr)  # (n, T)
            Wc = W[:, [c]]
            for e in est:
                if e == "GFORMULA":
                    v = Fa
                    nuis = -ecox.avg_iid_survival(Xa, times_arr, np.ones_like(Fa) / n)
                elif e == "IPTW":
                    YW = Y * ip["Wc"] if ipcw else Y
                    v = Wc * YW
                    nuis = treat_term(c, -YW * Wc / pi[:, [c]])
                    if ipcw:
                        nuis = nuis + _ipcw_term(ip, ccox, Xc, Wc * Y, n)
                else:
                    YW = Y * ip["Wc"] if ipcw else Y
                    aug, aug_iid = ip["aug"](ecox, Xobs, W, n) if ipcw else (0.0, None)
                    v = Fa + Wc * (YW - Fa + aug)
                    nuis = -ecox.avg_iid_survival(Xa, times_arr, (1 - Wc) * np.ones_like(Fa) / n)
                    nuis = nuis + treat_term(c, -(YW - Fa + aug) * Wc / pi[:, [c]])
                    if ipcw:
                        nuis = nuis + _ipcw_term(ip, ccox, Xc, Wc * Y, n)
                        nuis = nuis + aug_iid[:, :, c]
                m = v.mean(axis=0)
                means[e][c] = m
                iid[e][c] = (v - m) / n + nuis

    mrows, drows, rrows = [], [], []
    for e in est:
        mean, diff, ratio = _inference(means[e][0], means[e][1], iid[e][0], iid[e][1], q)
        bad = [x for x in (*mean[0], *mean[1], *diff, *ratio) if not np.isfinite(x).all()]
        if bad:
            raise ValueError(f"the {_LABEL[e]} estimate is not finite: a mean risk of 0 under "
                             f"the first level of '{tname}' (A) leaves the ratio undefined (a "
                             "horizon before the first event?), or a censoring survival of 0 "
                             "gives infinite IPCW weights")
        for c in (0, 1):
            mrows.append(pd.DataFrame({"estimator": e, "time": tcol, "treatment": levels[c],
                                       "estimate": mean[c][0], "se": mean[c][1],
                                       "lower": mean[c][2], "upper": mean[c][3]}))
        for rows, (v, se, lo, hi, p) in ((drows, diff), (rrows, ratio)):
            rows.append(pd.DataFrame({"estimator": e, "time": tcol, "A": levels[0],
                                      "B": levels[1], "estimate_A": means[e][0],
                                      "estimate_B": means[e][1], "estimate": v, "se": se,
                                      "lower": lo, "upper": hi, "p_value": p}))
    mean_risk = pd.concat(mrows, ignore_index=True)
    return ATE(mean_risk=mean_risk, diff_risk=pd.concat(drows, ignore_index=True),
               ratio_risk=pd.concat(rrows, ignore_index=True),
               iid={e: {levels[c]: iid[e][c] for c in (0, 1)} for e in est}, estimator=est,
               times=times_arr, treatment=tname, levels=levels, n=n, conf_level=conf_level,
               outcome_type="survival" if surv else "binary",
               event_name=emf.surv.names.get("event", ename) if surv else ename,
               n_censored=n_cens)


def _check_times(times) -> np.ndarray:
    if times is None:
        raise ValueError("times: a time-to-event outcome needs the horizon(s), e.g. times=[5, 10]")
    try:
        t = np.atleast_1d(np.asarray(times, dtype=float))
    except (TypeError, ValueError):
        raise TypeError("times must be a number or a sequence of numbers") from None
    if t.ndim != 1 or t.size == 0 or not np.isfinite(t).all() or (t <= 0).any():
        raise ValueError("times must be finite positive horizons")
    return t


#: rows per block in the AIPCW pass: blocks of about this many (row x grid) cells
_BLOCK_CELLS = 2_000_000


def _ipcw_parts(time, cens, times, ccox: CoxIID, Xc) -> dict:
    """The IPCW quantities of riskRegression's ATE_TI: weights, censoring-time grid, augmentation.

    ``aug(ecox, X, W, n)`` returns the AIPCW augmentation term (n, T) and its influence through
    the outcome and censoring models, (n, T, 2) for the treatment-weight columns ``W`` (n, 2).
    riskRegression forms n x K matrices over the grid of K censoring times; here rows are taken
    in blocks and every sum over rows is accumulated, so memory stays at a block.
    """
    n, T = len(time), len(times)
    jump = np.sort(time[cens])
    mins = np.minimum(time[:, None], times[None, :])
    idx = np.searchsorted(jump, mins - _TOL, side="right")  # prodlim::sindex
    last = int(idx.max())
    jump = jump[:last]
    grid0 = np.concatenate([[0.0], jump])
    tG = grid0[idx]  # (n, T)
    rc = ccox.lin_pred(Xc)
    G_T = np.exp(-rc[:, None] * ccox.cumhazard0(tG))
    C_tau = 1 - (time[:, None] <= times[None, :]) * cens[:, None]
    out = {"Wc": C_tau / G_T, "G_T": G_T, "tG": tG, "jump": jump, "last": last}
    if last == 0:
        out["aug"] = lambda *a: (np.zeros((n, T)), np.zeros((n, T, 2)))
        return out
    K = last
    nJ = np.searchsorted(jump, times, side="right")  # beforeTau.nJumpC
    mask = (np.arange(K)[:, None] < nJ[None, :]).astype(float)  # (K, T)
    # dN: one per (censored row, grid column with its time); ties repeat the grid time
    cidx = np.flatnonzero(cens)
    c_lo = np.searchsorted(jump, time[cidx], side="left")
    c_hi = np.searchsorted(jump, time[cidx], side="right")
    cols = [(c, k) for k in range(T) for c in (0, 1)]  # column l of the row weights
    mk = np.column_stack([mask[:, k] for c, k in cols])
    cache: dict = {}

    def aug(ecox: CoxIID, X, W, n_):
        if "aug" in cache:
            return cache["aug"]
        L0_tau = ecox.cumhazard0(times)
        L0_jm = ecox.cumhazard0(jump - _TOL)
        L0_j = ecox.cumhazard0(jump)
        Lc_prev = ccox.cumhazard0(np.concatenate([[0.0], jump[:-1]]))
        Lc_left = ccox.cumhazard0(jump - _TOL)
        lamc = ccox.hazard0(jump)
        augm = np.zeros((n, T))
        integ = np.zeros((n, T))
        # accumulated (A, BB) of the seven product terms, see below
        sums: dict[str, list] = {}

        def add(key, model, P, Wrow, Xb):
            A, BB = model.product_sums(P, Wrow, Xb)
            if key in sums:
                sums[key][0] += A
                sums[key][1] += BB
            else:
                sums[key] = [A, BB]

        step = max(1, _BLOCK_CELLS // K)
        for b0 in range(0, n, step):
            sl = slice(b0, min(n, b0 + step))
            Xb, Xcb = X[sl], Xc[sl]
            r, rcb = ecox.lin_pred(Xb), rc[sl]
            before = jump[None, :] <= time[sl, None]
            iSG = np.exp(np.outer(r, L0_jm) + np.outer(rcb, Lc_prev))  # 1 / (S(t-) G(prev))
            iSG[~before] = 0.0
            dM_SG = iSG * np.outer(rcb, -lamc)  # dM / (S G), dM = dN - dLambda_c
            inb = (cidx >= sl.start) & (cidx < sl.stop)
            for k0 in np.unique(c_hi[inb] - c_lo[inb]):
                sel = inb & ((c_hi - c_lo) == k0)
                for d in range(int(k0)):
                    rr, cc = cidx[sel] - sl.start, c_lo[sel] + d
                    dM_SG[rr, cc] += iSG[rr, cc]
            F1_tau = 1 - np.exp(-np.outer(r, L0_tau))
            S_j = np.exp(-np.outer(r, L0_j))  # S at the jumps
            F1dM = (1 - S_j) * dM_SG
            for k, j in enumerate(nJ):
                if j > 0:
                    integ[sl, k] = dM_SG[:, :j].sum(axis=1)
                    augm[sl, k] = F1_tau[:, k] * integ[sl, k] - F1dM[:, :j].sum(axis=1)
            Wb = W[sl]
            w_tau = np.column_stack([Wb[:, c] * F1_tau[:, k] for c, k in cols]) / n_
            w_one = np.column_stack([Wb[:, c] for c, k in cols]) / n_
            # (b) F1 at the jumps: coefficient -w dM/(S G) S(t) of IF(Lambda(t))
            add("b", ecox, dM_SG * S_j, -w_one, Xb)
            del S_j
            # (c) S just before the jumps: w (F1(tau) - F1(t)) dM / (S G)
            add("c1", ecox, dM_SG, w_tau, Xb)
            add("c2", ecox, F1dM, -w_one, Xb)
            # (d) G just before the jumps (censoring model): times G(t-) / G(previous jump)
            ratio = np.exp(np.outer(rcb, Lc_prev - Lc_left))
            add("d1", ccox, dM_SG * ratio, w_tau, Xcb)
            add("d2", ccox, F1dM * ratio, -w_one, Xcb)
            del ratio, F1dM
            # (e) the censoring hazard at the jumps: -w (F1(tau) - F1(t)) / (S G)
            add("e1", ccox, iSG, -w_tau, Xcb)
            iSG *= 1 - np.exp(-np.outer(r, L0_j))
            add("e2", ccox, iSG, w_one, Xcb)
            del iSG, dM_SG
        acc = (ecox.avg_iid_from_sums(jump, *sums["b"], mk)
               + ecox.avg_iid_from_sums(jump - _TOL, *sums["c1"], mk)
               + ecox.avg_iid_from_sums(jump - _TOL, *sums["c2"], mk)
               + ccox.avg_iid_from_sums(jump - _TOL, *sums["d1"], mk)
               + ccox.avg_iid_from_sums(jump - _TOL, *sums["d2"], mk)
               + ccox.avg_iid_from_sums(jump, *sums["e1"], mk, hazard=True)
               + ccox.avg_iid_from_sums(jump, *sums["e2"], mk, hazard=True))
        res = np.zeros((n, T, 2))
        for l, (c, k) in enumerate(cols):
            res[:, k, c] = acc[:, l]
        # (a) F1 at tau, coefficient w * int_0^{min(T, tau)} dM / (S G)
        for c in (0, 1):
            res[:, :, c] -= ecox.avg_iid_survival(X, times, W[:, [c]] * integ / n_)
        cache["aug"] = (augm, res)
        return cache["aug"]

    out["aug"] = aug
    return out


def _ipcw_term(ip: dict, ccox: CoxIID, Xc, WY, n) -> np.ndarray:
    """Influence of the censoring survival G(min(T, tau)-) in the IPCW weights."""
    T = ip["tG"].shape[1]
    out = np.zeros((len(Xc), T))
    for k in range(T):
        f = -WY[:, k] * ip["Wc"][:, k] / ip["G_T"][:, k] / n
        out[:, [k]] = ccox.avg_iid_survival_diag(Xc, ip["tG"][:, k], f[:, None])
    return out

