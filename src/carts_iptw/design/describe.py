"""Weighted descriptive statistics.

Twins of ``survey::svymean``, ``svytotal``, ``svyby`` and ``svyquantile`` for a
:class:`~carts_iptw.design.svydesign.SurveyDesign`.

Variances are linearisation (influence-function) variances via the design's ``recvar``
(survey's ``svyrecvar``).  Missing values raise unless ``na_rm=True`` (R returns NA).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from carts_iptw._validation import check_probability
from carts_iptw.design.svydesign import SurveyDesign, require_design
from carts_iptw.results import (
    Estimates,
    Summary,
    TableResult,
    ci_labels,
    deprecated_alias,
    print_coefmat,
)


def _variables(x) -> list[str]:
    if isinstance(x, str):
        s = x.strip()
        if s.startswith("~"):
            s = s[1:]
        return [v.strip() for v in s.split("+") if v.strip()]
    return list(x)


def _indicator_matrix(design: SurveyDesign, x) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Survey's ``model.matrix(~0 + v)`` per variable.

    Numeric as is, factor/logical/character as indicators named ``<var><level>``.

    Returns matrix, names and a row-missing mask.
    """
    require_design(design)
    cols, names, miss = [], [], np.zeros(design.n, dtype=bool)
    for v in _variables(x):
        if v not in design.columns:
            raise ValueError(f"unknown column '{v}' (not in the design's data)")
        s = design.column(v)
        miss |= pd.isna(s).to_numpy()
        if pd.api.types.is_numeric_dtype(s) and s.dtype != bool:
            k = int(np.isinf(s.to_numpy(dtype=float)).sum())
            if k:
                raise ValueError(f"column '{v}' has {k} infinite value(s)")
        if isinstance(s.dtype, pd.CategoricalDtype):
            for lv in s.cat.categories:
                cols.append((s == lv).to_numpy(dtype=float))
                names.append(f"{v}{lv}")
        elif s.dtype == bool:
            for lv, lab in ((False, "FALSE"), (True, "TRUE")):
                cols.append((s == lv).to_numpy(dtype=float))
                names.append(f"{v}{lab}")
        elif pd.api.types.is_numeric_dtype(s):
            cols.append(s.to_numpy(dtype=float))
            names.append(v)
        else:
            try:
                levels = sorted(pd.unique(s.dropna()))
            except TypeError:
                raise TypeError(f"column '{v}' holds mixed values (e.g. text and numbers)") from None
            for lv in levels:
                cols.append((s == lv).to_numpy(dtype=float))
                names.append(f"{v}{lv}")
    X = np.column_stack(cols)
    return X, names, miss


def _handle_missing(design, X, miss, na_rm, what, x=None):
    if miss.any():
        if not na_rm:
            if x is not None:  # name the column(s) with missing values
                cols = [v for v in _variables(x) if bool(pd.isna(design.column(v)).any())]
                what = f"{what}: column(s) {', '.join(repr(c) for c in cols)}"
            raise ValueError(
                f"{what} has {int(miss.sum())} row(s) with missing values; pass na_rm=True "
                "to drop them (survey's na.rm = TRUE)"
            )
        design = design.subset(~miss)
        X = X[~miss]
    return design, X


class SvyStat(Estimates):
    """Estimates with a design-based variance (twin of survey's ``svystat``).

    Attributes
    ----------
    coef : pandas.Series
        The estimates.
    vcov : pandas.DataFrame
        Their design-based covariance.
    estimate_name : str
        ``"mean"`` or ``"total"`` (R's column name in the printout).

    Notes
    -----
    ``se``, ``confint(level, parm, df)``, ``tidy()``, ``summary()``. R twin: the ``svystat``
    object of ``survey::svymean`` / ``svytotal`` (survey 4.1-1).
    """

    def __init__(self, coef: pd.Series, vcov: pd.DataFrame, estimate_name: str, df=np.inf):
        self.coef = coef
        self.vcov = vcov
        self.estimate_name = estimate_name
        self.reference_df = df

    statistic = deprecated_alias("estimate_name")

    def confint(self, level: float = 0.95, parm=None, df=None) -> pd.DataFrame:
        """Wald interval ``est -/+ q se``.

        ``df=None`` is survey's ``confint.svystat`` default (normal ``q``), otherwise ``q = qt(1 -
        a/2, df)``.

        R's ``"2.5 %"`` column labels. Raises ``ValueError`` for ``level`` outside (0, 1).
        """
        level = check_probability(level, "level")
        df = np.inf if df is None else df
        a = (1 - level) / 2
        q = stats.norm.ppf(1 - a) if np.isinf(df) else stats.t.ppf(1 - a, df)
        rows = self._rows(parm)
        lo, hi = self.coef[rows] - q * self.se[rows], self.coef[rows] + q * self.se[rows]
        lo_lab, hi_lab = ci_labels(level)
        return pd.DataFrame({lo_lab: lo, hi_lab: hi})

    @property
    def table(self) -> pd.DataFrame:
        """R's printed svystat: the estimate (``mean`` / ``total``) and ``SE`` per row."""
        return pd.DataFrame({self.estimate_name: self.coef, "SE": self.se})

    def _print_text(self) -> str:
        t = self.table
        return print_coefmat(t, stars=False)

    def summary(self) -> Summary:
        """R's ``print(svymean(...))``; the table (estimate and SE) is ``.table``.

        (Until 0.1 ``summary()`` returned that DataFrame: use ``summary().table``.)
        """
        return Summary(self._print_text(), table=self.table)


def svymean(x, design: SurveyDesign, na_rm: bool = False) -> SvyStat:
    """Weighted mean with linearisation SE; twin of ``survey::svymean(~x, design)``.

    Parameters
    ----------
    x : str or list of str
        ``"~a + b"``, a column name or a list of names.
    design : SurveyDesign
        The design (:func:`svydesign`).
    na_rm : bool, default False
        Drop rows with a missing value as a domain (R's ``na.rm = TRUE``).

    Returns
    -------
    SvyStat
        ``.coef``, ``.vcov``, ``.se``, ``.confint()``, ``.summary()``.

    Raises
    ------
    ValueError
        For unknown columns, missing values without ``na_rm`` (R: NA) or a non-design.

    Notes
    -----
    Estimate ``sum(w x) / sum(w)``; influence values ``w (x - mean) / sum(w)`` summed by
    ``svyrecvar`` (Lumley 2010, eq. 2.5).  Factors give one proportion per level. For
    ``ids = ~1`` the variance is ``n/(n-1) * sum_i w_i^2 (x_i - xbar)^2 / (sum w)^2``.

    R twin version: survey 4.1-1.

    References
    ----------
    Lumley T (2004) J Stat Softw 9(8); Lumley (2010) Complex Surveys, ch. 2.
    """
    X, names, miss = _indicator_matrix(design, x)
    design, X = _handle_missing(design, X, miss, na_rm, "svymean variable(s)", x)
    w = design.weights
    psum = w.sum()
    avg = (X * (w / psum)[:, None]).sum(axis=0)
    inf = (X - avg) * (w / psum)[:, None]
    v = design.recvar(inf)
    return SvyStat(pd.Series(avg, index=names), pd.DataFrame(v, index=names, columns=names), "mean")


def svytotal(x, design: SurveyDesign, na_rm: bool = False) -> SvyStat:
    """Weighted total; twin of ``survey::svytotal(~x, design)``.

    Parameters
    ----------
    x : str or list of str
        ``"~a + b"``, a column name or a list of names (as :func:`svymean`).
    design : SurveyDesign
        The design (:func:`svydesign`).
    na_rm : bool, default False
        Drop rows with a missing value as a domain (R's ``na.rm = TRUE``).

    Returns
    -------
    SvyStat
        As :func:`svymean`.

    Raises
    ------
    ValueError
        As :func:`svymean`.

    Notes
    -----
    Estimate ``T = sum_i w_i x_i`` (Horvitz-Thompson); variance ``svyrecvar(w x)``, i.e.
    ``n/(n-1) * sum_i (w_i x_i - T/n)^2`` for ``ids = ~1``. Factors give one total per level.

    R twin version: survey 4.1-1.

    References
    ----------
    Horvitz DG, Thompson DJ (1952) JASA 47:663-685; Lumley (2010) Complex Surveys, ch. 2.
    """
    X, names, miss = _indicator_matrix(design, x)
    design, X = _handle_missing(design, X, miss, na_rm, "svytotal variable(s)", x)
    w = design.weights
    tot = (X * w[:, None]).sum(axis=0)
    v = design.recvar(X * w[:, None])
    return SvyStat(pd.Series(tot, index=names), pd.DataFrame(v, index=names, columns=names), "total")


def svyby(formula, by, design: SurveyDesign, FUN="svymean", na_rm: bool = False) -> pd.DataFrame:
    """Domain estimates by groups; twin of ``survey::svyby(~x, ~g, design, svymean)``.

    Parameters
    ----------
    formula : str or list of str
        The variables estimated (as :func:`svymean`'s ``x``).
    by : str or list of str
        The grouping column(s).
    design : SurveyDesign
        The design (:func:`svydesign`).
    FUN : str or callable, default "svymean"
        ``"svymean"`` / ``"svytotal"`` or such a function.
    na_rm : bool, default False
        Passed to ``FUN``.

    Returns
    -------
    pandas.DataFrame
        R's layout: the ``by`` column(s), the estimates, then ``se`` (one estimate) or
        ``se.<name>`` columns; rows in sorted group order.

    Raises
    ------
    ValueError
        For an unknown ``FUN`` or ``by`` column, missing ``by`` values, or a group with zero
        total weight.

    Notes
    -----
    Each domain is the design restricted to the group with the design's PSU counts kept
    (survey's domain estimation): the estimate for group ``g`` is FUN on the rows of ``g`` while
    the variance keeps the full design's PSU count, so ``n/(n-1)`` uses the whole sample's ``n``
    (Lumley 2010, sec. 2.3).

    R twin version: survey 4.1-1 (``svyby(..., keep.var = TRUE)``).

    References
    ----------
    Lumley T (2010) Complex Surveys: A Guide to Analysis Using R, Wiley, sec. 2.3.
    """
    fun = {"svymean": svymean, "svytotal": svytotal}.get(FUN, FUN) if isinstance(FUN, str) else FUN
    if isinstance(fun, str):
        raise ValueError(f"FUN must be 'svymean' or 'svytotal' (got {FUN!r})")
    require_design(design)
    byvars = _variables(by)
    for b in byvars:
        if b not in design.data.columns:
            raise ValueError(f"unknown column '{b}' (not in the design's data)")
        k = int(design.data[b].isna().sum())
        if k:
            raise ValueError(f"by column '{b}' has {k} missing value(s)")
    groups = design.data[byvars].drop_duplicates()
    groups = groups.sort_values(byvars[::-1]).reset_index(drop=True)
    rows = []
    for _, g in groups.iterrows():
        mask = np.ones(design.n, dtype=bool)
        for b in byvars:
            mask &= (design.data[b] == g[b]).to_numpy()
        sub = design.subset(mask)
        if sub.weights.sum() <= 0:
            raise ValueError(f"a group of {byvars} has zero total weight (empty domain)")
        st = fun(formula, sub, na_rm=na_rm)
        rows.append((g, st))
    names = list(rows[0][1].coef.index)
    out = {b: [g[b] for g, _ in rows] for b in byvars}
    for nm in names:
        out[nm] = [st.coef[nm] for _, st in rows]
    for nm in names:
        key = "se" if len(names) == 1 else f"se.{nm}"
        out[key] = [st.se[nm] for _, st in rows]
    idx = [".".join(str(g[b]) for b in byvars) for g, _ in rows]
    return pd.DataFrame(out, index=idx)


def _sorted_cdf(x, w):
    """The rows with nonzero weight sorted by x (stable) and their cumulative weights."""
    keep = w != 0
    x, w = x[keep], w[keep]
    ii = np.argsort(x, kind="stable")
    return x[ii], np.cumsum(w[ii])


def _qs(xs, cumw, p):
    """Survey's ``qs``: bracketing order statistics of the weighted empirical cdf (sorted input)."""
    tot = cumw[-1]
    # the last position with cumw <= p * tot (cumw is non-decreasing: a prefix); survey's
    # last(): 1 (first) when none
    k = int(np.searchsorted(cumw, p * tot, side="right")) if p * tot == p * tot else 0
    pos = k - 1 if k else 0
    posnext = pos if pos == len(xs) - 1 else pos + 1
    return xs[pos], xs[posnext], p - cumw[pos] / tot


def _qrule_math(sorted_cdf, p):
    qlow, qup, wlow = _qs(*sorted_cdf, p)
    return qlow if wlow == 0 else qup


class SvyQuantile(TableResult):
    """Result of :func:`svyquantile`.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        A table per variable with ``quantile``, CI and ``se`` (also ``result[name]``).

    Notes
    -----
    ``tidy()`` stacks the tables (``variable``, ``probability``, ``quantile``, ``conf_low``,
    ``conf_high``, ``std_error``). R twin: ``survey::svyquantile`` (survey 4.1-1).
    """

    def __init__(self, tables: dict[str, pd.DataFrame]):
        self.tables = tables

    def __getitem__(self, k):
        """The table of one variable."""
        return self.tables[k]

    def tidy(self) -> pd.DataFrame:
        """One row per variable and probability."""
        rows = []
        for var, t in self.tables.items():
            lo, hi = t.columns[1], t.columns[2]
            for prob, r in t.iterrows():
                rows.append({"variable": var, "probability": float(prob),
                             "quantile": r["quantile"], "conf_low": r[lo], "conf_high": r[hi],
                             "std_error": r["se"]})
        return pd.DataFrame(rows)

    def _print_text(self) -> str:
        """R's ``print(svyquantile(...))``: one ``$variable`` table per variable."""
        return "\n".join(f"${k}\n{v.to_string()}\n" for k, v in self.tables.items())


def svyquantile(x, design: SurveyDesign, quantiles, alpha: float = 0.05, ci: bool = True,
                df=None, na_rm: bool = False) -> SvyQuantile:
    """Weighted quantiles with Woodruff CIs; twin of ``survey::svyquantile``.

    Parameters
    ----------
    x : str or list of str
        ``"~a + b"``, a column name or a list of names.
    design : SurveyDesign
        The design (:func:`svydesign`).
    quantiles : float or sequence of float
        Probabilities in [0, 1].
    alpha : float, default 0.05
        One minus the confidence level.
    ci : bool, default True
        Compute the Woodruff intervals.
    df : float, optional
        Degrees of freedom of the t quantile; None uses ``degf(design)``.
    na_rm : bool, default False
        Drop rows with a missing value.

    Returns
    -------
    SvyQuantile
        ``[name]`` gives a DataFrame (rows = quantiles; columns ``quantile``, ``ci.2.5``,
        ``ci.97.5``, ``se``).

    Raises
    ------
    ValueError
        For quantiles outside [0, 1] or ``alpha`` outside (0, 1), missing values without
        ``na_rm``.
    TypeError
        For a categorical column.

    Notes
    -----
    survey >= 4.1 defaults: ``qrule = "math"`` (the smallest x whose weighted cdf reaches p,
    i.e. the inverse of the weighted ecdf) and ``interval.type = "mean"``: a Wald interval for
    ``mean(x <= q)`` with ``df = degf(design)`` mapped back through the quantile rule;
    ``se = width / (2 qt(1 - alpha/2, df))``; NaN when the interval leaves [0, 1].

    Woodruff interval: with ``F_w`` the weighted ecdf, ``p_hat = F_w(q_hat)``, ``se_p`` its
    linearisation SE, the limits are ``F_w^-1(p_hat -/+ t_{df} se_p)``.

    R twin version: survey 4.1-1 (``svyquantile(~x, design, quantiles, ci = TRUE)``).

    References
    ----------
    Woodruff RS (1952) JASA 47:635-646; Lumley (2010) Complex Surveys, sec. 2.4; survey 4.1-1
    ``?svyquantile``.
    """
    alpha = check_probability(alpha, "alpha")
    quantiles = np.atleast_1d(np.asarray(quantiles, dtype=float))
    if not ((quantiles >= 0) & (quantiles <= 1)).all():
        raise ValueError("quantiles must lie in [0, 1] (and not be missing)")
    tables = {}
    for v in _variables(x):
        X, names, miss = _indicator_matrix(design, [v])
        if len(names) != 1:
            raise TypeError(f"svyquantile needs a numeric column; '{v}' is categorical")
        d, X = _handle_missing(design, X, miss, na_rm, f"column '{v}'")
        xi = X[:, 0]
        dfv = d.degf() if df is None else df
        qcrit = stats.norm.ppf(1 - alpha / 2) if np.isinf(dfv) else stats.t.ppf(1 - alpha / 2, dfv)
        rows = []
        cdf = _sorted_cdf(xi, d.weights)  # one sort for every quantile and CI limit
        for p in quantiles:
            qhat = _qrule_math(cdf, p)
            if not ci:
                rows.append([qhat])
                continue
            ind = (xi <= qhat).astype(float)
            psum = d.weights.sum()
            m = (ind * d.weights).sum() / psum
            se = np.sqrt(d.recvar((ind - m) * d.weights / psum)[0, 0])
            lo_p, hi_p = m - qcrit * se, m + qcrit * se
            lo = np.nan if (np.isnan(lo_p) or lo_p < 0) else _qrule_math(cdf, lo_p)
            hi = np.nan if (np.isnan(hi_p) or hi_p > 1) else _qrule_math(cdf, hi_p)
            rows.append([qhat, lo, hi, (hi - lo) / (2 * qcrit)])
        a_lo, a_hi = round(100 * alpha / 2, 2), round(100 - 100 * alpha / 2, 2)
        cols = ["quantile"] if not ci else ["quantile", f"ci.{a_lo:g}", f"ci.{a_hi:g}", "se"]
        tables[v] = pd.DataFrame(rows, index=[f"{p:g}" for p in quantiles], columns=cols)
    return SvyQuantile(tables)
