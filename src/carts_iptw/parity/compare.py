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
from collections.abc import Mapping
from dataclasses import asdict, dataclass
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
