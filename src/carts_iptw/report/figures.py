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
    """PNG bytes of ``fig`` as base64 text (the figure is closed). ``tight=False`` skips the
    extra layout pass of ``bbox_inches="tight"`` for figures laid out with tight_layout."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _v(cell):
    return cell.get("value") if isinstance(cell, dict) else cell


def forest_plot(rows: list[dict], estimate: str, xlabel: str, title: str):
    """Point estimates with CIs on a log axis. ``rows``: dicts with label, estimate, lower, upper."""
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


def step_curves(curves: list[dict], xlabel: str, ylabel: str, title: str, note: str = "",
                risk_table: dict | None = None):
    """Step curves: ``curves`` = [{label, time, value, lower, upper}] (time starts at 0)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.6 if risk_table else 4.0))
    for i, c in enumerate(curves):
        col = COLORS[i % len(COLORS)]
        ax.step(c["time"], c["value"], where="post", color=col, lw=1.8, label=c["label"])
        if c.get("lower") is not None:
            ax.fill_between(c["time"], c["lower"], c["upper"], step="post", color=col,
                            alpha=0.12, lw=0)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.legend(loc="best", frameon=False)
    if note:
        ax.text(0.98, 0.04 if "incidence" not in ylabel else 0.9, note, transform=ax.transAxes,
                ha="right", fontsize=9)
    if risk_table:
        times = risk_table["times"]
        ax.set_xticks(times)
        lines = [f"{lab}: " + "  ".join(f"{v:.0f}" for v in vals)
                 for lab, vals in risk_table["rows"].items()]
        ax.text(0.0, -0.28, "Weighted number at risk at " + ", ".join(f"{t:g}" for t in times)
                + "\n" + "\n".join(lines), transform=ax.transAxes, fontsize=8, va="top")
    fig.tight_layout()
    return fig


def km_figure(fit, result: dict, arms: list[str], treatment: str):
    """Weighted KM curves from a ``survfit`` result, with the svylogrank p in the corner."""
    tab = fit.table
    curves, keys = [], []
    for g, label in enumerate(arms):
        key = f"{treatment}={g}"
        t = tab[tab["strata"] == key].sort_values("time")
        keys.append(key)
        curves.append({
            "label": label,
            "time": np.concatenate([[0.0], t["time"].to_numpy(dtype=float)]),
            "value": np.concatenate([[1.0], t["surv"].to_numpy(dtype=float)]),
            "lower": np.concatenate([[1.0], np.nan_to_num(t["lower"].to_numpy(dtype=float),
                                                          nan=0.0)]),
            "upper": np.concatenate([[1.0], np.nan_to_num(t["upper"].to_numpy(dtype=float),
                                                          nan=1.0)]),
        })
    tmax = float(tab["time"].max())
    step = 6.0 if tmax > 24 else 3.0
    times = list(np.arange(0.0, tmax + 1e-9, step))[:9]
    risk = None
    if hasattr(fit, "n_risk_at"):
        nr = fit.n_risk_at(times)
        risk = {"times": times, "rows": {lab: nr.loc[k].to_numpy() for lab, k in
                                         zip(arms, keys, strict=True)}}
    p = _v(result.get("logrank_p"))
    note = f"weighted log-rank p = {p:.3g}" if p is not None else ""
    return step_curves(curves, f"{result.get('time_unit', 'months')} since infusion",
                       "survival probability", f"{result['label']} (IPT-weighted)", note, risk)


def cif_figure(fit, result: dict, arms: list[str], treatment: str):
    """Weighted cumulative incidence of the event (solid) and of the competing death (dashed)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    for state, ls in (("event", "-"), ("death", "--")):
        tab = fit.cif(state)
        for g, label in enumerate(arms):
            t = tab[tab["strata"] == f"{treatment}={g}"].sort_values("time")
            x = np.concatenate([[0.0], t["time"].to_numpy(dtype=float)])
            y = np.concatenate([[0.0], t["pstate"].to_numpy(dtype=float)])
            ax.step(x, y, where="post", color=COLORS[g], ls=ls, lw=1.8 if ls == "-" else 1.2,
                    label=f"{label}: {'event' if state == 'event' else 'death (competing)'}")
    ymax = float(ax.get_ylim()[1])
    ax.set_ylim(0, min(1.0, max(0.1, ymax * 1.1)))
    ax.set_xlabel(f"{result.get('time_unit', 'days')} since infusion")
    ax.set_ylabel("cumulative incidence")
    ax.set_title(f"{result['label']} (IPT-weighted Aalen-Johansen)", fontsize=11)
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
