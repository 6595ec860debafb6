"""Survival responses: checks and survival's ``aeqSurv`` time fix.

R twin: ``survival::Surv`` (right-censored ``Surv(time, event)`` and counting-process
``Surv(start, stop, event)``) and ``survival::aeqSurv`` (the ``timefix = TRUE`` rule that
treats times closer than ``sqrt(.Machine$double.eps)`` as tied).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

_TOL = float(np.sqrt(np.finfo(float).eps))

#: sort orders of the last few (large) time vectors, keyed by their content: the Kaplan-Meier
#: curves, the log-rank test and the Cox model of one outcome sort the same times once
_ORDERS: OrderedDict = OrderedDict()
_ORDERS_KEEP = 2
_ORDERS_MIN_N = 50_000
_ORDERS_LOCK = threading.Lock()


def time_order(t) -> np.ndarray:
    """``np.argsort(t)``: a (read-only) order sorting ``t``, rows tied on t in unspecified order.

    Remembered for the last two large vectors seen, keyed by a digest of their bytes (the
    same content always gives the same order, whoever asks).
    """
    t = np.ascontiguousarray(t, dtype=float)
    if t.ndim != 1 or len(t) < _ORDERS_MIN_N:
        return np.argsort(t)
    key = (len(t), hashlib.sha256(memoryview(t).cast("B")).digest())  # ~5 ms per 10^6 rows
    with _ORDERS_LOCK:
        hit = _ORDERS.get(key)
        if hit is not None:
            _ORDERS.move_to_end(key)
            return hit
    o = np.argsort(t)
    o.flags.writeable = False
    with _ORDERS_LOCK:
        _ORDERS[key] = o
        while len(_ORDERS) > _ORDERS_KEEP:
            _ORDERS.popitem(last=False)
    return o


@dataclass(frozen=True)
class SurvData:
    """A checked survival response (one row per observation)."""

    time: np.ndarray  # stop time
    event: np.ndarray  # 0/1 float
    start: np.ndarray | None = None  # None for right-censored data
    time_name: str = "time"
    event_name: str = "event"

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self.time)

    @property
    def counting(self) -> bool:
        """Whether the response is counting-process (start, stop]."""
        return self.start is not None


def _as_float(values, name: str) -> np.ndarray:
    try:
        v = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"column '{name}' must be numeric") from None
    if v.ndim != 1:
        raise ValueError(f"column '{name}' must be one-dimensional")
    k = int(np.isnan(v).sum())
    if k:
        raise ValueError(f"column '{name}' has {k} missing value(s); remove or impute them first")
    k = int((~np.isfinite(v)).sum())
    if k:
        raise ValueError(f"column '{name}' has {k} infinite value(s)")
    return v


def check_event(values, name: str = "event") -> np.ndarray:
    """0/1 (or logical) event indicator; survival's 1/2 coding (lung) is not guessed here."""
    if values is None:
        raise ValueError("an event indicator is required")
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr.astype(float)
    e = _as_float(arr, name)
    bad = ~np.isin(e, (0.0, 1.0))
    if bad.any():
        raise ValueError(
            f"column '{name}' must be coded 0 (censored) / 1 (event) or logical; "
            f"{int(bad.sum())} row(s) have other values"
        )
    return e


def make_surv(time, event, start=None, time_name="time", event_name="event",
              start_name="start") -> SurvData:
    """Validate a survival response: finite, non-negative times, 0/1 events, start < stop."""
    t = _as_float(time, time_name)
    e = check_event(event, event_name)
    if len(e) != len(t):
        raise ValueError(f"'{time_name}' and '{event_name}' have different lengths")
    if start is None:
        neg = t < 0
        if neg.any():
            raise ValueError(f"column '{time_name}' has {int(neg.sum())} negative time(s)")
        return SurvData(t, e, None, time_name, event_name)
    s = _as_float(start, start_name)
    if len(s) != len(t):
        raise ValueError(f"'{start_name}' and '{time_name}' have different lengths")
    bad = s >= t
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} row(s) have '{start_name}' >= '{time_name}': "
            "intervals (start, stop] must have stop > start"
        )
    return SurvData(t, e, s, time_name, event_name)


def aeq_times(*arrays: np.ndarray, tolerance: float = _TOL, order=None) -> tuple[np.ndarray, ...]:
    """survival::aeqSurv: map nearly-equal times to a common value.

    Sorted unique finite times y; a gap dy is a tie when ``dy <= tol`` or
    ``dy / mean(|y|) <= tol``; tied runs are replaced by their first (smallest) value.
    ``order``: for one array, an order sorting it (e.g. :func:`time_order`), which saves the
    sort of the unique values.
    """
    if order is not None and len(arrays) == 1:
        return (_aeq_sorted(np.asarray(arrays[0], dtype=float), order, tolerance),)
    allv = np.concatenate([np.asarray(a, dtype=float) for a in arrays])
    y = np.unique(allv[np.isfinite(allv)])
    if len(y) < 2:
        return tuple(np.asarray(a, dtype=float) for a in arrays)
    dy = np.diff(y)
    tied = (dy <= tolerance) | (dy / np.mean(np.abs(y)) <= tolerance)
    if not tied.any():
        return tuple(np.asarray(a, dtype=float) for a in arrays)
    cuts = y[np.concatenate([[True], ~tied])]
    out = []
    for a in arrays:
        a = np.asarray(a, dtype=float)
        z = np.searchsorted(cuts, a, side="right") - 1
        out.append(cuts[np.clip(z, 0, len(cuts) - 1)])
    return tuple(out)


def _aeq_sorted(a: np.ndarray, order: np.ndarray, tolerance: float) -> np.ndarray:
    """:func:`aeq_times` of one array, given an order sorting it (the same values)."""
    s = a[order]
    f = aeq_sorted(s, tolerance)
    if f is s:
        return a
    out = np.empty_like(a)
    out[order] = f
    return out


def aeq_sorted(s: np.ndarray, tolerance: float = _TOL) -> np.ndarray:
    """:func:`aeq_times` of one ascending array (still ascending); ``s`` itself when no time moves."""
    fin = s[np.isfinite(s)]
    if len(fin) > 1:
        y = fin[np.concatenate([[True], fin[1:] != fin[:-1]])]
    else:
        y = fin
    if len(y) < 2:
        return s
    dy = np.diff(y)
    tied = (dy <= tolerance) | (dy / np.mean(np.abs(y)) <= tolerance)
    if not tied.any():
        return s
    cuts = y[np.concatenate([[True], ~tied])]
    z = np.searchsorted(cuts, s, side="right") - 1  # sorted needles
    return cuts[np.clip(z, 0, len(cuts) - 1)]
