"""Cohort schema validation: every rule fails with column, rule and row count, never values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carts_iptw.study.cohort import (
    CohortValidationError,
    parquet_engine,
    read_cohort,
    validate_cohort,
)
from carts_iptw.study.spec import default_spec
from carts_iptw.study.synthetic import simulate_cohort

SCHEMA = default_spec().schema()


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return simulate_cohort(seed=5)


def _problems(df) -> list[dict]:
    with pytest.raises(CohortValidationError) as ei:
        validate_cohort(df)
    assert isinstance(ei.value, ValueError)
    return ei.value.problems


def test_valid_cohort_is_typed(raw):
    v = validate_cohort(raw)
    assert len(v) == len(raw)
    assert v["histology"].cat.categories.tolist() == ["DLBCL", "FL", "MCL"]
    assert v["construct"].cat.categories.tolist() == ["CD28", "4-1BB"]
    assert v["anakinra"].dtype == np.int64
    assert pd.api.types.is_datetime64_any_dtype(v["infusion_date"])
    assert (v["construct_41bb"] == (raw["construct"] == "4-1BB").astype(int)).all()
    assert (v["cns_or_extranodal"] == (raw["cns"] | raw["extranodal"])).all()


def test_missing_required_column_named(raw):
    probs = _problems(raw.drop(columns=["kps", "os_event"]))
    cols = {p["column"] for p in probs}
    assert cols == {"kps", "os_event"}
    assert all(p["rule"] == "required column" for p in probs)


def test_grade_7_and_negative_days_counted_without_values(raw):
    df = raw.copy()
    df.loc[[0, 1, 2], "icans_grade"] = 7
    has = df["crs_grade"] > 0
    idx = df.index[has][:2]
    df.loc[idx, "crs_onset_day"] = -3
    probs = _problems(df)
    by = {(p["column"], p["rule"]): p for p in probs}
    assert by[("icans_grade", "<= 5")]["rows"] == 3
    assert by[("crs_onset_day", ">= 0")]["rows"] == 2
    msg = "\n".join(p["message"] for p in probs)
    assert "negative" in msg and "-3" not in msg and "7" not in msg.replace("<= 5", "")


def test_duplicate_ids(raw):
    df = raw.copy()
    df.loc[1, "id"] = df.loc[0, "id"]
    probs = _problems(df)
    p = [p for p in probs if p["column"] == "id"][0]
    assert p["rule"] == "unique" and p["rows"] == 2
    assert str(df.loc[0, "id"]) not in str(CohortValidationError(probs))


def test_wrong_types(raw):
    df = raw.copy()
    df["age"] = df["age"].astype(object)
    df.loc[0, "age"] = "old"
    df["anakinra"] = df["anakinra"].astype(object)
    df.loc[[3, 4], "anakinra"] = "maybe"
    df.loc[5, "histology"] = "CLL"
    df["infusion_date"] = df["infusion_date"].astype(object)
    df.loc[6, "infusion_date"] = "not a date"
    probs = {(p["column"], p["rule"]): p["rows"] for p in _problems(df)}
    assert probs[("age", "numeric")] == 1
    assert probs[("anakinra", "binary 0/1")] == 2
    assert probs[("histology", "one of ['DLBCL', 'FL', 'MCL']")] == 1
    assert probs[("infusion_date", "date (YYYY-MM-DD)")] == 1


def test_missing_values_in_non_nullable(raw):
    df = raw.copy()
    df.loc[[0, 9], "ldh_elevated"] = np.nan
    probs = {(p["column"], p["rule"]): p["rows"] for p in _problems(df)}
    assert probs[("ldh_elevated", "no missing values")] == 2


def test_consistency_rules(raw):
    df = raw.copy()
    df.loc[0, "lines_ge3"] = 1 - df.loc[0, "lines_ge3"]
    no_inf = df.index[df["infection_any_d30"] == 0][:3]
    df.loc[no_inf, "infection_grade"] = 2
    probs = {(p["column"], p["rule"]): p["rows"] for p in _problems(df)}
    assert probs[("lines_ge3", "equals as.integer(prior_lines >= 3)")] == 1
    assert probs[("infection_any_d30", "equals infection_grade > 0")] == 3


def test_derived_columns_optional(raw):
    v = validate_cohort(raw.drop(columns=["lines_ge3", "kps_le70"]))
    assert (v["lines_ge3"] == (raw["prior_lines"] >= 3)).all()
    assert (v["kps_le70"] == (raw["kps"] <= 70)).all()


def test_empty_cohort():
    with pytest.raises(CohortValidationError, match="no rows"):
        validate_cohort(simulate_cohort(seed=1).iloc[:0])


def test_schema_covers_brief_columns():
    names = {c.name for c in SCHEMA.columns} | {d.name for d in SCHEMA.derived}
    for c in ("id", "age", "histology", "ldh_elevated", "prior_hct", "prior_lines", "lines_ge3",
              "kps", "kps_le70", "ipi", "construct", "cns", "extranodal", "status_at_infusion",
              "infusion_date", "anakinra", "crs_grade", "crs_onset_day", "crs_duration",
              "icans_grade", "icans_onset_day", "icans_duration", "steroid_cum_dose",
              "infection_any_d30", "infection_grade", "infection_type", "infection_onset_day",
              "best_response", "efs_months", "efs_event", "os_months", "os_event"):
        assert c in names


def test_read_csv_roundtrip(raw, tmp_path):
    p = tmp_path / "c.csv"
    raw.to_csv(p, index=False)
    v = read_cohort(p)
    assert len(v) == len(raw)
    assert v["id"].tolist() == raw["id"].tolist()


def test_parquet(raw, tmp_path):
    p = tmp_path / "c.parquet"
    if parquet_engine() is None:
        p.write_bytes(b"PAR1")
        with pytest.raises(CohortValidationError, match="pyarrow"):
            read_cohort(p)
    else:
        raw.to_parquet(p)
        assert len(read_cohort(p)) == len(raw)


def test_unsupported_and_missing_file(tmp_path):
    p = tmp_path / "c.xlsx"
    p.write_text("x")
    with pytest.raises(CohortValidationError, match="unsupported"):
        read_cohort(p)
    with pytest.raises(FileNotFoundError):
        read_cohort(tmp_path / "nope.csv")
