"""Balance plots: ``love_plot`` (cobalt's ``love.plot``) and ``overlap_plot`` (``bal.plot``).

R twins: ``cobalt::love.plot()`` (dot plot of a balance statistic per covariate, unadjusted and
adjusted, with a threshold line; absolute values by default) and ``cobalt::bal.plot(obj,
var.name = "prop.score", which = "both", type = "histogram", mirror = TRUE)`` (mirrored
histograms of the propensity score, treated above and control below, unweighted and weighted).
Both return a matplotlib :class:`~matplotlib.figure.Figure` (Agg backend; nothing is shown).

The x-axis label follows cobalt: "Standardized Mean Differences" when every plotted mean
difference is standardised, "Mean Differences" when none or only some are (cobalt's
``stars = "none"``), prefixed by "Absolute" with ``abs=True``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from carts_iptw.balance.bal_tab import STATS, BalTab, _match_stat  # noqa: E402


def _xlabel(bal: BalTab, stat: str, types, abs_: bool) -> str:
    if stat == "variance.ratios":
        return "Variance Ratios"
    if stat == "ks.statistics":
        return "Kolmogorov-Smirnov Statistics"
    has_bin = any(t == "Binary" for t in types)
    has_cont = any(t != "Binary" for t in types)
    all_std = (bal.binary == "std" or not has_bin) and (bal.continuous == "std" or not has_cont)
    lab = "Standardized Mean Differences" if all_std else "Mean Differences"
    return f"Absolute {lab}" if abs_ else lab


def love_plot(bal: BalTab, stat: str = "mean.diffs", threshold: float | None = 0.1,
              abs: bool = True, drop_distance: bool = False, title: str = "Covariate Balance",
              var_names: dict | None = None) -> Figure:
    """Dot plot of one balance statistic per covariate (twin of ``cobalt::love.plot``).

    Parameters
    ----------
    bal : BalTab
        A :func:`bal_tab` result; its ``.Un`` and ``.Adj`` columns are plotted (nothing new is
        computed).
    stat : str, default "mean.diffs"
        The statistic.
    threshold : float, optional
        A dashed line at the threshold (default 0.1, for SMDs, Austin 2009); None for none.
    abs : bool, default True
        Absolute values (cobalt's default).
    drop_distance : bool, default False
        Leave out the distance (propensity score) rows.
    title : str, default "Covariate Balance"
        The title.
    var_names : dict, optional
        Maps balance-table row names (or, for a factor level row ``var_level``, the variable)
        to display labels, as ``love.plot(var.names = )``.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    TypeError
        When ``bal`` is not a :func:`bal_tab` result.
    ValueError
        For an unknown or absent statistic.

    Notes
    -----
    R twin version: cobalt 4.6.1.

    References
    ----------
    Austin PC (2009) Stat Med 28:3083-3107; cobalt 4.6.1 ``?love.plot``.
    """
    if not isinstance(bal, BalTab):
        raise TypeError("love_plot() needs the result of bal_tab()")
    stat = _match_stat(stat)
    pre, _ = STATS[stat]
    B = bal.balance
    if drop_distance:
        B = B[B["Type"] != "Distance"]
    cols = [c for c in (f"{pre}.Un", f"{pre}.Adj") if c in B.columns]
    if not cols:
        raise ValueError(f"the balance table has no '{pre}' columns; request stats='{stat}' in bal_tab()")
    keep = np.isfinite(B[cols].to_numpy(float)).any(axis=1)
    B = B[keep]
    names = list(B.index)
    y = np.arange(len(names))[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(names) + 1.6))
    styles = {"Un": ("#e41a1c", "o", "Unadjusted"), "Adj": ("#377eb8", "o", "Adjusted")}
    for c in cols:
        v = B[c].to_numpy(float)
        if abs:
            v = np.maximum(v, 1 / v) if stat == "variance.ratios" else np.abs(v)
        color, marker, lab = styles[c.rsplit(".", 1)[1]]
        ax.scatter(v, y, color=color, marker=marker, label=lab, zorder=3)
    base = 1.0 if stat == "variance.ratios" else 0.0
    ax.axvline(base, color="black", lw=0.8)
    if threshold is not None:
        t = float(threshold)
        lines = [t] if abs or stat == "ks.statistics" else [-t, t]
        if stat == "variance.ratios" and not abs:
            lines = [1 / t, t]
        for x in lines:
            ax.axvline(x, color="black", lw=0.8, ls="--")
    if stat == "variance.ratios":
        ax.set_xscale("log")
    if var_names:
        def _label(nm: str) -> str:
            if nm in var_names:
                return var_names[nm]
            var, sep, level = nm.rpartition("_")
            return f"{var_names[var]}: {level}" if sep and var in var_names else nm
        names = [_label(str(nm)) for nm in names]
    ax.set_yticks(y, names)
    ax.set_xlabel(_xlabel(bal, stat, list(B["Type"]), abs))
    ax.set_title(title)
    ax.grid(axis="y", color="0.9", zorder=0)
    ax.legend(title="Sample", loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def overlap_plot(w_obj, bins: int = 20, title: str = "Distributional Balance for \"prop.score\"") -> Figure:
    """Mirrored propensity-score histograms, unweighted and weighted (``cobalt::bal.plot`` twin).

    Parameters
    ----------
    w_obj : WeightItResult
        A :func:`weightit` result with a propensity score.
    bins : int, default 20
        Number of bins.
    title : str, default 'Distributional Balance for "prop.score"'
        The title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    ValueError
        When ``w_obj`` has no propensity score (e.g. ``method="ebal"``).

    Notes
    -----
    Treated above the axis, control below; the left panel is the unadjusted sample, the right
    the sample weighted by ``w_obj.weights`` (times sampling weights). Bar heights are
    proportions within each group, as ``bal.plot``'s histograms. R twin version: cobalt 4.6.1.

    References
    ----------
    cobalt 4.6.1 ``?bal.plot``.
    """
    ps = getattr(w_obj, "ps", None)
    if ps is None:
        raise ValueError("overlap_plot() needs a weightit result with a propensity score "
                         "(methods 'glm' and 'cbps')")
    ps = np.asarray(ps, dtype=float)
    t = np.asarray(w_obj.treat, dtype=float)
    sw = np.ones_like(ps) if w_obj.s_weights is None else np.asarray(w_obj.s_weights, float)
    edges = np.linspace(ps.min(), ps.max(), bins + 1)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    for ax, (lab, w) in zip(axes, (("Unadjusted Sample", sw), ("Adjusted Sample", w_obj.weights * sw)),
                            strict=True):
        for g, sign, color, name in ((1, 1, "#377eb8", "Treated"), (0, -1, "#e41a1c", "Control")):
            sel = t == g
            h, _ = np.histogram(ps[sel], bins=edges, weights=w[sel])
            h = h / h.sum()
            ax.bar(edges[:-1], sign * h, width=np.diff(edges), align="edge", color=color,
                   alpha=0.7, edgecolor="white", label=name)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(lab)
        ax.set_xlabel("Propensity Score")
    axes[0].set_ylabel("Proportion")
    axes[1].legend(title="Treatment", frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
