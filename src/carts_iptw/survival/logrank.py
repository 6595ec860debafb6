"""Log-rank tests: unweighted (survival::survdiff, rho = 0) and design-based (survey::svylogrank)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from carts_iptw._validation import check_groups_weighted
from carts_iptw.results import (
    CallableFrame,
    Summary,
    TestResult,
    format_num,
    format_pval,
    format_vector,
    matrix_text,
    print_coefmat,
)
from carts_iptw.survival._frame import covariates
from carts_iptw.survival.surv import aeq_sorted, aeq_times, make_surv, time_order


@dataclass(repr=False)
class SurvDiff(TestResult):
    """Result of :func:`survdiff` (``survival::survdiff`` object).

    Attributes
    ----------
    n, obs, exp : numpy.ndarray
        Per group: size, observed and expected events.
    var : numpy.ndarray
        The variance matrix of O - E.
    chisq, df, p_value
        The test (``statistic`` = ``chisq``, ``parameter`` ``{"df": df}``).
    table : pandas.DataFrame
        The printed table.

    Notes
    -----
    A test result (:class:`~carts_iptw.results.TestResult`). R twin: ``survival::survdiff``
    (survival 3.5-3).
    """

    groups: list[str]
    n: np.ndarray
    obs: np.ndarray
    exp: np.ndarray
    var: np.ndarray
    chisq: float
    df: int
    p_value: float
    method: str = "Log-rank test (survdiff, rho = 0)"
    statistic_name = "Chisq"

    @property
    def statistic(self) -> float:
        """The log-rank chi-squared (R's ``chisq``)."""
        return self.chisq

    @property
    def parameter(self) -> dict:
        """``{"df": number of groups - 1}``."""
        return {"df": self.df}

    @property
    def table(self) -> CallableFrame:
        """R's printed ``survdiff`` table: N, Observed, Expected, (O-E)^2/E, (O-E)^2/V.

        (It was a method; calling it still works for one release, with a deprecation warning.)
        """
        return CallableFrame({"N": self.n, "Observed": self.obs, "Expected": self.exp,
                             "(O-E)^2/E": (self.obs - self.exp) ** 2 / self.exp,
                             "(O-E)^2/V": (self.obs - self.exp) ** 2 / np.diag(self.var)},
                            index=self.groups)

    def tidy(self) -> pd.DataFrame:
        """One row per group.

        ``group``, ``n``, ``observed``, ``expected``; the test's ``statistic``, ``df`` and
        ``p_value`` repeated on each row (broom's ``tidy`` + ``glance`` of a survdiff).
        """
        return pd.DataFrame({"group": list(self.groups), "n": self.n, "observed": self.obs,
                             "expected": self.exp, "statistic": self.chisq, "df": self.df,
                             "p_value": self.p_value})

    def _print_text(self) -> str:
        tab = pd.DataFrame(self.table)
        out = pd.DataFrame(index=tab.index)
        for c in tab.columns:  # print.survdiff: digits = max(options()$digits - 4, 3)
            out[c] = format_vector(tab[c].to_numpy(dtype=float), 3)
        p = format_pval(self.p_value, 1)
        return (matrix_text(out) + f"\n\n Chisq= {format_num(round(self.chisq, 1), 15)}  on "
                f"{self.df} degrees of freedom, p= {p} ")

    def summary(self) -> Summary:
        """R's ``print(survdiff(...))``: the table and ``Chisq= ...

        on df, p= ...``; the table is ``.table``.
        """
        return Summary(self._print_text(), table=pd.DataFrame(self.table))


def survdiff_arrays(time, event, groups, ngroups, strata=None, timefix=True):
    """O, E and V of the log-rank test (rho = 0), summed over strata (survdiff.fit)."""
    sv = make_surv(time, event)
    t = sv.time
    if timefix:
        (t,) = aeq_times(t)
    e = sv.event
    g = np.asarray(groups, dtype=np.int64)
    s = np.zeros(len(t), np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    G = ngroups
    obs = np.zeros(G)
    exp = np.zeros(G)
    var = np.zeros((G, G))
    for h in np.unique(s):
        sel = s == h
        th, eh, gh = t[sel], e[sel], g[sel]
        tk = np.unique(th[eh > 0])
        if len(tk) == 0:
            continue
        nk = np.zeros((G, len(tk)))
        dk = np.zeros((G, len(tk)))
        for j in range(G):
            tj = np.sort(th[gh == j])
            nk[j] = len(tj) - np.searchsorted(tj, tk, side="left")
            dk[j] = np.bincount(np.searchsorted(tk, th[(gh == j) & (eh > 0)]), minlength=len(tk))
        n = nk.sum(axis=0)
        d = dk.sum(axis=0)
        obs += dk.sum(axis=1)
        exp += (nk * (d / n)).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(n > 1, d * (n - d) / (n - 1), 0.0) / n
        p = nk / n
        var += np.diag((nk * f).sum(axis=1)) - (p * f) @ nk.T
    return obs, exp, var


def _chisq_from(obs, exp, var):
    keep = np.diag(var) > 0
    idx = np.flatnonzero(keep)
    if len(idx) < 2:
        raise ValueError("log-rank test needs at least two groups with subjects at risk at event times")
    d = (obs - exp)[idx[1:]]
    v = var[np.ix_(idx[1:], idx[1:])]
    chi = float(d @ np.linalg.solve(v, d))
    df = len(idx) - 1
    return chi, df


def survdiff(formula: str, data: pd.DataFrame, timefix: bool = True) -> SurvDiff:
    """Log-rank test; R twin ``survival::survdiff(formula, data)`` with ``rho = 0``.

    Parameters
    ----------
    formula : str
        ``Surv(time, status) ~ g`` (optionally ``+ strata(s)``), right-censored.
    data : pandas.DataFrame
        The data.
    timefix : bool, default True
        R's ``aeqSurv`` tie correction of the times.

    Returns
    -------
    SurvDiff
        ``.n``, ``.obs``, ``.exp``, ``.var``, ``.chisq``, ``.df``, ``.p_value``; ``.table`` (R's
        printed N, Observed, Expected, (O-E)^2/E, (O-E)^2/V) and ``.summary()``.

    Raises
    ------
    ValueError
        For a non-right-censored response, fewer than two groups, missing values, negative
        times or an invalid status.

    Notes
    -----
    ``O_g = sum_k d_gk``, ``E_g = sum_k d_k n_gk / n_k``, ``V = sum_k d_k (n_k - d_k)/(n_k - 1)
    (diag(n_gk/n_k) - n_gk n_hk / n_k^2)``, summed over ``strata()``; chi-square on the groups
    but the first (Peto & Peto 1972; Harrington & Fleming 1982). Unweighted, as survdiff is:
    use :func:`svylogrank` with a design for IPT weights.

    Statistic: ``chisq = (O - E)' V^- (O - E)`` with the generalised inverse taken on the groups
    but the first, on ``G - 1`` df (survival 3.5-3 ``survdiff``, ``rho = 0``).

    References
    ----------
    Mantel N (1966); Peto R, Peto J (1972) JRSS-A 135:185-207; Harrington DP, Fleming TR (1982)
    Biometrika 69:553-566; survival 3.5-3 ``?survdiff``.
    """
    from carts_iptw.formula import model_frame
    from carts_iptw.survival._frame import rhs_factor

    mf = model_frame(formula, data)
    if mf.surv is None or mf.surv.type != "right":
        raise ValueError("survdiff needs a right-censored Surv(time, event) response")
    specials = dict(mf.specials or {})
    strata = specials.pop("strata", None)
    mf.specials = specials
    codes, labels = rhs_factor(mf, data)
    if len(labels) < 2:
        raise ValueError("survdiff needs a grouping variable with at least two groups")
    sc = None if strata is None else np.asarray(strata.codes)
    obs, exp, var = survdiff_arrays(mf.surv.time, mf.surv.event, codes, len(labels), sc, timefix)
    chi, df = _chisq_from(obs, exp, var)
    n = np.bincount(codes, minlength=len(labels)).astype(float)
    return SurvDiff(groups=labels, n=n, obs=obs, exp=exp, var=var, chisq=chi, df=df,
                    p_value=float(stats.chi2.sf(chi, df)))


@dataclass(repr=False)
class SvyLogrank(TestResult):
    """Result of :func:`svylogrank`.

    Attributes
    ----------
    score, se, z : numpy.ndarray
        R's per-coefficient score, its SE and z.
    statistic : float
        The chi-squared.
    df : int
        Its df (``parameter`` ``{"df": df}``).
    p_value : float
        The p-value.
    method : str
        svylogrank's ``method`` argument ("small", "large" or "score").

    Notes
    -----
    A test result (:class:`~carts_iptw.results.TestResult`). R twin: ``survey::svylogrank``
    (survey 4.1-1).
    """

    method: str
    score: np.ndarray
    se: np.ndarray
    z: np.ndarray
    statistic: float
    df: int
    p_value: float
    names: list[str]
    statistic_name = "Chisq"

    @property
    def parameter(self) -> dict:
        """``{"df": number of groups - 1}``."""
        return {"df": self.df}

    def tidy(self) -> pd.DataFrame:
        """One row: ``statistic``, ``p_value``, ``parameter`` (df), ``method``."""
        out = super().tidy()
        out["method"] = f"svylogrank (method = {self.method})"
        return out

    def _print_text(self) -> str:
        t = pd.DataFrame({"score": self.score, "se": self.se, "z": self.z,
                          "p": 2 * stats.norm.sf(np.abs(self.z))}, index=self.names)
        return (f"svylogrank (method = {self.method})\n" + print_coefmat(t, stars=False)
                + f"\n Chisq = {format_num(self.statistic, 7)} on {self.df} df, "
                f"p = {format_pval(self.p_value)}")


def _design_parts(design, weights, data):
    if design is not None:
        from carts_iptw.design.svydesign import require_design

        require_design(design)
        return design.data, np.asarray(design.weights, dtype=float), design
    if weights is None:
        raise ValueError("svylogrank needs a design (svydesign) or weights")
    from carts_iptw.design.svydesign import svydesign

    d = svydesign(data, weights=weights)
    return d.data, d.weights, d


def svylogrank(formula: str, design=None, method: str = "small", data=None, weights=None,
               ties: str = "efron") -> SvyLogrank:
    """Design-based log-rank test; R twin ``survey::svylogrank(formula, design, method)``.

    Parameters
    ----------
    formula : str
        ``Surv(time, status) ~ g``, right-censored.
    design : SurveyDesign, optional
        A :func:`~carts_iptw.design.svydesign` result; or pass ``data`` and ``weights`` and an
        independent-units design is made.
    method : {"small", "large", "score"}, default "small"
        ``small``/``large`` give identical numbers (R's two code paths); ``score`` is one Newton
        step of ``svycoxph`` (see Notes).
    data : pandas.DataFrame, optional
        The data, without a design.
    weights : str or array-like, optional
        The weights, without a design.
    ties : str, default "efron"
        Tie handling of the Cox score.

    Returns
    -------
    SvyLogrank
        ``.score``, ``.se``, ``.z``, ``.statistic`` (chi-square), ``.df``, ``.p_value`` and
        ``.summary()``.

    Raises
    ------
    ValueError
        Unknown ``method``; neither design nor weights; a non-right-censored response;
        ``strata()`` terms; no grouping variable; a group with zero total weight (R: NaN); no
        events; missing values, negative times or negative weights.

    Notes
    -----
    ``small``/``large``: per-subject score at beta = 0 of the weighted Cox model
    (``coxph(iter.max = 0)``, Efron means/hazards from coxph.detail),
    ``U_i = d_i (x_i - E(t_i)) - sum_{t_k <= t_i} (x_i - E_k) dLambda_k``; its survey total
    ``T = sum_i w_i U_i`` and design (linearisation) variance ``V = var(T)`` (survey's
    ``svyrecvar``, with its ``n/(n-1)`` factor) give ``score = T``, ``se = sqrt(diag V)``,
    ``z = T / se`` and the Wald-type chi-square ``T' V^-1 T`` on (groups - 1) df (not a
    Rao-Scott correction). ``score``: one Newton step of ``svycoxph`` from 0 over the design
    variance at 0 (R: ``coef(svycoxph(iter = 1))``, ``vcov(svycoxph(iter = 0))``). Computed in
    O(n log n) (R forms an n x (event times) at-risk matrix).

    R twin version: survey 4.1-1 (``rho = 0``, ``gamma = 0``: the log-rank member of the G-rho
    family only).

    References
    ----------
    Lumley T (2004) J Stat Softw 9(8) and survey 4.1-1 ``?svylogrank``; Rader KA (2014) Methods
    for analyzing survival and binary data in complex surveys (Harvard PhD thesis); Lin DY
    (2000) Biometrika 87:37-47.
    """
    if method not in ("small", "large", "score"):
        raise ValueError("method must be 'small', 'large' or 'score'")
    from carts_iptw.formula import model_frame
    from carts_iptw.survival._riskset import RiskSets
    from carts_iptw.survival.coxph import CoxControl, check_case_weights

    data, w, des = _design_parts(design, weights, data)
    mf = model_frame(formula, data)
    if mf.surv is None or mf.surv.type != "right":
        raise ValueError("svylogrank needs a right-censored Surv(time, event) response")
    if (mf.specials or {}).get("strata") is not None:
        raise ValueError("svylogrank: strata() is not supported here")
    X, cn = covariates(mf)
    if X.shape[1] == 0:
        raise ValueError("svylogrank needs a grouping variable")
    check_groups_weighted(X, cn, w, describe=mf.describe)
    sv = make_surv(mf.surv.time, mf.surv.event, time_name=mf.surv.names.get("time", "time"),
                   event_name=mf.surv.names.get("event", "event"))
    if sv.event.sum() == 0:
        raise ValueError(f"no events: '{sv.event_name}' is 0 for every row")
    if method == "score":
        from carts_iptw.survival.survey import svycoxph

        one = svycoxph(formula, des, control=CoxControl(iter_max=1), _warn=False)
        zero = svycoxph(formula, des, control=CoxControl(iter_max=0), _warn=False)
        b = one.coef.to_numpy()
        v = zero.var.to_numpy()
        chi = float(b @ np.linalg.solve(v, b))
        z = b / np.sqrt(np.diag(v))
        df = len(b)
        return SvyLogrank("score", b, np.sqrt(np.diag(v)), z, chi, df,
                          float(stats.chi2.sf(chi, df)), cn)
    w = check_case_weights(w, "design weights", len(X), allow_zero=True)
    # rows sorted by time (any order of tied rows): the risk sets need no further sorting
    o = time_order(sv.time)
    t = aeq_sorted(sv.time[o])
    w, X = w[o], np.take(X, o, axis=0)
    rs = RiskSets(t, sv.event[o], w, None, None, efron=(ties == "efron"))
    den, a, _ = rs.terms(w.copy(), X)
    b = rs.dblk
    haz = rs.wtave[b] / den
    mean = a / den[:, None]
    K = rs.K
    H = np.bincount(b, weights=haz, minlength=K)
    E = rs.bsum(mean)
    E /= np.where(rs.ndead > 0, rs.ndead, 1.0)[:, None]
    HC = rs.block_cum_at_rows(H)
    EHC = rs.block_cum_at_rows(E * H[:, None])
    U = -(X * HC[:, None] - EHC)
    dr = rs.drows
    U[dr] += X[dr] - E[rs.hi[dr] - 1]
    x = np.empty_like(U)
    x[o] = U * w[:, None]  # back to the design's row order
    score = x.sum(axis=0)
    V = des.recvar(x)
    se = np.sqrt(np.diag(V))
    chi = float(score @ np.linalg.solve(V, score))
    df = len(score)
    return SvyLogrank(method, score, se, score / se, chi, df, float(stats.chi2.sf(chi, df)), cn)
