"""A held-out study (generated, not CAR T, not a worked study) through ``carts-iptw run``.

Its numbers are compared with R by the parity cases ``study.heldout.cli`` and
``study.heldout.cli.weights`` (tests/parity/test_registry.py); here: the run's outputs speak the
spec's language (arms, outcome labels, days) and nothing of the seed study.
"""

from __future__ import annotations

from pathlib import Path

from carts_iptw.parity.cases.heldout_study import run_cli


def test_heldout_study_runs_from_the_cli_in_its_own_terms():
    res = run_cli()
    out = Path(res["_folder"])
    assert res["meta"]["time_unit"] == "days"
    assert res["meta"]["arms"] == ["No statin", "Statin"]
    assert [r["step"] for r in res["flow"]] == ["cohort as supplied", "aged 40 or over",
                                                "eGFR measured"]
    assert [o["name"] for o in res["continuous_outcomes"]] == ["ldl"]
    assert [o["name"] for o in res["survival"]] == ["mace"]
    html = (out / "report.html").read_text(encoding="utf-8")
    for word in ("anakinra", "CAR T", "infusion", "histology", "months"):
        assert word.lower() not in html.lower(), word
    assert "Statin" in html and "LDL change, mmol/l" in html and "days" in html
    assert (out / "tables" / "table1.csv").is_file()
    assert any(p.suffix == ".svg" for p in (out / "figures").iterdir())
