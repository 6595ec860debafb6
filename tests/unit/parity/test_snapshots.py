"""Snapshots detect that they are older than the R code or the data that made them."""

from __future__ import annotations

import numpy as np
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


def _portable_frame(n=20000, seed=7):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        # an IPT-weight-like column: computed, all 17 digits significant
        "w": 1 / rng.uniform(0.02, 0.98, n),
        "x": rng.normal(0, 1e4, n),
        "g": pd.Categorical(rng.choice(["a", "b", "c"], n), categories=["a", "b", "c"]),
        "s": pd.Series(rng.choice(["u", "v"], n), dtype=object),
        "k": rng.integers(0, 5, n),
    })


def _stale_after(tmp_path, monkeypatch, before: pd.DataFrame, after: pd.DataFrame) -> str | None:
    monkeypatch.setattr(snapshots, "snapshot_dir", lambda: tmp_path)
    snapshots.write_snapshot(_case(before), {"x": [1.0]}, {"R": "R version 4.2.2", "packages": {}})
    return snapshots.staleness(_case(after))


def test_portable_hash_ignores_last_bits_and_dtype_spelling(tmp_path, monkeypatch):
    """1 ulp on every value of the double columns (both directions), 1e-13 relative noise, and
    object -> str (pandas 3's spelling; pandas 2's nullable string where ``str`` is object) leave
    the snapshot current: it hashes what R receives, not how Python spelled or computed it."""
    d = _portable_frame()
    fp = snapshots.input_fingerprint(_case(d))
    assert fp["near_ties"], "20000 computed values should include some within the guard of a tie"
    for direction in (np.inf, -np.inf):
        noisy = d.assign(w=np.nextafter(d["w"].to_numpy(), direction),
                         x=np.nextafter(d["x"].to_numpy(), direction))
        assert _stale_after(tmp_path, monkeypatch, d, noisy) is None
    rng = np.random.default_rng(1)
    noisy = d.assign(w=d["w"] * (1 + 1e-13 * rng.uniform(-1, 1, len(d))))
    assert _stale_after(tmp_path, monkeypatch, d, noisy) is None
    for spelling in ("string", "str"):
        try:
            s2 = d["s"].astype(spelling)
        except TypeError:  # pandas without the "str" alias
            continue
        assert _stale_after(tmp_path, monkeypatch, d, d.assign(s=s2)) is None
    # int32 vs int64, and a non-nullable vs nullable integer: R receives integer either way
    assert _stale_after(tmp_path, monkeypatch, d, d.assign(k=d["k"].astype("int32"))) is None
    assert _stale_after(tmp_path, monkeypatch, d, d.assign(k=d["k"].astype("Int64"))) is None


def test_portable_hash_sees_real_changes(tmp_path, monkeypatch):
    """A real change of the data R receives makes the snapshot stale: one value 1e-6 relative
    (at the first, a middle and the last row), a renamed column, a renamed or reordered factor
    level, a double sent as integer, an NA, a row name, the arguments."""
    d = _portable_frame(n=2000)
    for i in (0, 1000, 1999):
        w = d["w"].to_numpy().copy()
        w[i] *= 1 + 1e-6
        assert _stale_after(tmp_path, monkeypatch, d, d.assign(w=w)) is not None
    assert _stale_after(tmp_path, monkeypatch, d, d.assign(w=d["w"] * (1 + 1e-6))) is not None
    assert _stale_after(tmp_path, monkeypatch, d, d.rename(columns={"w": "wt"})) is not None
    g = d["g"].cat.rename_categories({"c": "C"})
    assert _stale_after(tmp_path, monkeypatch, d, d.assign(g=g)) is not None
    g = d["g"].cat.reorder_categories(["b", "a", "c"])
    assert _stale_after(tmp_path, monkeypatch, d, d.assign(g=g)) is not None
    assert _stale_after(tmp_path, monkeypatch, d, d.assign(k=d["k"].astype(float))) is not None
    x = d["x"].copy()
    x.iloc[5] = np.nan
    assert _stale_after(tmp_path, monkeypatch, d, d.assign(x=x)) is not None
    assert _stale_after(tmp_path, monkeypatch, d, d.set_axis([f"r{i}" for i in range(len(d))])) is not None
    monkeypatch.setattr(snapshots, "snapshot_dir", lambda: tmp_path)
    snapshots.write_snapshot(_case(d), {"x": [1.0]}, {"R": "R version 4.2.2", "packages": {}})
    assert snapshots.staleness(_case(d, args={"k": 2})) is not None


def test_near_tie_values_are_kept_and_checked(tmp_path, monkeypatch):
    """A value exactly at a 9-digit rounding tie is stored as a near-tie; noise around it keeps
    the snapshot current, a move by a rounding step makes it stale."""
    d = pd.DataFrame({"w": [1.234567895, 2.0, 9.9999999950000001, 0.5]})
    fp = snapshots.input_fingerprint(_case(d))
    assert set(fp["near_ties"]["w"]) == {"0", "2"}
    for eps in (1e-15, -1e-15):
        assert _stale_after(tmp_path, monkeypatch, d, d.assign(w=d["w"] * (1 + eps))) is None
    moved = d["w"].to_numpy().copy()
    moved[0] += 1e-8
    assert _stale_after(tmp_path, monkeypatch, d, d.assign(w=moved)) is not None


def test_legacy_snapshots_stay_readable(tmp_path, monkeypatch):
    """A snapshot written with the old byte hash (``input_sha256``) is read and checked with it."""
    import json

    monkeypatch.setattr(snapshots, "snapshot_dir", lambda: tmp_path)
    d = pd.DataFrame({"x": [1.0, 2.0]})
    case = _case(d)
    path = snapshots.write_snapshot(case, {"x": [1.0, 2.0]}, {"R": "R version 4.2.2", "packages": {}})
    doc = json.loads(path.read_text())
    del doc["input_hash"]
    doc["input_sha256"] = snapshots.legacy_input_sha256(case)
    path.write_text(json.dumps(doc))
    assert snapshots.staleness(case) is None
    assert snapshots.read_snapshot(case)["quantities"]["x"].values.tolist() == [1.0, 2.0]
    assert "legacy" in snapshots.staleness(_case(d.assign(x=[1.0, 3.0])))
