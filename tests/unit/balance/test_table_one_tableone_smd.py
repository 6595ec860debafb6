"""table_one(smd="both"): tableone's one SMD per variable beside cobalt's per-level SMDs (the
numbers are checked against R in parity/cases/table_one.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carts_iptw import load_dataset, table_one


@pytest.fixture(scope="module")
def lal():
    return load_dataset("lalonde")


def test_one_smd_per_variable_beside_the_per_level_ones(lal):
    t = table_one(lal, ["age", "race", "married"], "treat", weights=np.ones(len(lal)),
                  smd="both")
    race = t[t["variable"] == "race"]
    assert race["smd"].nunique() == 3  # cobalt: one per level
    assert race["smd_tableone"].nunique() == 1  # tableone: one per factor
    # a two-level variable: |p1 - p0| / sqrt((p1 q1 + p0 q0) / 2)
    p1 = lal.loc[lal["treat"] == 1, "married"].mean()
    p0 = lal.loc[lal["treat"] == 0, "married"].mean()
    expect = abs(p1 - p0) / np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    assert t.loc[t["variable"] == "married", "smd_tableone"].iloc[0] == pytest.approx(expect)
    # unit weights: the weighted SMDs equal the unweighted ones
    np.testing.assert_allclose(t["smd_tableone_weighted"], t["smd_tableone"], rtol=1e-12)
    assert (t["smd_tableone"] >= 0).all()


def test_the_factor_smd_does_not_depend_on_the_reference_level(lal):
    d = lal.assign(race2=pd.Categorical(lal["race"], categories=["white", "hispan", "black"]))
    a = table_one(lal, ["race"], "treat", smd="both")["smd_tableone"].iloc[0]
    b = table_one(d, ["race2"], "treat", smd="both")["smd_tableone"].iloc[0]
    assert a == pytest.approx(b, rel=1e-10)


def test_default_and_bad_option(lal):
    assert "smd_tableone" not in table_one(lal, ["age"], "treat").columns
    assert "smd_tableone_weighted" not in table_one(lal, ["age"], "treat", smd="both").columns
    with pytest.raises(ValueError, match="smd must be 'cobalt' or 'both'"):
        table_one(lal, ["age"], "treat", smd="tableone!")
