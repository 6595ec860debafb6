"""Parity cases for :func:`carts_iptw.effects.ate` against the REAL ``riskRegression::ate``.

riskRegression 2022.11.28 (Debian r-cran-riskregression; its version is recorded with every
live run and snapshot), r_reference/ate.R: ``ate(event = glm(...) or coxph(..., x = TRUE, y =
TRUE), treatment = glm(..., binomial), censor = coxph(Surv(time, status == 0) ~ ...), data,
times, estimator)``. Every estimator (G-formula, IPTW, AIPTW), every horizon and every quantity
of the mean risks (estimate, se, lower, upper), of the risk differences and of the risk ratios
(plus p-values) is compared at rel 1e-6.

Data: lalonde (employed = re78 > 0, job training), birthwt (low birth weight, smoking),
rotterdam (relapse-free survival at 5 and 10 years, chemotherapy) and colon (recurrence,
Lev+5FU vs observation, at 1, 3 and 5 years).
"""

from __future__ import annotations

import pandas as pd

from carts_iptw.parity.cases.design import birthwt_ipw, lalonde_ipw
from carts_iptw.parity.cases.survival import colon_recurrence, rotterdam_rfs
from carts_iptw.parity.registry import ParityCase, register

_ALL = ["GFORMULA", "IPTW", "AIPTW"]


def rotterdam_years() -> pd.DataFrame:
    """survival::rotterdam, relapse-free survival (the help page's definition) in years."""
    d = rotterdam_rfs()
    d["rfsyears"] = d["rfstime"] / 365.25
    return d


def colon_years() -> pd.DataFrame:
    """survival::colon, recurrence (one row per patient), Lev+5FU vs observation, in years."""
    d = colon_recurrence()
    d["years"] = d["time"] / 365.25
    return d


def _py_ate(data, args) -> dict:
    from carts_iptw.effects import ate

    a = ate(args["event"], args["treatment"], data, censor=args.get("censor"),
            times=args.get("times"), estimator=args["estimator"])
    out = {}
    for nm, tab in (("mean", a.mean_risk), ("diff", a.diff_risk), ("ratio", a.ratio_risk)):
        for c in ("estimate", "se", "lower", "upper", *(("p_value",) if nm != "mean" else ())):
            out[f"{nm}.{c}"] = tab[c].to_numpy(dtype=float)
    return out


_LAL = "age + educ + race + married + nodegree + re74 + re75"
_BWT = "age + lwt + race + ptl + ht + ui + ftv"
_ROT = "age + meno + size + grade + nodes + pgr + er + hormon"
_COL = "sex + age + obstruct + perfor + adhere + nodes + differ + extent + surg"

_CASES = [
    # (name, dataset, args)
    ("binary.lalonde", lalonde_ipw,
     {"type": "binary", "treatment_var": "treat", "event": f"employed ~ treat + {_LAL}",
      "treatment": f"treat ~ {_LAL}", "estimator": _ALL}),
    ("binary.lalonde.interaction", lalonde_ipw,
     {"type": "binary", "treatment_var": "treat",
      "event": "employed ~ treat * (age + educ + re74) + race + married + nodegree + re75",
      "treatment": f"treat ~ {_LAL} + I(age^2)", "estimator": _ALL}),
    ("binary.birthwt", birthwt_ipw,
     {"type": "binary", "treatment_var": "smoke", "event": f"low ~ smoke + {_BWT}",
      "treatment": f"smoke ~ {_BWT}", "estimator": _ALL}),
    ("binary.birthwt.AIPTW", birthwt_ipw,
     {"type": "binary", "treatment_var": "smoke", "event": "low ~ smoke * lwt + age + race + ht",
      "treatment": "smoke ~ age + lwt + race", "estimator": ["AIPTW"]}),
    ("survival.rotterdam", rotterdam_years,
     {"type": "survival", "treatment_var": "chemo", "event": f"Surv(rfsyears, rfs) ~ chemo + {_ROT}",
      "treatment": f"chemo ~ {_ROT}", "censor": f"Surv(rfsyears, rfs == 0) ~ chemo + {_ROT}",
      "times": [5.0, 10.0], "estimator": _ALL}),
    ("survival.colon", colon_years,
     {"type": "survival", "treatment_var": "lev5fu", "event": f"Surv(years, status) ~ lev5fu + {_COL}",
      "treatment": f"lev5fu ~ {_COL}", "censor": "Surv(years, status == 0) ~ lev5fu + age + nodes",
      "times": [1.0, 3.0, 5.0], "estimator": _ALL}),
    ("survival.colon.uncensored", colon_years,
     {"type": "survival", "treatment_var": "lev5fu", "event": f"Surv(years, status) ~ lev5fu + {_COL}",
      "treatment": f"lev5fu ~ {_COL}", "times": [0.5, 1.0], "estimator": _ALL}),
]

for _name, _ds, _args in _CASES:
    register(ParityCase(
        name=f"ate.{_name}", function="ate",
        r_twin="riskRegression::ate(event = " + ("glm" if _args["type"] == "binary" else "coxph")
               + ", treatment = glm" + (", censor = coxph" if "censor" in _args else "") + ")",
        dataset=_ds, r_file="ate.R", r_function="ref_ate", args=_args, python=_py_ate,
        r_packages=("riskRegression", "survival"),
        description="real riskRegression 2022.11.28 ate(): mean risks, differences (B - A) and "
                    "ratios (B / A) with influence-function SEs, Wald CIs and p-values, every "
                    "estimator and horizon",
    ))

