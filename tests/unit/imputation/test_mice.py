"""Properties of the imputation engine (stochastic: no draw-for-draw R equality is possible)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("statsmodels")

from carts_iptw.imputation import mice  # noqa: E402


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 240
    age = rng.normal(60, 10, n).round()
    trt = (rng.random(n) < 1 / (1 + np.exp(-(age - 60) / 10))).astype(int)
    nodes = rng.poisson(2 + (age - 60) / 20 + trt, n).astype(float)
    stage = pd.Categorical(rng.choice(["I", "II", "III"], n), categories=["I", "II", "III"])
    sex = pd.Series(rng.random(n) < 0.5, dtype="boolean")
    y = rng.normal(age / 10 + trt, 1)
    d = pd.DataFrame({"trt": trt, "age": age, "nodes": nodes, "stage": stage, "sex": sex,
                      "smoker": np.where(rng.random(n) < 0.3, "yes", "no"), "y": y})
    # plant missing values (seeded, MAR on age)
    d.loc[rng.random(n) < 0.15 + 0.1 * (age > 60), "nodes"] = np.nan
    d.loc[rng.random(n) < 0.12, "stage"] = np.nan
    d.loc[rng.random(n) < 0.10, "sex"] = pd.NA
    d.loc[rng.random(n) < 0.10, "smoker"] = None
    return d


@pytest.fixture(scope="module")
def imp(data):
    return mice(data, m=3, seed=11, maxit=4)


def test_no_missing_values_left_and_types_kept(data, imp):
    for i in range(1, imp.m + 1):
        c = imp.complete(i)
        assert not c.isna().any().any()
        assert list(c.columns) == list(data.columns)
        assert isinstance(c["stage"].dtype, pd.CategoricalDtype)
        assert list(c["stage"].cat.categories) == ["I", "II", "III"]
        assert c["sex"].dtype == bool


def test_observed_values_untouched(data, imp):
    for c in imp:
        for col in data.columns:
            obs = data[col].notna().to_numpy()
            a = data[col].to_numpy()[obs]
            b = c[col].to_numpy()[obs]
            assert (a.astype(str) == b.astype(str)).all(), col


def test_pmm_values_are_observed_values(data, imp):
    observed = set(data["nodes"].dropna())
    lo, hi = data["nodes"].min(), data["nodes"].max()
    for c in imp:
        v = c.loc[data["nodes"].isna(), "nodes"]
        assert len(v) > 0
        assert set(v) <= observed
        assert v.between(lo, hi).all()


def test_factors_imputed_as_levels(data, imp):
    for c in imp:
        assert set(c.loc[data["stage"].isna(), "stage"]) <= {"I", "II", "III"}
        assert set(c.loc[data["smoker"].isna(), "smoker"]) <= {"yes", "no"}
    assert imp.method["stage"] == "polyreg"
    assert imp.method["nodes"] == "pmm" and imp.method["sex"] == "pmm"
    assert imp.method["age"] == ""


def test_nmis_and_where_count_the_missing_values(data, imp):
    assert imp.nmis.to_dict() == data.isna().sum().to_dict()
    assert (imp.where == data.isna()).all().all()
    assert set(imp.imp) == {"nodes", "stage", "sex", "smoker"}
    assert imp.imp["nodes"].shape == (int(data["nodes"].isna().sum()), 3)


def test_seeded_reproducibility(data, imp):
    again = mice(data, m=3, seed=11, maxit=4)
    for i in (1, 2, 3):
        pd.testing.assert_frame_equal(imp.complete(i), again.complete(i))
    other = mice(data, m=3, seed=12, maxit=4)
    assert not all(imp.complete(i).equals(other.complete(i)) for i in (1, 2, 3))


def test_imputations_differ_between_data_sets(imp):
    assert not imp.complete(1).equals(imp.complete(2))


def test_long_format(data, imp):
    long = imp.complete("long")
    assert list(long.columns[:2]) == [".imp", ".id"]
    assert len(long) == 3 * len(data)
    assert sorted(long[".imp"].unique()) == [1, 2, 3]
    pd.testing.assert_frame_equal(
        long[long[".imp"] == 2].drop(columns=[".imp", ".id"]).reset_index(drop=True),
        imp.complete(2).reset_index(drop=True))


def test_unseeded_run_records_its_seed(data):
    a = mice(data[["age", "nodes"]], m=2, maxit=2)
    b = mice(data[["age", "nodes"]], m=2, maxit=2, seed=a.seed)
    pd.testing.assert_frame_equal(a.complete(1), b.complete(1))


def test_complete_data_gives_copies(data):
    d = data[["trt", "age", "y"]]
    imp = mice(d, m=2, seed=1)
    pd.testing.assert_frame_equal(imp.complete(1), d)


def test_repr_shows_counts_never_values(imp):
    text = repr(imp)
    assert "nodes: pmm" in text and "stage: polyreg" in text
    assert "yes" not in text and "III" not in text


@pytest.mark.parametrize("m", [0, 1, -3])
def test_m_below_two_is_refused(data, m):
    with pytest.raises(ValueError, match="at least 2"):
        mice(data, m=m, seed=1)


def test_m_must_be_an_integer(data):
    with pytest.raises(TypeError, match="integer"):
        mice(data, m=2.5, seed=1)


def test_entirely_missing_column_is_named(data):
    d = data.copy()
    d["empty"] = np.nan
    with pytest.raises(ValueError, match="'empty'.*entirely missing"):
        mice(d, m=2, seed=1)


def test_bad_arguments(data):
    with pytest.raises(ValueError, match="unknown column"):
        mice(data, m=2, seed=1, columns=["age", "nope"])
    with pytest.raises(ValueError, match="seed"):
        mice(data, m=2, seed=-1)
    with pytest.raises(ValueError, match="maxit"):
        mice(data, m=2, seed=1, maxit=0)
    with pytest.raises(TypeError, match="DataFrame"):
        mice(data.to_numpy(), m=2)
    with pytest.raises(ValueError, match="1..3"):
        mice(data[["age", "nodes"]], m=3, seed=1, maxit=1).complete(4)


def test_infinite_values_are_refused(data):
    d = data[["age", "nodes"]].copy()
    d.loc[0, "age"] = np.inf
    with pytest.raises(ValueError, match="'age'.*infinite"):
        mice(d, m=2, seed=1)
