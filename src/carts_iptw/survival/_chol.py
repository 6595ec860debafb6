"""survival's cholesky2 / chsolve2 / chinv2: an LDL' factorisation that zeroes singular pivots.

A pivot smaller than ``toler * max(diag)`` marks the column as redundant (rank deficient); its
solution and its row/column of the inverse are set to zero, as in survival's C code.
"""

from __future__ import annotations

import numpy as np


def cholesky2(m: np.ndarray, toler: float = 1e-9) -> tuple[np.ndarray, int]:
    """Return the packed LDL' factor (L below the diagonal, D on it) and the rank."""
    a = np.array(m, dtype=float)
    n = a.shape[0]
    eps = 0.0
    for i in range(n):
        if a[i, i] > eps:
            eps = a[i, i]
    eps = toler if eps == 0 else eps * toler
    rank = 0
    nonneg = 1
    for i in range(n):
        pivot = a[i, i]
        if not np.isfinite(pivot) or pivot < eps:
            a[i, i] = 0.0
            if pivot < -8 * eps:
                nonneg = -1
            continue
        rank += 1
        if i + 1 < n:
            col = a[i + 1:, i] / pivot
            # a[j, i] = temp; a[j, j] -= temp^2 pivot; a[k, j] -= temp * a[k, i] for k > j
            sub = a[i + 1:, i].copy()
            a[i + 1:, i] = col
            a[i + 1:, i + 1:] -= np.tril(np.outer(sub, col))
    return a, rank * nonneg


def chsolve2(f: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = f.shape[0]
    y = np.array(b, dtype=float)
    for i in range(n):
        y[i] -= np.dot(f[i, :i], y[:i])
    for i in range(n - 1, -1, -1):
        if f[i, i] == 0:
            y[i] = 0.0
        else:
            y[i] = y[i] / f[i, i] - np.dot(f[i + 1:, i], y[i + 1:])
    return y


def chinv2(f: np.ndarray) -> np.ndarray:
    """Inverse of the original matrix from its cholesky2 factor (zero rows/cols if singular)."""
    n = f.shape[0]
    out = np.zeros((n, n))
    eye = np.eye(n)
    for j in range(n):
        out[:, j] = chsolve2(f, eye[:, j])
    for i in range(n):
        if f[i, i] == 0:
            out[i, :] = 0.0
            out[:, i] = 0.0
    return (out + out.T) / 2.0
