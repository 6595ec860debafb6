"""``Surv()`` responses and the ``strata()`` / ``cluster()`` specials.

``Surv(time, event)`` / ``Surv(start, stop, event)``, as survival::Surv and survival::strata build
them.

Differences from R (documented): an invalid status value, a negative time (right-censored
data) or ``stop <= start`` (counting process) raises ``ValueError`` instead of becoming NA.
A text status raises ``ValueError`` as R's ``Surv()`` errors ("Invalid status value, must be
logical or numeric"); a factor status (a pandas Categorical, or ``factor(x)``) is the
multi-state form, its first level meaning censored, as survival.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .evaluate import Value, as_factor, evaluate
from .parser import Call, deparse

__all__ = ["SurvResponse", "eval_surv", "eval_strata", "combine_strata", "eval_cluster"]


@dataclass
class SurvResponse:
    """An evaluated ``Surv()`` response.

    ``type`` is 'right', 'counting' (start, stop], 'mright' or 'mcounting' (multi-state: the
    event is a factor whose first level means censored; ``event`` holds 0 for censored and
    k for the k-th other level, ``states`` the other levels).
    """

    type: str
    time: np.ndarray
    event: np.ndarray
    start: np.ndarray | None = None
    states: list[str] | None = None
    label: str = ""
    #: the Surv() arguments as written ({"time": ..., "event": ..., "start": ...}), for messages
    names: dict[str, str] = field(default_factory=dict)

    @property
    def stop(self) -> np.ndarray:
        """The stop time (``time``)."""
        return self.time

    def __len__(self) -> int:
        """Number of rows."""
        return len(self.time)


def _numeric_time(v: Value, what: str) -> np.ndarray:
    if v.kind not in ("numeric",):
        raise ValueError(f"time variable '{what}' in Surv() is not numeric")
    x = np.asarray(v.values, dtype=float)
    bad = ~np.isfinite(x)
    if bad.any():
        raise ValueError(f"time variable '{what}' has {int(bad.sum())} non-finite value(s)")
    return x


def _status(v: Value, what: str) -> tuple[np.ndarray, list[str] | None]:
    if v.kind == "character":  # R: "Invalid status value, must be logical or numeric"
        raise ValueError(
            f"status variable '{what}' holds text: Surv() needs a numeric (0/1 or 1/2) or "
            "logical status (R: 'Invalid status value, must be logical or numeric'); for "
            f"multi-state curves make it a pandas Categorical or write factor({what})")
    if v.kind == "factor":
        return v.values.astype(np.int64), list(v.levels[1:])
    if v.kind == "logical":
        return v.values.astype(np.int64), None
    x = np.asarray(v.values, dtype=float)
    if x.size and np.nanmax(x) == 2:
        x = x - 1
    bad = ~((x == 0) | (x == 1))
    if bad.any():
        raise ValueError(
            f"status variable '{what}' has {int(bad.sum())} invalid value(s): use 0/1, "
            "TRUE/FALSE or 1/2 (1 = censored, 2 = event)"
        )
    return x.astype(np.int64), None


def eval_surv(call: Call, data: pd.DataFrame) -> SurvResponse:
    """Evaluate a ``Surv(time, event)`` or ``Surv(time, time2, event)`` call on ``data``."""
    names = ["time", "time2", "event"]
    args: dict[str, object] = {}
    for i, a in enumerate(call.args):
        if i >= 3:
            raise ValueError("Surv() takes at most three arguments here")
        args[names[i]] = a
    for k, vnode in call.kwargs:
        if k not in names:
            raise ValueError(f"Surv() argument '{k}' is not supported")
        args[k] = vnode
    label = deparse(call)
    if "time" not in args:
        raise ValueError("Surv() needs a time argument")
    tnode = args["time"]
    time = _numeric_time(evaluate(tnode, data), deparse(tnode))
    if len(args) == 1:
        ev = np.ones(len(time), dtype=np.int64)
        return SurvResponse("right", _check_nonneg(time, deparse(tnode)), ev, label=label,
                            names={"time": deparse(tnode)})
    if len(args) == 2:
        enode = args.get("event", args.get("time2"))
        event, states = _status(evaluate(enode, data), deparse(enode))
        return SurvResponse(
            "mright" if states is not None else "right",
            _check_nonneg(time, deparse(tnode)), event, states=states, label=label,
            names={"time": deparse(tnode), "event": deparse(enode)},
        )
    snode, enode = args["time2"], args["event"]
    stop = _numeric_time(evaluate(snode, data), deparse(snode))
    bad = time >= stop
    if bad.any():
        raise ValueError(
            f"Surv(): stop time '{deparse(snode)}' must be > start time '{deparse(tnode)}'; "
            f"{int(bad.sum())} row(s) are not"
        )
    event, states = _status(evaluate(enode, data), deparse(enode))
    return SurvResponse(
        "mcounting" if states is not None else "counting", stop, event, start=time,
        states=states, label=label,
        names={"start": deparse(tnode), "time": deparse(snode), "event": deparse(enode)},
    )


def _check_nonneg(t: np.ndarray, what: str) -> np.ndarray:
    k = int((t < 0).sum())
    if k:
        raise ValueError(f"time variable '{what}' has {k} negative value(s)")
    return t


def _strata_factor(values: list[Value], argnames: list[str], shortlabel: bool | None,
                   sep: str = ", ") -> pd.Categorical:
    """survival::strata(): first argument varies slowest; only observed combinations kept."""
    facs = [as_factor(v) if v.kind != "factor" else v for v in values]
    if shortlabel is None:
        shortlabel = all(v.kind in ("factor", "character") for v in values)
    first = facs[0]
    levs = first.values.astype(np.int64)
    labs = list(first.levels) if shortlabel else [f"{argnames[0]}={w}" for w in first.levels]
    for f, nm in zip(facs[1:], argnames[1:], strict=True):
        wlab = list(f.levels)
        if not shortlabel:
            wlab = [f"{nm}={w}" for w in wlab]
            width = max(len(w) for w in wlab)
            wlab = [w.ljust(width) for w in wlab]  # R's format() pads to a common width
        levs = f.values.astype(np.int64) + levs * len(wlab)
        labs = [f"{a}{sep}{b}" for a in labs for b in wlab]
    ulevs = np.unique(levs)
    codes = np.searchsorted(ulevs, levs)
    return pd.Categorical.from_codes(codes, categories=[labs[u] for u in ulevs])


def eval_strata(call: Call, data: pd.DataFrame) -> pd.Categorical:
    """Evaluate a ``strata(...)`` call on ``data``.

    As R's ``survival::strata``; the ``shortlabel`` argument is supported.
    """
    shortlabel = None
    for k, v in call.kwargs:
        if k == "shortlabel":
            shortlabel = bool(evaluate(v, data).values)
        else:
            raise ValueError(f"strata() argument '{k}' is not supported")
    if not call.args:
        raise ValueError("strata() needs at least one variable")
    vals = [evaluate(a, data) for a in call.args]
    return _strata_factor(vals, [deparse(a) for a in call.args], shortlabel)


def combine_strata(parts: list[pd.Categorical]) -> pd.Categorical:
    """Several strata() terms combined as coxph does (shortlabel=TRUE, joined by ', ')."""
    if len(parts) == 1:
        return parts[0]
    vals = [Value("factor", np.asarray(p.codes, dtype=np.int64), [str(c) for c in p.categories])
            for p in parts]
    return _strata_factor(vals, [""] * len(vals), True)


def eval_cluster(call: Call, data: pd.DataFrame) -> np.ndarray:
    """Evaluate a ``cluster(x)`` call on ``data``: one cluster label per row."""
    if len(call.args) != 1 or call.kwargs:
        raise ValueError("cluster() takes one variable")
    v = evaluate(call.args[0], data)
    if v.kind == "factor":
        return np.asarray(v.levels, dtype=object)[v.values]
    return np.asarray(v.values)
