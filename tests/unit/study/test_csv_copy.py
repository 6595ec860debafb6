"""cohort_csv writes exactly the text pandas' to_csv writes (reproduce.R reads it, verify hashes it)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carts_iptw.study.csv_copy import cohort_csv


def _ref(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, date_format="%Y-%m-%d")


def test_simulated_cohort_matches_pandas():
    from carts_iptw.study.pipeline import _load_data, _load_spec
    from carts_iptw.study.synthetic import simulate_cohort

    spec = _load_spec(None)
    df, _, _ = _load_data(simulate_cohort(seed=3, n_control=700, n_treated=400), spec)
    assert cohort_csv(df) == _ref(df)


def test_special_values_and_quoting():
    df = pd.DataFrame({
        "f": [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-310, 1.7976931348623157e308, 0.1 + 0.2],
        "f32": np.array([0.1, 8.57, np.nan, -0.0, 1e-40, 3.0, 2.5, 1e20], dtype=np.float32),
        "i": [0, -5, 2**62, -(2**62), 7, 7, 7, 1],
        "small": np.array([1, 2, 3, 1, 2, 3, 1, 2], dtype=np.int8),
        "u": np.array([0, 2**64 - 1, 5, 5, 5, 5, 5, 5], dtype=np.uint64),
        "b": [True, False, True, True, False, False, True, True],
        "s": ["a,b", 'say "hi"', "line\nbreak", "cr\rx", None, "", "plain", "ünï"],
        "cat": pd.Categorical(["x", None, "y,z", "x", "x", '"q"', "y,z", "x"],
                              categories=["x", "y,z", '"q"', "unused"]),
        "num_cat": pd.Categorical([1.0, 2.5, None, 1.0, 1.0, 2.5, 2.5, 1.0]),
        "d": pd.to_datetime(["2022-01-01", None, "1999-12-31", "2022-01-01", "2022-01-01",
                             "2000-02-29", "2022-01-01", "2022-01-01"]),
        "ts": pd.to_datetime(["2022-01-01 10:00", None, "1999-12-31 00:00", "2022-01-01 00:00",
                              "2022-01-01 00:00", "2000-02-29 00:00", "2022-01-01 00:00",
                              "2022-01-01 00:00"]),
        "nullable": pd.array([1, None, 3, 4, 5, 6, 7, 8], dtype="Int64"),
        "nbool": pd.array([True, None, False, True, True, True, True, True], dtype="boolean"),
        "mixed": pd.Series([1, 1.0, True, "1", None, np.nan, 2, "x"], dtype=object),
        "obj_str": pd.Series(["a", None, "b", "a", "a", "a", "c", np.nan], dtype=object),
    })
    assert cohort_csv(df) == _ref(df)


@pytest.mark.parametrize("df", [
    pd.DataFrame({"only": [1.0, np.nan, 2.0]}),
    pd.DataFrame({"a": [], "b": []}),
    pd.DataFrame({"a b,c": [1, 2], 'q"': ["x", "y"]}),
    pd.DataFrame({1: [1, 2], "b": [3, 4]}),
])
def test_edge_frames(df):
    assert cohort_csv(df) == _ref(df)


def test_many_low_cardinality_columns_grouped():
    rng = np.random.default_rng(1)
    n = 5000
    df = pd.DataFrame({f"c{j}": rng.integers(0, 2 + j % 5, n) for j in range(30)})
    df["x"] = rng.normal(size=n)
    df["y"] = np.round(rng.normal(size=n), 2)
    df.loc[rng.random(n) < 0.1, "y"] = np.nan
    assert cohort_csv(df) == _ref(df)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True),
                          st.integers(-(2**63), 2**63 - 1),
                          st.one_of(st.none(), st.text(max_size=6)),
                          st.sampled_from(["a", "b,c", None])),
                min_size=1, max_size=40))
def test_random_frames_match_pandas(rows):
    f, i, s, c = zip(*rows, strict=True)
    df = pd.DataFrame({"f": f, "i": np.array(i, dtype=np.int64),
                       "s": pd.Series(s, dtype=object),
                       "c": pd.Categorical(c, categories=["b,c", "a"])})
    assert cohort_csv(df) == _ref(df)
