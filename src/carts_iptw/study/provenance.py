"""Every number in results.json carries the function that made it and that function's R twin.

``num(value, fn)`` wraps a number as ``{"value": v, "function": fn, "r_twin": R_TWINS[fn]}``.
A value that is not finite becomes ``{"value": null, "reason": ...}``: results.json never holds
NaN or Infinity (``json.dumps(allow_nan=False)`` is enforced by :func:`dumps`).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

#: Python function (as named in results.json) -> the R call a statistician maps it to.
R_TWINS: dict[str, str] = {
    "count": "base::table (unweighted count)",
    "published": "(none: a number printed in the reference study's abstract)",
    "percent": "100 * prop.table(table()) (unweighted percentage)",
    "quantile": "stats::quantile(type = 7) (unweighted median and quartiles)",
    "weightit": "WeightIt::weightit(method = 'glm')",
    "trim": "WeightIt::trim()",
    "summary.weightit": "WeightIt::summary.weightit() (weight range, CV, Kish ESS)",
    "bal_tab": "cobalt::bal.tab()",
    "table_one": "cobalt::bal.tab(s.d.denom = 'pooled', binary = 'std') SMD",
    "svymean": "survey::svymean()",
    "svytotal": "survey::svytotal()",
    "svyquantile": "survey::svyquantile(qrule = 'math')",
    "svychisq": "survey::svychisq(statistic = 'F')",
    "svyranktest": "survey::svyranktest(test = 'wilcoxon')",
    "svyglm": "survey::svyglm() (quasibinomial: odds ratios; gaussian: mean differences)",
    "logistf": "logistf::logistf() (Firth-penalised logistic regression)",
    "wilcox_test": "stats::wilcox.test()",
    "chisq_test": "stats::chisq.test()",
    "fisher_test": "stats::fisher.test()",
    "survfit": "survival::survfit()",
    "svylogrank": "survey::svylogrank()",
    "coxph": "survival::coxph(robust = TRUE)",
    "cuminc": "survival::survfit() with a multi-state status (Aalen-Johansen)",
    "avg_comparisons": "marginaleffects::avg_comparisons() on the survey::svyglm fit "
                       "(comparison = 'difference'; 'lnratioavg', transform = 'exp')",
    "rmst_difference": "summary(survival::survfit(), rmean = tau) per arm, IJ variance "
                       "(resid(type = 'sojourn')); difference as survRM2::rmst2",
    "survfit_difference": "summary(survival::survfit(), times = t) per arm, "
                          "difference with sqrt(se1^2 + se0^2)",
    "evalue": "EValue::evalues.RR/OR/HR() (VanderWeele & Ding 2017 formulas)",
    "subgroup_effects": "survey::svyglm() on subset(design, modifier == level) + "
                        "survey::regTermTest()",
    "pool": "mice::pool() over the completed data sets (Rubin's rules, Barnard-Rubin df)",
    "bal_tab_mi": "cobalt::bal.tab(imp = ) (balance across imputations)",
}


def num(value: Any, fn: str, reason: str | None = None) -> dict:
    """A number with provenance; non-finite or missing values become null with a reason."""
    if fn not in R_TWINS:
        raise KeyError(f"no R twin recorded for function {fn!r}")
    out: dict[str, Any] = {"value": None, "function": fn, "r_twin": R_TWINS[fn]}
    if value is None:
        out["reason"] = reason or "not estimable"
        return out
    v = float(value)
    if math.isfinite(v):
        out["value"] = int(v) if fn == "count" else v
    else:
        out["reason"] = reason or ("infinite" if math.isinf(v) else "not estimable (NaN)")
    return out


def value(cell: Any) -> Any:
    """The bare value of a provenance cell (or the object itself)."""
    return cell.get("value") if isinstance(cell, dict) and "function" in cell else cell


def _default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        f = float(o)
        return f if math.isfinite(f) else None
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"results.json: cannot serialise {type(o).__name__}")


def _check_finite(o, path="results"):
    if isinstance(o, float) and not math.isfinite(o):
        raise ValueError(f"results.json: non-finite number at {path}")
    if isinstance(o, dict):
        for k, v in o.items():
            _check_finite(v, f"{path}.{k}")
    elif isinstance(o, list | tuple):
        for i, v in enumerate(o):
            _check_finite(v, f"{path}[{i}]")


def dumps(results: dict) -> str:
    """JSON text of ``results``; raises if any number is NaN or infinite."""
    _check_finite(results)
    return json.dumps(results, indent=1, default=_default, allow_nan=False)


#: keys whose numbers are settings from the spec or bookkeeping, not statistics
CONFIG_KEYS = frozenset({"meta", "flow", "functions", "threshold", "trim_at", "censor_at",
                         "horizons", "tau"})


def bare_numbers(results, path: str = "results") -> list[str]:
    """Paths of floats in ``results`` that carry no provenance (should be empty)."""
    found: list[str] = []
    if isinstance(results, dict):
        if "function" in results and "r_twin" in results:
            return found
        for k, v in results.items():
            if k not in CONFIG_KEYS:
                found += bare_numbers(v, f"{path}.{k}")
    elif isinstance(results, list | tuple):
        for i, v in enumerate(results):
            found += bare_numbers(v, f"{path}[{i}]")
    elif isinstance(results, float):
        found.append(path)
    return found
