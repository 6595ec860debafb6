"""Spec keys of issue 13's effect measures: rare, rmst_tau, [[subgroups]] (errors name the
section and the cause)."""

from __future__ import annotations

import tomllib

import pytest

from carts_iptw.study.spec import default_spec_path, parse_spec


def _raw():
    return tomllib.loads(default_spec_path().read_text())


def test_rare_and_rmst_tau_are_read():
    raw = _raw()
    raw["study"]["rmst_tau"] = 6
    spec = parse_spec(raw)
    assert spec.rmst_tau == 6.0
    assert {o.name: o.rare for o in spec.outcomes}["icans_g3"] is True
    assert {o.name: o.rare for o in spec.outcomes}["os"] is False


@pytest.mark.parametrize("entry, msg", [
    ({"modifier": "sex", "outcome": "nope"}, "is not an outcome"),
    ({"modifier": "sex", "outcome": "os"}, "binary or continuous"),
    ({"modifier": "sex", "outcome": "icans_g3", "weights": "within"}, "'cohort' or 'reestimate'"),
    ({"modifier": "I(age^2)", "outcome": "icans_g3"}, "must be a column name"),
    ({"modifer": "sex", "outcome": "icans_g3"}, "modifier"),
])
def test_bad_subgroups_are_named(entry, msg):
    raw = _raw()
    raw["subgroups"] = [entry]
    with pytest.raises(ValueError, match="subgroups") as e:
        parse_spec(raw)
    assert msg in str(e.value)


def test_bad_rmst_tau_and_rare():
    raw = _raw()
    raw["study"]["rmst_tau"] = -1
    with pytest.raises(ValueError, match="rmst_tau"):
        parse_spec(raw)
    raw = _raw()
    raw["outcomes"][0]["rare"] = "yes"
    with pytest.raises(ValueError, match="rare must be bool"):
        parse_spec(raw)


def test_subgroups_run_in_the_study(tmp_path):
    from carts_iptw.study.pipeline import run_study
    from carts_iptw.study.synthetic import simulate_cohort

    raw = _raw()
    raw["outcomes"] = [o for o in raw["outcomes"] if o["name"] in ("icans_any", "os")]
    del raw["outcomes"][0]["rare"]  # no rare key: the OR's E-value is null with the reason
    raw["subgroups"] = [{"modifier": "construct_41bb", "outcome": "icans_any"}]
    res = run_study(simulate_cohort(12), parse_spec(raw), tmp_path / "out")
    sg = res["subgroups"][0]
    assert sg["weights"] == "cohort" and len(sg["rows"]) == 2
    assert sg["interaction_p"]["function"] == "subgroup_effects"
    ev = res["odds_ratios"][0]["evalue"]["point"]
    assert ev["value"] is None and "rare" in ev["reason"]
    assert res["odds_ratios"][0]["effects"]["rr"]["estimate"]["value"] > 0
    assert res["cox"][0]["evalue"]["point"]["value"] >= 1
    html = (tmp_path / "out" / "report.html").read_text()
    assert 'id="subgroups-table-0"' in html and 'id="fig-subgroups-0"' in html
    assert 'id="effects-table"' in html
    assert (tmp_path / "out" / "tables" / "subgroups_SYNTHETIC.csv").is_file()
    # every figure also as PNG and SVG beside the report, listed in the manifest
    import json

    figs = tmp_path / "out" / "figures"
    manifest = json.loads((tmp_path / "out" / "carts-iptw-manifest.json").read_text())["files"]
    for fid in ("fig-love", "fig-subgroups-0", "fig-km-os"):
        for ext in ("png", "svg"):
            assert (figs / f"{fid}_SYNTHETIC.{ext}").stat().st_size > 0
            assert f"figures/{fid}_SYNTHETIC.{ext}" in manifest
    assert (figs / "fig-love_SYNTHETIC.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (figs / "fig-love_SYNTHETIC.svg").read_bytes()[:1000]
