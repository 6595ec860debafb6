"""``glm_fit``: stats::glm.fit's iteratively reweighted least squares, replayed step for step.

Each IRLS step solves the weighted least-squares problem with a replica of R's LINPACK
``dqrdc2`` (Householder QR with R's limited column pivoting: a column whose remaining norm falls
below ``tol`` times its original norm is moved to the end and declared aliased) at R's tolerance
``min(1e-7, epsilon / 1000)``. Aliased columns get NA coefficients as in R (and a
:class:`GlmWarning`); they take no part in the covariance matrix, whose rows/columns are NA,
as ``vcov(fit)`` in R.

Stopping rule, step-halving, warnings and the final QR (built with the working weights
computed at the start of the last iteration, which ``summary.glm`` uses for
``cov.unscaled``) are R's.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dgeqrf as _dgeqrf
from scipy.linalg.lapack import dormqr as _dormqr

from ._glm_kernels import LogitBinaryKernel
from ._glm_kernels import kernel as _kernel
from ._validation import as_float_array
from .families import DBL_EPS, Family, GlmWarning, get_family

__all__ = ["GlmControl", "GlmFit", "glm_fit", "qr_dqrdc2", "QR"]


@dataclass(frozen=True)
class GlmControl:
    """IRLS convergence control; R twin ``stats::glm.control(epsilon = 1e-8, maxit = 25)``.

    Parameters
    ----------
    epsilon : float, default 1e-8
        Relative deviance tolerance (R's default).
    maxit : int, default 25
        Maximum number of IRLS iterations (R's default).

    Raises
    ------
    ValueError
        For ``epsilon <= 0`` or a non-positive / non-integer ``maxit`` (R's messages).

    Notes
    -----
    IRLS stops when ``|dev - dev_old| / (|dev| + 0.1) < epsilon`` or after ``maxit`` iterations
    (then R's "glm.fit: algorithm did not converge" warning). R twin version: R 4.2.2 ``stats``.
    """

    epsilon: float = 1e-8
    maxit: int = 25

    def __post_init__(self) -> None:
        """Check the control values as R's ``glm.control`` does."""
        if not (self.epsilon > 0):
            raise ValueError("value of 'epsilon' must be > 0")
        if int(self.maxit) != self.maxit or self.maxit <= 0:
            raise ValueError("maximum number of iterations must be > 0")


class QR:
    """A pivoted QR as R's ``qr()`` stores it (LINPACK layout).

    Attributes: ``qr`` (n x p), ``qraux``, ``pivot`` (0-based) and ``rank``. A factorisation
    made by LAPACK (:func:`qr_dqrdc2`) keeps LAPACK's layout and converts to LINPACK's on the
    first access of ``qr``.
    """

    def __init__(self, qr: np.ndarray | None, qraux: np.ndarray, pivot: np.ndarray, rank: int,
                 lapack: tuple[np.ndarray, np.ndarray] | None = None):
        self._qr = qr
        self.qraux = qraux
        self.pivot = pivot
        self.rank = int(rank)
        self._lapack_cache = lapack

    @property
    def qr(self) -> np.ndarray:
        """The compact factorisation in LINPACK's layout (R's ``qr$qr``)."""
        if self._qr is None:
            a, tau = self._lapack_cache
            n, p = a.shape
            r = min(n, p)
            top = np.triu(a[:r, :])
            qr = a * tau[:p] if len(tau) >= p else a.copy()
            qr[:r, :] = top + np.tril(qr[:r, :], -1)
            self._qr = qr
        return self._qr

    def __repr__(self) -> str:
        """Short description."""
        return f"QR(shape={self.shape}, rank={self.rank})"

    @property
    def shape(self) -> tuple[int, int]:
        """(n, p) of the factorised matrix."""
        src = self._qr if self._qr is not None else self._lapack_cache[0]
        return src.shape

    def R(self) -> np.ndarray:
        """The upper-triangular R factor (p x p)."""
        p = self.shape[1]
        if self._qr is None:
            return np.triu(self._lapack_cache[0][:p, :p])
        return np.triu(self.qr[:p, :p])

    def qty(self, y: np.ndarray) -> np.ndarray:
        """Q' y (R's qr.qty), applying the Householder reflections."""
        return self._reflect(y, min(self.rank, self.shape[0] - 1), "T")

    def qy(self, y: np.ndarray) -> np.ndarray:
        """Q y (R's qr.qy): the reflections applied in reverse order."""
        return self._reflect(y, min(self.rank, self.shape[0] - 1), "N")

    def _reflect(self, y: np.ndarray, k: int, trans: str) -> np.ndarray:
        """Apply the first ``k`` Householder reflections H_j to y.

        ``H_k ... H_1 y`` (``trans = "T"``, Q'y) or ``H_1 ... H_k y`` (``"N"``, Q y).

        One LAPACK ``dormqr`` call: LINPACK's reflection ``I - u u' / u_1`` (``u_1 = qraux[j]``,
        ``u`` below the diagonal of ``qr``) is LAPACK's ``I - tau v v'`` with ``tau = u_1`` and
        ``v = u / u_1`` (``v_1 = 1``), the same reflection; ``qraux[j] == 0`` is the identity
        (``tau = 0``), as LINPACK skips it.
        """
        y = np.array(y, dtype=float, copy=True)
        if k <= 0 or y.shape[0] == 0:
            return y
        a, tau = self._lapack(k)
        c = np.asfortranarray(y.reshape(y.shape[0], -1))
        m = c.shape[1]
        cq, _, info = _dormqr("L", trans, a, tau, c, max(1, m) * 64, overwrite_c=1)
        if info != 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"LAPACK dormqr failed (info = {info})")
        return cq.reshape(y.shape)

    def _lapack(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``k`` reflections in LAPACK's layout (``a``, ``tau``), cached.

        ``v`` below the diagonal of ``a``; derived from the LINPACK layout on first use.
        """
        cached = self._lapack_cache
        if cached is None or cached[0].shape[1] < k:
            qraux = self.qraux
            kk = min(len(qraux), self.qr.shape[1])
            a = np.array(self.qr[:, :kk], dtype=float, order="F", copy=True)
            tau = np.array(qraux[:kk], dtype=float, copy=True)
            r = min(a.shape[0], kk)
            top = np.triu(a[:r, :kk])
            a /= np.where(tau != 0.0, tau, 1.0)
            a[:r, :kk] = top + np.tril(a[:r, :kk], -1)
            cached = (a, tau)
            self._lapack_cache = cached
        a, tau = cached
        return np.asfortranarray(a[:, :k]), tau[:k].copy()

    def coef(self, y: np.ndarray) -> np.ndarray:
        """Least-squares coefficients in pivoted order; aliased entries are 0 (as dqrls)."""
        k = self.rank
        p = self.shape[1]
        b = np.zeros(p)
        if k > 0:
            qty = self.qty(y)
            from scipy.linalg import solve_triangular

            b[:k] = solve_triangular(self.R()[:k, :k], qty[:k], lower=False)
        return b


#: A column's remaining norm relative to its original norm above which LAPACK's unpivoted QR
#: is used as dqrdc2's: far above any tolerance dqrdc2 is called with (1e-7 at most) and the
#: error of dqrdc2's downdated norms (see :func:`qr_dqrdc2`).
_LAPACK_MIN_RATIO = 1e-5


def qr_dqrdc2(x: np.ndarray, tol: float = 1e-7, method: str = "auto") -> QR:
    """R's ``dqrdc2`` (src/appl/dqrdc2.f): Householder QR with limited column pivoting.

    Parameters
    ----------
    x : numpy.ndarray
        The (n, p) matrix.
    tol : float, default 1e-7
        dqrdc2's tolerance: a column whose remaining norm falls below ``tol`` times its
        original norm is moved to the end (aliased).
    method : {"auto", "replay", "lapack"}, default "auto"
        ``"replay"``: dqrdc2 replayed column by column. ``"lapack"`` / ``"auto"``: LAPACK's
        blocked Householder QR (``dgeqrf``) whenever it provably gives dqrdc2's factorisation,
        else the replay.

    Returns
    -------
    QR
        R's LINPACK layout (``qr``, ``qraux``, 0-based ``pivot``, ``rank``).

    Notes
    -----
    dqrdc2 moves a column only when its remaining norm drops below ``tol`` times its original
    norm; when no column moves, its factorisation is the unpivoted Householder QR, with R's
    sign convention (``R[l, l] = -sign(x_ll) * norm``), which is also LAPACK's (``dlarfg``:
    ``beta = -sign(alpha) * norm``). LINPACK stores the reflection ``I - u u' / u_1`` as ``u``
    (below the diagonal) and ``qraux = u_1``; LAPACK the same reflection as ``I - tau v v'``
    with ``v_1 = 1``: ``u = tau * v``, ``qraux = tau``, converted here. The remaining norm of
    column ``l`` at step ``l`` is ``|R[l, l]|``; dqrdc2's downdated estimate of it has a
    relative error of order ``p * eps / ratio`` (``ratio = |R[l, l]| / ||x_l||``), so when every
    ``ratio >= 1e-5`` (and ``tol <= 1e-7``) no column can be moved and the LAPACK result is
    dqrdc2's up to rounding. Otherwise (near-collinear or rank-deficient designs, zero
    columns, ``n <= p``, a reflection LAPACK skips) the replay runs.
    """
    if method not in ("auto", "replay", "lapack"):
        raise ValueError("method must be 'auto', 'replay' or 'lapack'")
    if method != "replay":
        fast = _qr_lapack(x, tol)
        if fast is not None:
            return fast
    return _qr_replay(x, tol)


def _qr_weighted(X: np.ndarray, w: np.ndarray, tol: float, out: np.ndarray | None = None) -> QR:
    """``qr_dqrdc2(X * w[:, None], tol)`` with one n x p temporary (``X`` Fortran-ordered).

    ``out``: a Fortran-ordered float64 array of ``X``'s shape to hold the product (LAPACK's
    workspace; the returned QR may keep it), so that IRLS iterations reuse one buffer.
    """
    if (out is not None and out.shape == X.shape and out.dtype == np.float64
            and out.flags.f_contiguous and out.flags.writeable):
        a = np.multiply(X, w[:, None], out=out)
    else:
        a = X * w[:, None]
    if not a.flags.f_contiguous:
        a = np.asfortranarray(a)
    fast = _qr_lapack(a, tol, overwrite=True)
    if fast is not None:
        return fast
    return _qr_replay(X * w[:, None], tol)


def _qr_lapack(x: np.ndarray, tol: float, overwrite: bool = False) -> QR | None:
    """dqrdc2's factorisation by LAPACK ``dgeqrf``, or None where it could differ.

    ``overwrite=True``: ``x`` (float64, Fortran-ordered) is used as LAPACK's workspace and
    destroyed, also when None is returned.
    """
    n, p = x.shape
    if n <= p or p == 0 or tol > 1e-7:
        return None
    ok = overwrite and x.dtype == np.float64 and x.flags.f_contiguous and x.flags.writeable
    a = x if ok else np.array(x, dtype=float, copy=True, order="F")
    norms = np.sqrt(np.einsum("ij,ij->j", a, a))
    if not np.all(norms > 0) or not np.all(np.isfinite(norms)):
        return None
    qr, tau, _, info = _dgeqrf(a, lwork=max(1, p) * 64, overwrite_a=1)
    if info != 0:  # pragma: no cover - LAPACK argument error
        return None
    d = np.abs(np.diagonal(qr))
    if np.any(tau == 0.0) or np.any(d < _LAPACK_MIN_RATIO * norms):
        return None
    return QR(None, np.asarray(tau, dtype=float).copy(), np.arange(p), p, lapack=(qr, tau))


def _qr_replay(x: np.ndarray, tol: float) -> QR:
    """dqrdc2 replayed column by column (numpy per column)."""
    x = np.array(x, dtype=float, copy=True, order="F")
    n, p = x.shape
    pivot = np.arange(p)
    qraux = np.sqrt(np.sum(x * x, axis=0)) if n > 0 else np.zeros(p)
    work1 = qraux.copy()
    work2 = qraux.copy()
    work2[work2 == 0.0] = 1.0
    lup = min(n, p)
    k = p + 1  # 1-based as Fortran
    for l in range(lup):  # 0-based l; Fortran l = l + 1
        while (l + 1) < k and qraux[l] < work2[l] * tol:
            # move column l to the end
            order = np.r_[np.arange(l), np.arange(l + 1, p), l]
            x = x[:, order]
            pivot = pivot[order]
            qraux = qraux[order]
            work1 = work1[order]
            work2 = work2[order]
            k -= 1
        if l + 1 == n:
            continue
        col = x[l:, l]
        nrmxl = np.sqrt(np.dot(col, col))
        if nrmxl == 0.0:
            continue
        if x[l, l] != 0.0:
            nrmxl = np.copysign(nrmxl, x[l, l])
        x[l:, l] = x[l:, l] / nrmxl
        x[l, l] = 1.0 + x[l, l]
        if l + 1 < p:
            v = x[l:, l]
            t = -(v @ x[l:, l + 1:]) / x[l, l]
            x[l:, l + 1:] += np.outer(v, t)
            qj = qraux[l + 1:]
            nz = qj != 0.0
            with np.errstate(divide="ignore", invalid="ignore"):
                tt = np.maximum(1.0 - (np.abs(x[l, l + 1:]) / np.where(nz, qj, 1.0)) ** 2, 0.0)
            small = nz & (np.abs(tt) < 1e-6)
            upd = nz & ~small
            qj = qj.copy()
            qj[upd] = qj[upd] * np.sqrt(tt[upd])
            if small.any():
                idx = np.nonzero(small)[0]
                rest = x[l + 1:, l + 1:][:, idx]
                qj[idx] = np.sqrt(np.sum(rest * rest, axis=0))
                w1 = work1[l + 1:]
                w1[idx] = qj[idx]
                work1[l + 1:] = w1
            qraux[l + 1:] = qj
        qraux[l] = x[l, l]
        x[l, l] = -nrmxl
    rank = min(k - 1, n)
    return QR(x, qraux, pivot, int(rank))


@dataclass
class GlmFit:
    """What ``stats::glm.fit`` returns (names in snake_case)."""

    coef: np.ndarray  # NaN for aliased columns
    fitted: np.ndarray  # mu
    linear_predictor: np.ndarray  # eta (offset included)
    working_weights: np.ndarray  # R's fit$weights (w^2 of the last iteration)
    working_residuals: np.ndarray
    prior_weights: np.ndarray
    y: np.ndarray
    iter: int
    converged: bool
    boundary: bool
    deviance: float
    null_deviance: float
    aic: float
    rank: int
    df_residual: int
    df_null: int
    cov_unscaled: np.ndarray  # p x p, NaN rows/columns for aliased coefficients
    dispersion: float
    aliased: np.ndarray
    qr: QR | None
    family: Family
    offset: np.ndarray | None


def _check_array(a, name: str, n: int) -> np.ndarray:
    a = as_float_array(a, name)
    if a.ndim != 1 or len(a) != n:
        raise ValueError(f"{name} must be a vector of length {n} (one value per row)")
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} missing or non-finite value(s)")
    return a


def glm_fit(
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    family: str | Family = "binomial",
    control: GlmControl | None = None,
    intercept: bool = True,
    mustart: np.ndarray | None = None,
    column_names: list[str] | None = None,
    describe=None,
    x_fortran: np.ndarray | None = None,
) -> GlmFit:
    """Fit a GLM by IRLS exactly as R's ``stats::glm.fit`` does.

    Parameters
    ----------
    X : numpy.ndarray
        Model matrix (n, p), including the intercept column if any.
    y : numpy.ndarray
        Response.
    weights : numpy.ndarray, optional
        Prior weights (default 1).
    offset : numpy.ndarray, optional
        Offset (default 0).
    family : str or Family, default "binomial"
        The family.
    control : GlmControl, optional
        R's ``glm.control``.
    intercept : bool, default True
        Whether the model has an intercept (for the null deviance).
    mustart : numpy.ndarray, optional
        Starting means (default: the family's).
    column_names : list of str, optional
        Names of the columns in messages.
    describe : callable, optional
        Takes a list of column names and formats them (e.g. ``ModelFrame.describe``) instead of
        ``column_names``, so that names built from factor levels never reach a message.
    x_fortran : numpy.ndarray, optional
        ``X`` itself in Fortran order (e.g. :meth:`FrameCache.fortran
        <carts_iptw.formula.cache.FrameCache.fortran>`), used instead of a fresh copy.

    Returns
    -------
    GlmFit
        What ``stats::glm.fit`` returns (names in snake_case): coefficients (NaN for aliased
        columns), fitted values, linear predictor, working weights and residuals, deviances,
        AIC, rank, residual and null df, ``cov_unscaled``, dispersion, QR and convergence.

    Raises
    ------
    ValueError
        Arrays of the wrong length or with missing / non-finite values, and R's ``glm.fit``
        errors (with R's messages).

    Notes
    -----
    R twin: ``glm.fit(x, y, weights, offset = offset, family = family, control = control,
    intercept = intercept)`` (R 4.2.2). Start: ``eta = linkfun(mustart)`` with the family's
    mustart (binomial: ``(w y + 0.5) / (w + 1)``); each step: ``z = eta - offset + (y - mu) /
    mu.eta``, ``w = sqrt(prior * mu.eta^2 / V(mu))``, weighted least squares by pivoted QR
    (tolerance ``min(1e-7, epsilon/1000)``); stop when ``|dev - devold| / (|dev| + 0.1) <
    epsilon``; halve the step on a non-finite deviance or invalid eta/mu (McCullagh & Nelder
    1989, §2.5).

    The null deviance is glm.fit's: deviance at the weighted mean of y (with an intercept) or
    at ``linkinv(offset)`` (without); ``glm()`` refits it when there is an offset, as R does.
    Warnings are :class:`~carts_iptw.families.GlmWarning` with R's messages. Aliased columns get
    NaN coefficients (R: NA).

    References
    ----------
    McCullagh P, Nelder JA (1989) Generalized Linear Models, 2nd ed., Chapman & Hall; R Core
    Team, ``?glm.fit``.
    """
    fam = get_family(family)
    control = control or GlmControl()
    X = as_float_array(X, "X")
    if X.ndim != 2:
        raise ValueError("X must be a 2-d matrix")
    nobs, nvars = X.shape
    y = _check_array(y, "y (response)", nobs)
    if not np.all(np.isfinite(X)):
        bad = ~np.isfinite(X)
        cols = ""
        if column_names is not None and len(column_names) == nvars:
            cols = " in column(s) " + (describe or ", ".join)(
                [column_names[j] for j in np.flatnonzero(bad.any(axis=0))])
        raise ValueError(f"X has {int(bad.sum())} missing or non-finite value(s){cols}")
    weights = np.ones(nobs) if weights is None else _check_array(weights, "weights", nobs)
    if np.any(weights < 0):
        raise ValueError(f"negative weights not allowed ({int((weights < 0).sum())} value(s))")
    if nobs and not np.any(weights > 0):
        raise ValueError("weights are all zero: no observation is informative")
    offset_arr = np.zeros(nobs) if offset is None else _check_array(offset, "offset", nobs)

    try:
        y, n_binom, mustart_init = fam.initialize(y, weights)
    except ValueError as exc:  # R's initialize stops; say which argument is at fault
        raise ValueError(f"y (response): {exc}") from None
    if mustart is None:
        mustart = mustart_init
    linkinv, dev_resids, mu_eta, variance = fam.linkinv, fam.dev_resids, fam.mu_eta, fam.variance
    # the family's arithmetic, fused for a 0/1 logistic model (the same values)
    kern = _kernel(fam, y, weights)
    tol = min(1e-7, control.epsilon / 1000)
    wpos = weights > 0
    wpos_all = bool(wpos.all())

    qr: QR | None = None
    if nvars == 0:
        eta = offset_arr.copy()
        mu = linkinv(eta)
        if not fam.validmu(mu):
            raise ValueError("invalid fitted means in empty model")
        dev = float(np.sum(dev_resids(y, mu, weights)))
        w = np.sqrt(weights * mu_eta(eta) ** 2 / variance(mu))
        good = np.ones(nobs, dtype=bool)
        boundary = conv = True
        coef = np.zeros(0)
        it = 0
        rank = 0
    else:
        coefold = None
        Xf = x_fortran if (x_fortran is not None and x_fortran.shape == X.shape
                           and x_fortran.dtype == np.float64
                           and x_fortran.flags.f_contiguous) else np.asfortranarray(X)
        # one n x p buffer for sqrt(w) X: an iteration's QR is needed only until the next
        # iteration factorises (the fit keeps the last one)
        buf = None
        eta = fam.linkfun(mustart)
        mu = kern.linkinv(eta)
        if not kern.valid(eta, mu):
            raise ValueError("cannot find valid starting values: please specify some")
        devold = kern.deviance(mu)
        boundary = conv = False
        start = np.zeros(nvars)
        coef = start
        it = 0
        for it in range(1, control.maxit + 1):
            var = kern.variance(mu)
            varmu = var if wpos_all else var[wpos]
            if np.any(np.isnan(varmu)):
                raise ValueError("NAs in V(mu)")
            if np.any(varmu == 0):
                raise ValueError("0s in V(mu)")
            mu_eta_val = kern.mu_eta(eta)
            if np.any(np.isnan(mu_eta_val if wpos_all else mu_eta_val[wpos])):
                raise ValueError("NAs in d(mu)/d(eta)")
            good = mu_eta_val != 0
            if not wpos_all:
                good &= wpos
            good_all = bool(good.all())
            if not good.any():
                conv = False
                warnings.warn(f"no observations informative at iteration {it}", GlmWarning,
                              stacklevel=2)
                break
            if good_all:
                # z = (eta - offset) + (y - mu) / mu.eta; w = sqrt(prior * mu.eta^2 / V(mu)),
                # the same operations in place
                z = np.subtract(eta, offset_arr)
                t = np.subtract(y, mu)
                np.divide(t, mu_eta_val, out=t)
                np.add(z, t, out=z)
                w = np.square(mu_eta_val, out=t)
                np.multiply(weights, w, out=w)
                np.divide(w, var, out=w)
                np.sqrt(w, out=w)
                if buf is None:
                    buf = np.empty(Xf.shape, dtype=np.float64, order="F")
                qr = None  # the previous factorisation lives in buf: overwritten now
                qr = _qr_weighted(Xf, w, tol, out=buf)
                np.multiply(z, w, out=z)
                b = qr.coef(z)
            else:
                z = (eta - offset_arr)[good] + (y - mu)[good] / mu_eta_val[good]
                w = np.sqrt(weights[good] * mu_eta_val[good] ** 2 / var[good])
                qr = _qr_weighted(Xf[good], w, tol)
                b = qr.coef(z * w)
            if not np.all(np.isfinite(b)):
                conv = False
                warnings.warn(f"non-finite coefficients at iteration {it}", GlmWarning,
                              stacklevel=2)
                break
            if nobs < qr.rank:
                raise ValueError(f"X matrix has rank {qr.rank}, but only {nobs} observations")
            start = np.empty(nvars)
            start[qr.pivot] = b
            eta = X @ start
            eta = eta + offset_arr
            mu = kern.linkinv(eta)
            dev = kern.deviance(mu)
            boundary = False
            if not np.isfinite(dev):
                if coefold is None:
                    raise ValueError("no valid set of coefficients has been found: please "
                                     "supply starting values")
                warnings.warn("step size truncated due to divergence", GlmWarning, stacklevel=2)
                ii = 1
                while not np.isfinite(dev):
                    if ii > control.maxit:
                        raise ValueError("inner loop 1; cannot correct step size")
                    ii += 1
                    start = (start + coefold) / 2
                    eta = X @ start + offset_arr
                    mu = kern.linkinv(eta)
                    dev = kern.deviance(mu)
                boundary = True
            if not kern.valid(eta, mu):
                if coefold is None:
                    raise ValueError("no valid set of coefficients has been found: please "
                                     "supply starting values")
                warnings.warn("step size truncated: out of bounds", GlmWarning, stacklevel=2)
                ii = 1
                while not kern.valid(eta, mu):
                    if ii > control.maxit:
                        raise ValueError("inner loop 2; cannot correct step size")
                    ii += 1
                    start = (start + coefold) / 2
                    eta = X @ start + offset_arr
                    mu = kern.linkinv(eta)
                boundary = True
                dev = kern.deviance(mu)
            if abs(dev - devold) / (0.1 + abs(dev)) < control.epsilon:
                conv = True
                coef = start
                break
            devold = dev
            coef = coefold = start
        del buf
        if not conv:
            warnings.warn("glm.fit: algorithm did not converge", GlmWarning, stacklevel=2)
        if boundary:
            warnings.warn("glm.fit: algorithm stopped at boundary value", GlmWarning,
                          stacklevel=2)
        eps = 10 * DBL_EPS
        if fam.family == "binomial" and (np.any(mu > 1 - eps) or np.any(mu < eps)):
            warnings.warn("glm.fit: fitted probabilities numerically 0 or 1 occurred",
                          GlmWarning, stacklevel=2)
        if fam.family == "poisson" and np.any(mu < eps):
            warnings.warn("glm.fit: fitted rates numerically 0 occurred", GlmWarning,
                          stacklevel=2)
        rank = qr.rank if qr is not None else 0
        coef = np.array(coef, dtype=float, copy=True)
        if qr is not None and rank < nvars:
            coef[qr.pivot[rank:]] = np.nan
            names = column_names or [f"x{j + 1}" for j in range(nvars)]
            dropped = [names[j] for j in qr.pivot[rank:]]
            warnings.warn(
                f"{nvars - rank} coefficient(s) not defined because of singularities: "
                f"{(describe or ', '.join)(dropped)}", GlmWarning, stacklevel=2,
            )

    residuals = np.subtract(y, mu)
    np.divide(residuals, kern.mu_eta(eta) if nvars else mu_eta(eta), out=residuals)
    if good.all():
        wt = np.square(w)
    else:
        wt = np.zeros(nobs)
        wt[good] = w ** 2
    wtdmu = np.sum(weights * y) / np.sum(weights) if intercept else linkinv(offset_arr)
    if intercept and isinstance(kern, LogitBinaryKernel):
        nulldev = kern.deviance_const(float(wtdmu))
    else:
        nulldev = float(np.sum(dev_resids(y, wtdmu, weights)))
    n_ok = nobs - int(np.sum(weights == 0))
    nulldf = n_ok - int(intercept)
    resdf = n_ok - rank
    aic_model = fam.aic(y, n_binom, mu, weights, dev) + 2 * rank

    # summary.glm: dispersion and cov.unscaled from the final QR
    if fam.fixed_dispersion:
        dispersion = 1.0
    elif resdf > 0:
        pos = wt > 0
        r2 = np.square(residuals)
        np.multiply(wt, r2, out=r2)
        if np.any(wt == 0):
            warnings.warn("observations with zero weight not used for calculating dispersion",
                          GlmWarning, stacklevel=2)
        if not pos.all():
            r2 = r2[pos]
        dispersion = float(np.sum(r2) / resdf)
    else:
        dispersion = float("nan")
    cov = np.full((nvars, nvars), np.nan)
    if rank > 0 and qr is not None:
        Rk = qr.R()[:rank, :rank]
        from scipy.linalg import solve_triangular

        Rinv = solve_triangular(Rk, np.eye(rank), lower=False)
        cu = Rinv @ Rinv.T
        idx = qr.pivot[:rank]
        cov[np.ix_(idx, idx)] = cu
    aliased = np.isnan(coef) if nvars else np.zeros(0, dtype=bool)
    return GlmFit(
        coef=coef, fitted=mu, linear_predictor=eta, working_weights=wt,
        working_residuals=residuals, prior_weights=weights, y=y, iter=int(it),
        converged=bool(conv), boundary=bool(boundary), deviance=float(dev),
        null_deviance=nulldev, aic=float(aic_model), rank=int(rank), df_residual=int(resdf),
        df_null=int(nulldf), cov_unscaled=cov, dispersion=dispersion, aliased=aliased, qr=qr,
        family=fam, offset=None if offset is None else offset_arr,
    )
