"""Detection of complete and quasi-complete separation in binary regression.

R prints "glm.fit: fitted probabilities numerically 0 or 1 occurred" and reports huge
coefficients; here separation is detected before fitting by the linear program of Konis
(2007, *Linear programming algorithms for detecting separated data in binary logistic
regression models*, DPhil thesis, Oxford; the method of R's ``detectseparation`` package):
maximise ``sum_i s_i x_i' b`` subject to ``s_i x_i' b >= 0`` for every row with positive
weight and ``-1 <= b_j <= 1`` (``s_i = 2 y_i - 1``, columns scaled to unit max).  A positive
optimum means some direction ``b`` separates (or quasi-separates) the outcomes, so the MLE is
infinite along it; the covariates with ``b_j != 0`` are named.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog


@dataclass
class SeparationResult:
    """Result of :func:`detect_separation`.

    The verdict, whether separation is complete, the coefficients that go to infinity and the
    separating direction.
    """

    separated: bool
    complete: bool
    infinite: list[str]  # coefficient names along the separating direction
    direction: dict[str, float]

    def __bool__(self) -> bool:
        """True when the data are (quasi-)separated."""
        return self.separated


def detect_separation(X: np.ndarray, y: np.ndarray, column_names: list[str],
                      weights: np.ndarray | None = None, tol: float = 1e-7) -> SeparationResult:
    """Linear-programming check for (quasi-)separation; twin of ``detectseparation::detect_separation``.

    Parameters
    ----------
    X : numpy.ndarray
        The model matrix (with the intercept column, if any).
    y : numpy.ndarray
        The 0/1 outcome.
    column_names : list of str
        R's coefficient names.
    weights : numpy.ndarray, optional
        Rows with zero weight are ignored.
    tol : float, default 1e-7
        The threshold on the optimum and on ``|b_j|``.

    Returns
    -------
    SeparationResult
        ``.separated`` (truthy), ``.complete`` (complete vs quasi-complete), ``.infinite``
        (names of the coefficients whose MLE is +/-Inf) and ``.direction``.

    Notes
    -----
    The R twin's verdict and which coefficients are infinite. The linear program of the module
    docstring (Konis 2007) is solved with scipy's HiGHS. R twin version: none pinned
    (detectseparation is not installed here; the method of Konis 2007 is followed).

    References
    ----------
    Albert A, Anderson JA (1984) Biometrika 71:1-10; Konis K (2007) DPhil thesis, Oxford;
    Kosmidis I, Schumacher D, detectseparation R package ``?detect_separation``.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = np.ones(len(y), dtype=bool) if weights is None else np.asarray(weights) > 0
    X, y = X[keep], y[keep]
    if not np.all((y == 0) | (y == 1)):
        return SeparationResult(False, False, [], {})
    Z = _scaled_signed(X, y)
    p = Z.shape[1]
    res = linprog(-Z.sum(axis=0), A_ub=-Z, b_ub=np.zeros(len(y)), bounds=[(-1, 1)] * p,
                  method="highs")
    if res.status != 0 or -res.fun <= tol * max(1.0, len(y)) ** 0.5:
        return SeparationResult(False, False, [], {})
    b = np.where(np.abs(res.x) > 1e-6, res.x, 0.0)
    margins = Z @ b
    complete = bool(np.all(margins > 1e-9))
    names = [n for n, v in zip(column_names, b, strict=True) if v != 0 and n != "(Intercept)"]
    if not names:
        names = [n for n, v in zip(column_names, b, strict=True) if v != 0]
    return SeparationResult(True, complete, names,
                            {n: float(v) for n, v in zip(column_names, b, strict=True) if v != 0})


class SeparationError(ValueError):
    """The outcome is (quasi-)separated: maximum-likelihood estimates are infinite.

    ``.result`` is the :class:`SeparationResult` (which coefficients, complete or quasi-complete).
    """

    def __init__(self, message: str, result: SeparationResult):
        super().__init__(message)
        self.result = result


def check_separation(formula: str, data, weights=None, frames=None) -> SeparationResult:
    """Raise :class:`SeparationError` naming the covariates if the outcome is separated.

    A ``ValueError``, when the outcome of ``formula`` is (quasi-)separated in ``data`` (rows
    with zero weight ignored); else return the result. ``frames``: a
    :class:`~carts_iptw.formula.cache.FrameCache` to take the model frame from.
    """
    from carts_iptw.formula import model_frame

    mf = model_frame(formula, data) if frames is None else frames.model_frame(formula, data)
    if mf.y is None:
        raise ValueError("formula needs a response")
    r = detect_separation(mf.X, mf.y, list(mf.column_names), weights)
    if r.separated:
        kind = "complete" if r.complete else "quasi-complete"
        raise SeparationError(
            f"{kind} separation of '{mf.response_name}' by {mf.describe(r.infinite)}: the "
            "maximum-likelihood estimates are infinite (R: 'fitted probabilities numerically 0 "
            "or 1 occurred'); use Firth's penalised likelihood (logistf / firth=True) or "
            "remove/coarsen these covariates", r)
    return r


def _scaled_signed(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The LP's matrix ``Z = (X / max|X|) * (2 y - 1)``, as :func:`detect_separation` builds it."""
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1.0
    return (X / scale) * (2 * y - 1)[:, None]


def _scaled_signed_f(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`_scaled_signed`'s matrix, Fortran-ordered, built column by column.

    The same numbers (``x / scale`` negated where ``y = 0``: a product by -1 or 1 is exact)
    with one n x p array and contiguous columns.
    """
    n, p = X.shape
    if not X.flags.f_contiguous:
        X = np.asfortranarray(X)  # contiguous columns
    Z = np.empty((n, p), order="F")
    neg = y == 0
    for j in range(p):
        col = Z[:, j]
        np.abs(X[:, j], out=col)
        m = col.max() if n else 0.0
        np.divide(X[:, j], m if m != 0 else 1.0, out=col)
        np.negative(col, out=col, where=neg)
    return Z


def _residual_bound(Z: np.ndarray, lam: np.ndarray, dtype) -> float:
    """An upper bound on ``||Z' lam||_1`` (exact arithmetic on the given doubles).

    Each column's dot product is a 1-d ``numpy.sum`` without ``axis`` in ``dtype``, which numpy
    documents as pairwise summation (blocks of at most 128 terms with 8 accumulators, then
    halving): its rounding error is at most ``(log2(n) + 24) * eps * sum|z_i lam_i|``,
    products included.
    """
    n, p = Z.shape
    eps = float(np.finfo(dtype).eps)
    lam_d = lam.astype(dtype, copy=False)
    total = 0.0
    if np.dtype(dtype) == np.float64 and Z.dtype == np.float64 and Z.flags.f_contiguous:
        t = np.empty(n)  # contiguous columns: no copy, one buffer
        for j in range(p):
            np.multiply(Z[:, j], lam_d, out=t)
            tot = abs(float(t.sum()))
            np.abs(t, out=t)
            total += tot + (np.log2(max(n, 2)) + 24) * eps * float(t.sum())
        return total
    for j in range(p):
        t = np.ascontiguousarray(Z[:, j]).astype(dtype, copy=False) * lam_d
        total += abs(float(t.sum())) + (np.log2(max(n, 2)) + 24) * eps * float(np.abs(t).sum())
    return total


def separation_excluded(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None,
                        score_weights: np.ndarray, tol: float = 1e-7) -> bool:
    """True when a certificate proves that :func:`detect_separation` finds no separation.

    Parameters
    ----------
    X : numpy.ndarray
        The model matrix, as given to :func:`detect_separation`.
    y : numpy.ndarray
        The 0/1 outcome.
    weights : numpy.ndarray, optional
        Rows with zero weight are ignored (as :func:`detect_separation`).
    score_weights : numpy.ndarray
        Per-row ``lambda_i = w_i |y_i - mu_i| mu.eta_i / V(mu_i)`` of a converged binomial fit:
        the score is ``sum_i lambda_i s_i x_i`` (``s_i = 2 y_i - 1``), about zero at the MLE.
    tol : float, default 1e-7
        :func:`detect_separation`'s threshold.

    Returns
    -------
    bool
        True: the linear program's optimum is provably below its threshold (no separation);
        False: not proven (run the linear program).

    Notes
    -----
    Stiemke's alternative: either some ``b`` has ``Z b >= 0``, ``Z b != 0`` (separation) or some
    ``lambda > 0`` has ``Z' lambda = 0``. Quantitatively, for every ``b`` feasible in the LP
    (``Z b >= 0``, ``|b_j| <= 1``) and any ``lambda > 0``::

        sum_i (Z b)_i <= (lambda' Z b) / min(lambda) <= ||Z' lambda||_1 / min(lambda).

    The fit's score weights are refined once so that ``Z' lambda`` vanishes up to rounding
    (``lambda_i (1 + z_i' c)`` with ``(Z' diag(lambda) Z) c = -Z' lambda``); ``||Z' lambda||_1``
    is bounded from above by pairwise sums with their rounding-error bound (in double, then in
    long double where that is wider), and the bound is required to be below a tenth of the LP's
    threshold ``tol * sqrt(n)``. A fit with fitted probabilities
    near 0 or 1 (tiny ``lambda_i``), as separation produces, is never certified: then the LP
    decides. No R twin (an exact shortcut for the LP of Konis 2007).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    lam = np.asarray(score_weights, dtype=float)
    keep = np.ones(len(y), dtype=bool) if weights is None else np.asarray(weights) > 0
    if not keep.all():
        X, y, lam = X[keep], y[keep], lam[keep]
    n = len(y)
    if n == 0 or not np.all((y == 0) | (y == 1)):
        return n > 0  # detect_separation: not a 0/1 outcome -> not separated
    if not (np.all(np.isfinite(lam)) and np.all(lam > 0)):
        return False
    lam = lam / lam.max()
    # Z = (X / scale) * s is not formed: the refinement c only proposes a lambda (any
    # rounding in it is harmless), and the bound below multiplies the LP's own doubles
    # x_ij / scale_j by s_i lambda_i (a sign flip is exact: the products of Z' lambda)
    Xf = X if X.flags.f_contiguous else np.asfortranarray(X)
    p = Xf.shape[1]
    scale = np.array([max(float(Xf[:, j].max()), -float(Xf[:, j].min())) for j in range(p)])
    scale[scale == 0] = 1.0  # as _scaled_signed (a NaN column: no certificate below)
    if not np.all(np.isfinite(scale)):
        return False
    sgn = np.where(y == 0, -1.0, 1.0)
    G = (Xf * lam[:, None]).T @ Xf / np.outer(scale, scale)
    try:
        c = np.linalg.lstsq(G, -((Xf.T @ (sgn * lam)) / scale), rcond=None)[0]
    except np.linalg.LinAlgError:  # pragma: no cover - non-finite input
        return False
    lam2 = lam * (1 + sgn * (Xf @ (c / scale)))
    if not np.all(lam2 > 0):
        lam2 = lam
    limit = 0.1 * tol * max(1.0, n) ** 0.5 * float(lam2.min())
    if _residual_bound_scaled(Xf, scale, sgn * lam2) <= limit:
        return True
    if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps:
        return _residual_bound(_scaled_signed_f(Xf, y), lam2, np.longdouble) <= limit
    return False


def _residual_bound_scaled(Xf: np.ndarray, scale: np.ndarray, slam: np.ndarray) -> float:
    """:func:`_residual_bound` in double of ``Z = (X / scale) * s`` and ``lambda``.

    Computed as ``(x_ij / scale_j) * (s_i lambda_i)`` column by column (``slam = s * lambda``):
    the same products as ``Z_ij * lambda_i``, so the same sums and the same bound.
    """
    n, p = Xf.shape
    eps = float(np.finfo(np.float64).eps)
    t = np.empty(n)
    total = 0.0
    for j in range(p):
        np.divide(Xf[:, j], scale[j], out=t)
        np.multiply(t, slam, out=t)
        tot = abs(float(t.sum()))
        np.abs(t, out=t)
        total += tot + (np.log2(max(n, 2)) + 24) * eps * float(t.sum())
    return total


def check_separation_after_fit(formula: str, data, weights, fit,
                               frames=None) -> SeparationResult | None:
    """:func:`check_separation`, skipped when the converged fit certifies there is none.

    ``fit`` is the :func:`~carts_iptw.glm` result of ``formula`` on ``data`` with these prior
    weights (a binomial family). Its score weights prove the absence of separation when
    :func:`separation_excluded` says so (the LP's verdict would be "not separated"); otherwise
    the LP runs and raises :class:`SeparationError` as :func:`check_separation`. Returns None
    when certified.
    """
    g = fit.fit
    if g.converged and g.rank == g.coef.shape[0]:
        mu = np.asarray(g.fitted, dtype=float)
        eta = np.asarray(g.linear_predictor, dtype=float)
        fam = g.family
        with np.errstate(all="ignore"):
            if fam.link.name == "logit":
                # mu.eta(eta) / V(mu) = 1 for the canonical link: any lambda > 0 gives a valid
                # certificate, so this one need not round as the two functions would
                lam = np.abs(g.y - mu)
                lam *= np.asarray(g.prior_weights, dtype=float)
            else:
                lam = (np.asarray(g.prior_weights, dtype=float) * np.abs(g.y - mu)
                       * np.abs(fam.mu_eta(eta)) / fam.variance(mu))
        X = fit.X if frames is None else frames.fortran(fit.X)
        if separation_excluded(X, g.y, weights, lam):
            return None
    return check_separation(formula, data, weights=weights, frames=frames)
