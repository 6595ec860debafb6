"""Survival responses: checks and survival's ``aeqSurv`` time fix.

R twin: ``survival::Surv`` (right-censored ``Surv(time, event)`` and counting-process
``Surv(start, stop, event)``) and ``survival::aeqSurv`` (the ``timefix = TRUE`` rule that
treats times closer than ``sqrt(.Machine$double.eps)`` as tied).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_TOL = float(np.sqrt(np.finfo(float).eps))


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


def aeq_times(*arrays: np.ndarray, tolerance: float = _TOL) -> tuple[np.ndarray, ...]:
    """survival::aeqSurv: map nearly-equal times to a common value.

    Sorted unique finite times y; a gap dy is a tie when ``dy <= tol`` or
    ``dy / mean(|y|) <= tol``; tied runs are replaced by their first (smallest) value.
    """
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
