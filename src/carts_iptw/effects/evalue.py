"""E-values for unmeasured confounding (VanderWeele & Ding 2017).

The twin of the EValue package's ``evalues.RR`` / ``evalues.OR`` / ``evalues.HR`` (EValue 4.1, not
installable here: it needs metafor and dplyr).
"""

from __future__ import annotations

import math

import pandas as pd

from carts_iptw.results import Result, Summary, format_vector, matrix_text

MEASURES = ("RR", "OR", "HR")


def _threshold(x: float) -> float:
    """E-value of one risk ratio (true value 1).

    ``RR + sqrt(RR (RR - 1))`` with RR >= 1 (a ratio below 1 is inverted first).
    """
    if x < 1:
        x = 1 / x
    return x + math.sqrt(x * (x - 1))


def _to_rr(x: float, measure: str, rare: bool) -> float:
    if measure == "RR" or rare:
        return x
    if measure == "OR":
        return math.sqrt(x)
    return (1 - 0.5 ** math.sqrt(x)) / (1 - 0.5 ** math.sqrt(1 / x))  # HR, common outcome


class EValue(Result):
    """Result of :func:`evalue`.

    Attributes
    ----------
    point : float
        E-value of the estimate.
    ci : float or None
        E-value of the confidence limit closest to 1; 1 when the interval includes 1; None
        without an interval.
    rr : float
        The estimate on the risk-ratio scale after any common-outcome conversion.
    rr_ci
        The converted limits.
    measure, rare, estimate, lower, upper
        The inputs.

    Notes
    -----
    R twin: ``EValue::evalues.RR`` / ``evalues.OR`` / ``evalues.HR`` (EValue 4.1).
    """

    def __init__(self, estimate, lower, upper, measure, rare, rr, rr_ci, point, ci):
        self.estimate, self.lower, self.upper = estimate, lower, upper
        self.measure, self.rare = measure, rare
        self.rr, self.rr_ci = rr, rr_ci
        self.point, self.ci = point, ci

    def tidy(self) -> pd.DataFrame:
        """One row of the E-values.

        Columns ``measure``, ``estimate``, ``rr`` (converted), ``evalue_point`` and, with an
        interval, ``conf_low``, ``conf_high``, ``rr_conf_low``, ``rr_conf_high``,
        ``evalue_ci``.
        """
        row = {"measure": self.measure, "estimate": self.estimate, "rr": self.rr,
               "evalue_point": self.point}
        if self.ci is not None:
            row.update({"conf_low": self.lower, "conf_high": self.upper,
                        "rr_conf_low": self.rr_ci[0], "rr_conf_high": self.rr_ci[1],
                        "evalue_ci": self.ci})
        return pd.DataFrame([row])

    def _print_text(self) -> str:
        """EValue's printed matrix.

        Rows ``RR`` and ``E-values``, columns point / lower / upper (the E-value only under the
        limit closest to 1, NA under the other).
        """
        vals = [self.rr]
        ev = [self.point]
        if self.ci is not None:
            lo, hi = self.rr_ci
            vals += [lo, hi]
            closer_lower = self.rr >= 1
            ev += [self.ci, math.nan] if closer_lower else [math.nan, self.ci]
        cols = ["point", "lower", "upper"][:len(vals)]
        f1 = format_vector(vals, 4)
        f2 = format_vector(ev, 4)
        tab = pd.DataFrame([f1, f2], index=["RR", "E-values"], columns=cols)
        note = ""
        if self.measure != "RR":
            conv = ("none (rare outcome: the ratio approximates the RR)" if self.rare else
                    "sqrt(OR)" if self.measure == "OR" else
                    "(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))")
            note = f"\n{self.measure} converted to the RR scale: {conv}"
        return matrix_text(tab) + note + "\n"

    def summary(self) -> Summary:
        """The printout with ``.table`` = ``tidy()``."""
        return Summary(self._print_text(), table=self.tidy())


def _positive(x, name):
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite")
    if v <= 0:
        raise ValueError(f"{name} must be a positive ratio (an E-value needs a ratio > 0)")
    return v


def evalue(estimate, lower=None, upper=None, measure: str = "RR", rare: bool | None = None
           ) -> EValue:
    """E-value of a ratio estimate and of its confidence limit closest to 1 (VanderWeele & Ding 2017).

    Twin of ``EValue::evalues.RR(est, lo, hi)``, ``evalues.OR(..., rare =)`` and
    ``evalues.HR(..., rare =)`` (EValue 4.1.x; true value 1).

    Parameters
    ----------
    estimate : float
        The ratio (RR, OR or HR), > 0.
    lower, upper : float, optional
        Its confidence limits (either or both; both > 0, lower <= estimate <= upper).
    measure : {"RR", "OR", "HR"}, default "RR"
        The ratio measure.
    rare : bool, optional
        For OR / HR: whether the outcome is rare (required).

    Returns
    -------
    EValue
        ``point``, ``ci``, ``rr``, ``rr_ci``; ``tidy()`` one row.

    Raises
    ------
    ValueError
        A non-positive or non-finite ratio or limit; limits in the wrong order or not around the
        estimate; unknown ``measure``; ``rare`` missing for an OR or HR.

    Notes
    -----
    The E-value is the minimum strength of association, on the risk-ratio scale, that an
    unmeasured confounder would need with both treatment and outcome to explain away the
    estimate: ``E = RR + sqrt(RR (RR - 1))`` for ``RR >= 1`` (for ``RR < 1`` apply it to
    ``1 / RR``). For the interval: the E-value of the limit closest to 1, or 1 when the interval
    includes 1. Ratios other than a risk ratio are first put on the RR scale: a rare outcome
    (< 15% at the end of follow-up, ``rare=True``) uses the OR / HR as is; a common outcome uses
    ``sqrt(OR)`` and ``(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))``, the paper's conversions. As
    in EValue, ``rare`` must be given for an OR or HR (no silent default).

    EValue does not install here (it needs metafor and dplyr): the implementation is checked
    against the paper's formulas (parity cases ``evalue.*`` restate them in R) and its worked
    example (RR 3.9, CI 1.8-8.7: E-values 7.26 and 3.0, numbers printed in the paper).

    References
    ----------
    VanderWeele TJ, Ding P (2017) Sensitivity analysis in observational research: introducing
    the E-value. Ann Intern Med 167:268-274; Mathur MB et al. (2018) Epidemiology 29:e45-e47
    (the EValue package).
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}; got {measure!r}")
    est = _positive(estimate, "estimate")
    lo = _positive(lower, "lower")
    hi = _positive(upper, "upper")
    if measure in ("OR", "HR"):
        if rare is None:
            raise ValueError(f"rare must be given for an {measure}: True if the outcome is rare "
                             "(< 15% at the end of follow-up), False if common")
        rare = bool(rare)
    elif rare is not None:
        rare = bool(rare)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError("lower must be less than upper")
    if (lo is not None and est < lo) or (hi is not None and est > hi):
        raise ValueError("the estimate must lie inside its confidence interval")
    conv = lambda v: None if v is None else _to_rr(v, measure, bool(rare))  # noqa: E731
    rr, rlo, rhi = conv(est), conv(lo), conv(hi)
    point = _threshold(rr)
    ci = None
    if rlo is not None or rhi is not None:
        if rr > 1:
            ci = 1.0 if rlo is None or rlo <= 1 else _threshold(rlo)
        elif rr < 1:
            ci = 1.0 if rhi is None or rhi >= 1 else _threshold(rhi)
        else:
            ci = 1.0
    return EValue(est, lo, hi, measure, rare, rr, (rlo, rhi), point, ci)
