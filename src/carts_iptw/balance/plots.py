"""Balance plots: ``love_plot`` (cobalt's ``love.plot``) and ``overlap_plot`` (``bal.plot``).

R twins: ``cobalt::love.plot()`` (dot plot of a balance statistic per covariate, unadjusted and
adjusted, with a threshold line; absolute values by default) and ``cobalt::bal.plot(obj,
var.name = "prop.score", which = "both", type = "histogram", mirror = TRUE)`` (mirrored
histograms of the propensity score, treated above and control below, unweighted and weighted).
Both return a matplotlib :class:`~matplotlib.figure.Figure` (Agg backend; nothing is shown), or
draw into the caller's ``ax`` and return it; ``labels`` and ``palette`` name and colour the groups.

The x-axis label follows cobalt: "Standardized Mean Differences" when every plotted mean
difference is standardised, "Mean Differences" when none or only some are (cobalt's
``stars = "none"``), prefixed by "Absolute" with ``abs=True``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from carts_iptw._plotting import check_ax, resolve_labels, resolve_palette  # noqa: E402
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
              var_names: dict | None = None, labels=None, palette=None, ax=None):
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
    labels : dict or list of str, optional
        Legend names of the two samples (``love.plot(sample.names = )``): a dict with keys
        ``"Un"`` / ``"Adj"``, or two names in that order (default "Unadjusted", "Adjusted").
    palette : str, dict or list of colours, optional
        Colours of the two samples (``love.plot(colors = )``): a dict by ``"Un"`` / ``"Adj"`` or
        two colours.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes and return it.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The figure, or ``ax`` when given.

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
    samples = ("Un", "Adj")
    snames = resolve_labels(samples, labels)
    defaults = {"Un": "Unadjusted", "Adj": "Adjusted"}
    if not isinstance(labels, list | tuple):
        snames = [labels.get(k, defaults[k]) if labels else defaults[k] for k in samples]
    scols = resolve_palette(samples, palette, ("#e41a1c", "#377eb8"))
    own = check_ax(ax) is None
    if own:
        fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(names) + 1.6))
    styles = {k: (scols[i], "o", snames[i]) for i, k in enumerate(samples)}
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
    if not own:
        return ax
    fig.tight_layout()
    return fig


def overlap_plot(w_obj, bins: int = 20, title: str = "Distributional Balance for \"prop.score\"",
                 labels=None, palette=None, ax=None, which: str = "both"):
    """Mirrored propensity-score histograms, unweighted and weighted (``cobalt::bal.plot`` twin).

    Parameters
    ----------
    w_obj : WeightItResult
        A :func:`weightit` result with a propensity score.
    bins : int, default 20
        Number of bins.
    title : str, default 'Distributional Balance for "prop.score"'
        The title.
    labels : dict or list of str, optional
        Names of the two groups (legend): a dict with keys ``"Control"`` / ``"Treated"`` or two
        names, control first (default ``w_obj.treat_labels``' order: "Control", "Treated").
    palette : str, dict or list of colours, optional
        Colours of the two groups (dict by ``"Control"`` / ``"Treated"``, or control first).
    ax : matplotlib.axes.Axes or sequence of two Axes, optional
        Draw into the caller's axes and return them: two Axes for ``which="both"``
        (unadjusted, adjusted), one Axes for ``which="unadjusted"`` or ``"adjusted"``.
    which : {"both", "unadjusted", "adjusted"}, default "both"
        The samples drawn (``bal.plot(which = )``).

    Returns
    -------
    matplotlib.figure.Figure, matplotlib.axes.Axes or list of Axes
        The figure, or ``ax`` when given.

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
    panels = {"both": (("Unadjusted Sample", sw), ("Adjusted Sample", w_obj.weights * sw)),
              "unadjusted": (("Unadjusted Sample", sw),),
              "adjusted": (("Adjusted Sample", w_obj.weights * sw),)}
    if which not in panels:
        raise ValueError("which must be 'both', 'unadjusted' or 'adjusted'")
    panels = panels[which]
    groups = ("Control", "Treated")
    gnames = resolve_labels(groups, labels)
    gcols = resolve_palette(groups, palette, ("#e41a1c", "#377eb8"))
    own = ax is None
    if own:
        fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels) + 0.0, 4),
                                 sharey=True, squeeze=False)
        axes = list(axes[0])
    else:
        axes = [ax] if not isinstance(ax, list | tuple | np.ndarray) else list(np.ravel(ax))
        for a in axes:
            check_ax(a)
        if len(axes) != len(panels):
            raise ValueError(f"ax: {len(axes)} Axes for {len(panels)} panel(s) (which={which!r})")
    for ax_, (lab, w) in zip(axes, panels, strict=True):
        for g, sign, color, name in ((1, 1, gcols[1], gnames[1]), (0, -1, gcols[0], gnames[0])):
            sel = t == g
            h, _ = np.histogram(ps[sel], bins=edges, weights=w[sel])
            h = h / h.sum()
            ax_.bar(edges[:-1], sign * h, width=np.diff(edges), align="edge", color=color,
                    alpha=0.7, edgecolor="white", label=name)
        ax_.axhline(0, color="black", lw=0.8)
        ax_.set_title(lab)
        ax_.set_xlabel("Propensity Score")
    axes[0].set_ylabel("Proportion")
    axes[-1].legend(title="Treatment", frameon=False)
    if not own:
        return ax
    fig.suptitle(title)
    fig.tight_layout()
    return fig
