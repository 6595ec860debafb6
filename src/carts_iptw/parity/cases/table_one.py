"""table_one(): per-arm means and percentages (unweighted; weighted by survey::svymean) and
the unweighted and weighted SMDs as cobalt::bal.tab reports them (pooled SD, binary = "std")."""

from __future__ import annotations

import pandas as pd

from carts_iptw.parity.registry import ParityCase, register

_VARS = {"lalonde": ["age", "educ", "race", "married", "nodegree", "re74", "re75"],
         "nhefs": ["sex", "race", "age", "education", "smokeintensity", "exercise", "wt71"]}


def _keys(t: pd.DataFrame) -> list[str]:
    return [v if k != "categorical" else f"{v}_{lv}"
            for v, lv, k in zip(t["variable"], t["level"], t["kind"], strict=True)]


def _nhefs() -> pd.DataFrame:
    from carts_iptw.study.spec import example_paths

    d = pd.read_csv(example_paths("nhefs")[1])
    d = d[d["wt82_71"].notna()].reset_index(drop=True)
    d["education"] = pd.Categorical(d["education"].astype(int).astype(str),
                                    categories=["1", "2", "3", "4", "5"])
    return d


def _python(data: pd.DataFrame, args) -> dict:
    from carts_iptw.balance.table_one import table_one
    from carts_iptw.weighting.weightit import weightit

    W = weightit(args["ps_formula"], data, method="glm", estimand=args["estimand"])
    t = table_one(data, args["vars"], args["treatment"], weights=W.weights)
    return table_quantities(t)


def table_quantities(t: pd.DataFrame) -> dict:
    """A Table 1's per-arm means / SDs and SMDs by row key: ``ref_table_one``'s keys."""
    k = _keys(t)
    s = lambda col: pd.Series(t[col].to_numpy(dtype=float), index=k)  # noqa: E731
    return {"mean_control": s("mean_control"), "mean_treated": s("mean_treated"),
            "wmean_control": s("wmean_control"), "wmean_treated": s("wmean_treated"),
            "smd": s("smd"), "smd_weighted": s("smd_weighted"),
            "sd_control": s("sd_control").dropna(), "sd_treated": s("sd_treated").dropna()}


#: (name, data set, estimand, propensity formula) of the Table 1 cases
_STUDIES = (
    ("lalonde", "lalonde", "ATT",
     "treat ~ age + educ + race + married + nodegree + re74 + re75"),
    ("nhefs", _nhefs, "ATE",
     "qsmk ~ sex + race + age + I(age^2) + education + smokeintensity + "
     "I(smokeintensity^2) + smokeyrs + I(smokeyrs^2) + factor(exercise) + factor(active) "
     "+ wt71 + I(wt71^2)"),
)

for _name, _data, _est, _ps in _STUDIES:
    register(ParityCase(
        name=f"table_one.{_name}",
        function="table_one",
        r_twin="survey::svymean per arm + cobalt::bal.tab(s.d.denom = 'pooled') "
               "(r_reference/table_one.R)",
        dataset=_data,
        r_file="table_one.R",
        r_function="ref_table_one",
        args={"ps_formula": _ps, "estimand": _est, "vars": _VARS[_name],
              "treatment": _ps.split("~")[0].strip()},
        python=_python,
        rtol=1e-6,
        r_packages=("WeightIt", "cobalt", "survey"),
        description=f"Table 1 with unweighted and weighted SMDs ({_name}, {_est} weights)",
    ))



def _python_tableone(data: pd.DataFrame, args) -> dict:
    from carts_iptw.balance.table_one import table_one
    from carts_iptw.weighting.weightit import weightit

    W = weightit(args["ps_formula"], data, method="glm", estimand=args["estimand"])
    t = table_one(data, args["vars"], args["treatment"], weights=W.weights, smd="both")
    first = t.drop_duplicates("variable")
    return {c: pd.Series(first[c].to_numpy(dtype=float), index=list(first["variable"]))
            for c in ("smd_tableone", "smd_tableone_weighted")}


for _name, _data, _est, _ps in _STUDIES:
    register(ParityCase(
        name=f"table_one.tableone_smd.{_name}",
        function="table_one",
        r_twin="tableone::svyCreateTableOne(smd = TRUE) (restated: r_reference/table_one_smd.R)",
        dataset=_data,
        r_file="table_one_smd.R",
        r_function="ref_table_one_tableone",
        args={"ps_formula": _ps, "estimand": _est, "vars": _VARS[_name],
              "treatment": _ps.split("~")[0].strip()},
        python=_python_tableone,
        rtol=1e-6,
        r_packages=("WeightIt", "survey", "MASS"),
        reference="independent",
        reference_reason="tableone is not installable here (no r-cran-tableone in Debian, no "
                         "CRAN): its SMD formulas (Yang & Dalton 2012; tableone 0.13 "
                         "smdModules.R) restated in R on survey's svymean/svyvar/svytable and "
                         "MASS::ginv",
        description=f"table_one(smd='both'): one SMD per variable, a factor's multi-level SMD "
                    f"({_name}, {_est} weights)",
    ))
