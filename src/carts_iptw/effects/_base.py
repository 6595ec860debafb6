"""The result class shared by the effect functions: rows of estimates with Wald inference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from carts_iptw.results import (
    Result,
    Summary,
    check_level,
    ci_labels,
    format_pvals,
    format_vector,
    matrix_text,
)

_COLUMNS = ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high")


def wald(est, se, level: float, log_scale: bool = False) -> dict:
    """Z statistic, two-sided normal p-value and the Wald interval of ``est``.

    On the log scale and back-transformed with ``exp`` when ``log_scale``.
    """
    est = np.asarray(est, dtype=float)
    se = np.asarray(se, dtype=float)
    q = float(stats.norm.ppf(1 - (1 - check_level(level)) / 2))
    z = est / se
    p = 2 * stats.norm.sf(np.abs(z))
    lo, hi = est - q * se, est + q * se
    if log_scale:
        est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
    return {"estimate": est, "std_error": se, "statistic": z, "p_value": p,
            "conf_low": lo, "conf_high": hi}


class EffectRows(Result):
    """Effect estimates, one row each (``term``, ``contrast`` and the Wald columns).

    Attributes
    ----------
    estimate, std_error, statistic, p_value, conf_low, conf_high
        Floats for a one-row result, arrays otherwise.
    conf_level : float
        Confidence level.

    Notes
    -----
    ``tidy()`` is broom's snake_case table; ``summary()`` the printout with ``.table``.
    """

    #: title line of the printout
    title: str = ""
    #: lines after the table
    footer: tuple[str, ...] = ()

    def __init__(self, table: pd.DataFrame, conf_level: float, *, title: str = "",
                 footer=(), scale_note: str = ""):
        for c in ("term", "contrast", *_COLUMNS):
            if c not in table.columns:
                raise ValueError(f"internal: effect table lacks column {c!r}")
        vals = table[list(_COLUMNS)].to_numpy(dtype=float)
        if not np.isfinite(vals).all():
            raise ValueError("the effect estimate is not finite (NaN or infinite); check the "
                             "inputs (a zero reference risk, an empty group?)")
        self._table = table.reset_index(drop=True)
        self.conf_level = float(conf_level)
        self.title = title
        self.footer = tuple(footer)
        self.scale_note = scale_note

    def _col(self, name):
        v = self._table[name].to_numpy(dtype=float)
        return float(v[0]) if len(v) == 1 else v

    estimate = property(lambda self: self._col("estimate"), doc="Point estimate(s).")
    std_error = property(lambda self: self._col("std_error"), doc="Standard error(s).")
    statistic = property(lambda self: self._col("statistic"), doc="Wald z statistic(s).")
    p_value = property(lambda self: self._col("p_value"), doc="Two-sided p-value(s).")
    conf_low = property(lambda self: self._col("conf_low"), doc="Lower confidence limit(s).")
    conf_high = property(lambda self: self._col("conf_high"), doc="Upper confidence limit(s).")

    def tidy(self) -> pd.DataFrame:
        """Broom's ``tidy()`` in snake_case.

        ``term``, ``contrast``, ``estimate``, ``std_error``, ``statistic``, ``p_value``,
        ``conf_low``, ``conf_high`` (and any extra columns of the result, e.g. ``time``).
        """
        return self._table.copy()

    def _print_text(self) -> str:
        t = self._table
        lo, hi = ci_labels(self.conf_level)
        out = pd.DataFrame(index=[""] * len(t))
        extra = [c for c in ("time", "tau") if c in t.columns]
        out["Term"] = t["term"].astype(str).to_numpy()
        out["Contrast"] = t["contrast"].astype(str).to_numpy()
        for c in extra:
            out[c.capitalize()] = format_vector(t[c].to_numpy(dtype=float), 4)
        for src, lab in (("estimate", "Estimate"), ("std_error", "Std. Error"),
                         ("statistic", "z")):
            out[lab] = [s.strip() for s in format_vector(t[src].to_numpy(dtype=float), 3)]
        out["Pr(>|z|)"] = format_pvals(t["p_value"].to_numpy(dtype=float), 3)
        out[lo] = [s.strip() for s in format_vector(t["conf_low"].to_numpy(dtype=float), 3)]
        out[hi] = [s.strip() for s in format_vector(t["conf_high"].to_numpy(dtype=float), 3)]
        lines = [self.title, "", matrix_text(out)] if self.title else ["", matrix_text(out)]
        if self.scale_note:
            lines += ["", self.scale_note]
        lines += [*self.footer]
        return "\n".join(lines).rstrip() + "\n"

    def summary(self) -> Summary:
        """The printout (``str()``) with ``.table`` = ``tidy()``."""
        return Summary(self._print_text(), table=self.tidy())

    def __len__(self) -> int:
        return len(self._table)


def finite_or_raise(x: float, what: str) -> float:
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{what} is not finite")
    return x
