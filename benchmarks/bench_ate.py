"""Benchmark: ``ate`` (G-formula, IPTW, AIPTW) beside the real ``riskRegression::ate``.

    R_LIBS_USER=/work/rlib /work/venv/bin/python benchmarks/bench_ate.py [--n-binary 100000]
        [--n-survival 10000] [--reps 2] [--no-r]

Binary outcome at 10^5 rows (logistic outcome and treatment models), time-to-event outcome at
10^4 rows with two horizons (Cox outcome model, logistic treatment model, Cox censoring model:
IPCW and the AIPCW augmentation), all three estimators with influence-function standard
errors. R (riskRegression 2022.11.28) runs the same models on the same data in the same run
(``Rscript``, elapsed seconds of the ``ate()`` call and of the model fits); the max relative
difference of every estimate, se, limit and p-value is reported. Results are appended to
benchmarks/results.md. Never run in tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
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
suppressPackageStartupMessages({library(survival); library(riskRegression)})
args <- commandArgs(TRUE)
d <- read.csv(args[1])
kind <- args[3]
d$treat <- factor(d$treat)
t0 <- proc.time()[["elapsed"]]
tfit <- glm(treat ~ x1 + x2 + x3 + x4, data = d, family = binomial())
if (kind == "binary") {
  efit <- glm(y ~ treat + x1 + x2 + x3 + x4, data = d, family = binomial())
  a <- ate(event = efit, treatment = tfit, data = d, verbose = FALSE,
           estimator = c("GFORMULA", "IPTW", "AIPTW"))
} else {
  efit <- coxph(Surv(time, status) ~ treat + x1 + x2 + x3 + x4, data = d, x = TRUE, y = TRUE)
  cfit <- coxph(Surv(time, status == 0) ~ treat + x1 + x2, data = d, x = TRUE, y = TRUE)
  a <- ate(event = efit, treatment = tfit, censor = cfit, data = d, times = c(2, 4),
           cause = 1, verbose = FALSE, estimator = c("GFORMULA", "IPTW", "AIPTW"))
}
elapsed <- proc.time()[["elapsed"]] - t0
num <- function(tab) {
  d <- as.data.frame(a[[tab]])
  d$estimator <- factor(d$estimator, levels = c("GFORMULA", "IPTW", "AIPTW"))
  d <- d[if (tab == "meanRisk") order(d$estimator, d$treatment, d$time) else
         order(d$estimator, d$time), ]
  cols <- c("estimate", "se", "lower", "upper", if (tab != "meanRisk") "p.value")
  unlist(lapply(cols, function(cc) d[[cc]]))
}
writeLines(jsonlite::toJSON(list(elapsed = elapsed, values = c(num("meanRisk"), num("diffRisk"),
                                                                 num("ratioRisk"))), digits = NA),
           args[2])
"""


def make_data(n: int, seed: int = 20261127) -> pd.DataFrame:
    """Four normal covariates, a logistic treatment, a logistic binary outcome and an
    exponential event time with uniform censoring on (1, 8) (times rounded: ties)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    p = 1 / (1 + np.exp(-(-0.3 + x @ np.array([0.5, -0.4, 0.3, 0.2]))))
    treat = (rng.uniform(size=n) < p).astype(int)
    eta = -0.5 + 0.4 * treat + x @ np.array([0.6, 0.3, -0.5, 0.1])
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    t_ev = rng.exponential(np.exp(1.5 - 0.3 * treat - 0.4 * x[:, 0]))
    t_c = rng.uniform(1, 8, size=n)
    d = pd.DataFrame(x, columns=["x1", "x2", "x3", "x4"])
    d["treat"], d["y"] = treat, y
    d["time"] = np.round(np.minimum(t_ev, t_c), 3)
    d["status"] = (t_ev <= t_c).astype(int)
    return d


def run_python(d: pd.DataFrame, kind: str, reps: int):
    import carts_iptw as c

    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        if kind == "binary":
            a = c.ate("y ~ treat + x1 + x2 + x3 + x4", "treat ~ x1 + x2 + x3 + x4", d)
        else:
            a = c.ate("Surv(time, status) ~ treat + x1 + x2 + x3 + x4",
                      "treat ~ x1 + x2 + x3 + x4", d,
                      censor="Surv(time, status == 0) ~ treat + x1 + x2", times=[2, 4])
        best = min(best, time.perf_counter() - t0)
    vals = []
    for tab in (a.mean_risk, a.diff_risk, a.ratio_risk):
        for col in ("estimate", "se", "lower", "upper", "p_value"):
            if col in tab.columns:
                vals.append(tab[col].to_numpy(float))
    return best, np.concatenate(vals)


def run_r(d: pd.DataFrame, kind: str):
    doc = rscript_json(d, R_SCRIPT, kind)
    return float(np.atleast_1d(doc["elapsed"])[0]), np.asarray(doc["values"], float)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-binary", type=int, default=100_000)
    ap.add_argument("--n-survival", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--no-r", action="store_true")
    a = ap.parse_args()
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"\n## ate (riskRegression twin) ({stamp})\n",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores shared, load average "
             f"{os.getloadavg()[0]:.1f} at start. Python: best of {a.reps} (wall seconds, model "
             "fits included); R: one run, elapsed seconds of the model fits + ate().\n",
             "| case | Python (s) | R riskRegression 2022.11.28 (s) | max rel. diff |",
             "|---|---|---|---|"]
    for kind, n, label in (("binary", a.n_binary, "binary outcome, 3 estimators"),
                           ("survival", a.n_survival,
                            "time-to-event, 2 horizons, 3 estimators (IPCW, AIPCW)")):
        d = make_data(n)
        py_t, py_v = run_python(d, kind, a.reps)
        if a.no_r:
            r_t, diff = "not run", ""
        else:
            rt, rv = run_r(d, kind)
            r_t, diff = f"{rt:.1f}", f"{rel(py_v, rv):.1e}"
        lines.append(f"| {label}, n = {n:,} | {py_t:.2f} | {r_t} | {diff} |")
        print(lines[-1], flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines.append(f"\nPeak Python memory (max RSS): {peak:.0f} MB.\n")
    text = "\n".join(lines) + "\n"
    print(text)
    append_results(text)


if __name__ == "__main__":
    main()
