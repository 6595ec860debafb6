"""Step curves thinned to what a reader can see keep every column's extremes and end points."""

import numpy as np
import pandas as pd

from carts_iptw.report.figures import thin_steps


def _extremes(col, y):
    return pd.DataFrame({"c": col, "y": y}).groupby("c")["y"].agg(["min", "max", "first", "last"])


def test_small_curves_are_not_thinned():
    x = np.linspace(0, 10, 50)
    assert np.array_equal(thin_steps(x, [np.exp(-x)]), np.arange(50))


def test_thinned_curve_keeps_each_columns_extremes_and_ends():
    rng = np.random.default_rng(3)
    n = 200_000
    x = np.sort(rng.uniform(0, 60, n))
    surv = np.cumprod(1 - rng.uniform(0, 1e-5, n))
    lower = surv * 0.9 + rng.normal(0, 1e-3, n)  # not monotone: min and max both matter
    keep = thin_steps(x, [surv, lower], columns=500)
    assert len(keep) < 4 * 500 + 10
    assert keep[0] == 0 and keep[-1] == n - 1 and np.all(np.diff(keep) > 0)
    col = np.minimum(((x - x[0]) / (x[-1] - x[0]) * 500).astype(int), 499)
    for y in (surv, lower):
        full = _extremes(col, y)
        thin = _extremes(col[keep], y[keep])
        pd.testing.assert_frame_equal(full, thin)
