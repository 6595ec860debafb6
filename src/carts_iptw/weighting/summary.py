"""Summary of estimated weights, as ``summary.weightit``.

R twin: ``WeightIt:::summary.weightit`` (WeightIt 1.5.1, R/summary.weightit.R). Weights are
multiplied by the sampling weights first (``ignore_s_weights=False``). Per treatment group:

* weight range over the non-zero weights;
* the ``top`` largest weights (by absolute value), listed in increasing order;
* coefficient of variation ``sd(w) / mean(w)`` (``sd`` with ``n - 1``);
* scaled mean absolute deviation ``mean(|v - mean(v)|)`` with ``v = w / mean(w)``;
* negative entropy ``mean(v log v)`` over the positive weights, ``v = w / mean(w)``;
* number of zero weights (``|w| < 1e-10``);
* Kish effective sample size ``(sum w)^2 / sum w^2``, unweighted (sampling weights only) and
  weighted.

Differences from WeightIt 1.5.1, on purpose: the weight range is that of the non-zero weights
times the sampling weights at both ends (WeightIt 1.5.1 takes its minimum from the weights times
the sampling weights, zeros included, and its maximum from the weights alone); the unit labels of the top weights are the data's
row labels of those units. WeightIt 1.5.1 labels them with positions inside the group, paired in
order with the sorted values, so its labels need not point at the unit carrying the weight; the
values agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from carts_iptw.results import Summary


def _ess(w) -> float:
    return float(w.sum() ** 2 / (w * w).sum())


def _neg_ent(w) -> float:
    w = w[w > 0]
    v = w / w.mean()
    return float(np.mean(v * np.log(v)))


@dataclass(repr=False)
class WeightSummary(Summary):
    """Result of :meth:`WeightItResult.summary` (``summary.weightit`` twin).

    Attributes
    ----------
    weight_range, weight_top, coef_of_var, scaled_mad, negative_entropy, num_zeros
        Per group: weight range, largest weights, coefficient of variation, scaled MAD,
        negative entropy and number of zeros.
    effective_sample_size : pandas.DataFrame
        Unweighted and weighted (Kish) sample sizes.

    Notes
    -----
    ``str()`` is the printout; the tables are attributes; ``tidy()`` one row per group. R twin:
    ``WeightIt::summary.weightit`` (WeightIt 1.5.1).
    """

    weight_range: pd.DataFrame  # rows treated/control, columns min/max
    weight_top: dict  # {"treated": pd.Series(values, index=labels), "control": ...}
    coef_of_var: pd.Series
    scaled_mad: pd.Series
    negative_entropy: pd.Series
    num_zeros: pd.Series
    effective_sample_size: pd.DataFrame  # rows Unweighted/Weighted, columns Control/Treated
    weight_mean: float | None = None

    def tidy(self) -> pd.DataFrame:
        """One row per group (treated, control).

        Min and max weight, coefficient of variation, scaled MAD, negative entropy, number of zeros,
        unweighted and weighted (effective) sample size.
        """
        ess = self.effective_sample_size
        g = {"treated": "Treated", "control": "Control"}
        return pd.DataFrame([{
            "group": k, "weight_min": self.weight_range.loc[k].iloc[0],
            "weight_max": self.weight_range.loc[k].iloc[1], "coef_of_var": self.coef_of_var[k],
            "scaled_mad": self.scaled_mad[k], "negative_entropy": self.negative_entropy[k],
            "num_zeros": self.num_zeros[k], "n": ess.loc["Unweighted", g[k]],
            "ess": ess.loc["Weighted", g[k]]} for k in ("treated", "control")])

    def __str__(self) -> str:
        """R's ``print(summary(W))``."""
        stats = pd.DataFrame({"Coef of Var": self.coef_of_var, "MAD": self.scaled_mad,
                              "Entropy": self.negative_entropy, "# Zeros": self.num_zeros})
        tops = "\n".join(
            f"  {g}: " + ", ".join(f"{lab}={v:.4f}" for lab, v in s.items())
            for g, s in self.weight_top.items())
        out = ["Summary of weights (WeightIt::summary.weightit twin)", "",
               "- Weight ranges:", self.weight_range.round(4).to_string(), "",
               "- Units with the largest weights by group:", tops, "",
               "- Weight statistics:", stats.round(3).to_string()]
        if self.weight_mean is not None:
            out += ["", f"- Mean of Weights = {self.weight_mean:.2f}"]
        out += ["", "- Effective Sample Sizes:", self.effective_sample_size.round(2).to_string()]
        return "\n".join(out)


def summarize_weights(weights, treat, s_weights=None, top: int = 5, index=None,
                      ignore_s_weights: bool = False, stabilized: bool = False) -> WeightSummary:
    """Build the ``summary.weightit`` quantities for a binary treatment (0/1 ``treat``)."""
    w0 = np.asarray(weights, dtype=float)
    t = np.asarray(treat, dtype=float)
    sw = np.ones_like(w0) if (s_weights is None or ignore_s_weights) else np.asarray(s_weights, float)
    w = w0 * sw
    labels = np.asarray(index if index is not None else np.arange(1, w.size + 1)).astype(str)
    rng, tops, cv, mad, ent, nz = {}, {}, {}, {}, {}, {}
    for g, name in ((1, "treated"), (0, "control")):
        wg = w[t == g]
        nonzero = wg[wg != 0]
        rng[name] = (nonzero.min(), nonzero.max()) if nonzero.size else (np.nan, np.nan)
        k = min(top, wg.size)
        order = np.argsort(-np.abs(wg), kind="stable")[:k][::-1]
        tops[name] = pd.Series(wg[order], index=labels[t == g][order], name=name)
        cv[name] = wg.std(ddof=1) / wg.mean() if wg.size > 1 else np.nan
        v = wg / wg.mean()
        mad[name] = float(np.mean(np.abs(v - v.mean())))
        ent[name] = _neg_ent(wg)
        nz[name] = int((np.abs(wg) < 1e-10).sum())  # WeightIt: check_if_zero(tol = 1e-10)
    ess = pd.DataFrame(
        {"Control": [_ess(sw[t == 0]), _ess(w[t == 0])], "Treated": [_ess(sw[t == 1]), _ess(w[t == 1])]},
        index=["Unweighted", "Weighted"])
    return WeightSummary(
        weight_range=pd.DataFrame(rng, index=["min", "max"]).T,
        weight_top=tops,
        coef_of_var=pd.Series(cv), scaled_mad=pd.Series(mad), negative_entropy=pd.Series(ent),
        num_zeros=pd.Series(nz), effective_sample_size=ess,
        weight_mean=float(w.mean()) if stabilized else None,
    )
