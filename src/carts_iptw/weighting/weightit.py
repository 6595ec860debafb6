"""``weightit()``: balancing weights for a binary treatment, the twin of ``WeightIt::weightit``.

R twin: ``WeightIt::weightit`` (WeightIt 1.5.1) with ``method = "glm"`` (logistic propensity
score), ``"ebal"`` (entropy balancing) or ``"cbps"`` (just-identified covariate balancing
propensity score). See :mod:`carts_iptw.weighting.glm`, :mod:`.ebal`, :mod:`.cbps` for each
method and :mod:`.estimands` for the weight formulas.

Conventions that differ from WeightIt, on purpose (documented):

* missing covariate values raise ``ValueError`` naming the columns unless ``missing="ind"``
  (WeightIt's default for binary treatments is ``"ind"``; here it must be asked for);
* propensity scores numerically 0 or 1 (``<= 1e-14`` or ``>= 1 - 1e-14``) raise ``ValueError``
  (WeightIt warns);
* ``focal`` naming the control group with ``estimand="ATT"`` is computed as the ATC (and the
  treated group with ``"ATC"`` as the ATT); ``.ps`` is always P(treated);
* the propensity-score coefficients are reported on the formula's scale with R's ``glm`` names.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from carts_iptw._diagnostics import warn_extreme_weights
from carts_iptw._validation import (
    as_binary_treatment,
    as_float_array,
    check_weights,
    require_dataframe,
)
from carts_iptw.balance.covariates import rhs_terms, variable_frame
from carts_iptw.families import CartsIptwWarning
from carts_iptw.formula.parser import Name, all_names, deparse, parse_expression
from carts_iptw.results import TableResult
from carts_iptw.weighting.estimands import check_estimand, get_w_from_ps, stabilize_w
from carts_iptw.weighting.summary import WeightSummary, summarize_weights

METHODS = ("glm", "ebal", "cbps")
_PS_EPS = 1e-14


@dataclass(repr=False)
class WeightItResult(TableResult):
    """Result of :func:`weightit` (contract in docs/architecture.md).

    Attributes
    ----------
    weights : numpy.ndarray
        The weights.
    ps : numpy.ndarray or None
        P(treated); None for methods without a propensity score.
    treat : numpy.ndarray
        0/1 treatment.
    estimand, method, covs, formula, s_weights, focal, ps_model, info
        The fit's settings and parts.
    missing : str or None
        ``"ind"`` when the fit used WeightIt's missingness indicators (the propensity model
        then has a ``<var>_NA`` column per covariate with missing values, and
        :func:`glm_weightit` rebuilds it from the same data).

    Notes
    -----
    ``summary()`` is ``summary.weightit``, ``tidy()`` one row per unit (``row``, ``treat``,
    ``ps``, ``weight``), ``repr`` WeightIt's print. R twin: ``WeightIt::weightit`` (WeightIt
    1.5.1).
    """

    weights: np.ndarray
    ps: np.ndarray | None
    treat: np.ndarray
    estimand: str
    method: str
    covs: pd.DataFrame
    formula: str
    s_weights: np.ndarray | None
    focal: object
    treat_name: str
    treat_labels: tuple[str, str] = ("Control", "Treated")
    terms: list = field(default_factory=list)
    stabilize: bool = False
    ps_model: object = None
    info: dict = field(default_factory=dict)
    index: pd.Index | None = None
    trim: tuple | None = None
    missing: str | None = None

    def summary(self, top: int = 5, ignore_s_weights: bool = False) -> WeightSummary:
        """Weight ranges, largest weights, CV, MAD, entropy, ESS (``summary.weightit`` twin).

        R twin: ``summary(weightit_obj, top = 5, ignore.s.weights = FALSE)`` (WeightIt 1.5.1).
        Per group, with ``w`` the weights times the sampling weights: coefficient of variation
        ``sd(w)/mean(w)`` (``n - 1``), scaled MAD ``mean(|v - mean(v)|)`` and negative entropy
        ``mean(v log v)`` with ``v = w/mean(w)``, number of zero weights, and the Kish effective
        sample size ``ESS = (sum w)^2 / sum w^2`` (Kish 1965), unweighted and weighted.
        Difference from WeightIt 1.5.1: the labels of the ``top`` largest weights are the data's
        row labels (see :mod:`carts_iptw.weighting.summary`). Returns a
        :class:`~carts_iptw.weighting.summary.WeightSummary`.
        """
        return summarize_weights(self.weights, self.treat, self.s_weights, top=top,
                                 index=self.index, ignore_s_weights=ignore_s_weights,
                                 stabilized=self.stabilize)

    def _replace_weights(self, w, trim_at=None, trim_lower=False) -> WeightItResult:
        return replace(self, weights=np.asarray(w, dtype=float), trim=(trim_at, trim_lower))

    def tidy(self) -> pd.DataFrame:
        """One row per unit in data order.

        ``row`` (the data's row label), ``treat`` (0/1), ``ps`` (NaN for methods without a
        propensity score), ``weight``, and ``s_weight`` when sampling weights were given.
        """
        n = len(self.weights)
        out = pd.DataFrame({"row": list(self.index) if self.index is not None else np.arange(1, n + 1),
                            "treat": self.treat.astype(int),
                            "ps": self.ps if self.ps is not None else np.full(n, np.nan),
                            "weight": self.weights})
        if self.s_weights is not None:
            out["s_weight"] = self.s_weights
        return out

    def _print_text(self) -> str:
        sw = "none" if self.s_weights is None else "present"
        focal = f" (focal: {self.focal})" if self.focal is not None else ""
        lines = [
            "A weightit object (WeightIt::weightit twin)",
            f" - method: \"{self.method}\"",
            f" - number of obs.: {len(self.weights)}",
            f" - sampling weights: {sw}",
            " - treatment: 2-category",
            f" - estimand: {self.estimand}{focal}",
            f" - covariates: {', '.join(map(str, self.covs.columns))}",
        ]
        if self.trim is not None:
            lines.append(f" - weights trimmed at {self.trim[0]}" + (" (both tails)" if self.trim[1] else ""))
        return "\n".join(lines)


def _resolve_estimand(estimand: str, focal, labels: tuple[str, str], raw_values,
                      treat_name: str = "treatment") -> tuple[str, object]:
    e = check_estimand(estimand)
    if focal is None:
        if e == "ATT":
            return e, raw_values[1]
        if e == "ATC":
            return e, raw_values[0]
        return e, None
    if e not in ("ATT", "ATC"):  # WeightIt warns and sets the ATT (its process.focal.and.estimand)
        warnings.warn(f'estimand = "{e}" is not compatible with `focal`; setting estimand to "ATT"',
                      CartsIptwWarning, stacklevel=3)
        e = "ATT"
    if focal == raw_values[1] or str(focal) == labels[1]:
        return "ATT", raw_values[1]
    if focal == raw_values[0] or str(focal) == labels[0]:
        return "ATC", raw_values[0]
    raise ValueError(f"focal must name one of the 2 groups of the treatment '{treat_name}' (a "
                     "level of the factor, or 0/1 or False/True)")


def _missing_indicators(formula: str, data: pd.DataFrame, variables: list[str]) -> tuple[str, pd.DataFrame]:
    """WeightIt's ``missing = "ind"``: median-impute and add a 0/1 indicator per variable.

    WeightIt adds the indicator and takes the median per column of its covariate matrix; that is
    the same as per data column only when a column with missing values enters the formula as
    itself (a numeric column, no transformation): anything else is refused, naming the column.
    """
    data = data.copy()
    extra = []
    with_na = [v for v in variables if v in data.columns and data[v].isna().any()]
    for v in variables:
        if v in data.columns:
            continue
        read = [nm for nm in all_names(parse_expression(v))
                if nm in data.columns and data[nm].isna().any()]
        if read:
            raise ValueError(
                f"column '{read[0]}' has missing values and is transformed in the formula "
                f"(term '{v}'); missing='ind' supports covariates entered as themselves "
                "(WeightIt adds an indicator and a median per model-matrix column): impute "
                "the column first or enter it untransformed")
    for v in with_na:
        s = data[v]
        if not pd.api.types.is_numeric_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype):
            raise ValueError(f"column '{v}' has missing values; missing='ind' supports numeric "
                             "covariates only (WeightIt codes a missing factor level "
                             "differently: impute it first or make the missing level explicit)")
        ind = f"{v}_NA"
        data[ind] = s.isna().astype(float)
        data[v] = s.fillna(float(s.median()))
        extra.append(ind)
    if extra:
        formula = formula + " + " + " + ".join(deparse(Name(v)) for v in extra)
    return formula, data


def weightit(formula: str, data: pd.DataFrame, method: str = "glm", estimand: str = "ATE",
             stabilize: bool = False, s_weights=None, focal=None, missing: str | None = None,
             control=None) -> WeightItResult:
    """Estimate balancing weights for a binary treatment (twin of ``WeightIt::weightit``).

    Parameters
    ----------
    formula : str
        ``"treat ~ covariates"``.
    data : pandas.DataFrame
        The data.
    method : {"glm", "ebal", "cbps"}, default "glm"
        The weighting method.
    estimand : str, default "ATE"
        ``"ATE"``, ``"ATT"``, ``"ATC"``, ``"ATO"``, ``"ATM"``, ``"ATOS"`` (``"ebal"``: ATE, ATT,
        ATC; ``"cbps"``: ATE, ATT, ATC, ATO, as WeightIt 1.5.1).
    stabilize : bool, default False
        ATE only, as WeightIt >= 1.0: multiplies by ``P(A = a)``, the sampling-weighted share of
        the unit's group (``"glm"`` only: WeightIt ignores it for ``"ebal"`` and ``"cbps"`` with
        a warning, and so does this function).
    s_weights : str or array-like, optional
        Sampling weights (array or column name).
    focal : optional
        The focal group for ATT/ATC.
    missing : str, optional
        ``"ind"`` adds missingness indicators and median-imputes (WeightIt's ``"ind"``).
    control : GlmControl or dict, optional
        A :class:`carts_iptw.irls.GlmControl` (or dict) for the glm fit (R's ``glm.control()``
        default: ``epsilon=1e-8, maxit=25``).

    Returns
    -------
    WeightItResult
        ``.weights``, ``.ps`` (P(treated); ``None`` for ebal), ``.treat`` (0/1), ``.estimand``,
        ``.method``, ``.covs``, ``.s_weights``, ``.focal``, ``.ps_model`` (glm) and ``.info``;
        ``.summary()`` gives WeightIt's ``summary.weightit`` (ranges, CV, MAD, entropy, Kish
        ESS).

    Raises
    ------
    TypeError
        ``formula`` is not a ``'treat ~ covariates'`` string.
    ValueError
        Unknown method/estimand/column; non-binary or missing treatment; an estimand the method
        does not support; ``stabilize`` with a non-ATE estimand; negative / missing sampling
        weights or a group with zero total sampling weight; missing covariates without
        ``missing="ind"``; a constant covariate; a text/factor covariate with more levels than
        half the rows (an identifier: "column 'mrn' has 60 levels for 60 rows (an
        identifier?)"); propensity scores numerically 0 or 1; a failed ebal/cbps fit caused by
        (quasi-)separation (names the covariates).

    Notes
    -----
    Weight formulas: ATE ``1/p`` and ``1/(1-p)``; ATT ``1`` and ``p/(1-p)``; ATC ``(1-p)/p`` and
    ``1``; ATO ``1-p`` and ``p``; ATM ``min(p,1-p)/p`` and ``min(p,1-p)/(1-p)`` (treated and
    control; WeightIt's ``get_w_from_ps``), i.e. for the ATE ``w = t/e + (1-t)/(1-e)``.
    ``"glm"``: ``e = plogis(X b)`` from ``glm(treat ~ X, family = binomial, weights =
    s_weights)``; ``"ebal"``: ``w_i`` proportional to ``exp(-C_i' Z)`` with ``Z`` minimising the
    entropy dual so that weighted covariate means equal the target means exactly, scaled (as
    WeightIt 1.5.1) so that each weighted group's weights sum to its number of units;
    ``"cbps"``: ``e`` solves the just-identified balance equations ``mean(s * psi(e) * X) = 0``.
    With ``stabilize=True`` each weight is multiplied by ``P(A = a)``.

    Warnings: WeightIt 1.5.1's, mirrored (the ``weightit.warnings.*`` parity cases compare them
    with the real package): ``CartsIptwWarning`` "some extreme weights were generated" when
    ``sd(w * s)/mean(w * s) > 4`` in a treatment group (``s`` the sampling weights: WeightIt's
    ``.check_estimated_weights``); ``ConvergenceWarning`` (with glm.fit's ``GlmWarning``
    "algorithm did not converge") when the propensity-score glm does not converge (WeightIt:
    "(from `glm()`): glm.fit: algorithm did not converge"); ``focal`` with an estimand other
    than ATT/ATC (the ATT is estimated); ``stabilize`` with ``"ebal"``/``"cbps"`` (ignored).
    This package's own, which WeightIt never gives: extreme sampling weights (Kish effective
    sample size below 5% of the rows). Where WeightIt warns and this function raises instead:
    propensity scores numerically 0 or 1, missing covariates without ``missing=`` (see the
    module docstring).

    Differences from WeightIt 1.5.1: see the module docstring and the README's "Conventions
    that differ from R".

    References
    ----------
    Greifer N. WeightIt: Weighting for Covariate Balance in Observational Studies (R package
    1.5.1). Austin PC (2011) Multivariate Behav Res 46:399-424 (IPTW estimands). Austin PC,
    Stuart EA (2015) Stat Med 34:3661-3679. Li F, Morgan KL, Zaslavsky AM (2018) JASA
    113:390-400 (overlap weights, ATO). Li L, Greene T (2013) Int J Biostat 9:215-234 (matching
    weights, ATM). Hainmueller J (2012) Political Analysis 20:25-46 (entropy balancing). Imai K,
    Ratkovic M (2014) JRSS-B 76:243-263 (CBPS).
    """
    data = require_dataframe(data)
    if not isinstance(formula, str) or "~" not in formula:
        raise TypeError("formula must be a string 'treatment ~ covariates'")
    method = str(method).lower()
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    lhs, variables, terms = rhs_terms(formula)
    if lhs is None:
        raise ValueError("the formula needs the treatment on its left-hand side")
    if lhs not in data.columns:
        raise ValueError(f"unknown column '{lhs}' (treatment not in data)")
    if not variables:
        raise ValueError("no covariates were specified")
    treat_col = data[lhs]
    treat = as_binary_treatment(treat_col, lhs)
    if isinstance(treat_col.dtype, pd.CategoricalDtype):
        lv = [c for c in treat_col.cat.categories if (treat_col == c).any()]
        labels, raw = (str(lv[0]), str(lv[1])), (lv[0], lv[1])
    elif treat_col.dtype == bool:
        labels, raw = ("Control", "Treated"), (False, True)
    else:
        labels, raw = ("Control", "Treated"), (0, 1)
    est, focal_val = _resolve_estimand(estimand, focal, labels, raw, lhs)
    supported = {"ebal": ("ATE", "ATT", "ATC"), "cbps": ("ATE", "ATT", "ATC", "ATO")}
    if method in supported and est not in supported[method]:
        raise ValueError(f"method '{method}' supports estimands {', '.join(supported[method])}; "
                         f"got {est!r}")
    if stabilize and method != "glm":  # WeightIt 1.5.1: stabilize_ok is FALSE for ebal and cbps
        warnings.warn(f"`stabilize` cannot be used with method '{method}' and will be ignored",
                      CartsIptwWarning, stacklevel=2)
        stabilize = False
    if stabilize and est != "ATE":
        raise ValueError(f"stabilize=True can only be used with estimand='ATE' (as WeightIt); got {est!r}")

    n = len(data)
    if isinstance(s_weights, str):
        if s_weights not in data.columns:
            raise ValueError(f"unknown column '{s_weights}' (s_weights not in data)")
        s_weights = as_float_array(data[s_weights], f"s_weights column '{s_weights}'")
    sw = None if s_weights is None else check_weights(s_weights, "s_weights", n=n)
    if sw is not None:
        warn_extreme_weights(sw, "weightit: s_weights")
    sw_fit = np.ones(n) if sw is None else sw
    for g in (0, 1):
        if not sw_fit[treat == g].sum() > 0:
            raise ValueError(f"s_weights are zero for every unit of one group of '{lhs}' "
                             "(empty group)")

    covs = variable_frame(formula, data, matrix_terms="columns")
    _refuse_identifiers(covs)
    na_cols = {c: int(covs[c].isna().sum()) for c in covs.columns if covs[c].isna().any()}
    # WeightIt's object$covs (what cobalt's bal.tab reports): the data columns the formula reads
    # (R's all.vars), untransformed: factor(race) -> race, I(age^2) -> age, no interactions
    raw_vars: list[str] = []
    for v in variables:  # a column's own name, or an expression read by the formula parser
        for nm in [v] if v in data.columns else all_names(parse_expression(v)):
            if nm in data.columns and nm != lhs and nm not in raw_vars:
                raw_vars.append(nm)
    reported_covs = data[raw_vars].copy()
    fit_formula, fit_data = formula, data
    if na_cols:
        if missing != "ind":
            desc = ", ".join(f"'{c}' ({k} missing)" for c, k in na_cols.items())
            raise ValueError(f"covariate column(s) with missing values: {desc}; remove or impute "
                             "them first, or use missing='ind'")
        fit_formula, fit_data = _missing_indicators(formula, data, variables)
    elif missing not in (None, "ind"):
        raise ValueError(f"missing must be None or 'ind'; got {missing!r}")

    from carts_iptw.formula import model_frame

    mf = model_frame(fit_formula, fit_data)
    X, names = mf.X, list(mf.column_names)
    if "(Intercept)" not in names:
        X = np.column_stack([np.ones(n), X])
        names = ["(Intercept)"] + names
    for j, nm in enumerate(names):
        if nm != "(Intercept)" and np.ptp(X[:, j]) == 0:
            raise ValueError(f"covariate '{nm}' is constant; remove it from the formula")

    info: dict = {}
    ps_model = None
    ps = None
    if method == "glm":
        from carts_iptw.weighting.glm import fit_ps_glm

        ps_model = fit_ps_glm(X, names, treat, sw_fit, control=control, treat_name=lhs,
                              describe=mf.describe)
        ps = ps_model.fitted
        _check_ps(ps)
        w = get_w_from_ps(ps, treat, est)
    elif method == "ebal":
        from carts_iptw.weighting.ebal import fit_ebal

        w, info = fit_ebal(X, names, treat, sw_fit, est)
        if not all(info["converged"].values()):
            _raise_if_separated(X, names, treat, sw_fit, lhs, mf.describe)
    else:
        from carts_iptw.weighting.cbps import fit_cbps

        ps, info = fit_cbps(X, names, treat, sw_fit, est)
        if not info["cbps"]["balance_norm"] <= 1e-8:
            _raise_if_separated(X, names, treat, sw_fit, lhs, mf.describe)
        _check_ps(ps)
        w = get_w_from_ps(ps, treat, est)
    if stabilize:
        w = stabilize_w(w, treat, sw_fit)

    if not np.isfinite(w).all():
        raise ValueError("non-finite weights were estimated")
    test_w = w * sw_fit
    for g in (0, 1):
        x = test_w[treat == g]
        if x.size > 1 and x.std(ddof=1) / x.mean() > 4:
            warnings.warn("some extreme weights were generated; examine them with .summary() "
                          "and consider trim()", CartsIptwWarning, stacklevel=2)
            break
    return WeightItResult(
        weights=w, ps=ps, treat=treat, estimand=est, method=method, covs=reported_covs,
        formula=formula,
        s_weights=sw, focal=focal_val if est in ("ATT", "ATC") else None, treat_name=lhs,
        treat_labels=labels, terms=terms, stabilize=bool(stabilize),
        ps_model=ps_model, info=info, index=data.index,
        missing="ind" if fit_formula is not formula else None)


def _refuse_identifiers(covs: pd.DataFrame) -> None:
    """A text/factor covariate with more levels than half the rows.

    An MRN or id picked by mistake has levels seen once, each of which separates the treatment:
    no weights exist.

    Say so before building an n-by-n model matrix, naming the column and the counts only.
    """
    n = len(covs)
    for c in covs.columns:
        s = covs[c]
        if pd.api.types.is_numeric_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
            continue
        k = int(s.nunique(dropna=True))
        if k > 2 and 2 * k > n:
            raise ValueError(
                f"column '{c}' has {k} levels for {n} rows (an identifier?): levels seen once "
                "separate the treatment, so no weights exist; remove it from the formula")


def _raise_if_separated(X, names, treat, s_weights, treat_name, describe) -> None:
    """After a failed fit.

    ``ValueError`` naming the covariates if they separate the groups (then no weights can balance
    them: no overlap).
    """
    from carts_iptw.separation import detect_separation  # numpy/scipy only

    sep = detect_separation(X, treat, list(names), np.asarray(s_weights, dtype=float))
    if sep.separated:
        kind = "complete" if sep.complete else "quasi-complete"
        raise ValueError(
            f"perfect separation ({kind}) of the treatment '{treat_name}' by "
            f"{describe(sep.infinite)}: "
            "the groups do not overlap on these covariates; remove or coarsen them")


def _check_ps(ps: np.ndarray) -> None:
    bad = (ps <= _PS_EPS) | (ps >= 1 - _PS_EPS)
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} propensity score(s) numerically equal to 0 or 1 were estimated, "
            "indicating perfect separation; remove or coarsen the separating covariate(s)")
