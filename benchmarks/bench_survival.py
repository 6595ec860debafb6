"""Benchmark: weighted Cox (robust variance) and weighted Kaplan-Meier (robust IJ variance),
Python vs R (survival 3.5-3) on the same synthetic data, in one run.

    /work/venv/bin/python benchmarks/bench_survival.py --n 100000 [--no-r] [--python-reps 3]

R's robust pieces are quadratic (coxph(weights, robust=TRUE) ~75 s, weighted survfit ~10 s
at n = 1e5 on the project machines): R is run once per size. The numbers of both sides are
compared (max relative difference) so the timing is of the same computation. Results are
appended to benchmarks/results.md. Never run in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

try:  # python -m benchmarks.<name>, or python benchmarks/<name>.py
    from benchmarks._common import append_results, rel, rscript_json
except ImportError:
    from _common import append_results, rel, rscript_json

HERE = Path(__file__).resolve().parent

R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(TRUE)
d <- read.csv(args[1])
f <- as.formula(paste("Surv(time, status) ~", paste(paste0("x", 1:9), collapse = " + ")))
t0 <- proc.time()[["elapsed"]]
fit <- coxph(f, data = d, weights = w, robust = TRUE)
t_cox <- proc.time()[["elapsed"]] - t0
t0 <- proc.time()[["elapsed"]]
km <- survfit(Surv(time, status) ~ x1, data = d, weights = w)
t_km <- proc.time()[["elapsed"]] - t0
out <- list(t_cox = t_cox, t_km = t_km, coef = unname(coef(fit)),
            se = unname(sqrt(diag(fit$var))), naive_se = unname(sqrt(diag(fit$naive.var))),
            surv = km$surv, std_err = km$std.err, iter = fit$iter)
writeLines(jsonlite::toJSON(out, digits = NA, auto_unbox = TRUE), args[2])
"""


def make_data(n: int, seed: int = 20261125) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 9))
    X[:, 0] = rng.integers(0, 2, n)
    X[:, 1] = rng.integers(0, 3, n)
    beta = np.array([-0.4, 0.2, 0.3, -0.2, 0.1, 0.0, 0.15, -0.1, 0.05])
    t = rng.exponential(np.exp(-(X @ beta))) * 24
    c = rng.uniform(0, 48, n)
    time_ = np.round(np.minimum(t, c), 3) + 0.001  # some ties, as in real follow-up data
    status = (t <= c).astype(int)
    ps = 1 / (1 + np.exp(-(0.3 * X[:, 2] - 0.2 * X[:, 3])))
    w = np.where(X[:, 0] == 1, 1 / ps, 1 / (1 - ps))
    d = pd.DataFrame(X, columns=[f"x{i}" for i in range(1, 10)])
    d["x1"] = d["x1"].astype(int)
    d["time"] = time_
    d["status"] = status
    d["w"] = w
    return d


def run_python(d: pd.DataFrame, reps: int):
    from carts_iptw.survival import coxph, survfit

    f = "Surv(time, status) ~ " + " + ".join(f"x{i}" for i in range(1, 10))
    tc, tk, cc, ck = [], [], [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fit = coxph(f, d, weights="w", robust=True)
        tc.append(time.perf_counter() - t0)
        cc.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        km = survfit("Surv(time, status) ~ x1", d, weights="w")
        tk.append(time.perf_counter() - t0)
        ck.append(time.process_time() - c0)
    return (min(tc), min(cc)), (min(tk), min(ck)), fit, km


def run_r(d: pd.DataFrame):
    """Run R once per data set; the result is cached (R's robust fits are quadratic)."""
    cache = HERE / f".r_result_{len(d)}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    doc = rscript_json(d, R_SCRIPT)
    cache.write_text(json.dumps(doc))
    return doc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--python-reps", type=int, default=3)
    a = ap.parse_args()
    d = make_data(a.n)
    tc, tk, fit, km = run_python(d, a.python_reps)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [f"\n## Survival, n = {a.n:,}, 9 covariates, IPT weights ({time.strftime('%Y-%m-%d %H:%M')})",
             "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores shared, load average "
             f"{load:.1f} at start. Python: best of {a.python_reps}.", "",
             "Python: wall seconds (CPU seconds of the process in brackets: the machine is shared, "
             "so wall time includes waiting for a core).", "",
             "| fit | Python (s) | R survival 3.5-3 (s, elapsed) | max rel. diff |", "|---|---|---|---|"]
    if a.no_r:
        lines.append(f"| coxph(weights, robust = TRUE), efron | {tc[0]:.2f} ({tc[1]:.2f}) | not run | |")
        lines.append(f"| survfit(weights), robust IJ std.err | {tk[0]:.2f} ({tk[1]:.2f}) | not run | |")
    else:
        r = run_r(d)
        dc = max(rel(fit.coef, r["coef"]), rel(fit.se, r["se"]), rel(fit.naive_se, r["naive_se"]))
        dk = max(rel(km.table["surv"], r["surv"]), rel(km.table["std_err"], r["std_err"]))
        lines.append(f"| coxph(weights, robust = TRUE), efron | {tc[0]:.2f} ({tc[1]:.2f}) | {r['t_cox']:.1f} | {dc:.1e} |")
        lines.append(f"| survfit(weights), robust IJ std.err | {tk[0]:.2f} ({tk[1]:.2f}) | {r['t_km']:.1f} | {dk:.1e} |")
    text = "\n".join(lines) + "\n"
    print(text)
    append_results(text)


if __name__ == "__main__":
    main()
