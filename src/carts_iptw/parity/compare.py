"""Flatten results to named quantities and compare Python with R, one row per quantity.

Flattening (the same rules for both sides, so R's named list and Python's dict line up):
- a dict / named list nests with ``.``: ``{"coef": ..., "tests": {"logtest": ...}}`` gives
  ``coef``, ``tests.logtest``;
- a pandas DataFrame / R data.frame / R matrix with column names gives one quantity per column
  ``<q>.<column>``, its row names kept as labels;
- a Series / named vector keeps its names as labels; arrays are flattened column-major (R's order).

A quantity passes iff every element satisfies ``|py - r| <= atol + rtol * |r|`` (NA on both
sides counts as equal, NA on one side fails), its length matches, its labels match where both
sides carry labels, and strings are equal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Quantity:
    values: np.ndarray  # float64, or object for strings
    labels: list[str] | None = None

    @property
    def is_string(self) -> bool:
        return self.values.dtype == object


def _as_quantity(x: Any) -> Quantity:
    if isinstance(x, pd.Series):
        labels = [str(i) for i in x.index] if not isinstance(x.index, pd.RangeIndex) else None
        return _as_quantity_values(x.to_numpy(), labels)
    return _as_quantity_values(x, None)


def _as_quantity_values(x: Any, labels) -> Quantity:
    if x is None:
        return Quantity(np.array([], dtype=float), labels)
    if isinstance(x, str):
        return Quantity(np.array([x], dtype=object), labels)
    if isinstance(x, list | tuple) and any(isinstance(v, str) for v in x):
        return Quantity(np.array(list(x), dtype=object), labels)
    arr = np.asarray(x)
    if arr.dtype.kind in "OUS":
        if all(isinstance(v, str | type(None)) for v in arr.ravel(order="F")):
            return Quantity(np.array(list(arr.ravel(order="F")), dtype=object), labels)
    arr = np.asarray(arr, dtype=float)
    return Quantity(arr.ravel(order="F"), labels)


def flatten(result: Any, prefix: str = "") -> dict[str, Quantity]:
    out: dict[str, Quantity] = {}
    if isinstance(result, Quantity):
        return {prefix or "value": result}
    if isinstance(result, Mapping):
        for k, v in result.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(result, pd.DataFrame):
        labels = None if isinstance(result.index, pd.RangeIndex) else [str(i) for i in result.index]
        for c in result.columns:
            q = _as_quantity_values(result[c].to_numpy(), labels)
            out[f"{prefix}.{c}" if prefix else str(c)] = q
        return out
    out[prefix or "value"] = _as_quantity(result)
    return out


@dataclass
class Row:
    """One checked quantity: what the parity report prints."""

    case: str
    function: str
    r_twin: str
    dataset: str
    quantity: str
    n: int
    worst: str  # label or index of the worst element
    python: float | str | None
    r: float | str | None
    abs_diff: float
    rel_diff: float
    rtol: float
    atol: float
    passed: bool
    note: str = ""
    source: str = ""
    #: "parity" (Python vs R), "drift" (live R vs the stored snapshot: the "python" field holds
    #: live R), or "warnings" (Python's warnings vs R's)
    check: str = "parity"
    #: peer columns (parity/peers.py): {peer: (value, max rel diff vs R, note)}
    peers: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("abs_diff", "rel_diff", "python", "r"):
            v = d[k]
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = None if math.isnan(v) else ("Inf" if v > 0 else "-Inf")
        return d


def compare_quantity(py: Quantity | None, r: Quantity, rtol: float, atol: float) -> dict:
    """The comparison fields of a Row for one quantity."""
    base = dict(n=len(r.values), worst="", python=None, r=None, abs_diff=0.0, rel_diff=0.0, note="")
    if py is None:
        return base | dict(passed=False, note="missing on the Python side", abs_diff=math.inf, rel_diff=math.inf)
    if len(py.values) != len(r.values):
        return base | dict(
            passed=False, abs_diff=math.inf, rel_diff=math.inf,
            note=f"length differs: Python {len(py.values)}, R {len(r.values)}",
        )
    if py.labels is not None and r.labels is not None and list(py.labels) != list(r.labels):
        bad = next(i for i, (a, b) in enumerate(zip(py.labels, r.labels, strict=True)) if a != b)
        return base | dict(
            passed=False, worst=str(r.labels[bad]), python=str(py.labels[bad]), r=str(r.labels[bad]),
            abs_diff=math.inf, rel_diff=math.inf, note="labels differ",
        )
    if len(r.values) == 0:
        return base | dict(passed=True, note="empty")
    label = (lambda i: str(r.labels[i])) if r.labels is not None else (lambda i: f"[{i + 1}]" if len(r.values) > 1 else "")
    if r.is_string or py.is_string:
        eq = np.array([a == b for a, b in zip(py.values, r.values, strict=True)])
        if eq.all():
            return base | dict(passed=True, worst="", python=str(py.values[0]), r=str(r.values[0]))
        i = int(np.flatnonzero(~eq)[0])
        return base | dict(
            passed=False, worst=label(i), python=str(py.values[i]), r=str(r.values[i]),
            abs_diff=math.inf, rel_diff=math.inf, note="strings differ",
        )
    p = py.values.astype(float)
    q = r.values.astype(float)
    both_nan = np.isnan(p) & np.isnan(q)
    same_inf = np.isinf(p) & np.isinf(q) & (np.sign(p) == np.sign(q))
    with np.errstate(invalid="ignore", over="ignore"):
        ad = np.abs(p - q)
        ad = np.where(both_nan | same_inf, 0.0, ad)
        ad = np.where(np.isnan(ad), math.inf, ad)  # NA on one side only
        denom = np.abs(q)
        rd = np.where(ad == 0, 0.0, np.divide(ad, denom, out=np.full_like(ad, math.inf), where=denom > 0))
        ok = ad <= atol + rtol * np.where(np.isfinite(q), np.abs(q), 0.0)
    ok |= both_nan | same_inf
    # the worst element: the first failing one, else the largest relative difference
    i = int(np.flatnonzero(~ok)[0]) if not ok.all() else int(np.argmax(np.where(np.isfinite(rd), rd, 0.0)))
    return base | dict(
        passed=bool(ok.all()), worst=label(i), python=float(p[i]), r=float(q[i]),
        abs_diff=float(np.max(ad)), rel_diff=float(np.max(rd)),
        note="" if ok.all() else f"{int((~ok).sum())} of {len(q)} element(s) outside tolerance",
    )


def compare_results(case, py_result: Any, r_result: Any, source: str = "") -> list[Row]:
    """Compare every quantity R returned with Python's; one Row each."""
    py_flat = flatten(py_result)
    r_flat = flatten(r_result)
    rows = []
    for name, rq in r_flat.items():
        rtol, atol = case.tolerance_for(name)
        fields = compare_quantity(py_flat.get(name), rq, rtol, atol)
        rows.append(Row(
            case=case.name, function=case.function, r_twin=case.r_twin, dataset=case.dataset_name,
            quantity=name, rtol=rtol, atol=atol, source=source, **fields,
        ))
    if not rows:
        rows.append(Row(
            case=case.name, function=case.function, r_twin=case.r_twin, dataset=case.dataset_name,
            quantity="(none)", n=0, worst="", python=None, r=None, abs_diff=math.inf,
            rel_diff=math.inf, rtol=case.rtol, atol=case.atol, passed=False,
            note="R returned no quantities", source=source,
        ))
    return rows


# ---------------------------------------------------------------------------------------------
# warnings
# ---------------------------------------------------------------------------------------------
#: R warnings whose Python twin words them differently: (pattern found on both sides, the one
#: canonical text). Any other warning is compared by its text, whitespace collapsed.
WARNING_FORMS: tuple[tuple[str, str], ...] = (
    (r"fitted probabilities numerically 0 or 1 occurred",
     "glm.fit: fitted probabilities numerically 0 or 1 occurred"),
    (r"glm\.fit: algorithm did not converge", "glm.fit: algorithm did not converge"),
    (r"Loglik converged before variable\s+([0-9][0-9 ,]*?)\s*[;(].*(?:coefficient|beta) may be infinite",
     "coxph: Loglik converged before variable {0}; coefficient may be infinite"),
    (r"Ran out of iterations and did not converge",
     "coxph: Ran out of iterations and did not converge"),
    # weightit(): its IRLS not converging is glm.fit's warning (WeightIt: "(from `glm()`): ...")
    (r"propensity score model \(glm\.fit IRLS\) did not converge",
     "glm.fit: algorithm did not converge"),
    # WeightIt's .wrn() capitalises the first word, ends with a period and wraps lines
    (r"(?i)some extreme weights were generated",
     "weightit: some extreme weights were generated"),
    (r'(?i)`?estimand\s*=\s*"?(\w+)"?`?\s+is\s+not\s+compatible\s+with\s+`focal`',
     'weightit: estimand = "{0}" is not compatible with focal; setting estimand to "ATT"'),
    (r"(?i)`stabilize`\s+cannot\s+be\s+used\s+with\s+.*ignored",
     "weightit: `stabilize` cannot be used with this method and will be ignored"),
    # survfit: R writes robust=FALSE, Python robust=False
    (r"cluster specified with robust=(?:FALSE|False), cluster ignored",
     "survfit: cluster specified with robust=FALSE, cluster ignored"),
)


def canonical_warning(text: str) -> str:
    """The canonical text of a warning, so R's and Python's wording of one warning compare equal."""
    for pattern, canon in WARNING_FORMS:
        m = re.search(pattern, text, flags=re.S)
        if m:
            return canon.format(*(re.sub(r"\s+", "", g) for g in m.groups()))
    return " ".join(text.split())


def compare_warnings(case, py_warnings: list[str], r_warnings: list[str], source: str = "") -> Row:
    """One row: the set of Python's warnings (less those the case lists as package-only) equals
    the set of R's, after ``canonical_warning``. Sets, not counts: R and Python may raise one
    warning a different number of times (e.g. once per refit)."""
    package_only = [w for w in py_warnings
                    if any(re.search(p, w) for p in case.package_only_warnings)]
    py = list(dict.fromkeys(canonical_warning(w) for w in py_warnings if w not in package_only))
    r = list(dict.fromkeys(canonical_warning(w) for w in r_warnings))
    missing = [w for w in r if w not in py]
    extra = [w for w in py if w not in r]
    notes = []
    if missing:
        notes.append("R warns, Python does not: " + " | ".join(missing))
    if extra:
        notes.append("Python warns, R does not: " + " | ".join(extra))
    if package_only:
        notes.append("package-only (R never gives it): "
                     + " | ".join(dict.fromkeys(" ".join(w.split()) for w in package_only)))
    ok = not missing and not extra
    return Row(
        case=case.name, function=case.function, r_twin=case.r_twin, dataset=case.dataset_name,
        quantity="warnings", n=len(r), worst="", python=" | ".join(py) or "(none)",
        r=" | ".join(r) or "(none)", abs_diff=0.0 if ok else math.inf,
        rel_diff=0.0 if ok else math.inf, rtol=0.0, atol=0.0, passed=ok,
        note="; ".join(notes), source=source, check="warnings",
    )


def compare_drift(case, live: Any, stored: Any, source: str = "") -> list[Row]:
    """Live R against the stored snapshot, quantity by quantity at the case's tolerance (rows
    with check "drift"; their "python" field holds live R). A quantity on one side only fails."""
    rows = compare_results(case, live, stored, source=source)
    for r in rows:
        r.check = "drift"
    live_flat = flatten(live)
    stored_flat = flatten(stored)
    for name in live_flat:
        if name not in stored_flat:
            rows.append(Row(
                case=case.name, function=case.function, r_twin=case.r_twin,
                dataset=case.dataset_name, quantity=name, n=len(live_flat[name].values), worst="",
                python=None, r=None, abs_diff=math.inf, rel_diff=math.inf, rtol=0.0, atol=0.0,
                passed=False, note="live R returns it, the snapshot lacks it", source=source,
                check="drift",
            ))
    for r in rows:
        if r.note == "missing on the Python side":
            r.note = "in the snapshot, not returned by live R"
    return rows
