"""Docstrings in numpydoc sections on the public API (issue 11).

``test_exports.test_public_functions_name_their_r_twin`` checks that each public name names its
R twin; these tests check the sections around it: every public function documents each of its
parameters under ``Parameters`` and what it gives back under ``Returns``, its ``Notes`` name the
R twin with a version (or say there is none), and every result class lists its ``Attributes``
and names its R twin. Formatting (summary line, blank lines, section underlines) is ruff's
``D`` rules with the numpy convention, run by ``tox -e lint``.
"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

import carts_iptw

#: result classes of the public functions (module, class)
RESULT_CLASSES = [
    ("carts_iptw.glm_model", "GlmResult"),
    ("carts_iptw.design.results", "ModelResult"),
    ("carts_iptw.design.firth", "FirthResult"),
    ("carts_iptw.design.describe", "SvyStat"),
    ("carts_iptw.design.describe", "SvyQuantile"),
    ("carts_iptw.design.htest", "HTest"),
    ("carts_iptw.survival.coxph", "CoxPH"),
    ("carts_iptw.survival.survfit", "SurvFit"),
    ("carts_iptw.survival.competing", "SurvFitMS"),
    ("carts_iptw.survival.survey", "SvyKM"),
    ("carts_iptw.survival.logrank", "SurvDiff"),
    ("carts_iptw.survival.logrank", "SvyLogrank"),
    ("carts_iptw.survival.zph", "CoxZph"),
    ("carts_iptw.balance.bal_tab", "BalTab"),
    ("carts_iptw.weighting.weightit", "WeightItResult"),
    ("carts_iptw.weighting.summary", "WeightSummary"),
    ("carts_iptw.effects.comparisons", "AvgComparisons"),
    ("carts_iptw.effects.evalue", "EValue"),
    ("carts_iptw.effects.rmst", "RMSTDifference"),
    ("carts_iptw.effects.subgroups", "SubgroupEffects"),
    ("carts_iptw.effects.survdiff_at", "SurvivalDifference"),
]


def _public():
    for name in carts_iptw.__all__:
        obj = getattr(carts_iptw, name)
        if inspect.isclass(obj) and issubclass(obj, Warning | Exception):
            continue
        yield name, obj


PUBLIC = dict(_public())
FUNCTIONS = sorted(n for n, o in PUBLIC.items() if not inspect.isclass(o))
CLASSES = sorted(n for n, o in PUBLIC.items() if inspect.isclass(o))


def _sections(doc: str) -> dict[str, str]:
    """Numpydoc sections of a docstring: {title: body}."""
    parts = re.split(r"^(\w[\w ]*)\n-{3,}\n", doc, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _documented_params(body: str) -> set[str]:
    names = set()
    for line in body.splitlines():
        if line and not line[0].isspace():
            for nm in line.split(" : ")[0].split(","):
                names.add(nm.strip().lstrip("*"))
    return names


def _params(obj) -> list[str]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    sig = inspect.signature(target)
    return [p.name for p in sig.parameters.values() if p.name not in ("self", "cls")]


def test_the_public_api_has_functions_and_classes():
    assert len(FUNCTIONS) > 40 and {"CoxControl", "GlmControl"} <= set(CLASSES)


@pytest.mark.parametrize("name", FUNCTIONS + CLASSES)
def test_every_parameter_is_documented(name):
    obj = PUBLIC[name]
    params = _params(obj)
    doc = inspect.getdoc(obj) or ""
    secs = _sections(doc)
    if not params:
        return
    assert "Parameters" in secs, f"{name}: no Parameters section"
    missing = set(params) - _documented_params(secs["Parameters"])
    assert not missing, f"{name}: parameters not documented: {sorted(missing)}"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_says_what_it_returns(name):
    secs = _sections(inspect.getdoc(PUBLIC[name]) or "")
    assert secs.get("Returns", "").strip(), f"{name}: no Returns section"


@pytest.mark.parametrize("name", FUNCTIONS + CLASSES)
def test_notes_name_the_r_twin_and_its_version(name):
    """The R twin with a version (``survey 4.1-1``, ``R 4.2``; or why none: not installed here), or
    "No R twin"."""
    doc = inspect.getdoc(PUBLIC[name]) or ""
    secs = _sections(doc)
    assert "Notes" in secs, f"{name}: no Notes section"
    if "no r twin" in doc.lower():
        return
    assert "R twin" in doc or "twin of" in doc.lower(), f"{name}: the R twin is not named"
    assert re.search(r"\b(R|[A-Za-z][\w.]*) \d+\.\d+", doc) or "not installed here" in doc, (
        f"{name}: no R / package version")


@pytest.mark.parametrize(("module", "cls"), RESULT_CLASSES)
def test_result_classes_list_attributes_and_name_the_r_twin(module, cls):
    obj = getattr(importlib.import_module(module), cls)
    doc = inspect.getdoc(obj) or ""
    secs = _sections(doc)
    assert secs.get("Attributes", "").strip(), f"{cls}: no Attributes section"
    assert "R twin" in secs.get("Notes", ""), f"{cls}: Notes do not name the R twin"
    assert re.search(r"\d+\.\d+", secs["Notes"]), f"{cls}: no version of the R twin"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_references_are_a_section_not_prose(name):
    """A reference list sits under ``References``, not in a trailing "References:" line."""
    doc = inspect.getdoc(PUBLIC[name]) or ""
    assert not re.search(r"^References?:", doc, flags=re.M), f"{name}: 'References:' in prose"
