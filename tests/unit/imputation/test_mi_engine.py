"""Multiple imputation on the resampling engine: the m chains and the m analyses run serially
or on Dask with the same bits.

Dask runs in-process (``Client(processes=False)``) except one test of a local cluster of two
worker processes (the fits travel back pickled); the fault is injected by design (an analysis
that fails once), never by killing a worker. The pooled numbers themselves are checked against
mice::pool / cobalt in the parity cases ``pool.*`` and ``bal_tab_mi.*`` (same data sets).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("statsmodels")

from carts_iptw.design.glm_weightit import glm_weightit  # noqa: E402
from carts_iptw.imputation import (  # noqa: E402
    WeightItMi,
    bal_tab_mi,
    mice,
    pool,
    weightit_mi,
    with_imputations,
)
from carts_iptw.parity.cases.mi import _PS, _datasets, _py_pool, colon_mi  # noqa: E402
from carts_iptw.survival.coxph import coxph  # noqa: E402
from carts_iptw.weighting import weightit  # noqa: E402


@pytest.fixture(scope="module")
def incomplete() -> pd.DataFrame:
    d = _datasets(colon_mi())[0][["trt", "age", "sex", "nodes", "differ", "status",
                                  "time"]].copy()
    rng = np.random.default_rng(16)
    d.loc[rng.random(len(d)) < 0.1, "nodes"] = np.nan
    d.loc[rng.random(len(d)) < 0.08, "differ"] = np.nan
    return d


@pytest.fixture(scope="module")
def imp(incomplete):
    return mice(incomplete, m=4, seed=7, maxit=3)


def _log_hr(d, w):
    return coxph("Surv(time, status) ~ trt", d.assign(_w=w.weights), weights="_w", robust=True)


def _glm(d, w):
    return glm_weightit("status ~ trt", d, w)


def _assert_same_imputations(a, b):
    assert a.m == b.m and a.seed == b.seed
    for c in a.imp:
        pd.testing.assert_frame_equal(a.imp[c], b.imp[c], check_exact=True)


def test_mice_chains_on_dask_equal_serial(incomplete, imp, client):
    got = mice(incomplete, m=4, seed=7, maxit=3, client=client)
    _assert_same_imputations(got, imp)
    assert set(imp.imp) == {"nodes", "differ"}
    calls = []
    mice(incomplete, m=4, seed=7, maxit=3, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_weightit_mi_on_dask_equals_serial(imp, client):
    ref = weightit_mi("trt ~ age + sex + nodes + differ", imp)
    got = weightit_mi("trt ~ age + sex + nodes + differ", imp, client=client)
    assert got.m == ref.m == 4
    for a, b in zip(ref.weightits, got.weightits, strict=True):
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.ps, b.ps)
    for a, b in zip(ref.datasets, got.datasets, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    ta, tb = bal_tab_mi(ref).balance_across, bal_tab_mi(got).balance_across
    pd.testing.assert_frame_equal(ta, tb, check_exact=True)


@pytest.mark.parametrize("fn", [_log_hr, _glm])
def test_with_imputations_on_dask_equals_serial(imp, client, fn):
    W = weightit_mi("trt ~ age + sex + nodes + differ", imp)
    ref = pool(with_imputations(W, fn)).pooled
    for kw in ({"client": client}, {"client": client, "retries": 0}):
        got = pool(with_imputations(W, fn, **kw)).pooled
        pd.testing.assert_frame_equal(got, ref, check_exact=True)
    # a Mids: fn(data)
    means = with_imputations(imp, lambda d: float(d["nodes"].mean()), client=client)
    assert means == [float(d["nodes"].mean()) for d in imp]


def test_parity_data_sets_pooled_on_dask_equal_the_parity_case(client):
    """The colon_mi data sets of the parity case pool.coxph.colon_mi.ATE (checked live against
    mice::pool): with_imputations on Dask gives its Python numbers to the last bit."""
    args = {"model": "coxph", "ps_formula": _PS, "formula": "Surv(time, status) ~ trt",
            "estimand": "ATE", "family": "binomial", "variable": "trt"}
    data = colon_mi()
    ref = _py_pool(data, args)
    ds = _datasets(data)
    W = WeightItMi(None, ds, [weightit(_PS, x) for x in ds], _PS, "glm", "ATE")
    p = pool(with_imputations(W, _log_hr, client=client))
    for k in ("estimate", "ubar", "b", "t", "df", "riv", "lambda", "fmi"):
        np.testing.assert_array_equal(p.pooled[k].to_numpy(dtype=float), ref[k].to_numpy())


class FailOnce:
    """An analysis that raises a transient fault on its first call, once per marker file."""

    def __init__(self, marker, fn):
        self.marker, self.fn = str(marker), fn

    def __call__(self, *args):
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass
        else:
            os.close(fd)
            raise RuntimeError("injected fault")
        return self.fn(*args)


def test_a_failed_analysis_is_retried_with_the_same_answer(imp, client, tmp_path):
    W = weightit_mi("trt ~ age + sex + nodes + differ", imp)
    ref = pool(with_imputations(W, _glm)).pooled
    for name, kw in (("serial", {}), ("dask", {"client": client})):
        with pytest.raises(RuntimeError, match="injected fault"):
            with_imputations(W, FailOnce(tmp_path / f"{name}0", _glm), retries=0, **kw)
        got = pool(with_imputations(W, FailOnce(tmp_path / f"{name}1", _glm), retries=1,
                                    **kw)).pooled
        assert (tmp_path / f"{name}1").exists()  # the fault did happen
        pd.testing.assert_frame_equal(got, ref, check_exact=True)


def test_a_value_error_names_the_imputation(imp, client):
    W = weightit_mi("trt ~ age + sex + nodes + differ", imp)
    target = W.datasets[2]

    def fn(d, w):
        if d.equals(target):
            raise ValueError("outcome constant")
        return 0.0
    for kw in ({}, {"client": client}):
        with pytest.raises(ValueError, match=r"imputation 3: outcome constant"):
            with_imputations(W, fn, **kw)


def test_engine_arguments_are_checked(imp):
    with pytest.raises(ValueError, match="not both"):
        with_imputations(imp, len, client=object(), n_workers=2)
    with pytest.raises(ValueError, match="retries"):
        weightit_mi("trt ~ age", imp, retries=-1)
    with pytest.raises(ValueError, match="n_workers"):
        mice(imp.data, m=2, seed=1, n_workers=0)
    with pytest.raises(TypeError, match="Client"):
        with_imputations(imp, len, client=object())


def test_local_cluster_of_two_worker_processes(imp):
    pytest.importorskip("distributed")
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    try:
        W = weightit_mi("trt ~ age + sex + nodes + differ", imp)
        ref = pool(with_imputations(W, _log_hr)).pooled
        got = pool(with_imputations(W, _log_hr, n_workers=2)).pooled
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    pd.testing.assert_frame_equal(got, ref, check_exact=True)


def test_study_mi_analyses_on_dask_equal_serial(tmp_path):
    """[propensity] missing = "mi": the m per-imputation study analyses on the engine give the
    results of the serial run (the e2e spec of tests/e2e/test_mi_study.py, m = 3). One
    in-process worker thread: the study records warnings with warnings.catch_warnings, which
    is process-global, so concurrent analyses need worker processes (as n_workers= starts)."""
    import json

    distributed = pytest.importorskip("distributed")

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[2] / "e2e"))
    try:
        from test_mi_study import SPEC, colon_cohort
    finally:
        sys.path.pop(0)
    from carts_iptw.study.eligibility import apply_eligibility
    from carts_iptw.study.mi import analyse_mi
    from carts_iptw.study.pipeline import analyse_eligible
    from carts_iptw.study.spec import load_spec

    (tmp_path / "s.toml").write_text(SPEC)
    spec = load_spec(tmp_path / "s.toml")
    data, _ = apply_eligibility(colon_cohort(), spec.eligibility, spec.treatment, ())
    steps = []
    ref, _ = analyse_mi(data, spec, steps.append, analyse_eligible)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client:
        got, objs = analyse_mi(data, spec, lambda s: None, analyse_eligible, client=client)
    assert json.dumps(got, sort_keys=True, default=str) == \
        json.dumps(ref, sort_keys=True, default=str)
    assert objs["imputations"].m == 3
    assert "imputation analyses done: 3 of 3" in steps


def test_run_study_and_cli_pass_the_engine_to_the_imputation_analyses(tmp_path, monkeypatch):
    """run_study(client=, n_workers=) and `carts-iptw run --workers N` reach analyse_mi."""
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[2] / "e2e"))
    try:
        from test_mi_study import SPEC, colon_cohort
    finally:
        sys.path.pop(0)
    import carts_iptw.study.mi as mi_mod
    from carts_iptw.cli import main
    from carts_iptw.study.pipeline import run_study

    seen = []

    class Stop(Exception):
        pass

    def fake(data, spec, step, analyse_eligible, *, client=None, n_workers=None, retries=2):
        seen.append((client, n_workers))
        raise Stop

    monkeypatch.setattr(mi_mod, "analyse_mi", fake)
    (tmp_path / "s.toml").write_text(SPEC)
    colon_cohort().to_csv(tmp_path / "c.csv", index=False)
    marker = object()
    with pytest.raises(Stop):
        run_study(tmp_path / "c.csv", tmp_path / "s.toml", tmp_path / "o1", client=marker)
    with pytest.raises(Stop):
        main(["run", "--data", str(tmp_path / "c.csv"), "--spec", str(tmp_path / "s.toml"),
              "--out", str(tmp_path / "o2"), "--workers", "2", "--quiet"])
    assert seen == [(marker, None), (None, 2)]
