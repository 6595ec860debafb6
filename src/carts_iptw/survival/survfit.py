"""Weighted Kaplan-Meier curves with R's standard errors, confidence intervals and medians.

R twin: ``survival::survfit`` for right-censored data (survfitKM / survfitkm.c, survival 3.5-3).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from carts_iptw._validation import column_or_vector
from carts_iptw.families import CartsIptwWarning
from carts_iptw.results import Summary, TableResult, deprecated_alias, format_num, matrix_text
from carts_iptw.survival.coxph import check_case_weights
from carts_iptw.survival.surv import aeq_sorted, aeq_times, make_surv, time_order

_TOL = float(np.sqrt(np.finfo(float).eps))


def km_curve(time, event, w, robust: bool, presorted: bool = False):
    """One Kaplan-Meier curve (right-censored). Returns a dict of per-unique-time arrays.

    Counts are weighted (R reports weighted n.risk / n.event / n.censor). Variance:
    Greenwood ``sum d / (n (n - d))`` on the log-survival scale (``logse = TRUE``) or, when
    ``robust``, the infinitesimal-jackknife variance of S itself (``logse = FALSE``):
    ``V(t) = S(t)^2 sum_k D_k(t)^2``, ``D_k(t) = w_k [A(min(t, T_k)) - d_k 1(T_k <= t) / (n - d)(T_k)]``,
    ``A(t) = sum_{t_j <= t} h_j / (n_j - d_j)``, evaluated with cumulative sums (R: a loop over
    subjects at every event time).
    """
    if presorted:  # ``time`` ascending
        t, e = time, event
    else:
        o = np.argsort(time)  # tied rows in any order: they only enter sums by distinct time
        t, e, w = time[o], event[o], w[o]
    first = np.empty(len(t), dtype=bool)  # t is sorted: unique times without a second sort
    if len(t):
        first[0] = True
        np.not_equal(t[1:], t[:-1], out=first[1:])
    ut = t[first]
    inv = np.cumsum(first) - 1
    m = len(ut)
    wd = np.bincount(inv, weights=w * e, minlength=m)
    wc = np.bincount(inv, weights=w * (1 - e), minlength=m)
    d0 = np.bincount(inv, weights=e, minlength=m)
    wall = wd + wc
    nrisk = np.cumsum(wall[::-1])[::-1]
    has, h, surv, cumhaz, greenwood = _product_limit(wd, d0, nrisk)
    with np.errstate(divide="ignore", invalid="ignore"):
        if not robust:
            se = greenwood
            logse = True
        else:
            nd = nrisk - wd
            dead_all = has & (nd <= 0)
            c = np.where(has & ~dead_all, 1.0 / nd, 0.0)
            A = np.cumsum(np.where(has & ~dead_all, h * c, 0.0))
            w2 = w * w
            term = w2 * (A[inv] - e * c[inv]) ** 2
            cum_term = np.cumsum(np.bincount(inv, weights=term, minlength=m))
            w2_by = np.bincount(inv, weights=w2, minlength=m)
            after = np.concatenate([np.cumsum(w2_by[::-1])[::-1][1:], [0.0]])
            V = A**2 * after + cum_term
            V = V * surv**2
            if dead_all.any():
                V[np.argmax(dead_all):] = 0.0
            se = np.sqrt(np.maximum(V, 0.0))
            logse = False
    return {"time": ut, "n_risk": nrisk, "n_event": wd, "n_censor": wc, "surv": surv,
            "std_err": se, "cumhaz": cumhaz, "logse": logse, "inv": inv}


def _product_limit(wd, d0, nrisk):
    """Kaplan-Meier at the distinct times.

    From weighted deaths ``wd``, death counts ``d0`` and weighted numbers at risk: (has a death,
    hazard h, S = prod(1 - h), cumulative hazard, Greenwood std err of log S = sqrt(cumsum(d /
    (n (n - d))))).
    """
    has = (d0 > 0) & (wd > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(has, wd / nrisk, 0.0)
        g = np.where(has, wd / (nrisk * (nrisk - wd)), 0.0)
    return has, h, np.cumprod(1 - h), np.cumsum(h), np.sqrt(np.cumsum(g))


def _segmented_running(g, dx):
    """Running sums of dx within groups g (change points sorted by group).

    The value before and after each change point.
    """
    cs = np.cumsum(dx)
    first = np.ones(len(g), dtype=bool)
    first[1:] = g[1:] != g[:-1]
    starts = np.flatnonzero(first)
    prior = np.concatenate([[0.0], cs])[starts]  # cumulative sum before each group
    after = cs - np.repeat(prior, np.diff(np.append(starts, len(g))))
    return after - dx, after


def km_curve_general(start, time, event, w, robust: bool, cluster=None, last=None):
    """Kaplan-Meier for (start, stop] data and/or a robust variance grouped by cluster / id.

    survival's survfitKM / survfitkm.c: reported times are the unique stop times; at risk at t
    are rows with start < t <= stop; a censored row counts in n.censor only when it is the
    last of its subject's chain (``last``, survflag's position 2; every row without an id).
    Greenwood as in :func:`km_curve`. Robust (IJ): with c_i = h_i / (n_i - d_i) and
    C = cumsum(c), a row's influence on log S at t_i is w (C_i - C_{entry}) while at risk and
    w (C_{stop} - C_{entry}) - delta w / (n - d)_{stop} afterwards; summed by cluster and
    squared, V(t) = S(t)^2 sum_g U_g(t)^2, computed from step functions of the per-cluster
    coefficients (alpha_g C_i + beta_g) with cumulative sums.
    """
    n = len(time)
    st = np.full(n, -np.inf) if start is None else np.asarray(start, dtype=float)
    last = np.ones(n, dtype=bool) if last is None else np.asarray(last, dtype=bool)
    ut = np.unique(time)
    m = len(ut)
    js = np.searchsorted(ut, time, side="left")  # stop index
    ks = np.searchsorted(ut, st, side="right")  # first index the row is at risk
    A = np.cumsum(np.bincount(js, weights=w, minlength=m)[::-1])[::-1]
    Bc = np.bincount(ks, weights=w, minlength=m + 1)
    B = np.cumsum(Bc[::-1])[::-1][1:]  # rows with ks > i: start >= ut[i]
    nrisk = A - B
    wd = np.bincount(js, weights=w * event, minlength=m)
    d0 = np.bincount(js, weights=event, minlength=m)
    wc = np.bincount(js, weights=w * ((1 - event) * last), minlength=m)
    has, h, surv, cumhaz, greenwood = _product_limit(wd, d0, nrisk)
    if not robust:
        return {"time": ut, "n_risk": nrisk, "n_event": wd, "n_censor": wc, "surv": surv,
                "std_err": greenwood, "cumhaz": cumhaz, "logse": True}
    with np.errstate(divide="ignore", invalid="ignore"):
        nd = nrisk - wd
        dead_all = has & (nd <= 0)
        q = np.where(has & ~dead_all, 1.0 / nd, 0.0)
        c = h * q
        C = np.cumsum(c)
        C0 = np.concatenate([[0.0], C])  # C0[k] = C_{k-1}
        # change points: at ks (alpha += w, beta -= w C_{ks-1}); at js (alpha -= w,
        # beta += w C_js - delta w q_js)
        gid = np.arange(n) if cluster is None else np.unique(np.asarray(cluster), return_inverse=True)[1].ravel()
        cg = np.concatenate([gid, gid])
        ci = np.concatenate([ks, js])
        da = np.concatenate([w, -w])
        db = np.concatenate([-w * C0[ks], w * C[js] - event * w * q[js]])
        o = np.lexsort((ci, cg))
        cg, ci, da, db = cg[o], ci[o], da[o], db[o]
        a0, a1 = _segmented_running(cg, da)
        b0, b1 = _segmented_running(cg, db)
        d_aa = np.bincount(ci, weights=a1 * a1 - a0 * a0, minlength=m + 1)[:m]
        d_ab = np.bincount(ci, weights=a1 * b1 - a0 * b0, minlength=m + 1)[:m]
        d_bb = np.bincount(ci, weights=b1 * b1 - b0 * b0, minlength=m + 1)[:m]
        Saa, Sab, Sbb = np.cumsum(d_aa), np.cumsum(d_ab), np.cumsum(d_bb)
        V = C * C * Saa + 2 * C * Sab + Sbb
        V = np.maximum(V, 0.0) * surv**2
        if dead_all.any():
            V[np.argmax(dead_all):] = 0.0
        se = np.sqrt(V)
    return {"time": ut, "n_risk": nrisk, "n_event": wd, "n_censor": wc, "surv": surv,
            "std_err": se, "cumhaz": cumhaz, "logse": False}


def survfit_confint(p, se, logse, conf_type="log", conf_int=0.95):
    """survival:::survfit_confint (ulimit = TRUE)."""
    if not (isinstance(conf_int, int | float | np.floating) and 0 <= conf_int <= 1):
        raise ValueError("conf_int must be a number in [0, 1] (R: invalid value for 'conf.int')")
    z = stats.norm.ppf(1 - (1 - conf_int) / 2)
    p = np.asarray(p, dtype=float)
    se = np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if not logse:
            se = np.where(se == 0, 0.0, se / p)
        if conf_type == "plain":
            se2 = se * p * z
            return np.maximum(p - se2, 0), np.minimum(p + se2, 1)
        if conf_type == "log":
            xx = np.where(p == 0, np.nan, p)
            se2 = z * se
            return np.exp(np.log(xx) - se2), np.minimum(np.exp(np.log(xx) + se2), 1)
        if conf_type == "log-log":
            xx = np.where((p == 0) | (p == 1), np.nan, p)
            se2 = z * se / np.log(xx)
            return np.exp(-np.exp(np.log(-np.log(xx)) - se2)), np.exp(-np.exp(np.log(-np.log(xx)) + se2))
    raise ValueError(f"conf_type must be 'log', 'log-log' or 'plain', got {conf_type!r}")


def _minmin(y, x):
    """survival:::survmean's median rule (first time the curve is < 0.5, averaging at a flat 0.5)."""
    keep = ~np.isnan(y) & (y < 0.5 + _TOL)
    if not keep.any():
        return np.nan
    x = x[keep]
    y = y[keep]
    if abs(y[0] - 0.5) < _TOL and np.any(y < y[0]):
        return (x[0] + x[np.flatnonzero(y < y[0])[0]]) / 2
    return x[0]


@dataclass(repr=False)
class SurvFit(TableResult):
    """Result of :func:`survfit` (``survival::survfit`` object): weighted Kaplan-Meier curves.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per stratum and time: strata, time, n_risk, n_event, surv, std_err on R's scale,
        lower, upper.
    strata : list of str
        The strata labels.
    n : pandas.Series
        Number of subjects per stratum (R's ``n``).
    conf_type : str
        The interval transform.
    conf_level : float
        R's ``conf.int``.
    robust : bool
        Whether the std_err is the robust (infinitesimal-jackknife) one.

    Notes
    -----
    ``median()``, ``summary_table()``, ``at_times(times)``, ``n_risk_at(times)``; ``tidy()``
    (broom's ``tidy.survfit`` columns in snake_case), ``summary()`` and ``repr`` (R's
    ``print(fit)``). A curve, not a model: no ``confint()``. R twin: ``survival::survfit``
    (survival 3.5-3).
    """

    table: pd.DataFrame
    strata: list[str]
    n: pd.Series
    conf_type: str
    conf_level: float
    robust: bool
    logse: bool
    formula: str | None = None
    _curves: dict = field(default_factory=dict, repr=False)

    def median(self) -> pd.DataFrame:
        """R's ``summary(fit)$table[, c("median", "0.95LCL", "0.95UCL")]`` (``print(fit)``).

        One row per stratum; columns ``median``, ``lower``, ``upper`` (R: median, 0.95LCL,
        0.95UCL, at the fit's ``conf_int``). Each is the first time the curve / its lower / its
        upper limit drops below 0.5 (the midpoint of a flat step at exactly 0.5, as
        ``survival:::survmean``); NaN when never reached (R: NA).
        """
        rows = {}
        for s in self.strata:
            t = self.table[self.table["strata"] == s]
            x = t["time"].to_numpy()
            rows[s] = {"median": _minmin(t["surv"].to_numpy(), x),
                       "lower": _minmin(t["lower"].to_numpy(), x),
                       "upper": _minmin(t["upper"].to_numpy(), x)}
        return pd.DataFrame.from_dict(rows, orient="index")

    def summary_table(self) -> pd.DataFrame:
        """R's ``summary(fit)$table`` columns records, n.max, n.start, events, median, LCL, UCL."""
        med = self.median()
        out = []
        for s in self.strata:
            t = self.table[self.table["strata"] == s]
            out.append({"records": float(self.n[s]), "n.max": float(t["n_risk"].max()),
                        "n.start": float(t["n_risk"].iloc[0]), "events": float(t["n_event"].sum()),
                        "median": med.loc[s, "median"], "LCL": med.loc[s, "lower"],
                        "UCL": med.loc[s, "upper"]})
        return pd.DataFrame(out, index=self.strata)

    def at_times(self, times) -> pd.DataFrame:
        """R's ``summary(fit, times = times)`` (extend = FALSE): one row per stratum and time.

        surv / std_err / CI are those of the last time <= t (std_err of S, as summary.survfit
        reports it: fit$std.err * surv when logse); n_risk is the number at risk at t
        (weighted); n_event the events in (previous requested time, t].
        """
        times = np.sort(np.asarray(times, dtype=float))
        rows = []
        for s in self.strata:
            t = self.table[self.table["strata"] == s]
            x = t["time"].to_numpy()
            c = self._curves[s]
            for k, tt in enumerate(times):
                if tt > x.max():
                    continue
                j = np.searchsorted(x, tt, side="right") - 1
                prev = times[k - 1] if k > 0 else -np.inf
                ev = t["n_event"].to_numpy()[(x > prev) & (x <= tt)].sum()
                nr = float(np.sum(c["w"][(c["t"] >= tt) & (c["s"] < tt)]))
                if j < 0:
                    vals = (1.0, 0.0, 1.0, 1.0)
                else:
                    r = t.iloc[j]
                    se = r["std_err"] * r["surv"] if self.logse else r["std_err"]
                    vals = (r["surv"], se, r["lower"], r["upper"])
                rows.append({"strata": s, "time": tt, "n_risk": nr, "n_event": ev,
                             "surv": vals[0], "std_err": vals[1], "lower": vals[2],
                             "upper": vals[3]})
        return pd.DataFrame(rows)

    def rmean(self, tau: float, variance: str = "survmean") -> pd.DataFrame:
        """Restricted mean survival time up to ``tau`` per stratum.

        R's ``summary(fit, rmean = tau)$table[, c("rmean", "se(rmean)")]`` (``survival:::survmean``,
        survival 3.5-3).

        ``rmean = integral_0^tau S(t) dt`` (the area under the step curve, the last step
        extended to ``tau``); ``se(rmean)`` as ``survmean``:
        ``Var = sum_{t_i <= tau} A_i^2 d_i / (n_i (n_i - d_i))`` with ``A_i`` the area under the
        curve between ``t_i`` and ``tau`` and ``d_i``, ``n_i`` the (weighted) events and number
        at risk. This is the Greenwood-type variance on the (weighted) counts for weighted
        curves too, as R computes it: it does not use the robust (IJ) variance of the curve,
        so with estimated weights it is not a design-based standard error.

        ``variance="robust"``: the infinitesimal-jackknife standard error instead, the one
        that accounts for non-integer (IPT) weights as the curve's robust std.err does: R twin
        ``sqrt(sum(resid(fit, times = tau, type = "sojourn", weighted = TRUE)^2))`` (survival
        3.5-3, ``residuals.survfit``), summed within clusters / ids for a grouped fit;
        ``dRMST/dw_i = integral_0^tau S(t) [A(min(t, T_i)) - d_i 1(T_i <= t) / (n - d)(T_i)] dt``
        with ``A(t) = sum_{t_j <= t} d_j / (n_j (n_j - d_j))``, in O(n log n).
        Right-censored data only for ``"robust"`` (``ValueError`` for (start, stop] data).

        Columns ``rmean``, ``se_rmean``, ``tau``; one row per stratum (R's names).

        Raises ``ValueError`` when ``tau`` is not positive or lies beyond a stratum's last
        follow-up time (R extrapolates the last value of the curve; survRM2::rmst2 refuses, as
        here).
        """
        if variance not in ("survmean", "robust"):
            raise ValueError("variance must be 'survmean' (R's se(rmean)) or 'robust' (IJ)")
        try:
            tau = float(tau)
        except (TypeError, ValueError):
            raise TypeError("tau must be a number") from None
        if not (np.isfinite(tau) and tau > 0):
            raise ValueError("tau must be a positive finite time")
        rows = {}
        for k, s in enumerate(self.strata):
            t = self.table[self.table["strata"] == s]
            x = t["time"].to_numpy(dtype=float)
            if tau > x.max():
                raise ValueError(f"tau is beyond the last follow-up time of stratum {k + 1} of "
                                 f"{len(self.strata)}: the curve is not estimated there")
            keep = x <= tau
            surv = t["surv"].to_numpy(dtype=float)[keep]
            nr = t["n_risk"].to_numpy(dtype=float)[keep]
            ne = t["n_event"].to_numpy(dtype=float)[keep]
            with np.errstate(divide="ignore", invalid="ignore"):
                hh = np.where(nr - ne == 0, 0.0, ne / (nr * (nr - ne)))
            tt = np.concatenate([x[keep], [tau]])
            ss = np.concatenate([surv, surv[-1:]]) if keep.any() else np.ones(1)
            hh = np.concatenate([hh, [0.0]])
            delta = np.diff(np.concatenate([[min(0.0, x.min())], tt]))
            rect = delta * np.concatenate([[1.0], ss[:-1]])
            tail = np.cumsum(rect[::-1])[::-1]  # tail[i] = area from tt[i - 1] to tau
            var = float(np.sum(tail[1:] ** 2 * hh[:-1]))
            if variance == "robust":
                var = self._rmean_ij_var(s, t, tau)
            rows[s] = {"rmean": float(rect.sum()) + min(0.0, x.min()), "se_rmean": np.sqrt(var),
                       "tau": tau}
        return pd.DataFrame.from_dict(rows, orient="index")

    def _rmean_ij_var(self, stratum, t: pd.DataFrame, tau: float) -> float:
        """Infinitesimal-jackknife variance of the RMST up to ``tau`` of one stratum."""
        c = self._curves[stratum]
        if np.isfinite(c["s"]).any():
            raise ValueError("variance='robust' for the RMST needs right-censored data "
                             "(not (start, stop] data)")
        x = t["time"].to_numpy(dtype=float)
        S = t["surv"].to_numpy(dtype=float)
        nr = t["n_risk"].to_numpy(dtype=float)
        wd = t["n_event"].to_numpy(dtype=float)
        has = wd > 0
        nd = nr - wd
        dead_all = has & (nd <= 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            cc = np.where(has & ~dead_all, 1.0 / nd, 0.0)
            A = np.cumsum(np.where(has & ~dead_all, wd / nr * cc, 0.0))
        K = int(np.searchsorted(x, tau, side="right")) - 1  # last time <= tau
        seg = np.zeros(len(x))  # length of [x_k, min(x_{k+1}, tau)) for k <= K
        seg[:K] = np.diff(x[:K + 1])
        seg[K] = tau - x[K]
        B = np.concatenate([[0.0], np.cumsum(S * A * seg)])  # B[k] = int_0^{x_k} S A dt
        G = np.cumsum((S * seg)[::-1])[::-1]  # G[k] = int_{x_k}^tau S dt (0 beyond K)
        k = c["k"] if "k" in c else np.searchsorted(x, c["t"], side="left")  # each row's time
        inside = k <= K
        kk = np.minimum(k, K)
        r = np.where(inside, B[kk] + (A[kk] - c["e"] * cc[kk]) * G[kk], B[K + 1])
        u = c["w"] * r
        if c.get("g") is not None:
            u = pd.Series(u).groupby(pd.factorize(pd.Series(c["g"]))[0]).sum().to_numpy()
        return float(np.sum(u * u))

    def n_risk_at(self, times) -> pd.DataFrame:
        """Number at risk (weighted) at each time, per stratum: the risk table under a KM plot."""
        times = np.asarray(times, dtype=float)
        out = {}
        for s in self.strata:
            c = self._curves[s]
            st = np.sort(c["t"])
            wt = c["w"][np.argsort(c["t"], kind="stable")]
            rc = np.concatenate([np.cumsum(wt[::-1])[::-1], [0.0]])
            val = rc[np.searchsorted(st, times, side="left")]
            if np.isfinite(c["s"]).any():  # (start, stop]: minus rows not yet entered
                ss = np.sort(c["s"])
                ws = c["w"][np.argsort(c["s"], kind="stable")]
                rs = np.concatenate([np.cumsum(ws[::-1])[::-1], [0.0]])
                val = val - rs[np.searchsorted(ss, times, side="left")]
            out[s] = val
        return pd.DataFrame(out, index=pd.Index(times, name="time")).T

    conf_int = deprecated_alias("conf_level")

    def tidy(self) -> pd.DataFrame:
        """Broom's ``tidy(survfit)``.

        ``time``, ``n_risk``, ``n_event``, ``estimate`` (S(t)), ``std_error`` (R's ``std.err``
        scale), ``conf_low``, ``conf_high``, ``strata``.
        """
        t = self.table.rename(columns={"surv": "estimate", "std_err": "std_error",
                                       "lower": "conf_low", "upper": "conf_high"})
        cols = ["time", "n_risk", "n_event", "estimate", "std_error", "conf_low", "conf_high"]
        return t[[*cols, *[c for c in t.columns if c not in cols]]].reset_index(drop=True)

    def _print_text(self) -> str:
        """R's ``print(fit)``: records, n.max, n.start, events, median, LCL, UCL per stratum."""
        st = self.summary_table()
        if (st["records"] == st["n.max"]).all() and (st["records"] == st["n.start"]).all():
            st = st.drop(columns=["n.max", "n.start"]).rename(columns={"records": "n"})
        lv = format_num(self.conf_level * 100, 2)
        st = st.rename(columns={"LCL": f"0.{lv}LCL" if lv.isdigit() else "LCL",
                                "UCL": f"0.{lv}UCL" if lv.isdigit() else "UCL"})
        out = pd.DataFrame(index=[str(i) for i in st.index])
        for c in st.columns:
            out[c] = [format_num(v, 4) for v in st[c]]
        head = f"Call: survfit(formula = {self.formula or ''})"
        if self.robust:
            head += "  (robust IJ variance)"
        return head + "\n\n" + matrix_text(out)

    def summary(self) -> Summary:
        """R's ``print(fit)`` text; ``.table`` is ``summary(fit)$table`` (:meth:`summary_table`)."""
        return Summary(self._print_text(), table=self.summary_table())


def _last_in_chain(start, stop, id_):
    """Survival's survflag position 2: the row ends its subject's chain (new id or a gap next)."""
    n = len(stop)
    codes = pd.factorize(pd.Series(id_), sort=True)[0]
    o = np.lexsort((stop, codes))
    c2, s2, b2 = codes[o], stop[o], start[o]
    brk = np.ones(n, dtype=bool)
    brk[:-1] = (c2[:-1] != c2[1:]) | (s2[:-1] < b2[1:])
    out = np.empty(n, dtype=bool)
    out[o] = brk
    return out


def _curve_position(last, sel, ncurves):
    """The censoring flags one curve sees.

    survival 3.5-3's survfitKM computes survflag on all rows but hands the full vector to each
    curve's C call, which indexes it by the curve's own row numbers: with several curves, curve rows
    read the flags of the data's first rows. This only changes ``n_censor`` (never the estimates);
    reproduced for parity.
    """
    if ncurves == 1:
        return last[sel]
    return last[: int(sel.sum())]


def survfit_km(time, event, weights=None, groups=None, group_labels=None, conf_type="log",
               conf_int=0.95, robust=None, timefix=True, formula=None, names=None, start=None,
               id=None, cluster=None) -> SurvFit:
    """Array front end of :func:`survfit`.

    ``groups`` are integer codes into ``group_labels``; ``start`` gives (start, stop] data; ``id`` /
    ``cluster`` as survfit's (see :func:`survfit`).
    """
    names = names or {}
    sv = make_surv(time, event, start, names.get("time", "time"), names.get("event", "event"),
                   names.get("start", "start"))
    n = sv.n
    has_w = weights is not None
    w = check_case_weights(weights, names.get("weights", "weights"), n) if has_w else np.ones(n)
    for nm, v in (("id", id), ("cluster", cluster)):
        if v is not None:
            if len(v) != n:
                raise ValueError(f"{nm} has length {len(v)}, data has {n} rows")
            k = int(pd.isna(pd.Series(v)).sum())
            if k:
                raise ValueError(f"{names.get(nm, nm)} has {k} missing value(s)")
    has_rwt = bool(has_w and np.any(w != np.floor(w)))
    explicit = robust is not None
    if robust is None:
        multi_event_id = False
        if id is not None:
            ids_ev = pd.Series(np.asarray(id)[sv.event == 1])
            multi_event_id = bool(ids_ev.duplicated().any())
        robust = cluster is not None or has_rwt or multi_event_id
    group_by = None
    if cluster is not None:
        if not robust:
            warnings.warn("cluster specified with robust=False, cluster ignored", CartsIptwWarning,
                          stacklevel=2)
        else:
            group_by = np.asarray(cluster)
    elif robust:
        if id is not None:
            group_by = np.asarray(id)
        elif sv.start is not None and explicit:
            raise ValueError("robust=True on (start, stop] data needs id or cluster (as R: "
                             "'id or cluster option required')")
    if conf_type not in ("log", "log-log", "plain"):
        raise ValueError(f"conf_type must be 'log', 'log-log' or 'plain', got {conf_type!r}")
    t = sv.time
    st = sv.start
    general = st is not None or group_by is not None
    # right-censored curves: one order of all the times (shared with the log-rank test and Cox
    # model of the same times), each curve's rows taken from it in sorted order
    order = None if general else time_order(t)
    ts = None if order is None else t[order]  # the times in that order
    if timefix:
        if order is not None:
            fixed = aeq_sorted(ts)
            if fixed is not ts:
                ts = fixed
                t = np.empty_like(t)
                t[order] = ts
        elif st is None:
            (t,) = aeq_times(t)
        else:
            st, t = aeq_times(st, t)
    last = _last_in_chain(st, t, id) if (st is not None and id is not None) else None
    if groups is None:
        groups = np.zeros(n, dtype=np.int64)
        group_labels = ["all"]
    groups = np.asarray(groups)
    frames = []
    curves = {}
    ns = {}
    logse = not robust
    for g, lab in enumerate(group_labels):
        sel = groups == g
        if not sel.any():
            continue
        if general:
            c = km_curve_general(None if st is None else st[sel], t[sel], sv.event[sel], w[sel],
                                 robust, None if group_by is None else group_by[sel],
                                 None if last is None else _curve_position(last, sel, len(group_labels)))
        else:
            so = sel[order]
            og = order[so]  # the curve's rows, by time
            c = km_curve(ts[so], sv.event[og], w[og], robust, presorted=True)
        lo, hi = survfit_confint(c["surv"], c["std_err"], c["logse"], conf_type, conf_int)
        frames.append(pd.DataFrame({"strata": lab, "time": c["time"], "n_risk": c["n_risk"],
                                    "n_event": c["n_event"], "n_censor": c["n_censor"],
                                    "surv": c["surv"], "std_err": c["std_err"], "lower": lo,
                                    "upper": hi, "cumhaz": c["cumhaz"]}))
        curves[lab] = {"t": t[sel], "w": w[sel], "e": sv.event[sel],
                       "s": np.full(int(sel.sum()), -np.inf) if st is None else st[sel],
                       "g": None if group_by is None else np.asarray(group_by)[sel]}
        if not general:  # each row's index into the curve's times (in the curve's row order)
            k = np.empty(len(og), dtype=np.intp)
            k[(np.cumsum(sel) - 1)[og]] = c["inv"]
            curves[lab]["k"] = k
        ns[lab] = int(sel.sum())
    table = pd.concat(frames, ignore_index=True)
    return SurvFit(table=table, strata=list(curves), n=pd.Series(ns), conf_type=conf_type,
                   conf_level=conf_int, robust=bool(robust), logse=logse, formula=formula,
                   _curves=curves)


def rhs_groups(mf, data):
    """Strata labels as R's ``strata(mf[ll])``: 'x=a' or 'x=a, z=b'; levels in R's order."""
    from carts_iptw.survival._frame import rhs_factor

    return rhs_factor(mf, data)


def survfit(formula: str, data: pd.DataFrame, weights=None, conf_type: str = "log",
            conf_int: float = 0.95, robust=None, timefix: bool = True, id=None, cluster=None):
    """Kaplan-Meier (weighted) survival curves; R twin ``survival::survfit.formula``.

    Parameters
    ----------
    formula : str
        ``Surv(time, status) ~ chemo`` gives one curve per level with R's labels ``chemo=0``;
        ``~ 1`` a single curve (label ``all``). ``Surv(start, stop, event)`` gives survival's
        counting-process KM (at risk when start < t <= stop). A multi-state (factor) status
        gives Aalen-Johansen curves: see :func:`survfit_ms`.
    data : pandas.DataFrame
        The data.
    weights : str or array-like, optional
        Case weights (column name or array).
    conf_type : {"log", "log-log", "plain"}, default "log"
        The confidence interval transform (R's default ``"log"``).
    conf_int : float, default 0.95
        Confidence level.
    robust : bool, optional
        ``None`` applies survival 3.5-3's rule (see Notes).
    timefix : bool, default True
        R's ``aeqSurv`` tie correction of the times.
    id : str or array-like, optional
        Subject ids (column name or array): marks a subject's chain of rows in (start, stop]
        data, whose last row alone counts as a censoring; groups the robust variance.
    cluster : str or array-like, optional
        Clusters (column name or array) of the robust variance.

    Returns
    -------
    SurvFit or SurvFitMS
        :class:`SurvFit` (or :class:`~carts_iptw.survival.competing.SurvFitMS` for a
        multi-state status): ``.table`` (time, n_risk, n_event, n_censor, surv, std_err, lower,
        upper, strata), ``.median()``, ``.summary_table()`` (``summary(fit)$table``),
        ``.at_times(times)`` (``summary(fit, times)``), ``.n_risk_at(times)`` and
        ``.summary()``.

    Raises
    ------
    TypeError
        ``data`` is not a DataFrame.
    ValueError
        No ``Surv()`` response or an unsupported type; missing values; negative times; invalid
        status; zero, negative or missing weights; unknown weights / id / cluster columns;
        ``conf_type`` not log / log-log / plain; ``conf_int`` outside [0, 1]; ``(start, stop]``
        multi-state data and ``cluster=`` with a factor status (not supported here).

    Notes
    -----
    Weighted counts; survival 3.5-3's rule for the variance: ``robust=None`` uses the
    infinitesimal-jackknife (robust) variance when any weight is non-integer, else Greenwood.
    ``std_err`` is on R's scale: of the cumulative hazard / log S for Greenwood
    (``logse=True``), of S itself for the robust variance (``logse=False``), exactly as
    ``fit$std.err``. CIs as ``survfit_confint``. With a multi-state status ``id=`` is accepted
    as R's (one row per subject: each id must occur once, and then the curves equal those
    without ``id``, as in R).

    With (start, stop] data, ``id=`` or ``cluster=``, the robust variance is grouped as
    survfitKM: robust by default when a cluster is given, weights are non-integer, or an id has
    more than one event; grouped by cluster, else id, else row. Greenwood otherwise.

    Formulas (weighted counts ``d(t) = sum w_i dN_i(t)``, ``n(t) = sum w_i Y_i(t)``)::

        S(t)            = prod_{s <= t} (1 - d(s) / n(s))                    (Kaplan-Meier)
        Var(log S(t))   = sum_{s <= t} d(s) / (n(s) (n(s) - d(s)))           (Greenwood)
        Var_IJ(S(t))    = sum_g (sum_{i in g} w_i dS(t)/dw_i)^2              (infinitesimal jackknife)

    ``conf_type="log"`` (R's default): ``exp(log S +/- z se(log S))`` capped at 1;
    ``"log-log"``: ``S^exp(+/- z se / log S)``; ``"plain"``: ``S +/- z se(S)`` clipped to
    [0, 1]. Median (and its CI limits): the first time the curve (the lower / upper limit) is
    < 0.5, averaging with the next time when it equals 0.5 on a flat step
    (``survival:::survmean``).

    Differences from R: missing values raise; zero or negative weights raise (R allows zero).

    Warnings: R's, mirrored (the ``survfit.warnings.*`` parity cases compare them with
    survival's): ``CartsIptwWarning`` "cluster specified with robust=False, cluster ignored"
    (survfitKM's, which then ignores the cluster as here); weighted curves, non-integer weights
    included, draw no warning in R and none here.

    R twin version: survival 3.5-3.

    References
    ----------
    Kaplan EL, Meier P (1958) JASA 53:457-481; Greenwood M (1926); Therneau & Grambsch (2000)
    ch. 2; Therneau T, survival 3.5-3 vignette "The survfit function" (IJ variance for weighted
    curves).
    """
    from carts_iptw.formula import model_frame

    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    mf = model_frame(formula, data)
    if mf.surv is None:
        raise ValueError("survfit needs a Surv(time, event) response")
    sr = mf.surv
    n = len(sr.time)
    w, wname = column_or_vector(data, weights, "weights", n)
    codes, labels = rhs_groups(mf, data)
    if sr.type == "mcounting":
        raise ValueError("survfit: (start, stop] data with a factor status (multi-state "
                         "counting-process data) is not supported here; use Surv(time, status) "
                         "with one row per subject")
    if sr.type in ("mright",):
        from carts_iptw.survival.competing import survfit_ms

        if cluster is not None:
            raise ValueError("survfit: cluster with a multi-state status is not supported here "
                             "(one row per subject; the variance is grouped by subject)")
        if id is not None:
            idv, idname = column_or_vector(data, id, "id", n)
            label = idname or "id"
            k = int(pd.isna(pd.Series(idv)).sum())
            if k:
                raise ValueError(f"id column '{label}' has {k} missing value(s)")
            dup = int(pd.Series(idv).duplicated().sum())
            if dup:
                raise ValueError(
                    f"id column '{label}' has {dup} repeated value(s): Surv(time, status) with "
                    "a factor status needs one row per subject (R's survcheck flags this; "
                    "(start, stop] multi-state data is not supported here)")
        return survfit_ms(sr.time, sr.event, sr.states, w, codes, labels, conf_type=conf_type,
                          conf_int=conf_int, robust=robust, timefix=timefix, formula=formula)
    if sr.type not in ("right", "counting"):
        raise ValueError("survfit: only Surv(time, event) and Surv(start, stop, event) responses "
                         "are supported")
    idv, idname = column_or_vector(data, id, "id", n)
    clv, clname = column_or_vector(data, cluster, "cluster", n)
    return survfit_km(sr.time, sr.event, w, codes, labels, conf_type=conf_type,
                      conf_int=conf_int, robust=robust, timefix=timefix, formula=formula,
                      names={"weights": wname or "weights", "id": idname or "id",
                             "cluster": clname or "cluster", **sr.names},
                      start=sr.start, id=idv, cluster=clv)
