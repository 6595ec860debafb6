"""Study spec parsing, the expression language, and eligibility/policy."""

from __future__ import annotations

import tomllib

import numpy as np
import pandas as pd
import pytest

from carts_iptw.study.cohort import CohortValidationError, validate_cohort
from carts_iptw.study.eligibility import Eligibility, apply_eligibility
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
    raw["eligibility"]["policy"] = "age >>= 3"
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
    m = evaluate("age >= 65 or construct == 'CD28'", cohort)
    exp = (cohort["age"] >= 65) | (cohort["construct"] == "CD28")
    assert (m == exp.to_numpy()).all()
    m = evaluate("best_response in ['CR', 'PR'] and icans_grade >= 1", cohort)
    exp = cohort["best_response"].isin(["CR", "PR"]) & (cohort["icans_grade"] >= 1)
    assert (m == exp.to_numpy()).all()
    m = evaluate("infusion_date >= '2023-01-01'", cohort)
    assert (m == (cohort["infusion_date"] >= pd.Timestamp("2023-01-01")).to_numpy()).all()
    # missing never satisfies a clause
    assert not evaluate("crs_onset_day >= 0", cohort)[cohort["crs_onset_day"].isna()].any()
    assert columns_used("a > 1 and b == 'x' or c in [1, 2]") == ["a", "b", "c"]
    with pytest.raises(ValueError, match="unknown column"):
        evaluate("nosuch > 1", cohort)
    with pytest.raises(ValueError):
        evaluate("age >= sixty", cohort)


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
    out, flow = apply_eligibility(df, Eligibility())
    assert flow["remaining"].iloc[0] == len(df)
    assert flow["remaining"].iloc[-1] == len(out)
    assert (flow["excluded"] >= 0).all()
    pol = (out["age"] >= 65) | (out["construct"] == "CD28")
    assert pol[out["anakinra"] == 0].all()
    assert len(out) <= len(df) - 5
    # the spec can change the policy
    out2, _ = apply_eligibility(df, Eligibility(policy="age >= 70", apply_policy_to="all"))
    assert (out2["age"] >= 70).all()


def test_empty_arm_after_eligibility(cohort):
    with pytest.raises(CohortValidationError, match="arm is empty") as ei:
        apply_eligibility(cohort, Eligibility(policy="age >= 200", apply_policy_to="control"))
    assert ei.value.problems[0]["column"] == "anakinra"
    with pytest.raises(CohortValidationError, match="treated arm is empty"):
        apply_eligibility(cohort, Eligibility(extra="anakinra == 0"))


def test_eligibility_bad_config():
    with pytest.raises(ValueError, match="apply_policy_to"):
        Eligibility(apply_policy_to="sometimes")
    with pytest.raises(ValueError, match="after"):
        Eligibility(infusion_from="2025-01-01", infusion_to="2018-01-01")


def test_columns_needed_cover_outcomes():
    cols = default_spec().columns_needed()
    for c in ("icans_grade", "efs_months", "os_event", "infection_type", "steroid_cum_dose"):
        assert c in cols
    assert np.unique(cols).size == len(cols)
