"""Figures: weighted Kaplan-Meier curves with a risk table, cumulative incidence, forest plot.

matplotlib (Agg backend: files, no display). Every function returns the Figure.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from carts_iptw._plotting import check_ax, resolve_labels, resolve_palette  # noqa: E402


def _steps(t, y, start=1.0):
    x = np.concatenate([[0.0], t])
    yy = np.concatenate([[start], y])
    return x, yy


def km_plot(fit, risk_times=None, conf_int: bool = True, title: str | None = None,
            xlabel: str = "Time", ylabel: str = "Survival probability", pvalue: float | None = None,
            risk_table: bool = True, weighted_label: bool = True, figsize=(7.5, 5.5),
            labels=None, palette=None, ax=None):
    """Kaplan-Meier curves with a risk table; R twin ``plot(survfit(...), conf.int = TRUE, mark.time = TRUE)``.

    Parameters
    ----------
    fit : SurvFit
        A :func:`survfit` result (weighted if the fit was).
    risk_times : array-like, optional
        Times of the number-at-risk table (default: six equally spaced times from 0 to the last
        time).
    conf_int : bool, default True
        Draw the confidence bands.
    title : str, optional
        The title.
    xlabel : str, default "Time"
        The x-axis label.
    ylabel : str, default "Survival probability"
        The y-axis label.
    pvalue : float, optional
        A p-value (e.g. from :func:`svylogrank`) printed on the plot.
    risk_table : bool, default True
        Draw the number at risk (weighted, rounded) under the plot.
    weighted_label : bool, default True
        Title the risk table "(weighted)" when the fit uses the robust variance.
    figsize : tuple, default (7.5, 5.5)
        Figure size in inches (ignored with ``ax``).
    labels : dict or list of str, optional
        Legend and risk-table names of the strata: a dict from stratum name (``fit.strata``,
        e.g. ``"treat=1"``) to label, or one label per stratum in order (R's ``legend.labs``).
    palette : str, dict or list of colours, optional
        Colours of the strata (one colour, a dict by stratum, or one per stratum; R's ``col``);
        default matplotlib's colour cycle.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes (the risk table, if any, as text under it) and return it.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The figure, or ``ax`` when given.

    Notes
    -----
    R twin: ``plot(survfit(...), conf.int = TRUE, mark.time = TRUE)`` with a survminer-style risk
    table (``survminer::ggsurvplot(risk.table = TRUE)``), survival 3.5-3. Curves with censoring marks,
    confidence bands and the number at risk at ``risk_times``. Plots, computes nothing new: the
    curves, bands (``fit.conf_type``) and numbers at risk are those of the :func:`survfit`
    result (``SurvFit.n_risk_at``).

    References
    ----------
    Therneau & Grambsch (2000) ch. 2; survminer ``?ggsurvplot``.
    """
    tab = fit.table
    tmax = float(tab["time"].max())
    if risk_times is None:
        risk_times = np.linspace(0, tmax, 6)
    risk_times = np.asarray(risk_times, dtype=float)
    nrows = len(fit.strata)
    names = resolve_labels(fit.strata, labels)
    colors = resolve_palette(fit.strata, palette, plt.rcParams["axes.prop_cycle"].by_key()["color"])
    own = check_ax(ax) is None
    if not own:
        fig, axr = ax.figure, None
    elif risk_table:
        fig, (ax, axr) = plt.subplots(2, 1, figsize=figsize, sharex=True,
                                      gridspec_kw={"height_ratios": [4, 0.45 + 0.3 * nrows]})
    else:
        fig, ax = plt.subplots(figsize=figsize)
        axr = None
    for i, s in enumerate(fit.strata):
        t = tab[tab["strata"] == s]
        c = colors[i]
        x, y = _steps(t["time"].to_numpy(), t["surv"].to_numpy())
        ax.step(x, y, where="post", color=c, label=names[i], lw=1.8)
        if conf_int:
            _, lo = _steps(t["time"].to_numpy(), t["lower"].fillna(0).to_numpy())
            _, hi = _steps(t["time"].to_numpy(), t["upper"].fillna(1).to_numpy())
            ax.fill_between(x, lo, hi, step="post", color=c, alpha=0.15, lw=0)
        cen = t[t["n_censor"] > 0]
        ax.plot(cen["time"], cen["surv"], "|", color=c, ms=6, mew=1)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, tmax * 1.02)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", frameon=False)
    if pvalue is not None:
        ax.text(0.98, 0.95, f"log-rank p = {pvalue:.3g}", transform=ax.transAxes, ha="right",
                va="top")
    if title:
        ax.set_title(title)
    if axr is not None:
        nr = fit.n_risk_at(risk_times)
        for i, s in enumerate(fit.strata):
            for tt, v in zip(risk_times, nr.loc[s].to_numpy(), strict=True):
                axr.text(tt, nrows - 1 - i, f"{v:.0f}", ha="center", va="center", fontsize=8,
                         color=colors[i])
        axr.set_yticks(range(nrows))
        axr.set_yticklabels(list(reversed(names)), fontsize=8)
        axr.set_ylim(-0.6, nrows - 0.4)
        axr.set_xlabel(xlabel)
        axr.set_title("Number at risk" + (" (weighted)" if weighted_label and fit.robust else ""),
                      fontsize=8, loc="left")
        for sp in ("top", "right", "left"):
            axr.spines[sp].set_visible(False)
        axr.tick_params(axis="y", length=0)
    else:
        ax.set_xlabel(xlabel)
    if not own:
        if risk_table:  # under the caller's axes, each count under its time
            _risk_text(ax, fit, risk_times, names, colors,
                       "Number at risk" + (" (weighted)" if weighted_label and fit.robust else ""))
        return ax
    fig.tight_layout()
    return fig


def _risk_text(ax, fit, risk_times, names, colors, title):
    """The number-at-risk table as text under ``ax`` (x in data units, y in axes fractions)."""
    import matplotlib.transforms as mtransforms

    trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    nr = fit.n_risk_at(risk_times)
    y0 = -0.2
    ax.text(0.0, y0, title, transform=ax.transAxes, fontsize=8, ha="left", va="top")
    for i, s in enumerate(fit.strata):
        y = y0 - 0.07 * (i + 1)
        ax.text(-0.01, y, names[i], transform=ax.transAxes, fontsize=8, ha="right", va="top",
                color=colors[i])
        for tt, v in zip(risk_times, nr.loc[s].to_numpy(), strict=True):
            ax.text(tt, y, f"{v:.0f}", transform=trans, fontsize=8, ha="center", va="top",
                    color=colors[i])


def cuminc_plot(fit, state: str, conf_int: bool = True, title: str | None = None,
                xlabel: str = "Time", ylabel: str | None = None, figsize=(7, 4.5),
                labels=None, palette=None, ax=None):
    """Cumulative incidence curves of one state; R twin ``plot(survfit(Surv(time, factor_status) ~ g))``.

    Parameters
    ----------
    fit : SurvFitMS
        A multi-state :func:`survfit` result (Aalen-Johansen).
    state : str
        The state whose cumulative incidence is drawn, per stratum.
    conf_int : bool, default True
        Draw the confidence bands.
    title : str, optional
        The title.
    xlabel : str, default "Time"
        The x-axis label.
    ylabel : str, optional
        The y-axis label.
    figsize : tuple, default (7, 4.5)
        Figure size in inches (ignored with ``ax``).
    labels : dict or list of str, optional
        Legend names of the strata (dict by stratum name, or one per stratum in order).
    palette : str, dict or list of colours, optional
        Colours of the strata; default matplotlib's colour cycle.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes and return it.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The figure, or ``ax`` when given.

    Notes
    -----
    R twin: ``plot(survfit(Surv(time, factor_status) ~ g))`` for one state (survival 3.5-3).
    Before a stratum's first event of ``state`` the incidence is 0 and its limits are NA in R:
    no band is drawn there (it collapses onto the curve), never a band from 0 to 1.

    References
    ----------
    Aalen OO, Johansen S (1978) Scand J Stat 5:141-150.
    """
    names = resolve_labels(fit.strata, labels)
    colors = resolve_palette(fit.strata, palette, plt.rcParams["axes.prop_cycle"].by_key()["color"])
    own = check_ax(ax) is None
    if own:
        fig, ax = plt.subplots(figsize=figsize)
    tab = fit.cif(state)
    for i, s in enumerate(fit.strata):
        t = tab[tab["strata"] == s]
        c = colors[i]
        x, y = _steps(t["time"].to_numpy(), t["pstate"].to_numpy(), 0.0)
        ax.step(x, y, where="post", color=c, label=names[i], lw=1.8)
        if conf_int:
            # no interval where the incidence is not yet estimable (before the first event the
            # limits are NA): the band collapses onto the curve there instead of spanning 0-1
            p = t["pstate"].to_numpy(dtype=float)
            lo_v = t["lower"].to_numpy(dtype=float)
            hi_v = t["upper"].to_numpy(dtype=float)
            _, lo = _steps(t["time"].to_numpy(), np.where(np.isnan(lo_v), p, lo_v), 0.0)
            _, hi = _steps(t["time"].to_numpy(), np.where(np.isnan(hi_v), p, hi_v), 0.0)
            ax.fill_between(x, lo, hi, step="post", color=c, alpha=0.15, lw=0)
    ax.set_ylim(0, None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or f"Cumulative incidence of {state}")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="upper left")
    if title:
        ax.set_title(title)
    if not own:
        return ax
    fig.tight_layout()
    return fig


def forest_plot(fits, labels=None, level: float = 0.95, title: str | None = None,
                xlabel: str = "Hazard ratio (log scale)", figsize=None, palette=None, ax=None):
    """Forest plot of hazard ratios with CIs; R twin ``survminer::ggforest`` / ``forestplot::forestplot``.

    Parameters
    ----------
    fits : CoxPH, list of CoxPH or pandas.DataFrame
        A CoxPH, a list of them (one row per coefficient of each), or a DataFrame with columns
        ``hr``, ``lower``, ``upper``.
    labels : list of str or dict, optional
        With a list of fits: one label per fit, prefixed to its coefficient names. With a
        DataFrame: one label per row. A dict maps row names (coefficient names, or the
        DataFrame's index) to display labels.
    level : float, default 0.95
        Confidence level.
    title : str, optional
        The title.
    xlabel : str, default "Hazard ratio (log scale)"
        The x-axis label.
    figsize : tuple, optional
        Figure size in inches (ignored with ``ax``).
    palette : str or list of colours, optional
        Colour of the estimates: one colour, or one per row (default black).
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes and return it.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The figure, or ``ax`` when given.

    Notes
    -----
    R twin: ``survminer::ggforest`` / ``forestplot::forestplot`` of ``summary(coxph)$conf.int``.
    Intervals are ``exp(b +/- z se)`` with the fit's variance in use (``CoxPH.confint``).
    """
    if isinstance(fits, pd.DataFrame):
        df = fits.copy()
    else:
        fits = fits if isinstance(fits, list | tuple) else [fits]
        prefix = None if labels is None or isinstance(labels, dict) else list(labels)
        if prefix is not None and len(prefix) != len(fits):
            raise ValueError(f"labels has {len(prefix)} entries for {len(fits)} fit(s)")
        rows = []
        for k, f in enumerate(fits):
            ci = f.confint(level, exponentiate=True)
            for name in f.coef.index:
                lab = name if prefix is None else f"{prefix[k]}: {name}"
                rows.append({"label": lab, "hr": float(np.exp(f.coef[name])),
                             "lower": float(ci.loc[name].iloc[0]), "upper": float(ci.loc[name].iloc[1])})
        df = pd.DataFrame(rows).set_index("label")
    rows_in = [str(i) for i in df.index]
    shown = resolve_labels(rows_in, labels if isinstance(fits, pd.DataFrame)
                           or isinstance(labels, dict) else None)
    colors = resolve_palette(rows_in, palette, ("black",))
    n = len(df)
    own = check_ax(ax) is None
    if own:
        fig, ax = plt.subplots(figsize=figsize or (7, 1 + 0.45 * n))
    y = np.arange(n)[::-1]
    ax.errorbar(df["hr"], y, xerr=[df["hr"] - df["lower"], df["upper"] - df["hr"]], fmt="none",
                ecolor="gray", capsize=3)
    ax.scatter(df["hr"], y, marker="s", c=colors, zorder=3)
    ax.axvline(1.0, color="gray", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels(shown)
    for yy, (_, r) in zip(y, df.iterrows(), strict=True):
        ax.text(1.02, yy, f"{r['hr']:.2f} ({r['lower']:.2f}\u2013{r['upper']:.2f})",
                transform=ax.get_yaxis_transform(), va="center", fontsize=8)
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    if not own:
        return ax
    fig.tight_layout()
    return fig
