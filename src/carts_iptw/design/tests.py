"""Design-based (weighted) tests.

Twins of ``survey::svychisq``, ``svyttest`` and ``svyranktest`` for a
:class:`~carts_iptw.design.svydesign.SurveyDesign`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from carts_iptw._validation import check_columns_finite, check_probability
from carts_iptw.design.describe import svymean
from carts_iptw.design.htest import HTest
from carts_iptw.design.svydesign import SurveyDesign, require_design


def _split_formula(formula: str) -> tuple[str, list[str]]:
    """(response column or "", right-hand columns) of ``y ~ a + b``.

    Read by the package's R-formula parser (backticked names such as ```b+c``` are columns, as
    in ``svyglm``).
    """
    from carts_iptw.formula.parser import Binary, Name, Num, deparse, parse_formula

    if not isinstance(formula, str) or "~" not in formula:
        raise ValueError(f"formula {formula!r} has no '~'")
    response, rhs = parse_formula(formula)

    def name(node) -> str:
        if isinstance(node, Name):
            return node.id
        if isinstance(node, Num):
            return node.text
        raise ValueError(f"'{deparse(node)}' in formula {formula!r}: only column names "
                         "joined by '+' are supported here")

    parts, stack = [], [rhs]
    while stack:
        node = stack.pop()
        if isinstance(node, Binary) and node.op == "+":
            stack += [node.right, node.left]
        else:
            parts.append(name(node))
    return ("" if response is None else name(response)), parts


def _column(design: SurveyDesign, name: str) -> pd.Series:
    require_design(design)
    if name not in design.columns:
        raise ValueError(f"unknown column '{name}' (not in the design's data)")
    s = design.column(name)
    check_columns_finite(pd.DataFrame({name: s}, copy=False), [name])
    return s


def _levels(s: pd.Series) -> list:
    """Levels as R's ``factor()`` makes them (categoricals keep their order; unused dropped)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return [lv for lv in s.cat.categories if (s == lv).any()]
    return sorted(pd.unique(s).tolist())


def _codes(s: pd.Series, levels: list) -> np.ndarray:
    """0-based int64 codes of ``s`` in ``levels`` (its observed levels).

    int64, not pandas' int8 codes: products of codes must not overflow.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):  # drop unused categories (no re-coding)
        codes = s.cat.set_categories(levels).cat.codes
    else:
        codes = pd.Categorical(s, categories=levels).codes
    return np.asarray(codes, dtype=np.int64)


def _check_levels_weighted(design: SurveyDesign, s: pd.Series, name: str) -> None:
    """Every observed level of ``s`` needs positive total weight (else an empty group: R gives NaN or a singular fit)."""
    w = np.asarray(design.weights, dtype=float)
    k = sum(1 for lv in _levels(s) if not w[(s == lv).to_numpy()].sum() > 0)
    if k:
        raise ValueError(f"column '{name}': {k} group(s) have zero total weight (empty group)")


def _group_column(s: pd.Series, name: str) -> np.ndarray:
    """The second column of R's ``model.matrix(~ g)`` for a two-group variable."""
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == bool or not pd.api.types.is_numeric_dtype(s):
        lv = _levels(s)
        if len(lv) != 2:
            raise ValueError(f"group column '{name}' must have 2 levels; it has {len(lv)}")
        return (s == lv[1]).to_numpy(dtype=float)
    v = s.to_numpy(dtype=float)
    u = np.unique(v)
    if len(u) != 2:
        raise ValueError(f"group column '{name}' must be binary; it has {len(u)} distinct value(s)")
    return v


def svychisq(formula: str, design: SurveyDesign, statistic: str = "F") -> HTest:
    """Rao-Scott test of association in a weighted two-way table.

    Twin of ``survey::svychisq(~a + b, design, statistic = "F")`` (default) or ``"Chisq"``.

    Parameters
    ----------
    formula : str
        ``"~a + b"``: the two factors.
    design : SurveyDesign
        The design (:func:`svydesign`).
    statistic : {"F", "Chisq"}, default "F"
        Second-order Rao-Scott F test, or first-order chi-squared.

    Returns
    -------
    HTest
        R's ``htest``: statistic ``F`` or ``X-squared``, parameter ``ndf``/``ddf`` or ``df``,
        ``p_value``.

    Raises
    ------
    ValueError
        For an unknown ``statistic``, unknown columns, missing values (R drops them), fewer than
        two levels, or a level with zero total weight (R: NaN).

    Notes
    -----
    Pearson X^2 of the weighted table rescaled to n; design effect matrix
    ``Delta = (C' D^-1 C / n)^-1 C' D^-1 V D^-1 C`` with ``C`` the interaction contrasts
    orthogonalised against the main effects and ``V`` the design variance of the cell
    proportions (Rao & Scott 1984, Ann. Stat. 12:46-60). ``"F"``: ``X^2 / tr(Delta)`` on
    ``F(d0, d0 * nu)``, ``d0 = tr(Delta)^2 / tr(Delta^2)``, ``nu`` = PSUs - strata;
    ``"Chisq"``: ``X^2 / mean(diag Delta)`` on chi-squared with ``ncol(Delta)`` df.
    Unused factor levels are dropped (as ``factor()``; R's ``xtabs`` would keep them and give
    NaN).

    R twin version: survey 4.1-1 (``svychisq.survey.design``, second-order Rao-Scott for
    ``"F"``, first-order for ``"Chisq"``).

    References
    ----------
    Rao JNK, Scott AJ (1981) JASA 76:221-230; Rao JNK, Scott AJ (1984) Ann Stat 12:46-60;
    Lumley (2010) Complex Surveys, sec. 6.1.
    """
    if statistic not in ("F", "Chisq"):
        raise ValueError("statistic must be 'F' or 'Chisq'")
    lhs, rhs = _split_formula(formula)
    if lhs or len(rhs) != 2:
        raise ValueError("svychisq needs a one-sided formula with two variables, '~ a + b'")
    a, b = (_column(design, v) for v in rhs)
    la, lb = _levels(a), _levels(b)
    nr, nc = len(la), len(lb)
    for nm, k in ((rhs[0], nr), (rhs[1], nc)):
        if k < 2:
            raise ValueError(f"column '{nm}' has fewer than 2 observed levels")
    ia, ib = _codes(a, la), _codes(b, lb)
    w = design.weights
    for nm, codes, k in ((rhs[0], ia, nr), (rhs[1], ib, nc)):
        _check_codes_weighted(w, codes, k, nm)
    cell = ia + nr * ib  # interaction(factor(a), factor(b)): a varies fastest
    N = design.n
    nu = (design.n - 1 if design.iid else
          len(np.unique(design.cluster)) - len(np.unique(design.strata)))
    tab = np.bincount(cell, weights=w, minlength=nr * nc).reshape(nc, nr).T
    tab = tab * N / tab.sum()
    E = np.outer(tab.sum(1), tab.sum(0)) / tab.sum()
    X2 = float(((tab - E) ** 2 / E).sum())
    if design.iid:
        mean2, V = _cell_mean_vcov_iid(design, cell, nr * nc)
    else:
        mm = np.zeros((N, nr * nc))
        mm[np.arange(N), cell] = 1.0
        cells = pd.DataFrame(mm, columns=[f"cell{i}" for i in range(nr * nc)])
        m = svymean(list(cells.columns), _with_data(design, cells))
        mean2 = m.coef.to_numpy()
        V = m.vcov.to_numpy()
    rows = np.tile(np.arange(nr), nc)
    cols = np.repeat(np.arange(nc), nr)
    R = (rows[:, None] == np.arange(1, nr)[None, :]).astype(float)
    Cc = (cols[:, None] == np.arange(1, nc)[None, :]).astype(float)
    X1 = np.column_stack([np.ones(nr * nc), R, Cc])
    X12 = np.column_stack([R[:, i] * Cc[:, j] for j in range(nc - 1) for i in range(nr - 1)])
    beta, *_ = np.linalg.lstsq(X1, X12, rcond=None)
    C = X12 - X1 @ beta
    iD = np.diag(np.where(mean2 == 0, 0.0, 1.0 / np.where(mean2 == 0, 1.0, mean2)))
    denom = C.T @ (iD / N) @ C
    numr = C.T @ iD @ V @ iD @ C
    # R's solve() stops when the reciprocal condition number is below machine epsilon ("system
    # is computationally singular", e.g. many empty cells); a solution would be rounding noise
    rc = 1.0 / np.linalg.cond(denom, 1) if np.all(np.isfinite(denom)) else 0.0
    if not rc >= np.finfo(float).eps:
        empty = int((tab == 0).sum())
        raise ValueError(
            f"svychisq: the design-effect matrix of the {nr} x {nc} table of '{rhs[0]}' and "
            f"'{rhs[1]}' is computationally singular ({empty} of {nr * nc} cells empty; R stops "
            "too: 'system is computationally singular'); merge sparse levels")
    Delta = np.linalg.solve(denom, numr)
    tr = float(np.trace(Delta))
    d0 = tr**2 / float(np.trace(Delta @ Delta))
    data_name = formula
    if statistic == "F":
        F = X2 / tr
        return HTest(
            statistic=F, statistic_name="F", parameter={"ndf": d0, "ddf": d0 * nu},
            p_value=float(stats.f.sf(F, d0, d0 * nu)),
            method="Pearson's X^2: Rao & Scott adjustment", data_name=data_name,
        )
    k = Delta.shape[1]
    return HTest(
        statistic=X2, statistic_name="X-squared", parameter={"df": float(k)},
        p_value=float(stats.chi2.sf(X2 / np.mean(np.diag(Delta)), k)),
        method="Pearson's X^2: Rao & Scott adjustment", data_name=data_name,
    )


def _check_codes_weighted(w: np.ndarray, codes: np.ndarray, k: int, name: str) -> None:
    """:func:`_check_levels_weighted` on codes: every level needs positive total weight."""
    tot = np.bincount(codes, weights=w, minlength=k)
    bad = int((~(tot > 0)).sum())
    if bad:
        raise ValueError(f"column '{name}': {bad} group(s) have zero total weight (empty group)")


def _cell_mean_vcov_iid(design: SurveyDesign, cell: np.ndarray, K: int):
    """``svymean`` of the K cell indicators of an ``ids = ~1`` design, from per-cell sums.

    The same quantities as :func:`svymean` on the n x K indicator matrix without building it:
    the influence values are ``w_i (e_{c_i} - mu) / W``, whose total is zero, so survey's
    ``svyrecvar`` is ``nh / (nh - 1) * sum_i x_i x_i'`` with
    ``sum_i w_i^2 (e_{c_i} - mu)(e_{c_i} - mu)' = diag(S) - S mu' - mu S' + T mu mu'``
    (``S`` the per-cell sums of ``w^2``, ``T`` their total); the diagonal is summed as
    ``S_j (1 - mu_j)^2 + (T - S_j) mu_j^2`` (no cancellation).
    """
    w = design.weights
    W = w.sum()
    mean2 = np.bincount(cell, weights=w, minlength=K) / W
    S = np.bincount(cell, weights=w * w, minlength=K)
    T = S.sum()
    rest = np.array([np.delete(S, j).sum() for j in range(K)])
    G = T * np.outer(mean2, mean2) - np.outer(S, mean2) - np.outer(mean2, S)
    G[np.diag_indices(K)] = S * (1.0 - mean2) ** 2 + rest * mean2**2
    nh = next(iter(design.npsu.values())) if design.npsu else design.n
    if nh <= 1:
        raise ValueError("a stratum has only one PSU (survey's lonely.psu = 'fail'); merge strata")
    return mean2, G / (W * W) * (nh / (nh - 1))


def _with_data(design: SurveyDesign, df: pd.DataFrame) -> SurveyDesign:
    return SurveyDesign(df, design.weights, design.cluster, design.strata, design.weights_name,
                        npsu=design.npsu, iid=design.iid)


def svyttest(formula: str, design: SurveyDesign, level: float = 0.95) -> HTest:
    """Design-based t-test; twin of ``survey::svyttest(y ~ g, design)``.

    Parameters
    ----------
    formula : str
        ``"y ~ g"`` (two groups) or ``"y ~ 1"`` (one-sample test of the weighted mean).
    design : SurveyDesign
        The design (:func:`svydesign`).
    level : float, default 0.95
        Confidence level of ``conf_int``.

    Returns
    -------
    HTest
        Statistic ``t``, parameter ``df``, estimate "difference in mean", ``conf_int``.

    Raises
    ------
    ValueError
        For unknown columns, missing values, a grouping variable without exactly two levels, or
        a group with zero total weight (R: NaN).
    TypeError
        For a non-numeric response.

    Notes
    -----
    Two groups: the coefficient of ``g`` in the weighted least-squares fit ``y ~ g`` (the
    difference of weighted means), its design-based sandwich SE (``svyglm``, gaussian), and a t
    reference with ``degf(design) - 1`` df; CI as ``confint.svyglm``.  ``y ~ 1``: one-sample
    test of the weighted mean, df ``degf - 1``. Statistic ``t = (ybar_1 - ybar_0) / se``, ``se``
    from the design sandwich ``A^-1 B A^-1`` with survey's ``n/(n-1)`` (see :func:`svyglm`).

    R twin version: survey 4.1-1.

    References
    ----------
    Lumley (2010) Complex Surveys, sec. 2.3; survey 4.1-1 ``?svyttest``.
    """
    level = check_probability(level, "level")
    lhs, rhs = _split_formula(formula)
    y = _column(design, lhs)
    if not pd.api.types.is_numeric_dtype(y) or y.dtype == bool:
        y = y.astype(float) if y.dtype == bool else y
        if not pd.api.types.is_numeric_dtype(y):
            raise TypeError(f"outcome '{lhs}' must be numeric")
    yv = y.to_numpy(dtype=float)
    if rhs in (["1"], ["0"]):
        m = svymean(lhs, design)
        est, se = float(m.coef.iloc[0]), float(m.se.iloc[0])
        df = design.degf() - 1
        q = stats.t.ppf(1 - (1 - level) / 2, df)
        t = est / se
        return HTest(statistic=t, statistic_name="t", parameter={"df": df},
                     p_value=float(2 * stats.t.sf(abs(t), df)), estimate=est,
                     estimate_name="mean", conf_int=(est - q * se, est + q * se), conf_level=level,
                     method="Design-based one-sample t-test", data_name=formula)
    if len(rhs) != 1:
        raise ValueError("svyttest needs 'y ~ g' with one two-group variable g")
    gcol = _column(design, rhs[0])
    g = _group_column(gcol, rhs[0])
    _check_levels_weighted(design, gcol, rhs[0])
    w = design.weights / design.weights.mean()
    X = np.column_stack([np.ones(design.n), g])
    XtWX = X.T @ (X * w[:, None])
    Ainv = np.linalg.inv(XtWX)
    beta = Ainv @ (X.T @ (w * yv))
    r = yv - X @ beta
    infl = (X * (r * w)[:, None]) @ Ainv
    V = design.recvar(infl)
    est, se = float(beta[1]), float(np.sqrt(V[1, 1]))
    df = design.degf() + 1 - 2
    t = est / se
    q = stats.t.ppf(1 - (1 - level) / 2, df)
    return HTest(statistic=t, statistic_name="t", parameter={"df": df},
                 p_value=float(2 * stats.t.sf(abs(t), df)), estimate=est,
                 estimate_name="difference in mean", conf_int=(est - q * se, est + q * se),
                 conf_level=level, method="Design-based t-test", data_name=formula)


def svyranktest(formula: str, design: SurveyDesign, test: str = "wilcoxon") -> HTest:
    """Design-based rank test for two groups; twin of ``survey::svyranktest(y ~ g, design)``.

    Parameters
    ----------
    formula : str
        ``"y ~ g"``.
    design : SurveyDesign
        The design (:func:`svydesign`).
    test : {"wilcoxon", "median", "vanderWaerden"}, default "wilcoxon"
        The rank score.

    Returns
    -------
    HTest
        Statistic ``t``, parameter ``df``, estimate "difference in mean rank score".

    Raises
    ------
    ValueError
        For an unknown ``test``, unknown columns, missing values, fewer than two groups, or a
        group with zero total weight (R: NaN).
    TypeError
        For a non-numeric response.

    Notes
    -----
    Weighted mid-ranks ``r_i`` (mean of ``cumsum(w) - w/2`` within ties) are scored
    (``"wilcoxon"``: ``r/N``; ``"median"``: ``r > N/2``; ``"vanderWaerden"``: ``qnorm(r/N)``),
    regressed on the group by weighted least squares, and the slope is divided by the
    design-based SE of its influence total; t reference with ``degf - 1`` df
    (Lumley & Scott 2013, Biometrika 100:831-842).  Two groups:
    ``t = (mean score in group 1 - mean score in group 0) / se``, ``se`` the design-based SE of
    the slope (``n/(n-1)`` as ``svyrecvar``). More than two groups: survey's ``multiranktest``
    -- Wald chi-squared of the group contrasts on ``F(k-1, degf-k+1)`` (``statistic`` is the
    chi-squared; R's htest swaps it with the df).

    R twin version: survey 4.1-1 (``svyranktest``, ``test = "wilcoxon"`` default).

    References
    ----------
    Lumley T, Scott AJ (2013) Biometrika 100:831-842.
    """
    scores = {
        "wilcoxon": lambda r, N: r / N,
        "median": lambda r, N: (r > N / 2).astype(float),
        "vanderWaerden": lambda r, N: stats.norm.ppf(r / N),
    }
    if test not in scores:
        raise ValueError(f"test must be one of {sorted(scores)}")
    lhs, rhs = _split_formula(formula)
    if len(rhs) != 1:
        raise ValueError("svyranktest needs 'y ~ g'")
    ys = _column(design, lhs)
    if not pd.api.types.is_numeric_dtype(ys):
        raise TypeError(f"outcome '{lhs}' must be numeric")
    y = ys.to_numpy(dtype=float)
    gs = _column(design, rhs[0])
    levels = _levels(gs)
    if len(levels) < 2:
        raise ValueError(f"group column '{rhs[0]}' has fewer than 2 groups")
    _check_levels_weighted(design, gs, rhs[0])
    w = design.weights
    N = w.sum()
    ii = np.argsort(y, kind="stable")
    mid = np.cumsum(w[ii]) - w[ii] / 2
    ys_sorted = y[ii]
    # tie blocks of the sorted values (np.unique's inverse, without sorting again)
    inv = np.concatenate(([0], np.cumsum(ys_sorted[1:] != ys_sorted[:-1])))[: len(y)]
    tie_mean = np.bincount(inv, weights=mid) / np.bincount(inv)
    rank = np.empty(len(y))
    rank[ii] = tie_mean[inv]
    score = scores[test](rank, N)
    name = "KruskalWallis" if test == "wilcoxon" else test
    if len(levels) > 2:
        # survey:::multiranktest: Wald test of the k - 1 group contrasts of the weighted
        # regression of the scores on factor(g), F reference with (k - 1, degf - k + 1) df
        G = np.column_stack([(gs == lv).to_numpy(dtype=float) for lv in levels[1:]])
        X = np.column_stack([np.ones(len(y)), G])
        Ainv = np.linalg.inv(X.T @ (X * w[:, None]))
        beta = Ainv @ (X.T @ (w * score))
        V = design.recvar((X * ((score - X @ beta) * w)[:, None]) @ Ainv)[1:, 1:]
        b = beta[1:]
        chisq = float(b @ np.linalg.solve(V, b))
        ndf = len(levels) - 1
        ddf = design.degf() - ndf
        return HTest(statistic=chisq, statistic_name="Chisq",
                     parameter={"df": ndf, "ddf": ddf},
                     p_value=float(stats.f.sf(chisq / ndf, ndf, ddf)),
                     method=f"Design-based {name} test", data_name=formula)
    g = _group_column(gs, rhs[0])
    X = np.column_stack([np.ones(len(y)), g])
    Ainv = np.linalg.inv(X.T @ (X * w[:, None]))
    beta = Ainv @ (X.T @ (w * score))
    infn = (X * (score - X @ beta)[:, None]) @ Ainv
    V = design.recvar(infn * w[:, None])
    est = float(beta[1])
    t = est / float(np.sqrt(V[1, 1]))
    df = design.degf() - 1
    return HTest(statistic=t, statistic_name="t", parameter={"df": df},
                 p_value=float(2 * stats.t.sf(abs(t), df)), estimate=est,
                 estimate_name="difference in mean rank score",
                 method=f"Design-based {name} test", data_name=formula)
