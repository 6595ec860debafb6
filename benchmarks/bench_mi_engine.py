"""Benchmark: multiple imputation on the engine, serial vs a local Dask cluster.

    /work/venv/bin/python benchmarks/bench_mi_engine.py [--n 50000] [--m 4] [--workers 2]

A cohort with missing covariates (``age`` 10%, ``nodes`` 15%, a 3-level ``stage`` 8%): ``mice``
(m chains, maxit 5), ``weightit_mi`` and ``with_imputations`` of a weighted robust Cox model,
pooled by ``pool``. The same calls run serially in this process, then with ``n_workers=`` on a
local cluster of single-threaded worker processes (started once, its start-up timed apart).
The pooled tables must be bit-identical (asserted). Prints a markdown section (CPU seconds of
this process, wall seconds, load average: the machine is shared); writes nothing unless
``--out`` is given. Never run in tests.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def make_cohort(n: int, seed: int = 16) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(62, 11, n).round(1)
    nodes = rng.poisson(3, n).astype(float)
    stage = pd.Categorical(rng.choice(["I", "II", "III"], n), categories=["I", "II", "III"])
    lp = -0.3 + 0.03 * (age - 62) + 0.1 * (nodes - 3)
    trt = rng.binomial(1, 1 / (1 + np.exp(-lp)))
    t = rng.exponential(5 / np.exp(0.3 * trt + 0.02 * (age - 62)))
    c = rng.uniform(1, 8, n)
    d = pd.DataFrame({"trt": trt, "age": age, "nodes": nodes, "stage": stage,
                      "time": np.round(np.minimum(t, c), 3), "status": (t <= c).astype(int)})
    d.loc[rng.random(n) < 0.10, "age"] = np.nan
    d.loc[rng.random(n) < 0.15, "nodes"] = np.nan
    d.loc[rng.random(n) < 0.08, "stage"] = np.nan
    return d


def cox(d, w):
    from carts_iptw import coxph

    return coxph("Surv(time, status) ~ trt", d.assign(_w=w.weights), weights="_w", robust=True)


def run(data, m, **engine):
    from carts_iptw import mice, pool, weightit_mi, with_imputations

    out = {}
    c0, w0 = time.process_time(), time.perf_counter()
    imp = mice(data, m=m, seed=2026, maxit=5, **engine)
    c1, w1 = time.process_time(), time.perf_counter()
    W = weightit_mi("trt ~ age + nodes + stage", imp, **engine)
    c2, w2 = time.process_time(), time.perf_counter()
    p = pool(with_imputations(W, cox, **engine))
    c3, w3 = time.process_time(), time.perf_counter()
    out["mice"] = (c1 - c0, w1 - w0)
    out["weightit_mi"] = (c2 - c1, w2 - w1)
    out["with_imputations + pool"] = (c3 - c2, w3 - w2)
    return p.pooled, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--m", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out")
    a = ap.parse_args()
    import sys

    import cloudpickle

    from carts_iptw.resampling._engine import session

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # cox() is defined here
    data = make_cohort(a.n)
    ref, serial = run(data, a.m)
    t0 = time.perf_counter()
    with session(None, a.workers) as client:
        start = time.perf_counter() - t0
        got, dask = run(data, a.m, client=client)
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    load = os.getloadavg()
    lines = [f"### Multiple imputation on the engine: n = {a.n:,}, m = {a.m}, "
             f"{a.workers} local workers",
             "",
             f"Pooled Cox table bit-identical serial vs Dask (asserted). Load average "
             f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; cluster start-up {start:.1f} s wall "
             "(not included below). CPU = this process only (the workers' CPU is not counted "
             "on the Dask side).",
             "",
             "| step | serial CPU s | serial wall s | Dask: client CPU s | Dask wall s |",
             "|---|---|---|---|---|"]
    for k in serial:
        lines.append(f"| {k} | {serial[k][0]:.2f} | {serial[k][1]:.2f} | {dask[k][0]:.2f} | "
                     f"{dask[k][1]:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
