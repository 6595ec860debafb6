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

Method, O(n log n) without a loop over rows. Every sum is a two-dimensional dominance count,
time order x risk order. The rows are put in one sequence ("positions") by time key descending,
stratum-major: the risk set of an event is the rows placed before its run of tied events (the
events of one time and stratum, ordered by x; what a run contributes is subtracted with grouped
cumulative sums). With start/stop data a start time is one more element, of point weight -w at
its own key, which takes the row out of the risk sets of the events before its start. Each
element carries a point weight and an event weight (complex: w + i w [event]). One offline
sweep on a wavelet matrix over the bits of the (stratum, x) code (``_sweep``: per bit a stable
partition and a grouped cumulative sum, O(n) numpy passes; the lower bits block by block in
cache) gives every element at once the point weight before it with a smaller code (its sums as
an event) and the event weight before it with a smaller code; its sums as a comparator (the
events after it) are that subtracted from the stratum's event weight below its code. Equal x
and tied times are grouped cumulative sums over the sweep's final arrangement (runs of equal
code, in position order) and over the positions; whether any comparable pair exists is counted
in integers, so a rounding residue never stands for a pair. Cost: two float sorts (times, x),
O(n) radix passes, and log2(number of distinct (stratum, x)) sweeps of O(n).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_NAMES = ["concordant", "discordant", "tied.x", "tied.y", "tied.xy", "concordance", "std"]


def _radix_argsort(k, order):
    """Stable argsort of non-negative integer keys ``k`` within the permutation ``order``.

    LSD radix passes of 16 bits: numpy's stable sort of 16-bit keys is a radix sort, O(n).
    """
    kmax = int(k.max(initial=0))
    kk = k[order]
    shift = 0
    while True:
        s = np.argsort(((kk >> shift) & 0xFFFF).astype(np.uint16), kind="stable")
        order = order[s]
        shift += 16
        if (kmax >> shift) == 0:
            return order
        kk = kk[s]


def _dense_rank(vals, groups):
    """Dense ranks (0, 1, ...) of the pairs (groups, vals) in lexicographic order.

    Also returns the permutation that sorts them.
    """
    o = np.argsort(vals)
    if groups is not None:
        o = _radix_argsort(groups, o)
    vs = vals[o]
    new = np.empty(len(vs), dtype=bool)
    new[:1] = True
    np.not_equal(vs[1:], vs[:-1], out=new[1:])
    if groups is not None:
        gs = groups[o]
        new[1:] |= gs[1:] != gs[:-1]
    r = np.empty(len(vs), dtype=np.int64)
    r[o] = np.cumsum(new) - 1
    return r, o


def _runs(counts):
    """Start and end (exclusive) of consecutive runs of the given lengths."""
    ends = np.cumsum(counts)
    return ends - counts, ends


_BLOCK = 1 << 14  # elements per block once the classes fit: their lower bits run in cache


def _levels(key, W, acc, bufs, order, cum, U, lev_hi, lev_lo):
    """Partition steps of ``_sweep`` for the bits lev_hi .. lev_lo (in place on the arrays)."""
    N = len(key)
    out = (key, W, acc)
    bkey, bW, ba, czx, ar, tmp, b, nb = (x[:N] if i != 3 else x[:N + 1] for i, x in enumerate(bufs))
    for lev in range(lev_hi, lev_lo - 1, -1):
        h = 1 << lev
        c0 = np.minimum(order << (lev + 1), U)
        c1 = np.minimum(c0 + h, U)
        c2 = np.minimum(c1 + h, U)
        zc = cum[c1] - cum[c0]  # zeros and ones per class
        oc = cum[c2] - cum[c1]
        np.bitwise_and(key, h << 32, out=tmp)
        np.not_equal(tmp, 0, out=b)
        np.logical_not(b, out=nb)
        zi = np.flatnonzero(nb)
        oi = np.flatnonzero(b)
        nz = len(zi)
        for src, dst in ((key, bkey), (W, bW), (acc, ba)):
            np.take(src, zi, out=dst[:nz], mode="clip")
            np.take(src, oi, out=dst[nz:], mode="clip")
        np.cumsum(bW[:nz], out=czx[1:nz + 1])
        oi -= ar[:len(oi)]  # number of zeros before each one
        X = np.take(czx, oi, mode="clip")
        X -= np.repeat(czx[np.cumsum(zc) - zc], oc)  # zeros of the classes before
        ba[nz:] += X
        key, bkey = bkey, key
        W, bW = bW, W
        acc, ba = ba, acc
        order = np.concatenate([2 * order, 2 * order + 1])
        order = order[order <= ((U - 1) >> lev)]
    if key is not out[0]:  # an odd number of steps: the result is in the buffers
        out[0][:], out[1][:], out[2][:] = key, W, acc
    return order


def _sweep(val, W, U):
    """Offline dominance sums on a wavelet matrix over the bits of ``val`` (integers < U).

    For each element (in the given order), the sum of ``W`` over the elements that come
    earlier and have a smaller ``val``. The bits are taken top-down; at each bit a stable
    partition (zeros, then ones) keeps the elements with equal higher bits ("classes", in
    bit-reversed order of those bits) contiguous and in the given order, so an element whose
    bit is 1 gains the weight of the zeros of its class that come before it: a cumulative sum
    over all the zeros minus that of the classes before its own. O(N) per bit. Once every
    class fits in ``_BLOCK`` elements, blocks of whole classes finish their lower bits one at
    a time (the same steps on a slice that stays in cache).

    Returns, for the final arrangement (sorted by the bit-reversed ``val``, stable): the
    initial index of each element, its ``W``, its sum, and the values in arrangement order.
    """
    N = len(val)
    L = (U - 1).bit_length()
    cum = np.zeros(U + 1, dtype=np.int64)
    np.cumsum(np.bincount(val, minlength=U), out=cum[1:])
    # value and initial index packed in one integer: one gather moves both
    key = (val.astype(np.int64) << 32) | np.arange(N, dtype=np.int64)
    W = W.copy()
    acc = np.zeros(N, dtype=W.dtype)
    bufs = (np.empty_like(key), np.empty_like(W), np.empty_like(acc), np.zeros(N + 1, dtype=W.dtype),
            np.arange(N), np.empty(N, dtype=key.dtype), np.empty(N, dtype=bool), np.empty(N, dtype=bool))
    # the top bits over the whole array, until every class (equal higher bits) fits a block
    l0 = L - 1
    while l0 >= 0:
        s = cum[np.minimum(np.arange(((U - 1) >> (l0 + 1)) + 2) << (l0 + 1), U)]
        if np.diff(s).max(initial=0) <= _BLOCK:
            break
        l0 -= 1
    order = _levels(key, W, acc, bufs, np.zeros(1, dtype=np.int64), cum, U, L - 1, l0 + 1)
    if l0 >= 0:
        # classes are contiguous: blocks of whole classes, each finished on its own
        c0 = np.minimum(order << (l0 + 1), U)
        size = cum[np.minimum(c0 + (1 << (l0 + 1)), U)] - cum[c0]
        start = np.cumsum(size) - size
        blk = start // _BLOCK
        cut = np.flatnonzero(np.diff(blk)) + 1
        orders = []
        for cs, ce in zip(np.r_[0, cut], np.r_[cut, len(order)], strict=True):
            a = int(start[cs])
            e = int(start[ce - 1] + size[ce - 1])
            orders.append(_levels(key[a:e], W[a:e], acc[a:e], bufs, order[cs:ce], cum, U, l0, 0))
        order = np.concatenate(orders)
    return key & 0xFFFFFFFF, W, acc, order


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
    sid = None
    if strata is not None:
        sid = np.unique(np.asarray(strata), return_inverse=True)[1].ravel().astype(np.int64)
    # ---- time keys from the dense ranks r of (stratum, time): an event has key 2r, a censored
    # row 2r + 1, a start time 2r + 1; row j is at risk for event e iff SK_j > EK_e > BK_j.
    if start is None:
        r = _dense_rank(stop, sid)[0]
        keys = 2 * r + (~ev)
    else:
        st = np.asarray(start, dtype=float)
        r = _dense_rank(np.concatenate([stop, st]), None if sid is None else np.concatenate([sid, sid]))[0]
        keys = np.concatenate([2 * r[:n] + (~ev), 2 * r[n:] + 1])
    # ---- (stratum, x) codes, stratum-major, and the rows in that order
    su, ox = _dense_rank(x, sid)
    U = int(su[ox[-1]]) + 1 if n else 1
    wc = w + 1j * np.where(ev, w, 0.0)  # point weight + i * event weight
    if start is None:
        isu, first = su, ox
    else:  # start elements: point weight -w, no event weight
        isu = np.concatenate([su, su])
        wc = np.concatenate([wc, -w + 0j])
        first = np.concatenate([ox, ox + n])
    N = len(keys)
    kmax = int(keys.max(initial=0))
    # ---- positions: keys descending (stable from the x order: a run of tied events by x)
    P = _radix_argsort(kmax - keys, first)
    su_pos = isu[P]
    W_pos = wc[P]
    # ---- one sweep: weight before each position with a smaller (stratum, x) code
    posf, Wf, acc, order = _sweep(su_pos.astype(np.int32), W_pos, U)
    # final arrangement: runs of equal code, each in position order
    cf = np.bincount(su_pos, minlength=U)
    wqc = np.bincount(su_pos, weights=W_pos.imag, minlength=U)
    qbelow = np.cumsum(wqc) - wqc  # event weight with a smaller code in the stratum
    if sid is not None:
        code_s = np.empty(U, dtype=np.int64)
        code_s[su] = sid
        snew = np.ones(U, dtype=bool)
        snew[1:] = code_s[1:] != code_s[:-1]
        qbelow -= np.repeat(qbelow[snew], np.diff(np.append(np.flatnonzero(snew), U)))
    cf = cf[order]
    gs, ge = _runs(cf)
    Cf = np.zeros(N + 1, dtype=complex)
    np.cumsum(Wf, out=Cf[1:])
    cfr, cfi = Cf.real, Cf.imag
    pv = cfr[:-1] - np.repeat(cfr[gs], cf)  # point weight before, same code
    F = np.empty((N, 2), dtype=complex)
    F[:, 0].real = acc.real + pv  # point weight before, code <=
    F[:, 0].imag = pv
    F[:, 1].real = np.repeat(qbelow[order], cf) - acc.imag  # event weight after, code <
    F[:, 1].imag = np.repeat(cfi[ge], cf) - cfi[1:]  # event weight after, same code
    E = np.empty_like(F)
    E[posf] = F
    le, pv = E[:, 0].real, E[:, 0].imag
    clo, qv = E[:, 1].real, E[:, 1].imag
    # ---- positions: runs of equal key (events of one time in one stratum, or censorings /
    # starts at one key) and of equal (key, code); each stratum is one block
    Cp = np.zeros(N + 1, dtype=complex)
    np.cumsum(W_pos, out=Cp[1:])
    cpr, cpi = Cp.real, Cp.imag
    kc = np.bincount(keys, minlength=kmax + 1)[::-1]
    rkey = kmax - np.flatnonzero(kc)
    rcnt = kc[kc > 0]
    rs, re = _runs(rcnt)
    newk = np.zeros(N, dtype=bool)
    newk[rs] = True
    newk[1:] |= su_pos[1:] != su_pos[:-1]
    ks = np.flatnonzero(newk)
    kcnt = np.diff(np.append(ks, N))
    ke = ks + kcnt
    if sid is None:
        s0 = np.zeros(len(rcnt), dtype=np.int64)
        s1 = np.full(len(rcnt), N)
    else:
        scp = np.bincount(sid if start is None else np.concatenate([sid, sid]))[::-1]
        a, b = _runs(scp[scp > 0])
        rid = np.searchsorted(b, rs, side="right")
        s0, s1 = a[rid], b[rid]
    run_excl = cpr[:-1] - np.repeat(cpr[rs], rcnt)  # tied events before, same time
    rp_excl = cpr[:-1] - np.repeat(cpr[ks], kcnt)  # ... and same code
    # as an event e (weight wq): over its risk set, weight tot with x_j <= x_e le, == x_e eq;
    # as a comparator i: events after it, weight ctot with x_e < x_i clo, == x_i ceq
    tot_r = cpr[rs] - cpr[s0]
    ctot_r = cpi[s1] - cpi[re]
    le -= run_excl
    eq = pv - rp_excl
    ceq = qv - (np.repeat(cpi[ke], kcnt) - cpi[1:])
    wq = W_pos.imag
    # comparable pairs, counted exactly (integers): no float residue stands for a pair
    if start is None:
        before = rs - s0
    else:
        cs = np.zeros(N + 1, dtype=np.int64)
        np.cumsum(np.where(P < n, 1, -1), out=cs[1:])
        before = cs[rs] - cs[s0]
    any_pair = bool(np.any(((rkey & 1) == 0) & (before > 0)))
    s_le, s_eq = float(np.dot(wq, le)), float(np.dot(wq, eq))
    s_tot = float(np.dot(cpi[re] - cpi[rs], tot_r))  # event weight of each run x its risk set
    conc = s_le - s_eq if any_pair else 0.0
    disc = s_tot - s_le if any_pair else 0.0
    tiedx = s_eq if any_pair else 0.0
    ty_all = float(np.dot(wq, run_excl))
    txy = float(np.dot(wq, rp_excl))
    npair = conc + disc + tiedx
    somer_nr = (disc - conc) / npair if npair > 0 else np.nan
    c = 1.0 - (somer_nr + 1.0) / 2.0
    var = np.nan
    if npair > 0:
        # survival's influence columns (non-reversed orientation): A = x_j > x_i as an event
        # + x_e < x_i as a comparator, B the mirror, T tied on x, so with hi = tot - le,
        # lo = le - eq, chi = ctot - clo - ceq (and w * [event] = wq; a start element, point
        # weight -w, subtracts its comparator sums):
        # A - B = [ev] (tot - 2 le + eq) + 2 clo + ceq - ctot,  A + B + T = [ev] tot + ctot,
        # dfbeta = w ((A - B) - d (A + B + T)) / npair
        d = somer_nr
        ev_part = np.repeat(tot_r * (1.0 - d), rcnt) - 2.0 * le + eq
        cmp_part = 2.0 * clo + ceq - np.repeat(ctot_r * (1.0 + d), rcnt)
        dfb = (wq * ev_part + W_pos.real * cmp_part) / npair
        row = P if start is None else P % n
        if cluster is not None:
            _, inv = np.unique(np.asarray(cluster), return_inverse=True)
            dfb = np.bincount(inv.ravel()[row], weights=dfb)
        elif start is not None:
            dfb = np.bincount(row, weights=dfb, minlength=n)
        var = float(np.dot(dfb, dfb)) / 4.0
    return pd.Series([conc, disc, tiedx, ty_all - txy, txy, c, np.sqrt(var)], index=_NAMES)
