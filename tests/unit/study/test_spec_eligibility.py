"""Study spec parsing, the expression language, and eligibility/policy."""

from __future__ import annotations

import tomllib

import numpy as np
import pandas as pd
import pytest

from carts_iptw.study.cohort import CohortValidationError, validate_cohort
from carts_iptw.study.eligibility import Eligibility, EligibilityStep, apply_eligibility
from carts_iptw.study.expr import columns_used, evaluate
from carts_iptw.study.spec import default_spec, default_spec_path, load_spec, parse_spec
from carts_iptw.study.synthetic import simulate_cohort


@pytest.fixture(scope="module")
def cohort():
    return validate_cohort(simulate_cohort(11))


def _raw():
    return tomllib.loads(default_spec_path().read_text())


def test_default_spec_is_the_reference_study():
    s = default_spec()
    assert s.treatment == "anakinra" and s.propensity.estimand == "ATE"
    assert set(s.propensity.covariates) == {
        "age", "histology", "ldh_elevated", "prior_hct", "lines_ge3", "kps_le70",
        "construct_41bb", "cns_or_extranodal", "status_sdpd"}
    types = {o.type for o in s.outcomes}
    assert types == {"binary", "time_to_event", "duration", "count", "competing"}
    assert [o.name for o in s.outcomes if o.primary] == ["icans_g3"]
    assert s.horizons == (12.0,)
    assert "age" in s.adjustment("standard")


def test_unknown_key_is_an_error():
    raw = _raw()
    raw["propensity"]["estimnd"] = "ATT"
    with pytest.raises(ValueError, match="estimnd"):
        parse_spec(raw)


def test_bad_values():
    raw = _raw()
    raw["propensity"]["estimand"] = "XYZ"
    with pytest.raises(ValueError, match="estimand"):
        parse_spec(raw)
    raw = _raw()
    raw["outcomes"][0]["type"] = "ordinal"
    with pytest.raises(ValueError, match="type"):
        parse_spec(raw)
    raw = _raw()
    raw["outcomes"][0]["adjust"] = "nosuchset"
    with pytest.raises(ValueError, match="nosuchset"):
        parse_spec(raw)
    raw = _raw()
    raw["eligibility"][0]["rule"] = "age >>= 3"
    with pytest.raises(ValueError, match="parse"):
        parse_spec(raw)


def test_load_spec_errors(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("[study\nname=")
    with pytest.raises(ValueError, match="TOML"):
        load_spec(p)
    with pytest.raises(FileNotFoundError):
        load_spec(tmp_path / "missing.toml")


def test_expressions(cohort):
    m = evaluate('age >= 65 | construct == "CD28"', cohort)
    exp = (cohort["age"] >= 65) | (cohort["construct"] == "CD28")
    assert (m == exp.to_numpy()).all()
    m = evaluate('best_response %in% c("CR", "PR") & icans_grade >= 1', cohort)
    exp = cohort["best_response"].isin(["CR", "PR"]) & (cohort["icans_grade"] >= 1)
    assert (m == exp.to_numpy()).all()
    m = evaluate('infusion_date >= as.Date("2023-01-01")', cohort)
    assert (m == (cohort["infusion_date"] >= pd.Timestamp("2023-01-01")).to_numpy()).all()
    # an NA condition does not select the row (subset())
    assert not evaluate("crs_onset_day >= 0", cohort)[cohort["crs_onset_day"].isna()].any()
    assert columns_used('a > 1 & b == "x" | c %in% c(1, 2)') == ["a", "b", "c"]
    with pytest.raises(ValueError, match="unknown|not in the cohort"):
        evaluate("nosuch > 1", cohort)
    with pytest.raises(ValueError, match="sixty"):
        evaluate("age >= sixty", cohort)


def _steps(*rules, applies_to="all"):
    return Eligibility(tuple(EligibilityStep(r, r, applies_to) for r in rules))


def test_eligibility_flow_and_policy(cohort):
    df = cohort.copy()
    # make some off-policy controls (young, 4-1BB) and some out-of-window infusions
    ctl = df.index[df["anakinra"] == 0][:5]
    df.loc[ctl, "age"] = 40.0
    df["construct"] = df["construct"].astype(object)
    df.loc[ctl, "construct"] = "4-1BB"
    df = validate_cohort(df.drop(columns=[c for c in df.columns if c in (
        "ipi_ge3", "construct_41bb", "status_sdpd", "cns_or_extranodal")]))
    df.loc[df.index[:3], "infusion_date"] = pd.Timestamp("2016-05-01")
    out, flow = apply_eligibility(df, default_spec().eligibility, "anakinra")
    assert flow["remaining"].iloc[0] == len(df)
    assert flow["remaining"].iloc[-1] == len(out)
    assert (flow["excluded"] >= 0).all()
    pol = (out["age"] >= 65) | (out["construct"] == "CD28")
    assert pol[out["anakinra"] == 0].all()
    assert len(out) <= len(df) - 5
    # a rule for everyone
    out2, _ = apply_eligibility(df, _steps("age >= 70"), "anakinra")
    assert (out2["age"] >= 70).all()
    # a rule for one arm keeps the other arm whatever it says
    out3, _ = apply_eligibility(df, _steps("age >= 70", applies_to="treated"), "anakinra")
    assert (out3.loc[out3["anakinra"] == 1, "age"] >= 70).all()
    assert (out3["anakinra"] == 0).sum() == (df["anakinra"] == 0).sum()


def test_na_rule_excludes_like_subset(cohort):
    df = cohort.copy()
    df.loc[df.index[:4], "age"] = np.nan
    out, flow = apply_eligibility(df, _steps("age >= 0"), "anakinra")
    assert len(out) == len(df) - 4 and flow["excluded"].iloc[1] == 4
    out, _ = apply_eligibility(df, _steps("!is.na(age) | age < 0"), "anakinra")
    assert len(out) == len(df) - 4
    # NA | TRUE is TRUE in R
    out, _ = apply_eligibility(df, _steps("age >= 0 | TRUE"), "anakinra")
    assert len(out) == len(df)


def test_empty_arm_after_eligibility(cohort):
    with pytest.raises(CohortValidationError, match="arm is empty") as ei:
        apply_eligibility(cohort, _steps("age >= 200", applies_to="control"), "anakinra")
    assert ei.value.problems[0]["column"] == "anakinra"
    with pytest.raises(CohortValidationError, match="treated arm is empty"):
        apply_eligibility(cohort, _steps("anakinra == 0"), "anakinra")


def test_eligibility_bad_config():
    with pytest.raises(ValueError, match="applies_to"):
        EligibilityStep("x", "age > 1", "sometimes")
    with pytest.raises(ValueError, match="'young'.*character 7"):
        EligibilityStep("young", "age < ", where="eligibility rule 'young'")


def test_legacy_eligibility_table_is_explained():
    raw = _raw()
    raw["eligibility"] = {"policy": "age >= 65"}
    with pytest.raises(ValueError, match=r"\[\[eligibility\]\]"):
        parse_spec(raw)


def test_rule_that_does_not_parse_names_rule_and_position():
    raw = _raw()
    raw["eligibility"][1]["rule"] = "prior_lines >= 1 and age > 3"
    with pytest.raises(ValueError, match=r"prior lines >= 1.*character 18"):
        parse_spec(raw)


def test_misspelt_section_and_key_named_with_section():
    raw = _raw()
    raw["propensty"] = raw.pop("propensity")
    with pytest.raises(ValueError, match=r"unknown section \[propensty\].*propensity"):
        parse_spec(raw)
    raw = _raw()
    raw["propensity"]["covariate"] = raw["propensity"].pop("covariates")
    with pytest.raises(ValueError, match=r"'covariate'.*\[propensity\].*covariates"):
        parse_spec(raw)
    raw = _raw()
    raw["outcomes"][0]["defintion"] = "x > 1"
    with pytest.raises(ValueError, match=r"defintion.*outcomes #1"):
        parse_spec(raw)


def test_columns_needed_cover_outcomes():
    cols = default_spec().columns_needed()
    for c in ("icans_grade", "efs_months", "os_event", "infection_type", "steroid_cum_dose"):
        assert c in cols
    assert np.unique(cols).size == len(cols)
