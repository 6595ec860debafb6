"""Report rendering and provenance helpers (no statistics: a hand-built results dict)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from carts_iptw.report import html as H
from carts_iptw.report.figures import forest_plot, step_curves, to_base64_png
from carts_iptw.study.provenance import R_TWINS, bare_numbers, dumps, num


def _arm(**kw):
    return kw


def results(synthetic=True) -> dict:
    A0, A1 = "Control", "Anakinra"
    n = lambda v: num(v, "count")  # noqa: E731
    return {
        "meta": {"study": "Test study", "description": "desc", "spec": "s.toml", "data": "d.csv",
                 "synthetic": synthetic, "data_label": "SYNTHETIC DATA: test" if synthetic
                 else "user-supplied data", "n_input": 10, "n_analysed": 9,
                 "treatment": "anakinra", "arms": [A0, A1], "estimand": "ATE",
                 "horizons": [12.0], "package": "carts_iptw", "version": "0",
                 "generated_utc": "2025-01-01T00:00:00Z"},
        "flow": [{"step": "all", "excluded": 0, "remaining": 9, "treated": 4, "control": 5}],
        "propensity": {"formula": "anakinra ~ age", "method": "glm", "estimand": "ATE",
                       "trim_at": None,
                       A0: {"n": n(5), "ess": num(4.1, "summary.weightit"),
                            "w_min": num(1.1, "summary.weightit"),
                            "w_max": num(3.0, "summary.weightit"),
                            "coef_of_var": num(0.4, "summary.weightit")}},
        "balance": {"threshold": 0.1, "balanced": True,
                    "max_abs_smd_unweighted": num(0.5, "bal_tab"),
                    "max_abs_smd_weighted": num(0.05, "bal_tab"),
                    "rows": [{"covariate": "age", "type": "Contin.",
                              "Diff.Un": num(0.5, "bal_tab"), "Diff.Adj": num(0.05, "bal_tab"),
                              "V.Ratio.Un": num(None, "bal_tab", reason="binary"),
                              "V.Ratio.Adj": num(1.1, "bal_tab")}],
                    "observations": {"Unadjusted": {"Control": num(5, "bal_tab"),
                                                    "Treated": num(4, "bal_tab")}}},
        "table1": {"arms": [A0, A1], "note": "note", "rows": [
            {"variable": "n", "level": "", "kind": "n", f"{A0}|unweighted": {"n": n(5)},
             f"{A1}|unweighted": {"n": n(4)}, f"{A0}|weighted": {"n": num(9.5, "svytotal")},
             f"{A1}|weighted": {"n": num(8.7, "svytotal")}},
            {"variable": "Age", "level": "", "kind": "median_iqr",
             f"{A0}|unweighted": {k: num(v, "quantile") for k, v in
                                  (("q1", 60), ("median", 67), ("q3", 70))},
             f"{A1}|unweighted": {k: num(v, "quantile") for k, v in
                                  (("q1", 65), ("median", 72), ("q3", 75))},
             f"{A0}|weighted": {k: num(v, "svyquantile") for k, v in
                                (("q1", 61), ("median", 68), ("q3", 71))},
             f"{A1}|weighted": {k: num(v, "svyquantile") for k, v in
                                (("q1", 62), ("median", 69), ("q3", 72))},
             "p_unweighted": num(0.0004, "wilcox_test"),
             "p_weighted": num(0.71, "svyranktest")},
        ]},
        "binary_outcomes": [{"name": "icans_g3", "label": "ICANS >= 3", "primary": True,
                             A0: {"n": n(5), "events": n(1), "rate_weighted": num(9.8, "svymean")},
                             A1: {"n": n(4), "events": n(1), "rate_weighted": num(13.0, "svymean")},
                             "p_weighted": num(0.57, "svychisq")}],
        "odds_ratios": [{"name": "icans_g3", "label": "ICANS >= 3", "adjusted_for": ["age"],
                         "method": "svyglm", "or": num(1.5, "svyglm"),
                         "lower": num(0.5, "svyglm"), "upper": num(4.5, "svyglm"),
                         "p": num(0.16, "svyglm"),
                         "effects": {
                             "rd": {k: num(v, "avg_comparisons") for k, v in (
                                 ("estimate", 0.032), ("se", 0.05), ("lower", -0.066),
                                 ("upper", 0.13), ("p", 0.52))},
                             "rr": {k: num(v, "avg_comparisons") for k, v in (
                                 ("estimate", 1.33), ("se", 0.4), ("lower", 0.61),
                                 ("upper", 2.9), ("p", 0.47))},
                             "target": "all", "averaging": "unweighted",
                             "evalue_rr": {"point": num(1.99, "evalue"),
                                           "ci": num(1.0, "evalue")}},
                         "evalue": {"point": num(None, "evalue", reason="set rare"),
                                    "ci": num(None, "evalue", reason="set rare")}}],
        "continuous_outcomes": [{"name": "wt", "label": "Weight change, kg", "adjusted_for": [],
                                 A0: {"n": n(5), "mean": num(1.8, "svymean"),
                                      "se": num(0.2, "svymean")},
                                 A1: {"n": n(4), "mean": num(5.2, "svymean"),
                                      "se": num(0.4, "svymean")},
                                 "difference": {k: num(v, "svyglm") for k, v in (
                                     ("estimate", 3.44), ("se", 0.5), ("lower", 2.41),
                                     ("upper", 4.47), ("p", 1e-10))}}],
        "distribution_outcomes": [{"name": "d", "label": "duration",
                                   A0: {"n": n(3), "q1": num(1, "svyquantile"),
                                        "median": num(2, "svyquantile"),
                                        "q3": num(3, "svyquantile")},
                                   A1: {"n": n(0), "q1": num(None, "svyquantile", "no patients"),
                                        "median": num(None, "svyquantile", "no patients"),
                                        "q3": num(None, "svyquantile", "no patients")},
                                   "p_weighted": num(None, "svyranktest", "fewer than 2")}],
        "survival": [{"name": "efs", "label": "EFS", "time_unit": "months",
                      A0: {"median_median": num(8.0, "survfit"),
                           "median_lower": num(5.0, "survfit"),
                           "median_upper": num(None, "survfit", "not reached"),
                           "at": {"12": {"surv": num(0.4, "survfit"),
                                         "lower": num(0.3, "survfit"),
                                         "upper": num(0.5, "survfit")}}},
                      A1: {"median_median": num(None, "survfit", "not reached"),
                           "median_lower": num(6.0, "survfit"),
                           "median_upper": num(None, "survfit", "not reached"),
                           "at": {"12": {"surv": num(0.5, "survfit"),
                                         "lower": num(0.4, "survfit"),
                                         "upper": num(0.6, "survfit")}}},
                      "logrank_p": num(0.32, "svylogrank"),
                      "rmst": {"tau": 12.0, "difference": {k: num(v, "rmst_difference") for k, v in (
                          ("estimate", 0.71), ("se", 0.3), ("lower", 0.12), ("upper", 1.3),
                          ("p", 0.018))}},
                      "difference": {"12": {k: num(v, "survfit_difference") for k, v in (
                          ("estimate", 0.1), ("se", 0.07), ("lower", -0.037), ("upper", 0.237),
                          ("p", 0.15))}}}],
        "cox": [{"name": "efs", "label": "EFS", "adjusted_for": [], "hr": num(0.8, "coxph"),
                 "lower": num(0.5, "coxph"), "upper": num(1.3, "coxph"), "p": num(0.22, "coxph"),
                 "evalue": {"point": num(1.81, "evalue"), "ci": num(1.0, "evalue"),
                            "measure": "HR", "rare": True}}],
        "subgroups": [{"modifier": "sex", "label": "Sex", "outcome": "icans_g3",
                       "outcome_label": "ICANS >= 3", "formula": "o_icans_g3 ~ anakinra",
                       "weights": "cohort", "effect": "odds ratio",
                       "rows": [{"level": lv, "n": n(k), **{c: num(v, "subgroup_effects")
                                                            for c, v in zip(
                                    ("estimate", "se", "lower", "upper", "p"), vals, strict=True)}}
                                for lv, k, vals in (("F", 4, (1.2, 0.5, 0.45, 3.2, 0.7)),
                                                    ("M", 5, (2.0, 0.6, 0.6, 6.5, 0.25)))],
                       "interaction_p": num(0.52, "subgroup_effects"),
                       "interaction_f": num(0.43, "subgroup_effects")}],
        "competing": [{"name": "inf", "label": "Infection", A0: {
            "cif": num(0.08, "cuminc"), "lower": num(0.04, "cuminc"),
            "upper": num(0.15, "cuminc"), "events": n(1), "competing": n(0)},
            A1: {"cif": num(0.22, "cuminc"), "lower": num(0.12, "cuminc"),
                 "upper": num(0.35, "cuminc"), "events": n(1), "competing": n(0)}}],
        "warnings": [{"step": "odds ratio crs_g3", "message": "near <separation>"}],
        "functions": dict(R_TWINS),
    }


def test_render_has_every_section_and_table():
    out = H.render_report(results(), {})
    for sid, _ in H.SECTIONS:
        assert f'<section id="{sid}">' in out
    for tid in ("flow-table", "table1-table", "balance-table", "outcomes-table", "or-table",
                "continuous-table", "distributions-table", "survival-table", "cox-table",
                "competing-table", "effects-table", "subgroups-table-0"):
        assert f'id="{tid}"' in out
    # marginal effects: differences in percentage points, E-values; a missing rare key shows
    # a dash with the reason
    assert "3.20" in out and "RMST difference up to 12 months" in out
    assert "1.99" in out and 'title="set rare"' in out
    assert "Difference (Anakinra vs Control)" in out and "2.41&ndash;4.47" in out
    assert 'id="synthetic-banner"' in out and "[SYNTHETIC DATA]" in out
    assert "<script" not in out and "http" not in out.split("<body>")[1]
    assert "near &lt;separation&gt;" in out  # escaped
    assert 'id="fig-forest-or"' in out and 'id="fig-forest-hr"' in out


def test_sections_without_outcomes_of_their_kind_are_left_out():
    r = results()
    for key in ("binary_outcomes", "odds_ratios", "distribution_outcomes", "competing"):
        r[key] = []
    r["cox"] = [c for c in r["cox"] if c["name"] in {s["name"] for s in r["survival"]}]
    out = H.render_report(r, {})
    for sid in ("outcomes", "odds-ratios", "distributions", "competing"):
        assert f'<section id="{sid}">' not in out and f'href="#{sid}"' not in out
    for sid in ("summary", "flow", "table1", "balance", "continuous", "survival", "warnings",
                "methods"):
        assert f'<section id="{sid}">' in out


def test_no_banner_for_real_data():
    out = H.render_report(results(synthetic=False), {})
    assert "synthetic-banner" not in out and "SYNTHETIC" not in out.split("<h2>")[0]


def test_formatting_of_values_and_nulls():
    assert H.fp(num(0.0004, "svychisq")) == "&lt; 0.001"
    # one p-value format: three significant digits
    assert H.fp(num(0.03917, "svychisq")) == "0.0392" and H.fp(num(0.5906, "svyglm")) == "0.591"
    assert H.fp(num(0.99999, "svyglm")) == "1.00"
    assert H.fpeq(num(0.0004, "coxph")) == "p &lt; 0.001" and H.fpeq(num(0.2, "coxph")) == "p = 0.200"
    assert H.fp(num(0.5713, "svychisq")) == "0.571"
    cell = num(None, "survfit", reason="not reached")
    assert 'title="not reached"' in H.fnum(cell)
    assert H.fpct(num(9.81, "svymean")) == "9.8%"
    assert H.fnum(num(float("nan"), "svyglm")).startswith("<span")


def test_num_and_dumps_are_json_safe():
    c = num(float("inf"), "coxph")
    assert c["value"] is None and c["reason"] == "infinite"
    assert num(3, "count")["value"] == 3
    with pytest.raises(KeyError):
        num(1.0, "my_own_statistic")
    text = dumps({"a": [num(float("nan"), "svymean")]})
    assert json.loads(text)["a"][0]["value"] is None
    with pytest.raises(ValueError, match="non-finite"):
        dumps({"a": {"b": math.nan}})


def test_every_number_in_results_has_provenance():
    r = results()
    assert bare_numbers(r) == []
    r["odds_ratios"][0]["or"] = 1.5
    assert bare_numbers(r) == ["results.odds_ratios[0].or"]
    for cell in (r["cox"][0]["hr"], r["survival"][0]["logrank_p"]):
        assert cell["r_twin"] == R_TWINS[cell["function"]]


def test_write_tables(tmp_path):
    files = H.write_tables(results(), tmp_path)
    names = sorted(p.name for p in files)
    assert "table1_SYNTHETIC.csv" in names and "odds_ratios_SYNTHETIC.csv" in names
    df = pd.read_csv(tmp_path / "odds_ratios_SYNTHETIC.csv")
    assert df.loc[0, "or"] == 1.5 and (df["data"] == "SYNTHETIC").all()
    files = H.write_tables(results(synthetic=False), tmp_path / "real")
    assert "cox.csv" in [p.name for p in files]


def test_figures_are_png():
    import base64

    png = base64.b64decode(to_base64_png(forest_plot(results()["odds_ratios"], "or", "OR", "t")))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    fig = step_curves([{"label": "a", "time": [0, 1, 2], "value": [1, 0.8, 0.5]}], "t", "S", "x")
    assert to_base64_png(fig)
    # no estimable rows: still a figure, not an error
    assert to_base64_png(forest_plot([{"label": "x", "or": num(None, "svyglm"),
                                       "lower": num(None, "svyglm"),
                                       "upper": num(None, "svyglm")}], "or", "OR", "t"))


def test_methods_paragraphs_written_from_the_spec_and_run():
    r = results()
    r["propensity"]["term_labels"] = ["Age, years"]
    text = " ".join(H.methods_paragraphs(r))
    assert "We compared Anakinra with Control" in text
    assert "average treatment effect in the whole cohort (ATE)" in text
    assert "logistic regression of treatment on Age, years" in text
    assert "|SMD| < 0.1" in text and "svyglm, gaussian" in text and "svylogrank" in text
    out = H.render_report(r, {})
    assert 'id="methods-text"' in out
