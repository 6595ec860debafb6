"""Peer columns: what the common Python tools answer to the same question as R.

Not part of pass/fail: an auditor sees, beside Python-vs-R, where statsmodels and lifelines agree
with R and where not (``tox -e peers``; lifelines 0.30 needs pandas < 3, so the peers have an
environment of their own and never pin the main one). Each peer gets the same data and the
design matrix this package builds from the formula (``model_frame``), so the column shows the
peer's fitting and variance conventions, not its formula parser.

Peers run when ``CARTS_IPTW_PEERS=1``; they are derived from a case's R function and arguments
(``peers_for``), so no case declares them:

- ``ref_glm`` (glm, canonical links): statsmodels ``GLM(var_weights=w)`` and ``GLM(freq_weights=w)``,
  coefficients and model-based SEs;
- ``ref_glm_robust`` with HC0: statsmodels ``GLM(var_weights / freq_weights).fit(cov_type="HC0")``;
- ``ref_coxph`` (Efron ties, no strata / cluster / counting process / factor()): lifelines
  ``CoxPHFitter`` (``robust=True`` with weights, as R's coxph turns the robust variance on for
  non-integer weights, or when the case asks for it), coefficients and SEs;
- ``ref_survfit`` (right-censored, one grouping variable or none): lifelines
  ``KaplanMeierFitter`` with weights, the survival at each of R's time points.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

#: peer name -> the Python distribution it runs
PEER_PACKAGES = {
    "statsmodels GLM var_weights": "statsmodels",
    "statsmodels GLM freq_weights": "statsmodels",
    "lifelines CoxPHFitter": "lifelines",
    "lifelines KaplanMeierFitter": "lifelines",
}
_CANONICAL = {"binomial": "logit", "gaussian": "identity", "poisson": "log"}


def enabled() -> bool:
    return os.environ.get("CARTS_IPTW_PEERS", "") == "1"


def versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for pkg in sorted(set(PEER_PACKAGES.values())):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _weights(data: pd.DataFrame, args: Mapping[str, Any]) -> np.ndarray | None:
    w = args.get("weights")
    return None if w is None else data[w].to_numpy(dtype=float)


def _sm_glm(kind: str, cov_type: str) -> Callable:
    def run(data: pd.DataFrame, args: Mapping[str, Any]) -> dict:
        import statsmodels.api as sm

        from carts_iptw.formula import model_frame

        mf = model_frame(args["formula"], data)
        fam = {"binomial": sm.families.Binomial, "gaussian": sm.families.Gaussian,
               "poisson": sm.families.Poisson}[args["family"]]()
        w = _weights(data, args)
        kw = {} if w is None else {kind: w}
        fit = sm.GLM(np.asarray(mf.y, dtype=float), mf.X, family=fam, **kw).fit(
            cov_type=cov_type, tol=1e-12 if args.get("epsilon", 1e-8) < 1e-8 else 1e-8)
        names = list(mf.column_names)
        return {"coef": pd.Series(np.asarray(fit.params), index=names),
                "se": pd.Series(np.asarray(fit.bse), index=names)}

    return run


def _lifelines_cox(data: pd.DataFrame, args: Mapping[str, Any]) -> dict:
    from lifelines import CoxPHFitter

    from carts_iptw.formula import model_frame

    mf = model_frame(args["formula"], data)
    time, event = mf.surv.time, mf.surv.event  # right-censored only (peers_for checks)
    keep = [i for i, c in enumerate(mf.column_names) if c != "(Intercept)"]
    names = [mf.column_names[i] for i in keep]
    df = pd.DataFrame(mf.X[:, keep], columns=names)
    df["_t"], df["_e"] = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
    w = _weights(data, args)
    kw: dict[str, Any] = {"robust": bool(args.get("robust"))}
    if w is not None:
        df["_w"] = w
        kw = {"weights_col": "_w", "robust": args.get("robust") is not False}
    fit = CoxPHFitter().fit(df, duration_col="_t", event_col="_e", **kw)
    return {"coef": fit.params_.reindex(names), "se": fit.standard_errors_.reindex(names)}


def _lifelines_km(data: pd.DataFrame, args: Mapping[str, Any], r_flat: Mapping) -> dict:
    from lifelines import KaplanMeierFitter

    from carts_iptw.formula import model_frame

    rhs = args["formula"].split("~")[1].strip()
    mf = model_frame(args["formula"], data)  # R's Surv(): status 1/2 or 0/1, logical, ...
    t_all = np.asarray(mf.surv.time, dtype=float)
    e_all = np.asarray(mf.surv.event, dtype=float)
    w = _weights(data, args)
    strata = list(r_flat["strata"].values) if "strata" in r_flat else None
    times = r_flat["time"].values.astype(float)
    out = np.full(len(times), np.nan)
    groups = [None] if rhs == "1" else sorted(set(strata))
    for g in groups:
        if g is None:
            rows, sel = np.ones(len(data), bool), np.ones(len(times), bool)
        else:
            var, val = g.split("=", 1)
            col = data[var.strip()]
            val = val.strip()
            if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
                rows = (col.astype(float) == float(val)).to_numpy()  # R prints 1, pandas 1.0
            else:
                rows = (col.astype(str) == val).to_numpy()
            sel = np.array([s == g for s in strata])
        km = KaplanMeierFitter().fit(t_all[rows], e_all[rows],
                                     weights=None if w is None else w[rows])
        out[sel] = km.survival_function_at_times(times[sel]).to_numpy()
    return {"surv": out}


def peers_for(case) -> dict[str, Callable]:
    """The peers that answer this case's question (see the module docstring)."""
    a = case.args
    f = str(a.get("formula", ""))
    if case.r_function == "ref_glm" and a.get("family") in _CANONICAL and a.get("link") in (
            None, _CANONICAL.get(a.get("family"))) and not a.get("offset"):
        return {"statsmodels GLM var_weights": _sm_glm("var_weights", "nonrobust"),
                "statsmodels GLM freq_weights": _sm_glm("freq_weights", "nonrobust")}
    if case.r_function == "ref_glm_robust" and a.get("type") == "HC0" and a.get("family") in _CANONICAL:
        return {"statsmodels GLM var_weights": _sm_glm("var_weights", "HC0"),
                "statsmodels GLM freq_weights": _sm_glm("freq_weights", "HC0")}
    if (case.r_function == "ref_coxph" and a.get("ties", "efron") == "efron"
            and not re.search(r"strata|cluster|factor|tt\(|Surv\([^)]*,[^)]*,", f)
            and not a.get("cluster") and not a.get("id")):
        return {"lifelines CoxPHFitter": _lifelines_cox}
    if (case.r_function == "ref_survfit" and not re.search(r"strata|cluster|\+|\*|Surv\([^)]*,[^)]*,", f)
            and not a.get("id") and not a.get("cluster") and not a.get("robust")):
        return {"lifelines KaplanMeierFitter": lambda d, args, r_flat=None: _lifelines_km(d, args, r_flat)}
    return {}


def peer_columns(case, data: pd.DataFrame, r_flat: Mapping) -> dict[str, dict[str, tuple]]:
    """{quantity: {peer: (element, peer value, R value, max rel diff vs R, note)}}: the
    element is where the peer differs most from R."""
    from carts_iptw.parity.compare import flatten

    out: dict[str, dict[str, tuple]] = {}
    for name, fn in peers_for(case).items():
        try:
            res = fn(data.copy(), dict(case.args), r_flat) if "KaplanMeier" in name else fn(data.copy(), dict(case.args))
        except Exception as exc:  # a peer that cannot answer is shown as such
            for q in r_flat:
                if q in ("coef", "se", "surv"):
                    out.setdefault(q, {})[name] = ("", None, None, math.inf,
                                                   f"{type(exc).__name__}: {exc}"[:120])
            continue
        for q, pq in flatten(res).items():
            rq = r_flat.get(q)
            if rq is None or len(rq.values) != len(pq.values):
                continue
            p = pq.values.astype(float)
            r = rq.values.astype(float)
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = np.abs(p - r) / np.abs(r)
            rel = np.where((p == r) | (np.isnan(p) & np.isnan(r)), 0.0, rel)
            worst = float(np.nanmax(rel)) if np.isfinite(rel).any() else math.inf
            i = int(np.nanargmax(np.where(np.isfinite(rel), rel, -1.0)))
            label = (str(rq.labels[i]) if rq.labels is not None
                     else (f"[{i + 1}]" if len(r) > 1 else ""))
            out.setdefault(q, {})[name] = (label, float(p[i]), float(r[i]), worst, "")
    return out
