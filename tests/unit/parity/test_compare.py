"""The comparison rules of the parity harness (no R needed)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from carts_iptw.parity.compare import compare_results, flatten
from carts_iptw.parity.registry import ParityCase


def _case(**kw):
    base = dict(name="t", function="f", r_twin="g", dataset="d", r_file="x.R", r_function="h",
                python=lambda d, a: {})
    return ParityCase(**(base | kw))


def test_flatten_nests_and_splits_frames():
    flat = flatten({"coef": pd.Series([1.0, 2.0], index=["(Intercept)", "x"]),
                    "tab": pd.DataFrame({"a": [1, 2]}), "tests": {"lr": 3.0}})
    assert set(flat) == {"coef", "tab.a", "tests.lr"}
    assert flat["coef"].labels == ["(Intercept)", "x"]


def test_relative_tolerance_and_exact_counts():
    case = _case(exact=("n",))
    r = {"est": np.array([1.0, 100.0]), "n": 10.0}
    ok = compare_results(case, {"est": np.array([1.0 + 5e-7, 100.0]), "n": 10}, r)
    assert all(x.passed for x in ok)
    bad = compare_results(case, {"est": np.array([1.0 + 2e-6, 100.0]), "n": 10}, r)
    assert [x.passed for x in bad] == [False, True]
    assert bad[0].worst == "[1]" and math.isclose(bad[0].rel_diff, 2e-6, rel_tol=1e-6)
    cnt = compare_results(case, {"est": r["est"], "n": 10.000001}, r)
    assert [x.passed for x in cnt] == [True, False]


def test_na_labels_missing_and_length():
    case = _case()
    r = {"a": pd.Series([1.0, np.nan], index=["x", "y"]), "b": [1.0, 2.0], "c": "lbl"}
    rows = {x.quantity: x for x in compare_results(
        case, {"a": pd.Series([1.0, np.nan], index=["x", "y"]), "b": [1.0], "c": "lbl"}, r)}
    assert rows["a"].passed and rows["c"].passed
    assert not rows["b"].passed and "length" in rows["b"].note
    rows = {x.quantity: x for x in compare_results(case, {"a": pd.Series([1.0, 0.0], index=["x", "z"])}, r)}
    assert not rows["a"].passed and rows["a"].note == "labels differ"
    assert not rows["b"].passed and "missing" in rows["b"].note
    rows = {x.quantity: x for x in compare_results(case, {"a": pd.Series([1.0, 0.0], index=["x", "y"])}, r)}
    assert not rows["a"].passed  # NA on one side only


def test_a_1e4_perturbation_fails_at_default_tolerance():
    case = _case()
    r = {"w": np.linspace(0.5, 3.0, 7)}
    rows = compare_results(case, {"w": r["w"] * (1 + 1e-4)}, r)
    assert not rows[0].passed


def test_every_snapshot_belongs_to_a_registered_case():
    """A snapshot left behind by a renamed or removed case is dead weight that nothing checks."""
    from carts_iptw.parity.registry import all_cases
    from carts_iptw.parity.snapshots import snapshot_dir

    names = {c.name for c in all_cases()}
    orphans = sorted(p.name for p in snapshot_dir().glob("*.json") if p.stem not in names)
    assert orphans == []
