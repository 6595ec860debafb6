"""reproduce.R and `carts-iptw verify` without R: the generated script's text, the keys both sides
use, the comparison, the manifest-aware writer and the bad-input messages (issue 15).

The live runs (the script in Rscript, verify on every bundled study, a perturbed number) are in
tests/parity/test_verify_live_r.py.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import tomllib

import pytest

from carts_iptw.cli import main
from carts_iptw.study.output import OutputFolderError, read_manifest, update_outputs
from carts_iptw.study.pipeline import run_study
from carts_iptw.study.reproduce import R_PACKAGES, R_VERSIONS, generate_r_script
from carts_iptw.study.spec import (
    default_spec,
    default_spec_path,
    example_paths,
    load_spec,
    parse_spec,
)
from carts_iptw.study.synthetic import simulate_cohort
from carts_iptw.study.verify import (
    VerifyError,
    check_folder,
    compare,
    not_compared,
    quantities,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A small study on a simulated cohort (a DataFrame: the run writes cohort.csv)."""
    raw = tomllib.loads(default_spec_path().read_text())
    raw["outcomes"] = [o for o in raw["outcomes"] if o["name"] in (
        "icans_g3", "crs_any", "os", "icans_duration", "infection_g3_cif")]
    out = tmp_path_factory.mktemp("run") / "out"
    res = run_study(simulate_cohort(3), parse_spec(raw), out)
    return out, res


def _as_r(results: dict) -> dict:
    """What a reproduce.R that agrees with Python writes: the keyed values, nested."""
    doc: dict = {}
    for key, cell in quantities(results).items():
        node = doc
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = cell["value"]
    return doc


# ---------------------------------------------------------------- the script's text
def test_script_reads_like_an_analysis():
    spec = default_spec()
    s = generate_r_script(spec, cohort_file="/data/cohort.csv")
    head = s.split("\n\n")[0] + s.split("\n\n")[1]
    for p in R_PACKAGES:
        assert f"library({p})" in head
    assert f"R {R_VERSIONS['R']}" in head and f"WeightIt {R_VERSIONS['WeightIt']}" in head
    assert "carts_iptw" not in s.replace("It does not use carts_iptw.", "")
    assert "reticulate" not in s and "rpy2" not in s
    # the spec's own R: eligibility rules, derived columns, outcome definitions, formulas
    for st in spec.eligibility.steps:
        assert st.rule in s and f"# {st.label}" in s
    for d in spec.schema().derived:
        assert f"cohort${d.name} <- with(cohort, {d.value})" in s
    assert f"weightit({spec.treatment} ~ {' + '.join(spec.propensity.covariates)}" in s
    for o in spec.outcomes:
        assert f"## {o.label}" in s
        if o.type == "binary":
            assert f"cohort${o.name} <- as.integer(with(cohort, {o.definition}))" in s
    for call in ("bal.tab(W", "svydesign(ids = ~1", "svyglm(", "svyquantile(", "svychisq(",
                 "svyranktest(", "survfit(", "svylogrank(", "coxph(", "avg_comparisons(",
                 "col_w_smd(", "wilcox.test(", "write_json("):
        assert call in s, call
    # no generated names: the columns the script adds are the spec's names (and iptw)
    assert not re.search(r"\bo_[a-z]", s) and "_t1_" not in s and ".w " not in s


def test_sections_in_the_report_order():
    s = generate_r_script(default_spec())
    heads = re.findall(r"^# ---- (.+?) -+$", s, re.M)
    order = ["Cohort", "Eligibility", "Propensity-score weights", "Outcome definitions",
             "Table 1", "Covariate balance", "Binary outcomes", "Durations and counts",
             "Time to event", "Competing risks", "Write results_R.json"]
    idx = [next(i for i, h in enumerate(heads) if h.startswith(w)) for w in order]
    assert idx == sorted(idx)


def test_spec_options_reach_the_script():
    raw = tomllib.loads(default_spec_path().read_text())
    raw["propensity"].update(estimand="ATT", trim_at=0.95, stabilize=True, missing="complete")
    s = generate_r_script(parse_spec(raw, str(default_spec_path())))
    assert 'estimand = "ATT"' in s and "stabilize = TRUE" in s and "W <- trim(W, at = 0.95)" in s
    assert "complete.cases(" in s
    assert "subset(cohort, anakinra == 1)" in s  # the g-computation target of the ATT
    spec, _ = example_paths("lalonde")
    s = generate_r_script(load_spec(spec))
    assert "regTermTest(" in s and 'results$subgroups[["employed78 by married"]]' in s


def test_column_names_never_clash():
    raw = tomllib.loads(default_spec_path().read_text())
    raw["outcomes"][0]["name"] = "icans_grade"  # an outcome named like a cohort column
    s = generate_r_script(parse_spec(raw, str(default_spec_path())))
    assert "cohort$icans_grade_2 <- as.integer(with(cohort, icans_grade >= 3))" in s
    assert "cohort$icans_grade <- as.integer" not in s


# ---------------------------------------------------------------- run outputs
def test_run_writes_script_and_cohort_copy(run):
    out, res = run
    rep = res["meta"]["reproduce"]
    assert rep["cohort"] == "cohort.csv" and rep["cohort_copy"] is True
    blob = (out / "cohort.csv").read_bytes()
    assert hashlib.sha256(blob).hexdigest() == rep["cohort_sha256"]
    assert "same patient data" in rep["note"]
    s = (out / "reproduce.R").read_text()
    assert 'read.csv("cohort.csv"' in s and "same patient data" in s
    files = read_manifest(out)["files"]
    assert {"reproduce.R", "cohort.csv"} <= set(files)
    assert "Not verified in R" in (out / "report.html").read_text()


def test_csv_input_is_read_in_place(tmp_path):
    cohort = tmp_path / "cohort.csv"
    simulate_cohort(4).to_csv(cohort, index=False)
    raw = tomllib.loads(default_spec_path().read_text())
    raw["outcomes"] = [o for o in raw["outcomes"] if o["name"] == "os"]
    spec = tmp_path / "spec.toml"
    shutil.copy(default_spec_path().parent / "anakinra.schema.toml", tmp_path)
    spec.write_text(default_spec_path().read_text())
    res = run_study(cohort, spec, tmp_path / "out")
    rep = res["meta"]["reproduce"]
    assert rep["cohort"] == str(cohort.resolve()) and rep["cohort_copy"] is False
    assert rep["cohort_sha256"] == hashlib.sha256(cohort.read_bytes()).hexdigest()
    assert not (tmp_path / "out" / "cohort.csv").exists()
    assert f'read.csv({json.dumps(str(cohort.resolve()))}' in (tmp_path / "out" / "reproduce.R").read_text()


def test_keys_are_unique_and_cover_every_number(run):
    res = run[1]
    q = quantities(res)
    n_cells = json.dumps({k: v for k, v in res.items() if k not in ("meta", "functions")}
                         ).count('"function":')
    assert len(q) == n_cells + 2  # every cell once, plus the flow's two count vectors
    assert "flow.remaining" in q and "table1.n.Control|weighted.n" in q
    assert any(k.startswith("table1.histology=") for k in q)
    assert "survival.os.rmst.difference.estimate" in q


# ---------------------------------------------------------------- the comparison
def test_agreeing_r_matches_and_a_perturbed_number_is_named(run):
    res = run[1]
    doc = _as_r(res)
    rows = compare(res, doc)
    assert rows and all(r.status in ("match", "not compared") for r in rows)
    bad = copy.deepcopy(res)
    bad["survival"][0]["Control"]["at"]["12"]["surv"]["value"] *= 1 + 1e-4
    rows = compare(bad, doc)
    failed = [r.quantity for r in rows if r.status == "DIFFERS"]
    assert failed == ["survival.os.Control.at.12.surv"]
    within = copy.deepcopy(res)
    within["survival"][0]["Control"]["at"]["12"]["surv"]["value"] *= 1 + 1e-7
    assert all(r.status != "DIFFERS" for r in compare(within, doc))


def test_counts_are_exact_and_missing_r_fails(run):
    res = run[1]
    doc = _as_r(res)
    doc["binary_outcomes"]["icans_g3"]["Control"]["events"] += 1
    del doc["cox"]["os"]["hr"]
    rows = {r.quantity: r for r in compare(res, doc)}
    assert rows["binary_outcomes.icans_g3.Control.events"].status == "DIFFERS"
    assert rows["cox.os.hr"].status == "DIFFERS"
    assert rows["cox.os.hr"].note == "not computed by reproduce.R"


def test_not_compared_is_listed_with_its_reason(run):
    res = copy.deepcopy(run[1])
    assert not_compared("odds_ratios.x.firth.or", {"function": "logistf"}, res).startswith(
        "Firth")
    assert "published abstract" in not_compared("calibration.0.Control|published",
                                                {"function": "published"}, res)
    res["propensity"]["missing"] = "mi"
    assert "stochastic imputation" in not_compared("cox.os.hr", {"function": "coxph"}, res)
    rows = compare(res, {"flow": {"remaining": [r["remaining"] for r in res["flow"]],
                                  "treated": [r["treated"] for r in res["flow"]]}})
    assert {r.quantity for r in rows if r.status == "match"} == {"flow.remaining",
                                                                  "flow.treated"}
    assert all(r.status == "not compared" and r.note for r in rows
               if not r.quantity.startswith("flow."))


def test_cbps_script_stops_after_the_flow_chart():
    raw = tomllib.loads(default_spec_path().read_text())
    raw["propensity"]["method"] = "cbps"
    s = generate_r_script(parse_spec(raw, str(default_spec_path())))
    assert "results$flow <- list(" in s and "weightit(" not in s.split("# ---- Cohort")[1]
    assert "# cbps weights: WeightIt's optimiser stalls without rootSolve" in s


# ---------------------------------------------------------------- the writer
def test_update_outputs_touches_only_its_own_files(run, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(run[0], out)
    update_outputs(out, {"verification.md": b"one"}, version="t")
    assert "verification.md" in read_manifest(out)["files"]
    update_outputs(out, {"verification.md": b"two"}, version="t")  # its own, unchanged: replaced
    assert (out / "verification.md").read_bytes() == b"two"
    (out / "verification.md").write_text("edited")
    with pytest.raises(OutputFolderError, match="edited"):
        update_outputs(out, {"verification.md": b"three"}, version="t")
    (out / "notes.md").write_text("mine")
    with pytest.raises(OutputFolderError, match="not written by carts-iptw"):
        update_outputs(out, {"notes.md": b"x"}, version="t")
    assert (out / "notes.md").read_text() == "mine"
    with pytest.raises(OutputFolderError):
        update_outputs(out, {"../escape.md": b"x"}, version="t")


# ---------------------------------------------------------------- bad input (exit 2)
def _copy(run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(run[0], out)
    return out


def test_missing_files_and_changed_cohort(run, tmp_path, capsys):
    out = _copy(run, tmp_path)
    (out / "reproduce.R").unlink()
    assert main(["verify", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no reproduce.R" in err and len(err.strip().splitlines()) == 1
    shutil.rmtree(out)
    out = _copy(run, tmp_path)
    (out / "results.json").unlink()
    with pytest.raises(VerifyError, match="no results.json"):
        check_folder(out)
    shutil.rmtree(out)
    out = _copy(run, tmp_path)
    with open(out / "cohort.csv", "a") as fh:
        fh.write("\n")
    with pytest.raises(VerifyError, match="changed since the run"):
        check_folder(out)
    (out / "cohort.csv").unlink()
    with pytest.raises(VerifyError, match="is gone"):
        check_folder(out)
    with pytest.raises(VerifyError, match="not a carts-iptw output"):
        check_folder(tmp_path)


def test_no_r_is_exit_2_and_writes_nothing(run, tmp_path, monkeypatch, capsys):
    out = _copy(run, tmp_path)
    before = sorted(p.name for p in out.iterdir())
    monkeypatch.setenv("CARTS_IPTW_RSCRIPT", str(tmp_path / "no-such-Rscript"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["verify", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "R is not installed" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == before
