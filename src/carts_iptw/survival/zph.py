"""Test of proportional hazards: R twin ``survival::cox.zph`` (survival 3.x score test).

For each term, the score test that the coefficients of ``x * g(t)`` are zero in the expanded
model with covariates (x, x g(t)) at beta = (beta_hat, 0) (Grambsch & Therneau 1994;
survival 3.0's exact score test, zph1.c). ``g`` is the transform of time centred at its mean
over the events; the default ``km`` is 1 - S(t-) of the unweighted Kaplan-Meier over all
rows. Score and information are the per-event-time contributions of the Cox fit (Efron terms
per tied block, with the fit's case weights) multiplied by g and g^2, summed with the same
cumulative sums as coxph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from carts_iptw.results import TableResult, print_coefmat
from carts_iptw.survival.coxph import CoxPH


@dataclass(repr=False)
class CoxZph(TableResult):
    """Result of :func:`cox_zph`.

    Attributes
    ----------
    table : pandas.DataFrame
        R's columns chisq, df, p (rows: terms, GLOBAL).
    transform : str
        The time transform.
    x, time : numpy.ndarray
        Transformed event times and the event times.

    Notes
    -----
    ``tidy()`` is the table with ``term``, ``statistic``, ``df``, ``p_value`` columns. R twin:
    ``survival::cox.zph`` (survival 3.5-3).
    """

    table: pd.DataFrame
    transform: str
    x: np.ndarray
    time: np.ndarray

    def tidy(self) -> pd.DataFrame:
        """One row per term and GLOBAL: ``term``, ``statistic`` (chisq), ``df``, ``p_value``."""
        t = self.table
        return pd.DataFrame({"term": list(t.index), "statistic": t["chisq"].to_numpy(),
                             "df": t["df"].to_numpy(), "p_value": t["p"].to_numpy()})

    def _print_text(self) -> str:
        """R's ``print(cox.zph(fit))``: chisq, df, p per term and GLOBAL."""
        return print_coefmat(self.table, stars=False, estimate_columns=1)


def _transform_times(times, event, transform):
    if transform == "identity":
        return times.copy()
    if transform == "log":
        return np.log(times)
    if transform == "rank":
        return stats.rankdata(times)
    if transform == "km":
        ut = np.unique(times)
        inv = np.searchsorted(ut, times)
        d = np.bincount(inv, weights=event, minlength=len(ut))
        tot = np.bincount(inv, minlength=len(ut)).astype(float)
        nrisk = np.cumsum(tot[::-1])[::-1]
        surv = np.cumprod(np.where(d > 0, 1 - d / nrisk, 1.0))
        k = np.searchsorted(ut, times, side="left")  # KM times strictly before t
        return 1.0 - np.concatenate([[1.0], surv])[k]
    raise ValueError("transform must be 'km', 'identity', 'log' or 'rank'")


def cox_zph(fit: CoxPH, transform: str = "km", terms: bool = True, global_test: bool = True) -> CoxZph:
    """Proportional-hazards test per term and global; R twin ``survival::cox.zph(fit)``.

    Parameters
    ----------
    fit : CoxPH
        A :func:`coxph` result (right-censored, ``ties`` efron or breslow).
    transform : {"km", "identity", "log", "rank"}, default "km"
        ``"km"`` is 1 - left-continuous KM of all rows (R's default).
    terms : bool, default True
        One row per model term (R's default) or per coefficient.
    global_test : bool, default True
        Add the ``GLOBAL`` row.

    Returns
    -------
    CoxZph
        ``.table`` (R's ``$table``: columns chisq, df, p), ``.x`` (transformed event times)
        and ``.time``.

    Raises
    ------
    TypeError
        ``fit`` is not a ``coxph()`` result.
    ValueError
        ``ties="exact"`` fits, (start, stop] data, aliased (NaN) coefficients, or an unknown
        ``transform`` (R supports these fits; here they raise rather than give a wrong number).

    Notes
    -----
    R twin: ``cox.zph(fit, transform = "km", terms = TRUE, global = TRUE)`` (survival 3.5-3,
    the score test introduced in survival 3.0, not the older Grambsch-Therneau approximation).
    For term ``j`` with coefficients ``b_j``, the statistic is the score test of ``gamma_j = 0``
    in the model with covariates ``(x, x_j * g(t))`` evaluated at ``(b_hat, 0)``::

        chisq_j = U' I^-1 U,  U = (0, sum_events g(t_k) u_k),  I = [[I11, I12], [I12', I22]]

    with ``u_k`` the (Efron) score contributions at event time ``t_k``, ``I11, I12, I22`` the
    information contributions weighted by ``1, g, g^2`` and ``g`` the transformed time centred
    at its mean over the events. df = number of coefficients of the term; GLOBAL tests all
    terms jointly on ``p`` df. The naive (model-based) information is used also when the fit
    has a robust variance, as in R.

    References
    ----------
    Grambsch PM, Therneau TM (1994) Biometrika 81:515-526; Therneau & Grambsch (2000) sec. 6.2;
    survival 3.5-3 ``?cox.zph``.
    """
    if not isinstance(fit, CoxPH):
        raise TypeError(f"fit must be a coxph() result, got {type(fit).__name__}")
    core = fit.fit_data
    rs = core.rs
    if rs is None:
        raise ValueError("cox_zph: fits with ties='exact' are not supported here")
    if rs.counting:
        raise ValueError("cox_zph: (start, stop] data are not supported here")
    X = core.X
    coef = fit.coef.to_numpy()
    if np.isnan(coef).any():
        raise ValueError("cox_zph: the fit has aliased (NA) coefficients")
    times = core.time
    event = core.event
    tt = _transform_times(times, event, transform)
    gtime = tt - tt[event == 1].mean()
    eta = core.lp  # rows in the fit's internal (sorted) order, as X and rs
    w = rs.weights
    r = w * np.exp(eta - eta.max())
    den, a, _ = rs.terms(r, X)
    b = rs.dblk
    f = rs.frac
    wt = rs.wtave[b]
    dr = rs.drows
    gk = np.zeros(rs.K)
    gk[b] = gtime[dr]
    p = X.shape[1]
    # score of the x*g block: sum_k g_k u_k
    u_rows = rs.bsum(w[dr][:, None] * X[dr] - (wt / den)[:, None] * a)
    u2 = (gk[:, None] * u_rows).sum(axis=0)

    def info(power):
        gp = gk**power
        c = np.bincount(b, weights=wt / den, minlength=rs.K) * gp
        g = np.bincount(b, weights=wt * f / den, minlength=rs.K) * gp
        coefr = rs.block_cum_at_rows(c)
        coefr[dr] -= g[b]
        m = X.T @ ((r * coefr)[:, None] * X)
        v = wt / den**2 * gp[b]
        return m - a.T @ (v[:, None] * a)

    I11, I12, I22 = info(0), info(1), info(2)
    imat = np.block([[I11, I12], [I12.T, I22]])
    assign = fit.assign if terms else None
    if not assign:
        assign = {nm: [j] for j, nm in enumerate(fit.coef.index)}
    rows, tests, dfs = [], [], []
    for name, jj in assign.items():
        kk = list(range(p)) + [p + j for j in jj]
        u = np.concatenate([np.zeros(p), u2[jj]])
        tests.append(float(np.linalg.solve(imat[np.ix_(kk, kk)], u) @ u))
        dfs.append(len(jj))
        rows.append(name)
    if global_test:
        u = np.concatenate([np.zeros(p), u2])
        tests.append(float(np.linalg.solve(imat, u) @ u))
        dfs.append(p)
        rows.append("GLOBAL")
    tests = np.array(tests)
    dfs = np.array(dfs, dtype=float)
    tab = pd.DataFrame({"chisq": tests, "df": dfs, "p": stats.chi2.sf(tests, dfs)}, index=rows)
    ev = np.flatnonzero(event == 1)
    ev = ev[np.argsort(times[ev], kind="stable")]
    return CoxZph(tab, transform, tt[ev], times[ev])
