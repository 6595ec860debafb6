"""Design-based Cox model and Kaplan-Meier: survey::svycoxph and survey::svykm."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from carts_iptw._validation import check_groups_weighted
from carts_iptw.results import CallableFrame, TableResult, format_num
from carts_iptw.survival._frame import covariates
from carts_iptw.survival.coxph import CoxPH, _chisq, coxph_fit
from carts_iptw.survival.robust import dfbeta, wald_test
from carts_iptw.survival.surv import aeq_times, make_surv


def svycoxph(formula: str, design, ties: str = "efron", control=None, rescale: bool = True,
             _warn: bool = True) -> CoxPH:
    """Cox model for survey data; R twin ``survey::svycoxph(formula, design)``.

    Parameters
    ----------
    formula : str
        As :func:`coxph`, with a ``Surv()`` response.
    design : SurveyDesign
        A :func:`~carts_iptw.design.svydesign` result.
    ties : str, default "efron"
        As :func:`coxph`.
    control : CoxControl, optional
        As :func:`coxph`.
    rescale : bool, default True
        Fit with weights ``w / mean(w)`` (R's ``rescale = TRUE``).
    _warn : bool, default True
        Internal: emit the fit's warnings.

    Returns
    -------
    CoxPH
        A :class:`~carts_iptw.survival.coxph.CoxPH` (``.var`` = design variance, ``.tests`` =
        ``{"waldtest": ...}``).

    Raises
    ------
    TypeError
        ``design`` is not a :func:`~carts_iptw.design.svydesign` result.
    ValueError
        Negative weights; no ``Surv()`` response; a group (binary covariate level) with zero
        total weight (R: an infinite coefficient or a singular matrix); the errors of
        :func:`coxph`.

    Notes
    -----
    Point estimates: ``coxph`` with weights ``w / mean(w)`` (``rescale = TRUE``). Variance:
    ``svyrecvar`` of the weighted dfbeta residuals over the design (PSU totals centred within
    strata, times n_h / (n_h - 1)); ``naive_var`` is the inverse information (R's
    ``inv.info``). Only the Wald test is reported, as svycoxph does.

    Variance, the design-based sandwich (Binder 1992; Lin 2000)::

        V = A^-1 B A^-1,   A = I(b) (information of the weighted partial likelihood),
        B = n/(n-1) * sum_i (w_i U_i - mean)(w_i U_i - mean)'   (independent-units design),

    computed as ``svyrecvar(D)`` with ``D = w U I^-1`` the weighted dfbeta residuals. Rows with
    zero weight are dropped from the fit but kept (as zeros) in the design variance. The
    ``robust se`` column of ``coef_table()`` is ``sqrt(diag V)``; ``se(coef)`` is from ``I^-1``
    of the rescaled weights, as R's ``summary(svycoxph)``.

    R twin version: survey 4.1-1 (``svycoxph.survey.design2``), point estimates from survival
    3.5-3's ``coxph``.

    References
    ----------
    Binder DA (1992) Biometrika 79:139-147; Lin DY (2000) Biometrika 87:37-47; Lumley T (2004)
    J Stat Softw 9(8); Lumley T (2010) Complex Surveys, Wiley, ch. 9.
    """
    import warnings

    from carts_iptw.design.svydesign import require_design
    from carts_iptw.formula import model_frame
    from carts_iptw.survival.coxph import CoxControl

    data = require_design(design).data
    w = np.asarray(design.weights, dtype=float)
    if np.any(w < 0):
        raise ValueError("design weights must be non-negative")
    keep = w > 0
    mf = model_frame(formula, data)
    sr = mf.surv
    if sr is None:
        raise ValueError("svycoxph needs a Surv() response")
    X, cn = covariates(mf)
    check_groups_weighted(X, cn, w, describe=mf.describe)
    ww = w / w.mean() if rescale else w
    strata = (mf.specials or {}).get("strata")
    if strata is not None:
        strata = np.asarray(strata)[keep]
    with warnings.catch_warnings():
        if not _warn:
            warnings.simplefilter("ignore")
        fit = coxph_fit(X[keep], sr.time[keep], sr.event[keep], weights=ww[keep], strata=strata,
                        start=None if sr.start is None else sr.start[keep], ties=ties,
                        robust=False, control=control or CoxControl(), column_names=cn,
                        formula=formula, describe=mf.describe)
    core = fit.fit_data
    Dk = np.zeros((int(keep.sum()), X.shape[1]))
    Dk[core.perm] = dfbeta(core.X, core.rs, core.lp, fit.naive_var.to_numpy())
    D = np.zeros((len(w), X.shape[1]))
    D[keep] = Dk
    V = design.recvar(D)
    idx = fit.coef.index
    df = int(np.sum(~np.isnan(fit.coef.to_numpy())))
    return fit.replace(var=pd.DataFrame(V, index=idx, columns=idx), robust=True,
                       tests={"waldtest": _chisq(wald_test(V, fit.coef.to_numpy()), df)},
                       formula=formula)


@dataclass(repr=False)
class SvyKM(TableResult):
    """One design-based survival curve (``svykm`` object).

    Attributes
    ----------
    time : numpy.ndarray
        Times of the events (one per event row, as survey).
    surv : numpy.ndarray
        ``exp(-Nelson-Aalen)`` (``se=True``) or the weighted product-limit curve.
    varlog : numpy.ndarray or None
        Variance of log S (``se=True``).

    Notes
    -----
    ``table`` / ``tidy()`` hold them as columns. R twin: ``survey::svykm`` (survey 4.1-1).
    """

    time: np.ndarray
    surv: np.ndarray
    varlog: np.ndarray | None

    @property
    def table(self) -> CallableFrame:
        """``time``, ``surv`` and (with ``se=True``) ``varlog`` as columns (R's svykm list).

        (It was a method; ``.table()`` still works for one release, with a warning.)
        """
        d = {"time": self.time, "surv": self.surv}
        if self.varlog is not None:
            d["varlog"] = self.varlog
        return CallableFrame(d)

    def tidy(self) -> pd.DataFrame:
        """``time``, ``estimate`` (surv) and, with ``se=True``, ``std_error`` of S.

        ``std_error`` is ``surv * sqrt(varlog)``, as ``confint.svykm``.
        """
        d = {"time": self.time, "estimate": self.surv}
        if self.varlog is not None:
            d["std_error"] = self.surv * np.sqrt(self.varlog)
        return pd.DataFrame(d)

    def _print_text(self) -> str:
        return (f"svykm curve: {len(self.time)} event time(s), S(t) from 1 to "
                f"{format_num(self.surv[-1] if len(self.surv) else 1.0)}"
                f"{'; with standard errors' if self.varlog is not None else ''}")


def _km_stderr(t, e, w, N, general_design=None):
    """survey:::km.stderr in O(n log n) for an independent-sampling design (see module notes)."""
    keep = (e == 1) & (w != 0)
    ev = np.flatnonzero(keep)
    ev = ev[np.argsort(t[ev], kind="stable")]
    tt = t[ev]
    # weighted at risk at each event row's time
    o = np.argsort(t, kind="stable")
    ts = t[o]
    rc = np.concatenate([np.cumsum(w[o][::-1])[::-1], [0.0]])
    y = rc[np.searchsorted(ts, tt, side="left")]
    dN = w[ev]
    h = np.cumsum(dN / y)
    surv = np.exp(-h)
    m = len(ev)
    if general_design is not None:
        # generic design: influence matrix (n x m), quadratic memory (small studies only)
        B = np.cumsum(dN / y**2)
        G = np.zeros((len(t), m))
        atrisk = t[:, None] >= tt[None, :]
        incr = -(dN / y**2)[None, :] * atrisk
        incr[ev, np.arange(m)] += 1.0 / y
        G = np.cumsum(incr, axis=1) * w[:, None]
        V = np.array([general_design.recvar(G[:, [i]])[0, 0] for i in range(m)])
        del B
        return tt, surv, V
    B = np.cumsum(dN / y**2)
    # b_j for every row: B through the last event row with time <= t_j
    bj = np.concatenate([[0.0], B])[np.searchsorted(tt, t, side="right")]
    ypos = np.searchsorted(tt, t, side="left")
    yj = np.where(ypos < m, y[np.minimum(ypos, m - 1)], np.inf)
    c = w**2 * (np.where(e == 1, 1.0 / yj, 0.0) - bj) ** 2
    # C(< t_i): sum of c_j over rows with time < t_i
    cs = np.concatenate([[0.0], np.cumsum(c[o])])
    C_before = cs[np.searchsorted(ts, tt, side="left")]
    w2s = np.concatenate([np.cumsum((w[o] ** 2)[::-1])[::-1], [0.0]])
    W2_ge = w2s[np.searchsorted(ts, tt, side="left")]
    # tied event rows at the same time, in order: cumulative w^2 within the tie
    w2e = w[ev] ** 2
    first = np.searchsorted(tt, tt, side="left")
    cw = np.cumsum(w2e)
    W2tie = cw - np.concatenate([[0.0], cw])[first]
    V = C_before + B**2 * (W2_ge - W2tie) + (1.0 / y - B) ** 2 * W2tie
    V = V * N / (N - 1)
    return tt, surv, V


def _independent(design) -> bool:
    if getattr(design, "iid", False):
        return True
    cl = np.asarray(design.cluster)
    st = np.asarray(design.strata)
    return len(np.unique(st)) == 1 and len(np.unique(cl)) == len(cl)


def svykm(formula: str, design, se: bool = False):
    """Survival curves for survey data; R twin ``survey::svykm(formula, design, se)``.

    Parameters
    ----------
    formula : str
        ``Surv(time, status) ~ 1`` or ``~ g`` (one curve per level).
    design : SurveyDesign
        A :func:`~carts_iptw.design.svydesign` result.
    se : bool, default False
        Compute the design-based variance of log S (``varlog``).

    Returns
    -------
    SvyKM or dict
        SvyKM (or a dict ``{level: SvyKM}`` when grouped) with ``.time``, ``.surv`` and, with
        ``se=True``, ``.varlog``; ``.table``; :func:`svykm_time` reads curves at given times.

    Raises
    ------
    ValueError
        A non-right-censored response; missing values, negative times, invalid status; a group
        with zero total weight (R: NaN).

    Notes
    -----
    With ``se=True`` (survey:::km.stderr): ``surv = exp(-H)``, H the weighted Nelson-Aalen
    cumulative hazard accumulated event row by event row, and ``varlog`` its design-based
    (linearisation) variance. For an independent-sampling design this is a closed form in
    cumulative sums (O(n log n); R builds n x (events) matrices); other designs use the
    influence matrix. With ``se=False`` (svykm.fit): the weighted product-limit curve at
    ``c(0, unique times)``.

    Formulas: with ``se=False`` the weighted Kaplan-Meier
    ``S(t) = prod_{s <= t} (1 - d_w(s) / n_w(s))``; with ``se=True`` ``S(t) = exp(-H(t))``,
    ``H(t) = sum_{event rows j, t_j <= t} w_j / n_w(t_j)`` (tied events added one row at a time,
    as survey does) and ``varlog = Var(H(t))`` the design variance of the linearised ``H``
    (survey's ``svyrecvar`` with ``n/(n-1)``). Note the two choices give slightly different
    curves, exactly as in R.

    R twin version: survey 4.1-1.

    References
    ----------
    Lumley T (2004) J Stat Softw 9(8); survey 4.1-1 ``?svykm``; Lumley T (2010) Complex Surveys,
    Wiley, ch. 9.
    """
    from carts_iptw.design.svydesign import require_design
    from carts_iptw.formula import model_frame
    from carts_iptw.formula.evaluate import as_factor, evaluate
    from carts_iptw.formula.parser import parse_expression

    data = require_design(design).data
    mf = model_frame(formula, data)
    if mf.surv is None or mf.surv.type != "right":
        raise ValueError("svykm: response must be a right-censored Surv object")
    sv = make_surv(mf.surv.time, mf.surv.event, time_name=mf.surv.names.get("time", "time"),
                   event_name=mf.surv.names.get("event", "event"))
    w = np.asarray(design.weights, dtype=float)
    t, e = sv.time, sv.event
    labels = list(mf.term_labels)

    def one(mask):
        tt, ee, wwt = t[mask], e[mask], w[mask]
        if not wwt.sum() > 0:
            raise ValueError(f"a group of {labels} has zero total weight (empty group)")
        if se:
            indep = _independent(design)
            if indep:
                N = sum(design.npsu.values())
                return SvyKM(*_km_stderr(tt, ee, wwt, N))
            sub = design.subset(mask)
            return SvyKM(*_km_stderr(tt, ee, wwt, None, general_design=sub))
        ut = np.unique(tt)
        inv = np.searchsorted(ut, tt)
        d = np.bincount(inv, weights=ee * wwt, minlength=len(ut))
        tot = np.bincount(inv, weights=wwt, minlength=len(ut))
        Nr = np.concatenate([[wwt.sum(), wwt.sum()], wwt.sum() - np.cumsum(tot[:-1])])
        dd = np.concatenate([[0.0], d])
        return SvyKM(np.concatenate([[0.0], ut]), np.maximum(0, np.cumprod(1 - dd / Nr)), None)

    if not labels:
        return one(np.ones(len(t), bool))
    vals = [as_factor(evaluate(parse_expression(lab), data)) for lab in labels]
    if len(vals) == 1:
        codes = vals[0].values
        levs = list(vals[0].levels)
    else:  # interaction(): first factor varies fastest, levels joined by '.'
        codes = np.zeros(len(t), np.int64)
        levs = [""]
        mult = 1
        allv = []
        for v in vals:
            codes = codes + v.values * mult
            mult *= len(v.levels)
            allv.append(v.levels)
        import itertools

        levs = [".".join(reversed(c)) for c in itertools.product(*reversed(allv))]
    out = {}
    for k, lev in enumerate(levs):
        mask = codes == k
        if mask.any():
            out[lev] = one(mask)
    return out


def svykm_time(km: SvyKM, times) -> pd.DataFrame:
    """Survival (and its log-scale SE) of an svykm curve at given times (step function)."""
    times = np.asarray(times, dtype=float)
    j = np.searchsorted(km.time, times, side="right") - 1
    s = np.where(j >= 0, km.surv[np.maximum(j, 0)], 1.0)
    out = {"time": times, "surv": s}
    if km.varlog is not None:
        out["se_log"] = np.where(j >= 0, np.sqrt(km.varlog[np.maximum(j, 0)]), 0.0)
    return pd.DataFrame(out)


__all__ = ["svycoxph", "svykm", "SvyKM", "svykm_time", "aeq_times"]
