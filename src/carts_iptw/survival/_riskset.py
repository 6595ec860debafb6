"""Risk-set sums over sorted times: the O(n log n + n p^2) engine behind coxph and its residuals.

For event block k (distinct event time t_k within a stratum) the risk set is
{i : start_i < t_k <= stop_i, same stratum}. Sums over it are reverse cumulative sums over rows
sorted by stop time minus those sorted by start time, read at ``searchsorted`` positions.
Sums over *blocks* a row is at risk in (needed for the information matrix and the score
residuals) are differences of a cumulative sum over blocks, read at the row's first and last
block. Efron's approximation is written, as survival's coxfit6.c / agfit4.c do, as d terms per
tied block of d deaths: term j (0..d-1) removes the fraction j/d of the deaths from the risk set
and carries the mean death weight.
"""

from __future__ import annotations

import numpy as np


def _rev_cumsum0(a: np.ndarray) -> np.ndarray:
    """Reverse cumulative sum with a trailing zero row: out[i] = sum(a[i:])."""
    out = np.zeros((a.shape[0] + 1,) + a.shape[1:])
    out[:-1] = np.cumsum(a[::-1], axis=0)[::-1]
    return out


def _tail_sums(q: np.ndarray, order_rev, pos: np.ndarray) -> np.ndarray:
    """sum(q[order][pos:]) for each pos, from one gather in reverse order and one cumsum.
    ``order_rev`` may be a slice (rows already sorted: no gather)."""
    if isinstance(order_rev, slice):
        n = order_rev.stop - order_rev.start
        cs = np.cumsum(q[order_rev][::-1], axis=0)
    else:
        n = len(order_rev)
        cs = np.cumsum(q[order_rev], axis=0)
    k = n - 1 - pos  # index in the reversed cumulative sum; -1 means an empty tail
    out = cs[np.maximum(k, 0)]
    if (k < 0).any():
        out[k < 0] = 0.0
    return out


class RiskSets:
    """Sorting and block structure for (start, stop] or right-censored data with strata."""

    def __init__(self, stop, event, weights, strata=None, start=None, efron=True):
        stop = np.asarray(stop, dtype=float)
        event = np.asarray(event, dtype=float)
        n = len(stop)
        self.n = n
        self.weights = np.asarray(weights, dtype=float)
        self.event = event
        self.counting = start is not None
        self.efron = efron
        if strata is None:
            sid = np.zeros(n, dtype=np.int64)
        else:
            sid = np.asarray(strata, dtype=np.int64)
        self.sid = sid
        nstrat = int(sid.max()) + 1 if n else 0
        dead = event > 0
        segments = []
        block_time = []
        block_strat = []
        # per-row block positions (global block indices) for the cumulative-over-blocks trick
        hi = np.zeros(n, dtype=np.int64)
        lo = np.zeros(n, dtype=np.int64)
        koff = 0
        for s in range(nstrat):
            rows = np.flatnonzero(sid == s)
            if len(rows) == 0:
                continue
            st = stop[rows]
            tk = np.unique(st[dead[rows]])
            K = len(tk)
            o_stop = rows[np.argsort(st, kind="stable")]
            stop_sorted = stop[o_stop]
            contiguous = len(o_stop) > 0 and o_stop[-1] - o_stop[0] == len(o_stop) - 1 and bool(
                np.all(np.diff(o_stop) == 1))
            seg = {
                "rows": rows,
                "o_stop": o_stop,
                "o_stop_rev": slice(int(o_stop[0]), int(o_stop[-1]) + 1) if contiguous
                else o_stop[::-1].copy(),
                "pos_stop": np.searchsorted(stop_sorted, tk, side="left"),
                "kslice": slice(koff, koff + K),
            }
            hi[rows] = koff + np.searchsorted(tk, st, side="right")
            if self.counting:
                sa = np.asarray(start, dtype=float)[rows]
                o_start = rows[np.argsort(sa, kind="stable")]
                seg["o_start"] = o_start
                seg["o_start_rev"] = o_start[::-1].copy()
                seg["pos_start"] = np.searchsorted(np.asarray(start)[o_start], tk, side="left")
                lo[rows] = koff + np.searchsorted(tk, sa, side="right")
            else:
                lo[rows] = koff
            segments.append(seg)
            block_time.append(tk)
            block_strat.append(np.full(K, s))
            koff += K
        self.K = koff
        self.segments = segments
        self.block_time = np.concatenate(block_time) if block_time else np.zeros(0)
        self.block_strat = np.concatenate(block_strat) if block_strat else np.zeros(0, int)
        self.hi = hi
        self.lo = lo
        self._lo_zero = not bool(lo.any())
        # deaths: their block, position j within the block, block size d
        drows = np.flatnonzero(dead)
        dblk = hi[drows] - 1  # the block at the death's own time
        o = np.lexsort((drows, dblk))
        drows = drows[o]
        dblk = dblk[o]
        self.drows = drows
        self.dblk = dblk
        d = np.bincount(dblk, minlength=self.K).astype(float)
        first = np.concatenate([[0], np.cumsum(d)[:-1]]).astype(np.int64)
        j = np.arange(len(drows)) - first[dblk]
        self.ndead = d
        self.dstart = first  # deaths sorted by block: block k's deaths start here
        self.deadwt = np.bincount(dblk, weights=self.weights[drows], minlength=self.K)
        self.wtave = self.deadwt / np.where(d > 0, d, 1.0)
        self.frac = (j / d[dblk]) if efron else np.zeros(len(drows))
        self.is_dead_row = dead
        # blocks with tied deaths: only they need segment sums (singletons are a gather)
        self.multi = d > 1
        mrows = np.flatnonzero(self.multi[dblk])
        self.multi_rows = mrows
        mstart = np.flatnonzero(np.r_[True, dblk[mrows][1:] != dblk[mrows][:-1]]) if len(mrows) else mrows
        self.multi_starts = mstart
        self._wx = None

    def bsum(self, values: np.ndarray) -> np.ndarray:
        """Sum of per-death-term values by block (terms are sorted by block)."""
        if len(values) == 0:
            return np.zeros((self.K,) + values.shape[1:])
        out = values[self.dstart].copy()
        if len(self.multi_rows):
            out[self.multi] = np.add.reduceat(values[self.multi_rows], self.multi_starts, axis=0)
        return out

    # -- sums over the risk set at each block -------------------------------------------------
    def risk_sum(self, q: np.ndarray) -> np.ndarray:
        out = np.zeros((self.K,) + q.shape[1:])
        for seg in self.segments:
            val = _tail_sums(q, seg["o_stop_rev"], seg["pos_stop"])
            if self.counting:
                val = val - _tail_sums(q, seg["o_start_rev"], seg["pos_start"])
            out[seg["kslice"]] = val
        return out

    def block_cum_at_rows(self, c: np.ndarray) -> np.ndarray:
        """For each row, the sum of per-block values c over the blocks the row is at risk in."""
        cc = np.zeros((self.K + 1,) + c.shape[1:])
        cc[1:] = np.cumsum(c, axis=0)
        if self._lo_zero:
            return cc[self.hi]
        return cc[self.hi] - cc[self.lo]

    # -- Efron terms ---------------------------------------------------------------------------
    def terms(self, r: np.ndarray, X: np.ndarray):
        """Per death-term denominators and weighted covariate sums (a_j), and block sums."""
        S0 = self.risk_sum(r)
        rx = r[:, None] * X
        S1 = self.risk_sum(rx)
        b = self.dblk
        den = S0[b]
        a = S1[b]
        if self.efron and len(self.multi_rows):
            # Efron: remove the fraction j/d of the tied deaths' risk (multi-death blocks only)
            mr = self.multi_rows
            dm = self.drows[mr]
            D0 = np.add.reduceat(r[dm], self.multi_starts)
            D1 = np.add.reduceat(rx[dm], self.multi_starts, axis=0)
            loc = np.cumsum(np.r_[0, np.diff(b[mr]) != 0])  # block index within the multi set
            f = self.frac[mr]
            den[mr] -= f * D0[loc]
            a[mr] -= f[:, None] * D1[loc]
        return den, a, rx

    def loglik_score_info(self, eta: np.ndarray, X: np.ndarray, need_info: bool = True):
        """Partial log-likelihood, score vector and information matrix at linear predictor eta."""
        w = self.weights
        r = w * np.exp(eta)
        den, a, rx = self.terms(r, X)
        b = self.dblk
        wt = self.wtave[b]
        dr = self.drows
        loglik = float(np.sum(w[dr] * eta[dr]) - np.sum(wt * np.log(den)))
        if self._wx is None or self._wx[0] is not X:
            self._wx = (X, (w[dr][:, None] * X[dr]).sum(axis=0))
        u = self._wx[1] - ((wt / den)[:, None] * a).sum(axis=0)
        if not need_info:
            return loglik, u, None
        c = np.bincount(b, weights=wt / den, minlength=self.K)
        g = np.bincount(b, weights=wt * self.frac / den, minlength=self.K)
        coef = self.block_cum_at_rows(c)
        coef[dr] -= g[b]
        rc = r * coef
        imat = X.T @ (rc[:, None] * X)
        v = wt / den**2
        imat -= a.T @ (v[:, None] * a)
        return loglik, u, imat

    def score_residuals(self, eta: np.ndarray, X: np.ndarray) -> np.ndarray:
        """survival's coxscore2 / agscore2 (unweighted score residuals), vectorised."""
        w = self.weights
        e = np.exp(eta - np.max(eta)) if eta.size else np.exp(eta)
        r = w * e
        den, a, _ = self.terms(r, X)
        b = self.dblk
        wt = self.wtave[b]
        f = self.frac
        haz = wt / den
        mean = a / den[:, None]
        H = np.bincount(b, weights=haz, minlength=self.K)
        hm = haz[:, None] * mean
        M = self.bsum(hm)
        Hp = np.bincount(b, weights=haz * (1 - f), minlength=self.K)
        Mp = self.bsum((1 - f)[:, None] * hm) if self.efron else M
        mbar = self.bsum(mean)
        mbar /= np.where(self.ndead > 0, self.ndead, 1.0)[:, None]
        HC = self.block_cum_at_rows(H)
        MC = self.block_cum_at_rows(M)
        resid = X * HC[:, None]
        resid -= MC
        resid *= -e[:, None]
        # deaths: replace their own block's at-risk term by Efron's death term
        # (each death row appears once in drows, so fancy-index assignment is safe)
        dr = self.drows
        xd = X[dr]
        ed = e[dr][:, None]
        corr = xd * (H - Hp)[b][:, None]
        corr -= (M - Mp)[b]
        corr *= ed
        corr += xd
        corr -= mbar[b]
        resid[dr] += corr
        return resid
