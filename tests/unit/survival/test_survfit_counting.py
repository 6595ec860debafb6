"""survfit on (start, stop] data and the id / cluster-grouped robust variance (no R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carts_iptw.survival import survfit, survfit_km


def _split(n=40, seed=1):
    rng = np.random.default_rng(seed)
    t = np.ceil(rng.exponential(1, n) * 8) + 1
    e = (rng.random(n) < 0.7).astype(int)
    w = rng.uniform(0.4, 2.5, n)
    cut = np.floor(t / 2)
    a = pd.DataFrame({"id": np.arange(n), "start": 0.0, "stop": cut, "ev": 0, "w": w})
    b = pd.DataFrame({"id": np.arange(n), "start": cut, "stop": t, "ev": e, "w": w})
    return pd.concat([a, b], ignore_index=True), pd.DataFrame({"time": t, "ev": e, "w": w})


def test_split_data_with_id_equals_unsplit_curve():
    """Splitting follow-up changes nothing: same curve, counts and (id-grouped) robust SE."""
    sp, whole = _split()
    a = survfit("Surv(start, stop, ev) ~ 1", sp, weights="w", id="id").table
    b = survfit("Surv(time, ev) ~ 1", whole, weights="w").table
    a = a[a["time"].isin(b["time"])].reset_index(drop=True)
    for col in ("n_risk", "n_event", "n_censor", "surv", "std_err"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-12, atol=1e-15)


def test_grouped_ij_variance_equals_numerical_jackknife():
    """IJ variance grouped by id: influence of a subject = d S / d (its weight), all its rows."""
    sp, _ = _split(n=25, seed=3)
    t, e, s, w, g = (sp[c].to_numpy(float) for c in ("stop", "ev", "start", "w", "id"))
    base = survfit_km(t, e, w, start=s, id=g, robust=True).table
    h = 1e-6
    infl = []
    for k in np.unique(g):
        w2 = w.copy()
        w2[g == k] *= 1 + h
        s2 = survfit_km(t, e, w2, start=s, id=g, robust=True).table["surv"].to_numpy()
        infl.append((s2 - base["surv"].to_numpy()) / h)
    V = (np.array(infl) ** 2).sum(axis=0)
    np.testing.assert_allclose(base["std_err"].to_numpy(), np.sqrt(V), rtol=1e-4, atol=1e-9)


def test_counting_robust_needs_id_or_cluster():
    sp, _ = _split()
    with pytest.raises(ValueError, match="id or cluster"):
        survfit("Surv(start, stop, ev) ~ 1", sp, robust=True)
    with pytest.raises(ValueError, match="start"):
        bad = sp.copy()
        bad.loc[0, "start"] = bad.loc[0, "stop"] + 1
        survfit("Surv(start, stop, ev) ~ 1", bad)
