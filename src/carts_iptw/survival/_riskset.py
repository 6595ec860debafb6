"""Risk-set sums over sorted times: the O(n log n + n p^2) engine behind coxph and its residuals.

For event block k (distinct event time t_k within a stratum) the risk set is
{i : start_i < t_k <= stop_i, same stratum}. Each row is at risk in a contiguous range of
blocks [lo_i, hi_i); its value is binned at hi_i (and, for (start, stop] data, at lo_i), one
sparse-matrix product per evaluation, and the risk-set sums are reverse cumulative sums of the
bins within each stratum. Sums over *blocks* a row is at risk in (information matrix, score
residuals) are differences of a cumulative sum over blocks, read at the row's first and last
block.

Efron's approximation is written, as survival's coxfit6.c / agfit4.c do, as d terms per tied
block of d deaths: term j (0..d-1) removes the fraction f_j = j/d of the deaths' risk from the
risk set and carries the mean death weight. Every sum over the terms of a block is a combination
of the block's risk-set sums (S0, S1) and death sums (D0, D1) with per-block scalar
coefficients, e.g. sum_j wt/den_j (S1 - f_j D1) = S1 sum_j wt/den_j - D1 sum_j wt f_j/den_j, so
the p-vector work is per block, not per death.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas


def gram(Z: np.ndarray) -> np.ndarray:
    """Z' Z by BLAS syrk (one triangle; much faster than a thin gemm on a loaded machine)."""
    Z = np.asarray(Z, dtype=float)
    if Z.shape[0] == 0 or Z.shape[1] == 0:
        return np.zeros((Z.shape[1], Z.shape[1]))
    if Z.flags.c_contiguous:
        g = blas.dsyrk(1.0, Z.T, trans=0)
    else:
        g = blas.dsyrk(1.0, np.asfortranarray(Z), trans=1)
    return np.triu(g) + np.triu(g, 1).T


#: elements of one block of rows in the chunked n x p work (0.5 MB of doubles): a block's
#: temporaries stay in the CPU cache instead of streaming n x p arrays through memory
_BLOCK_ELEMS = 1 << 16


def row_blocks(n: int, p: int):
    """Slices of consecutive rows, each about ``_BLOCK_ELEMS / p`` rows long."""
    step = max(1024, _BLOCK_ELEMS // max(int(p), 1))
    for a in range(0, n, step):
        yield slice(a, min(n, a + step))


class GramAccumulator:
    """``sum_b Z_b' Z_b`` over blocks of rows (BLAS syrk into one triangle), symmetrised at the end."""

    def __init__(self, p: int):
        self.p = p
        self._g = np.zeros((p, p), order="F")

    def add(self, Z: np.ndarray) -> None:
        """Add ``Z' Z`` of a (rows x p) block."""
        if Z.shape[0] == 0 or self.p == 0:
            return
        Z = np.ascontiguousarray(Z, dtype=float)
        self._g = blas.dsyrk(1.0, Z.T, beta=1.0, c=self._g, trans=0, overwrite_c=1)

    def result(self) -> np.ndarray:
        """The symmetric p x p sum."""
        g = self._g
        return np.triu(g) + np.triu(g, 1).T


def weighted_gram(X: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``sum_i s_i^2 x_i x_i'`` (the Gram matrix of the rows of X scaled by s), by blocks of rows."""
    n, p = X.shape
    acc = GramAccumulator(p)
    for sl in row_blocks(n, p):
        acc.add(X[sl] * s[sl, None])
    return acc.result()


def _sorted_cols(keys: np.ndarray, nbins: int):
    """Row indices grouped by bin (stable) and the CSR row pointer of the bins."""
    if len(keys) < 2 or bool(np.all(keys[1:] >= keys[:-1])):
        cols = np.arange(len(keys))
    else:
        cols = np.argsort(keys, kind="stable")
    counts = np.bincount(keys, minlength=nbins)
    return cols, counts


class RiskSets:
    """Sorting and block structure for (start, stop] or right-censored data with strata.

    Rows may come in any order; rows sorted by (stratum, stop) avoid one gather per evaluation.
    """

    def __init__(self, stop, event, weights, strata=None, start=None, efron=True):
        stop = np.asarray(stop, dtype=float)
        event = np.asarray(event, dtype=float)
        n = len(stop)
        self.n = n
        self.weights = np.asarray(weights, dtype=float)
        self.event = event
        self.counting = start is not None
        self.efron = efron
        sid = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
        self.sid = sid
        nstrat = int(sid.max()) + 1 if n else 0
        self.nstrat = nstrat
        dead = event > 0
        startf = None if start is None else np.asarray(start, dtype=float)
        hi = np.zeros(n, dtype=np.int64)
        lo = np.zeros(n, dtype=np.int64)
        koff = np.zeros(nstrat + 1, dtype=np.int64)
        block_time = []
        block_strat = []
        if nstrat > 1:
            so = np.argsort(sid, kind="stable")
            bounds = np.concatenate([[0], np.cumsum(np.bincount(sid, minlength=nstrat))])
        k0 = 0
        for s in range(nstrat):
            rows = so[bounds[s]:bounds[s + 1]] if nstrat > 1 else slice(None)
            st = stop[rows]
            td = st[dead[rows]]
            if len(td) > 1 and bool(np.all(td[1:] >= td[:-1])):  # rows sorted by time
                tk = td[np.concatenate([[True], td[1:] != td[:-1]])]
            else:
                tk = np.unique(td)
            hi[rows] = k0 + np.searchsorted(tk, st, side="right")
            lo[rows] = k0 + (np.searchsorted(tk, startf[rows], side="right") if self.counting else 0)
            block_time.append(tk)
            block_strat.append(np.full(len(tk), s))
            k0 += len(tk)
            koff[s + 1] = k0
        self.K = int(k0)
        self.koff = koff
        self.block_time = np.concatenate(block_time) if block_time else np.zeros(0)
        self.block_strat = np.concatenate(block_strat) if block_strat else np.zeros(0, int)
        self.hi = hi
        self.lo = lo
        self._lo_zero = not bool(lo.any())
        # deaths: their block, position j within the block, block size d
        drows = np.flatnonzero(dead)
        dblk = hi[drows] - 1  # the block at the death's own time
        if len(dblk) > 1 and not bool(np.all(dblk[1:] >= dblk[:-1])):
            o = np.argsort(dblk, kind="stable")  # stable: rows ascending within a block
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
        self._wdead = None
        self._didx = None
        self._build_bins()

    # -- the binning operator ------------------------------------------------------------------
    def _build_bins(self):
        """One CSR pattern: rows = hi bins, then death bins (Efron ties), then lo bins."""
        n, K, ns = self.n, self.K, self.nstrat
        nb = K + ns  # bins of stratum s: koff[s] + s .. koff[s + 1] + s (K_s + 1 bins)
        self._nb = nb
        parts = [_sorted_cols(self.hi + self.sid, nb)]
        self._has_d = bool(self.efron and self.multi.any())
        if self._has_d:
            parts.append((self.drows, np.bincount(self.dblk, minlength=K)))
        if self.counting:
            parts.append(_sorted_cols(self.lo + self.sid, nb))
        idx = np.concatenate([c for c, _ in parts])
        counts = np.concatenate([c for _, c in parts])
        # how each evaluation fills the values: a copy for a part whose rows are in order (rows
        # sorted by time), else a gather by intp indices (a take with int32 ones converts them)
        self._fill = []
        a = 0
        for c, _ in parts:
            ident = len(c) == n and (n == 0 or (c[0] == 0 and c[-1] == n - 1
                                                 and bool(np.all(np.diff(c) == 1))))
            self._fill.append((a, a + len(c), None if ident else np.asarray(c, dtype=np.intp)))
            a += len(c)
        itype = np.int32 if max(len(idx), n) < 2**31 - 1 else np.int64
        self._idx = idx.astype(itype)
        self._indptr = np.concatenate([[0], np.cumsum(counts)]).astype(itype)
        self._rowid = np.repeat(np.arange(len(counts)), counts)
        self._nrows = len(counts)
        # the binning operator, built once: each evaluation only refills its values
        self._M = sp.csr_matrix((np.zeros(len(idx)), self._idx, self._indptr),
                                shape=(self._nrows, n))

    def _revcum(self, B: np.ndarray) -> np.ndarray:
        """Risk-set sums at each block from the hi/lo bins: reverse cumulative sums per stratum."""
        out = np.empty((self.K,) + B.shape[1:])
        koff = self.koff
        for s in range(self.nstrat):
            a, b = koff[s] + s, koff[s + 1] + s + 1
            if b - a <= 1:
                continue
            seg = np.cumsum(B[a:b][::-1], axis=0)[::-1]
            out[koff[s]:koff[s + 1]] = seg[1:]
        return out

    def sums(self, r: np.ndarray, X: np.ndarray):
        """Risk-set sums S0 = sum r, S1 = sum r x at each block, and the tied deaths' D0, D1.

        D0, D1 are None when no Efron correction is needed.
        """
        M = self._M
        data = M.data
        r = np.asarray(r, dtype=float)
        for a, b, ix in self._fill:
            if ix is None:
                data[a:b] = r
            else:
                np.take(r, ix, out=data[a:b], mode="clip")
        X = np.ascontiguousarray(X, dtype=float)
        B1 = M @ X
        B0 = np.bincount(self._rowid, weights=data, minlength=self._nrows)
        nb, K = self._nb, self.K
        S0 = self._revcum(B0[:nb])
        S1 = self._revcum(B1[:nb])
        off = nb
        D0 = D1 = None
        if self._has_d:
            D0, D1 = B0[off:off + K], B1[off:off + K]
            off += K
        if self.counting:
            S0 -= self._revcum(B0[off:off + nb])
            S1 -= self._revcum(B1[off:off + nb])
        return S0, S1, D0, D1

    def bsum(self, values: np.ndarray) -> np.ndarray:
        """Sum of per-death-term values by block (terms are sorted by block)."""
        if len(values) == 0:
            return np.zeros((self.K,) + values.shape[1:])
        out = values[self.dstart].copy()
        if len(self.multi_rows):
            out[self.multi] = np.add.reduceat(values[self.multi_rows], self.multi_starts, axis=0)
        return out

    def _bc(self, v: np.ndarray) -> np.ndarray:
        """Per-block sums of a per-death-term scalar."""
        return np.bincount(self.dblk, weights=v, minlength=self.K)

    # -- sums over the risk set at each block -------------------------------------------------
    def risk_sum(self, q: np.ndarray) -> np.ndarray:
        """Sum of q over the risk set at each block (q: (n,) or (n, p))."""
        q = np.asarray(q, dtype=float)
        if q.ndim == 1:
            return self.sums(q, np.zeros((self.n, 0)))[0]
        return self.sums(np.ones(self.n), q)[1]

    def block_cum_at_rows(self, c: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """For each row, the sum of per-block values c over the blocks the row is at risk in."""
        cc = np.zeros((self.K + 1,) + c.shape[1:])
        np.cumsum(c, axis=0, out=cc[1:])
        res = np.take(cc, self.hi, axis=0, out=out, mode="clip")
        if not self._lo_zero:
            res -= np.take(cc, self.lo, axis=0)
        return res

    def _dead_index(self):
        """Per row: its hi, shifted by K for the deaths; and 1 + its block for the deaths, else 0.

        Indices into tables of K + 1 (+ K) rows that give each death its own block's term
        without a gather-and-scatter over the death rows; built once.
        """
        if self._didx is None:
            hid = self.hi.copy()
            hid[self.drows] += self.K
            midx = np.zeros(self.n, dtype=np.intp)
            midx[self.drows] = self.dblk + 1
            self._didx = (hid, midx)
        return self._didx

    def _cum_at_rows_dead(self, c: np.ndarray, gd: np.ndarray,
                          out: np.ndarray | None = None) -> np.ndarray:
        """:meth:`block_cum_at_rows` of c, minus ``gd`` at the death's own block for death rows."""
        cc = np.zeros((self.K + 1,) + c.shape[1:])
        np.cumsum(c, axis=0, out=cc[1:])
        tab = np.concatenate([cc, cc[1:] - gd])
        out = np.take(tab, self._dead_index()[0], axis=0, out=out, mode="clip")
        if not self._lo_zero:
            out -= np.take(cc, self.lo, axis=0)
        return out

    # -- Efron terms ---------------------------------------------------------------------------
    def terms(self, r: np.ndarray, X: np.ndarray):
        """Per death-term denominators den_j and weighted covariate sums a_j (the third element, formerly r x, is None)."""
        S0, S1, D0, D1 = self.sums(r, X)
        b = self.dblk
        den = S0[b]
        a = S1[b]
        if D0 is not None:
            f = self.frac
            den = den - f * D0[b]
            a = a - f[:, None] * D1[b]
        return den, a, None

    def _den(self, S0, D0):
        den = S0[self.dblk]
        if D0 is not None:
            den = den - self.frac * D0[self.dblk]
        return den

    def loglik_score_info(self, eta: np.ndarray, X: np.ndarray, need_info: bool = True,
                          buffers: tuple[np.ndarray, np.ndarray] | None = None):
        """Partial log-likelihood, score vector and information matrix at linear predictor eta.

        ``buffers``: two float arrays of n for the n-vectors of one evaluation (reused across
        Newton iterations: fresh 10^7-row arrays cost more to fault in than to compute).
        """
        w = self.weights
        rbuf, cbuf = buffers if buffers is not None else (None, None)
        r = np.exp(eta, out=rbuf)
        r *= w
        S0, S1, D0, D1 = self.sums(r, X)
        b = self.dblk
        f = self.frac
        wt = self.wtave[b]
        den = self._den(S0, D0)
        if self._wdead is None:
            self._wdead = np.where(self.is_dead_row, w, 0.0)  # w_i delta_i, all rows
        loglik = float(np.dot(self._wdead, eta) - np.dot(wt, np.log(den)))
        if self._wx is None or self._wx[0] is not X:
            self._wx = (X, self._wdead @ X)
        q = wt / den
        c = self._bc(q)
        u = self._wx[1] - c @ S1
        if D1 is not None:
            g = self._bc(q * f)
            u += g @ D1
        if not need_info:
            return loglik, u, None
        coef = (self.block_cum_at_rows(c, out=cbuf) if D1 is None
                else self._cum_at_rows_dead(c, g, out=cbuf))
        coef *= r
        np.sqrt(np.maximum(coef, 0.0, out=coef), out=coef)
        imat = weighted_gram(X, coef)
        # sum_j v_j a_j a_j' (v_j = wt/den_j^2, a_j = S1 - f_j D1) by block: with the block's
        # 2 x 2 matrix [[V0, -V1], [-V1, V2]] = L L' (V_m = sum_j v_j f_j^m), it is the Gram
        # matrix of the rows l11 S1 + l21 D1 and l22 D1.
        v = q / den
        V0 = self._bc(v)
        l11 = np.sqrt(V0)
        if D1 is None:
            imat -= gram(S1 * l11[:, None])
        else:
            V1 = self._bc(v * f)
            V2 = self._bc(v * f * f)
            safe = np.where(V0 > 0, V0, 1.0)
            l21 = np.where(V0 > 0, -V1 / np.sqrt(safe), 0.0)
            l22 = np.sqrt(np.maximum(V2 - V1 * V1 / safe, 0.0))
            Z = np.empty((2 * self.K, S1.shape[1]))
            np.multiply(S1, l11[:, None], out=Z[:self.K])
            Z[:self.K] += D1 * l21[:, None]
            np.multiply(D1, l22[:, None], out=Z[self.K:])
            imat -= gram(Z)
        return loglik, u, imat

    def score_residuals(self, eta: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Survival's coxscore2 / agscore2 (unweighted score residuals), vectorised."""
        X = np.ascontiguousarray(X, dtype=float)
        return self._score_rows(self._score_parts(eta, X), X, slice(None))

    def score_gram(self, eta: np.ndarray, X: np.ndarray, wt: np.ndarray):
        """``(sum_i wt_i^2 R_i R_i', sum_i wt_i R_i)`` of the score residuals R.

        Assembled block by block of rows: the n x p residual matrix is never formed.
        """
        X = np.ascontiguousarray(X, dtype=float)
        parts = self._score_parts(eta, X)
        n, p = X.shape
        acc = GramAccumulator(p)
        tot = np.zeros(p)
        for sl in row_blocks(n, p):
            rb = self._score_rows(parts, X, sl)
            tot += wt[sl] @ rb
            rb *= wt[sl, None]
            acc.add(rb)
        return acc.result(), tot

    def _score_parts(self, eta: np.ndarray, X: np.ndarray):
        """The per-block tables and per-row coefficients of the score residuals."""
        w = self.weights
        e = np.exp(eta - np.max(eta)) if eta.size else np.exp(eta)
        r = w * e
        S0, S1, D0, D1 = self.sums(r, X)
        b = self.dblk
        f = self.frac
        wt = self.wtave[b]
        den = self._den(S0, D0)
        q = wt / den  # hazard increment of term j
        v = q / den
        H = self._bc(q)
        V0 = self._bc(v)
        m0 = self._bc(1.0 / den)
        nd = np.where(self.ndead > 0, self.ndead, 1.0)[:, None]
        # M_k = sum_j haz_j mean_j; mbar_k = mean over the block's terms of mean_j
        M = S1 * V0[:, None]
        mbar = S1 * m0[:, None]
        if D1 is not None:
            g = self._bc(q * f)
            V1 = self._bc(v * f)
            V2 = self._bc(v * f * f)
            m1 = self._bc(f / den)
            M -= D1 * V1[:, None]
            mbar -= D1 * m1[:, None]
            # (M - Mp)_k = sum_j f_j haz_j mean_j: the deaths' own-block correction
            dM = S1 * V1[:, None] - D1 * V2[:, None]
        mbar /= nd
        # resid_i = x_i alpha_i + e_i (MC_i - delta_i dM_k) - delta_i mbar_k, k = the death's block,
        # alpha_i = delta_i (1 + e_i g_k) - e_i HC_i; MC_i = sum of M over the row's risk blocks.
        # alpha = delta - e (HC - delta g_k)
        alpha = self.block_cum_at_rows(H) if D1 is None else self._cum_at_rows_dead(H, g)
        alpha *= -e
        alpha += self.is_dead_row
        cc = np.zeros((self.K + 1, M.shape[1]))
        np.cumsum(M, axis=0, out=cc[1:])
        hid, midx = self._dead_index()
        if D1 is not None:
            # deaths read cc[hi] - dM[hi - 1]: a second table, chosen per row (K + 1 + (hi - 1))
            tab = np.concatenate([cc, cc[1:] - dM])
            idx = hid
        else:
            tab, idx = cc, self.hi
        # the deaths' - mbar_k: a table read at 0 (a zero row) for the other rows
        mtab = np.zeros((self.K + 1, M.shape[1]))
        mtab[1:] = mbar
        return e, alpha, tab, idx, cc, mtab, midx

    def _score_rows(self, parts, X: np.ndarray, sl: slice) -> np.ndarray:
        """The score residuals of the rows ``sl``."""
        e, alpha, tab, idx, cc, mtab, midx = parts
        resid = np.take(tab, idx[sl], axis=0)
        if not self._lo_zero:
            resid -= np.take(cc, self.lo[sl], axis=0)
        resid *= e[sl, None]
        resid += X[sl] * alpha[sl, None]
        resid -= np.take(mtab, midx[sl], axis=0)
        return resid
