"""The printouts' number formatting equals R's: ``format(x, digits)``, ``format.pval(p, digits)``
and the interval labels of ``confint`` (``carts_iptw.results``), on seeded random vectors
evaluated by live R in this process."""

from __future__ import annotations

import numpy as np
import pytest

from carts_iptw.parity import rbridge
from carts_iptw.results import ci_labels, format_pvals, format_vector


@pytest.fixture(scope="module")
def r(r_reference):  # r_reference: fails in require mode without R, else skips with the reason
    ro = rbridge._r()

    def run(code: str) -> list[str]:
        return [str(v) for v in ro.r(code)]

    return run


def _vec(x) -> str:
    return "c(" + ", ".join(repr(float(v)) for v in x) + ")"


def _draws():
    rng = np.random.default_rng(20261127)
    for k in range(60):
        n = int(rng.integers(1, 7))
        scale = 10.0 ** rng.integers(-6, 6)
        x = rng.normal(size=n) * scale
        if k % 5 == 0:
            x[0] = 0.0
        yield x


@pytest.mark.parametrize("digits", [3, 4, 5, 7])
def test_format_vector_equals_r_format(r, digits):
    for x in _draws():
        want = r(f"format({_vec(x)}, digits = {digits})")
        assert format_vector(x, digits) == want, (list(x), digits)


@pytest.mark.parametrize("digits", [1, 3, 4])
def test_format_pvals_equals_r_format_pval(r, digits):
    rng = np.random.default_rng(7)
    for _ in range(60):
        p = 10.0 ** -rng.uniform(0, 20, size=int(rng.integers(1, 6)))
        want = r(f"format.pval({_vec(p)}, digits = {digits})")
        assert format_pvals(p, digits) == want, (list(p), digits)


def test_ci_labels_equal_r(r):
    for level in (0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999, 0.9999):
        a = (1 - level) / 2
        want = r(f'paste(format(100 * c({a!r}, {1 - a!r}), trim = TRUE, scientific = FALSE, '
                 f'digits = 3), "%")')
        assert list(ci_labels(level)) == want, level
