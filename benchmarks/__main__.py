"""One entry point for the benchmarks: Python and R on the same data, in the same run.

    python -m benchmarks [--sizes 10000 100000 1000000] [--reps 2] [--no-r]
                         [--r-quadratic-max 100000] [--study 100000 1000000] [--big]
                         [--seed N] [--study-data COHORT [--study-spec SPEC]]
                         [--blas-threads 1] [--out benchmarks/results.md]

For each size, one synthetic data set (seeded) is written to a CSV; a Python worker process
(one per size, so that its peak memory is its own) times each fit ``--reps`` times (best CPU
and wall seconds), and one Rscript process reads the same CSV and times R's twin of each fit
(``proc.time()``: user + system CPU seconds, and elapsed). Both sides return their numbers;
the table shows the largest relative difference. R's robust Cox model and weighted
Kaplan-Meier are quadratic in n (survival 3.5-3): they run only up to ``--r-quadratic-max``
rows and are recorded as skipped, with the reason, above it. ``--study`` times the whole
``run_study`` on a ``simulate_cohort`` cohort; ``--big`` a 10^7-row weighted robust Cox fit
and weighted KM (Python only). The machine is shared: the load average is recorded and CPU
seconds are the comparable number. Never run in tests.

Held-out checks: ``--seed N`` draws other data (the fits' cohort, the simulated study cohorts
and the 10^7 rows) from seed N instead of the recorded defaults; ``--study-data`` (CSV or
Parquet, with ``--study-spec`` TOML, default the reference spec) times ``run_study`` on any
cohort, step by step.

The older single-purpose scripts (``bench_survival.py``, ``bench_effects.py``) still run on
their own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._common import append_results

HERE = Path(__file__).resolve().parent
PY = sys.executable

COVS = "x1 + x2 + x3 + b1 + f"
FITS = [
    # name, R twin (shown in the table), quadratic in R
    ("weightit", "WeightIt::weightit(method = 'glm', estimand = 'ATE')", False),
    ("glm", "stats::glm(binomial)", False),
    ("svyglm", "survey::svyglm(quasibinomial)", False),
    ("glm_robust", "glm(quasibinomial, weights) + sandwich::vcovHC('HC0')", False),
    ("bal_tab", "cobalt::bal.tab(W, un = TRUE)", False),
    ("svychisq", "survey::svychisq(~f + treat)", False),
    ("svyranktest", "survey::svyranktest(yc ~ treat)", False),
    ("svyquantile", "survey::svyquantile(~yc, c(.25, .5, .75))", False),
    ("concordance", "survival::concordancefit(reverse = TRUE, weights)", False),
    ("coxph_robust", "survival::coxph(weights, robust = TRUE)", True),
    ("survfit", "survival::survfit(weights) (robust IJ std.err)", True),
]

R_SCRIPT = r"""
suppressPackageStartupMessages({library(survival); library(survey); library(sandwich)
  library(WeightIt); library(cobalt)})
a <- commandArgs(TRUE)
d <- read.csv(a[1]); d$f <- factor(d$f, levels = c("a", "b", "c"))
quad <- as.integer(a[3]) == 1
covs <- "x1 + x2 + x3 + b1 + f"
out <- list(); tm <- list()
run <- function(name, expr) {
  gc(reset = TRUE)
  t0 <- proc.time()
  v <- eval.parent(substitute(expr))
  t1 <- proc.time() - t0
  tm[[name]] <<- list(cpu = unname(t1[["user.self"]] + t1[["sys.self"]]),
                      wall = unname(t1[["elapsed"]]),
                      mem_mb = {g <- gc(); sum(g[, ncol(g)])})
  out[[name]] <<- v
}
run("weightit", {W <- weightit(as.formula(paste("treat ~", covs)), data = d, method = "glm",
                               estimand = "ATE"); W$weights})
fy <- as.formula(paste("y ~ treat +", covs))
run("glm", unname(coef(glm(fy, data = d, family = binomial()))))
des <- svydesign(ids = ~1, weights = ~w, data = d)
run("svyglm", {s <- svyglm(fy, des, family = quasibinomial()); c(coef(s), SE(s))})
run("glm_robust", {g <- suppressWarnings(glm(fy, data = d, weights = w, family = quasibinomial()))
  c(coef(g), sqrt(diag(sandwich::vcovHC(g, type = "HC0"))))})
run("bal_tab", {b <- bal.tab(W, un = TRUE, stats = "mean.diffs", binary = "std",
                            continuous = "std")
  b$Balance$Diff.Adj})
run("svychisq", {h <- svychisq(~f + treat, des); c(h$statistic, h$p.value)})
run("svyranktest", {h <- svyranktest(yc ~ treat, des); c(h$statistic, h$p.value)})
run("svyquantile", unname(coef(svyquantile(~yc, des, c(.25, .5, .75), ci = FALSE))))
run("concordance", {cf <- concordancefit(Surv(d$time, d$status), d$risk, weights = d$w,
                                         reverse = TRUE, timefix = FALSE)
  c(cf$count[1:5], cf$concordance, sqrt(cf$var))})
fs <- Surv(time, status) ~ treat + x1 + x2 + x3 + b1
if (quad) {
  run("coxph_robust", {cx <- coxph(fs, data = d, weights = w, robust = TRUE)
    c(coef(cx), sqrt(diag(cx$var)))})
  run("survfit", {km <- survfit(Surv(time, status) ~ treat, data = d, weights = w)
    c(km$surv, km$std.err)})
}
writeLines(jsonlite::toJSON(list(times = tm, values = out,
                                 versions = list(R = R.version.string,
                                   survival = as.character(packageVersion("survival")),
                                   survey = as.character(packageVersion("survey")),
                                   WeightIt = as.character(packageVersion("WeightIt")),
                                   cobalt = as.character(packageVersion("cobalt")),
                                   sandwich = as.character(packageVersion("sandwich")))),
                            digits = NA, auto_unbox = TRUE), a[2])
"""


def make_data(n: int, seed: int = 20261127) -> pd.DataFrame:
    """A seeded cohort: covariates, treatment, binary / skewed / time-to-event outcomes."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    x3 = np.round(rng.normal(60, 10, size=n), 1)
    b1 = rng.integers(0, 2, n)
    fi = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    lp = -0.4 + 0.5 * x1 - 0.3 * x2 + 0.02 * (x3 - 60) + 0.4 * b1 + np.array([0, 0.3, -0.4])[fi]
    ps = 1 / (1 + np.exp(-lp))
    treat = (rng.uniform(size=n) < ps).astype(int)
    eta = -1.2 + 0.4 * treat + 0.3 * x1 + 0.2 * x2 - 0.01 * (x3 - 60) + 0.3 * b1 + 0.2 * fi
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    yc = np.round(np.exp(1 + 0.3 * treat + 0.4 * x1 + rng.normal(size=n)), 2)
    t = rng.exponential(np.exp(-(0.1 * eta))) * 24
    c = rng.uniform(0, 48, n)
    time_ = np.round(np.minimum(t, c), 2) + 0.01  # ties, as in follow-up data
    status = (t <= c).astype(int)
    w = np.where(treat == 1, 1 / ps, 1 / (1 - ps))
    risk = np.round(0.5 * x1 + 0.3 * b1 - 0.2 * x2, 3)  # a risk score with ties
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "b1": b1,
                         "f": np.array(["a", "b", "c"])[fi], "treat": treat, "y": y, "yc": yc,
                         "time": time_, "status": status, "w": w, "risk": risk})


# ---------------------------------------------------------------- Python side
def _python_fits(d: pd.DataFrame):
    from carts_iptw import (
        bal_tab,
        glm,
        glm_robust,
        svychisq,
        svydesign,
        svyglm,
        svyquantile,
        svyranktest,
        weightit,
    )
    from carts_iptw.survival import coxph, survfit
    from carts_iptw.survival.concordance import concordance_fit

    d = d.copy()
    d["f"] = pd.Categorical(d["f"], categories=["a", "b", "c"])
    fy = f"y ~ treat + {COVS}"
    state: dict = {}

    def w_fit():
        state["W"] = weightit(f"treat ~ {COVS}", d, method="glm", estimand="ATE")
        return np.asarray(state["W"].weights)

    def des():
        if "des" not in state:
            state["des"] = svydesign(d, weights="w")
        return state["des"]

    def sg():
        s = svyglm(fy, des(), family="quasibinomial")
        return np.r_[s.coef.to_numpy(), s.se.to_numpy()]

    def gr():
        g = glm_robust(fy, d, weights="w", family="quasibinomial", vcov="HC0")
        return np.r_[g.coef.to_numpy(), g.se.to_numpy()]

    def bt():
        b = bal_tab(state["W"], un=True, stats=("mean.diffs",), binary="std", continuous="std")
        return b.balance["Diff.Adj"].to_numpy(dtype=float)

    def chi():
        h = svychisq("~f + treat", des())
        return [h.statistic, h.p_value]

    def rank():
        h = svyranktest("yc ~ treat", des())
        return [h.statistic, h.p_value]

    def quant():
        q = svyquantile(["yc"], des(), [0.25, 0.5, 0.75], ci=False)
        return q["yc"]["quantile"].to_numpy()

    def conc():
        s = concordance_fit(d["time"], d["status"], d["risk"], weights=d["w"])
        return s.to_numpy()

    def cox():
        c = coxph("Surv(time, status) ~ treat + x1 + x2 + x3 + b1", d, weights="w", robust=True)
        return np.r_[c.coef.to_numpy(), c.se.to_numpy()]

    def km():
        k = survfit("Surv(time, status) ~ treat", d, weights="w")
        return np.r_[k.table["surv"].to_numpy(), k.table["std_err"].to_numpy()]

    return {"weightit": w_fit, "glm": lambda: glm(fy, d, family="binomial").coef.to_numpy(),
            "svyglm": sg, "glm_robust": gr, "bal_tab": bt, "svychisq": chi,
            "svyranktest": rank, "svyquantile": quant, "concordance": conc,
            "coxph_robust": cox, "survfit": km}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(csv: str, reps: int, out: str) -> None:
    """Time every Python fit on the CSV (in this process); write JSON."""
    import warnings

    warnings.simplefilter("ignore")
    d = pd.read_csv(csv)
    fits = _python_fits(d)
    res = {}
    for name, fn in fits.items():
        cpus, walls = [], []
        val = None
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.process_time()
            val = fn()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        res[name] = {"cpu": min(cpus), "wall": min(walls),
                     "values": np.asarray(val, dtype=float).tolist(), "rss_mb": _rss_mb()}
    Path(out).write_text(json.dumps(res))


def study_worker(n: int, out: str, seed: int = 1, data: str | None = None,
                 spec: str | None = None) -> None:
    """``run_study`` on a ``simulate_cohort`` cohort of n patients, or on the cohort file
    ``data`` with ``spec`` (in this process)."""
    import warnings

    from carts_iptw.study.pipeline import run_study
    from carts_iptw.study.synthetic import simulate_cohort

    warnings.simplefilter("ignore")
    if data is None:
        nc = int(round(n * 110 / 171))
        df = simulate_cohort(seed=seed, n_control=nc, n_treated=n - nc)
    else:
        df = data  # the file: run_study reads (and times) it
    steps = []
    last = [time.perf_counter(), time.process_time()]

    def prog(msg):
        now = (time.perf_counter(), time.process_time())
        steps.append({"step": msg, "wall": now[0] - last[0], "cpu": now[1] - last[1]})
        last[:] = now

    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        run_study(df, spec, Path(tmp) / "out", progress=prog)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    # steps[i] is the time *before* message i: shift so each step owns its own time
    named = [{"step": steps[i]["step"], "wall": steps[i + 1]["wall"], "cpu": steps[i + 1]["cpu"]}
             for i in range(len(steps) - 1)]
    Path(out).write_text(json.dumps({"n": n, "wall": wall, "cpu": cpu, "rss_mb": _rss_mb(),
                                     "steps": named}))


def big_worker(n: int, out: str, seed: int = 20261127) -> None:
    """A weighted robust Cox fit and a weighted KM at n rows (Python only)."""
    from carts_iptw.survival import coxph, survfit

    d = make_data(n, seed)
    res = {}
    t0, c0 = time.perf_counter(), time.process_time()
    coxph("Surv(time, status) ~ treat + x1 + x2 + x3 + b1", d, weights="w", robust=True)
    res["coxph_robust"] = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                           "rss_mb": _rss_mb()}
    t0, c0 = time.perf_counter(), time.process_time()
    survfit("Surv(time, status) ~ treat", d, weights="w")
    res["survfit"] = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                      "rss_mb": _rss_mb()}
    Path(out).write_text(json.dumps(res))


# ---------------------------------------------------------------- driver
#: BLAS threads of every worker process (Python and Rscript), set by --blas-threads
BLAS_THREADS = {"n": 1}


def _blas_env() -> dict:
    """Thread counts of the BLAS libraries for the workers (read when they start).

    OpenBLAS's threads spin while they wait for work: on a shared 2-core machine a threaded
    BLAS turns a thin product (p x n times n x p) into seconds of spinning, so the workers run
    one BLAS thread unless --blas-threads says otherwise.
    """
    v = str(BLAS_THREADS["n"])
    return {k: v for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def _child(args: list[str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    env = dict(os.environ)
    env.update(_blas_env())
    src = str(HERE.parent / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    subprocess.run([PY, "-m", "benchmarks", *args, "--json", out], check=True, env=env,
                   cwd=str(HERE.parent))
    res = json.loads(Path(out).read_text())
    os.unlink(out)
    return res


def _run_r(csv: str, quadratic: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT)
        out = Path(tmp) / "r.json"
        subprocess.run(["Rscript", str(script), csv, str(out), "1" if quadratic else "0"],
                       check=True, env={**os.environ, **_blas_env()})
        return json.loads(out.read_text())


def rel_diff(a, b) -> float:
    """Largest relative difference (absolute where R's value is 0)."""
    a = np.atleast_1d(np.asarray(a, dtype=float))
    b = np.atleast_1d(np.asarray(b, dtype=float))
    if a.shape != b.shape:
        return float("nan")
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        return float("nan")
    den = np.where(b[ok] != 0, np.abs(b[ok]), 1.0)
    return float(np.max(np.abs(a[ok] - b[ok]) / den))


def _versions() -> str:
    import numpy
    import scipy

    import carts_iptw

    return (f"Python {platform.python_version()}, numpy {numpy.__version__}, pandas "
            f"{pd.__version__}, scipy {scipy.__version__}, carts_iptw {carts_iptw.__version__}")


def _fmt(x, nd=2):
    return "" if x is None else f"{x:.{nd}f}"


def main(argv=None) -> None:
    """Parse the command line and run the benchmarks (or one worker)."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--r-quadratic-max", type=int, default=100_000,
                    help="largest n at which R's quadratic robust Cox / weighted KM run")
    ap.add_argument("--study", type=int, nargs="*", default=[])
    ap.add_argument("--big", type=int, nargs="?", const=10_000_000, default=None)
    ap.add_argument("--out", default=str(HERE / "results.md"))
    ap.add_argument("--seed", type=int, default=None,
                    help="draw every data set from this seed (held-out data) instead of the "
                         "defaults (20261127 for the fits and 10^7 rows, 1 for the studies)")
    ap.add_argument("--study-data", default=None,
                    help="time run_study on this cohort (CSV or Parquet) too")
    ap.add_argument("--study-spec", default=None, help="the TOML spec for --study-data")
    ap.add_argument("--blas-threads", type=int, default=1,
                    help="BLAS threads of each worker process (OPENBLAS_NUM_THREADS etc.)")
    # internal: worker modes
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--json", help=argparse.SUPPRESS)
    ap.add_argument("--csv", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker == "fits":
        return worker(a.csv, a.reps, a.json)
    fit_seed = 20261127 if a.seed is None else a.seed
    study_seed = 1 if a.seed is None else a.seed
    if a.worker == "study":
        return study_worker(a.study[0] if a.study else 0, a.json, study_seed, a.study_data,
                            a.study_spec)
    if a.worker == "big":
        return big_worker(a.big, a.json, fit_seed)

    BLAS_THREADS["n"] = a.blas_threads
    load0 = os.getloadavg()
    lines = [f"\n## python -m benchmarks ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
             "", f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other "
             f"sessions), load average {load0[0]:.1f} / {load0[1]:.1f} / {load0[2]:.1f} "
             "(1 / 5 / 15 min) at start. " + _versions() + f"; BLAS threads per worker "
             f"{a.blas_threads} (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS). Data seeds: fits "
             f"{fit_seed}, studies {study_seed}.", "",
             "CPU = user + system seconds of the process (Python: best of "
             f"{a.reps}; R: one run, `proc.time()`); wall in brackets. Ratio = R CPU / Python "
             "CPU (> 1: Python faster). Peak memory: Python worker's max RSS after the fit "
             "(cumulative over the fits of that size); R: `gc()` max used (Mb) in the fit.", ""]
    rver = None
    for n in a.sizes:
        d = make_data(n, fit_seed)
        with tempfile.TemporaryDirectory() as tmp:
            csv = str(Path(tmp) / f"bench_{n}.csv")
            d.to_csv(csv, index=False, float_format="%.17g")
            print(f"n = {n:,}: Python ...", flush=True)
            py = _child(["--worker", "fits", "--csv", csv, "--reps", str(a.reps)])
            r = None
            if not a.no_r:
                quad = n <= a.r_quadratic_max
                print(f"n = {n:,}: R (quadratic fits {'on' if quad else 'skipped'}) ...",
                      flush=True)
                r = _run_r(csv, quad)
                rver = r.get("versions", rver)
        lines += [f"### n = {n:,}", "", "| fit | R twin | Python CPU (wall) s | R CPU (wall) s | "
                  "ratio R/Python | max rel. diff | Python peak RSS MB | R max used Mb |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, twin, quadratic in FITS:
            p = py[name]
            rt = (r or {}).get("times", {}).get(name)
            if rt is not None:
                rv = r["values"][name]
                diff = rel_diff(p["values"], rv)
                ratio = rt["cpu"] / p["cpu"] if p["cpu"] > 0 else float("inf")
                rcell = f"{_fmt(rt['cpu'])} ({_fmt(rt['wall'])})"
                extra = f"{ratio:.1f} | {diff:.1e} | {p['rss_mb']:.0f} | {rt['mem_mb']:.0f}"
            else:
                why = ("R not run (--no-r)" if r is None else
                       f"skipped: R's {name} is quadratic in n (n > {a.r_quadratic_max:,})"
                       if quadratic else "R did not return it")
                rcell = why
                extra = f" | | {p['rss_mb']:.0f} | "
            lines.append(f"| {name} | {twin} | {_fmt(p['cpu'])} ({_fmt(p['wall'])}) | {rcell} | "
                         f"{extra} |")
        lines.append("")
    if rver:
        lines += ["R versions: " + ", ".join(f"{v}" if k == "R" else f"{k} {v}"
                                            for k, v in rver.items()), ""]
    seed_arg = [] if a.seed is None else ["--seed", str(a.seed)]
    studies = [(n, ["--study", str(n)], f"run_study on simulate_cohort, seed {study_seed}")
               for n in a.study]
    if a.study_data:
        spec_arg = ["--study-spec", a.study_spec] if a.study_spec else []
        studies.append((None, ["--study-data", a.study_data, *spec_arg],
                        f"run_study on {Path(a.study_data).name}, spec "
                        f"{Path(a.study_spec).name if a.study_spec else 'reference'}"))
    for n, args, what in studies:
        print(f"study {what} ...", flush=True)
        s = _child(["--worker", "study", *args, *seed_arg])
        size = f"n = {n:,}" if n else "cohort file"
        lines += [f"### Full study ({what}), {size}", "",
                  f"CPU {s['cpu']:.1f} s, wall {s['wall']:.1f} s, peak RSS "
                  f"{s['rss_mb'] / 1024:.2f} GB, load average {os.getloadavg()[0]:.1f} at the "
                  "end.", "", "| step | CPU s | wall s |", "|---|---|---|"]
        lines += [f"| {st['step']} | {st['cpu']:.2f} | {st['wall']:.2f} |" for st in s["steps"]]
        lines.append("")
    if a.big:
        print(f"big n = {a.big:,} ...", flush=True)
        b = _child(["--worker", "big", "--big", str(a.big), *seed_arg])
        lines += [f"### n = {a.big:,}: weighted robust Cox and weighted KM (Python)", "",
                  "| fit | CPU s | wall s | peak RSS GB (process, incl. the data) |",
                  "|---|---|---|---|"]
        lines += [f"| {k} | {v['cpu']:.1f} | {v['wall']:.1f} | {v['rss_mb'] / 1024:.2f} |"
                  for k, v in b.items()]
        lines.append("")
    text = "\n".join(lines) + "\n"
    print(text)
    append_results(text, a.out)


if __name__ == "__main__":
    main()
