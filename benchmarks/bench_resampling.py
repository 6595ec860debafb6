"""Benchmark: fractional weighted bootstrap of a weighted robust Cox model, serial vs Dask.

    /work/venv/bin/python benchmarks/bench_resampling.py [--n 100000] [--R 1000] [--workers 2]

Each replicate refits ``coxph(weights, robust=True)`` with the IPT weights times the replicate's
FWB weights (``--reestimate``: the IPT weights are re-estimated too, ``weightit`` with the FWB
weights as sampling weights, ~3x the work); the statistic is the log hazard ratio and its robust
SE. The same ``carts_iptw.bootstrap`` call runs
serially in this process, then on a local Dask cluster of ``--workers`` single-threaded worker
processes (``n_workers=``; the wall time includes starting the cluster). The replicates must be
bit-identical (asserted). BLAS runs one thread here as in Dask's workers (distributed sets
OPENBLAS_NUM_THREADS=1 etc. in them), so both sides do the same arithmetic. A section is
appended to benchmarks/results.md (load average recorded: the machine is shared). Never run in
tests.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

try:  # python -m benchmarks.<name>, or python benchmarks/<name>.py
    from benchmarks._common import append_results
except ImportError:
    from _common import append_results

HERE = Path(__file__).resolve().parent


def make_data(n: int, seed: int = 20261127) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.normal(size=n), rng.normal(size=n), rng.binomial(1, 0.4, n)
    a = rng.binomial(1, 1 / (1 + np.exp(-(-0.3 + 0.5 * x1 - 0.4 * x2 + 0.3 * x3))))
    t = rng.exponential(1 / np.exp(-0.4 * a + 0.3 * x1 + 0.2 * x2))
    c = rng.exponential(2.0, n)
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "a": a,
                         "time": np.round(np.minimum(t, c), 3),
                         "status": (t <= c).astype(int)})


def cox_statistic(data, w, reestimate=False):
    """log HR of treatment and its robust SE: the IPT weights (column ``ipw``) times the FWB
    weights, or (``reestimate``) the IPT weights re-estimated with the FWB weights as sampling
    weights."""
    from carts_iptw import coxph, weightit

    ipw = (weightit("a ~ x1 + x2 + x3", data, s_weights=w).weights if reestimate
           else data["ipw"].to_numpy())
    fit = coxph("Surv(time, status) ~ a", data, weights=ipw * w, robust=True)
    return {"log_hr": fit.coef["a"], "robust_se": fit.se["a"]}


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--R", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--reestimate", action="store_true",
                    help="re-estimate the propensity weights in every replicate (~3x the work)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()

    import dask
    import distributed

    from carts_iptw import bootstrap, weightit

    d = make_data(a.n)
    d["ipw"] = weightit("a ~ x1 + x2 + x3", d).weights
    kw = {"reestimate": a.reestimate}
    load0 = os.getloadavg()
    started = datetime.datetime.now(datetime.UTC)

    print(f"serial: {a.R} FWB replicates at n = {a.n:,}", flush=True)
    w0, c0 = time.perf_counter(), time.process_time()
    serial = bootstrap(cox_statistic, d, R=a.R, method="FWB", seed=a.seed, progress=True, **kw)
    w_serial, c_serial = time.perf_counter() - w0, time.process_time() - c0
    load1 = os.getloadavg()

    print(f"dask: {a.workers} local workers", flush=True)
    w0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    par = bootstrap(cox_statistic, d, R=a.R, method="FWB", seed=a.seed, n_workers=a.workers,
                    progress=True, **kw)
    w_par = time.perf_counter() - w0
    c_main, c_workers = time.process_time() - c0, _children_cpu() - k0
    load2 = os.getloadavg()

    np.testing.assert_array_equal(par.t.to_numpy(), serial.t.to_numpy())
    np.testing.assert_array_equal(par.t0.to_numpy(), serial.t0.to_numpy())
    identical = "yes (bit for bit, asserted)"
    speedup = w_serial / w_par
    se = serial.se()
    print(f"serial {w_serial:.1f} s wall ({c_serial:.1f} s CPU); dask {w_par:.1f} s wall "
          f"(CPU: workers {c_workers:.1f} s, client {c_main:.1f} s); speed-up {speedup:.2f}x; "
          f"identical: {identical}; FWB SE of log HR {se['log_hr']:.6g}")
    if a.no_write:
        return
    lines = [
        "",
        f"## Resampling: {a.R:,} FWB replicates of a weighted robust Cox model, n = {a.n:,}, "
        f"serial vs {a.workers} Dask workers ({started:%Y-%m-%d %H:%M} UTC)",
        "",
        f"`benchmarks/bench_resampling.py --n {a.n} --R {a.R} --workers {a.workers}"
        f"{' --reestimate' if a.reestimate else ''}`. Each replicate: "
        + ("`weightit(a ~ x1 + x2 + x3, s_weights = FWB weights)` then " if a.reestimate else
           "the full-sample IPT weights (`weightit(a ~ x1 + x2 + x3)`, ATE) times the FWB "
           "weights in ")
        + "`coxph(Surv(time, status) ~ a, weights, robust = TRUE)` (log HR and robust SE); "
        "`carts_iptw.bootstrap(method=\"FWB\")` serially, then with `n_workers=` "
        f"(a local cluster of {a.workers} single-threaded worker processes; its start-up is "
        "included). BLAS one thread on both sides.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs; load "
        f"average (1, 5, 15 min) {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} at start, "
        f"{load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} after the serial run, "
        f"{load2[0]:.2f} {load2[1]:.2f} {load2[2]:.2f} at the end. numpy {np.__version__}, "
        f"pandas {pd.__version__}, dask {dask.__version__}, distributed "
        f"{distributed.__version__}, Python {platform.python_version()}.",
        "",
        "| run | wall (s) | CPU (s) | replicates / s (wall) |",
        "|---|---|---|---|",
        f"| serial (this process) | {w_serial:.1f} | {c_serial:.1f} | {a.R / w_serial:.2f} |",
        f"| Dask, {a.workers} local workers | {w_par:.1f} | {c_workers:.1f} workers + "
        f"{c_main:.1f} client | {a.R / w_par:.2f} |",
        "",
        f"Speed-up (wall, serial / Dask): **{speedup:.2f}x**. Replicates identical: {identical}. "
        f"FWB SE of the log HR {se['log_hr']:.6g} (mean robust SE over replicates "
        f"{serial.t['robust_se'].mean():.6g}).",
        "",
    ]
    append_results("\n".join(lines))
    print("appended to benchmarks/results.md")


if __name__ == "__main__":
    main()
