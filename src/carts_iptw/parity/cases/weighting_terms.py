"""Parity cases: propensity models with spline terms and with missing covariates.

Against the real packages (``r_reference/weighting_terms.R``):

* ``splines::ns(x, df)`` / ``splines::bs(x, df)`` basis matrices (knots at R's quantiles of x,
  ``Boundary.knots`` at its range, ``intercept = FALSE``), on columns with ties and with a knot
  that coincides with the lower boundary (Lalonde's 1974 earnings: 40% zeros);
* ``weightit(treat ~ ns(age, 3) + ...)`` against the real WeightIt 1.5.1 (weights, propensity
  score, deviance, iterations), ``bal_tab`` on it against
  cobalt 4.6.1 (which reports the original covariates, ``age`` and ``re74``, not the basis
  columns), ``glm_weightit`` (M-estimation with the spline columns stacked) and ``svyglm``;
* ``weightit(missing = "ind")`` (WeightIt: a ``<var>:<NA>`` indicator per covariate column with
  missing values, the missing values set to the column's median) followed by ``bal_tab``,
  ``glm_weightit`` (M-estimation with the indicator columns stacked) and ``svyglm``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.parity.registry import ParityCase, register

WI = ("WeightIt",)
WC = ("WeightIt", "cobalt")
SPLINE_PS = "treat ~ ns(age, 3) + educ + race + married + bs(re74, df = 4) + re75"
#: Lalonde rows whose 1974 earnings and education are blanked for the missing-indicator cases
#: (every 9th row, and every 13th for education: both arms, no separation)
MISSING_PS = "treat ~ age + educ + race + married + re74 + re75"


def lalonde_outcomes() -> pd.DataFrame:
    """MatchIt's lalonde with ``employed`` = 1978 earnings > 0."""
    from carts_iptw.datasets import load_dataset

    d = load_dataset("lalonde").reset_index(drop=True)
    d["employed"] = (d["re78"] > 0).astype("int64")
    return d


def lalonde_missing() -> pd.DataFrame:
    """lalonde_outcomes() with 1974 earnings missing on every 9th row, education every 13th."""
    d = lalonde_outcomes()
    d.loc[d.index % 9 == 4, "re74"] = np.nan
    d["educ"] = d["educ"].astype("float64")
    d.loc[d.index % 13 == 6, "educ"] = np.nan
    return d


def _basis(data, args):
    from carts_iptw.formula.splines import bs_fit, ns_fit

    x = data[args["x"]].to_numpy(dtype=float)
    if args["kind"] == "ns":
        B, p = ns_fit(x, df=args["df"])
    else:
        B, p = bs_fit(x, df=args["df"], degree=args.get("degree", 3))
    return {"basis": B.ravel(order="F"), "ncol": B.shape[1], "knots": p["knots"],
            "boundary": p["bk"]}


def _fit(data, args):
    import warnings

    from carts_iptw.weighting import weightit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return weightit(args["formula"], data, estimand=args.get("estimand", "ATE"),
                        missing=args.get("missing"))


def _weightit(data, args):
    W = _fit(data, args)
    m = W.ps_model
    # not the coefficients: WeightIt rescales its covariate matrix (r_reference/weighting_terms.R)
    return {"weights": W.weights, "ps": W.ps, "deviance": m.deviance,
            "iter": m.iter}


def _bal_tab(data, args):
    from carts_iptw.balance import bal_tab

    b = bal_tab(_fit(data, args), stats=("mean.diffs", "variance.ratios"), un=True,
                binary=args["binary"])
    out = {c: (b.balance[c] if c == "Type" else b.balance[c].astype(float))
           for c in b.balance.columns}
    out["Observations"] = {"Control": b.observations.iloc[:, 0].to_numpy(),
                           "Treated": b.observations.iloc[:, 1].to_numpy()}
    return out


def _glm_weightit(data, args):
    from carts_iptw.design.glm_weightit import glm_weightit
    from carts_iptw.parity.cases.design import _model_out

    r = glm_weightit(args["outcome"], data, _fit(data, args), family=args["family"],
                     vcov=args["vcov"], progress=False)
    return _model_out(r)


def _svyglm(data, args):
    import warnings

    from carts_iptw.design.svydesign import svydesign
    from carts_iptw.design.svyglm import svyglm

    W = _fit(data, args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-integer successes (R's warning, suppressed alike)
        r = svyglm(args["outcome"], svydesign(data.assign(_w=W.weights), weights="_w"),
                   family=args["family"])
    ci = r.confint()
    return {"coef": r.coef, "se": r.se, "pvalues": r.p_values, "lower": ci.iloc[:, 0],
            "upper": ci.iloc[:, 1]}


def _case(name, function, r_twin, dataset, r_function, python, args, packages, **kw):
    register(ParityCase(name=name, function=function, r_twin=r_twin, dataset=dataset,
                        r_file="weighting_terms.R", r_function=r_function, python=python,
                        args=args, r_packages=packages, **kw))


# --- the basis matrices ----------------------------------------------------------------------
for _x in ("age", "re74", "re75", "educ"):
    for _kind, _df, _deg in (("ns", 3, None), ("ns", 5, None), ("bs", 3, None), ("bs", 5, None),
                             ("bs", 4, 2)):
        _a = {"x": _x, "kind": _kind, "df": _df, **({"degree": _deg} if _deg else {})}
        _tw = f"splines::{_kind}({_x}, df = {_df}{f', degree = {_deg}' if _deg else ''})"
        _case(f"splines.{_kind}{_df}{f'_deg{_deg}' if _deg else ''}.lalonde.{_x}", "model_frame",
              _tw, "lalonde", "spline_basis", _basis, _a, (), rtol=1e-9, atol=1e-12,
              exact=("ncol",),
              description="the basis matrix (column-major), knots at R's type-7 quantiles, "
                          "Boundary.knots = range(x), intercept = FALSE"
                          + ("; 40% zeros: the lower knots coincide with the boundary"
                             if _x in ("re74", "re75") else ""))

# --- weightit / bal_tab / glm_weightit / svyglm on spline and missing-indicator fits ----------
_FITS = {
    "splines": (lalonde_outcomes, {"formula": SPLINE_PS}),
    "missing_ind": (lalonde_missing, {"formula": MISSING_PS, "missing": "ind"}),
}
for _tag, (_ds, _base) in _FITS.items():
    _what = ("ns(age, 3) and bs(re74, df = 4) in the propensity model" if _tag == "splines"
             else "missing = 'ind': re74 and educ partly missing (indicator + median)")
    for _e in ("ATE", "ATT"):
        _case(f"weightit.glm.{_tag}.lalonde.{_e}", "weightit",
              f"WeightIt::weightit(method = 'glm', estimand = '{_e}')", _ds, "terms_weightit",
              _weightit, {**_base, "estimand": _e}, WI, exact=("iter",), description=_what)
        _case(f"bal_tab.weightit.{_tag}.lalonde.{_e}", "bal_tab",
              "cobalt::bal.tab(weightit(...))", _ds, "terms_bal_tab", _bal_tab,
              {**_base, "estimand": _e, "binary": "std"}, WC,
              description=_what + "; cobalt reports the original covariates"
              + (" (age, re74), not the basis columns" if _tag == "splines"
                 else " plus a 're74:<NA>' / 'educ:<NA>' row"))
        for _fam, _out in (("binomial", "employed ~ treat"),
                           ("gaussian", "re78 ~ treat + age + married")):
            _case(f"glm_weightit.asympt.{_tag}.lalonde.{_fam}.{_e}", "glm_weightit",
                  "WeightIt::glm_weightit(vcov = 'asympt')", _ds, "terms_glm_weightit",
                  _glm_weightit, {**_base, "estimand": _e, "outcome": _out, "family": _fam,
                                  "vcov": "asympt"}, WI,
                  description=_what + "; M-estimation with the propensity score's score stacked")
            _case(f"svyglm.{_tag}.lalonde.{_fam}.{_e}", "svyglm",
                  "survey::svyglm(weights = weightit(...)$weights)", _ds, "terms_svyglm",
                  _svyglm, {**_base, "estimand": _e, "outcome": _out,
                            "family": "quasibinomial" if _fam == "binomial" else _fam},
                  ("WeightIt", "survey"), description=_what)
