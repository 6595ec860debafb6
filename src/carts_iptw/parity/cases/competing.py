"""Parity cases for competing risks as an R user writes them (r_reference/competing.R).

* ``finegray`` (the expanded data) against ``survival::finegray``: row counts exact, every
  column at 1e-6; with ``strata()`` + ``weights`` survival 3.5-3 multiplies ``fgwt`` by the
  weights of the wrong rows (within-stratum row numbers index the whole data), so that case's
  R side multiplies the unweighted ``finegray()`` data by each subject's own weight.
* ``survfit`` with a factor status and ``id=`` (Aalen-Johansen, one row per subject) against
  ``survival::survfit(Surv(time, status) ~ g, id = id)``: pstate, std.err, lower, upper,
  n.risk, n.event, n.censor, summary(fit, times).
* ``finegray_coxph`` (unweighted, ``ties = "breslow"``) against the real **cmprsk::crr**, on
  data without event/censoring ties, where the two agree by construction (coefficients only;
  see :func:`carts_iptw.survival.competing.finegray_coxph` for where and why they differ).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.parity.cases.survival import cart_survival, rotterdam_rfs
from carts_iptw.parity.registry import ParityCase, register


def _untie_censoring(d: pd.DataFrame, time: str, status: str) -> pd.Series:
    """``time`` with each censoring time that equals an event time moved half a unit later
    (no event/censoring ties: where finegray's and crr's censoring curves agree)."""
    t = d[time].to_numpy(float)
    s = d[status].to_numpy()
    tied = (s == 0) & np.isin(t, t[s > 0])
    return pd.Series(np.where(tied, t + 0.5, t), index=d.index)


def rotterdam_cr() -> pd.DataFrame:
    """rotterdam, relapse-free survival as competing risks: ``event`` a Categorical
    (censor / recurrence / death without recurrence); ``ryear`` = follow-up in whole years
    (many ties); ``rfstime_nt`` = days with event/censoring ties broken."""
    d = rotterdam_rfs()
    d["event"] = pd.Categorical.from_codes(d["rfs_cr"].to_numpy(),
                                           categories=["censor", "recurrence", "death"])
    d["ryear"] = np.ceil(d["rfstime"] / 365.25)
    d["rfstime_nt"] = _untie_censoring(d, "rfstime", "rfs_cr")
    return d[["pid", "chemo", "age", "nodes", "grade", "meno", "hormon", "w", "rfstime",
              "rfsmonth", "ryear", "rfstime_nt", "event"]]


def rotterdam_cr_sub4() -> pd.DataFrame:
    """Every 4th patient of :func:`rotterdam_cr` (pid divisible by 4): small snapshots."""
    d = rotterdam_cr()
    return d[d["pid"] % 4 == 0].reset_index(drop=True)


def rotterdam_cr_sub3() -> pd.DataFrame:
    d = rotterdam_cr()
    return d[d["pid"] % 3 == 0].reset_index(drop=True)


def rotterdam_cr_sub6() -> pd.DataFrame:
    d = rotterdam_cr()
    return d[d["pid"] % 6 == 0].reset_index(drop=True)


def cart_cr() -> pd.DataFrame:
    """Synthetic CAR T cohort: grade >= 3 infection with death as a competing event
    (``event`` Categorical censor / infection / death; months)."""
    d = cart_survival()
    d["id"] = np.arange(1, len(d) + 1)
    d["event"] = pd.Categorical.from_codes(d["inf_cr"].to_numpy(),
                                           categories=["censor", "infection", "death"])
    d["inf_months_nt"] = _untie_censoring(d, "inf_months", "inf_cr")
    return d[["id", "anakinra", "age", "histology", "w", "inf_months", "inf_months_nt", "event"]]


# ---------------------------------------------------------------------------------------------
# finegray(): the expanded data set
# ---------------------------------------------------------------------------------------------
def _py_finegray_expand(data, args):
    from carts_iptw.survival.competing import finegray

    fg = finegray(args["formula"], data, etype=args.get("etype"), weights=args.get("weights"))
    out = {"nrow": len(fg), "columns": list(fg.columns)}
    for c in fg.columns:
        v = fg[c]
        out[f"col.{c}"] = (list(v.astype(str)) if isinstance(v.dtype, pd.CategoricalDtype)
                           else v.to_numpy(float))
    return out


_FG = (
    ("rotterdam.recurrence", rotterdam_cr_sub4, "ref_finegray_expand",
     {"formula": "Surv(rfstime, event) ~ pid + chemo", "etype": "recurrence"},
     "daily times, every 4th patient"),
    ("rotterdam.death.month_ties.iptw", rotterdam_cr_sub6, "ref_finegray_expand",
     {"formula": "Surv(rfsmonth, event) ~ pid", "etype": "death", "weights": "w"},
     "monthly times (ties), IPT weights multiply fgwt, every 6th patient"),
    ("rotterdam.year_ties.strata", rotterdam_cr_sub3, "ref_finegray_expand",
     {"formula": "Surv(ryear, event) ~ pid + grade + strata(meno, hormon)"},
     "yearly times (heavy ties), censoring curve within strata, default etype (first state)"),
    ("rotterdam.year_ties.strata.iptw", rotterdam_cr_sub6, "ref_finegray_expand_strata_w",
     {"formula": "Surv(ryear, event) ~ pid + strata(meno)", "etype": "death", "weights": "w",
      "id": "pid"},
     "strata + weights: R side = unweighted finegray() x each subject's weight (survival "
     "3.5-3 gives strata after the first the weights of other rows)"),
    ("cart.death.iptw.dot", cart_cr, "ref_finegray_expand",
     {"formula": "Surv(inf_months, event) ~ .", "etype": "death", "weights": "w"},
     "'~ .' carries every other column (a factor included), IPT weights"),
    ("cart.infection", cart_cr, "ref_finegray_expand",
     {"formula": "Surv(inf_months, event) ~ id + anakinra + histology + age"},
     "continuous times, default etype"),
)

for _name, _ds, _rf, _args, _desc in _FG:
    register(ParityCase(
        name=f"finegray.data.{_name}", function="finegray", r_twin="survival::finegray",
        dataset=_ds, r_file="competing.R", r_function=_rf, args=_args,
        python=_py_finegray_expand, exact=("nrow", "columns", "col.fgstatus"),
        r_packages=("survival",),
        description=f"the expanded Fine-Gray data, every column: {_desc}",
    ))


# ---------------------------------------------------------------------------------------------
# survfit() with a factor status and id = (Aalen-Johansen)
# ---------------------------------------------------------------------------------------------
def _py_survfit_ms_id(data, args):
    from carts_iptw.survival.survfit import survfit

    f = survfit(args["formula"], data, weights=args.get("weights"), id=args["id"],
                conf_type=args.get("conf_type", "log"))
    t = f.table
    s0 = t[t["state"] == "(s0)"]
    out = {"states": list(f.states), "strata": list(s0["strata"]), "time": s0["time"].to_numpy(),
           "n_risk": s0["n_risk"].to_numpy(), "n_censor": s0["n_censor"].to_numpy()}
    for st in f.states:
        k = "s0" if st == "(s0)" else st
        ts = t[t["state"] == st]
        for q in ("pstate", "std_err", "lower", "upper"):
            out[f"{q}.{k}"] = ts[q].to_numpy()
        if st != "(s0)":
            out[f"n_event.{k}"] = ts["n_event"].to_numpy()
    if "times" in args:
        at = {st: f.at_times(args["times"], st) for st in f.states}
        out["at_time"] = at[f.states[0]]["time"].to_numpy()
        for q in ("pstate", "std_err"):
            for st in f.states:
                out[f"at_{q}.{'s0' if st == '(s0)' else st}"] = at[st][q].to_numpy()
    return out


_MS = (
    ("rotterdam.iptw", rotterdam_cr_sub4, {"formula": "Surv(rfstime, event) ~ chemo", "id": "pid",
                                      "weights": "w", "times": [1000, 3000]}),
    ("rotterdam.month_ties", rotterdam_cr, {"formula": "Surv(rfsmonth, event) ~ 1", "id": "pid",
                                            "conf_type": "log-log"}),
    ("cart.infection.iptw", cart_cr, {"formula": "Surv(inf_months, event) ~ anakinra", "id": "id",
                                      "weights": "w", "times": [1, 6]}),
)
for _name, _ds, _args in _MS:
    register(ParityCase(
        name=f"survfit_ms.id.{_name}", function="survfit",
        r_twin="survival::survfit(Surv(time, status) ~ g, id = id) (factor status)",
        dataset=_ds, r_file="competing.R", r_function="ref_survfit_ms_id", args=_args,
        python=_py_survfit_ms_id,
        exact=("states", "strata", "time", "n_risk", "n_censor", "n_event", "at_time"),
        r_packages=("survival",),
        description="Aalen-Johansen curves with id = (one row per subject): pstate, IJ "
                    "std.err, CIs, n.risk / n.event / n.censor (R's unweighted counts)"
                    + (", summary(fit, times)" if "times" in _args else ""),
    ))


# ---------------------------------------------------------------------------------------------
# finegray_coxph() against cmprsk::crr where they agree by construction
# ---------------------------------------------------------------------------------------------
def _py_crr(data, args):
    from carts_iptw.survival.competing import finegray_coxph
    from carts_iptw.survival.coxph import CoxControl

    f = finegray_coxph(f"Surv({args['time']}, {args['status']}) ~ {args['covariates']}", data,
                       etype=args["etype"], ties="breslow",
                       control=CoxControl(eps=1e-12, iter_max=50))
    return {"coef": f.coef}


_CRR = (
    ("rotterdam.recurrence", rotterdam_cr, "rfstime_nt", "recurrence", "chemo + age + nodes"),
    ("rotterdam.death", rotterdam_cr, "rfstime_nt", "death", "chemo + age + factor(grade)"),
    ("cart.infection", cart_cr, "inf_months_nt", "infection", "anakinra + age + histology"),
)
for _name, _ds, _t, _et, _x in _CRR:
    register(ParityCase(
        name=f"finegray.crr.{_name}", function="finegray_coxph",
        r_twin="cmprsk::crr(ftime, fstatus, cov1, failcode) (gtol 1e-12)",
        dataset=_ds, r_file="competing.R", r_function="ref_crr",
        args={"time": _t, "status": "event", "etype": _et, "covariates": _x, "gtol": 1e-12,
              "maxiter": 100},
        python=_py_crr, r_packages=("cmprsk",),
        description="unweighted Fine-Gray coefficients, ties = 'breslow' (crr's), on times "
                    "without event/censoring ties (censorings tied with an event moved half a "
                    "unit later), where finegray + coxph and crr agree by construction; crr's "
                    "SEs include the variance of the estimated censoring curve and are not "
                    "compared",
    ))
