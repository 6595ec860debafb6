"""Cox proportional-hazards regression, weighted, with the robust (dfbeta) variance.

R twin: ``survival::coxph`` (survival 3.5-3, the version installed here).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from carts_iptw._diagnostics import COLLINEAR_RCOND, warn_collinear, warn_extreme_weights
from carts_iptw._validation import check_probability, check_weights, column_or_vector
from carts_iptw.families import CartsIptwWarning, ConvergenceWarning
from carts_iptw.results import ModelResults, Summary, format_num, format_pval, print_coefmat
from carts_iptw.survival._coxfit import CoxControl, CoxFitCore, cox_newton
from carts_iptw.survival._frame import covariates
from carts_iptw.survival._riskset import GramAccumulator, RiskSets, row_blocks
from carts_iptw.survival.robust import robust_variance, wald_test
from carts_iptw.survival.surv import aeq_sorted, aeq_times, make_surv, time_order


def check_case_weights(w, name="weights", n=None, allow_zero=False) -> np.ndarray:
    """Survival's case weights.

    :func:`~carts_iptw._validation.check_weights` with the column named and zero weights refused
    unless ``allow_zero``.
    """
    w = check_weights(w, f"weights '{name}'", n=n, allow_zero=allow_zero)
    warn_extreme_weights(w, f"weights '{name}'", stacklevel=4)
    return w


def _warn_singular(X, cn, w, singular, describe) -> None:
    """R's coxph gives an aliased covariate NA with se 0 and says nothing; say why here.

    A near-collinear design that Cholesky did not flag is named too (its coefficients are noise).
    """
    sing = np.flatnonzero(np.asarray(singular, dtype=bool))
    if sing.size:
        warnings.warn(
            f"coxph: X matrix deemed to be singular: {describe([cn[i] for i in sing])} "
            "collinear with other terms; coefficient NaN with standard error 0 (R: NA); remove "
            "it from the formula", CartsIptwWarning, stacklevel=4)
    if _clearly_not_collinear(X, w, set(sing.tolist())):
        return
    warn_collinear(X, cn, "coxph", weights=w, center=True, skip=list(sing), describe=describe,
                   stacklevel=4)


def _clearly_not_collinear(X, w, skip) -> bool:
    """The screen of :func:`~carts_iptw._diagnostics.collinear_columns`, by blocks of rows.

    True when the weighted, centred, unit-column Gram matrix is far from singular (its
    reciprocal condition number above 1e3 times ``COLLINEAR_RCOND``): the full check would
    find nothing. Else the full check runs (it also names the terms). Saves its n x p
    temporaries on large data. Weights are positive here (coxph refuses others).
    """
    n, p = X.shape
    if p < 2:
        return True
    m = (w @ X) / w.sum()
    sw = np.sqrt(w)
    acc = GramAccumulator(p)
    for sl in row_blocks(n, p):
        z = X[sl] - m
        z *= sw[sl, None]
        acc.add(z)
    G = acc.result()
    norms = np.sqrt(np.maximum(np.diag(G), 0.0))
    cols = [j for j in range(p) if j not in skip and norms[j] > 0 and np.isfinite(norms[j])]
    if len(cols) < 2 or n <= len(cols):
        return True
    if not np.all(np.isfinite(G)):
        return False
    S = G[np.ix_(cols, cols)] / np.outer(norms[cols], norms[cols])
    ev = np.linalg.eigvalsh(S)
    return bool(ev[0] > 0 and np.sqrt(ev[0] / ev[-1]) > 1e3 * COLLINEAR_RCOND)


def robust_default(weights, cluster) -> bool:
    """Whether the robust variance applies (survival 3.5-3 coxph.R: robust <- has.cluster || any(weights != floor(weights)))."""
    if cluster is not None:
        return True
    if weights is None:
        return False
    w = np.asarray(weights, dtype=float)
    return bool(np.any(w != np.floor(w)))


def _strata_codes(strata):
    if strata is None:
        return None, None
    s = pd.Series(strata)
    if isinstance(s.dtype, pd.CategoricalDtype):
        cat = s.cat.remove_unused_categories()
    else:
        cat = s.astype("category")
    return cat.cat.codes.to_numpy().astype(np.int64), list(cat.cat.categories)


@dataclass(frozen=True)
class CoxFitData:
    """What later steps need from a Cox fit, kept on the result (typed, read-only use).

    The sorted risk sets ``rs`` (None for ``ties="exact"``), the covariates ``X`` and linear
    predictor ``lp`` in ``rs``'s order with the permutation ``perm`` from row order, and the
    response, weights, strata and clusters in row order.

    Read by :func:`cox_zph`, :func:`svycoxph` and the concordance.
    """

    rs: RiskSets | None
    X: np.ndarray
    lp: np.ndarray
    perm: np.ndarray
    time: np.ndarray
    event: np.ndarray
    start: np.ndarray | None
    weights: np.ndarray
    has_weights: bool
    strata: np.ndarray | None
    strata_levels: list | None
    cluster: np.ndarray | None
    control: CoxControl


@dataclass(repr=False, eq=False)
class CoxPH(ModelResults):
    """Result of :func:`coxph` (``survival::coxph`` object).

    Attributes
    ----------
    coef : pandas.Series
        The coefficients.
    var : pandas.DataFrame
        The variance in use (robust when ``robust``); also ``vcov``.
    naive_var : pandas.DataFrame
        The inverse information.
    loglik : tuple of float
        Log partial likelihood at 0 and at b.
    tests : dict
        logtest, sctest, waldtest, robscore.
    n, nevent, iter, means, linear_predictors, concordance, assign
        R's other components, with R's names.

    Notes
    -----
    The results contract of :mod:`carts_iptw.results`: ``coef``, ``vcov`` (= ``var``), ``se``,
    ``statistic`` (= ``z``), ``p_values``, ``confint(level, parm, exponentiate)``,
    ``coef_table()`` (R's ``summary(fit)$coefficients``), ``tidy()`` (with hazard ratios as
    ``exp_*``), ``summary()``. R twin: ``survival::coxph`` (survival 3.5-3).
    """

    coef: pd.Series
    var: pd.DataFrame
    naive_var: pd.DataFrame
    loglik: tuple[float, float]
    n: int
    nevent: float
    tests: dict
    ties: str
    robust: bool
    iter: int
    converged: bool
    linear_predictors: np.ndarray
    means: pd.Series
    infinite: list = field(default_factory=list)
    formula: str | None = None
    nclusters: int | None = None
    fit_data: CoxFitData | None = None
    assign: dict | None = None  # R's fit$assign: term label -> coefficient positions
    _concordance: pd.Series | None = field(default=None, init=False, compare=False)

    ratio_scale = "hazard ratio"

    @property
    def vcov(self) -> pd.DataFrame:
        """R's ``vcov(fit)`` = ``fit$var``: the robust variance when robust, else ``I^-1``."""
        return self.var

    @property
    def se(self) -> pd.Series:
        """``sqrt(diag(var))``: the robust SE when robust, else the model-based one."""
        return pd.Series(np.sqrt(np.diag(self.var)), index=self.coef.index)

    @property
    def naive_se(self) -> pd.Series:
        """``sqrt(diag(I^-1))``, R's ``se(coef)`` column (``sqrt(diag(fit$naive.var))``)."""
        return pd.Series(np.sqrt(np.diag(self.naive_var)), index=self.coef.index)

    @property
    def robust_se(self) -> pd.Series | None:
        """R's ``robust se`` column, or None for a non-robust fit."""
        return self.se if self.robust else None

    @property
    def concordance(self) -> pd.Series:
        """R's ``fit$concordance``.

        Concordant, discordant, tied.x, tied.y, tied.xy (weighted pair counts), concordance
        (Harrell's C of the linear predictor) and std (its infinitesimal-jackknife standard error,
        by cluster when clustered); computed on first use in O(n log n).

        See :func:`carts_iptw.survival.concordance.concordance_fit`.
        """
        if self._concordance is None:
            from carts_iptw.survival.concordance import concordance_fit

            c = self.fit_data
            if c is None:
                raise ValueError("this Cox fit keeps no data for the concordance")
            self._concordance = concordance_fit(
                c.time, c.event, c.lp, c.weights if c.has_weights else None,
                c.strata, c.start, c.cluster)
        return self._concordance.copy()

    @property
    def hr(self) -> pd.Series:
        """Hazard ratios ``exp(coef)`` (``inf`` for an infinite coefficient, as R)."""
        with np.errstate(over="ignore"):
            return np.exp(self.coef)

    @property
    def z(self) -> pd.Series:
        """Wald ``z = coef / se`` (with the variance in use); R's ``z`` column."""
        return self.coef / self.se

    @property
    def statistic(self) -> pd.Series:
        """Wald ``z`` (as :attr:`z`)."""
        return self.z.rename("z")

    statistic_name = "z"

    def confint(self, level: float = 0.95, parm=None, exponentiate: bool = False
                ) -> pd.DataFrame:
        """R's ``confint(fit, parm, level)`` (``stats::confint.default`` for coxph objects).

        Wald interval ``b +/- z_{1-a/2} se(b)`` on the coef scale with the variance in use
        (robust if robust); ``exponentiate=True`` returns ``exp()`` of it (the hazard-ratio
        interval of ``summary(fit)$conf.int``). Columns are R's ``"2.5 %"``, ``"97.5 %"``.
        Raises ``ValueError`` when ``level`` is not in (0, 1).
        """
        out = super().confint(check_probability(level, "level"), parm)
        with np.errstate(over="ignore"):
            return np.exp(out) if exponentiate else out

    def coef_table(self) -> pd.DataFrame:
        """R's ``summary(fit)$coefficients`` with R's column names."""
        d = {"coef": self.coef, "exp(coef)": self.hr}
        d["se(coef)"] = self.naive_se
        if self.robust:
            d["robust se"] = self.se
        d["z"] = self.z
        d["Pr(>|z|)"] = self.p_values
        return pd.DataFrame(d)

    def conf_int_table(self, level: float = 0.95) -> pd.DataFrame:
        """R's ``summary(fit)$conf.int``."""
        ci = self.confint(level)
        with np.errstate(over="ignore"):
            return pd.DataFrame({"exp(coef)": self.hr, "exp(-coef)": np.exp(-self.coef),
                                 f"lower .{int(round(level * 100))}": np.exp(ci.iloc[:, 0]),
                                 f"upper .{int(round(level * 100))}": np.exp(ci.iloc[:, 1])})

    def _tests_lines(self) -> list[str]:
        names = {"logtest": "Likelihood ratio test", "waldtest": "Wald test",
                 "sctest": "Score (logrank) test", "robscore": "Robust"}
        lines = []
        for k in ("logtest", "waldtest", "sctest", "robscore"):
            if k in self.tests:
                t = self.tests[k]
                p = format_pval(t["pvalue"], 1)  # R: pdig = max(1, 4 - 4)
                lines.append(f"{names[k]:<21}= {format_num(round(t['test'], 2), 15)}  on "
                             f"{t['df']:g} df,   p={p}")
        return lines

    def _print_text(self) -> str:
        """R's ``print.coxph``: the call, the coefficient table, the likelihood ratio test, n."""
        tab = self.coef_table().rename(columns={"Pr(>|z|)": "p"})
        lines = ["Call:", f"coxph(formula = {self.formula or ''})", "",
                 print_coefmat(tab, stars=False, estimate_columns=len(tab.columns) - 2), ""]
        if "logtest" in self.tests:
            t = self.tests["logtest"]
            lines.append(f"Likelihood ratio test={format_num(round(t['test'], 2), 15)}  on "
                         f"{t['df']:g} df, p={format_pval(t['pvalue'])}")
        lines.append(f"n= {self.n}, number of events= {self.nevent:g} ")
        if self.infinite:
            lines.append(f"Warning: coefficient(s) may be infinite: {', '.join(self.infinite)}")
        return "\n".join(lines)

    def summary(self) -> Summary:
        """R's ``print(summary(fit))``.

        Coefficients (coef, exp(coef), se(coef), robust se, z, Pr(>|z|)), hazard-ratio intervals,
        concordance and the likelihood-ratio, Wald, score and robust score tests; tables as
        ``.coefficients`` and ``.conf_int``.
        """
        lines = ["Call:", f"coxph(formula = {self.formula or ''}, ties = \"{self.ties}\")", "",
                 f"  n= {self.n}, number of events= {self.nevent:g} ", "",
                 print_coefmat(self.coef_table(), estimate_columns=len(self.coef_table().columns) - 2),
                 "", print_coefmat(self.conf_int_table(), stars=False, estimate_columns=4), ""]
        if self.fit_data is not None:
            cc = self.concordance
            lines.append(f"Concordance= {cc['concordance']:.3f}  (se = {cc['std']:.3f} )")
        lines += self._tests_lines()
        if self.robust:
            lines.append("  (Note: the likelihood ratio and score tests assume independence of")
            lines.append("     observations within a cluster, the Wald and robust score tests do not).")
        if self.infinite:
            lines.append(f"Warning: coefficient(s) may be infinite: {', '.join(self.infinite)}")
        return Summary("\n".join(lines), coefficients=self.coef_table(),
                       conf_int=self.conf_int_table())

    def replace(self, **changes) -> CoxPH:
        """A copy with some fields changed (``dataclasses.replace``).

        Results are not patched in place.
        """
        return dataclasses.replace(self, **changes)


def coxph_fit(X, time, event, weights=None, strata=None, cluster=None, start=None, offset=None,
              ties="efron", robust=None, control: CoxControl | None = None, column_names=None,
              timefix=True, init=None, formula=None, names=None, describe=None) -> CoxPH:
    """Array front end of :func:`coxph`: X (n, p) without intercept, times, 0/1 events.

    ``describe`` (a callable taking column names, e.g. ``ModelFrame.describe``) formats
    columns in messages, so that names built from factor levels never reach one.
    """
    names = names or {}
    describe = describe or ", ".join
    control = control or CoxControl()
    if ties not in ("efron", "breslow", "exact"):
        raise ValueError(f"ties must be 'efron', 'breslow' or 'exact', got {ties!r}")
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    n = X.shape[0]
    sv = make_surv(time, event, start, names.get("time", "time"), names.get("event", "event"),
                   names.get("start", "start"))
    if sv.n != n:
        raise ValueError("X and the survival response have different numbers of rows")
    bad = ~np.isfinite(X).all(axis=0)
    if bad.any():
        cols = [column_names[i] if column_names else str(i) for i in np.flatnonzero(bad)]
        raise ValueError(f"covariate(s) {describe(cols)} have missing or non-finite values")
    has_w = weights is not None
    w = check_case_weights(weights, names.get("weights", "weights"), n) if has_w else np.ones(n)
    if sv.event.sum() == 0:
        raise ValueError(
            f"no events: '{sv.event_name}' is 0 for every row, a Cox model cannot be fitted"
        )
    if robust is True and start is not None and cluster is None:
        # coxph.R: an explicit robust = TRUE on (start, stop] data needs the subject grouping
        raise ValueError("robust=True with (start, stop] data needs a cluster (subject id), as R: "
                         "'one of cluster or id is needed'")
    if robust is None:
        robust = robust_default(weights if has_w else None, cluster)
    if cluster is not None and not robust:
        warnings.warn("cluster specified with robust=False, cluster ignored", CartsIptwWarning,
                      stacklevel=2)
        cluster = None
    if cluster is not None:
        cl = np.asarray(cluster)
        if len(cl) != n:
            raise ValueError("cluster has the wrong length")
        if pd.isna(pd.Series(cl)).any():
            raise ValueError(f"cluster '{names.get('cluster', 'cluster')}' has missing values")
        cluster = cl
    stop_t, start_t = sv.time, sv.start
    scodes, slevels = _strata_codes(strata)
    if scodes is not None and (scodes < 0).any():
        raise ValueError("strata have missing values")
    # one order of the raw stop times (shared with the KM and log-rank of the same times); it
    # also sorts the aeqSurv-fixed times, a monotone map of them
    order = time_order(stop_t) if (scodes is None and ties != "exact") else None
    if timefix:
        if start_t is None:
            if order is None:
                (stop_t,) = aeq_times(stop_t)
            # else: on the sorted times below
        else:
            start_t, stop_t = aeq_times(start_t, stop_t)
    if ties == "exact":
        return _coxph_exact(X, stop_t, sv, w, has_w, robust, cluster, start, scodes, slevels,
                            offset, init, control, column_names, formula, describe)
    # work on rows sorted by (stratum, stop): risk-set sums need no gathers. The order of rows
    # tied on (stratum, stop) does not matter (the risk sets and Efron terms are sums over them),
    # so one unstable argsort is enough without strata
    perm = order if scodes is None else np.lexsort((stop_t, scodes))
    inv_perm = np.empty_like(perm)
    inv_perm[perm] = np.arange(n)
    X_in = X
    X = np.take(X, perm, axis=0)  # (a row gather: several times faster than X[perm])
    stop_t = stop_t[perm]
    if timefix and start_t is None and order is not None:
        stop_t = aeq_sorted(stop_t)
    ev_s = sv.event[perm]
    w = w[perm]
    start_t = None if start_t is None else start_t[perm]
    scodes = None if scodes is None else scodes[perm]
    offset = None if offset is None else np.asarray(offset, dtype=float)[perm]
    if cluster is not None:
        cluster = cluster[perm]
    rs = RiskSets(stop_t, ev_s, w, scodes, start_t, efron=(ties == "efron"))
    p = X.shape[1]
    cn = list(column_names) if column_names is not None else [f"x{i + 1}" for i in range(p)]
    if p == 0:
        raise ValueError("the model has no covariates (null Cox model is not supported)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        core: CoxFitCore = cox_newton(X, rs, offset, init, control, right_censored=start is None)
    if not core.converged:
        warnings.warn("Ran out of iterations and did not converge", ConvergenceWarning, stacklevel=2)
    infinite = [cn[i] for i in np.flatnonzero(core.infinite)]
    if infinite:
        idx = ",".join(str(i + 1) for i in np.flatnonzero(core.infinite))
        warnings.warn(
            f"Loglik converged before variable  {idx} ({describe(infinite)}); "
            "coefficient may be infinite.", ConvergenceWarning, stacklevel=2)
    coef = core.coef.copy()
    coef[core.singular] = np.nan
    _warn_singular(X, cn, w, core.singular, describe)
    naive = core.var
    # R: linear predictors centred by the weighted means (coxph.fit) or colMeans (agreg.fit)
    if start is not None:
        means = np.where(np.all(np.isin(X, (-1.0, 0.0, 1.0)), axis=0), 0.0, X.mean(axis=0))
        lp = X @ core.coef - np.sum(core.coef * means)
        if offset is not None:
            lp = lp + offset
    else:
        means = core.means
        lp = core.linear_predictors
    var = naive
    tests = {}
    df = int(np.sum(~np.isnan(coef)))
    tests["logtest"] = _chisq(-2 * (core.loglik[0] - core.loglik[1]), df)
    tests["sctest"] = _chisq(core.score_test, df)
    ncl = None
    if robust:
        cl = cluster if cluster is not None else None
        var, rscore = robust_variance(X, rs, lp, naive, cl, control.toler_chol)
        tests["robscore"] = _chisq(rscore, df)
        ncl = int(len(np.unique(cluster))) if cluster is not None else n
    b0 = coef if init is None else coef - np.asarray(init)
    tests["waldtest"] = _chisq(wald_test(var, b0, control.toler_chol), df)
    idx = pd.Index(cn)
    lp_sorted = lp
    lp = lp[inv_perm]
    del X_in
    return CoxPH(
        coef=pd.Series(coef, index=idx), var=pd.DataFrame(var, index=idx, columns=idx),
        naive_var=pd.DataFrame(naive, index=idx, columns=idx), loglik=core.loglik, n=n,
        nevent=float(sv.event.sum()), tests=tests, ties=ties, robust=bool(robust),
        iter=core.iter, converged=core.converged, linear_predictors=lp,
        means=pd.Series(means, index=idx), infinite=infinite, formula=formula, nclusters=ncl,
        fit_data=CoxFitData(rs=rs, X=X, lp=lp_sorted, perm=perm, time=stop_t, event=ev_s,
                            start=start_t, weights=w, has_weights=has_w, strata=scodes,
                            strata_levels=slevels, cluster=cluster, control=control),
    )


def _coxph_exact(X, stop_t, sv, w, has_w, robust, cluster, start, scodes, slevels, offset, init,
                 control, column_names, formula, describe) -> CoxPH:
    """Fit with ties = "exact".

    Survival's coxexact.fit (right-censored, no case weights, naive variance).
    """
    from carts_iptw.survival._exact import coxexact_fit

    if start is not None:
        raise ValueError("ties='exact' for (start, stop] data (survival's agexact.fit) is not "
                         "implemented: use ties='efron' or 'breslow'")
    if has_w and np.any(w != 1):
        raise ValueError("Case weights are not supported for the exact method (as in R's "
                         "coxexact.fit); use ties='efron' or 'breslow' with weights")
    if robust or cluster is not None:
        raise ValueError("ties='exact' with a robust variance or cluster is not implemented")
    n, p = X.shape
    cn = list(column_names) if column_names is not None else [f"x{i + 1}" for i in range(p)]
    if p == 0:
        raise ValueError("the model has no covariates (null Cox model is not supported)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = coxexact_fit(X, stop_t, sv.event, scodes, offset, init, control)
    if not fit["converged"]:
        warnings.warn("Ran out of iterations and did not converge", ConvergenceWarning, stacklevel=3)
    infinite = [cn[i] for i in np.flatnonzero(fit["infinite"])]
    if infinite:
        idx = ",".join(str(i + 1) for i in np.flatnonzero(fit["infinite"]))
        warnings.warn(f"Loglik converged before variable  {idx} ({describe(infinite)}); "
                      "beta may be infinite.", ConvergenceWarning, stacklevel=3)
    coef = fit["coef"].copy()
    coef[fit["singular"]] = np.nan
    _warn_singular(X, cn, w, fit["singular"], describe)
    var = fit["var"]
    df = int(np.sum(~np.isnan(coef)))
    tests = {"logtest": _chisq(-2 * (fit["loglik"][0] - fit["loglik"][1]), df),
             "sctest": _chisq(fit["score_test"], df)}
    b0 = coef if init is None else coef - np.asarray(init)
    tests["waldtest"] = _chisq(wald_test(var, b0, control.toler_chol), df)
    idx = pd.Index(cn)
    lp = fit["linear_predictors"]
    return CoxPH(
        coef=pd.Series(coef, index=idx), var=pd.DataFrame(var, index=idx, columns=idx),
        naive_var=pd.DataFrame(var, index=idx, columns=idx), loglik=fit["loglik"], n=n,
        nevent=float(sv.event.sum()), tests=tests, ties="exact", robust=False, iter=fit["iter"],
        converged=fit["converged"], linear_predictors=lp, means=pd.Series(fit["means"], index=idx),
        infinite=infinite, formula=formula, nclusters=None,
        fit_data=CoxFitData(rs=None, X=X, lp=lp, perm=np.arange(n), time=stop_t,
                            event=sv.event, start=None, weights=w, has_weights=has_w,
                            strata=scodes, strata_levels=slevels, cluster=None, control=control),
    )


def _chisq(test: float, df: int) -> dict:
    return {"test": float(test), "df": df, "pvalue": float(stats.chi2.sf(test, df))}


def coxph(formula: str, data: pd.DataFrame, weights=None, ties: str = "efron", robust=None,
          cluster=None, control: CoxControl | None = None, timefix: bool = True) -> CoxPH:
    """Cox proportional-hazards model; R twin ``survival::coxph``.

    Parameters
    ----------
    formula : str
        R's formula with a ``Surv()`` left-hand side:
        ``Surv(time, status) ~ x + factor(g) + strata(s) + cluster(id)`` (counting process
        ``Surv(start, stop, status)`` too).
    data : pandas.DataFrame
        The data.
    weights : str or array-like, optional
        Column name or array of case weights (> 0).
    ties : {"efron", "breslow", "exact"}, default "efron"
        Tie handling.
    robust : bool, optional
        ``None`` (survival 3.5-3 default rule, see Notes), ``True`` or ``False``.
    cluster : str or array-like, optional
        Column name or array; implies the robust variance.
    control : CoxControl, optional
        ``survival::coxph.control`` defaults: eps 1e-9, iter.max 20.
    timefix : bool, default True
        Apply survival's ``aeqSurv`` tie correction to the times (R's default).

    Returns
    -------
    CoxPH
        ``.coef``, ``.var`` (robust if robust), ``.naive_var``, ``.loglik`` (at 0 and at b),
        ``.tests``, ``.se``, ``.hr``, ``.p_values``, ``.concordance``; ``.confint()``,
        ``.coef_table()`` / ``.conf_int_table()`` (``summary(fit)$coefficients`` / ``$conf.int``)
        and ``.summary()`` (text of ``print(summary(fit))``).

    Raises
    ------
    TypeError
        ``data`` is not a DataFrame; non-numeric weights.
    ValueError
        No ``Surv()`` response or a multi-state one; missing values; negative times; invalid
        status; no events; zero, negative or missing weights; unknown weights/cluster columns;
        a cluster given twice; unsupported ``ties``.

    Warns
    -----
    RuntimeWarning
        R's texts, when a coefficient may be infinite ("Loglik converged before variable ...")
        or the iterations run out; aliased columns get NaN coefficients (R: NA).

    Notes
    -----
    Partial likelihood with Efron (default) or Breslow ties, maximised by survival's coxfit6
    Newton-Raphson (see ``_coxfit``); naive variance = inverse information. Robust variance
    (Lin & Wei 1989) = D'D with D the weighted dfbeta residuals summed by cluster (coxph.R),
    computed in O(n log n + n p^2).

    Robust default (survival 3.5-3, installed here): ``robust=None`` turns the robust variance
    on when a cluster is given or when any weight is non-integer (``weights != floor(weights)``);
    integer case weights (e.g. all 1 or frequency weights) keep the naive variance. survival
    3.8 documents "weights other than 0/1" instead; we follow the installed 3.5-3.

    Differences from R: missing values raise ``ValueError`` (no silent na.omit); zero or
    negative weights raise (R: "Invalid weights, must be >0"); all-censored data raise instead
    of returning NA coefficients. ``ties="exact"`` (survival's coxexact.fit: exact partial
    likelihood, right-censored data without case weights, naive variance) is supported; on
    (start, stop] data, with weights other than 1 or with a robust variance it raises.

    Formulas (Therneau & Grambsch 2000, ch. 3): with ``r_i = w_i exp(x_i'b)``, for each
    distinct event time ``t`` with ``d`` tied events ``D``, risk set ``R(t)`` and weights ``w``,
    the Efron log partial likelihood adds::

        sum_{i in D} w_i x_i'b - wbar * sum_{k=0}^{d-1} log( sum_{R(t)} r_j - (k/d) sum_{D} r_j )

    (``wbar`` = mean case weight of the tied events); Breslow drops the ``(k/d)`` term. Naive
    variance ``I(b)^-1``; robust (infinitesimal jackknife) variance ``V = D'D`` with
    ``D = U I^-1`` the weighted score (dfbeta) residuals summed within clusters (Lin & Wei
    1989). Wald ``z = b / se`` with the variance in use; ``exp(b)`` is the hazard ratio. Tests:
    likelihood ratio ``2 (l(b) - l(0))``, Wald ``b' V^-1 b``, score (log-rank) and, when
    robust, the robust score test, each on ``p`` df.

    References
    ----------
    Cox DR (1972) JRSS-B 34:187-220. Efron B (1977) JASA 72:557-565. Lin DY, Wei LJ (1989) JASA
    84:1074-1078. Therneau TM, Grambsch PM (2000) Modeling Survival Data: Extending the Cox
    Model, Springer. Therneau T (2023) survival package 3.5-3, ``?coxph``.
    """
    from carts_iptw.formula import model_frame

    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    mf = model_frame(formula, data)
    if mf.surv is None:
        raise ValueError("coxph needs a Surv(time, event) response on the left of the formula")
    sr = mf.surv
    if sr.type not in ("right", "counting"):
        raise ValueError("coxph: multi-state responses are not supported; use finegray()")
    n = len(sr.time)
    w, wname = column_or_vector(data, weights, "weights", n)
    cl, clname = column_or_vector(data, cluster, "cluster", n)
    specials = getattr(mf, "specials", None) or {}
    if specials.get("cluster") is not None:
        if cl is not None:
            raise ValueError("cluster appears as both an argument and a model term")
        cl = np.asarray(specials["cluster"])
        clname = "cluster()"
    strata = specials.get("strata")
    X, cn = covariates(mf)
    assign = [a for a, c in zip(mf.assign, mf.column_names, strict=True) if c != "(Intercept)"]
    fit = coxph_fit(
        X, sr.time, sr.event, weights=w, strata=strata, cluster=cl, start=sr.start,
        offset=getattr(mf, "offset", None), ties=ties, robust=robust, control=control,
        column_names=cn, timefix=timefix, formula=formula, describe=mf.describe,
        names={"weights": wname or "weights", "cluster": clname or "cluster", **sr.names},
    )
    # R's fit$assign: term label -> coefficient positions
    terms: dict[str, list[int]] = {}
    for j, a in enumerate(assign):
        terms.setdefault(mf.term_labels[a - 1], []).append(j)
    return fit.replace(assign=terms)
