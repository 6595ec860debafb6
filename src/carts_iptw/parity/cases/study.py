"""End-to-end parity: the reference study's numbers (results.json) against the same analysis
written in R (r_reference/study.R: glm ATE weights, survey, survival, stats).

The individual functions have their own parity cases; this case checks the wiring: that the
pipeline calls each with the arguments the spec means (formulas, subsets, weights, horizons),
on the bundled SYNTHETIC cohort. WeightIt's glm weights are stated in base R (WeightIt is not
installable here); R's default glm convergence on both sides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.parity.registry import ParityCase, register


def _spec():
    from carts_iptw.study.spec import default_spec

    return default_spec()


def cart_study() -> pd.DataFrame:
    """The eligible SYNTHETIC cohort with the spec's derived outcome columns (no dates)."""
    from carts_iptw.study import analysis as A
    from carts_iptw.study.eligibility import apply_eligibility
    from carts_iptw.study.expr import evaluate
    from carts_iptw.study.synthetic import load_synthetic_cohort

    spec = _spec()
    data, _ = apply_eligibility(load_synthetic_cohort(), spec.eligibility, spec.treatment)
    ctx = A.Context(spec=spec, data=data.copy())
    for o in spec.outcomes:
        if o.type == "binary":
            A.outcome_column(ctx, o)
        elif o.type in ("duration", "count"):
            ctx.data[f"a_{o.name}"] = (evaluate(o.among, ctx.data) if o.among
                                       else np.ones(len(ctx.data), dtype=bool)).astype("int64")
        elif o.type == "competing":
            cr = A.competing_data(ctx, o)
            ctx.data["cr_time"] = cr["cr_time"].to_numpy()
            ctx.data["cr_event"] = cr["cr_event"].to_numpy()
            ctx.data["cr_state"] = cr["cr_state"].array
    return ctx.data.drop(columns=["infusion_date"])


def _args() -> dict:
    spec = _spec()
    t1 = spec.table1
    return {
        "treatment": spec.treatment,
        "ps_formula": f"{spec.treatment} ~ {' + '.join(spec.propensity.covariates)}",
        "t1_continuous": [v.column for v in t1 if v.type == "continuous"],
        "t1_categorical": [v.column for v in t1 if v.type != "continuous"],
        "binary": [o.name for o in spec.outcomes if o.type == "binary"],
        "adjust": list(spec.adjustment("standard")),
        "distribution": {o.name: {"column": o.column, "among": f"a_{o.name}"}
                         for o in spec.outcomes if o.type in ("duration", "count")},
        "tte": {o.name: {"time": o.time, "event": o.event, "adjusted": bool(o.adjust)}
                for o in spec.outcomes if o.type == "time_to_event"},
        "cs_cox": {o.name: {"time": "cr_time", "event": "cr_event", "adjusted": bool(o.adjust),
                            "horizon": float(o.censor_at)}
                   for o in spec.outcomes if o.type == "competing"},
        "horizon": float(spec.horizons[0]),
        "horizons": [float(h) for h in spec.horizons],
        "tau": float(spec.rmst_tau if spec.rmst_tau is not None else max(spec.horizons)),
        "rare": {o.name: o.rare for o in spec.outcomes if o.rare is not None},
    }


def _effects_series(o_or: dict) -> pd.Series:
    """The marginal effects and E-values of one binary outcome, R's names."""
    e = o_or["effects"]
    d = {f"rd{s}": e["rd"][k] for s, k in _CELLS}
    d.update({f"rr{s}": e["rr"][k] for s, k in _CELLS if k != "se"})
    d["evalue_rr.point"], d["evalue_rr.ci"] = e["evalue_rr"]["point"], e["evalue_rr"]["ci"]
    if o_or["evalue"]["point"].get("value") is not None:
        d["evalue_or.point"], d["evalue_or.ci"] = o_or["evalue"]["point"], o_or["evalue"]["ci"]
    return _series(d)


_CELLS = (("", "estimate"), ("_se", "se"), ("_lower", "lower"), ("_upper", "upper"),
          ("_p", "p"))


def _surv_effects_series(sv: dict, cox: dict, arms) -> dict:
    r = sv["rmst"]
    d = {"rmst_control": r[arms[0]]["rmean"], "rmst_treated": r[arms[1]]["rmean"]}
    d.update({f"rmst{'_diff' if not s else s}": r["difference"][k] for s, k in _CELLS})
    for h, x in sv["difference"].items():
        d.update({f"sdiff_{h}{s}": x[k] for s, k in _CELLS})
    if cox["evalue"]["point"].get("value") is not None:
        d["evalue_hr.point"], d["evalue_hr.ci"] = cox["evalue"]["point"], cox["evalue"]["ci"]
    return d


def _v(cell):
    v = cell.get("value") if isinstance(cell, dict) else cell
    return np.nan if v is None else float(v)


def _series(d: dict) -> pd.Series:
    return pd.Series({k: _v(v) for k, v in d.items()}, dtype=float)


def python_study(data: pd.DataFrame, args) -> dict:
    from carts_iptw.study.pipeline import analyse_eligible

    spec = _spec()
    res, _ = analyse_eligible(data, spec, lambda msg: None)
    c, t = spec.control_label, spec.treated_label
    out: dict = {}
    # the weights: from the pipeline's weightit call
    from carts_iptw.study import analysis as A

    ctx = A.Context(spec=spec, data=data.copy())
    A.fit_weights(ctx)
    out["weights"] = ctx.weights
    p_unw, p_w, mc, mt, wc, wt, pc, pt = ({} for _ in range(8))
    for r in res["table1"]["rows"]:
        col = r.get("column")
        if r["kind"] == "median_iqr":
            p_unw[col], p_w[col] = r["p_unweighted"], r["p_weighted"]
            mc[col], mt[col] = r[f"{c}|unweighted"]["median"], r[f"{t}|unweighted"]["median"]
            wc[col], wt[col] = r[f"{c}|weighted"]["median"], r[f"{t}|weighted"]["median"]
        elif r["kind"] == "header" or (r["kind"] == "n_pct" and "p_unweighted" in r):
            p_unw[col], p_w[col] = r["p_unweighted"], r["p_weighted"]
        if r["kind"] == "n_pct":
            key = col if r["level"] == "1" else f"{col}_{r['level']}"
            pc[key], pt[key] = r[f"{c}|weighted"]["pct"], r[f"{t}|weighted"]["pct"]
    order = args["t1_continuous"] + args["t1_categorical"]
    out["t1_p_unweighted"] = _series({k: p_unw[k] for k in order})
    out["t1_p_weighted"] = _series({k: p_w[k] for k in order})
    out["t1_median_control"], out["t1_median_treated"] = _series(mc), _series(mt)
    out["t1_wmedian_control"], out["t1_wmedian_treated"] = _series(wc), _series(wt)
    out["t1_wpct_control"], out["t1_wpct_treated"] = _series(pc), _series(pt)
    bo = {o["name"]: o for o in res["binary_outcomes"]}
    ors = {o["name"]: o for o in res["odds_ratios"]}
    names = args["binary"]
    out["rate_control"] = _series({n: bo[n][c]["rate_weighted"] for n in names})
    out["rate_treated"] = _series({n: bo[n][t]["rate_weighted"] for n in names})
    out["rate_p"] = _series({n: bo[n]["p_weighted"] for n in names})
    for k, key in (("or", "or"), ("or_lower", "lower"), ("or_upper", "upper"), ("or_p", "p")):
        out[k] = _series({n: ors[n][key] for n in names})
    dist = {o["name"]: o for o in res["distribution_outcomes"]}
    dn = list(args["distribution"])
    out["dist_median_control"] = _series({n: dist[n][c]["median"] for n in dn})
    out["dist_median_treated"] = _series({n: dist[n][t]["median"] for n in dn})
    out["dist_p"] = _series({n: dist[n]["p_weighted"] for n in dn})
    sv = {o["name"]: o for o in res["survival"]}
    cx = {o["name"]: o for o in res["cox"]}
    tn = list(args["tte"])
    h = f"{args['horizon']:g}"
    out["km_median_control"] = _series({n: sv[n][c]["median_median"] for n in tn})
    out["km_median_treated"] = _series({n: sv[n][t]["median_median"] for n in tn})
    out["surv_h_control"] = _series({n: sv[n][c]["at"][h]["surv"] for n in tn})
    out["surv_h_treated"] = _series({n: sv[n][t]["at"][h]["surv"] for n in tn})
    out["logrank_p"] = _series({n: sv[n]["logrank_p"] for n in tn})
    cr = {o["name"]: o for o in res["competing"]}
    cn = list(args["cs_cox"])
    out["cif_control"] = _series({n: cr[n][c]["cif"] for n in cn})
    out["cif_treated"] = _series({n: cr[n][t]["cif"] for n in cn})
    hn = tn + cn
    for k, key in (("hr", "hr"), ("hr_lower", "lower"), ("hr_upper", "upper"), ("hr_p", "p")):
        out[k] = _series({n: cx[n][key] for n in hn})
    # issue 13: marginal effects (g-computation), RMST and survival differences, E-values
    for n in names:
        out[f"effects_{n}"] = _effects_series(ors[n])
    for n in tn:
        out[f"surv_effects_{n}"] = _series(_surv_effects_series(sv[n], cx[n], (c, t)))
    for n in cn:
        if cx[n]["evalue"]["point"].get("value") is not None:
            out[f"evalue_hr_{n}"] = _series({"point": cx[n]["evalue"]["point"],
                                             "ci": cx[n]["evalue"]["ci"]})
    return out


register(ParityCase(
    name="study.anakinra.SYNTHETIC",
    function="run_study",
    r_twin="WeightIt glm weights + survey + survival + stats + marginaleffects "
           "(r_reference/study.R)",
    dataset=cart_study,
    r_file="study.R",
    r_function="ref_study",
    args=_args(),
    python=python_study,
    rtol=1e-6,
    r_packages=("survey", "survival", "marginaleffects", "insight"),
    description="every number of the reference study on the bundled SYNTHETIC cohort",
))


# ---------------------------------------------------------------- the worked studies
# Each bundled worked study (spec + data) end to end against r_reference/worked_studies.R,
# which evaluates the spec's derived columns and eligibility rules with R's own
# eval(parse(text = ...)), weights with the real WeightIt, balance with cobalt.

def _worked_spec(name: str, missing: str | None = None):
    import tomllib

    from carts_iptw.study.spec import example_paths, parse_spec

    path = example_paths(name)[0]
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    if missing:  # the missing-covariate variants (Lalonde with 1974 earnings partly missing)
        raw["propensity"]["missing"] = missing
        raw["table1"] = [t for t in raw["table1"] if t["column"] != MISSING_COLUMN]
    return parse_spec(raw, str(path))


#: the missing-data variants blank these rows of this Lalonde column
MISSING_COLUMN, MISSING_ROWS = "re74", (3, 50, 120, 400, 401, 530)


def _worked_data(name: str, missing: str | None = None):
    """The bundled cohort typed by its schema, without the derived columns (R derives them
    from the spec's R text)."""
    from carts_iptw.study.cohort import read_table, validate_cohort
    from carts_iptw.study.spec import example_paths

    spec = _worked_spec(name, missing)
    sch = spec.schema()
    raw = read_table(example_paths(name)[1], sch.id_column)
    if missing:
        raw.loc[list(MISSING_ROWS), MISSING_COLUMN] = np.nan
    df = validate_cohort(raw, sch)
    return df.drop(columns=[d.name for d in sch.derived])


def _worked_args(name: str, missing: str | None = None) -> dict:
    return spec_args(_worked_spec(name, missing))


def spec_args(spec) -> dict:
    """The arguments of r_reference/worked_studies.R's ``ref_worked_study`` for a spec."""
    sch = spec.schema()
    t1 = spec.table1
    return {
        "treatment": spec.treatment,
        "estimand": spec.propensity.estimand,
        "ps_formula": f"{spec.treatment} ~ {' + '.join(spec.propensity.covariates)}",
        "derived": [{"name": d.name, "value": d.value} for d in sch.derived],
        "rules": [{"rule": s.rule, "applies_to": s.applies_to} for s in spec.eligibility.steps],
        "t1_continuous": [v.column for v in t1 if v.type == "continuous"],
        "t1_categorical": [v.column for v in t1 if v.type != "continuous"],
        "t1_binary": [v.column for v in t1 if v.type == "binary"],
        "continuous": {o.name: {"column": o.column, "adjust": list(spec.adjustment(o.adjust))}
                       for o in spec.outcomes if o.type == "continuous"},
        "binary": {o.name: {"definition": o.definition,
                            "adjust": list(spec.adjustment(o.adjust)),
                            **({"rare": o.rare} if o.rare is not None else {})}
                   for o in spec.outcomes if o.type == "binary"},
        "tte": {o.name: {"time": o.time, "event": o.event,
                         "adjust": list(spec.adjustment(o.adjust)),
                         **({"rare": o.rare} if o.rare is not None else {})}
                for o in spec.outcomes if o.type == "time_to_event"},
        "horizons": [float(h) for h in spec.horizons],
        "tau": float(spec.rmst_tau if spec.rmst_tau is not None else max(spec.horizons)),
        "subgroups": [_worked_subgroup(spec, sg) for sg in spec.subgroups],
        "missing": spec.propensity.missing,
        "model_columns": spec.model_columns(),
        # overlap weights balance every Table 1 variable of Rotterdam exactly (all weighted
        # SMDs ~1e-10): a quantity that cannot tell a right value from a wrong one is left out
        "skip": ["t1_smd_weighted"] if spec.propensity.estimand == "ATO" else [],
    }


def _worked_subgroup(spec, sg) -> dict:
    """A [[subgroups]] entry as R reads it: the formula on R's outcome column (``.o_<name>``
    for a binary outcome), the family, the propensity formula without the modifier."""
    o = next(x for x in spec.outcomes if x.name == sg.outcome)
    trt = spec.treatment
    adj = [a for a in spec.adjustment(o.adjust) if a not in (trt, sg.modifier)]
    col = f".o_{o.name}" if o.type == "binary" else o.column
    ps = [c for c in spec.propensity.covariates if c != sg.modifier]
    return {"modifier": sg.modifier, "weights": sg.weights,
            "formula": f"{col} ~ {' + '.join([trt, *adj])}",
            "family": "quasibinomial" if o.type == "binary" else "gaussian",
            "ps_formula": f"{trt} ~ {' + '.join(ps)}"}


def _worked_python(name: str, missing: str | None = None):
    def run(data: pd.DataFrame, args) -> dict:
        from carts_iptw.study.cohort import validate_cohort
        from carts_iptw.study.pipeline import _analyse

        spec = _worked_spec(name, missing)
        df = validate_cohort(data, spec)
        res, objs = _analyse(df, spec, lambda msg: None)
        return worked_quantities(res, objs["weightit"].weights, args, spec)

    run.__name__ = f"python_worked_{name}" + (f"_{missing}" if missing else "")
    return run


def worked_quantities(res: dict, weights, args, spec) -> dict:
    """The quantities ``ref_worked_study`` returns, from a study's results (``_analyse``'s dict
    or results.json read back); ``weights`` None leaves the per-row weights out."""
    c, t = spec.control_label, spec.treated_label
    out: dict = {
        "flow_remaining": np.array([r["remaining"] for r in res["flow"]], dtype=float),
        "flow_treated": np.array([r["treated"] for r in res["flow"]], dtype=float),
        "weights": None if weights is None else np.asarray(weights, dtype=float),
        "ess": _series({"control": res["propensity"][c]["ess"],
                        "treated": res["propensity"][t]["ess"]}),
        "smd_unweighted": _series({r["covariate"]: r["Diff.Un"]
                                   for r in res["balance"]["rows"]}),
        "smd_weighted": _series({r["covariate"]: r["Diff.Adj"]
                                 for r in res["balance"]["rows"]}),
    }
    p_unw, p_w, mc, mt, wc, wt, pc, pt = ({} for _ in range(8))
    su, sw = {}, {}
    for r in res["table1"]["rows"]:
        col = r.get("column")
        if "smd_unweighted" in r:
            key = col if r["kind"] != "n_pct" or col in args["t1_binary"] \
                else f"{col}_{r['level']}"
            su[key], sw[key] = r["smd_unweighted"], r["smd_weighted"]
        if r["kind"] == "median_iqr":
            p_unw[col], p_w[col] = r["p_unweighted"], r["p_weighted"]
            mc[col], mt[col] = r[f"{c}|unweighted"]["median"], r[f"{t}|unweighted"]["median"]
            wc[col], wt[col] = r[f"{c}|weighted"]["median"], r[f"{t}|weighted"]["median"]
        elif r["kind"] == "header" or (r["kind"] == "n_pct" and "p_unweighted" in r):
            p_unw[col], p_w[col] = r["p_unweighted"], r["p_weighted"]
        if r["kind"] == "n_pct":
            key = col if col in args["t1_binary"] else f"{col}_{r['level']}"
            pc[key], pt[key] = r[f"{c}|weighted"]["pct"], r[f"{t}|weighted"]["pct"]
    order = args["t1_continuous"] + args["t1_categorical"]
    out["t1_p_unweighted"] = _series({k: p_unw[k] for k in order})
    out["t1_p_weighted"] = _series({k: p_w[k] for k in order})
    # cobalt's order (continuous, then the others, each in the spec's order) and its
    # convention for a two-level factor (one row: the second level; the first level's SMD
    # is its negative)
    keys = []
    for v in order:
        lv = [k for k in su if k == v or k.startswith(f"{v}_")]
        keys += lv[1:] if len(lv) == 2 and v not in args["t1_binary"] else lv
    out["t1_smd_unweighted"] = _series({k: su[k] for k in keys})
    out["t1_smd_weighted"] = _series({k: sw[k] for k in keys})
    if args["t1_continuous"]:
        out["t1_median_control"], out["t1_median_treated"] = _series(mc), _series(mt)
        out["t1_wmedian_control"], out["t1_wmedian_treated"] = _series(wc), _series(wt)
    if pc:
        out["t1_wpct_control"], out["t1_wpct_treated"] = _series(pc), _series(pt)
    for o in res["continuous_outcomes"]:
        dd = o["difference"]
        out[f"cont_{o['name']}"] = _series({
            "mean_control": o[c]["mean"], "se_control": o[c]["se"],
            "mean_treated": o[t]["mean"], "se_treated": o[t]["se"],
            "estimate": dd["estimate"], "se": dd["se"], "lower": dd["lower"],
            "upper": dd["upper"], "p": dd["p"]})
    ors = {o["name"]: o for o in res["odds_ratios"]}
    for o in res["binary_outcomes"]:
        r = ors[o["name"]]
        out[f"bin_{o['name']}"] = _series({
            "rate_control": o[c]["rate_weighted"], "rate_treated": o[t]["rate_weighted"],
            "p_rate": o["p_weighted"], "or": r["or"], "lower": r["lower"],
            "upper": r["upper"], "p": r["p"]})
    cox = {x["name"]: x for x in res["cox"]}
    for o in res["survival"]:
        d = {"median_control": o[c]["median_median"], "median_treated": o[t]["median_median"]}
        for h in args["horizons"]:
            for lab, arm in (("control", c), ("treated", t)):
                d[f"surv_{h:g}_{lab}"] = o[arm]["at"][f"{h:g}"]["surv"]
        x = cox[o["name"]]
        d.update({"logrank_p": o["logrank_p"], "hr": x["hr"], "hr_lower": x["lower"],
                  "hr_upper": x["upper"], "hr_p": x["p"]})
        out[f"tte_{o['name']}"] = _series(d)
        out[f"surv_effects_{o['name']}"] = _series(_surv_effects_series(o, x, (c, t)))
    # issue 13: marginal effects, E-values, subgroups
    for o in res["binary_outcomes"]:
        out[f"effects_{o['name']}"] = _effects_series(ors[o["name"]])
    for i, sg in enumerate(res["subgroups"], start=1):
        d = {}
        for k, r in enumerate(sg["rows"], start=1):
            d.update({f"level{k}_{key}": r[key]
                      for key in ("estimate", "se", "lower", "upper", "p")})
        d["interaction_f"], d["interaction_p"] = sg["interaction_f"], sg["interaction_p"]
        out[f"subgroups_{i}"] = _series(d)
    for k in args["skip"]:
        out.pop(k)
    return {k: v for k, v in out.items() if v is not None}


def _worked_dataset(name: str, missing: str | None = None):
    def load() -> pd.DataFrame:
        return _worked_data(name, missing)

    load.__name__ = f"worked_{name}" + (f"_{missing}" if missing else "")
    return load


for _name, _what in (
        ("nhefs", "NHEFS (What If ch. 12): qsmk -> wt82_71, the book's PS model"),
        ("rotterdam", "Rotterdam: chemo -> relapse-free and overall survival (ATO)"),
        ("lalonde", "Lalonde: NSW training -> 1978 earnings and employment (ATT)")):
    register(ParityCase(
        name=f"study.worked.{_name}",
        function="run_study",
        r_twin="WeightIt + cobalt + survey + survival (r_reference/worked_studies.R)",
        dataset=_worked_dataset(_name),
        r_file="worked_studies.R",
        r_function="ref_worked_study",
        args=_worked_args(_name),
        python=_worked_python(_name),
        rtol=1e-6,
        exact=("flow_remaining", "flow_treated"),
        # overlap weights (Rotterdam's ATO) balance every model term exactly: the weighted SMDs
        # are zero up to rounding (|SMD| ~ 1e-9), where a relative tolerance has no meaning
        tolerances={"smd_weighted": (1e-6, 1e-8)} if _name == "rotterdam" else {},
        r_packages=("WeightIt", "cobalt", "survey", "survival", "marginaleffects", "insight"),
        description=f"the bundled worked study end to end: {_what}",
    ))


for _missing in ("complete", "indicator"):
    register(ParityCase(
        name=f"study.worked.lalonde.missing_{_missing}",
        function="run_study",
        r_twin="WeightIt (missing = 'ind') / complete cases + cobalt + survey "
               "(r_reference/worked_studies.R)",
        dataset=_worked_dataset("lalonde", _missing),
        r_file="worked_studies.R",
        r_function="ref_worked_study",
        args=_worked_args("lalonde", _missing),
        python=_worked_python("lalonde", _missing),
        rtol=1e-6,
        exact=("flow_remaining", "flow_treated"),
        r_packages=("WeightIt", "cobalt", "survey", "survival", "marginaleffects", "insight"),
        description=f"Lalonde with 1974 earnings missing for {len(MISSING_ROWS)} men, "
                    f"[propensity] missing = '{_missing}'",
    ))
