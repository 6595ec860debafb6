"""Shared fixtures of the parity cases: data sets with IPT weights attached as a column.

The weights are data here (both sides receive the same column), so these fixtures need only
be deterministic, not validated: the weighting functions have parity cases of their own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def ate_weights(treat: np.ndarray, X: np.ndarray) -> np.ndarray:
    """ATE weights from a logistic propensity model fitted by Newton-Raphson (fixture only)."""
    beta = np.zeros(X.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-X @ beta))
        step = np.linalg.solve(X.T @ (X * (p * (1 - p))[:, None]), X.T @ (treat - p))
        beta += step
        if np.max(np.abs(step)) < 1e-12:
            break
    p = 1 / (1 + np.exp(-X @ beta))
    return np.where(treat == 1, 1 / p, 1 / (1 - p))


def design_matrix(df: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """Intercept plus the columns, factors as treatment-coded dummies (fixture only)."""
    X = pd.get_dummies(df[cols], drop_first=True).astype(float).to_numpy()
    return np.column_stack([np.ones(len(df)), X])
