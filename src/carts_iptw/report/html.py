"""The study report: one self-contained HTML page, and the CSV tables.

``render_report(results, objects)`` turns the results dict of
:func:`carts_iptw.study.pipeline.run_study` (and the fitted objects the figures need) into HTML
with every figure embedded as a base64 PNG: no scripts, no external assets, readable offline.
Values are formatted here and nowhere computed; a null value shows as an en dash whose tooltip
gives the reason. If the data are synthetic, a banner says so at the top.
"""

from __future__ import annotations

import base64
import html as _html
from importlib import resources
from pathlib import Path
from string import Template

import pandas as pd

from carts_iptw.balance.plots import love_plot, overlap_plot
from carts_iptw.report import figures as F

SECTIONS = (
    ("summary", "Summary"), ("flow", "Cohort"), ("table1", "Table 1"),
    ("balance", "Balance"), ("outcomes", "Outcomes"), ("odds-ratios", "Odds ratios"),
    ("continuous", "Means"), ("distributions", "Distributions"), ("survival", "Survival"),
    ("cox", "Cox models"), ("effects", "Marginal effects"), ("subgroups", "Subgroups"),
    ("competing", "Competing risks"), ("warnings", "Warnings"),
    ("methods", "Methods and provenance"),
)
#: a section shown only when the results hold rows of its kind
_SECTION_DATA = {"outcomes": "binary_outcomes", "odds-ratios": "odds_ratios",
                 "continuous": "continuous_outcomes", "distributions": "distribution_outcomes",
                 "survival": "survival", "cox": "cox", "competing": "competing",
                 "effects": "_effects", "subgroups": "subgroups"}


def _vs(res: dict) -> str:
    """'treated vs control' with the spec's arm labels."""
    a0, a1 = res["meta"]["arms"]
    return f"{a1} vs {a0}"


def _unit(res: dict, o: dict | None = None) -> str:
    return (o or {}).get("time_unit") or res["meta"].get("time_unit") or "months"


def time_axis_label(unit: str, origin: str = "") -> str:
    """'months since infusion' when the spec names the time origin, else 'time, months'."""
    return f"{unit} since {origin}" if origin else f"time, {unit}"
#: shown only for synthetic data
CALIBRATION = ("calibration", "SYNTHETIC data vs published margins")


def _e(x) -> str:
    return _html.escape(str(x), quote=True)


def _val(cell):
    return cell.get("value") if isinstance(cell, dict) and "function" in cell else cell


def _null(cell) -> str:
    reason = cell.get("reason", "not available") if isinstance(cell, dict) else "not available"
    return f'<span title="{_e(reason)}">&ndash;</span>'


def fnum(cell, digits: int = 2) -> str:
    """A number cell with ``digits`` decimals (or its missing-value text)."""
    v = _val(cell)
    if v is None:
        return _null(cell)
    return f"{v:.{digits}f}"


def fp(cell) -> str:
    """A p-value cell: 3 decimals, ``<0.001`` below 0.001."""
    v = _val(cell)
    if v is None:
        return _null(cell)
    return _e(F.format_p(v))


def fpeq(cell) -> str:
    """'p &lt; 0.001' or 'p = 0.591' for running text (a dash when not estimated)."""
    v = _val(cell)
    return f"p = {_null(cell)}" if v is None else _e(F.p_phrase(v))


def fpct(cell) -> str:
    """A percentage cell with one decimal."""
    v = _val(cell)
    return _null(cell) if v is None else f"{v:.1f}%"


def _fint(cell) -> str:
    v = _val(cell)
    return _null(cell) if v is None else f"{v:.0f}"


def _table(head: list[str], rows: list[list[str]], tid: str, classes=None) -> str:
    h = "".join(f"<th>{c}</th>" for c in head)
    body = []
    for i, r in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>")
    return (f'<table class="t" id="{tid}"><thead><tr>{h}</tr></thead><tbody>'
            + "".join(body) + "</tbody></table>")


def _figure(fid: str, png_b64: str, caption: str) -> str:
    return (f'<figure id="{fid}"><img alt="{_e(caption)}" '
            f'src="data:image/png;base64,{png_b64}"><figcaption>{_e(caption)}</figcaption>'
            f"</figure>")


def _section(sid: str, title: str, inner: str) -> str:
    return f'<section id="{sid}"><h2>{_e(title)}</h2>{inner}</section>'


# ---------------------------------------------------------------- sections
def _summary(res: dict) -> str:
    m = res["meta"]
    arms = m["arms"]
    bal = res.get("balance", {})
    items = [f"<li>{m['n_analysed']} analysed of {m['n_input']} supplied "
             f"({_e(arms[0])}: {res['flow'][-1]['control']}, {_e(arms[1])}: "
             f"{res['flow'][-1]['treated']}); estimand {m['estimand']}.</li>"]
    if bal:
        flag = '<span class="ok">balanced</span>' if bal.get("balanced") else \
            '<span class="warn">not balanced</span>'
        items.append(f"<li>Largest |SMD| {fnum(bal['max_abs_smd_unweighted'], 3)} before and "
                     f"{fnum(bal['max_abs_smd_weighted'], 3)} after weighting "
                     f"(threshold {bal['threshold']:g}): {flag}.</li>")
    for o in res.get("continuous_outcomes", []):
        d = o.get("difference", {})
        items.append(f"<li>{_e(o['label'])}: weighted mean {fnum(o[arms[0]]['mean'])} vs "
                     f"{fnum(o[arms[1]]['mean'])}; difference {fnum(d.get('estimate'))} "
                     f"(95% CI {fnum(d.get('lower'))}&ndash;{fnum(d.get('upper'))}), "
                     f"{fpeq(d.get('p'))}.</li>")
    for o in res.get("binary_outcomes", []):
        if o.get("primary"):
            items.append(f"<li>Primary endpoint, {_e(o['label'])}: {fpct(o[arms[0]]['rate_weighted'])}"
                         f" vs {fpct(o[arms[1]]['rate_weighted'])} (weighted), "
                         f"{fpeq(o['p_weighted'])}.</li>")
    ors = {o["name"]: o for o in res.get("odds_ratios", [])}
    for o in res.get("binary_outcomes", []):
        orr = ors.get(o["name"], {})
        p_or = _val(orr.get("p"))
        if not o.get("primary") and p_or is not None and p_or < 0.05:
            items.append(f"<li>{_e(o['label'])}: {fpct(o[arms[0]]['rate_weighted'])} vs "
                         f"{fpct(o[arms[1]]['rate_weighted'])} (weighted); adjusted OR "
                         f"{fnum(orr.get('or'))} ({fnum(orr.get('lower'))}&ndash;"
                         f"{fnum(orr.get('upper'))}), {fpeq(orr.get('p'))}"
                         + ("; near separation, Firth OR "
                            f"{fnum(orr['firth'].get('or'))} ({fnum(orr['firth'].get('lower'))}"
                            f"&ndash;{fnum(orr['firth'].get('upper'))})" if orr.get("firth") else "")
                         + ".</li>")
    cox = {c["name"]: c for c in res.get("cox", [])}
    for sv in res.get("survival", []):
        c = cox.get(sv["name"], {})
        hr = (f"; HR {fnum(c.get('hr'))} ({fnum(c.get('lower'))}&ndash;{fnum(c.get('upper'))}), "
              f"{fpeq(c.get('p'))}" if c else "")
        items.append(f"<li>{_e(sv['label'])}: weighted log-rank {fpeq(sv['logrank_p'])}"
                     f"{hr}.</li>")
    if res.get("warnings"):
        items.append(f'<li><a href="#warnings">{len(res["warnings"])} warning(s)</a>.</li>')
    return _section("summary", "Summary", "<ul>" + "".join(items) + "</ul>")


def _flow(res: dict) -> str:
    rows = [[_e(r["step"]), str(r["excluded"]), str(r["remaining"]), str(r["control"]),
             str(r["treated"])] for r in res["flow"]]
    arms = res["meta"]["arms"]
    return _section("flow", "Cohort and eligibility", _table(
        ["Step", "Excluded", "Remaining", _e(arms[0]), _e(arms[1])], rows, "flow-table"))


def _t1_cell(d: dict | None, kind: str) -> str:
    if d is None:
        return ""
    if kind == "n":
        return fnum(d["n"], 0) if isinstance(_val(d["n"]), float) else _fint(d["n"])
    if kind == "median_iqr":
        return f"{fnum(d['median'], 1)} [{fnum(d['q1'], 1)}, {fnum(d['q3'], 1)}]"
    if "n" in d:
        return f"{_fint(d['n'])} ({fnum(d['pct'], 1)})"
    return fpct(d["pct"])


def _table1(res: dict) -> str:
    t1 = res["table1"]
    a0, a1 = t1["arms"]
    head = ["Characteristic", f"{_e(a0)}", f"{_e(a1)}", "p", "SMD", f"{_e(a0)} (weighted)",
            f"{_e(a1)} (weighted)", "p (weighted)", "SMD (weighted)"]
    rows, classes = [], []
    for r in t1["rows"]:
        k = r["kind"]
        label = _e(r["variable"].strip())
        if k == "header":
            rows.append([label, "", "", fp(r["p_unweighted"]), "", "", "",
                         fp(r["p_weighted"]), ""])
            classes.append("")
            continue
        suffix = {"median_iqr": ", median [IQR]", "n_pct": ", n (%)"}.get(k, "")
        if r["variable"].startswith("  "):
            suffix = ""
        rows.append([label + suffix, _t1_cell(r.get(f"{a0}|unweighted"), k),
                     _t1_cell(r.get(f"{a1}|unweighted"), k),
                     fp(r["p_unweighted"]) if "p_unweighted" in r else "",
                     fnum(r["smd_unweighted"], 3) if "smd_unweighted" in r else "",
                     _t1_cell(r.get(f"{a0}|weighted"), k), _t1_cell(r.get(f"{a1}|weighted"), k),
                     fp(r["p_weighted"]) if "p_weighted" in r else "",
                     fnum(r["smd_weighted"], 3) if "smd_weighted" in r else ""])
        classes.append("sub" if r["variable"].startswith("  ") else "")
    note = f'<p class="note">{_e(t1["note"])} Weighted n is the sum of the weights.</p>'
    return _section("table1", "Table 1: baseline characteristics before and after weighting",
                    _table(head, rows, "table1-table", classes) + note)


def _balance(res: dict, figs: dict) -> str:
    b = res["balance"]
    p = res["propensity"]
    labels = b.get("labels") or {}

    def lab(name: str) -> str:
        if name in labels:
            return labels[name]
        var, sep, level = name.rpartition("_")
        return f"{labels[var]}: {level}" if sep and var in labels else name

    rows = [[_e(lab(r["covariate"])), _e(r["type"]), fnum(r.get("Diff.Un"), 3),
             fnum(r.get("Diff.Adj"), 3), fnum(r.get("V.Ratio.Un"), 3),
             fnum(r.get("V.Ratio.Adj"), 3)] for r in b["rows"]]
    obs = b["observations"]
    cols = list(next(iter(obs.values())).keys()) if obs else []
    orows = [[_e(k)] + [fnum(v[c], 2) for c in cols] for k, v in obs.items()]
    inner = (f"<p>Propensity model: <code>{_e(p['formula'])}</code> (logistic, {p['method']}); "
             f"estimand {p['estimand']}"
             + (f", weights trimmed at {p['trim_at']:g}" if p.get("trim_at") else "")
             + ". Standardised mean differences (SMD) for all covariates, pooled SD "
               "(cobalt's default for the ATE).</p>"
             + _table(["Covariate", "Type", "SMD before", "SMD after", "Variance ratio before",
                       "Variance ratio after"], rows, "balance-table")
             + "<h3>Weights</h3>" + _weights_table(res)
             + "<h3>Sample sizes</h3>"
             + _table(["", *[_e(c) for c in cols]], orows, "observations-table"))
    for fid, cap in (("fig-love", "Love plot: absolute SMD before and after weighting"),
                     ("fig-overlap", "Propensity-score overlap, unweighted and weighted")):
        if fid in figs:
            inner += _figure(fid, figs[fid], cap)
    return _section("balance", "Propensity score and covariate balance", inner)


def _weights_table(res: dict) -> str:
    p = res["propensity"]
    rows = []
    for a in res["meta"]["arms"]:
        d = p.get(a)
        if not d:
            continue
        rows.append([_e(a), _fint(d["n"]), fnum(d.get("ess"), 1), fnum(d.get("w_min"), 2),
                     fnum(d.get("w_max"), 2), fnum(d.get("coef_of_var"), 2)])
    return _table(["Arm", "n", "Effective sample size", "Smallest weight", "Largest weight",
                   "Coefficient of variation"], rows, "weights-table")


def _outcomes(res: dict) -> str:
    a0, a1 = res["meta"]["arms"]
    rows = []
    for o in res["binary_outcomes"]:
        rows.append([_e(o["label"]) + (" (primary)" if o.get("primary") else ""),
                     f"{_fint(o[a0]['events'])}/{_fint(o[a0]['n'])}",
                     f"{_fint(o[a1]['events'])}/{_fint(o[a1]['n'])}",
                     fpct(o[a0]["rate_weighted"]), fpct(o[a1]["rate_weighted"]),
                     fp(o["p_weighted"])])
    return _section("outcomes", "Outcomes after weighting", _table(
        ["Outcome", f"{_e(a0)} events/n", f"{_e(a1)} events/n", f"{_e(a0)} weighted rate",
         f"{_e(a1)} weighted rate", "p (Rao-Scott)"], rows, "outcomes-table")
        + '<p class="note">Weighted rates: svymean; p: svychisq (Rao-Scott F).</p>')


def _odds_ratios(res: dict, figs: dict) -> str:
    rows = []
    for o in res["odds_ratios"]:
        meth = "Firth" if o.get("method") == "logistf" else "svyglm"
        f = o.get("firth")
        sens = (f"{fnum(f.get('or'))} ({fnum(f.get('lower'))}&ndash;{fnum(f.get('upper'))})"
                if f else "")
        rows.append([_e(o["label"]), fnum(o.get("or")), f"{fnum(o.get('lower'))}&ndash;"
                     f"{fnum(o.get('upper'))}", fp(o.get("p")), meth, sens])
    adj = res["odds_ratios"][0]["adjusted_for"] if res["odds_ratios"] else []
    inner = (_table(["Outcome", "Adjusted OR", "95% CI", "p", "Model",
                     "Firth OR (95% CI), near separation"], rows, "or-table")
             + f'<p class="note">Weighted logistic regression (survey::svyglm, quasibinomial, '
               f'design-based SE), adjusted for {_e(", ".join(adj)) or "nothing"}. Firth-'
               "penalised estimates (logistf, IPT weights scaled to mean 1, profile-likelihood CI) "
               "replace it when separation is detected and are shown alongside when an arm has "
               "fewer than 3 patients in the rarer outcome class (see Warnings).</p>")
    if "fig-forest-or" in figs:
        inner += _figure("fig-forest-or", figs["fig-forest-or"],
                         f"Adjusted odds ratios ({_e(_vs(res))}), 95% CI, log scale")
    return _section("odds-ratios", "Adjusted odds ratios", inner)


def _continuous(res: dict) -> str:
    a0, a1 = res["meta"]["arms"]
    rows = []
    for o in res["continuous_outcomes"]:
        d = o["difference"]
        rows.append([_e(o["label"]),
                     f"{fnum(o[a0]['mean'])} ({fnum(o[a0]['se'])}), n={_fint(o[a0]['n'])}",
                     f"{fnum(o[a1]['mean'])} ({fnum(o[a1]['se'])}), n={_fint(o[a1]['n'])}",
                     fnum(d["estimate"]), f"{fnum(d['lower'])}&ndash;{fnum(d['upper'])}",
                     fp(d["p"]), _e(", ".join(o.get("adjusted_for", [])) or "none")])
    return _section("continuous", "Continuous outcomes: weighted means", _table(
        ["Outcome", f"{_e(a0)} weighted mean (SE)", f"{_e(a1)} weighted mean (SE)",
         f"Difference ({_e(_vs(res))})", "95% CI", "p", "Adjusted for"], rows,
        "continuous-table")
        + '<p class="note">Weighted means: svymean; difference: weighted linear model '
          "(survey::svyglm, gaussian, design-based SE).</p>")


def _distributions(res: dict) -> str:
    a0, a1 = res["meta"]["arms"]
    rows = []
    for o in res["distribution_outcomes"]:
        cells = [_e(o["label"])]
        for a in (a0, a1):
            d = o[a]
            cells.append(f"{fnum(d['median'], 1)} [{fnum(d['q1'], 1)}, {fnum(d['q3'], 1)}] "
                         f"(n={_fint(d['n'])})")
        cells.append(fp(o["p_weighted"]))
        rows.append(cells)
    return _section("distributions", "Distributions: weighted medians", _table(
        ["Outcome", f"{_e(a0)} weighted median [IQR]", f"{_e(a1)} weighted median [IQR]",
         "p (weighted rank test)"], rows, "distributions-table")
        + '<p class="note">Weighted quartiles: svyquantile; p: svyranktest (Wilcoxon).</p>')


def _survival(res: dict, figs: dict) -> str:
    a0, a1 = res["meta"]["arms"]
    hz = res["meta"]["horizons"]
    rows = []
    for o in res["survival"]:
        cells = [_e(o["label"])]
        for a in (a0, a1):
            d = o[a]
            cells.append(f"{fnum(d['median_median'], 1)} ({fnum(d['median_lower'], 1)}&ndash;"
                         f"{fnum(d['median_upper'], 1)})")
            for h in hz:
                s = d["at"][f"{h:g}"]
                cells.append(f"{fpct(_pct(s['surv']))} ({fpct(_pct(s['lower']))}&ndash;"
                             f"{fpct(_pct(s['upper']))})")
        cells.append(fp(o["logrank_p"]))
        rows.append(cells)
    head = ["Endpoint"]
    for a in (a0, a1):
        head.append(f"{_e(a)} median (95% CI)")
        head += [f"{_e(a)} at {h:g} {_e(_unit(res))}" for h in hz]
    head.append("weighted log-rank p")
    inner = _table(head, rows, "survival-table")
    inner += ('<p class="note">Weighted Kaplan-Meier (survival::survfit, robust variance for '
              "non-integer weights); log-rank: survey::svylogrank. A dash: not reached.</p>")
    for o in res["survival"]:
        fid = f"fig-km-{o['name']}"
        if fid in figs:
            inner += _figure(fid, figs[fid], f"{o['label']}: weighted Kaplan-Meier curves")
    return _section("survival", "Survival", inner)


def _pct(cell):
    v = _val(cell)
    if v is None:
        return cell
    return {"value": 100.0 * v, "function": cell.get("function", "")}


def _cox(res: dict, figs: dict) -> str:
    rows = [[_e(c["label"]), fnum(c["hr"]), f"{fnum(c['lower'])}&ndash;{fnum(c['upper'])}",
             fp(c["p"]), _e(", ".join(c["adjusted_for"]) or "none")] for c in res["cox"]]
    inner = _table(["Endpoint", "HR", "95% CI", "p", "Adjusted for"], rows, "cox-table")
    inner += ('<p class="note">Weighted Cox models (survival::coxph, Efron ties, robust '
              "sandwich SE).</p>")
    if "fig-forest-hr" in figs:
        inner += _figure("fig-forest-hr", figs["fig-forest-hr"],
                         f"Hazard ratios ({_e(_vs(res))}), 95% CI, log scale")
    return _section("cox", "Cox models", inner)


def _scaled(cell, k: float):
    v = _val(cell)
    return cell if v is None else {"value": k * v, "function": cell.get("function", "")}


def effect_rows(res: dict) -> list[dict]:
    """One row per marginal effect of the study.

    Binary: risk difference, risk ratio, adjusted OR; time to event: RMST difference, survival differences, HR), each with its E-value where
    it is a ratio. Differences of proportions in percentage points.
    """
    rows = []
    unit = res["meta"].get("time_unit", "")

    def add(o, measure, cells, scale=1.0, ev=None, fn=""):
        r = {"outcome": o["label"], "name": o["name"], "measure": measure, "function": fn}
        for k in ("estimate", "lower", "upper"):
            r[k] = _scaled(cells.get(k), scale)
        r["p"] = cells.get("p")
        r["evalue_point"] = (ev or {}).get("point")
        r["evalue_ci"] = (ev or {}).get("ci")
        rows.append(r)

    for o in res.get("odds_ratios", []):
        eff = o.get("effects")
        if not eff:
            continue
        tgt = {"all": "", "treated": ", in the treated", "controls": ", in the controls"}.get(
            eff.get("target", "all"), "")
        add(o, f"risk difference, percentage points{tgt}", eff["rd"], 100.0, fn="avg_comparisons")
        add(o, f"risk ratio{tgt}", eff["rr"], ev=eff.get("evalue_rr"), fn="avg_comparisons")
        add(o, "adjusted odds ratio", {"estimate": o.get("or"), "lower": o.get("lower"),
                                       "upper": o.get("upper"), "p": o.get("p")},
            ev=o.get("evalue"), fn=o.get("method", "svyglm"))
    cox = {c["name"]: c for c in res.get("cox", [])}
    for o in res.get("survival", []):
        u = o.get("time_unit") or unit
        if "rmst" in o:
            add(o, f"RMST difference up to {o['rmst']['tau']:g} {u}", o["rmst"]["difference"],
                fn="rmst_difference")
        for h, d in o.get("difference", {}).items():
            add(o, f"survival difference at {h} {u}, percentage points", d, 100.0,
                fn="survfit_difference")
        c = cox.get(o["name"])
        if c and "evalue" in c:
            add(o, "hazard ratio (Cox)", {"estimate": c["hr"], "lower": c["lower"],
                                          "upper": c["upper"], "p": c["p"]},
                ev=c["evalue"], fn="coxph")
    return rows


def _effects(res: dict) -> str:
    rows = []
    for r in effect_rows(res):
        rows.append([_e(r["outcome"]), _e(r["measure"]), fnum(r["estimate"]),
                     f"{fnum(r['lower'])}&ndash;{fnum(r['upper'])}", fp(r["p"]),
                     fnum(r["evalue_point"]) if r["evalue_point"] else "",
                     fnum(r["evalue_ci"]) if r["evalue_ci"] else ""])
    inner = _table(["Outcome", f"Effect ({_e(_vs(res))})", "Estimate", "95% CI", "p",
                    "E-value", "E-value (CI)"], rows, "effects-table")
    inner += ('<p class="note">Risk difference and ratio: g-computation on the weighted logistic '
              "model (marginaleffects::avg_comparisons on the survey::svyglm fit; ratio = "
              "mean(p1)/mean(p0), 'lnratioavg'), delta-method SE from the design-based "
              "covariance, z inference; averaged over the estimand's target population "
              "(unweighted; with the weights for ATO/ATM). RMST: restricted mean survival time "
              "of the weighted Kaplan-Meier curves (summary(survfit, rmean = tau)), robust "
              "(infinitesimal-jackknife) variance per arm; survival differences: summary(survfit, "
              "times) per arm, SE sqrt(se1^2 + se0^2). E-values (VanderWeele &amp; Ding 2017): "
              "for the estimate and the CI limit closest to 1; an OR or HR is converted to the "
              "risk-ratio scale unless the spec marks the outcome rare (rare = true); a dash "
              "means the spec does not say (hover for the reason). None of the SEs accounts for "
              "the estimation of the weights.</p>")
    return _section("effects", "Marginal effects and E-values", inner)


def _subgroups(res: dict, figs: dict) -> str:
    inner = ""
    for i, sg in enumerate(res.get("subgroups", [])):
        rows = [[_e(r["level"]), _fint(r["n"]), fnum(r["estimate"]),
                 f"{fnum(r['lower'])}&ndash;{fnum(r['upper'])}", fp(r["p"])] for r in sg["rows"]]
        src = ("weights kept from the whole cohort (subgroups are domains of the whole design)"
               if sg["weights"] == "cohort" else
               "weights re-estimated within each subgroup (the spec's propensity model)")
        inner += (f"<h3>{_e(sg['outcome_label'])} by {_e(sg['label'])}</h3>"
                  + _table([_e(sg["label"]), "n", _e(sg["effect"]).capitalize(), "95% CI", "p"],
                           rows, f"subgroups-table-{i}")
                  + f'<p class="note">svyglm <code>{_e(sg["formula"])}</code> within each '
                    f"subgroup; {src}. Interaction test (survey::regTermTest, Wald): "
                    f"{fpeq(sg['interaction_p'])}.</p>")
        fid = f"fig-subgroups-{i}"
        if fid in figs:
            inner += _figure(fid, figs[fid], f"{sg['outcome_label']} by {sg['label']}: "
                                             f"{sg['effect']} per subgroup, 95% CI")
    return _section("subgroups", "Subgroup effects", inner)


def _competing(res: dict, figs: dict) -> str:
    a0, a1 = res["meta"]["arms"]
    inner = ""
    rows = []
    for o in res["competing"]:
        cells = [_e(o["label"])]
        for a in (a0, a1):
            d = o[a]
            cells.append(f"{fpct(_pct(d['cif']))} ({fpct(_pct(d['lower']))}&ndash;"
                         f"{fpct(_pct(d['upper']))}); {_fint(d['events'])} events, "
                         f"{_fint(d['competing'])} competing events first")
        rows.append(cells)
    inner += _table(["Endpoint", f"{_e(a0)} cumulative incidence", f"{_e(a1)} cumulative "
                     "incidence"], rows, "competing-table")
    inner += ('<p class="note">Weighted Aalen-Johansen cumulative incidence at the end of the '
              "window, with the competing event; cause-specific weighted Cox model in the Cox "
              "table.</p>")
    for o in res["competing"]:
        fid = f"fig-cif-{o['name']}"
        if fid in figs:
            inner += _figure(fid, figs[fid], f"{o['label']}: cumulative incidence")
    return _section("competing", "Cumulative incidence with a competing event", inner)


def _warnings(res: dict) -> str:
    w = res.get("warnings", [])
    if not w:
        return _section("warnings", "Warnings", "<p>None.</p>")
    items = "".join(f'<div class="warn"><b>{_e(x["step"])}</b>: {_e(x["message"])}</div>'
                    for x in w)
    return _section("warnings", "Warnings", items)


def _calibration(res: dict) -> str:
    rows_in = res.get("calibration")
    if not rows_in:
        return ""
    a0, a1 = res["meta"]["arms"]
    rows = []
    for r in rows_in:
        f = (lambda c: fnum(c, 1)) if r["kind"] == "median" else fpct
        rows.append([_e(r["quantity"]), f(r[f"{a0}|published"]), f(r[f"{a0}|cohort"]),
                     f(r[f"{a1}|published"]), f(r[f"{a1}|cohort"])])
    note = ('<p class="note">The bundled cohort is SYNTHETIC: simulated so that its unweighted '
            "margins match those published (outcome rates: the published weighted rates). It "
            "is not the study's data; its results are not the study's results.</p>")
    return _section("calibration", CALIBRATION[1], _table(
        ["Quantity", f"{_e(a0)} published", f"{_e(a0)} this cohort", f"{_e(a1)} published",
         f"{_e(a1)} this cohort"], rows, "calibration-table") + note)


_ESTIMAND_TEXT = {
    "ATE": "the average treatment effect in the whole cohort (ATE)",
    "ATT": "the average treatment effect in the treated (ATT)",
    "ATC": "the average treatment effect in the controls (ATC)",
    "ATO": "the average treatment effect in the overlap population (ATO, overlap weights)",
    "ATM": "the average treatment effect in the matching population (ATM)",
}
_METHOD_TEXT = {"glm": "logistic regression", "ebal": "entropy balancing",
                "cbps": "the covariate balancing propensity score (CBPS)"}


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def methods_paragraphs(res: dict) -> list[str]:
    """A methods section written from the spec and the run (plain text, for an author to edit).

    Design, estimand, propensity model and its terms, weights, trimming, balance threshold, outcome
    models, variance estimators and software.
    """
    m, p, b = res["meta"], res.get("propensity", {}), res.get("balance", {})
    a0, a1 = m["arms"]
    flow = res.get("flow", [])
    steps = [r["step"] for r in flow[1:]]
    out = []
    elig = (f" Eligibility was applied in {len(steps)} step(s) ({'; '.join(steps)}), leaving "
            f"{m['n_analysed']} of {m['n_input']} ({flow[-1]['treated']} {a1}, "
            f"{flow[-1]['control']} {a0})." if steps else
            f" All {m['n_input']} were analysed ({flow[-1]['treated']} {a1}, "
            f"{flow[-1]['control']} {a0}).") if flow else ""
    out.append(f"We compared {a1} with {a0} by inverse probability of treatment weighting "
               f"(IPTW), targeting {_ESTIMAND_TEXT.get(p.get('estimand', m['estimand']), m['estimand'])}."
               + elig)
    terms = p.get("term_labels") or p.get("formula", "").split("~", 1)[-1].split(" + ")
    ps = (f"Weights were estimated by {_METHOD_TEXT.get(p.get('method', 'glm'), p.get('method'))} "
          f"of treatment on {_join([t.strip() for t in terms])} (WeightIt::weightit twin, "
          f"method = '{p.get('method', 'glm')}')")
    extra = []
    if p.get("stabilize"):
        extra.append("stabilised")
    if p.get("trim_at"):
        extra.append(f"trimmed at the {100 * p['trim_at']:g}th percentile")
    ps += (f"; weights were {_join(extra)}" if extra else "") + "."
    if p.get("missing") == "complete":
        ps += " Subjects with a missing covariate value were excluded (complete cases)."
    elif p.get("missing") == "indicator":
        ps += (" Missing covariate values were median-imputed with a missingness indicator "
               "added to the propensity model (WeightIt missing = 'ind').")
    elif p.get("missing") == "mi" and res.get("mi"):
        mi = res["mi"]
        counts = _join([f"{c} ({k})" for c, k in mi["imputed"].items()]) or "none"
        ps += (f" Missing covariate values were multiply imputed by chained equations "
               f"(m = {mi['m']} imputations, seed {mi['seed']}; predictive mean matching, "
               "factors imputed as their levels; treatment and outcomes in the imputation "
               f"model). Values imputed per column: {counts}. Weights and outcome models were "
               "estimated in each completed data set; odds ratios, hazard ratios, mean "
               "differences, the marginal risk difference and ratio, survival differences and "
               "the RMST difference are pooled by Rubin's rules (Barnard-Rubin degrees of "
               "freedom; mice::pool twin) and balance is summarised across imputations "
               "(cobalt); descriptive tables, curves and the other estimates are those of the "
               "first completed data set.")
    if b:
        ps += (f" Covariate balance was assessed by standardised mean differences (SMD; "
               f"cobalt::bal.tab twin), with |SMD| < {b['threshold']:g} taken as balanced; "
               "Table 1 reports SMDs before and after weighting with the pooled standard "
               "deviation of the unweighted arms.")
    out.append(ps)
    oc = []
    if res.get("binary_outcomes"):
        adj = res["odds_ratios"][0]["adjusted_for"] if res.get("odds_ratios") else []
        oc.append("binary outcomes as weighted proportions (survey::svymean) compared by the "
                  "Rao-Scott chi-squared test (svychisq) and by odds ratios from weighted "
                  "logistic regression (svyglm, quasibinomial" + (
                      f", adjusted for {', '.join(adj)}" if adj else "") + ")")
    if res.get("continuous_outcomes"):
        adj = res["continuous_outcomes"][0].get("adjusted_for", [])
        oc.append("continuous outcomes as weighted means (svymean) and their difference from "
                  "weighted linear regression (svyglm, gaussian" + (
                      f", adjusted for {', '.join(adj)}" if adj else "") + ")")
    if res.get("distribution_outcomes"):
        oc.append("durations and counts as weighted medians (svyquantile) compared by the "
                  "design-based Wilcoxon rank test (svyranktest)")
    if res.get("survival"):
        oc.append("time-to-event outcomes by weighted Kaplan-Meier curves (survival::survfit), "
                  "the design-based log-rank test (svylogrank) and weighted Cox models "
                  "(coxph, Efron ties)")
    if res.get("competing"):
        oc.append("competing risks by the weighted Aalen-Johansen estimator and cause-specific "
                  "weighted Cox models")
    if oc:
        out.append("We analysed " + _join(oc) + ". Standard errors of weighted estimates are "
                   "design-based (linearisation, treating the weights as fixed)"
                   + ("; Cox models use the robust sandwich variance." if res.get("cox")
                      else "."))
    eff = []
    if any(o.get("effects") for o in res.get("odds_ratios", [])):
        eff.append("marginal risk differences and risk ratios (mean(p1)/mean(p0)) by "
                   "g-computation on the weighted logistic model: every patient of the "
                   "estimand's target population predicted under both treatments from the "
                   "svyglm fit and averaged (marginaleffects::avg_comparisons twin, "
                   "delta-method SE from the design-based covariance)")
    if any("rmst" in o for o in res.get("survival", [])):
        eff.append("restricted mean survival time differences and survival differences at "
                   "the horizons from the weighted Kaplan-Meier curves (robust variance)")
    if eff:
        out.append("Marginal effects: " + _join(eff) + ". E-values (VanderWeele and Ding, "
                   "2017) give the strength of unmeasured confounding that would explain away "
                   "each ratio; odds and hazard ratios were converted to the risk-ratio scale "
                   "unless the outcome was declared rare.")
    if res.get("subgroups"):
        out.append("Effect modification was examined within subgroups ("
                   + _join([f"{sg['label']} for {sg['outcome_label']}, weights "
                            + ("from the whole cohort" if sg["weights"] == "cohort"
                               else "re-estimated within each subgroup")
                            for sg in res["subgroups"]])
                   + ") with a Wald test of the treatment-by-modifier interaction "
                   "(survey::regTermTest).")
    out.append(f"Analyses used carts_iptw {m['version']}, whose every function is checked "
               "against its R twin (WeightIt, cobalt, survey, survival, stats) by the package's "
               "parity tests; the functions and twins used are listed below.")
    return out


def _methods(res: dict) -> str:
    rows = [[f"<code>{_e(k)}</code>", _e(v)] for k, v in res["functions"].items()]
    m = res["meta"]
    paras = "".join(f"<p>{_e(t)}</p>" for t in methods_paragraphs(res))
    inner = (f'<div id="methods-text">{paras}</div>'
             f"<p>Spec <code>{_e(m['spec'])}</code>; data <code>{_e(m['data'])}</code>. "
             "Every number in this report comes from the function named in results.json next to "
             "it, each checked against its R twin by the package's parity tests.</p>"
             + _table(["Function", "R twin"], rows, "functions-table"))
    return _section("methods", "Methods and provenance", inner)


# ---------------------------------------------------------------- figures
class _Figures:
    """Figure id -> base64 PNG for the HTML, and the PNG and SVG bytes for the files."""

    def __init__(self, files: dict | None):
        self.b64: dict = {}
        self.files = files

    def add(self, fid: str, fig, tight: bool = True) -> None:
        if self.files is None:
            self.b64[fid] = F.to_base64_png(fig, tight=tight)
            return
        png, svg = F.to_png_svg(fig, tight=tight)
        self.b64[fid] = base64.b64encode(png).decode("ascii")
        self.files[fid] = (png, svg)


def make_figures(results: dict, objects: dict, files: dict | None = None) -> dict:
    """PNG (base64) of every figure the results support, keyed by figure id.

    ``files``, when given, receives ``{figure id: (png bytes, svg bytes)}`` for the files beside the report.
    """
    figs = _Figures(files)
    arms = results["meta"]["arms"]
    trt = results["meta"]["treatment"]
    if "bal" in objects:
        figs.add("fig-love", love_plot(
            objects["bal"], threshold=results["balance"]["threshold"],
            var_names=results["balance"].get("labels") or None))
    if "weightit" in objects:
        figs.add("fig-overlap", overlap_plot(objects["weightit"], labels=list(arms),
                                             palette=list(F.COLORS)))
    ors = [dict(o, label=o["label"]) for o in results.get("odds_ratios", [])]
    if ors:
        figs.add("fig-forest-or", F.forest_plot(ors, "or", "adjusted odds ratio",
                                                "Adjusted odds ratios"), tight=False)
    if results.get("cox"):
        figs.add("fig-forest-hr", F.forest_plot(results["cox"], "hr", "hazard ratio",
                                                "Weighted Cox models"), tight=False)
    for i, sg in enumerate(results.get("subgroups", [])):
        figs.add(f"fig-subgroups-{i}", F.subgroup_forest(sg), tight=False)
    origin = results["meta"].get("time_origin", "")
    for name, (fit, r) in objects.get("km", {}).items():
        figs.add(f"fig-km-{name}", F.km_figure(
            fit, r, arms, trt, xlabel=time_axis_label(_unit(results, r), origin)))
    for name, (fit, r) in objects.get("cif", {}).items():
        figs.add(f"fig-cif-{name}", F.cif_figure(
            fit, r, arms, trt, xlabel=time_axis_label(_unit(results, r), origin)), tight=False)
    return figs.b64


def render_report(results: dict, objects: dict | None = None, files: dict | None = None
                  ) -> str:
    """The whole report as one HTML string (figures embedded).

    ``files`` (a dict) receives each figure's PNG and SVG bytes (:func:`write_figures`).
    """
    figs = make_figures(results, objects or {}, files)
    m = results["meta"]
    banner = (f'<div class="banner" id="synthetic-banner">{_e(m["data_label"])}</div>'
              if m.get("synthetic") else "")
    meta = (f"{_e(m['description'])}<br>Generated {m['generated_utc']} by carts_iptw "
            f"{_e(m['version'])}; spec {_e(m['spec'])}; data {_e(m['data'])}."
            # `carts-iptw verify` rewrites the marker with a link to verification.html
            ' <span id="r-verification"><!--r-verification-->Not verified in R (run '
            "<code>carts-iptw verify</code> on this folder).<!--/r-verification--></span>")
    shown = [(sid, t) for sid, t in SECTIONS
             if sid not in _SECTION_DATA or (effect_rows(results) if sid == "effects"
                                              else results.get(_SECTION_DATA[sid]))]
    secs = tuple(shown) + ((CALIBRATION,) if results.get("calibration") else ())
    nav = "".join(f'<a href="#{sid}">{_e(t)}</a>' for sid, t in secs)
    render = {
        "summary": lambda: _summary(results), "flow": lambda: _flow(results),
        "table1": lambda: _table1(results), "balance": lambda: _balance(results, figs),
        "outcomes": lambda: _outcomes(results),
        "odds-ratios": lambda: _odds_ratios(results, figs),
        "continuous": lambda: _continuous(results),
        "distributions": lambda: _distributions(results),
        "survival": lambda: _survival(results, figs), "cox": lambda: _cox(results, figs),
        "effects": lambda: _effects(results), "subgroups": lambda: _subgroups(results, figs),
        "competing": lambda: _competing(results, figs), "warnings": lambda: _warnings(results),
        "methods": lambda: _calibration(results) + _methods(results),
    }
    body = "".join(render[sid]() for sid, _ in shown)
    tpl = Template(resources.files("carts_iptw.report").joinpath("templates", "report.html")
                   .read_text(encoding="utf-8"))
    title = m["study"] + (" [SYNTHETIC DATA]" if m.get("synthetic") else "")
    footer = _e(m["data_label"]) if m.get("synthetic") else "carts_iptw"
    return tpl.substitute(title=_e(title), banner=banner, meta=meta, nav=nav, body=body,
                          footer=footer)


def write_figures(files: dict, folder: Path, synthetic: bool = False) -> list[Path]:
    """Write each figure as ``<id>.png`` and ``<id>.svg`` in ``folder``.

    ``folder`` is the run's staging folder's ``figures/``: the manifest lists them); ``_SYNTHETIC`` in the names for synthetic data, as
    the CSVs.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    tag = "_SYNTHETIC" if synthetic else ""
    for fid, (png, svg) in files.items():
        for ext, data in (("png", png), ("svg", svg)):
            p = folder / f"{fid}{tag}.{ext}"
            p.write_bytes(data)
            out.append(p)
    return out


# ---------------------------------------------------------------- CSV tables
def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and "function" in v:
            out[key] = v.get("value")
        elif isinstance(v, dict):
            out.update(_flat(v, f"{key}."))
        elif isinstance(v, list):
            out[key] = "; ".join(map(str, v))
        else:
            out[key] = v
    return out


def write_tables(results: dict, folder: Path) -> list[Path]:
    """One CSV per results table (bare values; provenance lives in results.json)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    synthetic = results["meta"].get("synthetic")
    tables = {
        "flow": results.get("flow", []),
        "table1": results.get("table1", {}).get("rows", []),
        "balance": results.get("balance", {}).get("rows", []),
        "outcomes": results.get("binary_outcomes", []),
        "odds_ratios": results.get("odds_ratios", []),
        "continuous": results.get("continuous_outcomes", []),
        "distributions": results.get("distribution_outcomes", []),
        "survival": results.get("survival", []),
        "cox": results.get("cox", []),
        "competing": [{k: v for k, v in r.items() if k != "cox"}
                      for r in results.get("competing", [])],
        "calibration": results.get("calibration", []),
        "effects": effect_rows(results),
        "subgroups": [{"modifier": sg["modifier"], "outcome": sg["outcome"],
                       "weights": sg["weights"], "effect": sg["effect"], **r,
                       "interaction_p": sg["interaction_p"]}
                      for sg in results.get("subgroups", []) for r in sg["rows"]],
    }
    for name, rows in tables.items():
        if not rows:
            continue
        df = pd.DataFrame([_flat(r) for r in rows])
        if synthetic:
            df.insert(0, "data", "SYNTHETIC")
        p = folder / (f"{name}_SYNTHETIC.csv" if synthetic else f"{name}.csv")
        df.to_csv(p, index=False)
        written.append(p)
    return written
