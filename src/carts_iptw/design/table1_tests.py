"""Unweighted Table 1 tests.

Twins of ``stats::wilcox.test``, ``stats::chisq.test`` and ``stats::fisher.test`` with R's defaults
(two-sided; continuity corrections; exact rules).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
from scipy import special, stats

from carts_iptw._validation import check_columns_finite, check_finite, check_probability
from carts_iptw.design._zeroin import EPS, uniroot
from carts_iptw.design.htest import HTest


def _two_samples(x, y, data, what):
    """``f(x, y)`` or ``f("value ~ group", data=df)`` -> two float arrays.

    R's formula method: x = first factor level, y = second.
    """
    if isinstance(x, str):
        if data is None:
            raise TypeError(f"{what}: a formula needs data=")
        from carts_iptw.design.tests import _split_formula

        lhs, parts = _split_formula(x)
        if not lhs or len(parts) != 1:
            raise ValueError(f"{what}: the formula must be 'value ~ group'")
        rhs = parts[0]
        for c in (lhs, rhs):
            if c not in data.columns:
                raise ValueError(f"unknown column '{c}' (not in data)")
        check_columns_finite(data, [lhs, rhs])
        g = data[rhs]
        if isinstance(g.dtype, pd.CategoricalDtype):
            lv = [v for v in g.cat.categories if (g == v).any()]
        else:
            lv = sorted(pd.unique(g).tolist())
        if len(lv) != 2:
            raise ValueError(f"grouping column '{rhs}' must have exactly 2 groups; it has {len(lv)}")
        v = data[lhs]
        if not pd.api.types.is_numeric_dtype(v):
            raise TypeError(f"column '{lhs}' must be numeric")
        v = v.to_numpy(dtype=float)
        return v[(g == lv[0]).to_numpy()], v[(g == lv[1]).to_numpy()], f"{lhs} by {rhs}"
    if y is None:
        raise TypeError(f"{what}: give two samples x and y, or a formula with data=")
    xa = check_finite(x, "x")
    ya = check_finite(y, "y")
    for nm, a in (("x", xa), ("y", ya)):
        if a.size == 0:
            raise ValueError(f"{nm} is empty")
    return xa, ya, "x and y"


def _wilcox_counts(m: int, n: int) -> np.ndarray:
    """Exact counts of the Mann-Whitney statistic U = 0..m*n, as Python integers.

    The coefficients of the Gaussian binomial [m+n choose m]_q.
    """
    c = np.zeros(m * n + 1, dtype=object)
    c[:] = 0
    c[0] = 1
    for i in range(1, m + 1):
        k = n + i
        if k <= m * n:
            c[k:] = c[k:] - c[:-k].copy()
        for r in range(i):
            c[r::i] = np.cumsum(c[r::i])
    return c


def _midranks(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``scipy.stats.rankdata(z)``, the sizes of the tie blocks in sorted order), one sort.

    Average ranks ``(first + last) / 2`` (1-based) of each block of equal values, the same
    numbers rankdata returns; the block sizes are ``np.unique(ranks, return_counts=True)[1]``.
    """
    o = np.argsort(z, kind="mergesort")
    zs = z[o]
    start = np.flatnonzero(np.r_[True, zs[1:] != zs[:-1]]) if len(z) else np.zeros(0, int)
    counts = np.diff(np.r_[start, len(z)])
    r = np.empty(len(z))
    r[o] = np.repeat(0.5 * ((start + counts) + start + 1), counts)
    return r, counts


def wilcox_test(x, y=None, data=None, exact=None, correct: bool = True) -> HTest:
    """Wilcoxon rank-sum (Mann-Whitney) test; twin of ``stats::wilcox.test(x, y)`` (R 4.2).

    Parameters
    ----------
    x : array-like or str
        The first sample, or a formula ``"value ~ group"`` (R's formula method: x is the first
        level of ``group``, y the second).
    y : array-like, optional
        The second sample (not with a formula).
    data : pandas.DataFrame, optional
        The data a formula reads.
    exact : bool, optional
        Exact p-value; None (default) chooses as R does.
    correct : bool, default True
        Continuity correction of 0.5 in the normal approximation.

    Returns
    -------
    HTest
        Statistic ``W``, ``p_value`` (two-sided only).

    Raises
    ------
    ValueError
        On missing or infinite values (R drops NAs), an empty sample, unknown columns, or a
        grouping column without exactly two groups.
    TypeError
        For a formula without ``data=``, a non-numeric value column, or no second sample.

    Notes
    -----
    ``W = sum(ranks of x) - n_x (n_x + 1) / 2``.  Exact p-value (distribution of W, R's
    ``pwilcox``) when ``exact`` is None, both samples have fewer than 50 values and there are no
    ties; otherwise the normal approximation with tie-corrected variance and a 0.5 continuity
    correction (``correct=True``).  Two-sided only.

    Normal approximation: ``z = (W - n_x n_y / 2 - sign * 0.5) / sigma``,
    ``sigma^2 = n_x n_y / 12 * ((N + 1) - sum(t^3 - t) / (N (N - 1)))`` over tie groups ``t``.
    With ties and ``exact`` not False the normal approximation is used silently (R also warns
    "cannot compute exact p-value with ties").

    R twin: ``stats::wilcox.test`` (R 4.2).

    References
    ----------
    Hollander M, Wolfe DA (1973) Nonparametric Statistical Methods, Wiley; R 4.2
    ``?wilcox.test``.
    """
    xa, ya, dname = _two_samples(x, y, data, "wilcox_test")
    nx, ny = len(xa), len(ya)
    r, nties = _midranks(np.concatenate([xa, ya]))
    W = float(r[:nx].sum() - nx * (nx + 1) / 2)
    if exact is None:
        exact = nx < 50 and ny < 50
    ties = len(nties) != len(r)
    if exact and not ties:
        counts = _wilcox_counts(nx, ny)
        total = sum(counts)
        Wi = int(round(W))
        if W > nx * ny / 2:
            p = Fraction(int(sum(counts[Wi:])), int(total))
        else:
            p = Fraction(int(sum(counts[: Wi + 1])), int(total))
        pval = min(2 * float(p), 1.0)
        method = "Wilcoxon rank sum exact test"
    else:
        z = W - nx * ny / 2
        sigma = math.sqrt(
            (nx * ny / 12)
            * ((nx + ny + 1) - float((nties**3 - nties).sum()) / ((nx + ny) * (nx + ny - 1)))
        )
        corr = np.sign(z) * 0.5 if correct else 0.0
        z = (z - corr) / sigma
        pval = float(2 * min(stats.norm.cdf(z), stats.norm.sf(z)))
        method = "Wilcoxon rank sum test" + (" with continuity correction" if correct else "")
    return HTest(statistic=W, statistic_name="W", p_value=pval, method=method, data_name=dname)


def _observed_codes(s: pd.Series) -> tuple[np.ndarray, int] | None:
    """0-based codes of the observed values of ``s`` in crosstab's row order, or None.

    A categorical's observed categories in their order, other values sorted; None for an
    object column (mixed values hash alike: 1 == 1.0 == True), which crosstab handles.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy().astype(np.int64)
        seen = np.bincount(codes, minlength=len(s.cat.categories)) > 0
        remap = np.cumsum(seen) - 1
        return remap[codes], int(seen.sum())
    if s.dtype == np.dtype(object):
        return None
    codes, uniq = pd.factorize(s, sort=True)
    return np.asarray(codes, dtype=np.int64), len(uniq)


def _crosstab(a: pd.Series, b: pd.Series) -> np.ndarray:
    """``pd.crosstab(a, b)`` as float counts (rows and columns the observed values, sorted).

    Counted by codes (one pass) rather than by crosstab's groupby; the same table.
    """
    ca, cb = _observed_codes(a), _observed_codes(b)
    if ca is None or cb is None:
        return pd.crosstab(a, b).to_numpy(dtype=float)
    (ia, na), (ib, nb) = ca, cb
    return np.bincount(ia * nb + ib, minlength=na * nb).reshape(na, nb).astype(float)


def _table(x, y, data) -> tuple[np.ndarray, str]:
    if isinstance(x, str):
        if data is None or not isinstance(y, str):
            raise TypeError("give two column names and data=, or a contingency table")
        for c in (x, y):
            if c not in data.columns:
                raise ValueError(f"unknown column '{c}' (not in data)")
            k = int(data[c].isna().sum())
            if k:
                raise ValueError(f"column '{c}' has {k} missing value(s); remove them first")
        return _crosstab(data[x], data[y]), f"{x} and {y}"
    if y is not None:
        xs, ys = pd.Series(np.asarray(x)), pd.Series(np.asarray(y))
        if len(xs) != len(ys):
            raise ValueError(f"x and y must have the same length ({len(xs)} and {len(ys)})")
        for nm, v in (("x", xs), ("y", ys)):
            k = int(v.isna().sum())
            if k:  # R's table() would drop these rows silently
                raise ValueError(f"{nm} has {k} missing value(s); remove them first")
        return _crosstab(xs, ys), "x and y"
    try:
        tab = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError("x must be a numeric contingency table (or give y)") from None
    if tab.ndim != 2:
        raise ValueError("a contingency table must be two-dimensional")
    k_nan, k_inf, k_neg = int(np.isnan(tab).sum()), int(np.isinf(tab).sum()), int((tab < 0).sum())
    if k_nan or k_inf or k_neg:
        raise ValueError(
            f"contingency table x has {k_neg} negative, {k_nan} missing and {k_inf} infinite "
            "count(s); counts must be non-negative and finite")
    return tab, "x"


def chisq_test(x, y=None, data=None, correct: bool = True) -> HTest:
    """Pearson's chi-squared test of independence; twin of ``stats::chisq.test(table)``.

    Parameters
    ----------
    x : array-like or str
        A two-dimensional contingency table of non-negative counts, a first factor (with ``y``),
        or a column name of ``data`` (with ``y`` the second column name).
    y : array-like or str, optional
        The second factor, or the second column name.
    data : pandas.DataFrame, optional
        The data the column names refer to.
    correct : bool, default True
        Yates' continuity correction for 2 x 2 tables (R's default).

    Returns
    -------
    HTest
        Statistic ``X-squared``, parameter ``df``, ``p_value``; the expected counts as
        ``.expected`` and R's warning text, if any, as ``.warning``.

    Raises
    ------
    ValueError
        On missing values (R drops NAs), a table with fewer than 2 rows or columns, or an empty
        row/column (R: NaN); negative or non-finite counts; unknown columns.
    TypeError
        For a non-numeric table or column names without ``data=``.

    Notes
    -----
    ``X^2 = sum((|O - E| - c)^2 / E)`` with Yates' correction ``c = min(0.5, min |O - E|)``
    (one scalar, as R) for 2 x 2 tables when ``correct=True`` (R's default), ``c = 0`` otherwise;
    df ``(r-1)(c-1)``, ``E = row total * column total / n``. When an expected count is below 5,
    ``.warning`` holds R's warning text ("Chi-squared approximation may be incorrect"; R issues
    it as a warning, here it is not raised as a Python warning).

    R twin: ``stats::chisq.test`` (R 4.2).

    References
    ----------
    Agresti A (2002) Categorical Data Analysis, 2nd ed., Wiley; R 4.2 ``?chisq.test``.
    """
    tab, dname = _table(x, y, data)
    if tab.shape[0] < 2 or tab.shape[1] < 2:
        raise ValueError("the table must have at least 2 rows and 2 columns")
    n = tab.sum()
    E = np.outer(tab.sum(1), tab.sum(0)) / n
    if (E == 0).any():
        raise ValueError("a row or column of the table is empty (zero expected counts)")
    if correct and tab.shape == (2, 2):
        yates = min(0.5, float(np.abs(tab - E).min()))
        method = "Pearson's Chi-squared test with Yates' continuity correction"
    else:
        yates = 0.0
        method = "Pearson's Chi-squared test"
    X2 = float(((np.abs(tab - E) - yates) ** 2 / E).sum())
    df = (tab.shape[0] - 1) * (tab.shape[1] - 1)
    h = HTest(statistic=X2, statistic_name="X-squared", parameter={"df": df},
              p_value=float(stats.chi2.sf(X2, df)), method=method, data_name=dname)
    h.expected = E
    h.warning = "Chi-squared approximation may be incorrect" if (E < 5).any() else None
    return h


def _fisher_2x2(tab: np.ndarray, conf_level: float):
    m = int(tab[:, 0].sum())
    n = int(tab[:, 1].sum())
    k = int(tab[0, :].sum())
    x = int(tab[0, 0])
    lo, hi = max(0, k - n), min(k, m)
    support = np.arange(lo, hi + 1)
    logdc = stats.hypergeom.logpmf(support, m + n, m, k)

    def dnhyper(ncp):
        with np.errstate(divide="ignore", invalid="ignore"):
            d = logdc + np.log(ncp) * support
        d = np.exp(d - d.max())
        return d / d.sum()

    def mnhyper(ncp):
        if ncp == 0:
            return lo
        if np.isinf(ncp):
            return hi
        return float((support * dnhyper(ncp)).sum())

    def pnhyper(q, ncp, upper=False):
        if ncp == 1:
            return float(stats.hypergeom.sf(q - 1, m + n, m, k) if upper
                         else stats.hypergeom.cdf(q, m + n, m, k))
        if ncp == 0:
            return float(q <= lo) if upper else float(q >= lo)
        if np.isinf(ncp):
            return float(q <= hi) if upper else float(q >= hi)
        d = dnhyper(ncp)
        return float(d[support >= q].sum() if upper else d[support <= q].sum())

    d = dnhyper(1.0)
    pval = float(d[d <= d[x - lo] * (1 + 1e-7)].sum())

    def mle(x):
        if x == lo:
            return 0.0
        if x == hi:
            return np.inf
        mu = mnhyper(1.0)
        if mu > x:
            return uniroot(lambda t: mnhyper(t) - x, 0.0, 1.0)
        if mu < x:
            return 1.0 / uniroot(lambda t: mnhyper(1 / t) - x, EPS, 1.0)
        return 1.0

    def ncp_u(x, alpha):
        if x == hi:
            return np.inf
        p = pnhyper(x, 1.0)
        if p < alpha:
            return uniroot(lambda t: pnhyper(x, t) - alpha, 0.0, 1.0)
        if p > alpha:
            return 1.0 / uniroot(lambda t: pnhyper(x, 1 / t) - alpha, EPS, 1.0)
        return 1.0

    def ncp_l(x, alpha):
        if x == lo:
            return 0.0
        p = pnhyper(x, 1.0, upper=True)
        if p > alpha:
            return uniroot(lambda t: pnhyper(x, t, upper=True) - alpha, 0.0, 1.0)
        if p < alpha:
            return 1.0 / uniroot(lambda t: pnhyper(x, 1 / t, upper=True) - alpha, EPS, 1.0)
        return 1.0

    alpha = (1 - conf_level) / 2
    return pval, mle(x), (ncp_l(x, alpha), ncp_u(x, alpha))


def _fisher_rx2(tab: np.ndarray, max_tables: int = 5_000_000) -> float:
    """Exact two-sided p-value of an r x 2 table by enumerating all tables with the observed margins.

    Tables at most as probable as the observed one (relative tolerance 1e-7) count.
    """
    rows = tab.sum(1).astype(int)
    c1 = int(tab[:, 0].sum())
    n = int(tab.sum())
    c2 = n - c1
    ntab = float(np.prod(rows[:-1] + 1, dtype=float))
    if ntab > max_tables:
        raise ValueError("table too large for exact enumeration; use chisq_test")
    grids = np.meshgrid(*[np.arange(r + 1) for r in rows[:-1]], indexing="ij")
    first = np.stack([g.ravel() for g in grids], axis=1) if len(grids) else np.zeros((1, 0), int)
    last = c1 - first.sum(1)
    keep = (last >= 0) & (last <= rows[-1])
    col = np.column_stack([first[keep], last[keep]])
    lf = special.gammaln
    # log P = sum lgamma(r_i+1) + lgamma(c1+1) + lgamma(c2+1) - lgamma(n+1) - sum lgamma(x_ij+1)
    const = lf(rows + 1).sum() + lf(c1 + 1) + lf(c2 + 1) - lf(n + 1)
    logp = const - lf(col + 1).sum(1) - lf(rows - col + 1).sum(1)
    obs = const - lf(tab[:, 0] + 1).sum() - lf(tab[:, 1] + 1).sum()
    p = np.exp(logp)
    return float(min(1.0, p[p <= np.exp(obs) * (1 + 1e-7)].sum()))


def fisher_test(x, y=None, data=None, conf_level: float = 0.95) -> HTest:
    """Fisher's exact test; twin of ``stats::fisher.test(table)``.

    Parameters
    ----------
    x : array-like or str
        A two-dimensional contingency table of counts, a first factor (with ``y``), or a column
        name of ``data`` (with ``y`` the second column name).
    y : array-like or str, optional
        The second factor, or the second column name.
    data : pandas.DataFrame, optional
        The data the column names refer to.
    conf_level : float, default 0.95
        Level of the odds-ratio interval (2 x 2 tables).

    Returns
    -------
    HTest
        ``p_value``; for 2 x 2 also ``estimate`` "odds ratio" and ``conf_int`` at
        ``conf_level``.

    Raises
    ------
    ValueError
        On missing values (R drops NAs), non-integer counts, ``conf_level`` outside (0, 1),
        r x c tables with r, c > 2, or too many tables to enumerate.

    Notes
    -----
    2 x 2: two-sided p-value summing hypergeometric probabilities not above the observed one
    (relative tolerance 1e-7), conditional maximum-likelihood odds ratio and its exact CI
    (non-central hypergeometric; roots found by R's ``uniroot`` replayed, so the estimate
    matches R's ~1e-4-accurate root to machine precision).  r x 2 / 2 x c: exact p-value by
    complete enumeration (R uses the network algorithm; same definition).  Larger tables raise.

    R twin: ``stats::fisher.test`` (R 4.2).

    References
    ----------
    Fisher RA (1935) JRSS 98:39-82; Agresti A (1992) Stat Sci 7:131-153; R 4.2
    ``?fisher.test``.
    """
    conf_level = check_probability(conf_level, "conf_level")
    tab, dname = _table(x, y, data)
    if (tab != np.round(tab)).any():
        raise ValueError("fisher_test needs integer counts")
    tab = tab[tab.sum(1) > 0][:, tab.sum(0) > 0]
    if tab.shape[0] < 2 or tab.shape[1] < 2:
        raise ValueError("the table must have at least 2 non-empty rows and columns")
    if tab.shape == (2, 2):
        p, est, ci = _fisher_2x2(tab, conf_level)
        return HTest(statistic=np.nan, p_value=min(1.0, p), estimate=est, estimate_name="odds ratio",
                     conf_int=ci, conf_level=conf_level,
                     method="Fisher's Exact Test for Count Data", data_name=dname)
    if tab.shape[1] == 2:
        p = _fisher_rx2(tab)
    elif tab.shape[0] == 2:
        p = _fisher_rx2(tab.T)
    else:
        raise ValueError("fisher_test supports 2 x 2, r x 2 and 2 x c tables")
    return HTest(statistic=np.nan, p_value=p, method="Fisher's Exact Test for Count Data",
                 data_name=dname)
