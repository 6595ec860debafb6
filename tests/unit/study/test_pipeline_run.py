"""run_study with a changed spec (estimand, trimming, policy, fewer outcomes): the spec's
choices reach the statistics and the outputs, and a re-run replaces only its own files."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest

from carts_iptw.study.pipeline import run_study
from carts_iptw.study.provenance import bare_numbers
from carts_iptw.study.spec import default_spec_path, parse_spec
from carts_iptw.study.synthetic import simulate_cohort


def _spec(**prop):
    raw = tomllib.loads(default_spec_path().read_text())
    raw["outcomes"] = [o for o in raw["outcomes"] if o["name"] in ("icans_g3", "os",
                                                                   "icans_duration")]
    raw["propensity"].update(prop)
    return raw


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(12)


def test_att_with_trimming(cohort, tmp_path):
    raw = _spec(estimand="ATT", trim_at=0.9)
    res = run_study(cohort, parse_spec(raw), tmp_path / "out")
    p = res["propensity"]
    assert p["estimand"] == "ATT" and p["trim_at"] == 0.9
    # ATT: treated weights are 1
    t = p["Anakinra"]
    assert t["w_min"]["value"] == t["w_max"]["value"] == 1.0
    assert res["meta"]["synthetic"] is True
    assert bare_numbers(res) == []
    on_disk = json.loads((tmp_path / "out" / "results.json").read_text())
    assert on_disk["propensity"]["estimand"] == "ATT"
    assert [o["name"] for o in on_disk["binary_outcomes"]] == ["icans_g3"]
    assert [o["name"] for o in on_disk["survival"]] == ["os"]
    assert [o["name"] for o in on_disk["distribution_outcomes"]] == ["icans_duration"]


@pytest.fixture(scope="module")
def base(cohort, tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "out"
    msgs: list[str] = []
    res = run_study(cohort, parse_spec(_spec()), out, progress=msgs.append)
    return out, res, msgs


def test_trimming_changes_the_weights(cohort, base, tmp_path):
    b = run_study(cohort, parse_spec(_spec(trim_at=0.8)), tmp_path / "b")
    wa = base[1]["propensity"]["Control"]["w_max"]["value"]
    wb = b["propensity"]["Control"]["w_max"]["value"]
    assert wb < wa


def test_policy_from_spec_changes_the_cohort(cohort, tmp_path):
    raw = _spec()
    raw["eligibility"][-1]["rule"] = "age >= 70"
    res = run_study(cohort, parse_spec(raw), tmp_path / "out")
    flow = res["flow"]
    assert flow[-1]["control"] < flow[0]["control"]
    assert flow[-1]["treated"] == flow[0]["treated"]
    assert res["meta"]["n_analysed"] == flow[-1]["remaining"]


def test_rerun_replaces_only_its_own_files(cohort, base):
    out = base[0]
    (out / "notes.txt").write_text("the user's own file")
    run_study(cohort, parse_spec(_spec()), out)
    assert (out / "notes.txt").read_text() == "the user's own file"
    # a DataFrame cohort: the run writes it as cohort.csv for reproduce.R (issue 15)
    assert sorted(p.name for p in out.iterdir()) == [
        "carts-iptw-manifest.json", "cohort.csv", "figures", "notes.txt", "report.html",
        "reproduce.R", "results.json", "tables"]
    assert [p.name for p in out.parent.iterdir()] == ["out"]


def test_progress_messages(base):
    msgs = base[2]
    assert msgs[0].startswith("reading") and msgs[-1].startswith("done")
    assert any("weightit" in m for m in msgs) and any("Kaplan-Meier" in m for m in msgs)
    assert all(isinstance(m, str) and m for m in msgs)


def test_separation_switches_to_firth_with_a_warning(cohort):
    """No grade >= 3 CRS among controls: the ML odds ratio is infinite; Firth replaces it."""
    from carts_iptw.study import analysis as A
    from carts_iptw.study.cohort import validate_cohort
    from carts_iptw.study.spec import default_spec

    d = validate_cohort(cohort)
    ctl = d["anakinra"] == 0
    d.loc[ctl & (d["crs_grade"] >= 3), "crs_grade"] = 2
    ctx = A.Context(spec=default_spec(), data=d)
    A.fit_weights(ctx)
    A.make_design(ctx)
    o = [o for o in ctx.spec.outcomes if o.name == "crs_g3"][0]
    res = A.odds_ratio(ctx, o)
    assert res["method"] == "logistf"
    assert "anakinra" in res["separation"]["terms"]
    assert res["or"]["function"] == "logistf" and res["or"]["value"] > 1
    assert np.isfinite(res["upper"]["value"])
    assert any("separation" in w["message"] for w in ctx.warnings)
