"""Every registered parity case: Python against R (live or snapshot), and proof it can fail."""

from __future__ import annotations

import numpy as np
import pytest

from carts_iptw.parity import snapshots
from carts_iptw.parity.compare import Quantity, compare_results, flatten
from carts_iptw.parity.registry import all_cases
from carts_iptw.parity.runner import current_mode, python_result, run_case, variants

CASES = all_cases()
PARAMS = [pytest.param(c, v, id=f"{c.name}[{v}]") for c in CASES for v in variants(c)]
#: each case's Python answer from test_parity, for test_perturbation_fails (the Python side is
#: deterministic: computing it a second time would only repeat the work)
_PY_RESULTS: dict[str, object] = {}


@pytest.mark.parametrize(("case", "variant"), PARAMS)
def test_parity(case, variant, record_parity):
    res = run_case(case, current_mode(), variant)
    if res.py_result is not None:
        _PY_RESULTS[case.name] = res.py_result
    print(f"{case.name} [{variant}]: {res.source or res.skipped}")
    if res.skipped:
        record_parity(case.name + f" [{variant}]", "SKIP", res.skipped, res)
        pytest.skip(res.skipped)
    record_parity(case.name + f" [{variant}]", "PASS" if res.passed else "FAIL", res.source, res)
    assert res.error is None, res.error
    bad = res.failures()
    assert not bad, "\n".join(
        f"{r.quantity} {r.worst}: python={r.python!r} R={r.r!r} rel={r.rel_diff:.3g} "
        f"(rtol {r.rtol:g}, atol {r.atol:g}) {r.note}" for r in bad
    )


def _perturbed(q: Quantity, by: float = 1e-4) -> Quantity:
    v = q.values.astype(float)
    bumped = np.where(v == 0, by, v * (1 + by))
    return Quantity(bumped, q.labels)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_perturbation_fails(case):
    """Perturbing any one numeric quantity of Python's answer by 1e-4 relative must fail (by
    twice its tolerance where a case states a wider, Monte Carlo one: bootstrap SEs)."""
    py = flatten(_PY_RESULTS[case.name] if case.name in _PY_RESULTS else python_result(case))
    numeric = {k: q for k, q in py.items() if not q.is_string and len(q.values)
               and np.isfinite(q.values.astype(float)).any()}
    assert numeric, f"{case.name}: no numeric quantity to perturb"
    for name, q in numeric.items():
        reference = dict(py)  # Python's own answer stands in for R's
        candidate = dict(py)
        candidate[name] = _perturbed(q, max(1e-4, 2 * case.tolerance_for(name)[0]))
        rows = compare_results(case, candidate, reference)
        failing = [r.quantity for r in rows if not r.passed]
        assert failing == [name], f"{case.name}: perturbing {name} by 1e-4 was not caught ({failing})"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES if not c.external_snapshot])
def test_snapshot_is_current(case):
    """Every base-R case has a snapshot made by the R code as it is now."""
    path = snapshots.snapshot_path(case)
    assert path.is_file(), f"missing snapshot {path}: run `carts-iptw parity regenerate`"
    why = snapshots.staleness(case)
    assert why is None, f"{path.name} is stale ({why}): run `carts-iptw parity regenerate`"
