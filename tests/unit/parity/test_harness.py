"""The harness without R: case selection, warning comparison, reference kinds, the report."""

from __future__ import annotations

import pytest

from carts_iptw import cli
from carts_iptw.parity.compare import canonical_warning, compare_warnings
from carts_iptw.parity.registry import ParityCase
from carts_iptw.parity.report import coverage, to_markdown
from carts_iptw.parity.runner import CaseResult


def test_case_selection_is_exact_or_glob():
    assert [c.name for c in cli._select(["coxph.lung.iptw"])] == ["coxph.lung.iptw"]
    names = [c.name for c in cli._select(["coxph.lung.iptw*"])]
    assert "coxph.lung.iptw" in names and not any(n.startswith("svycoxph") for n in names)
    assert all(n.startswith("coxph.lung.iptw") for n in names)
    two = [c.name for c in cli._select(["coxph.lung.iptw", "survdiff.lung.sex"])]
    assert two == ["coxph.lung.iptw", "survdiff.lung.sex"]
    with pytest.raises(SystemExit, match="no parity case is named"):
        cli._select(["lung.iptw"])  # a substring is not a name
    with pytest.raises(SystemExit, match="matches"):
        cli._select(["nothing.like.this.*"])


def _case(**kw):
    return ParityCase(name="unit.w", function="f", r_twin="stats::glm", dataset="lalonde",
                      r_file="glm.R", r_function="x", python=lambda d, a: {}, **kw)


def test_canonical_warning_maps_both_wordings():
    r = "Loglik converged before variable  1,3 ; coefficient may be infinite. "
    py = "Loglik converged before variable  1,3 (x, z); coefficient may be infinite."
    assert canonical_warning(r) == canonical_warning(py)
    assert canonical_warning("Loglik converged before variable  1 ; coefficient may be infinite. ") \
        != canonical_warning(py)
    assert canonical_warning("glm.fit:  fitted probabilities numerically 0 or 1 occurred") == \
        "glm.fit: fitted probabilities numerically 0 or 1 occurred"


def test_compare_warnings_sets_and_package_only():
    fitted = "glm.fit: fitted probabilities numerically 0 or 1 occurred"
    case = _case(warnings="mirrored", package_only_warnings=(r"extreme weights",))
    row = compare_warnings(case, [fitted, fitted, "some extreme weights were generated"], [fitted])
    assert row.passed and row.check == "warnings" and "package-only" in row.note
    row = compare_warnings(case, [], [fitted])
    assert not row.passed and "R warns, Python does not" in row.note
    row = compare_warnings(case, [fitted, "glm.fit: algorithm did not converge"], [fitted])
    assert not row.passed and "Python warns, R does not" in row.note
    # a package-only warning not declared as such is a difference
    assert not compare_warnings(_case(warnings="mirrored"), ["some extreme weights"], []).passed


def test_reference_kinds():
    assert _case().reference_kind == "package"
    restated = ParityCase(name="u", function="weightit", r_twin="WeightIt::weightit", dataset="lalonde",
                          r_file="weighting.R", r_function="x", python=lambda d, a: {})
    assert restated.reference_kind == "independent" and "restates WeightIt" in restated.reference_why
    live = ParityCase(name="u", function="weightit", r_twin="WeightIt::weightit", dataset="lalonde",
                      r_file="weightit_real.R", r_function="x", python=lambda d, a: {},
                      r_packages=("WeightIt",))
    assert live.reference_kind == "package"
    with pytest.raises(ValueError, match="reference_reason"):
        _case(reference="independent")
    with pytest.raises(ValueError, match="warnings"):
        _case(warnings="sometimes")


def test_report_has_coverage_and_compared_against():
    from carts_iptw.parity.compare import compare_results

    case = _case()
    live = CaseResult(case=case, variant="reference", source="live R 4.2.2")
    live.rows = compare_results(case, {"a": 1.0}, {"a": 1.0}, source=live.source)
    live.r_conditions = {"warnings": ["careful"], "messages": []}
    snap = CaseResult(case=case, variant="reference", source="snapshot 2026 (R 4.2.2)")
    snap.rows = compare_results(case, {"a": 1.0}, {"a": 1.0}, source=snap.source)
    assert coverage([live, snap]) == [("f", [1, 1, 0, 0, 0])]
    md = to_markdown([live, snap], {"R": "R 4.2.2", "packages": {}}, "auto")
    assert md.index("## Coverage") < md.index("## Every quantity")
    assert "compared against" in md and "stats itself, live R 4.2.2" in md
    assert "| unit.w | warning | careful |" in md


def test_peers_are_derived_from_the_case_without_importing_them():
    from carts_iptw.parity.peers import peers_for
    from carts_iptw.parity.registry import get_case

    assert set(peers_for(get_case("glm.binomial.smoke.birthwt.default"))) == {
        "statsmodels GLM var_weights", "statsmodels GLM freq_weights"}
    assert set(peers_for(get_case("glm_robust.HC0.birthwt.multi.default"))) == {
        "statsmodels GLM var_weights", "statsmodels GLM freq_weights"}
    assert set(peers_for(get_case("coxph.cart.efs.iptw"))) == {"lifelines CoxPHFitter"}
    assert set(peers_for(get_case("survfit.cart.efs.iptw"))) == {"lifelines KaplanMeierFitter"}
    assert peers_for(get_case("glm_robust.HC1.cart.uni.default")) == {}
    assert peers_for(get_case("coxph.rotterdam.os.iptw.strata.tight")) == {}


def test_twin_package_is_the_name_before_the_colons():
    case = ParityCase(name="u", function="glm_robust", r_twin="glm + sandwich::vcovHC(type = 'HC1')",
                      dataset="lalonde", r_file="design.R", r_function="x", python=lambda d, a: {},
                      r_packages=("sandwich",))
    assert case.twin_package == "sandwich" and case.reference_kind == "package"
