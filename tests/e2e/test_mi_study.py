"""A study with missing covariate values runs end to end with [propensity] missing = "mi"
(`carts-iptw run`): survival::colon (death records, Lev+5FU vs observation), whose real missing
values (nodes, differ) are imputed m times; odds and hazard ratios pooled by Rubin's rules."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("statsmodels", reason="missing = 'mi' needs statsmodels (the test extra "
                    "installs it)")

from carts_iptw.cli import main  # noqa: E402
from carts_iptw.datasets import load_dataset  # noqa: E402

SPEC = '''
[study]
name = "Levamisole + 5-FU in colon cancer (multiple imputation)"
description = "survival::colon death records, Lev+5FU vs observation"
horizons = [365, 1825]
time_unit = "days"

[treatment]
column = "trt"
treated_label = "Lev+5FU"
control_label = "Observation"

[propensity]
covariates = ["age", "sex", "obstruct", "nodes", "factor(differ)", "extent"]
estimand = "ATE"
missing = "mi"
m = 3
seed = 2026

[adjustment]
base = ["age", "sex"]

[[table1]]
column = "age"
label = "Age, years"
type = "continuous"
[[table1]]
column = "nodes"
label = "Positive lymph nodes"
type = "continuous"

[[outcomes]]
name = "death"
label = "Death"
type = "binary"
definition = "status == 1"
adjust = "base"
primary = true
rare = false

[[outcomes]]
name = "fu"
label = "Follow-up, days"
type = "continuous"
column = "time"
adjust = "base"

[[outcomes]]
name = "os"
label = "Overall survival"
type = "time_to_event"
time = "time"
event = "status"
adjust = "base"
rare = false
'''


def colon_cohort() -> pd.DataFrame:
    d = load_dataset("colon")
    d = d[(d["etype"] == 2) & (d["rx"] != "Lev")].copy()
    d["trt"] = (d["rx"] == "Lev+5FU").astype(int)
    d["differ"] = d["differ"].map({1.0: "well", 2.0: "moderate", 3.0: "poor"})
    return d[["id", "trt", "age", "sex", "obstruct", "nodes", "differ", "extent", "status",
              "time"]].reset_index(drop=True)


def _run(tmp_path, spec_text, name="out"):
    data = tmp_path / "colon.csv"
    colon_cohort().to_csv(data, index=False)
    spec = tmp_path / "study.toml"
    spec.write_text(spec_text)
    out = tmp_path / name
    rc = main(["run", "--data", str(data), "--spec", str(spec), "--out", str(out)])
    return rc, out


def test_mi_study_runs_end_to_end(tmp_path):
    rc, out = _run(tmp_path, SPEC)
    assert rc == 0
    res = json.loads((out / "results.json").read_text())
    mi = res["mi"]
    d = colon_cohort()
    # the imputed counts are the cohort's missing counts, per column, names only
    assert mi["imputed"] == {"nodes": int(d["nodes"].isna().sum()),
                             "differ": int(d["differ"].isna().sum())}
    assert mi["imputed"]["nodes"] > 0 and mi["imputed"]["differ"] > 0
    assert mi["m"] == 3 and mi["seed"] == 2026
    assert mi["imputation_methods"] == {"nodes": "pmm", "differ": "polyreg"}
    assert sorted(mi["pooled"]) == ["continuous_outcomes:fu", "cox:os", "odds_ratios:death",
                                    "survival:os:differences", "survival:os:rmst"]
    diff = res["continuous_outcomes"][0]["difference"]
    assert diff["estimate"]["function"] == "pool"
    assert diff["lower"]["value"] < diff["estimate"]["value"] < diff["upper"]["value"]
    assert res["odds_ratios"][0]["effects"]["rd"]["estimate"]["function"] == "pool"
    surv = res["survival"][0]
    assert surv["rmst"]["difference"]["estimate"]["function"] == "pool"
    assert {c["estimate"]["function"] for c in surv["difference"].values()} == {"pool"}
    orr = res["odds_ratios"][0]
    assert orr["or"]["function"] == "pool" and orr["pooled"]["m"]["value"] == 3
    assert 0 < orr["lower"]["value"] < orr["or"]["value"] < orr["upper"]["value"]
    hr = res["cox"][0]
    assert hr["hr"]["function"] == "pool"
    assert 0 < hr["pooled"]["fmi"]["value"] < 1
    assert np.isfinite(hr["pooled"]["df"]["value"])
    assert res["propensity"]["missing"] == "mi"
    html = (out / "report.html").read_text()
    assert "multiply imputed" in html
    assert "nodes (" in html and "differ (" in html
    assert res["mi"]["max_abs_smd_weighted_any_imputation"]["value"] < 0.1


def test_mi_study_is_reproducible(tmp_path):
    _, a = _run(tmp_path, SPEC, "a")
    _, b = _run(tmp_path, SPEC, "b")
    ra = json.loads((a / "results.json").read_text())
    rb = json.loads((b / "results.json").read_text())
    assert ra["odds_ratios"][0]["or"] == rb["odds_ratios"][0]["or"]
    assert ra["cox"][0]["hr"] == rb["cox"][0]["hr"]


@pytest.mark.parametrize(("edit", "message"), [
    (('m = 3', 'm = 1'), r"m \(the number of imputations\) must be at least 2, got 1"),
    (('seed = 2026\n', ''), r'missing = "mi" needs seed'),
    (('missing = "mi"', 'missing = "complete"'), r"\[propensity\]\.m is for missing = \"mi\""),
])
def test_spec_errors(tmp_path, edit, message):
    from carts_iptw.study.spec import load_spec

    p = tmp_path / "s.toml"
    p.write_text(SPEC.replace(*edit))
    with pytest.raises(ValueError, match=message):
        load_spec(p)


def _analyse(df):
    from carts_iptw.study.pipeline import _analyse
    from carts_iptw.study.spec import load_spec

    return _analyse(df, load_spec_text(load_spec), lambda s: None)


def load_spec_text(load_spec, text=SPEC):
    import tempfile
    from pathlib import Path

    p = Path(tempfile.mkdtemp()) / "s.toml"
    p.write_text(text)
    return load_spec(p)


def test_outcome_with_missing_values_is_named():
    d = colon_cohort()
    d.loc[d.index[:4], "time"] = np.nan
    with pytest.raises(ValueError, match=r"outcome (fu|os): column 'time' has 4 missing value\(s\).*"
                                         r"imputes covariates only"):
        _analyse(d)


def test_treatment_with_missing_values_is_named():
    from carts_iptw.study.mi import check_mi_input
    from carts_iptw.study.spec import load_spec

    d = colon_cohort().astype({"trt": float})
    d.loc[d.index[:2], "trt"] = np.nan
    with pytest.raises(ValueError, match=r"treatment column 'trt' has 2 missing value\(s\)"):
        check_mi_input(d, load_spec_text(load_spec))


def test_entirely_missing_covariate_is_named():
    d = colon_cohort()
    d["nodes"] = np.nan
    with pytest.raises(ValueError, match=r"'nodes'.*entirely missing"):
        _analyse(d)
