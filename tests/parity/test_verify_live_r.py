"""`carts-iptw verify` against live R (issue 15): every bundled study's reproduce.R run in a fresh
Rscript session and compared with results.json quantity by quantity (rel 1e-6, counts exact).

- verify exits 0 on the seed study (`carts-iptw demo`), the three worked studies
  (`carts-iptw example nhefs|rotterdam|lalonde`) and a held-out study (its own spec on a
  simulated cohort passed as a DataFrame: ATT, two horizons, rmst_tau, a continuous outcome,
  subgroups with cohort and re-estimated weights) and another (a user's CSV and spec files:
  trimmed, stabilised weights, a binary outcome analysed among a subgroup);
- one Python number of results.json perturbed by 1e-4 relative: exit 1, the quantity named;
- the script alone runs in a fresh ``Rscript --no-init-file`` with only the Debian library and
  R_LIBS_USER (CI's folder of the real WeightIt, cobalt, marginaleffects);
- a missing R package, an R error: exit 2 with one line, nothing written.

Needs Rscript and the R packages of :data:`carts_iptw.study.reproduce.R_PACKAGES`:
``CARTS_IPTW_R=require`` fails without them, otherwise the module skips with the reason. Each
test records the R and package versions the verification used (verification.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from carts_iptw.cli import main
from carts_iptw.parity.runner import current_mode
from carts_iptw.study.reproduce import R_PACKAGES


def _r_status() -> tuple[bool, str]:
    exe = shutil.which("Rscript")
    if exe is None:
        return False, "Rscript not on the PATH"
    code = ("for (p in c(" + ", ".join(f'"{p}"' for p in R_PACKAGES) + ")) "
            "if (!requireNamespace(p, quietly = TRUE)) cat(p, '')")
    r = subprocess.run([exe, "-e", code], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        return False, "R does not start"
    if r.stdout.split():
        return False, f"R packages not installed: {r.stdout.strip()}"
    return True, ""


_OK, _WHY = _r_status()
if not _OK:
    if current_mode() == "require":
        pytest.fail(f"live R required (CARTS_IPTW_R=require): {_WHY}", pytrace=False)
    pytest.skip(f"R not available: {_WHY}", allow_module_level=True)


def _run(argv: list[str]) -> int:
    return main([*argv, "--quiet"])


class _Outputs(dict):
    """Each study's output folder, run on first use (a selection of the tests runs only the
    studies it reads: tox -e mindeps verifies the seed study alone)."""

    def __init__(self, root: Path):
        super().__init__()
        self.root = root

    def __missing__(self, name: str) -> Path:
        out = self.root / name
        if name == "demo":
            assert _run(["demo", "--out", str(out)]) == 0
        elif name in ("nhefs", "rotterdam", "lalonde"):
            assert _run(["example", name, "--out", str(out)]) == 0
        elif name == "heldout":
            _heldout(out)
        elif name == "heldout_trim":
            _heldout_trim(out)
        else:
            raise KeyError(name)
        self[name] = out
        return out


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    return _Outputs(tmp_path_factory.mktemp("verify"))


def _heldout_trim(out: Path) -> Path:
    """Trimmed, stabilised ATE weights and a binary outcome analysed among a subgroup, as a
    user's CSV and spec files read by `carts-iptw run`."""
    from carts_iptw.study.spec import default_spec_path
    from carts_iptw.study.synthetic import simulate_cohort

    folder = out.parent / "heldout_trim_input"
    folder.mkdir()
    shutil.copy(default_spec_path().parent / "anakinra.schema.toml", folder)
    text = default_spec_path().read_text()
    for old, new in (("trim_at = 0 ", "trim_at = 0.95 "), ("stabilize = false", "stabilize = true"),
                     ('definition = "icans_grade >= 3"',
                      'definition = "icans_grade >= 3"\namong = "crs_grade >= 1"')):
        assert old in text
        text = text.replace(old, new, 1)
    (folder / "study.toml").write_text(text)
    simulate_cohort(21).to_csv(folder / "my_cohort.csv", index=False)
    assert _run(["run", "--data", str(folder / "my_cohort.csv"), "--spec",
                 str(folder / "study.toml"), "--out", str(out)]) == 0
    return out


def _heldout(out: Path) -> Path:
    from carts_iptw.study.pipeline import run_study
    from carts_iptw.study.spec import default_spec_path, parse_spec
    from carts_iptw.study.synthetic import simulate_cohort

    raw = tomllib.loads(default_spec_path().read_text())
    raw["propensity"]["estimand"] = "ATT"
    raw["study"]["horizons"] = [6, 24]
    raw["study"]["rmst_tau"] = 18
    raw["outcomes"] = [o for o in raw["outcomes"] if o["name"] in (
        "icans_any", "crs_any", "efs", "crs_duration", "infection_g3_cif", "steroid_dose")]
    raw["outcomes"].append({"name": "steroid_mean", "label": "Steroid dose (mean)",
                            "type": "continuous", "column": "steroid_cum_dose",
                            "adjust": "standard"})
    raw["subgroups"] = [
        {"modifier": "status_sdpd", "outcome": "icans_any", "weights": "cohort"},
        {"modifier": "ldh_elevated", "outcome": "steroid_mean", "weights": "reestimate"}]
    run_study(simulate_cohort(7), parse_spec(raw, str(default_spec_path())), out)
    return out


def _versions(folder: Path) -> str:
    return json.loads((folder / "results_R.json").read_text())["versions"]


@pytest.mark.parametrize("study", ["demo", "nhefs", "rotterdam", "lalonde", "heldout",
                                   "heldout_trim"])
def test_verify_matches_every_quantity(outputs, study, capsys, record_parity):
    folder = outputs[study]
    code = _run(["verify", str(folder)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "0 differ" in printed
    md = (folder / "verification.md").read_text()
    assert "Verdict: every compared quantity matches R" in md
    assert "| DIFFERS |" not in md
    n_match = md.count("| match |")
    assert n_match > 200
    # verify wrote only its own files, listed in the manifest, and the report links them
    files = json.loads((folder / "carts-iptw-manifest.json").read_text())["files"]
    assert {"results_R.json", "verification.md", "verification.html"} <= set(files)
    html = (folder / "report.html").read_text()
    assert 'href="verification.html"' in html and "Not verified in R" not in html
    record_parity(f"verify.{study}", "passed",
                  f"{n_match} quantities; live {_versions(folder)}")


def test_perturbed_number_fails_naming_it(outputs, tmp_path, capsys):
    folder = tmp_path / "lalonde"
    shutil.copytree(outputs["lalonde"], folder)
    res = json.loads((folder / "results.json").read_text())
    cell = res["continuous_outcomes"][0]["difference"]["estimate"]
    cell["value"] *= 1 + 1e-4
    (folder / "results.json").write_text(json.dumps(res, indent=1))
    assert _run(["verify", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS continuous_outcomes.re78.difference.estimate" in out
    assert "1 differ" in out
    md = (folder / "verification.md").read_text()
    assert "results.json was changed since the run" in md
    assert 'Verification in R: 1 quantities differ' in (folder / "report.html").read_text()


def test_script_runs_in_a_fresh_session(outputs, tmp_path):
    """Rscript --no-init-file, only the Debian library and R_LIBS_USER: no carts_iptw."""
    env = {k: v for k, v in os.environ.items() if k not in ("R_LIBS", "R_PROFILE_USER",
                                                           "PYTHONPATH", "RETICULATE_PYTHON")}
    out = tmp_path / "r.json"
    r = subprocess.run(["Rscript", "--no-init-file", "--no-site-file", "reproduce.R", str(out)],
                       cwd=outputs["rotterdam"], capture_output=True, text=True, env=env,
                       timeout=1800)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert doc["versions"]["WeightIt"] and doc["survival"]["rfs"]["logrank_p"] > 0


def test_missing_r_package_is_exit_2(outputs, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "nhefs"
    shutil.copytree(outputs["nhefs"], folder)
    before = sorted(p.name for p in folder.iterdir())
    monkeypatch.setenv("R_LIBS_USER", str(tmp_path / "empty-library"))
    monkeypatch.delenv("R_LIBS", raising=False)
    assert _run(["verify", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert "R package(s) not installed" in err and "WeightIt" in err
    assert len(err.splitlines()) == 1
    assert sorted(p.name for p in folder.iterdir()) == before


def test_r_error_is_exit_2_and_writes_nothing(outputs, tmp_path, capsys):
    folder = tmp_path / "nhefs"
    shutil.copytree(outputs["nhefs"], folder)
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    with open(folder / "reproduce.R", "a") as fh:
        fh.write('\nstop("a deliberate failure")\n')
    assert _run(["verify", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert "reproduce.R failed in R" in err and "a deliberate failure" in err
    assert len(err.splitlines()) == 1
    after = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert after.keys() == before.keys()
    assert all(after[k] == before[k] for k in before if k != "reproduce.R")
