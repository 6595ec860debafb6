"""Trimming (winsorising) large weights, as ``WeightIt::trim()``.

R twin: ``WeightIt::trim()`` (WeightIt 1.5.1, R/trim.R, internal ``.trim_weights``).

* ``at < 1``: a quantile. ``at`` is replaced by ``max(at, 1 - at)``; weights above the ``at``
  quantile are set to it (and, with ``lower=True``, weights below the ``1 - at`` quantile are set
  to that). Quantiles are R's ``quantile(type = 3)`` (nearest even order statistic).
* ``at >= 1``: a count. ``at = k`` sets the top ``k`` weights to the ``(k+1)``-th largest (and
  the bottom ``k`` to the ``(k+1)``-th smallest with ``lower=True``).
* Groups whose weights are all equal (the focal group of an ATT/ATC) are not trimmed and do not
  enter the quantile; with ``treat=None`` all weights are trimmed.
* ``drop=True`` sets trimmed weights to 0 instead.
"""

from __future__ import annotations

import warnings

import numpy as np

from carts_iptw._validation import as_binary_treatment, check_weights
from carts_iptw.families import CartsIptwWarning

_SQRT_EPS = float(np.sqrt(np.finfo(float).eps))


def quantile_type3(x, probs) -> np.ndarray:
    """R's ``quantile(x, probs, type = 3)``: SAS definition, nearest even order statistic."""
    xs = np.sort(np.asarray(x, dtype=float))
    n = xs.size
    out = []
    for p in np.atleast_1d(probs):
        nppm = n * p - 0.5
        j = int(np.floor(nppm + 4 * np.finfo(float).eps))  # R adds fuzz 4 * eps
        h = 0.0 if (nppm == j and j % 2 == 0) else 1.0
        lo = xs[min(max(j, 1), n) - 1]
        hi = xs[min(max(j + 1, 1), n) - 1]
        out.append(lo if h == 0.0 else hi)
    return np.array(out)


def _all_same(x) -> bool:
    return x.size == 0 or bool(np.ptp(x) < _SQRT_EPS)


def trim(w, at: float, lower: bool = False, treat=None, drop: bool = False) -> np.ndarray:
    """Trim weights at a quantile or a count (twin of ``WeightIt::trim``).

    Parameters
    ----------
    w : array-like or WeightItResult
        A weight vector or a :class:`~carts_iptw.weighting.weightit.WeightItResult` (then a new
        result with trimmed weights is returned and its treatment is used).
    at : float
        A quantile (``at < 1``) or a count (``at >= 1``); ``at = 0`` returns the weights
        unchanged.
    lower : bool, default False
        Also trim the lowest weights (quantile rule).
    treat : array-like, optional
        The treatment: quantiles use the weights of the non-focal groups.
    drop : bool, default False
        Set the trimmed weights to 0.

    Returns
    -------
    numpy.ndarray or WeightItResult
        A new array (or a new result for a result).

    Raises
    ------
    TypeError
        ``at`` is not a number.
    ValueError
        ``at`` negative / non-finite; negative, missing or all-zero weights; ``treat`` of the
        wrong length or not binary.

    Warns
    -----
    CartsIptwWarning
        A ``UserWarning``, as WeightIt, returning the weights untrimmed, when all weights (per group) are equal or
        when ``at`` is not less than the number of units to trim.

    Notes
    -----
    R twin: ``WeightIt::trim(w, at, lower, treat, drop)`` (WeightIt 1.5.1). Rule (see the module
    docstring): for ``at < 1``, ``w_i <- min(w_i, Q(at))`` (and ``max(w_i, Q(1 - at))`` with
    ``lower=True``), ``Q`` = ``quantile(type = 3)`` of the weights of the non-focal groups, with
    ``at <- max(at, 1 - at)``; for ``at >= 1``, the ``at`` largest weights are set to the
    ``(at+1)``-th largest.

    References
    ----------
    Cole SR, Hernan MA (2008) Am J Epidemiol 168:656-664 (weight truncation).
    """
    from carts_iptw.weighting.weightit import WeightItResult

    if isinstance(w, WeightItResult):
        new_w = trim(w.weights, at=at, lower=lower, treat=w.treat, drop=drop)
        return w._replace_weights(new_w, trim_at=at, trim_lower=lower)
    weights = check_weights(w, "weights (w)").copy()
    try:
        at = float(at)
    except (TypeError, ValueError):
        raise TypeError("at must be a number (a quantile below 1 or a count)") from None
    if not np.isfinite(at) or at < 0:
        raise ValueError("at must be a non-negative number (a quantile below 1 or a count)")
    if abs(at) < _SQRT_EPS:
        return weights
    to_trim = np.ones(weights.size, dtype=bool)
    if treat is not None:
        if np.ndim(treat) != 1 or len(treat) != weights.size:
            raise ValueError(f"treat has {np.size(treat)} values but there are {weights.size} weights")
        t = as_binary_treatment(treat, "treat")
        groups = np.unique(t)
        same = {g: _all_same(weights[t == g]) for g in groups}
        if all(same.values()):
            warnings.warn("weights are all the same in each treatment group and will not be trimmed",
                          CartsIptwWarning, stacklevel=2)
            return weights
        for g, s in same.items():
            if s:
                to_trim &= t != g
    elif _all_same(weights):
        warnings.warn("weights are all the same and will not be trimmed", CartsIptwWarning, stacklevel=2)
        return weights
    sub = weights[to_trim]
    if at < 1:
        at = max(at, 1 - at)
        q = (1 - at, at) if lower else (0.0, at)
        lo, hi = quantile_type3(sub, q)
    else:
        m = int(to_trim.sum())
        if at >= m:
            warnings.warn(f"at must be less than {m}, the number of units trimmed; weights not trimmed",
                          CartsIptwWarning, stacklevel=2)
            return weights
        k = int(min(at, m - at))
        srt = np.sort(sub)
        lo = srt[k] if lower else srt[0]
        hi = srt[m - k - 1]
    if drop:
        weights[to_trim & ((weights < lo) | (weights > hi))] = 0.0
    else:
        weights[to_trim & (weights < lo)] = lo
        weights[to_trim & (weights > hi)] = hi
    return weights
