"""Parity cases for carts_iptw.survival against survival / survey.

Weights are data here: each fixture computes IPT weights once (logistic propensity score by
Newton-Raphson) and both sides read the same column ``w``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.parity.cases._fixtures import ate_weights, design_matrix
from carts_iptw.parity.registry import ParityCase, register

MONTH = 30.4375






def rotterdam_rfs() -> pd.DataFrame:
    """survival's rotterdam with relapse-free survival, the help page's conservative definition:
    deaths without recurrence after the last recurrence follow-up are censored at rtime."""
    from carts_iptw.datasets import load_dataset

    d = load_dataset("rotterdam").copy()
    ignore = (d["recur"] == 0) & (d["death"] == 1) & (d["rtime"] < d["dtime"])
    use_r = (d["recur"] == 1) | ignore
    d["rfs"] = np.where(use_r, d["recur"], d["death"]).astype(int)
    d["rfstime"] = np.where(use_r, d["rtime"], d["dtime"]).astype(float)
    d["rfsmonth"] = np.ceil(d["rfstime"] / MONTH)
    d["dmonth"] = np.ceil(d["dtime"] / MONTH)
    d["chemo"] = d["chemo"].astype(int)
    # competing risks: 1 = recurrence, 2 = death without recurrence, 0 = censored
    d["rfs_cr"] = np.where(d["rfs"] == 0, 0, np.where(d["recur"] == 1, 1, 2)).astype(int)
    cov = ["age", "meno", "size", "grade", "nodes", "pgr", "er", "hormon"]
    d["w"] = ate_weights(d["chemo"].to_numpy(float), design_matrix(d, cov))
    return d


def colon_recurrence() -> pd.DataFrame:
    """colon, one row per patient: recurrence (etype 2); treatment Lev+5FU vs observation."""
    from carts_iptw.datasets import load_dataset

    d = load_dataset("colon")
    d = d[(d["etype"] == 2)].dropna(subset=["nodes", "differ"]).copy()
    d = d[d["rx"] != "Lev"].copy()
    d["lev5fu"] = (d["rx"] == "Lev+5FU").astype(int)
    d["rx"] = d["rx"].cat.remove_unused_categories()
    cov = ["sex", "age", "obstruct", "perfor", "adhere", "nodes", "differ", "extent", "surg"]
    d["w"] = ate_weights(d["lev5fu"].to_numpy(float), design_matrix(d, cov))
    d["tmonth"] = np.ceil(d["time"] / MONTH)
    return d.reset_index(drop=True)


def colon_death() -> pd.DataFrame:
    from carts_iptw.datasets import load_dataset

    d = load_dataset("colon")
    d = d[(d["etype"] == 1)].dropna(subset=["nodes"]).copy()
    d["lev5fu"] = (d["rx"] == "Lev+5FU").astype(int)
    return d.reset_index(drop=True)


def lung_complete() -> pd.DataFrame:
    from carts_iptw.datasets import load_dataset

    d = load_dataset("lung").dropna(subset=["inst", "ph.ecog", "ph.karno", "wt.loss"]).copy()
    d["female"] = (d["sex"] == 2).astype(int)
    d["w"] = ate_weights(d["female"].to_numpy(float), design_matrix(d, ["age", "ph.ecog", "ph.karno", "wt.loss"]))
    return d.reset_index(drop=True)


def lung_split() -> pd.DataFrame:
    """lung in counting-process form: follow-up split at day 180 (same subjects, two rows)."""
    d = lung_complete()
    d["id"] = np.arange(1, len(d) + 1)
    d["event"] = (d["status"] == 2).astype(int)
    late = d["time"] > 180
    a = d.copy()
    a["tstart"] = 0.0
    a["tstop"] = np.where(late, 180.0, d["time"])
    a["event"] = np.where(late, 0, d["event"])
    b = d[late].copy()
    b["tstart"] = 180.0
    b["tstop"] = b["time"]
    out = pd.concat([a, b]).sort_values(["id", "tstart"], kind="stable")
    return out.reset_index(drop=True)


def cart_survival() -> pd.DataFrame:
    from carts_iptw.study.synthetic import load_synthetic_cohort

    d = load_synthetic_cohort()
    keep = ["age", "histology", "ldh_elevated", "prior_hct", "lines_ge3", "kps_le70",
            "construct_41bb", "cns_or_extranodal", "status_sdpd", "anakinra", "efs_months",
            "efs_event", "os_months", "os_event", "infection_grade", "infection_onset_day"]
    d = d[keep].copy()
    cov = keep[:9]
    d["w"] = ate_weights(d["anakinra"].to_numpy(float), design_matrix(d, cov))
    # grade >= 3 infection with death as a competing event (months)
    inf_m = d["infection_onset_day"].to_numpy(float) / MONTH
    g3 = (d["infection_grade"].to_numpy() >= 3) & np.isfinite(inf_m) & (inf_m <= d["os_months"].to_numpy())
    d["inf_months"] = np.where(g3, inf_m, d["os_months"])
    d["inf_cr"] = np.where(g3, 1, np.where(d["os_event"] == 1, 2, 0)).astype(int)
    d = d.drop(columns=["infection_onset_day"])
    return d.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# coxph
# ---------------------------------------------------------------------------------------------
def _py_coxph(data, args):
    from carts_iptw.survival.coxph import CoxControl, coxph

    ctrl = CoxControl(eps=args.get("eps", 1e-9), iter_max=args.get("iter_max", 20))
    f = coxph(args["formula"], data, weights=args.get("weights"), ties=args.get("ties", "efron"),
              robust=args.get("robust"), cluster=args.get("cluster"), control=ctrl)
    ci = f.confint()
    out = {"coef": f.coef, "se": f.se, "naive_se": f.naive_se,
           "var": f.var.to_numpy().ravel(order="F"),
           "lower": np.exp(ci.iloc[:, 0]), "upper": np.exp(ci.iloc[:, 1]),
           "loglik": np.array(f.loglik), "n": f.n, "nevent": f.nevent, "iter": f.iter,
           "concordance": f.concordance}
    for k in ("logtest", "sctest", "waldtest", "robscore"):
        if k in f.tests:
            out[k] = np.array([f.tests[k]["test"], f.tests[k]["pvalue"]])
    return out


_COX = [
    # (name, dataset, formula, weights, ties, extra)
    ("rotterdam.rfs.uni", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo", None, "efron", {}),
    ("rotterdam.rfs.uni.breslow", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo", None, "breslow", {}),
    ("rotterdam.rfs.multi", rotterdam_rfs,
     "Surv(rfstime, rfs) ~ chemo + age + meno + size + factor(grade) + nodes + pgr + er + hormon",
     None, "efron", {}),
    ("rotterdam.rfs.iptw", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo", "w", "efron", {}),
    ("rotterdam.rfs.iptw.breslow", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo", "w", "breslow", {}),
    ("rotterdam.rfs.iptw.multi", rotterdam_rfs,
     "Surv(rfstime, rfs) ~ chemo + age + size + nodes + er", "w", "efron", {}),
    ("rotterdam.rfs.iptw.month_ties", rotterdam_rfs, "Surv(rfsmonth, rfs) ~ chemo + hormon", "w",
     "efron", {}),
    ("rotterdam.rfs.iptw.month_ties.breslow", rotterdam_rfs, "Surv(rfsmonth, rfs) ~ chemo + hormon",
     "w", "breslow", {}),
    ("rotterdam.os.iptw.strata", rotterdam_rfs, "Surv(dtime, death) ~ chemo + strata(meno)", "w",
     "efron", {}),
    ("rotterdam.os.month_ties.strata", rotterdam_rfs,
     "Surv(dmonth, death) ~ chemo + age + strata(size, hormon)", None, "efron", {}),
    ("rotterdam.rfs.iptw.naive", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo", "w", "efron",
     {"robust": False}),
    ("colon.recurrence.uni", colon_recurrence, "Surv(time, status) ~ rx", None, "efron", {}),
    ("colon.recurrence.iptw", colon_recurrence, "Surv(time, status) ~ rx", "w", "efron", {}),
    ("colon.recurrence.iptw.month_ties", colon_recurrence,
     "Surv(tmonth, status) ~ rx + sex + age + nodes", "w", "breslow", {}),
    ("colon.death.multi", colon_death, "Surv(time, status) ~ rx + sex + age + nodes + factor(extent)",
     None, "efron", {}),
    ("colon.death.robust", colon_death, "Surv(time, status) ~ rx + nodes", None, "efron",
     {"robust": True}),
    ("lung.multi", lung_complete, "Surv(time, status) ~ age + sex + ph.ecog + wt.loss", None, "efron", {}),
    ("lung.iptw", lung_complete, "Surv(time, status) ~ female", "w", "efron", {}),
    ("lung.iptw.breslow.strata", lung_complete, "Surv(time, status) ~ female + age + strata(ph.ecog)",
     "w", "breslow", {}),
    ("lung.cluster", lung_complete, "Surv(time, status) ~ age + sex + cluster(inst)", None, "efron", {}),
    ("lung.split.iptw", lung_split, "Surv(tstart, tstop, event) ~ female + age", "w", "efron", {}),
    ("lung.split.iptw.cluster", lung_split, "Surv(tstart, tstop, event) ~ female + age + cluster(id)",
     "w", "efron", {}),
    ("lung.split.breslow.strata", lung_split, "Surv(tstart, tstop, event) ~ age + ph.ecog + strata(sex)",
     None, "breslow", {}),
    # ties = "exact" (coxexact.fit: unweighted, right-censored)
    ("lung.multi.exact", lung_complete, "Surv(time, status) ~ age + sex + ph.ecog + wt.loss", None,
     "exact", {}),
    ("rotterdam.rfs.month_ties.exact", rotterdam_rfs,
     "Surv(rfsmonth, rfs) ~ chemo + hormon + age + factor(grade)", None, "exact", {}),
    ("colon.recurrence.month_ties.exact.strata", colon_recurrence,
     "Surv(tmonth, status) ~ rx + age + nodes + strata(sex)", None, "exact", {}),
    ("cart.efs.iptw", cart_survival, "Surv(efs_months, efs_event) ~ anakinra", "w", "efron", {}),
    ("cart.os.iptw", cart_survival, "Surv(os_months, os_event) ~ anakinra", "w", "efron", {}),
    ("cart.efs.multi", cart_survival,
     "Surv(efs_months, efs_event) ~ anakinra + age + ldh_elevated + kps_le70 + status_sdpd", None,
     "efron", {}),
]

for _name, _ds, _f, _w, _ties, _extra in _COX:
    for _tight in (False, True):
        _args = {"formula": _f, "ties": _ties, **_extra}
        if _w:
            _args["weights"] = _w
        if _tight:
            _args.update({"eps": 1e-12, "iter_max": 50})
        register(ParityCase(
            name=f"coxph.{_name}" + (".tight" if _tight else ""), function="coxph",
            r_twin="survival::coxph", dataset=_ds, r_file="survival.R", r_function="ref_coxph",
            args=_args, python=_py_coxph, exact=("n", "nevent") + (() if _tight else ("iter",)),
            rtol=1e-9 if _tight else 1e-6, r_packages=("survival",),
            description=("tight convergence (eps 1e-12): the math" if _tight else
                         "R's defaults: what an R user sees, iterations replayed"),
        ))


# ---------------------------------------------------------------------------------------------
# survfit (Kaplan-Meier)
# ---------------------------------------------------------------------------------------------
def _py_survfit(data, args):
    from carts_iptw.survival.survfit import survfit

    f = survfit(args["formula"], data, weights=args.get("weights"),
                conf_type=args.get("conf_type", "log"), robust=args.get("robust"),
                id=args.get("id"), cluster=args.get("cluster"))
    return km_quantities(f, args)


def km_quantities(f, args) -> dict:
    """A KM fit's table, medians and (with ``times``) ``at_times``: ``ref_survfit``'s keys."""
    t = f.table
    out = {"strata": list(t["strata"]), "time": t["time"].to_numpy(), "n_risk": t["n_risk"].to_numpy(),
           "n_event": t["n_event"].to_numpy(), "n_censor": t["n_censor"].to_numpy(),
           "surv": t["surv"].to_numpy(), "std_err": t["std_err"].to_numpy(),
           "lower": t["lower"].to_numpy(), "upper": t["upper"].to_numpy()}
    m = f.median()
    out.update({"median": m["median"].to_numpy(), "median_lower": m["lower"].to_numpy(),
                "median_upper": m["upper"].to_numpy()})
    if "times" in args:
        a = f.at_times(args["times"])
        out.update({"at_time": a["time"].to_numpy(), "at_n_risk": a["n_risk"].to_numpy(),
                    "at_n_event": a["n_event"].to_numpy(), "at_surv": a["surv"].to_numpy(),
                    "at_std_err": a["std_err"].to_numpy(), "at_lower": a["lower"].to_numpy(),
                    "at_upper": a["upper"].to_numpy()})
    return out


_KM = [
    ("rotterdam.rfs", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo", None, "log", {"times": [365.25, 1826.25]}),
    ("rotterdam.rfs.iptw", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo", "w", "log", {"times": [365.25, 1826.25]}),
    ("rotterdam.rfs.iptw.loglog", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo", "w", "log-log", {}),
    ("rotterdam.rfs.iptw.plain", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo", "w", "plain", {}),
    ("rotterdam.rfs.iptw.greenwood", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo", "w", "log",
     {"robust": False}),
    ("rotterdam.os.month_ties.iptw", rotterdam_rfs, "Surv(dmonth, death) ~ chemo", "w", "log",
     {"times": [12, 60, 120]}),
    ("rotterdam.os.month_ties", rotterdam_rfs, "Surv(dmonth, death) ~ chemo + hormon", None, "log-log", {}),
    ("colon.recurrence.iptw", colon_recurrence, "Surv(time, status) ~ rx", "w", "log", {}),
    ("colon.recurrence", colon_recurrence, "Surv(time, status) ~ rx", None, "plain", {}),
    ("lung.all", lung_complete, "Surv(time, status) ~ 1", None, "log", {"times": [180, 365]}),
    ("lung.sex.iptw", lung_complete, "Surv(time, status) ~ sex", "w", "log", {}),
    ("lung.ecog.strata_sex", lung_complete, "Surv(time, status) ~ ph.ecog + strata(sex)", None,
     "log", {}),
    ("cart.efs.iptw", cart_survival, "Surv(efs_months, efs_event) ~ anakinra", "w", "log", {"times": [6, 12]}),
    ("cart.os.iptw", cart_survival, "Surv(os_months, os_event) ~ anakinra", "w", "log-log", {"times": [12]}),
    ("cart.os", cart_survival, "Surv(os_months, os_event) ~ anakinra", None, "log", {"times": [12]}),
    # (start, stop] data; id / cluster grouping of the robust (IJ) variance
    ("lung.split.iptw.id", lung_split, "Surv(tstart, tstop, event) ~ sex", "w", "log",
     {"id": "id", "times": [180, 365]}),
    ("lung.split.id", lung_split, "Surv(tstart, tstop, event) ~ sex", None, "log-log", {"id": "id"}),
    ("lung.split.iptw.rows", lung_split, "Surv(tstart, tstop, event) ~ 1", "w", "log", {}),
    ("lung.split.id.robust", lung_split, "Surv(tstart, tstop, event) ~ 1", None, "plain",
     {"id": "id", "robust": True, "times": [100, 500]}),
    ("lung.iptw.cluster_inst", lung_complete, "Surv(time, status) ~ sex", "w", "log",
     {"cluster": "inst"}),
]

for _name, _ds, _f, _w, _ct, _extra in _KM:
    _args = {"formula": _f, "conf_type": _ct, **_extra}
    if _w:
        _args["weights"] = _w
    register(ParityCase(
        name=f"survfit.{_name}", function="survfit", r_twin="survival::survfit",
        dataset=_ds, r_file="survival.R", r_function="ref_survfit", args=_args,
        python=_py_survfit, exact=("time", "at_time", "strata") + (() if _w else (
            "n_risk", "n_event", "n_censor", "at_n_risk", "at_n_event")),
        r_packages=("survival",),
        description="Kaplan-Meier table row by row, medians with CI" + (
            ", robust IJ variance (non-integer weights)" if _w and "robust" not in _extra else ""),
    ))


# ---------------------------------------------------------------------------------------------
# survdiff, svylogrank, svycoxph, svykm
# ---------------------------------------------------------------------------------------------
def _py_survdiff(data, args):
    from carts_iptw.survival.logrank import survdiff

    s = survdiff(args["formula"], data)
    return {"chisq": s.chisq, "df": s.df, "pvalue": s.p_value, "obs": s.obs, "exp": s.exp,
            "var": s.var.ravel(order="F"), "n": s.n}


for _name, _ds, _f in (
    ("rotterdam.rfs", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo"),
    ("rotterdam.os.month_ties.strata", rotterdam_rfs, "Surv(dmonth, death) ~ chemo + strata(meno)"),
    ("colon.recurrence.3arm", colon_death, "Surv(time, status) ~ rx"),
    ("lung.sex", lung_complete, "Surv(time, status) ~ sex"),
    ("cart.efs", cart_survival, "Surv(efs_months, efs_event) ~ anakinra"),
):
    register(ParityCase(
        name=f"survdiff.{_name}", function="survdiff", r_twin="survival::survdiff",
        dataset=_ds, r_file="survival.R", r_function="ref_survdiff", args={"formula": _f},
        python=_py_survdiff, exact=("df", "n", "obs"), r_packages=("survival",),
        description="unweighted log-rank (rho = 0)",
    ))


def _design(data, args):
    from carts_iptw.design.svydesign import svydesign

    return svydesign(data, weights=args["weights"], ids=args.get("ids"))


def _py_svylogrank(data, args):
    from carts_iptw.survival.logrank import svylogrank

    r = svylogrank(args["formula"], _design(data, args), method=args["method"])
    if args["method"] == "score":
        return {"score": r.z, "chisq": r.statistic, "pvalue": r.p_value}
    return {"z": r.z, "score": r.score, "se": r.se, "chisq": r.statistic, "pvalue": r.p_value}


for _name, _ds, _f in (
    ("rotterdam.rfs.iptw", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo"),
    ("rotterdam.rfs.iptw.month_ties", rotterdam_rfs, "Surv(rfsmonth, rfs) ~ chemo"),
    ("lung.iptw", lung_complete, "Surv(time, status) ~ female"),
    ("cart.efs.iptw", cart_survival, "Surv(efs_months, efs_event) ~ anakinra"),
    ("cart.os.iptw", cart_survival, "Surv(os_months, os_event) ~ anakinra"),
):
    for _m in ("small", "large", "score"):
        register(ParityCase(
            name=f"svylogrank.{_m}.{_name}", function="svylogrank", r_twin="survey::svylogrank",
            dataset=_ds, r_file="survival.R", r_function="ref_svylogrank",
            args={"formula": _f, "weights": "w", "method": _m}, python=_py_svylogrank,
            r_packages=("survival", "survey"),
            description="design-based (IPT-weighted) log-rank test",
        ))


def _py_svycoxph(data, args):
    from carts_iptw.survival.survey import svycoxph

    f = svycoxph(args["formula"], _design(data, args), ties=args.get("ties", "efron"))
    return {"coef": f.coef, "se": f.se, "loglik": np.array(f.loglik),
            "wald": f.tests["waldtest"]["test"]}


for _name, _ds, _f in (
    ("rotterdam.rfs.iptw", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo"),
    ("rotterdam.rfs.iptw.multi", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo + age + size + nodes"),
    ("colon.recurrence.iptw", colon_recurrence, "Surv(time, status) ~ rx"),
    ("lung.iptw.strata", lung_complete, "Surv(time, status) ~ female + strata(ph.ecog)"),
    ("cart.efs.iptw", cart_survival, "Surv(efs_months, efs_event) ~ anakinra"),
    ("cart.os.iptw", cart_survival, "Surv(os_months, os_event) ~ anakinra"),
):
    register(ParityCase(
        name=f"svycoxph.{_name}", function="svycoxph", r_twin="survey::svycoxph",
        dataset=_ds, r_file="survival.R", r_function="ref_svycoxph",
        args={"formula": _f, "weights": "w"}, python=_py_svycoxph,
        r_packages=("survival", "survey"),
        description="IPT-weighted Cox model with design-based variance",
    ))


def _py_svykm(data, args):
    from carts_iptw.survival.survey import svykm

    km = svykm(args["formula"], _design(data, args), se=args.get("se", True))
    if isinstance(km, dict):
        out = {}
        for g, k in km.items():
            out[f"time.{g}"] = k.time
            out[f"surv.{g}"] = k.surv
            if k.varlog is not None:
                out[f"var.{g}"] = k.varlog
        return out
    out = {"time": km.time, "surv": km.surv}
    if km.varlog is not None:
        out["var"] = km.varlog
    return out


for _name, _ds, _f in (
    ("lung.iptw", lung_complete, "Surv(time, status) ~ female"),
    ("cart.efs.iptw", cart_survival, "Surv(efs_months, efs_event) ~ anakinra"),
    ("cart.os.iptw.all", cart_survival, "Surv(os_months, os_event) ~ 1"),
    ("colon.recurrence.iptw.month_ties", colon_recurrence, "Surv(tmonth, status) ~ lev5fu"),
    ("rotterdam.rfs.iptw.no_se", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo"),
    ("cart.os.iptw.no_se", cart_survival, "Surv(os_months, os_event) ~ 1"),
):
    _se = not _name.endswith("no_se")
    register(ParityCase(
        name=f"svykm.{_name}", function="svykm", r_twin=f"survey::svykm(se = {str(_se).upper()})",
        dataset=_ds, r_file="survival.R", r_function="ref_svykm",
        args={"formula": _f, "weights": "w", "se": _se}, python=_py_svykm, exact=("time",),
        r_packages=("survival", "survey"),
        description="design-based survival curve with variance of log S",
    ))


# ---------------------------------------------------------------------------------------------
# cox.zph
# ---------------------------------------------------------------------------------------------
def _py_coxzph(data, args):
    from carts_iptw.survival.coxph import CoxControl, coxph
    from carts_iptw.survival.zph import cox_zph

    ctrl = CoxControl(eps=args.get("eps", 1e-9), iter_max=args.get("iter_max", 20))
    f = coxph(args["formula"], data, weights=args.get("weights"), ties=args.get("ties", "efron"),
              control=ctrl)
    z = cox_zph(f, transform=args.get("transform", "km"))
    t = z.table
    return {"chisq": t["chisq"], "df": t["df"], "p": t["p"]}


for _name, _ds, _f, _w, _extra in (
    ("rotterdam.rfs.multi", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo + age + size + nodes + er", None, {}),
    ("rotterdam.rfs.iptw", rotterdam_rfs, "Surv(rfstime, rfs) ~ chemo", "w", {}),
    ("rotterdam.rfs.iptw.month_ties.breslow", rotterdam_rfs, "Surv(rfsmonth, rfs) ~ chemo + hormon",
     "w", {"ties": "breslow"}),
    ("colon.recurrence.identity", colon_recurrence, "Surv(time, status) ~ rx + nodes + age", None,
     {"transform": "identity"}),
    ("lung.strata.log", lung_complete, "Surv(time, status) ~ age + sex + strata(ph.ecog)", None,
     {"transform": "log"}),
    ("lung.rank", lung_complete, "Surv(time, status) ~ age + sex + wt.loss", None, {"transform": "rank"}),
    ("cart.efs.iptw", cart_survival, "Surv(efs_months, efs_event) ~ anakinra", "w", {}),
):
    _args = {"formula": _f, **_extra}
    if _w:
        _args["weights"] = _w
    register(ParityCase(
        name=f"cox_zph.{_name}", function="cox_zph", r_twin="survival::cox.zph",
        dataset=_ds, r_file="survival.R", r_function="ref_coxzph", args=_args,
        python=_py_coxzph, exact=("df",), r_packages=("survival",),
        description="proportional-hazards score test per term and global",
    ))


# ---------------------------------------------------------------------------------------------
# competing risks: Aalen-Johansen (survfit with a factor status) and Fine-Gray
# ---------------------------------------------------------------------------------------------
def _ms_factor(data, args):
    labels = ["censor"] + list(args["states"])
    return pd.Categorical.from_codes(data[args["status"]].to_numpy(int), categories=labels)


def _py_survfit_ms(data, args):
    from carts_iptw.survival.survfit import survfit

    data = data.copy()
    data[".ms"] = _ms_factor(data, args)
    f = survfit(args["formula"], data, weights=args.get("weights"))
    t = f.table
    s0 = t[t["state"] == "(s0)"]
    out = {"strata": list(s0["strata"]), "time": s0["time"].to_numpy(),
           "n_risk": s0["n_risk"].to_numpy()}
    for st in args["states"]:
        ts = t[t["state"] == st]
        out[f"pstate.{st}"] = ts["pstate"].to_numpy()
        out[f"std_err.{st}"] = ts["std_err"].to_numpy()
    return out


for _name, _ds, _f, _st, _states, _w in (
    ("rotterdam.rfs_cr", rotterdam_rfs, "Surv(rfstime, .ms) ~ chemo", "rfs_cr", ["recurrence", "death"], None),
    ("rotterdam.rfs_cr.iptw", rotterdam_rfs, "Surv(rfstime, .ms) ~ chemo", "rfs_cr", ["recurrence", "death"], "w"),
    ("rotterdam.rfs_cr.month_ties.iptw", rotterdam_rfs, "Surv(rfsmonth, .ms) ~ 1", "rfs_cr",
     ["recurrence", "death"], "w"),
    ("cart.infection.iptw", cart_survival, "Surv(inf_months, .ms) ~ anakinra", "inf_cr",
     ["infection", "death"], "w"),
):
    _args = {"formula": _f, "status": _st, "states": _states}
    if _w:
        _args["weights"] = _w
    register(ParityCase(
        name=f"survfit_ms.{_name}", function="survfit", r_twin="survival::survfit (multi-state)",
        dataset=_ds, r_file="survival.R", r_function="ref_survfit_ms", args=_args,
        python=_py_survfit_ms, exact=("time", "strata", "n_risk"),
        r_packages=("survival",),
        description="weighted Aalen-Johansen cumulative incidence with IJ standard errors",
    ))


def _py_finegray(data, args):
    from carts_iptw.survival.competing import finegray_coxph, finegray_data
    from carts_iptw.survival.coxph import CoxControl

    data = data.copy()
    data[".ms"] = _ms_factor(data, args)
    ctrl = CoxControl(eps=args.get("eps", 1e-9), iter_max=args.get("iter_max", 20))
    f = finegray_coxph(args["py_formula"], data, etype=args["etype"], weights=args.get("weights"),
                       control=ctrl, cluster="id" if args.get("cluster_id") else "row")
    k = list(args["states"]).index(args["etype"]) + 1
    cw = None if args.get("weights") is None else data[args["weights"]].to_numpy(float)
    tv = data[args["time"]].to_numpy(float)
    fg = finegray_data(tv, data[args["status"]].to_numpy(int), k, cw)
    return {"coef": f.coef, "se": f.se, "naive_se": f.naive_se, "loglik": np.array(f.loglik),
            "nrow": len(fg), "sum_fgwt": float(fg["fgwt"].sum())}


for _name, _ds, _t, _st, _states, _x, _w, _cid in (
    ("rotterdam.recurrence", rotterdam_rfs, "rfstime", "rfs_cr", ["recurrence", "death"], "chemo", None, False),
    ("rotterdam.recurrence.iptw", rotterdam_rfs, "rfstime", "rfs_cr", ["recurrence", "death"], "chemo", "w", False),
    ("rotterdam.recurrence.iptw.cluster_id", rotterdam_rfs, "rfstime", "rfs_cr", ["recurrence", "death"],
     "chemo + age + nodes", "w", True),
    ("rotterdam.death.month_ties", rotterdam_rfs, "rfsmonth", "rfs_cr", ["recurrence", "death"], "chemo", None, False),
    ("cart.infection.iptw", cart_survival, "inf_months", "inf_cr", ["infection", "death"], "anakinra", "w", True),
):
    _et = "death" if "death." in _name else _states[0]
    _args = {"status": _st, "states": _states, "etype": _et, "time": _t,
             "fg_formula": f"Surv({_t}, .ms) ~ .",
             "formula": f"Surv(fgstart, fgstop, fgstatus) ~ {_x}",
             "py_formula": f"Surv({_t}, .ms) ~ {_x}", "cluster_id": _cid}
    if _w:
        _args["weights"] = _w
    register(ParityCase(
        name=f"finegray.{_name}", function="finegray_coxph",
        r_twin="survival::finegray + coxph(weights = fgwt)", dataset=_ds, r_file="survival.R",
        r_function="ref_finegray", args=_args, python=_py_finegray, exact=("nrow",),
        r_packages=("survival",),
        description="Fine-Gray subdistribution hazard ratio (weighted)",
    ))


# cluster-sampling designs (PSU = institution): the general svyrecvar path
for _fn, _rf, _py, _f in (
    ("svycoxph", "ref_svycoxph", _py_svycoxph, "Surv(time, status) ~ female + age"),
    ("svykm", "ref_svykm", _py_svykm, "Surv(time, status) ~ female"),
    ("svylogrank", "ref_svylogrank", _py_svylogrank, "Surv(time, status) ~ female"),
):
    _a = {"formula": _f, "weights": "w", "ids": "inst"}
    if _fn == "svylogrank":
        _a["method"] = "small"
    register(ParityCase(
        name=f"{_fn}.lung.iptw.cluster_inst", function=_fn, r_twin=f"survey::{_fn}",
        dataset=lung_complete, r_file="survival.R", r_function=_rf, args=_a, python=_py,
        exact=("time",) if _fn == "svykm" else (), r_packages=("survival", "survey"),
        description="cluster design (ids = ~inst): PSU totals in the design variance",
    ))
