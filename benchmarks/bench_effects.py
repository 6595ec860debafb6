"""Benchmark: marginal effects after weighting at 10^5 rows (Python, and optionally the real
R packages on the same data).

    /work/venv/bin/python benchmarks/bench_effects.py --n 100000 [--r] [--reps 2]

Python: weightit (glm, ATE) + glm_weightit (M-estimation) + avg_comparisons (difference,
ratio, odds ratio); weighted survfit + rmst_difference + survfit_difference. With ``--r``
(R_LIBS_USER must point to WeightIt 1.5.1 / marginaleffects 0.22.0 / survRM2): the same
pipeline in R run once, and the max relative difference of the numbers. Results are appended
to benchmarks/results.md. Never run in tests.
"""

from __future__ import annotations

import argparse
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
suppressPackageStartupMessages({library(survival); library(WeightIt); library(marginaleffects)})
args <- commandArgs(TRUE)
d <- read.csv(args[1])
t0 <- proc.time()[["elapsed"]]
W <- weightit(treat ~ x1 + x2 + x3 + x4, data = d, method = "glm", estimand = "ATE")
fit <- glm_weightit(y ~ treat * (x1 + x2) + x3 + x4, data = d, weightit = W, family = binomial())
t_fit <- proc.time()[["elapsed"]] - t0
t0 <- proc.time()[["elapsed"]]
a <- avg_comparisons(fit, variables = "treat")
r <- avg_comparisons(fit, variables = "treat", comparison = "lnratioavg")
o <- avg_comparisons(fit, variables = "treat", comparison = "lnoravg")
t_me <- proc.time()[["elapsed"]] - t0
t0 <- proc.time()[["elapsed"]]
km <- survfit(Surv(time, status) ~ treat, data = d, weights = W$weights)
tab <- summary(km, rmean = 5)$table
s <- summary(km, times = c(2, 4))
t_km <- proc.time()[["elapsed"]] - t0
out <- list(t_fit = t_fit, t_me = t_me, t_km = t_km,
            me = c(a$estimate, a$std.error, r$estimate, r$std.error, o$estimate, o$std.error),
            rmean = unname(tab[, "rmean"]), se_rmean = unname(tab[, "se(rmean)"]),
            surv = s$surv, se = s$std.err)
writeLines(jsonlite::toJSON(out, digits = NA), args[2])
"""


def make_data(n: int, seed: int = 20261127) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    p = 1 / (1 + np.exp(-(-0.3 + x @ np.array([0.5, -0.4, 0.3, 0.2]))))
    treat = (rng.uniform(size=n) < p).astype(int)
    eta = -0.5 + 0.4 * treat + x @ np.array([0.6, 0.3, -0.5, 0.1]) + 0.2 * treat * x[:, 0]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    t_ev = rng.exponential(np.exp(1.5 - 0.3 * treat - 0.4 * x[:, 0]))
    t_c = rng.uniform(2, 10, size=n)
    d = pd.DataFrame(x, columns=["x1", "x2", "x3", "x4"])
    d["treat"], d["y"] = treat, y
    d["time"] = np.round(np.minimum(t_ev, t_c), 4)
    d["status"] = (t_ev <= t_c).astype(int)
    return d


def run_python(d: pd.DataFrame, reps: int):
    import carts_iptw as c

    best = {}
    res = {}
    for _ in range(reps):
        t0 = time.perf_counter()
        W = c.weightit("treat ~ x1 + x2 + x3 + x4", d)
        fit = c.glm_weightit("y ~ treat * (x1 + x2) + x3 + x4", d, W)
        t1 = time.perf_counter()
        me = [c.avg_comparisons(fit, "treat", k) for k in ("difference", "ratio", "oddsratio")]
        t2 = time.perf_counter()
        km = c.survfit("Surv(time, status) ~ treat", d, weights=W.weights)
        rm = km.rmean(5)
        sd = c.survfit_difference(km, [2, 4])
        c.rmst_difference(km, 5)
        t3 = time.perf_counter()
        for k, v in (("fit", t1 - t0), ("me", t2 - t1), ("km", t3 - t2)):
            best[k] = min(best.get(k, np.inf), v)
    res["me"] = np.array([[m.estimate if m.comparison == "difference" else np.log(m.estimate),
                           m.std_error] for m in me]).ravel()
    res["rmean"], res["se_rmean"] = rm["rmean"].to_numpy(), rm["se_rmean"].to_numpy()
    a = sd.arms
    res["surv"] = a["value"].to_numpy()
    res["se"] = a["std_err"].to_numpy()
    return best, res


def run_r(d: pd.DataFrame):
    return rscript_json(d, R_SCRIPT)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--r", action="store_true")
    a = ap.parse_args()
    d = make_data(a.n)
    best, res = run_python(d, a.reps)
    rr = run_r(d) if a.r else None
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"\n## effects, n = {a.n:,} ({stamp})\n",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores shared, load average "
             f"{os.getloadavg()[0]:.1f}. Python: best of {a.reps} (wall seconds).\n",
             "| step | Python (s) | R (s, elapsed) | max rel. diff |", "|---|---|---|---|"]
    rows = [("weightit + glm_weightit (M-estimation)", "fit", "t_fit", None),
            ("avg_comparisons x 3 (difference, ratio, odds ratio; delta method)", "me", "t_me", "me"),
            ("weighted survfit + rmean + rmst_difference + survfit_difference", "km", "t_km", None)]
    for label, k, rk, q in rows:
        rt = f"{rr[rk][0] if isinstance(rr[rk], list) else rr[rk]:.2f}" if rr else "not run"
        diff = ""
        if rr and q:
            diff = f"{rel(res[q], rr[q]):.1e}"
        if rr and k == "km":
            diff = f"{max(rel(res[x], rr[x]) for x in ('rmean', 'se_rmean', 'surv', 'se')):.1e}"
        lines.append(f"| {label} | {best[k]:.2f} | {rt} | {diff} |")
    text = "\n".join(lines) + "\n"
    print(text)
    append_results(text)


if __name__ == "__main__":
    main()
