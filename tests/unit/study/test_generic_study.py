"""A study that is not CAR T, written from docs/study.md alone, runs end to end: its own columns,
labels, time unit and horizons drive the schema, the flow table and every caption; sections with
no outcome of their kind are left out."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from carts_iptw.report.figures import time_ticks
from carts_iptw.study.cohort import CohortValidationError, derive_schema
from carts_iptw.study.pipeline import run_study
from carts_iptw.study.spec import load_spec

SPEC = '''
[study]
name = "Drug X and early progression"
description = "A 300-patient cohort, drug X vs no drug"
horizons = [90, 180]
time_unit = "days"
time_origin = "diagnosis"

[cohort]
id = "pat"

[treatment]
column = "drug"
treated_label = "Drug X"
control_label = "No drug"

[[eligibility]]
label = "adults"
rule = "age >= 18"

[[eligibility]]
label = "lab value recorded"
rule = "!is.na(crp)"

[propensity]
covariates = ["age", "I(age^2)", "sex", "factor(stage)", "crp"]
estimand = "ATE"

[adjustment]
base = ["age", "sex"]

[labels]
crp = "C-reactive protein, mg/l"

[[table1]]
column = "age"
label = "Age, years"
type = "continuous"
[[table1]]
column = "stage"
label = "Stage"
type = "categorical"
[[table1]]
column = "sex"
label = "Female"
type = "binary"

[[outcomes]]
name = "resp"
label = "Response"
type = "binary"
definition = "response == 1"
adjust = "base"
primary = true

[[outcomes]]
name = "pfs"
label = "Progression-free survival"
type = "time_to_event"
time = "pfs_days"
event = "progressed"
adjust = "base"
'''


def cohort(n: int = 300, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 10, n).round()
    sex = rng.integers(0, 2, n)
    stage = rng.choice(["I", "II", "III"], n)
    crp = np.exp(rng.normal(2, 0.7, n)).round(1)
    crp[rng.choice(n, 9, replace=False)] = np.nan
    lin = -0.5 + 0.02 * (age - 60) + 0.3 * sex + 0.4 * (stage == "III")
    drug = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    response = (rng.random(n) < 0.3 + 0.15 * drug).astype(int)
    t = rng.exponential(200 / (1 + 0.5 * (stage == "III")) * (1.3 if True else 1), n)
    cens = rng.uniform(60, 400, n)
    return pd.DataFrame({"pat": [f"P{i}" for i in range(n)], "age": age, "sex": sex,
                         "stage": stage, "crp": crp, "drug": drug, "response": response,
                         "pfs_days": np.minimum(t, cens).round(), "progressed": (t <= cens)
                         .astype(int)})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("generic")
    spec = root / "mystudy.toml"
    spec.write_text(SPEC)
    data = root / "mycohort.csv"
    cohort().to_csv(data, index=False)
    res = run_study(data, spec, root / "out")
    return root, res, (root / "out" / "report.html").read_text()


def test_schema_is_derived_from_the_spec(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(SPEC)
    sch = derive_schema(load_spec(p))
    kinds = {c.name: c.kind for c in sch.columns}
    assert kinds["drug"] == "binary" and kinds["progressed"] == "binary"
    assert kinds["pfs_days"] == "numeric" and kinds["pat"] == "id"
    assert kinds["age"] == "numeric"  # Table 1 continuous
    assert {"crp", "stage", "response"} <= set(kinds)
    assert not {"anakinra", "histology", "os_event"} & set(kinds)


def test_runs_end_to_end(run):
    _, res, _ = run
    flow = res["flow"]
    assert [r["step"] for r in flow] == ["cohort as supplied", "adults", "lab value recorded"]
    assert flow[-1]["excluded"] == 9
    assert res["meta"]["arms"] == ["No drug", "Drug X"]
    assert res["survival"][0]["time_unit"] == "days"
    assert set(res["survival"][0]["Drug X"]["at"]) == {"90", "180"}
    assert res["continuous_outcomes"] == [] and res["competing"] == []


def test_report_speaks_the_study_language(run):
    _, _, html = run
    text = re.sub(r"<[^>]+>|data:image/png;base64,[A-Za-z0-9+/=]+", " ", html)
    for word in ("anakinra", "Anakinra", "infusion", "CAR T", "ICANS", "histology",
                 "Infections", "months", "steroid"):
        assert word not in text, word
    assert "Drug X vs No drug" in text
    assert "at 90 days" in text and "at 180 days" in text
    # no duration, competing-risk or continuous outcome: those sections are left out
    for sid in ("distributions", "competing", "continuous"):
        assert f'id="{sid}"' not in html and f'href="#{sid}"' not in html
    for sid in ("outcomes", "odds-ratios", "survival", "cox"):
        assert f'id="{sid}"' in html


def test_csv_tables_and_json(run):
    root, _, _ = run
    names = sorted(p.name for p in (root / "out" / "tables").iterdir())
    assert "distributions.csv" not in names and "survival.csv" in names
    res = json.loads((root / "out" / "results.json").read_text())
    assert res["meta"]["time_unit"] == "days"


def test_bad_cohort_names_column(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    d = cohort().drop(columns=["crp"])
    with pytest.raises(CohortValidationError) as ei:
        run_study(d, spec, tmp_path / "out")
    assert "crp" in {p["column"] for p in ei.value.problems}
    d = cohort()
    d.loc[[1, 2], "drug"] = 7
    with pytest.raises(CohortValidationError) as ei:
        run_study(d, spec, tmp_path / "out2")
    (p,) = ei.value.problems
    assert p["column"] == "drug" and p["rows"] == 2 and "7" not in p["message"]


@pytest.mark.parametrize("unit, tmax, step", [
    ("days", 48, 7), ("days", 400, 60), ("days", 30, 5), ("weeks", 100, 13),
    ("months", 88, 12), ("months", 20, 3), ("years", 15, 2)])
def test_ticks_follow_time_unit_and_follow_up(unit, tmax, step):
    t = time_ticks(tmax, unit)
    assert t[0] == 0 and t[1] == step and len(t) <= 9 and t[-1] <= tmax


def _spec_text(**prop) -> str:
    text = SPEC
    for k, v in prop.items():
        text = text.replace('estimand = "ATE"', f'estimand = "ATE"\n{k} = "{v}"')
    return text


def test_missing_covariates_complete_and_indicator(tmp_path):
    d = cohort()
    d.loc[[5, 6, 7], "age"] = np.nan  # also fails the "adults" rule (NA excludes the row)
    ok = d.index[d["crp"].notna() & (d["age"] >= 18)]
    d.loc[ok[-2:], "sex"] = np.nan
    spec = tmp_path / "s.toml"
    spec.write_text(_spec_text(missing="complete"))
    res = run_study(d, spec, tmp_path / "c")
    assert res["flow"][1]["excluded"] == 3  # age NA: the rule is NA, the row is excluded
    last = res["flow"][-1]
    assert last["step"] == "complete covariate data (sex)" and last["excluded"] == 2
    # indicator: sex is an adjustment covariate and a Table 1 row -> a clear error
    spec.write_text(_spec_text(missing="indicator"))
    with pytest.raises(CohortValidationError, match="sex.*indicator") as ei:
        run_study(d, spec, tmp_path / "i")
    assert ei.value.problems[0]["rows"] == 2


def test_spec_errors_name_section(tmp_path):
    p = tmp_path / "s.toml"
    for text, pat in ((SPEC.replace('time_unit = "days"', 'time_unit = "fortnights"'),
                       r"\[study\]\.time_unit"),
                      (_spec_text(missing="drop"), r"\[propensity\]\.missing"),
                      (SPEC.replace("[labels]", "[lables]"), r"\[lables\].*labels"),
                      (SPEC.replace('rule = "age >= 18"', 'rule = "age => 18"'),
                       r"'adults'.*character 5")):
        p.write_text(text)
        with pytest.raises(ValueError, match=pat):
            load_spec(p)
