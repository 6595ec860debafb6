"""Report figures as PNG (base64) with matplotlib's Agg backend; no statistics computed here.

Each figure draws numbers already produced by a validated function: the love plot and overlap
plot come from the balance module, KM and cumulative-incidence curves are the step functions
of ``survfit`` / the competing-risks fit, forest plots show the ORs and HRs in results.json.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLORS = ("#1f5f99", "#c2571a")  # control, treated


def to_base64_png(fig, dpi: int = 100, tight: bool = True) -> str:
    """PNG bytes of ``fig`` as base64 text (the figure is closed).

    ``tight=False`` skips the extra layout pass of ``bbox_inches="tight"`` for figures laid out with
    tight_layout.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def to_png_svg(fig, dpi: int = 100, tight: bool = True) -> tuple[bytes, bytes]:
    """The figure as PNG bytes and SVG bytes; the figure is closed.

    The report embeds the PNG and also writes both files beside report.html.
    """
    kw = {"bbox_inches": "tight" if tight else None}
    png, svg = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png", dpi=dpi, **kw)
    fig.savefig(svg, format="svg", metadata={"Date": None}, **kw)  # reproducible bytes
    plt.close(fig)
    return png.getvalue(), svg.getvalue()


def _v(cell):
    return cell.get("value") if isinstance(cell, dict) else cell


def format_p(v: float) -> str:
    """Format a p-value the report's one way.

    "< 0.001", else three significant digits (0.0392, 0.591, 1.00).
    """
    return "< 0.001" if v < 0.001 else f"{v:#.3g}"


def p_phrase(v: float) -> str:
    """"p < 0.001" or "p = 0.591" for running text."""
    return "p < 0.001" if v < 0.001 else f"p = {format_p(v)}"


def forest_plot(rows: list[dict], estimate: str, xlabel: str, title: str):
    """Point estimates with CIs on a log axis. ``rows``.

    Dicts with label, estimate, lower, upper.
    """
    ok = [r for r in rows if all(_v(r.get(k)) is not None and _v(r.get(k)) > 0
                                 for k in (estimate, "lower", "upper"))]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * max(len(ok), 1) + 1.3))
    if not ok:
        ax.text(0.5, 0.5, "no estimable effects", ha="center", va="center")
        ax.set_axis_off()
        return fig
    y = np.arange(len(ok))[::-1]
    est = np.array([_v(r[estimate]) for r in ok])
    lo = np.array([_v(r["lower"]) for r in ok])
    hi = np.array([_v(r["upper"]) for r in ok])
    ax.hlines(y, lo, hi, color="#333333", lw=1.4)
    ax.plot(est, y, "s", color=COLORS[1], ms=6)
    ax.axvline(1.0, color="#888888", ls="--", lw=1)
    ax.set_xscale("log")
    lo_, hi_ = float(np.min(lo)), float(np.max(hi))
    ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500)
             if lo_ / 1.5 <= t <= hi_ * 1.5]
    if len(ticks) > 7:
        ticks = [t for t in ticks if f"{t:g}".lstrip("0.").startswith("1")] or ticks
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_yticks(y)
    ax.set_yticklabels([r["label"] + (" (Firth)" if r.get("method") == "logistf" else "")
                        for r in ok])
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=11)
    for yi, e, l_, h in zip(y, est, lo, hi, strict=True):
        ax.annotate(f"{e:.2f} ({l_:.2f}-{h:.2f})", (1.02, yi), xycoords=("axes fraction", "data"),
                    va="center", fontsize=8)
    fig.tight_layout()
    return fig


def subgroup_forest(sg: dict):
    """Forest plot of one subgroup analysis (results.json's ``subgroups`` entry).

    The effect per level with its CI, on a log axis for a ratio, a linear axis for a
    difference.
    """
    rows = [r for r in sg["rows"]
            if all(_v(r.get(k)) is not None for k in ("estimate", "lower", "upper"))]
    ratio = "ratio" in sg["effect"]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * max(len(rows), 1) + 1.5))
    if not rows:
        ax.text(0.5, 0.5, "no estimable effects", ha="center", va="center")
        ax.set_axis_off()
        return fig
    y = np.arange(len(rows))[::-1]
    est = np.array([_v(r["estimate"]) for r in rows])
    lo = np.array([_v(r["lower"]) for r in rows])
    hi = np.array([_v(r["upper"]) for r in rows])
    ax.hlines(y, lo, hi, color="#333333", lw=1.4)
    ax.plot(est, y, "s", color=COLORS[1], ms=6)
    ax.axvline(1.0 if ratio else 0.0, color="#888888", ls="--", lw=1)
    if ratio:
        ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels([f"{sg['label']} = {r['level']} (n = {_v(r['n'])})" for r in rows])
    p = _v(sg.get("interaction_p"))
    ptxt = "" if p is None else f"; interaction {p_phrase(p)}"
    ax.set_title(f"{sg['outcome_label']}: {sg['effect']} by subgroup{ptxt}", fontsize=11)
    ax.set_xlabel(sg["effect"] + (" (log scale)" if ratio else ""))
    for yi, e, l_, h in zip(y, est, lo, hi, strict=True):
        ax.annotate(f"{e:.2f} ({l_:.2f} to {h:.2f})", (1.02, yi),
                    xycoords=("axes fraction", "data"), va="center", fontsize=8)
    fig.tight_layout()
    return fig


#: candidate tick steps per time unit (a reader's natural steps)
_TICK_STEPS = {
    "days": (1, 2, 5, 7, 10, 14, 30, 60, 90, 180, 365, 730, 1825),
    "weeks": (1, 2, 4, 8, 13, 26, 52, 104, 260),
    "months": (1, 2, 3, 6, 12, 24, 36, 60, 120),
    "years": (0.25, 0.5, 1, 2, 5, 10, 20),
}


def time_ticks(tmax: float, unit: str = "months", max_ticks: int = 8) -> list[float]:
    """Ticks from 0 to the end of follow-up at the smallest natural step of ``unit``.

    Steps: days 7, 14, 30, ...; months 3, 6, 12, ...; the step gives at most ``max_ticks``
    intervals.
    """
    steps = _TICK_STEPS.get(unit, _TICK_STEPS["months"])
    if not np.isfinite(tmax) or tmax <= 0:
        return [0.0]
    step = next((s for s in steps if tmax / s <= max_ticks), None)
    if step is None:  # beyond the table: a power-of-ten multiple
        step = float(10 ** np.ceil(np.log10(tmax / max_ticks)))
    n = int(np.floor(tmax / step + 1e-9))
    return [float(i * step) for i in range(n + 1)]


def step_curves(curves: list[dict], xlabel: str, ylabel: str, title: str, note: str = "",
                risk_table: dict | None = None, ticks: list[float] | None = None):
    """Step curves: ``curves`` = [{label, time, value, lower, upper}] (time starts at 0).

    ``risk_table``: {"times": [...], "rows": {label: counts}} drawn under the axis, each count
    aligned under its tick.
    """
    n_rows = len(risk_table["rows"]) if risk_table else 0
    fig, ax = plt.subplots(figsize=(7.5, 4.0 + 0.28 * (n_rows + 1) if risk_table else 4.0))
    for i, c in enumerate(curves):
        col = COLORS[i % len(COLORS)]
        ax.step(c["time"], c["value"], where="post", color=col, lw=1.8, label=c["label"])
        if c.get("lower") is not None:
            ax.fill_between(c["time"], c["lower"], c["upper"], step="post", color=col,
                            alpha=0.12, lw=0)
        if c.get("censor_time") is not None and len(c["censor_time"]):
            ax.plot(c["censor_time"], c["censor_value"], "|", color=col, ms=6, mew=1.0)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.legend(loc="best", frameon=False)
    if note:
        ax.text(0.98, 0.04 if "incidence" not in ylabel else 0.9, note, transform=ax.transAxes,
                ha="right", fontsize=9)
    if ticks is not None:
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks])
        ax.set_xlim(-0.02 * ticks[-1] if ticks[-1] > 0 else -1, None)
    if risk_table:
        times = risk_table["times"]
        trans = matplotlib.transforms.blended_transform_factory(ax.transData, ax.transAxes)
        y0 = -0.22
        ax.text(0.0, y0, "Weighted number at risk", transform=ax.transAxes, fontsize=8,
                fontweight="bold", ha="left", va="top")
        for j, (lab, vals) in enumerate(risk_table["rows"].items()):
            y = y0 - 0.075 * (j + 1)
            ax.text(-0.01, y, lab, transform=ax.transAxes, fontsize=8, ha="right", va="top",
                    color=COLORS[j % len(COLORS)])
            for t, v in zip(times, vals, strict=True):
                ax.text(t, y, f"{v:.0f}", transform=trans, fontsize=8, ha="center", va="top")
    fig.tight_layout()
    return fig


def km_figure(fit, result: dict, arms: list[str], treatment: str, xlabel: str | None = None):
    """Weighted KM curves from a ``survfit`` result.

    With censoring marks, the svylogrank p in the corner and the weighted numbers at risk under
    the ticks (chosen from the outcome's time unit and follow-up).
    """
    tab = fit.table
    curves, keys = [], []
    for g, label in enumerate(arms):
        key = f"{treatment}={g}"
        t = tab[tab["strata"] == key].sort_values("time")
        keys.append(key)
        cens = t[(t["n_censor"] > 0)] if "n_censor" in t.columns else t.iloc[:0]
        c = {
            "label": label,
            "time": np.concatenate([[0.0], t["time"].to_numpy(dtype=float)]),
            "value": np.concatenate([[1.0], t["surv"].to_numpy(dtype=float)]),
            "lower": np.concatenate([[1.0], np.nan_to_num(t["lower"].to_numpy(dtype=float),
                                                          nan=0.0)]),
            "upper": np.concatenate([[1.0], np.nan_to_num(t["upper"].to_numpy(dtype=float),
                                                          nan=1.0)]),
            "censor_time": _thin(cens["time"].to_numpy(dtype=float)),
            "censor_value": _thin(cens["surv"].to_numpy(dtype=float)),
        }
        # a large cohort: only the points a reader can see (exact at the figure's resolution)
        keep = thin_steps(c["time"], [c["value"], c["lower"], c["upper"]])
        for k in ("time", "value", "lower", "upper"):
            c[k] = c[k][keep]
        curves.append(c)
    unit = result.get("time_unit") or "months"
    tmax = float(tab["time"].max())
    times = time_ticks(tmax, unit)
    risk = None
    if hasattr(fit, "n_risk_at"):
        nr = fit.n_risk_at(times)
        risk = {"times": times, "rows": {lab: nr.loc[k].to_numpy() for lab, k in
                                         zip(arms, keys, strict=True)}}
    p = _v(result.get("logrank_p"))
    note = f"weighted log-rank {p_phrase(p)}" if p is not None else ""
    return step_curves(curves, xlabel or f"time, {unit}", "survival probability",
                       f"{result['label']} (IPT-weighted)", note, risk, ticks=times)


#: Pixel columns a step curve is thinned to (PNG figures are 750 px wide at 100 dpi; SVG
#: readers may zoom a few times).
STEP_COLUMNS = 4000


def thin_steps(x: np.ndarray, ys: list[np.ndarray], columns: int = STEP_COLUMNS) -> np.ndarray:
    """Indices of the points of step curves (drawn ``where="post"``) a reader can see.

    The x range is cut into ``columns`` equal columns (finer than the figure's pixels); in each
    column the first and last point and, for every curve in ``ys``, the points of its smallest
    and largest value are kept. Between two kept points the drawn step can move by less than
    one column horizontally, never vertically: every value the full curve takes is still drawn,
    so the thinned figure is the exact one at its resolution. Curves with at most ``4 *
    columns`` points are not thinned. Returns sorted indices into ``x``.
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n <= 4 * columns:
        return np.arange(n)
    lo, hi = float(x[0]), float(x[-1])
    span = hi - lo if hi > lo else 1.0
    col = np.minimum(((x - lo) / span * columns).astype(np.int64), columns - 1)
    new = np.ones(n, dtype=bool)
    new[1:] = col[1:] != col[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = new[1:]
    keep = new | last
    starts = np.flatnonzero(new)
    for y in ys:
        y = np.asarray(y, dtype=float)
        yy = np.where(np.isnan(y), -np.inf, y)
        keep[starts + _segment_arg(yy, starts, np.argmax)] = True
        yy = np.where(np.isnan(y), np.inf, y)
        keep[starts + _segment_arg(yy, starts, np.argmin)] = True
        keep |= np.isnan(y)  # gaps drawn as they are
    return np.flatnonzero(keep)


def _segment_arg(y: np.ndarray, starts: np.ndarray, which) -> np.ndarray:
    """Offset of the max (``np.argmax``) or min of ``y`` within each run starting at ``starts``."""
    seg = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(y))))
    key = -y if which is np.argmax else y
    o = np.lexsort((np.arange(len(y)), key, seg))  # by segment, then value, then position
    first = np.ones(len(o), dtype=bool)
    first[1:] = seg[o][1:] != seg[o][:-1]
    return o[first] - starts


def _thin(x: np.ndarray, at_most: int = 400) -> np.ndarray:
    """At most ``at_most`` evenly spaced marks (a reader cannot see more)."""
    if len(x) <= at_most:
        return x
    return x[np.linspace(0, len(x) - 1, at_most).round().astype(int)]


def cif_figure(fit, result: dict, arms: list[str], treatment: str, xlabel: str | None = None):
    """Weighted cumulative incidence of the event (solid) and of the competing event (dashed)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    for state, ls in (("event", "-"), ("competing", "--")):
        tab = fit.cif(state)
        for g, label in enumerate(arms):
            t = tab[tab["strata"] == f"{treatment}={g}"].sort_values("time")
            x = np.concatenate([[0.0], t["time"].to_numpy(dtype=float)])
            y = np.concatenate([[0.0], t["pstate"].to_numpy(dtype=float)])
            keep = thin_steps(x, [y])  # exact at the figure's resolution (large cohorts)
            x, y = x[keep], y[keep]
            ax.step(x, y, where="post", color=COLORS[g], ls=ls, lw=1.8 if ls == "-" else 1.2,
                    label=f"{label}: {'event' if state == 'event' else 'competing event'}")
    ymax = float(ax.get_ylim()[1])
    ax.set_ylim(0, min(1.0, max(0.1, ymax * 1.1)))
    unit = result.get("time_unit") or "days"
    hi = result.get("censor_at")
    ticks = time_ticks(float(hi) if hi else float(ax.get_xlim()[1]), unit)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_xlabel(xlabel or f"time, {unit}")
    ax.set_ylabel("cumulative incidence")
    ax.set_title(f"{result['label']} (IPT-weighted Aalen-Johansen)", fontsize=11)
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
