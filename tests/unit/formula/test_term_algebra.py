"""Properties of R's term algebra, checked on random formulas (hypothesis)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carts_iptw.formula import model_frame

VARS = ["age", "race", "site", "smoker", "I(age^2)", "factor(dose)"]


@pytest.fixture(scope="module")
def df():
    rng = np.random.default_rng(3)
    n = 60
    return pd.DataFrame({
        "y": rng.integers(0, 2, n),
        "age": rng.normal(50, 10, n),
        "race": pd.Categorical(rng.choice(["w", "b", "o"], n), categories=["w", "b", "o"]),
        "site": rng.choice(["s1", "s2"], n),
        "smoker": rng.random(n) < 0.5,
        "dose": rng.integers(1, 4, n),
    })


def _cols(mf):
    return dict(zip(mf.column_names, mf.X.T, strict=True))


def _same(mf1, mf2):
    assert mf1.column_names == mf2.column_names
    assert mf1.term_labels == mf2.term_labels
    assert mf1.assign == mf2.assign
    np.testing.assert_array_equal(mf1.X, mf2.X)


pair = st.lists(st.sampled_from(VARS), min_size=2, max_size=2, unique=True)
triple = st.lists(st.sampled_from(VARS), min_size=3, max_size=3, unique=True)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(v=pair)
def test_star_is_main_effects_plus_interaction(df, v):
    a, b = v
    _same(model_frame(f"y ~ {a}*{b}", df), model_frame(f"y ~ {a} + {b} + {a}:{b}", df))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(v=triple)
def test_square_is_all_two_way(df, v):
    a, b, c = v
    _same(model_frame(f"y ~ ({a} + {b} + {c})^2", df),
          model_frame(f"y ~ {a}*{b}*{c} - {a}:{b}:{c}", df))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(v=triple)
def test_plus_commutes_up_to_order(df, v):
    a, b, c = v
    m1 = model_frame(f"y ~ {a} + {b} + {c}", df)
    m2 = model_frame(f"y ~ {c} + {a} + {b}", df)
    c1, c2 = _cols(m1), _cols(m2)
    assert set(c1) == set(c2)
    for k in c1:
        np.testing.assert_array_equal(c1[k], c2[k])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(v=triple, order=st.integers(1, 3))
def test_labels_sorted_by_degree_and_assign_consistent(df, v, order):
    a, b, c = v
    mf = model_frame(f"y ~ ({a} + {b} + {c})^{order}", df)
    deg = [lab.count(":") + 1 for lab in mf.term_labels]
    assert deg == sorted(deg)
    assert max(deg) == order
    assert sorted(set(mf.assign)) == list(range(len(mf.term_labels) + 1))
    # with an intercept and hierarchical terms, R's coding gives full column rank
    assert np.linalg.matrix_rank(mf.X) == mf.X.shape[1]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(v=triple)
def test_removing_a_term(df, v):
    a, b, c = v
    full = model_frame(f"y ~ {a}*{b} + {c}", df)
    less = model_frame(f"y ~ {a}*{b} + {c} - {c}", df)
    assert c not in less.term_labels
    assert set(less.term_labels) == set(full.term_labels) - {c}


@settings(max_examples=30, deadline=None, derandomize=True)
@given(v=pair)
def test_treatment_coding_rows(df, v):
    """Each factor's contrast columns hold 0/1 with at most one 1 per row (reference = none)."""
    mf = model_frame("y ~ " + " + ".join(v), df)
    for j, lab in enumerate(mf.term_labels, start=1):
        block = mf.X[:, [k for k, a in enumerate(mf.assign) if a == j]]
        if lab in ("age", "I(age^2)"):
            continue
        assert set(np.unique(block)) <= {0.0, 1.0}
        assert block.sum(axis=1).max() <= 1
