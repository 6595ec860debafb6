"""Contrast matrices: R's ``contr.treatment`` (unordered factors) and ``contr.poly`` (ordered)."""

from __future__ import annotations

import numpy as np

__all__ = ["contr_poly", "poly_suffixes"]


def contr_poly(n: int) -> np.ndarray:
    """R's ``contr.poly(n)`` (n x (n-1)).

    Orthonormal polynomial contrasts, built as R's ``make.poly`` does (LINPACK QR of the centred
    Vandermonde matrix, Q times diag(R), columns scaled to unit length).
    """
    from carts_iptw.irls import qr_dqrdc2

    if n < 2:
        raise ValueError(f"contrasts not defined for {n - 1} degrees of freedom")
    if n > 95:
        raise ValueError("orthogonal polynomials cannot be represented accurately enough for "
                         f"{n - 1} degrees of freedom")
    scores = np.arange(1, n + 1, dtype=float)
    y = scores - scores.mean()
    X = np.power.outer(y, np.arange(n, dtype=float))
    qr = qr_dqrdc2(X, 1e-7)
    z = np.diag(np.diag(qr.qr))
    raw = qr.qy(z)
    Z = raw / np.sqrt(np.sum(raw * raw, axis=0))
    return Z[:, 1:]


def poly_suffixes(n: int) -> list[str]:
    """Column suffixes of ``contr.poly(n)``: .L, .Q, .C, ^4, ^5, ..."""
    out = [f"^{k}" for k in range(1, n)]
    for i, s in enumerate((".L", ".Q", ".C")[: n - 1]):
        out[i] = s
    return out
