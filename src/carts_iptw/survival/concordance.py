"""Harrell's concordance of a Cox model, weighted, with survival's infinitesimal-jackknife std err.

R twin: ``survival::concordancefit(y, lp, strata, weights, cluster, reverse = TRUE,
timefix = FALSE)`` as ``coxph`` calls it for ``fit$concordance`` (survival 3.5-3,
concordance3.c / concordance4.c, ``timewt = "n"``).

Comparable pairs: an event e at time t_e and a row j at risk then in the same stratum,
R_e = {j : start_j < t_e, stop_j > t_e or (stop_j = t_e and j censored)}. With case weights,

    concordant = sum_e w_e sum_{j in R_e, x_j < x_e} w_j     (higher risk fails first)
    discordant = ... x_j > x_e;  tied.x = ... x_j = x_e
    tied.y     = weighted pairs of events at the same time (and stratum) with different x
    tied.xy    = weighted pairs of events at the same time with equal x
    C = (concordant + tied.x / 2) / (concordant + discordant + tied.x).

Standard error (survival's concordancefit): with Somers' d = 2C - 1 and, per row i, its
weighted counts as an event and as a comparator (A_i concordant-side, B_i discordant-side,
T_i tied on x), dfbeta_i = w_i ((A_i - B_i) / npair - d / npair (A_i + B_i + T_i)) summed by
cluster; var(C) = sum dfbeta^2 / 4.

Every sum is a two-dimensional dominance count (time order x risk order), computed without a
per-row loop: the risk scores are ranked, and "rank below" is split into its dyadic blocks
(one per bit of the rank, as a Fenwick tree does), each a grouped suffix sum over sorted keys.
O(n log^2 n): per bit of the rank, O(n) radix passes and binary searches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_NAMES = ["concordant", "discordant", "tied.x", "tied.y", "tied.xy", "concordance", "std"]


def _stable_order_by_group(g):
    """Stable argsort of non-negative integer group codes by LSD radix passes of 16 bits.

    numpy's stable sort is a radix sort for 16-bit keys: O(n) per pass.
    """
    o = np.arange(len(g))
    shift = 0
    gmax = int(g.max(initial=0))
    while True:
        digit = ((g[o] >> shift) & 0xFFFF).astype(np.uint16)
        o = o[np.argsort(digit, kind="stable")]
        shift += 16
        if (gmax >> shift) == 0:
            return o


def _group_suffix(pg, pk, pw, qg, qk, m):
    """For each query: sum of point weights pw with pg == qg and pk > qk.

    Points come sorted by pk (integer keys in [0, m - 2]); a stable sort by group then orders
    them by (group, pk).
    """
    o = _stable_order_by_group(pg)
    key = pg[o] * m + pk[o]
    cs = np.concatenate([[0.0], np.cumsum(pw[o])])
    end = np.searchsorted(key, (qg + 1) * m, side="left")
    beg = np.searchsorted(key, qg * m + qk, side="right")
    return cs[end] - cs[np.minimum(beg, end)]


def _dominance(pk, pu, pw, qk, qu):
    """Sums of point weights over points with pk > qk, split by pu <, ==, > qu.

    ``pu``/``qu`` are ranks in 0..U-1. Returns (less, equal, greater). Fenwick-style: "pu < qu"
    is the disjoint union over the bits L set in qu of the blocks pu >> L == (qu >> L) - 1.
    """
    base = min(pk.min(initial=0), qk.min(initial=0))
    o = np.argsort(pk, kind="stable")
    pk = (pk - base)[o]
    pu = pu.astype(np.int64)[o]
    pw = pw[o]
    # queries in (u, key) order: the binary searches of every level then walk the keys
    # nearly in order (cache friendly); results are put back at the end
    oq = np.lexsort((qk, qu))
    qk = (qk - base)[oq]
    qu = qu.astype(np.int64)[oq]
    m = int(max(pk.max(initial=0), qk.max(initial=0))) + 2
    cs = np.concatenate([[0.0], np.cumsum(pw)])
    total = cs[-1] - cs[np.searchsorted(pk, qk, side="right")]
    equal = _group_suffix(pu, pk, pw, qu, qk, m)
    less = np.zeros(len(qk))
    umax = int(max(pu.max(initial=0), qu.max(initial=0)))
    level = 0
    while (umax >> level) > 0:
        sel = ((qu >> level) & 1) == 1
        if sel.any():
            less[sel] += _group_suffix(pu >> level, pk, pw, (qu[sel] >> level) - 1, qk[sel], m)
        level += 1
    out = []
    for v in (less, equal, total - less - equal):
        r = np.empty_like(v)
        r[oq] = v
        out.append(r)
    return tuple(out)


def _pairs_within(groups, w):
    """Weighted pairs within groups (integer keys): sum_g ((sum w)^2 - sum w^2) / 2."""
    if len(w) == 0:
        return 0.0
    _, inv = np.unique(groups, return_inverse=True)
    inv = inv.ravel()
    s1 = np.bincount(inv, weights=w)
    s2 = np.bincount(inv, weights=w * w)
    return float(np.sum(s1 * s1 - s2) / 2.0)


def concordance_fit(time, event, x, weights=None, strata=None, start=None, cluster=None) -> pd.Series:
    """Survival's ``concordancefit(..., reverse = TRUE)`` (coxph's ``fit$concordance``).

    ``x`` is the risk score (linear predictor): higher risk, earlier event is concordant.
    Returns a Series with R's names: concordant, discordant, tied.x, tied.y, tied.xy,
    concordance, std. Times are used as given (coxph passes its time-fixed response).
    """
    stop = np.asarray(time, dtype=float)
    ev = np.asarray(event, dtype=float) > 0
    x = np.asarray(x, dtype=float)
    n = len(stop)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    sid = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    # integer time coordinates ordered by (stratum, time); a per-stratum sentinel below all times
    # stands for start = -infinity, so rows of other strata are never at risk.
    st = np.full(n, -np.inf) if start is None else np.asarray(start, dtype=float)
    allt = np.concatenate([stop, st])
    alls = np.concatenate([sid, sid])
    o = np.lexsort((allt, alls))
    ts, ss = allt[o], alls[o]
    new = np.ones(2 * n, dtype=bool)
    new[1:] = (ts[1:] != ts[:-1]) | (ss[1:] != ss[:-1])
    rank = np.empty(2 * n, dtype=np.int64)
    rank[o] = np.cumsum(new) - 1
    r_stop, r_start = rank[:n], rank[n:]
    SK = 2 * r_stop + (~ev)  # a row is at risk for event e iff SK_j > EK_e and BK_j < EK_e
    BK = 2 * r_start + 1
    ux, u = np.unique(x, return_inverse=True)
    u = u.ravel().astype(np.int64)
    e_idx = np.flatnonzero(ev)
    EK = 2 * r_stop[e_idx]
    ue, we = u[e_idx], w[e_idx]
    sub_start = start is not None or strata is not None
    # event role: sums over its risk set split by x_j <, =, > x_e
    lo, eq, hi = _dominance(SK, u, w, EK, ue)
    if sub_start:
        l2, e2, h2 = _dominance(BK, u, w, EK, ue)
        lo, eq, hi = lo - l2, eq - e2, hi - h2
    conc = float(np.dot(we, lo))
    disc = float(np.dot(we, hi))
    tiedx = float(np.dot(we, eq))
    # comparator role: events e with i in R_e (EK_e < SK_i and EK_e >= BK_i... i.e. not < BK_i),
    # split by x_e <, =, > x_i; keys negated to count "<".
    clo, ceq, chi = _dominance(-EK, ue, we, -SK, u)
    if sub_start:
        l2, e2, h2 = _dominance(-EK, ue, we, -BK, u)
        clo, ceq, chi = clo - l2, ceq - e2, chi - h2
    # survival's influence columns in its non-reversed orientation (x = predicted survival):
    # A = event-role x_j > x_i + comparator-role x_e < x_i, B the mirror, T ties on x.
    A = np.zeros(n)
    B = np.zeros(n)
    T = np.zeros(n)
    A[e_idx] += hi
    B[e_idx] += lo
    T[e_idx] += eq
    A += clo
    B += chi
    T += ceq
    # tied on time: event pairs at the same (stratum, time); tied.xy also equal x
    tkey = r_stop[e_idx]  # ranks are ordered by (stratum, time): one key for both
    ty_all = _pairs_within(tkey, we)
    txy = _pairs_within(tkey * (int(u.max(initial=0)) + 1) + ue, we)
    npair = conc + disc + tiedx
    somer_nr = (disc - conc) / npair if npair > 0 else np.nan
    dfb = w * ((A - B) / npair - (somer_nr / npair) * (A + B + T)) if npair > 0 else np.full(n, np.nan)
    if cluster is not None:
        _, inv = np.unique(np.asarray(cluster), return_inverse=True)
        dfb = np.bincount(inv.ravel(), weights=dfb)
    var = float(np.sum(dfb**2)) / 4.0
    c = 1.0 - (somer_nr + 1.0) / 2.0
    return pd.Series([conc, disc, tiedx, ty_all - txy, txy, c, np.sqrt(var)], index=_NAMES)
