"""Weights from propensity scores, per estimand, exactly as WeightIt computes them.

R twin: ``WeightIt::get_w_from_ps()`` and its internal ``.get_w_from_ps_internal_bin()``
(WeightIt 1.5.1, R/get_w_from_ps.R and R/utils.R), with ``stabilize_w()``.

For a binary treatment with propensity score ``p = P(A = 1 | X)``:

=========  =======================  ==========================
estimand   treated (A = 1)          control (A = 0)
=========  =======================  ==========================
ATE        1 / p                    1 / (1 - p)
ATT        1                        p / (1 - p)
ATC        (1 - p) / p              1
ATO        1 - p                    p
ATM        min(p, 1 - p) / p        min(p, 1 - p) / (1 - p)
ATOS       1 / p  (0 outside)       1 / (1 - p)  (0 outside)
=========  =======================  ==========================

ATOS (Crump, Hotz, Imbens & Mitnik 2009, the optimal subset): ATE weights, set to 0 for units
whose ``p`` lies outside ``[alpha, 1 - alpha]``; ``alpha`` is the smallest of the sorted values
of ``c(p, 1 - p)`` (the first ``sum(p < 0.5)`` of them, ties skipped) with
``2 a mean_{z >= a}(1 / z) >= 1``, ``a = alpha (1 - alpha)``, ``z = p (1 - p)`` (0 if none),
as WeightIt's ``.get_w_from_ps_internal_bin``.

(ATO: Li, Morgan & Zaslavsky 2018; ATM: Li & Greene 2013; others: Austin 2011.)
``stabilize=True`` multiplies each unit's weight by the marginal probability of its observed
treatment, ``P(A = a)``; WeightIt (>= 1.0) estimates it with an intercept-only logistic model
fitted with the sampling weights, i.e. the sampling-weighted share of the group (the plain share
without sampling weights), and allows it only for the ATE.
"""

from __future__ import annotations

import numpy as np

from carts_iptw._validation import as_binary_treatment, as_float_array

ESTIMANDS = ("ATE", "ATT", "ATC", "ATO", "ATM", "ATOS")


def check_estimand(estimand: str) -> str:
    """The estimand in upper case; ValueError unless it is one of ``ESTIMANDS``."""
    e = str(estimand).upper()
    if e not in ESTIMANDS:
        raise ValueError(f"estimand must be one of {ESTIMANDS}; got {estimand!r}")
    return e


def stabilize_w(w, treat, s_weights=None) -> np.ndarray:
    """Multiply weights by ``P(A = a)``, the (sampling-weighted) share of each unit's group.

    WeightIt: ``weights / weightit(treat ~ 1, method = "glm", s.weights)$weights``; the
    intercept-only model's fitted probability is the sampling-weighted mean of the treatment.
    """
    w = np.asarray(w, dtype=float)
    t = np.asarray(treat, dtype=float)
    sw = np.ones_like(t) if s_weights is None else np.asarray(s_weights, dtype=float)
    p1 = float(sw @ (t == 1)) / float(sw.sum())
    return w * np.where(t == 1, p1, 1.0 - p1)


def _atos_alpha(p: np.ndarray) -> float:
    """Crump et al.'s optimal-subset cut-off as WeightIt 1.5.1 computes it (vectorised)."""
    k = int(np.sum(p < 0.5))
    if k == 0:
        return 0.0
    cand = np.sort(np.concatenate([p, 1.0 - p]))[:k]
    z = p * (1.0 - p)
    zs = np.sort(z)
    tail = np.concatenate([np.cumsum((1.0 / zs)[::-1])[::-1], [0.0]])  # sum of 1/z over z >= zs[i]
    a = cand * (1.0 - cand)
    i = np.searchsorted(zs, a, side="left")
    cnt = z.size - i
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = 2.0 * a * tail[i] / cnt >= 1.0
    # WeightIt skips a candidate equal (within 1e-8) to the previous one
    fresh = np.concatenate([[True], np.abs(np.diff(cand)) >= 1e-8])  # check_if_zero()
    hit = np.flatnonzero(ok & fresh & (cnt > 0))
    return float(cand[hit[0]]) if hit.size else 0.0


def get_w_from_ps(ps, treat, estimand: str = "ATE", stabilize: bool = False) -> np.ndarray:
    """Weights from propensity scores (twin of ``WeightIt::get_w_from_ps`` for 0/1 treatments).

    Parameters
    ----------
    ps : array-like
        P(A = 1 | X), the probability of being in group 1, one per unit.
    treat : array-like
        0/1 (or two-valued) treatment vector of the same length.
    estimand : {"ATE", "ATT", "ATC", "ATO", "ATM", "ATOS"}, default "ATE"
        The estimand.
    stabilize : bool, default False
        Multiply by the unweighted share of the unit's group, ``P(A = a)`` (any estimand here;
        WeightIt's ``weightit()`` allows it for the ATE only).

    Returns
    -------
    numpy.ndarray
        The weights.

    Raises
    ------
    ValueError
        Unknown estimand; length mismatch; non-binary treatment; missing/non-finite ``ps``;
        ``ps`` outside [0, 1]; ``ps`` equal to 0 or 1 (WeightIt: infinite weights, a warning).

    Notes
    -----
    See the module docstring for the formulas (e.g. ATE ``w = t/p + (1-t)/(1-p)``).

    R twin version: WeightIt 1.5.1.

    References
    ----------
    WeightIt 1.5.1 documentation (``?get_w_from_ps``); Austin PC (2011) Multivariate Behav Res
    46:399-424; Li, Morgan & Zaslavsky (2018) JASA 113:390-400; Li & Greene (2013).
    """
    e = check_estimand(estimand)
    p = as_float_array(ps, "ps")
    if p.ndim != 1:
        raise ValueError("ps must be a one-dimensional vector of propensity scores")
    if np.ndim(treat) != 1 or len(treat) != p.size:
        raise ValueError(f"ps has {p.size} values but treat has {np.size(treat)}")
    t = as_binary_treatment(treat, "treat")
    if not np.isfinite(p).all():
        raise ValueError(
            f"ps (propensity scores) has {int((~np.isfinite(p)).sum())} missing or non-finite "
            "value(s)")
    out = (p < 0) | (p > 1)
    if out.any():
        raise ValueError(
            f"ps (propensity scores) has {int(out.sum())} value(s) outside [0, 1]")
    bad = (p <= 0) | (p >= 1)
    if bad.any():
        raise ValueError(
            f"ps (propensity scores) has {int(bad.sum())} value(s) equal to 0 or 1 (perfect "
            "separation); weights would be infinite or zero"
        )
    t1 = t == 1
    w = np.ones_like(p)
    if e == "ATE":
        w = np.where(t1, 1.0 / p, 1.0 / (1.0 - p))
    elif e == "ATT":
        w = np.where(t1, 1.0, p / (1.0 - p))
    elif e == "ATC":
        w = np.where(t1, (1.0 - p) / p, 1.0)
    elif e == "ATO":
        w = np.where(t1, 1.0 - p, p)
    elif e == "ATM":
        w0 = np.where(p < 0.5, p / (1.0 - p), 1.0)
        w1 = np.where(p > 0.5, (1.0 - p) / p, 1.0)
        w = np.where(t1, w1, w0)
    elif e == "ATOS":
        w = np.where(t1, 1.0 / p, 1.0 / (1.0 - p))
        alpha = _atos_alpha(p)
        w[(p < alpha) | (p > 1 - alpha)] = 0.0
    if stabilize:
        w = stabilize_w(w, t)
    return w
