"""Parity cases for carts_iptw.resampling.chunked: the chunked functions, fed the data in
uneven pieces, against R on the whole data.

``balance_chunked`` against the real cobalt 4.6.1 on a real WeightIt 1.5.1 object
(``r_reference/chunked.R``); ``survfit_by_stratum`` against ``survival::survfit`` (survival.R's
``ref_survfit``, the KM cases' R function). The chunks are cut at uneven places (a one-row
chunk, a chunk without treated patients where the data allow), so a wrong combination of
chunk summaries cannot pass.
"""

from __future__ import annotations

import pandas as pd

from carts_iptw.parity.cases.survival import (
    colon_recurrence,
    km_quantities,
    lung_complete,
    rotterdam_rfs,
)
from carts_iptw.parity.registry import ParityCase, register


def _chunks(data: pd.DataFrame) -> list[pd.DataFrame]:
    """Five uneven pieces: 1 row, ~40%, 2 rows, ~45%, the rest."""
    n = len(data)
    cuts = [0, 1, 1 + int(0.4 * n), 3 + int(0.4 * n), 3 + int(0.85 * n), n]
    d = data.reset_index(drop=True)
    return [d.iloc[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]


def _py_balance(data, args):
    import warnings

    from carts_iptw.resampling.chunked import balance_chunked
    from carts_iptw.weighting import weightit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = weightit(args["formula"], data, method="glm", estimand=args["estimand"])
    d = data.assign(_w=W.weights)
    trt, rhs = (s.strip() for s in args["formula"].split("~"))
    covs = [c.strip() for c in rhs.split("+")]
    # cobalt's default standardisation factor for bal.tab(weightit): "pooled" for the ATE,
    # the focal group's for the ATT / ATC
    denom = {"ATE": "pooled", "ATT": "treated", "ATC": "control"}[args["estimand"]]
    b = balance_chunked(_chunks(d), covs, trt, weights="_w", s_d_denom=denom)
    return {c: (b[c] if c == "Type" else b[c].astype(float))
            for c in b.columns if not c.startswith("SMD.")}


_BAL_F = "treat ~ age + educ + married + nodegree + re74 + re75"
for _e in ("ATE", "ATT", "ATC"):
    register(ParityCase(
        name=f"balance_chunked.lalonde.{_e}", function="balance_chunked",
        r_twin="cobalt::bal.tab(weightit(method = 'glm'), disp = 'means') on the whole data",
        dataset="lalonde", r_file="chunked.R", r_function="ref_balance_means",
        python=_py_balance, args={"formula": _BAL_F, "estimand": _e},
        r_packages=("WeightIt", "cobalt"),
        description="means, mean differences (binary raw, continuous standardised) and variance "
                    "ratios, unadjusted and weighted, from five uneven chunks",
    ))


def lung_event() -> pd.DataFrame:
    """lung (complete cases, IPT weights ``w`` for sex) with a 0/1 ``event`` (status == 2):
    ``survfit_by_stratum`` takes columns, and a column's 1/2 coding is not guessed."""
    d = lung_complete()
    d["event"] = (d["status"] == 2).astype(int)
    return d


def _py_survfit_by_stratum(data, args):
    from carts_iptw.resampling.chunked import survfit_by_stratum

    f = survfit_by_stratum(_chunks(data), args["time"], args["event"], args["strata"],
                           weights=args.get("weights"), conf_type=args.get("conf_type", "log"),
                           robust=args.get("robust"))
    return km_quantities(f, args)


for _name, _ds, _t, _e, _s, _w, _extra in (
    ("rotterdam.rfs.iptw", rotterdam_rfs, "rfstime", "rfs", "chemo", "w",
     {"times": [365.25, 1826.25]}),
    ("rotterdam.os.month_ties.iptw", rotterdam_rfs, "dmonth", "death", "chemo", "w",
     {"times": [12, 60, 120]}),
    ("rotterdam.rfs.iptw.greenwood", rotterdam_rfs, "rfstime", "rfs", "chemo", "w",
     {"robust": False}),
    ("colon.recurrence.iptw", colon_recurrence, "time", "status", "rx", "w", {}),
    ("lung.sex", lung_event, "time", "event", "sex", None, {"times": [180, 365]}),
    ("lung.sex.iptw", lung_event, "time", "event", "sex", "w", {}),
):
    _args = {"formula": f"Surv({_t}, {_e}) ~ {_s}", "time": _t, "event": _e, "strata": _s,
             "conf_type": "log", **_extra}
    if _w:
        _args["weights"] = _w
    register(ParityCase(
        name=f"survfit_by_stratum.{_name}", function="survfit_by_stratum",
        r_twin="survival::survfit (whole data)", dataset=_ds, r_file="survival.R",
        r_function="ref_survfit", args=_args, python=_py_survfit_by_stratum,
        exact=("time", "at_time", "strata") + (() if _w else (
            "n_risk", "n_event", "n_censor", "at_n_risk", "at_n_event")),
        r_packages=("survival",),
        description="Kaplan-Meier per stratum from five uneven chunks, one task per stratum",
    ))


def _py_table_one(data, args):
    from carts_iptw.parity.cases.table_one import table_quantities
    from carts_iptw.resampling.chunked import table_one_chunked
    from carts_iptw.weighting.weightit import weightit

    W = weightit(args["ps_formula"], data, method="glm", estimand=args["estimand"])
    t = table_one_chunked(_chunks(data.assign(_w=W.weights)), args["vars"], args["treatment"],
                          weights="_w")
    return table_quantities(t)


def _table_one_cases():
    from carts_iptw.parity.cases.table_one import _STUDIES, _VARS

    for name, data, est, ps in _STUDIES:
        register(ParityCase(
            name=f"table_one_chunked.{name}", function="table_one_chunked",
            r_twin="survey::svymean per arm + cobalt::bal.tab(s.d.denom = 'pooled') on the "
                   "whole data (r_reference/table_one.R)",
            dataset=data, r_file="table_one.R", r_function="ref_table_one",
            args={"ps_formula": ps, "estimand": est, "vars": _VARS[name],
                  "treatment": ps.split("~")[0].strip()},
            python=_py_table_one, r_packages=("WeightIt", "cobalt", "survey"),
            description=f"Table 1 from five uneven chunks ({name}, {est} weights)",
        ))


_table_one_cases()
