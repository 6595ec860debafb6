"""run_study on bad input: a clear CohortValidationError and nothing written to the output."""

from __future__ import annotations

import pandas as pd
import pytest

from carts_iptw.study.cohort import CohortValidationError
from carts_iptw.study.output import check_output_dir, write_outputs
from carts_iptw.study.pipeline import run_study
from carts_iptw.study.spec import default_spec_path
from carts_iptw.study.synthetic import simulate_cohort


def _spec_with_frailty() -> str:
    text = default_spec_path().read_text()
    assert text.count('covariates = ["age",') == 1
    return text.replace('covariates = ["age",', 'covariates = ["frailty", "age",')


def _write(df: pd.DataFrame, path):
    df.to_csv(path, index=False)
    return path


def _nothing_written(out, parent):
    assert not out.exists()
    assert not [p for p in parent.iterdir() if "staging" in p.name or ".tmp-" in p.name]


@pytest.mark.parametrize("breakage, column", [
    (lambda d: d.drop(columns=["icans_grade"]), "icans_grade"),
    (lambda d: d.assign(crs_grade=d["crs_grade"].where(d.index > 2, 7)), "crs_grade"),
    (lambda d: d.assign(id=d["id"].where(d.index != 1, d.loc[0, "id"])), "id"),
    (lambda d: d.assign(anakinra=0), "anakinra"),
])
def test_bad_cohort_fails_before_writing(tmp_path, breakage, column):
    data = _write(breakage(simulate_cohort(2)), tmp_path / "c.csv")
    out = tmp_path / "out"
    with pytest.raises(CohortValidationError) as ei:
        run_study(data, default_spec_path(), out)
    assert column in {p["column"] for p in ei.value.problems}
    assert isinstance(ei.value, ValueError)
    _nothing_written(out, tmp_path)


def test_empty_arm_after_eligibility(tmp_path):
    d = simulate_cohort(2)
    d.loc[d["anakinra"] == 1, "infusion_date"] = "2030-01-01"
    data = _write(d, tmp_path / "c.csv")
    with pytest.raises(CohortValidationError, match="treated arm is empty"):
        run_study(data, None, tmp_path / "out")
    _nothing_written(tmp_path / "out", tmp_path)


def test_spec_column_missing_from_cohort(tmp_path):
    spec = _spec_with_frailty()
    p = tmp_path / "s.toml"
    p.write_text(spec)
    with pytest.raises(CohortValidationError, match="frailty"):
        run_study(_write(simulate_cohort(2), tmp_path / "c.csv"), p, tmp_path / "out")
    _nothing_written(tmp_path / "out", tmp_path)


def test_missing_covariate_values_counted(tmp_path):
    d = simulate_cohort(2)
    d["frailty"] = 1.0
    d.loc[[0, 5, 6], "frailty"] = None
    spec = _spec_with_frailty()
    p = tmp_path / "s.toml"
    p.write_text(spec)
    with pytest.raises(CohortValidationError) as ei:
        run_study(_write(d, tmp_path / "c.csv"), p, tmp_path / "out")
    (prob,) = ei.value.problems
    assert prob["column"] == "frailty" and prob["rows"] == 3


def test_existing_output_untouched_on_failure(tmp_path):
    out = tmp_path / "out"
    write_outputs(check_output_dir(out), lambda d: (d / "keep.txt").write_text("previous run"),
                  version="test")
    before = sorted(p.name for p in out.iterdir())
    data = _write(simulate_cohort(2).drop(columns=["age"]), tmp_path / "c.csv")
    with pytest.raises(CohortValidationError):
        run_study(data, None, out)
    assert (out / "keep.txt").read_text() == "previous run"
    assert sorted(p.name for p in out.iterdir()) == before


def test_missing_files_are_bad_input(tmp_path):
    with pytest.raises(CohortValidationError, match="cohort file not found"):
        run_study(tmp_path / "nope.csv", None, tmp_path / "out")
    with pytest.raises(ValueError, match="spec file not found"):
        run_study(_write(simulate_cohort(2), tmp_path / "c.csv"), tmp_path / "nope.toml",
                  tmp_path / "out")
    _nothing_written(tmp_path / "out", tmp_path)
