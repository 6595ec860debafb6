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
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1.0
    Z = (X / scale) * (2 * y - 1)[:, None]
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


def check_separation(formula: str, data, weights=None) -> SeparationResult:
    """Raise :class:`SeparationError` naming the covariates if the outcome is separated.

    A ``ValueError``, when the outcome of ``formula`` is (quasi-)separated in ``data`` (rows
    with zero weight ignored); else return the result.
    """
    from carts_iptw.formula import model_frame

    mf = model_frame(formula, data)
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
