"""Grouping of survfit / survdiff right-hand sides as survival does: ``strata(mf[ll])``.

Labels ``x=a`` (``x=a, z=b`` for several variables, first varying slowest, unobserved
combinations dropped), built with the formula layer's own ``strata()`` evaluator.
"""

from __future__ import annotations

import numpy as np

from carts_iptw.formula.evaluate import evaluate
from carts_iptw.formula.parser import parse_expression
from carts_iptw.formula.surv import _strata_factor


def covariates(mf) -> tuple[np.ndarray, list[str]]:
    """The model matrix without its intercept column (a Cox model has none), and its names."""
    X = np.asarray(mf.X, dtype=float)
    cn = list(mf.column_names)
    if "(Intercept)" in cn:
        j = cn.index("(Intercept)")
        X = np.delete(X, j, axis=1)
        cn.pop(j)
    return X, cn


def rhs_factor(mf, data):
    """(integer codes, labels) of the curves; one curve 'all' for ``~ 1``."""
    labels = list(mf.term_labels)
    for lab in labels:
        if ":" in lab:
            raise ValueError("Interaction terms are not valid for this function")
    strata = (getattr(mf, "specials", None) or {}).get("strata")
    if not labels and strata is None:
        return np.zeros(mf.n, dtype=np.int64), ["all"]
    vals = [evaluate(parse_expression(lab), data) for lab in labels]
    names = list(labels)
    if strata is not None:
        from carts_iptw.formula.evaluate import Value

        vals.append(Value("factor", np.asarray(strata.codes, dtype=np.int64),
                          [str(c) for c in strata.categories]))
        names.append(_strata_label(mf.formula))
    cat = _strata_factor(vals, names, False)
    return np.asarray(cat.codes, dtype=np.int64), [str(c) for c in cat.categories]


def _strata_label(formula: str) -> str:
    """R's deparsed ``strata(...)`` term (the name survfit gives the strata variable)."""
    rhs = formula.split("~", 1)[-1]
    found = []
    i = rhs.find("strata(")
    while i >= 0:
        depth, j = 0, i + len("strata")
        while j < len(rhs):
            depth += rhs[j] == "("
            depth -= rhs[j] == ")"
            j += 1
            if depth == 0:
                break
        inner = "".join(rhs[i:j].split())
        found.append(inner.replace(",", ", "))
        i = rhs.find("strata(", j)
    return ", ".join(found) if found else "strata"
