"""Bootstrap / FWB / sensitivity grids on one engine: serial and on Dask give the same numbers.

Dask runs in-process (``Client(processes=False)``) except one test of the local cluster
(``n_workers=2``); the fault is injected by design (a task that fails once), never by killing a
worker.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest

from carts_iptw import bootstrap, coxph, glm_weightit, load_dataset, sensitivity_grid, weightit
from carts_iptw.resampling.bootstrap import replicate_draw, replicate_rng


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(2026)
    n = 300
    x1, x2 = rng.normal(size=n), rng.binomial(1, 0.4, n)
    a = rng.binomial(1, 1 / (1 + np.exp(-(-0.2 + 0.6 * x1 - 0.5 * x2))))
    t = rng.exponential(1 / np.exp(-0.5 * a + 0.3 * x1))
    c = rng.exponential(2.0, n)
    return pd.DataFrame({"x1": x1, "x2": x2, "a": a, "time": np.round(np.minimum(t, c), 3),
                         "status": (t <= c).astype(int),
                         "y": rng.binomial(1, 0.3 + 0.2 * a)})


def cox_log_hr(data, w, estimand="ATE", trim_at=0.0):
    """The study estimate: weights re-estimated with the replicate's sampling weights, then a
    weighted robust Cox model."""
    from carts_iptw import trim

    W = weightit("a ~ x1 + x2", data, estimand=estimand, s_weights=w)
    ww = W.weights if not trim_at else trim(W, at=trim_at).weights
    return coxph("Surv(time, status) ~ a", data, weights=ww * w, robust=True).coef


def risk_difference(data, w, estimand="ATE"):
    W = weightit("a ~ x1 + x2", data, estimand=estimand, s_weights=w)
    ww = W.weights * w
    a, y = data["a"].to_numpy(), data["y"].to_numpy()
    p1 = np.sum(ww * y * a) / np.sum(ww * a)
    p0 = np.sum(ww * y * (1 - a)) / np.sum(ww * (1 - a))
    return {"p1": p1, "p0": p0, "rd": p1 - p0}


# --- seeds -----------------------------------------------------------------------------------
def test_replicate_seed_is_the_spawned_child_of_the_root_seed():
    children = np.random.SeedSequence(99).spawn(5)
    for r in range(5):
        a = replicate_rng(99, r).standard_exponential(10)
        b = np.random.default_rng(children[r]).standard_exponential(10)
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(replicate_rng(99, 0).random(5), replicate_rng(99, 1).random(5))


def test_fwb_weights_are_fwbs_default_exponential_scaled_to_mean_one():
    idx, w = replicate_draw(5, 3, 1000, "FWB")
    assert idx is None and w.shape == (1000,) and (w > 0).all()
    assert abs(w.mean() - 1) < 1e-12
    e = replicate_rng(5, 3).standard_exponential(1000)
    np.testing.assert_allclose(w, e / e.mean(), rtol=0, atol=0)
    idx, w = replicate_draw(5, 3, 1000, "BS")
    assert w is None and idx.min() >= 0 and idx.max() < 1000


# --- serial ----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["FWB", "BS"])
def test_chunking_never_changes_the_answer(cohort, method):
    res = [bootstrap(risk_difference, cohort, R=12, method=method, seed=7, chunk_size=cs)
           for cs in (None, 1, 5, 12)]
    for r in res[1:]:
        pd.testing.assert_frame_equal(r.t, res[0].t, check_exact=True)
    b = res[0]
    assert list(b.t.columns) == ["p1", "p0", "rd"] and b.t.shape == (12, 3)
    assert b.method == method and b.R == 12 and b.seed == 7 and b.n == len(cohort)
    assert b.t0["rd"] == pytest.approx(risk_difference(cohort, np.ones(len(cohort)))["rd"])
    assert b.t["rd"].std() > 0
    np.testing.assert_allclose(b.se().to_numpy(), np.sqrt(np.diag(b.vcov().to_numpy())))
    s = b.summary()
    assert list(s.columns) == ["Estimate", "Std. Error", "2.5 %", "97.5 %"]
    assert (s["2.5 %"] < s["97.5 %"]).all()


def test_seed_none_is_recorded_and_reproduces(cohort):
    a = bootstrap(risk_difference, cohort, R=4, seed=None)
    b = bootstrap(risk_difference, cohort, R=4, seed=a.seed)
    pd.testing.assert_frame_equal(a.t, b.t, check_exact=True)
    c = bootstrap(risk_difference, cohort, R=4, seed=a.seed + 1)
    assert not np.array_equal(a.t.to_numpy(), c.t.to_numpy())


def test_bs_resamples_rows_and_fwb_reweights(cohort):
    seen = []

    def stat(data, w):
        seen.append((data.index.equals(pd.RangeIndex(len(cohort))), float(w.min()),
                     float(w.max()), data["x1"].nunique()))
        return 1.0
    bootstrap(stat, cohort, R=3, method="BS", seed=1)
    # the full-data call, then 3 resamples with unit weights and repeated rows
    assert all(s[1] == s[2] == 1.0 for s in seen)
    assert all(s[3] < len(cohort) for s in seen[1:])
    seen.clear()
    bootstrap(stat, cohort, R=3, method="FWB", seed=1)
    assert all(s[3] == len(cohort) for s in seen) and all(s[1] < 1 < s[2] for s in seen[1:])


def test_percentile_interval_is_norm_inter(cohort):
    b = bootstrap(risk_difference, cohort, R=19, seed=3)
    with pytest.raises(ValueError, match="type"):
        b.confint(type="bca")
    ci = b.confint(0.9, type="perc")
    # (R + 1) * 0.05 = 1 and (R + 1) * 0.95 = 19: exactly the extreme order statistics
    np.testing.assert_array_equal(ci.iloc[:, 0], b.t.min().to_numpy())
    np.testing.assert_array_equal(ci.iloc[:, 1], b.t.max().to_numpy())
    w = b.confint(0.95, type="wald")
    np.testing.assert_allclose((w.iloc[:, 1] - w.iloc[:, 0]).to_numpy(),
                               2 * 1.959963984540054 * b.se().to_numpy())
    np.testing.assert_allclose(((w.iloc[:, 1] + w.iloc[:, 0]) / 2).to_numpy(), b.t0.to_numpy())
    # basic = 2 t0 - the percentile limits, reversed
    p95, bas = b.confint(0.95, type="perc"), b.confint(0.95, type="basic")
    np.testing.assert_allclose(bas.to_numpy(), 2 * b.t0.to_numpy()[:, None] - p95.to_numpy()[:, ::-1])


def test_progress_callback_and_stderr(cohort, capsys):
    calls = []
    bootstrap(risk_difference, cohort, R=10, seed=1, chunk_size=3,
              progress=lambda done, total: calls.append((done, total)))
    assert calls == [(3, 10), (6, 10), (9, 10), (10, 10)]
    bootstrap(risk_difference, cohort, R=10, seed=1, chunk_size=5, progress=True)
    err = capsys.readouterr().err
    assert "bootstrap FWB: 5/10" in err and "bootstrap FWB: 10/10" in err


class FailOnce:
    """A statistic whose first replicate call raises (a transient fault), once: the marker file
    records that the fault happened (shared by threads and processes)."""

    def __init__(self, marker, fn=risk_difference):
        self.marker, self.fn = str(marker), fn

    def __call__(self, data, w, **kw):
        if not np.all(w == 1.0):  # a replicate, not the full-data estimate
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.close(fd)
                raise RuntimeError("injected fault")
        return self.fn(data, w, **kw)


def test_serial_retry_gives_the_same_answer(cohort, tmp_path):
    ref = bootstrap(risk_difference, cohort, R=6, seed=11, chunk_size=2)
    with pytest.raises(RuntimeError, match="injected fault"):
        bootstrap(FailOnce(tmp_path / "a"), cohort, R=6, seed=11, chunk_size=2, retries=0)
    got = bootstrap(FailOnce(tmp_path / "b"), cohort, R=6, seed=11, chunk_size=2, retries=1)
    assert (tmp_path / "b").exists()
    pd.testing.assert_frame_equal(got.t, ref.t, check_exact=True)


def test_a_value_error_is_not_retried_and_names_the_replicate(cohort):
    calls = []

    def stat(data, w):
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("treatment group empty")
        return 0.0
    with pytest.raises(ValueError, match=r"bootstrap FWB failed on replicate 2: treatment"):
        bootstrap(stat, cohort, R=5, seed=1, retries=3)
    assert len(calls) == 3


# --- Dask ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["FWB", "BS"])
def test_dask_equals_serial_bit_for_bit(cohort, client, method):
    ref = bootstrap(cox_log_hr, cohort, R=8, method=method, seed=42)
    for cs in (1, 3):
        got = bootstrap(cox_log_hr, cohort, R=8, method=method, seed=42, client=client,
                        chunk_size=cs)
        pd.testing.assert_frame_equal(got.t, ref.t, check_exact=True)
        pd.testing.assert_series_equal(got.t0, ref.t0, check_exact=True)


def test_dask_retries_a_task_that_fails_once(cohort, client, tmp_path):
    ref = bootstrap(risk_difference, cohort, R=6, seed=5, chunk_size=2)
    calls = []
    got = bootstrap(FailOnce(tmp_path / "m"), cohort, R=6, seed=5, chunk_size=2, client=client,
                    retries=1, progress=lambda d, t: calls.append(d))
    assert (tmp_path / "m").exists()  # the fault did happen
    pd.testing.assert_frame_equal(got.t, ref.t, check_exact=True)
    assert sorted(calls) == [2, 4, 6]
    with pytest.raises(RuntimeError, match="injected fault"):
        bootstrap(FailOnce(tmp_path / "n"), cohort, R=6, seed=5, chunk_size=2, client=client,
                  retries=0)


def test_dask_value_error_names_the_first_failing_replicate(cohort, client):
    def stat(data, w):
        if w[0] > 2.0:
            raise ValueError("separation")
        return 0.0
    first = next(r for r in range(40) if replicate_draw(3, r, len(cohort), "FWB")[1][0] > 2.0)
    msg = f"replicate {first + 1}: separation"
    with pytest.raises(ValueError, match=msg):
        bootstrap(stat, cohort, R=40, seed=3, chunk_size=4)
    with pytest.raises(ValueError, match=msg):
        bootstrap(stat, cohort, R=40, seed=3, chunk_size=4, client=client)


@pytest.mark.parametrize("vcov", ["FWB", "BS"])
def test_glm_weightit_bootstrap_on_dask_equals_serial(client, vcov):
    d = load_dataset("lalonde").copy()
    d["employed"] = (d["re78"] > 0).astype(int)
    W = weightit("treat ~ age + educ + race + married", d, estimand="ATT")
    kw = dict(vcov=vcov, R=12, seed=20240, progress=False)
    ref = glm_weightit("employed ~ treat", d, W, **kw)
    got = glm_weightit("employed ~ treat", d, W, client=client, chunk_size=5, **kw)
    np.testing.assert_array_equal(got.vcov.to_numpy(), ref.vcov.to_numpy())
    assert "bootstrap, R = 12" in got.vcov_type


def test_glm_weightit_slow_path_on_dask_equals_serial(client):
    d = load_dataset("lalonde").copy()
    d["employed"] = (d["re78"] > 0).astype(int)
    W = weightit("treat ~ age + educ + married", d, method="ebal", estimand="ATT")
    kw = dict(vcov="FWB", R=4, seed=1, progress=False)
    ref = glm_weightit("employed ~ treat", d, W, **kw)
    got = glm_weightit("employed ~ treat", d, W, client=client, chunk_size=1, **kw)
    np.testing.assert_array_equal(got.vcov.to_numpy(), ref.vcov.to_numpy())


def test_auto_workers_start_one_single_threaded_worker_per_core(monkeypatch):
    distributed = pytest.importorskip("distributed")
    from carts_iptw.resampling._engine import session

    seen = {}

    class FakeCluster:
        def __init__(self, **kw):
            import dask

            seen.update(kw)
            seen["env"] = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
            seen["profile"] = dask.config.get("distributed.worker.profile.enabled")

        def close(self):
            seen["cluster_closed"] = True

    class FakeClient:
        def __init__(self, cluster):
            seen["client_of"] = cluster

        def close(self):
            seen["client_closed"] = True

    monkeypatch.setattr(distributed, "LocalCluster", FakeCluster)
    monkeypatch.setattr(distributed, "Client", FakeClient)
    with session(None, "auto") as c:
        assert isinstance(c, FakeClient)
    assert seen["n_workers"] == len(os.sched_getaffinity(0))
    assert seen["threads_per_worker"] == 1 and seen["processes"] is True
    assert seen["cluster_closed"] and seen["client_closed"]
    # workers without distributed's MALLOC_TRIM_THRESHOLD_ (2.5x the CPU on 10^5-row fits),
    # with its one BLAS thread
    assert seen["env"]["MALLOC_TRIM_THRESHOLD_"] is None
    assert str(seen["env"]["OPENBLAS_NUM_THREADS"]) == "1"
    assert seen["profile"] is False  # no stack sampling in the workers (~25% CPU)
    with session(None, None) as c:
        assert c is None


def test_local_cluster_of_two_worker_processes(cohort):
    pytest.importorskip("distributed")
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    try:
        ref = bootstrap(cox_log_hr, cohort, R=6, seed=8, chunk_size=2)
        got = bootstrap(cox_log_hr, cohort, R=6, seed=8, chunk_size=2, n_workers=2)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    pd.testing.assert_frame_equal(got.t, ref.t, check_exact=True)


# --- sensitivity grids -----------------------------------------------------------------------
def test_sensitivity_grid_estimates_and_bootstraps(cohort, client):
    grid = {"estimand": ["ATE", "ATT"], "trim_at": [0.0, 0.95]}
    g = sensitivity_grid(cox_log_hr, cohort, grid)
    assert list(g.columns) == ["estimand", "trim_at", "term", "estimate"]
    assert list(zip(g["estimand"], g["trim_at"], strict=True)) == [
        ("ATE", 0.0), ("ATE", 0.95), ("ATT", 0.0), ("ATT", 0.95)]
    for _, row in g.iterrows():
        direct = cox_log_hr(cohort, np.ones(len(cohort)), row["estimand"], row["trim_at"])
        assert row["estimate"] == direct["a"]
    assert g["estimate"].nunique() == 4
    gb = sensitivity_grid(cox_log_hr, cohort, grid, R=5, seed=9, chunk_size=2)
    for _, row in gb.iterrows():
        b = bootstrap(cox_log_hr, cohort, R=5, seed=9, estimand=row["estimand"],
                      trim_at=row["trim_at"])
        assert row["se"] == b.se()["a"]
        assert (row["lower"], row["upper"]) == tuple(b.confint(type="perc").loc["a"])
    gd = sensitivity_grid(cox_log_hr, cohort, grid, R=5, seed=9, chunk_size=3, client=client)
    pd.testing.assert_frame_equal(gd, gb, check_exact=True)


def test_sensitivity_grid_list_of_settings_and_ps_models(cohort):
    def stat(data, w, ps):
        W = weightit(ps, data, s_weights=w)
        return coxph("Surv(time, status) ~ a", data, weights=W.weights * w).coef
    g = sensitivity_grid(stat, cohort, [{"ps": "a ~ x1"}, {"ps": "a ~ x1 + x2"},
                                        {"ps": "a ~ x1 * x2"}])
    assert list(g["ps"]) == ["a ~ x1", "a ~ x1 + x2", "a ~ x1 * x2"]
    assert g["estimate"].nunique() == 3


# --- bad input and the optional extra --------------------------------------------------------
def test_bad_input(cohort):
    with pytest.raises(ValueError, match="method"):
        bootstrap(risk_difference, cohort, R=5, method="wild")
    with pytest.raises(ValueError, match="R must"):
        bootstrap(risk_difference, cohort, R=1)
    with pytest.raises(ValueError, match="seed"):
        bootstrap(risk_difference, cohort, R=5, seed=-1)
    with pytest.raises(ValueError, match="not both"):
        bootstrap(risk_difference, cohort, R=5, client=object(), n_workers=2)
    for bad in (0, -1, 1.5, "all", True):
        with pytest.raises(ValueError, match="n_workers"):
            bootstrap(risk_difference, cohort, R=5, n_workers=bad)
    with pytest.raises(ValueError, match="retries"):
        bootstrap(risk_difference, cohort, R=5, retries=-1)
    with pytest.raises(ValueError, match="chunk_size"):
        bootstrap(risk_difference, cohort, R=5, chunk_size=0)
    with pytest.raises(TypeError, match="DataFrame"):
        bootstrap(risk_difference, cohort.to_numpy(), R=5)
    with pytest.raises(TypeError, match="callable"):
        bootstrap(None, cohort, R=5)
    with pytest.raises(TypeError, match="numbers"):
        bootstrap(lambda d, w: "x", cohort, R=5)
    with pytest.raises(ValueError, match="not finite"):
        bootstrap(lambda d, w: np.nan, cohort, R=5)
    with pytest.raises(ValueError, match="returned 2 values"):
        bootstrap(lambda d, w: [1.0] if np.all(w == 1) else [1.0, 2.0], cohort, R=5)
    with pytest.raises(TypeError, match="progress"):
        bootstrap(risk_difference, cohort, R=5, progress="yes")
    with pytest.raises(TypeError, match="Client"):
        bootstrap(risk_difference, cohort, R=5, client=object())
    with pytest.raises(TypeError, match="grid"):
        sensitivity_grid(cox_log_hr, cohort, {"estimand": "ATE"})
    with pytest.raises(ValueError, match="no values"):
        sensitivity_grid(cox_log_hr, cohort, {"estimand": []})
    with pytest.raises(ValueError, match="names"):
        sensitivity_grid(cox_log_hr, cohort, {"term": [1]})
    with pytest.raises(ValueError, match="setting 2: "):
        sensitivity_grid(cox_log_hr, cohort, {"estimand": ["ATE", "XYZ"]})


def test_without_dask_serial_runs_and_dask_requests_say_which_extra(cohort, monkeypatch):
    # a None entry in sys.modules makes `import distributed` / `import dask` fail, as when the
    # extra is not installed: the serial path must not need them
    monkeypatch.setitem(sys.modules, "distributed", None)
    monkeypatch.setitem(sys.modules, "dask", None)
    ref = bootstrap(risk_difference, cohort, R=3, seed=1)
    assert ref.t.shape == (3, 3)
    for kw in ({"n_workers": 2}, {"client": object()}):
        with pytest.raises(ImportError, match=r"carts_iptw\[distributed\]"):
            bootstrap(risk_difference, cohort, R=3, **kw)
        with pytest.raises(ImportError, match=r"carts_iptw\[distributed\]"):
            sensitivity_grid(risk_difference, cohort, {"estimand": ["ATE"]}, **kw)
    d = load_dataset("lalonde").copy()
    d["employed"] = (d["re78"] > 0).astype(int)
    W = weightit("treat ~ age", d)
    with pytest.raises(ImportError, match=r"carts_iptw\[distributed\]"):
        glm_weightit("employed ~ treat", d, W, vcov="FWB", R=3, n_workers=2)
    glm_weightit("employed ~ treat", d, W, vcov="FWB", R=3, progress=False)
