"""Drift: live runs compare the stored snapshot with live R; regenerate shows and guards changes.

These run R live (the ``r_reference`` fixture: a failure in require mode, a skip otherwise).
"""

from __future__ import annotations

import json
import shutil

import pytest

from carts_iptw import cli
from carts_iptw.parity import snapshots
from carts_iptw.parity.registry import get_case
from carts_iptw.parity.runner import run_case

CASE = "coxph.warnings.monotone"


@pytest.fixture
def snapdir(tmp_path, monkeypatch, r_reference):
    """A private copy of CASE's snapshot, made the one the harness reads."""
    src = snapshots.snapshot_path(get_case(CASE))
    shutil.copy(src, tmp_path / src.name)
    monkeypatch.setattr(snapshots, "snapshot_dir", lambda: tmp_path)
    return tmp_path / src.name


def _edit(path, quantity: str, factor: float) -> float:
    doc = json.loads(path.read_text())
    old = doc["quantities"][quantity]["values"][0]
    doc["quantities"][quantity]["values"][0] = old * factor
    path.write_text(json.dumps(doc))
    return old


def test_live_run_passes_with_the_stored_snapshot(snapdir):
    res = run_case(get_case(CASE), "require")
    drift = [r for r in res.rows if r.check == "drift"]
    assert drift and all(r.passed for r in drift), [r.note for r in drift]
    assert res.passed


def test_edited_snapshot_fails_in_live_mode(snapdir):
    _edit(snapdir, "coef", 1 + 1e-3)
    res = run_case(get_case(CASE), "require")
    bad = [r for r in res.failures() if r.check == "drift"]
    assert [r.quantity for r in bad] == ["coef"]
    assert not res.passed
    # Python against live R still agrees: only the snapshot drifted
    assert all(r.passed for r in res.rows if r.check == "parity")


def test_edited_warning_fails_in_live_mode(snapdir):
    doc = json.loads(snapdir.read_text())
    doc["r_warnings"] = []
    snapdir.write_text(json.dumps(doc))
    res = run_case(get_case(CASE), "require")
    assert [r.quantity for r in res.failures()] == ["r_warnings"]


def test_regenerate_prints_changes_and_refuses_without_force(snapdir, capsys):
    old = _edit(snapdir, "coef", 1 + 1e-3)
    before = snapdir.read_text()
    assert cli.main(["parity", "regenerate", "--case", CASE]) == 1
    err = capsys.readouterr().err
    assert "coef z: old" in err and "rel diff" in err and "--force" in err
    assert snapdir.read_text() == before  # kept
    assert cli.main(["parity", "regenerate", "--case", CASE, "--force"]) == 0
    assert json.loads(snapdir.read_text())["quantities"]["coef"]["values"][0] == old
    # now current and equal: left as it is
    after = snapdir.read_text()
    assert cli.main(["parity", "regenerate", "--case", CASE]) == 0
    assert "1 current and unchanged" in capsys.readouterr().err
    assert snapdir.read_text() == after
