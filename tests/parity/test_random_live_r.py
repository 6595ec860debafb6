"""Random data against live R: the property suite's relations checked against R itself.

Each seed of a fixed list draws a cohort-like data set in Python (numpy Generator); rpy2 sends
it to R, where ``r_reference/properties.R`` fits it with the reference packages (survey::svyglm,
survival::coxph, survival::survfit, survey::svychisq, the real WeightIt). Default tolerance:
relative 1e-6 (counts and times exact). ``CARTS_IPTW_R=require`` fails when R cannot start (the
``r_reference`` fixture); otherwise (``auto``, ``snapshot``) the module skips with the reason. The real WeightIt is
optional (the registry's rule): without it those cases skip with the reason. Every test records
the R and package versions it compared against (the run's closing summary).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import carts_iptw as ci
from carts_iptw.parity import rbridge
from carts_iptw.parity.runner import current_mode, live_status

SEEDS = [11, 2024, 31337, 404, 7, 123456, 99, 5150]
RTOL = 1e-6
R_FILE = "properties.R"


def draw(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(80, 220))
    age = rng.normal(60, 10, n).round(1)
    g = rng.choice(["lo", "mid", "hi"], n, p=[0.3, 0.4, 0.3])
    x = rng.normal(size=n)
    lin = -0.3 + 0.03 * (age - 60) + 0.5 * (g == "hi") + 0.4 * x
    t = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.2 * t + 0.3 * x)))).astype(int)
    time = np.round(rng.exponential(10 * np.exp(-0.3 * t - 0.2 * x)), 1) + 0.1  # tied times
    ev = (rng.random(n) < 0.7).astype(int)
    return pd.DataFrame({"t": t, "y": y, "age": age, "g": g, "x": x, "TRUE": rng.normal(size=n),
                         "time": time, "ev": ev, "w": rng.uniform(0.3, 3.0, n),
                         "site": [f"s{k:02d}" for k in rng.integers(0, 40, n)]})


def _versions(packages) -> str:
    v = rbridge.r_versions()
    pk = ", ".join(f"{p} {v['packages'].get(p)}" for p in packages)
    return f"live {v['R']} (rpy2 {v['rpy2']}), {pk}"


def _close(py, r, what, rtol=RTOL, atol=0.0):
    py = np.asarray(py, dtype=float)
    r = np.asarray(r, dtype=float)
    assert py.shape == r.shape, f"{what}: shape {py.shape} vs R {r.shape}"
    np.testing.assert_allclose(py, r, rtol=rtol, atol=atol, err_msg=what)


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.CartsIptwWarning)
        return fn()


@pytest.fixture(scope="module")
def call(request):
    if current_mode() == "snapshot":
        pytest.skip("CARTS_IPTW_R=snapshot: random data are compared against live R only")
    return request.getfixturevalue("r_reference")  # fails in require mode without R


@pytest.mark.parametrize("seed", SEEDS)
def test_svyglm_random(call, record_parity, seed):
    d = draw(seed)
    f = "y ~ t + age + g + x + `TRUE`"
    r = call(R_FILE, "prop_svyglm", d, {"formula": f})
    py = _quiet(lambda: ci.svyglm(f, ci.svydesign(d, weights="w")))
    assert list(py.coef.index) == list(r["names"])  # R's names, `TRUE` included
    _close(py.coef, r["coef"], "coef")
    _close(py.se, r["se"], "se")
    record_parity(f"random.svyglm.seed{seed}", "PASS", _versions(("survey",)))


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("seed", SEEDS)
def test_coxph_random(call, record_parity, seed, ties):
    d = draw(seed)
    f = "Surv(time, ev) ~ t + age + g + x"
    r = call(R_FILE, "prop_coxph", d, {"formula": f, "ties": ties})
    py = _quiet(lambda: ci.coxph(f, d, weights="w", ties=ties))
    _close(py.coef, r["coef"], "coef")
    _close(py.se, r["se"], "robust se")
    _close(py.naive_se, r["naive_se"], "naive se")
    _close(py.loglik, r["loglik"], "loglik", rtol=1e-9)
    record_parity(f"random.coxph.{ties}.seed{seed}", "PASS", _versions(("survival",)))


@pytest.mark.parametrize("seed", SEEDS)
def test_survfit_random(call, record_parity, seed):
    d = draw(seed)
    f = "Surv(time, ev) ~ t"
    r = call(R_FILE, "prop_survfit", d, {"formula": f})
    tab = ci.survfit(f, d, weights="w").table
    np.testing.assert_array_equal(tab["time"].to_numpy(dtype=float), np.asarray(r["time"]))
    _close(tab["surv"], r["surv"], "surv")
    _close(tab["std_err"], r["std_err"], "std.err", atol=1e-14)
    record_parity(f"random.survfit.seed{seed}", "PASS", _versions(("survival",)))


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_svychisq_many_cells_random(call, record_parity, seed):
    """40 sites x 2 arms: more cells than pandas' int8 codes held (the bug this guards)."""
    d = pd.concat([draw(seed)] * 4, ignore_index=True)  # enough rows per cell
    d["w"] = np.random.default_rng(seed).uniform(0.3, 3.0, len(d))
    r = call(R_FILE, "prop_svychisq", d, {"formula": "~t + site"})
    py = ci.svychisq("~t + site", ci.svydesign(d, weights="w"))
    _close(py.statistic, r["statistic"], "F")
    _close([py.parameter["ndf"], py.parameter["ddf"]], [r["ndf"], r["ddf"]], "df")
    _close(py.p_value, r["p_value"], "p")
    record_parity(f"random.svychisq.seed{seed}", "PASS", _versions(("survey",)))


@pytest.mark.parametrize("method, estimand", [("glm", "ATE"), ("glm", "ATT"), ("ebal", "ATT")])
@pytest.mark.parametrize("seed", SEEDS)
def test_weightit_random_vs_real_weightit(call, record_parity, seed, method, estimand):
    ok, why = live_status(("WeightIt",))
    if not ok:
        if current_mode() == "require":  # installable from ../shared/r-packages: never a skip
            pytest.fail(f"the real WeightIt is required (CARTS_IPTW_R=require): {why}")
        record_parity(f"random.weightit.{method}.{estimand}.seed{seed}", "SKIP", why)
        pytest.skip(f"the real WeightIt is not installed ({why}); set R_LIBS_USER to its library")
    d = draw(seed)
    f = "t ~ age + g + x"
    args = {"formula": f, "method": method, "estimand": estimand}
    if method == "ebal":
        args["reltol"] = 1e-14
    r = call(R_FILE, "prop_weightit", d, args)
    W = _quiet(lambda: ci.weightit(f, d, method=method, estimand=estimand))
    if method == "glm":
        _close(W.weights, r["weights"], "weights")
        _close(W.ps, r["ps"], "ps")
    else:
        # WeightIt 1.5.1 scales each group's ebal weights to sum to the group's size; here the
        # non-focal group sums to the focal group's size (a known difference, reported): the
        # weights are compared within group, each divided by its group mean
        t = W.treat
        py, rw = W.weights.copy(), np.asarray(r["weights"], dtype=float).copy()
        for g in (0, 1):
            py[t == g] /= py[t == g].mean()
            rw[t == g] /= rw[t == g].mean()
        _close(py, rw, "weights / group mean")
    record_parity(f"random.weightit.{method}.{estimand}.seed{seed}", "PASS",
                  _versions(("WeightIt",)))
