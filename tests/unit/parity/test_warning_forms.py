"""R's wording of WeightIt's / survival's warnings and this package's map to one text.

R's strings are what WeightIt 1.5.1 and survival 3.5-3 gave (stored in the snapshots of the
``*.warnings.*`` parity cases, which compare them live); Python's are raised here by the
functions themselves, so a reworded Python warning fails this test too.
"""

from __future__ import annotations

import json
import warnings

import pytest

from carts_iptw.families import CartsIptwWarning
from carts_iptw.parity.cases.conditions import _lalonde_small, lung_clustered
from carts_iptw.parity.compare import canonical_warning
from carts_iptw.parity.snapshots import snapshot_dir


def _r_warnings(case: str) -> list[str]:
    return json.loads((snapshot_dir() / f"{case}.json").read_text())["r_warnings"]


def _py_warnings(fn) -> list[str]:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in rec if issubclass(w.category, CartsIptwWarning)]


def _canon(ws) -> set[str]:
    return {canonical_warning(w) for w in ws}


@pytest.mark.parametrize(("case", "kwargs"), [
    ("weightit.warnings.focal_with_ATE.lalonde", {"estimand": "ATE", "focal": 1}),
    ("weightit.warnings.stabilize_ebal.lalonde.ATE", {"method": "ebal", "stabilize": True}),
    ("weightit.warnings.stabilize_cbps.lalonde.ATE", {"method": "cbps", "stabilize": True}),
])
def test_weightit_wordings(case, kwargs):
    from carts_iptw.weighting import weightit

    py = _py_warnings(lambda: weightit("treat ~ age + educ + re74", _lalonde_small(), **kwargs))
    assert _canon(py) == _canon(_r_warnings(case))


def test_weightit_not_converging_is_glm_fits_warning():
    from carts_iptw.irls import GlmControl
    from carts_iptw.weighting import weightit

    py = _py_warnings(lambda: weightit("treat ~ age + educ + re74", _lalonde_small(),
                                       control=GlmControl(maxit=2)))
    assert len(py) == 2  # glm.fit's own and weightit's ConvergenceWarning: one meaning
    assert _canon(py) == _canon(_r_warnings("weightit.warnings.maxit2.lalonde.ATE")) == {
        "glm.fit: algorithm did not converge"}


def test_survfit_cluster_ignored():
    from carts_iptw.survival.survfit import survfit

    py = _py_warnings(lambda: survfit("Surv(time, status) ~ sex", lung_clustered(),
                                      cluster="inst", robust=False))
    assert _canon(py) == _canon(_r_warnings("survfit.warnings.cluster_robust_false.lung"))


def test_forms_keep_what_differs():
    a = '`estimand = "ATE"` is not compatible with `focal`. Setting `estimand`\nto "ATT".'
    b = 'estimand = "ATO" is not compatible with `focal`; setting estimand to "ATT"'
    assert canonical_warning(a) != canonical_warning(b)
    assert canonical_warning("Some extreme weights were generated. Examine them with "
                             "`summary()` and\nmaybe trim them with `trim()`.") == \
        canonical_warning("some extreme weights were generated; examine them with .summary() "
                          "and consider trim()")
    assert canonical_warning("some extreme weights were generated") != \
        canonical_warning("glm.fit: algorithm did not converge")
