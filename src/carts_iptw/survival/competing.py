"""Competing risks: weighted Aalen-Johansen cumulative incidence and the Fine-Gray model.

R twins: ``survival::survfit`` with a multi-state factor status (survfitCI; one row per subject,
all starting in the initial state), and ``survival::finegray`` + weighted ``coxph``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carts_iptw._validation import as_float_array, require_columns
from carts_iptw.survival._frame import covariates
from carts_iptw.survival.coxph import CoxPH, check_case_weights, coxph_fit
from carts_iptw.survival.surv import aeq_times
from carts_iptw.survival.survfit import survfit_confint


def aj_curve(time, status, w, nstates):
    """Aalen-Johansen for one initial state and ``nstates`` absorbing states (status 0 =
    censored, k = state k). Returns per unique time: n_risk, events by state, pstate (s0 first)
    and the infinitesimal-jackknife std.err of each pstate (survfitCI's only variance).

    IJ influence of a subject (times its weight), closed form evaluated by cumulative sums:
    S(t) D_i(t) for S (the KM influence, see survfit.km_curve) and, for state k,
    ``G_k(min(t, T_i)) + 1(T_i <= t) [d_ik S(T_i-)/n(T_i) + a_i (F_k(t) - F_k(T_i))]`` with
    ``F_k`` the cumulative incidence, ``G_k(t) = sum S(t_j-) h_kj (A(t_j-) - 1/n_j)``,
    ``A(t) = sum h_j / (n_j - d_j)`` and ``a_i = A(T_i) - d_i / (n - d)(T_i)``.
    """
    o = np.argsort(time, kind="stable")
    t, s, w = time[o], status[o], w[o]
    ut, inv = np.unique(t, return_inverse=True)
    m = len(ut)
    wall = np.bincount(inv, weights=w, minlength=m)
    nrisk = np.cumsum(wall[::-1])[::-1]
    dk = np.zeros((nstates, m))
    for k in range(nstates):
        dk[k] = np.bincount(inv, weights=w * (s == k + 1), minlength=m)
    d = dk.sum(axis=0)
    cens = np.bincount(inv, weights=w * (s == 0), minlength=m)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(d > 0, d / nrisk, 0.0)
        hk = np.where(d > 0, dk / nrisk, 0.0)
        S = np.cumprod(1 - h)
        Sm = np.concatenate([[1.0], S[:-1]])  # S(t_j-)
        F = np.cumsum(Sm * hk, axis=1)
        nd = nrisk - d
        c = np.where((d > 0) & (nd > 0), 1.0 / nd, 0.0)
        A = np.cumsum(h * c)
        Am = np.concatenate([[0.0], A[:-1]])
        G = np.cumsum(Sm * hk * (Am - np.where(d > 0, 1.0 / nrisk, 0.0)), axis=1)
    e_any = (s > 0).astype(float)
    a_i = A[inv] - e_any * c[inv]
    w2 = w * w
    w2_by = np.bincount(inv, weights=w2, minlength=m)
    after = np.concatenate([np.cumsum(w2_by[::-1])[::-1][1:], [0.0]])
    # S itself
    term0 = w2 * a_i**2
    V0 = (A**2 * after + np.cumsum(np.bincount(inv, weights=term0, minlength=m))) * S**2
    se = np.zeros((nstates + 1, m))
    se[0] = np.sqrt(np.maximum(V0, 0))
    for k in range(nstates):
        alpha = G[k][inv] + (s == k + 1) * Sm[inv] / nrisk[inv] - a_i * F[k][inv]
        s_aa = np.cumsum(np.bincount(inv, weights=w2 * alpha**2, minlength=m))
        s_ab = np.cumsum(np.bincount(inv, weights=w2 * alpha * a_i, minlength=m))
        s_bb = np.cumsum(np.bincount(inv, weights=w2 * a_i**2, minlength=m))
        Vk = G[k] ** 2 * after + s_aa + 2 * F[k] * s_ab + F[k] ** 2 * s_bb
        se[k + 1] = np.sqrt(np.maximum(Vk, 0))
    pstate = np.vstack([S, F])
    cnt = np.bincount(inv, minlength=m).astype(float)
    nrisk_count = np.cumsum(cnt[::-1])[::-1]  # survfitCI reports unweighted n.risk
    return {"time": ut, "n_risk": nrisk_count, "n_risk_weighted": nrisk, "n_event": dk, "n_censor": cens, "pstate": pstate,
            "std_err": se}


@dataclass
class SurvFitMS:
    """Result of :func:`survfit_ms` (``survfitms`` object): long ``table`` with one row per
    stratum, time and state (``(s0)`` = still in the initial state)."""

    table: pd.DataFrame
    states: list[str]
    strata: list[str]
    conf_type: str
    formula: str | None = None
    _raw: dict = field(default_factory=dict, repr=False)

    def cif(self, state: str) -> pd.DataFrame:
        """Cumulative incidence of ``state`` (rows: strata x times), R's ``fit$pstate[, k]``
        with ``std.err``, ``lower``, ``upper``. Aalen-Johansen:
        ``F_k(t) = sum_{t_j <= t} S(t_j-) d_k(t_j) / n(t_j)`` (weighted counts)."""
        return self.table[self.table["state"] == state].reset_index(drop=True)

    def at_times(self, times, state: str) -> pd.DataFrame:
        """R's ``summary(fit, times)`` for one state: the step-function value (pstate,
        std_err, lower, upper) at each time, per stratum; 0 before the first event."""
        rows = []
        t = self.cif(state)
        for s in self.strata:
            ts = t[t["strata"] == s]
            x = ts["time"].to_numpy()
            for tt in np.atleast_1d(times):
                j = np.searchsorted(x, tt, side="right") - 1
                r = ts.iloc[j] if j >= 0 else None
                rows.append({"strata": s, "time": float(tt),
                             "pstate": 0.0 if r is None else r["pstate"],
                             "std_err": 0.0 if r is None else r["std_err"],
                             "lower": np.nan if r is None else r["lower"],
                             "upper": np.nan if r is None else r["upper"]})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """The last row of every curve (stratum x state): pstate, std_err and CI."""
        last = self.table.groupby(["strata", "state"], sort=False).tail(1)
        return ("Aalen-Johansen (weighted) cumulative incidence; last time per curve:\n"
                + last.to_string(index=False, float_format=lambda v: f"{v:.6g}"))

    def __repr__(self) -> str:
        return self.summary()


def survfit_ms(time, status, states, weights=None, groups=None, labels=None, conf_type="log",
               conf_int=0.95, robust=None, timefix=True, formula=None) -> SurvFitMS:
    """Weighted Aalen-Johansen curves; R twin ``survfit(Surv(time, factor_status) ~ g)``.

    ``status`` holds 0 (censored) or k = 1..K for the k-th state of ``states``. Standard errors
    are survfitCI's infinitesimal jackknife (R supports only this variance for multi-state
    curves); CIs from ``survfit_confint(logse = FALSE)``.

    R twin version: survival 3.5-3 (``survfitCI``). Reference: Aalen OO, Johansen S (1978) Scand
    J Stat 5:141-150; Therneau, Crowson & Atkinson, survival vignette "Multi-state models and
    competing risks". Raises ``ValueError`` for ``robust=False``, missing or negative times,
    invalid status codes, and invalid weights.
    """
    if robust is False:
        raise ValueError("multi-state survfit supports only a robust variance (as R)")
    time = np.asarray(time, dtype=float)
    status = np.asarray(status, dtype=np.int64)
    n = len(time)
    if np.isnan(time).any():
        raise ValueError(f"time has {int(np.isnan(time).sum())} missing value(s)")
    if (time < 0).any():
        raise ValueError(f"time has {int((time < 0).sum())} negative value(s)")
    K = len(states)
    if (status < 0).any() or (status > K).any():
        raise ValueError("status codes must be 0 (censored) or 1..K (the competing states)")
    w = np.ones(n) if weights is None else check_case_weights(weights, "weights", n)
    if timefix:
        (time,) = aeq_times(time)
    if groups is None:
        groups = np.zeros(n, np.int64)
        labels = ["all"]
    frames = []
    raw = {}
    allstates = ["(s0)"] + list(states)
    for g, lab in enumerate(labels):
        sel = groups == g
        if not sel.any():
            continue
        c = aj_curve(time[sel], status[sel], w[sel], K)
        raw[lab] = c
        for k, st in enumerate(allstates):
            lo, hi = survfit_confint(c["pstate"][k], c["std_err"][k], False, conf_type, conf_int)
            frames.append(pd.DataFrame({
                "strata": lab, "state": st, "time": c["time"], "n_risk": c["n_risk"],
                "n_risk_weighted": c["n_risk_weighted"],
                "n_event": c["n_event"][k - 1] if k > 0 else c["n_event"].sum(axis=0),
                "pstate": c["pstate"][k], "std_err": c["std_err"][k], "lower": lo, "upper": hi}))
    return SurvFitMS(pd.concat(frames, ignore_index=True), allstates, list(raw), conf_type,
                     formula, raw)


def cuminc(formula: str, data: pd.DataFrame, weights=None, conf_type: str = "log") -> SurvFitMS:
    """Cumulative incidence with a factor status: ``survfit(Surv(time, status) ~ g)`` where
    ``status`` is a pandas Categorical whose first level means censored."""
    from carts_iptw.survival.survfit import survfit

    return survfit(formula, data, weights=weights, conf_type=conf_type)


# ---------------------------------------------------------------------------------------------
# Fine-Gray
# ---------------------------------------------------------------------------------------------
def finegray_data(time, status, etype: int, weights=None, timefix=True) -> pd.DataFrame:
    """survival::finegray for right-censored data (no strata): the counting-process data whose
    weighted Cox fit is the Fine-Gray model for state ``etype`` (status codes 1..K, 0 = censored).

    As finegray: G = the *unweighted* Kaplan-Meier of the censoring distribution, censorings
    tied with events counted after them. Cut points are the censoring times plus the largest
    time; only intervals that contain an event of interest are kept. A subject with a
    competing event at T gets the row (zero, c_j] (c_j the first cut >= T, weight 1) and one row
    (c_{k-1}, c_k] per later kept interval with weight G(c_{k-1}) / G(T-). Other subjects keep
    (zero, T]. ``fgwt`` = that weight times the case weight; ``id`` = the source row.
    """
    time = np.asarray(time, dtype=float)
    status = np.asarray(status, dtype=np.int64)
    n = len(time)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if timefix:
        (time,) = aeq_times(time)
    tmin = time.min()
    zero = 0.0 if tmin > 0 else 2 * tmin - 1
    cens = status == 0
    ctime = np.unique(time[cens])
    ts = np.sort(time)
    # at risk at censoring time c: time > c, or censored at c
    n_after = len(ts) - np.searchsorted(ts, ctime, side="right")
    tc = np.sort(time[cens])
    ncens = np.searchsorted(tc, ctime, side="right") - np.searchsorted(tc, ctime, side="left")
    cprob = np.cumprod(1 - ncens / (n_after + ncens))
    ct2 = np.concatenate([ctime, [time.max()]])
    cp2 = np.concatenate([[1.0], cprob])
    L = len(ct2)
    ev_times = np.unique(time[status == etype])
    keepc = np.zeros(L, dtype=bool)
    idx = np.searchsorted(ct2, ev_times, side="left")  # number of cuts < t
    keepc[idx[(idx >= 1) & (idx < L)]] = True
    rid, start, stop, fw = [np.arange(n)], [np.full(n, zero)], [time.copy()], [np.ones(n)]
    comp = np.flatnonzero((status != 0) & (status != etype))
    if len(comp):
        j0 = np.searchsorted(ct2, time[comp], side="left")  # first cut >= T
        stop[0][comp] = ct2[np.minimum(j0, L - 1)]
        tempwt = cp2[np.minimum(j0, L - 1)]
        kept = np.flatnonzero(keepc)
        kept = kept[kept >= 1]
        # pairs (subject, kept interval k) with k > j0
        sub = np.repeat(np.arange(len(comp)), len(kept))
        kk = np.tile(kept, len(comp))
        ok = kk > j0[sub]
        sub, kk = sub[ok], kk[ok]
        rid.append(comp[sub])
        start.append(ct2[kk - 1])
        stop.append(ct2[kk])
        fw.append(cp2[kk] / tempwt[sub])
    rid = np.concatenate(rid)
    out = pd.DataFrame({"id": rid, "fgstart": np.concatenate(start),
                        "fgstop": np.concatenate(stop),
                        "fgstatus": (status[rid] == etype).astype(float),
                        "fgwt": np.concatenate(fw) * w[rid]})
    return out.sort_values(["id", "fgstart"], kind="stable").reset_index(drop=True)


def finegray_coxph(formula: str, data: pd.DataFrame, etype: str, weights=None,
                   ties: str = "efron", control=None, cluster: str = "row", robust=None) -> CoxPH:
    """Fine-Gray subdistribution-hazard model: ``finegray()`` data + ``coxph(weights = fgwt *
    case weight, cluster = id)``; R twin ``coxph(Surv(fgstart, fgstop, fgstatus) ~ x,
    weights = fgwt, data = finegray(Surv(time, status) ~ ., data, etype = etype))``.

    ``formula`` is ``Surv(time, status) ~ x`` with ``status`` a Categorical (first level =
    censored). Variance as R's coxph on the finegray data: with non-integer fgwt the robust
    variance is on by default with one cluster per *row* (R's call without ``cluster``);
    ``cluster="id"`` groups the rows of a subject (R: ``cluster = id``), the better choice.

    R twin version: survival 3.5-3 (``finegray`` with its default ``count`` and ``timefix``).
    Construction (Fine & Gray 1999; Geskus 2011): a subject with a competing event at ``s`` stays
    in the risk set after ``s`` with a time-dependent weight ``fgwt(t) = G(t) / G(s)``, ``G`` the
    Kaplan-Meier of the censoring distribution (case-weighted), split into intervals at the
    censoring-curve jumps; the weighted Cox partial likelihood on these rows estimates the
    subdistribution hazard ratio ``exp(b)``. Case ``weights`` (e.g. IPT weights) multiply fgwt.

    Parameters: ``etype`` the status level of interest; ``weights`` column name or array;
    ``ties``, ``control``, ``robust`` as :func:`coxph`; ``cluster`` ``"row"`` (R's call without
    cluster) or ``"id"``.

    Returns a :class:`~carts_iptw.survival.coxph.CoxPH`.

    Raises ``ValueError`` when the status is not a factor (Categorical) or ``etype`` is not one
    of its levels, plus the errors of :func:`coxph` (missing values, negative times/weights).

    References: Fine JP, Gray RJ (1999) JASA 94:496-509; Geskus RB (2011) Biometrics 67:39-49;
    Therneau T, Crowson C, Atkinson E, survival vignette "Multi-state models and competing
    risks".
    """
    from carts_iptw.formula import model_frame

    mf = model_frame(formula, data)
    sr = mf.surv
    if sr is None or sr.states is None:
        status = f" ('{sr.label}')" if sr is not None else ""
        raise ValueError(f"finegray needs Surv(time, status) with a factor status{status} "
                         "(first level = censored)")
    if etype not in sr.states:
        raise ValueError(f"etype '{etype}' is not a level of the status")
    k = sr.states.index(etype) + 1
    X, cn = covariates(mf)
    cw = None
    if weights is not None:
        if isinstance(weights, str):
            require_columns(data, [weights])
        cw = as_float_array(data[weights] if isinstance(weights, str) else weights, "weights")
    fg = finegray_data(sr.time, sr.event, k, cw)
    ids = fg["id"].to_numpy()
    return coxph_fit(X[ids], fg["fgstop"].to_numpy(), fg["fgstatus"].to_numpy(),
                     weights=fg["fgwt"].to_numpy(), start=fg["fgstart"].to_numpy(),
                     cluster=ids if cluster == "id" else None, ties=ties, robust=robust,
                     control=control, column_names=cn, timefix=True, formula=formula,
                     describe=mf.describe)
