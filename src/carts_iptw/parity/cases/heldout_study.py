"""A held-out study through the command line, against the same study run in R.

Not CAR T and not one of the worked studies: a generated cohort (statin use and LDL change /
major cardiac events, its own column names, a 3-level factor, a natural spline of age in the
propensity model, a continuous and a time-to-event outcome, follow-up in days, missing lab values
excluded by an eligibility rule) and a spec
written from docs/study.md are written to a temporary folder; ``carts-iptw run`` runs in a
subprocess, and every number of its ``results.json`` is compared with the study's generated
``reproduce.R`` run on the same CSV (``r_reference/study.R``: the spec's R rules evaluated by R
itself, the real WeightIt, cobalt, survey, survival, marginaleffects) and, for the weight
summaries, with ``WeightIt::summary.weightit`` (``r_reference/weighting_terms.R``).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from carts_iptw.parity.cases.study import _PACKAGES, _TWIN, _tolerances
from carts_iptw.parity.cases.study import _args as _study_args
from carts_iptw.parity.registry import ParityCase, register

SPEC = '''\
# A held-out study written from docs/study.md (not a bundled study).
[study]
name = "Statins and LDL change / cardiac events (held-out, generated data)"
description = "Generated cohort: statin users vs non-users, ATE weights."
horizons = [180, 365, 730]
time_unit = "days"
time_origin = "enrolment"

[cohort]
id = "subject_ref"

[treatment]
column = "statin"
treated_label = "Statin"
control_label = "No statin"

[[eligibility]]
label = "aged 40 or over"
rule = "age_yrs >= 40"
[[eligibility]]
label = "eGFR measured"
rule = "!is.na(egfr) & region %in% c(\\"north\\", \\"south\\", \\"west\\")"

[propensity]
covariates = ["ns(age_yrs, df = 3)", "region", "diabetic", "egfr"]
method = "glm"
estimand = "ATE"
smd_threshold = 0.1

[labels]
age_yrs = "Age, years"
"ns(age_yrs, df = 3)" = "Age (natural spline, 3 df)"
region = "Region"
diabetic = "Diabetes"
egfr = "eGFR, ml/min"

[adjustment]
main = ["age_yrs", "diabetic"]

[[table1]]
column = "age_yrs"
label = "Age, years"
type = "continuous"
[[table1]]
column = "region"
label = "Region"
type = "categorical"
[[table1]]
column = "diabetic"
label = "Diabetes"
type = "binary"
[[table1]]
column = "egfr"
label = "eGFR, ml/min"
type = "continuous"

[[outcomes]]
name = "ldl"
label = "LDL change, mmol/l"
type = "continuous"
column = "ldl_change"
adjust = "main"
primary = true

[[outcomes]]
name = "mace"
label = "Major cardiac event"
type = "time_to_event"
time = "mace_days"
event = "mace"
rare = false
adjust = "main"
'''


def heldout_cohort(n: int = 420, seed: int = 20261127) -> pd.DataFrame:
    """The generated cohort as a user would hand it over (a CSV's columns)."""
    rng = np.random.default_rng(seed)
    age = np.round(rng.normal(61, 11, n), 1)
    region = rng.choice(["north", "south", "west"], n, p=[0.45, 0.35, 0.2])
    diabetic = (rng.uniform(size=n) < 0.25).astype(int)
    egfr = np.round(rng.normal(78, 16, n), 1)
    egfr[rng.uniform(size=n) < 0.04] = np.nan
    lin = -2.0 + 0.035 * (age - 60) + 0.9 * diabetic + 0.5 * (region == "south") \
        - 0.4 * (region == "west") - 0.01 * (np.nan_to_num(egfr, nan=78) - 78)
    statin = (rng.uniform(size=n) < 1 / (1 + np.exp(-lin))).astype(int)
    ldl = np.round(-0.9 * statin + 0.01 * (age - 60) + 0.2 * diabetic + rng.normal(0, 0.6, n), 3)
    haz = np.exp(-7.2 - 0.35 * statin + 0.03 * (age - 60) + 0.6 * diabetic)
    t_event = np.ceil(rng.exponential(1 / haz))
    t_cens = np.ceil(rng.uniform(200, 900, n))
    days = np.minimum(np.minimum(t_event, t_cens), 730)
    mace = ((t_event <= t_cens) & (t_event <= 730)).astype(int)
    return pd.DataFrame({
        "subject_ref": [f"HX{i:04d}" for i in range(1, n + 1)], "age_yrs": age,
        "region": region, "diabetic": diabetic, "egfr": egfr, "statin": statin,
        "ldl_change": ldl, "mace_days": days, "mace": mace})


@functools.cache
def _spec():
    import tomllib

    from carts_iptw.study.spec import parse_spec

    return parse_spec(tomllib.loads(SPEC), "heldout.toml")


def heldout_data() -> pd.DataFrame:
    """The cohort as the CSV gives it, without derived columns (the script derives them)."""
    sch = _spec().schema()
    raw = heldout_cohort()
    return raw.drop(columns=[d.name for d in sch.derived if d.name in raw.columns])


@functools.cache
def run_cli() -> dict:
    """Write spec + CSV to a temporary folder, run ``carts-iptw run``, return results.json.

    (The report and tables stay in ``results["_folder"]`` until the process ends.)
    """
    import carts_iptw

    folder = Path(tempfile.mkdtemp(prefix="carts-iptw-heldout-"))
    atexit.register(shutil.rmtree, folder, True)
    (folder / "study.toml").write_text(SPEC, encoding="utf-8")
    heldout_cohort().to_csv(folder / "cohort.csv", index=False)
    src = str(Path(carts_iptw.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [src, *filter(None, [os.environ.get("PYTHONPATH")])]), "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "carts_iptw.cli", "run", "--data", str(folder / "cohort.csv"),
         "--spec", str(folder / "study.toml"), "--out", str(folder / "out")],
        capture_output=True, text=True, env=env, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"carts-iptw run exited {proc.returncode}: {proc.stderr[-2000:]}")
    res = json.loads((folder / "out" / "results.json").read_text(encoding="utf-8"))
    res["_folder"] = str(folder / "out")
    return res


def _python_study(data: pd.DataFrame, args) -> dict:
    from carts_iptw.parity.cases.study import results_quantities

    return results_quantities(run_cli(), args)


def _python_weights(data: pd.DataFrame, args) -> dict:
    from carts_iptw.study.analysis import value_of

    spec = _spec()
    p = run_cli()["propensity"]
    out = {}
    for arm, lab in (("control", spec.control_label), ("treated", spec.treated_label)):
        out[arm] = pd.Series({k: float(value_of(p[lab][k]))
                              for k in ("n", "w_min", "w_max", "coef_of_var", "ess")})
    return out


def _weight_args() -> dict:
    """What ``study_weight_summary`` needs: the propensity model and the eligibility rules."""
    spec = _spec()
    return {"treatment": spec.treatment, "estimand": spec.propensity.estimand,
            "ps_formula": f"{spec.treatment} ~ {' + '.join(spec.propensity.covariates)}",
            "rules": [{"rule": st.rule, "applies_to": st.applies_to}
                      for st in spec.eligibility.steps]}


register(ParityCase(
    name="study.heldout.cli",
    function="run_study",
    r_twin=_TWIN,
    dataset=heldout_data,
    r_file="study.R",
    r_function="ref_reproduce",
    args=_study_args(_spec),
    python=_python_study,
    rtol=1e-6,
    exact=("flow",),
    tolerances=_tolerances(_spec()),
    r_packages=_PACKAGES,
    description="held-out study (generated, not CAR T, days) through `carts-iptw run`: "
                "every number of results.json against its generated reproduce.R (flow, ESS, "
                "SMDs, Table 1, mean difference, KM, log-rank, HR, marginal effects)",
))

register(ParityCase(
    name="study.heldout.cli.weights",
    function="run_study",
    r_twin="WeightIt::summary.weightit (r_reference/weighting_terms.R)",
    dataset=heldout_data,
    r_file="weighting_terms.R",
    r_function="study_weight_summary",
    args=_weight_args(),
    python=_python_weights,
    rtol=1e-6,
    r_packages=("WeightIt",),
    description="held-out study through `carts-iptw run`: the weight summaries in "
                "results.json (n, range, CV, ESS per arm) against summary.weightit",
))
