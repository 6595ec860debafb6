"""Snapshots detect that they are older than the R code or the data that made them."""

from __future__ import annotations

import pandas as pd

from carts_iptw.parity import snapshots
from carts_iptw.parity.registry import ParityCase


def _case(data, r_file="harness.R", args=None):
    return ParityCase(name="unit.snapshot", function="f", r_twin="g", dataset=lambda: data,
                      r_file=r_file, r_function="echo_data", python=lambda d, a: {},
                      args=args or {"k": 1})


def test_input_hash_changes_with_data_types_and_args():
    d = pd.DataFrame({"x": [1.0, 2.0], "g": pd.Categorical(["a", "b"])})
    h = snapshots.input_sha256(_case(d))
    assert h == snapshots.input_sha256(_case(d.copy()))
    assert h != snapshots.input_sha256(_case(d.assign(x=[1.0, 2.0000001])))
    assert h != snapshots.input_sha256(_case(d.assign(x=[1, 2])))
    assert h != snapshots.input_sha256(_case(d, args={"k": 2}))


def test_staleness_reasons(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshots, "snapshot_dir", lambda: tmp_path)
    d = pd.DataFrame({"x": [1.0, 2.0]})
    case = _case(d)
    assert snapshots.staleness(case) == "no snapshot"
    snapshots.write_snapshot(case, {"x": [1.0, 2.0]}, {"R": "R version 4.2.2", "packages": {}})
    assert snapshots.staleness(case) is None
    assert "data or arguments" in snapshots.staleness(_case(d.assign(x=[3.0, 4.0])))
    monkeypatch.setattr(snapshots, "r_file_sha256", lambda f: "0" * 64)
    assert "changed" in snapshots.staleness(case)
    q = snapshots.read_snapshot(case)["quantities"]["x"]
    assert q.values.tolist() == [1.0, 2.0]
