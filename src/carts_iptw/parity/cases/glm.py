"""Parity cases for carts_iptw.formula (R's model.matrix) and carts_iptw.glm_model (stats::glm)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from carts_iptw.families import GlmWarning
from carts_iptw.parity.registry import ParityCase, register


# ---------------------------------------------------------------------------------------------
# data sets (deterministic; both sides receive the same frame)
# ---------------------------------------------------------------------------------------------
def synthetic_mixed() -> pd.DataFrame:
    """300 rows with numeric, integer, logical and string columns, a binary and a count
    response and an exposure for an offset."""
    rng = np.random.default_rng(20261125)
    n = 300
    age = np.round(rng.uniform(20, 80, n), 1)
    sex = rng.choice(["F", "M"], n)
    smoker = rng.random(n) < 0.35
    site = rng.choice(["north", "south", "west"], n, p=[0.5, 0.3, 0.2])
    dose = rng.integers(0, 4, n)
    exposure = np.round(rng.uniform(0.5, 3.0, n), 2)
    eta = -2 + 0.03 * age + 0.5 * (sex == "M") + 0.7 * smoker - 0.4 * (site == "west")
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int64)
    count = rng.poisson(exposure * np.exp(-1 + 0.01 * age + 0.3 * (site == "south")))
    return pd.DataFrame({
        "age": age, "sex": sex, "smoker": smoker, "site": site, "dose": dose.astype(np.int64),
        "exposure": exposure, "y": y, "count": count.astype(np.int64),
    })


def synthetic_ordered() -> pd.DataFrame:
    """synthetic_mixed with two ordered Categoricals (one with an unused level)."""
    d = synthetic_mixed()
    rng = np.random.default_rng(99)
    n = len(d)
    d["grade"] = pd.Categorical(rng.choice(["G1", "G2", "G3", "G4"], n),
                                categories=["G1", "G2", "G3", "G4"], ordered=True)
    d["stage"] = pd.Categorical(rng.choice(["I", "II", "III"], n),
                                categories=["I", "II", "III", "IV"], ordered=True)
    return d


def identity_poisson_halving() -> pd.DataFrame:
    """Counts whose identity-link Poisson fit steps out of bounds: glm.fit halves the step
    ("step size truncated: out of bounds") and stops at a boundary value."""
    rng = np.random.default_rng(391)
    n = 40
    x = np.round(rng.uniform(0, 10, n), 1)
    y = rng.poisson(np.maximum(0.2, 3 - 0.3 * x))
    return pd.DataFrame({"x": x, "y": y.astype(np.int64)})


def quasi_separated() -> pd.DataFrame:
    """A binary outcome that is 1 whenever z > 1 (quasi-complete separation by z)."""
    rng = np.random.default_rng(12)
    n = 150
    x = rng.normal(size=n)
    z = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(-0.5 + 0.8 * x)))
    y = np.where(z > 1, 1, (rng.random(n) < p).astype(np.int64))
    return pd.DataFrame({"y": y.astype(np.int64), "x": x, "hi": (z > 1).astype(np.int64)})


def lalonde_weighted() -> pd.DataFrame:
    """lalonde with a non-integer weight column and a binary outcome."""
    from carts_iptw.datasets import load_dataset

    d = load_dataset("lalonde").copy()
    d["w"] = 0.5 + d["age"] / 40 + 0.3 * d["married"] + 0.2 * (d["re74"] > 0)
    d["employed"] = (d["re78"] > 0).astype(np.int64)
    return d


def birthwt_weighted() -> pd.DataFrame:
    """birthwt with a non-integer weight column, and a copy with zero weights (w0)."""
    from carts_iptw.datasets import load_dataset

    d = load_dataset("birthwt").copy()
    d["w"] = 0.4 + d["lwt"] / 150 + 0.5 * d["smoke"]
    d["w0"] = np.where(d["ptl"] > 0, 0.0, d["w"])
    return d


# ---------------------------------------------------------------------------------------------
# Python sides
# ---------------------------------------------------------------------------------------------
def _py_model_matrix(data: pd.DataFrame, args) -> dict:
    from carts_iptw.formula import model_frame

    mf = model_frame(args["formula"], data)
    out = {
        "column_names": list(mf.column_names),
        "term_labels": list(mf.term_labels),
        "intercept": float(mf.intercept),
        "assign": np.asarray(mf.assign, dtype=float),
        "X": pd.DataFrame(mf.X, columns=mf.column_names),
    }
    if mf.y is not None:
        out["y"] = mf.y
    if mf.offset is not None:
        out["offset"] = mf.offset
    return out


def _py_glm(data: pd.DataFrame, args) -> dict:
    from carts_iptw.glm_model import glm
    from carts_iptw.irls import GlmControl

    control = GlmControl(epsilon=args.get("epsilon", 1e-8), maxit=args.get("maxit", 25))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit = glm(args["formula"], data, family=args["family"], link=args.get("link"),
                  weights=args.get("weights"), offset=args.get("offset"), control=control)
    msgs: list[str] = []
    for w in rec:
        # R's summary prints "(k not defined because of singularities)"; Python also warns
        if "because of singularities" in str(w.message):
            continue
        if issubclass(w.category, GlmWarning) and str(w.message) not in msgs:
            msgs.append(str(w.message))
    ci = fit.confint()
    return {
        "coef": fit.coef,
        "se": fit.se,
        "statistic": fit.statistic,
        "p_value": fit.p_values,
        "vcov": fit.vcov.to_numpy(),
        "ci_lower": ci.iloc[:, 0],
        "ci_upper": ci.iloc[:, 1],
        "fitted": fit.fitted,
        "linear_predictor": fit.linear_predictor,
        "working_weights": fit.working_weights,
        "resid_deviance": fit.residuals("deviance"),
        "resid_pearson": fit.residuals("pearson"),
        "deviance": fit.deviance,
        "null_deviance": fit.null_deviance,
        "aic": fit.aic,
        "loglik": fit.loglik,
        "bic": fit.bic,
        "dispersion": fit.dispersion,
        "df_residual": fit.df_residual,
        "df_null": fit.df_null,
        "rank": fit.rank,
        "iter": fit.iter,
        "converged": float(fit.converged),
        "warnings": msgs,
    }


# ---------------------------------------------------------------------------------------------
# model.matrix cases
# ---------------------------------------------------------------------------------------------
_MM = [
    ("lalonde", "main", "treat ~ age + educ + race + married + nodegree + re74 + re75"),
    ("lalonde", "I_age2", "treat ~ age + I(age^2) + educ + race"),
    ("lalonde", "age_x_race", "treat ~ age + educ + age:race"),
    ("lalonde", "age_x_race_alone", "treat ~ age:race + educ"),
    ("lalonde", "race_star_married", "treat ~ race*married + age"),
    ("lalonde", "no_intercept", "treat ~ 0 + age + race + married"),
    ("lalonde", "minus1_interaction", "treat ~ race:married - 1"),
    ("lalonde", "power_minus", "I(re78 > 0) ~ (age + race + married)^2 - age:married + log(re74 + 1)"),
    ("lalonde", "nested", "treat ~ race/age"),
    ("lalonde", "arith", "treat ~ I(re74/1000 + re75/1000) + I(age - 30) + sqrt(educ) + exp(-age/10)"),
    ("lalonde", "functions", "treat ~ I(race %in% c(\"black\", \"hispan\")) + pmin(age, 40) + "
     "scale(re74) + relevel(race, ref = \"white\"):married + I(educ %in% c(9, 10, 11))"),
    ("lalonde", "poly", "treat ~ poly(age, 3) + poly(re74, degree = 2, raw = TRUE):race + "
     "poly(educ, 2):married"),
    ("lalonde", "splines", "treat ~ ns(age, df = 3) + bs(re74, df = 5, degree = 2) + "
     "ns(educ, knots = c(9, 12), intercept = TRUE) + bs(re75, 4):married"),
    ("birthwt", "smoke", "smoke ~ age + lwt + factor(race) + ptl + ht + ui"),
    ("birthwt", "low_star", "low ~ smoke * factor(race)"),
    ("birthwt", "asfactor", "low ~ as.factor(ftv) + I(age >= 25) + I(lwt^2/1000) + abs(age - 23)"),
    ("birthwt", "three_way", "low ~ smoke*ht*ui"),
    ("birthwt", "factor_response", "factor(low) ~ age + as.numeric(race)"),
    (synthetic_mixed, "logical_string", "y ~ age + sex + smoker + site + smoker:site"),
    (synthetic_mixed, "logical_star", "y ~ sex*smoker + I(age > 50) + factor(dose)"),
    (synthetic_mixed, "string_interaction_only", "y ~ site:sex"),
    (synthetic_mixed, "offset", "count ~ age + site + offset(log(exposure))"),
    # R's PowerTerms order (products only, left-major) differs from a + b + a:b ordering:
    (synthetic_mixed, "power_order", "y ~ (site + I(dose * 2 - 1) * dose)^2 - I(dose * 2 - 1)"),
    (synthetic_mixed, "power_no_intercept",
     "y ~ 0 + (log(exposure) + site:factor(dose) + exposure)^2"),
    (synthetic_mixed, "power3_nested", "y ~ (age + sex + smoker)^3 + site/dose"),
    (synthetic_mixed, "compare_string", "y ~ I(site == \"west\") + I(smoker & age > 40) + dose:site"),
]

# random formulas (fixed seed): term algebra, coding rule and names on arbitrary nestings
def _random_formulas(seed: int, k: int) -> list[str]:
    import random

    rnd = random.Random(seed)
    atoms = ["age", "sex", "smoker", "site", "dose", "factor(dose)", "I(age^2)",
             "log(exposure)", "I(age > 50)", "exposure", "I(dose * 2 - 1)",
             'I(site == "west")', "as.numeric(smoker)"]

    def expr(depth: int = 0) -> str:
        if depth > 2 or (depth > 0 and rnd.random() < 0.4):
            return rnd.choice(atoms)
        r = rnd.random()
        if r < 0.1:
            return f"({expr(depth + 1)} + {expr(depth + 1)})^{rnd.choice([2, 3])}"
        if r < 0.15:
            return f"{rnd.choice(atoms)}/{expr(depth + 1)}"
        if r < 0.25:
            return f"{expr(depth + 1)} - {rnd.choice(atoms)}"
        return f"{expr(depth + 1)} {rnd.choice(['+', '*', ':'])} {expr(depth + 1)}"

    return [f"y ~ {rnd.choice(['', '', '0 + ', '-1 + '])}{expr()}" for _ in range(k)]


for _i, _formula in enumerate(_random_formulas(20261125, 16)):
    _MM.append((synthetic_mixed, f"random{_i:02d}", _formula))

_MM += [
    (synthetic_ordered, "ordered_poly", "y ~ grade + age + stage:smoker"),
    (synthetic_ordered, "ordered_no_intercept", "y ~ 0 + grade + stage + grade:age"),
    (synthetic_ordered, "ordered_factor_of", "y ~ factor(grade) + as.factor(stage)"),
]

for _ds, _variant, _formula in _MM:
    _dsname = _ds if isinstance(_ds, str) else _ds.__name__
    register(ParityCase(
        name=f"model_frame.{_variant}.{_dsname}",
        function="model_frame",
        r_twin="stats::model.matrix(terms, model.frame(formula, data))",
        dataset=_ds,
        r_file="glm.R",
        r_function="ref_model_matrix",
        python=_py_model_matrix,
        args={"formula": _formula, "ordered": ["grade", "stage"]}
        if _ds is synthetic_ordered else {"formula": _formula},
        rtol=1e-12,
        atol=0.0,
        exact=("assign", "intercept"),
        description=f"column names, term labels, assign and matrix of `{_formula}`",
    ))

# ---------------------------------------------------------------------------------------------
# glm cases: R's default control (what an R user sees) and epsilon = 1e-12 (the math)
# ---------------------------------------------------------------------------------------------
_GLM = [
    ("lalonde", "binomial.treat", {
        "formula": "treat ~ age + educ + race + married + nodegree + re74 + re75",
        "family": "binomial"}),
    ("birthwt", "binomial.smoke", {
        "formula": "smoke ~ age + lwt + factor(race) + ptl + ht + ui", "family": "binomial"}),
    ("birthwt", "binomial.low_interaction", {
        "formula": "low ~ smoke * factor(race) + age", "family": "binomial"}),
    ("birthwt", "binomial_probit.low", {
        "formula": "low ~ age + lwt + smoke + ht", "family": "binomial", "link": "probit"}),
    ("birthwt", "quasibinomial.low", {
        "formula": "low ~ age + lwt + factor(race) + smoke", "family": "quasibinomial"}),
    (lalonde_weighted, "gaussian_weighted.re78", {
        "formula": "re78 ~ treat + age + educ + race + married", "family": "gaussian",
        "weights": "w"}),
    (birthwt_weighted, "quasipoisson_weighted.ftv", {
        "formula": "ftv ~ age + lwt + factor(race) + smoke", "family": "quasipoisson",
        "weights": "w"}),
    (lalonde_weighted, "binomial_nonint_weights.treat", {
        "formula": "treat ~ age + educ + race + married + re74", "family": "binomial",
        "weights": "w"}),
    (lalonde_weighted, "quasibinomial_weighted.employed", {
        "formula": "employed ~ treat + age + educ + race", "family": "quasibinomial",
        "weights": "w"}),
    (synthetic_mixed, "poisson_offset.count", {
        "formula": "count ~ age + site + offset(log(exposure))", "family": "poisson"}),
    ("lalonde", "binomial_logical_response", {
        "formula": "I(re78 > 0) ~ treat + age + educ + race", "family": "binomial"}),
    ("birthwt", "binomial_factor_response", {
        "formula": "factor(low) ~ age + smoke + ht", "family": "binomial"}),
    ("lalonde", "binomial_aliased", {
        "formula": "treat ~ age + re74 + re75 + I(re74 + re75) + race", "family": "binomial",
        "default_only": True}),
    (birthwt_weighted, "gaussian_zero_weights.bwt", {
        "formula": "bwt ~ age + lwt + smoke + factor(race)", "family": "gaussian",
        "weights": "w0"}),
    (birthwt_weighted, "quasipoisson_zero_weights.ftv", {
        "formula": "ftv ~ age + smoke", "family": "quasipoisson", "weights": "w0"}),
    (birthwt_weighted, "binomial_zero_weights.low", {
        "formula": "low ~ age + lwt + smoke", "family": "binomial", "weights": "w0"}),
    (identity_poisson_halving, "poisson_identity_step_halving.y", {
        "formula": "y ~ x", "family": "poisson", "link": "identity", "default_only": True}),
    (quasi_separated, "binomial_separation.y", {
        "formula": "y ~ x + hi", "family": "binomial", "default_only": True}),
    ("lalonde", "binomial_poly.treat", {
        "formula": "treat ~ poly(age, 2) + educ + race + poly(re74, 2) + married",
        "family": "binomial"}),
    ("lalonde", "binomial_splines.treat", {
        "formula": "treat ~ ns(age, 3) + educ + race + bs(re74, df = 4) + married",
        "family": "binomial"}),
    (synthetic_ordered, "binomial_ordered.y", {
        "formula": "y ~ grade + age + stage", "family": "binomial",
        "ordered": ["grade", "stage"]}),
    (synthetic_mixed, "binomial_logical_string.y", {
        "formula": "y ~ age + sex + smoker + site", "family": "binomial"}),
]

for _ds, _variant, _args in _GLM:
    _dsname = _ds if isinstance(_ds, str) else _ds.__name__
    for _ctl, _eps, _rtol in (("default", None, 1e-6), ("eps1e-12", 1e-12, 1e-9)):
        if _eps is not None and _args.get("default_only"):
            # aliased: epsilon 1e-12 sets the QR tolerance to 1e-15, where an exactly aliased
            # column is detected or not by the last bits of rounding (in R as here);
            # step halving: the fit ends on the boundary, where a fitted mean ~1e-11 is set by
            # rounding; separation: with epsilon 1e-12 the coefficient of the separating
            # covariate diverges for 25 iterations and rounding grows along it (agreement
            # ~1e-9). None is a fair test of the math; R's defaults are checked.
            continue
        _a = {k: v for k, v in _args.items() if k != "default_only"}
        if _eps is not None:
            _a["epsilon"] = _eps
        register(ParityCase(
            name=f"glm.{_variant}.{_dsname}.{_ctl}",
            function="glm",
            r_twin="stats::glm + summary.glm + confint.default",
            dataset=_ds,
            r_file="glm.R",
            r_function="ref_glm",
            python=_py_glm,
            args=_a,
            rtol=_rtol,
            atol=0.0,
            exact=("iter", "rank", "df_residual", "df_null", "converged"),
            description=(
                f"{_args['family']} fit of `{_args['formula']}` with "
                f"{'R defaults' if _eps is None else 'glm.control(epsilon = 1e-12)'}"
            ),
        ))


# ---------------------------------------------------------------------------------------------
# Surv() responses and strata()/cluster() specials
# ---------------------------------------------------------------------------------------------
def lung_complete() -> pd.DataFrame:
    """survival::lung without the rows that have a missing inst or ph.ecog."""
    from carts_iptw.datasets import load_dataset

    d = load_dataset("lung")
    return d.dropna(subset=["inst", "ph.ecog"]).reset_index(drop=True)


def colon_death() -> pd.DataFrame:
    """survival::colon (recurrence and death records of each patient; id is the cluster)."""
    from carts_iptw.datasets import load_dataset

    d = load_dataset("colon")
    return d[["id", "time", "status", "rx", "sex", "age", "etype"]].reset_index(drop=True)


def synthetic_counting() -> pd.DataFrame:
    """Counting-process (start, stop] rows and a three-state factor event."""
    rng = np.random.default_rng(7)
    n = 120
    start = np.round(rng.uniform(0, 5, n), 2)
    stop = start + np.round(rng.uniform(0.1, 10, n), 2)
    ev = rng.choice(["censor", "relapse", "death"], n, p=[0.5, 0.3, 0.2])
    return pd.DataFrame({
        "start": start, "stop": stop, "died": rng.random(n) < 0.4,
        "state": pd.Categorical(ev, categories=["censor", "relapse", "death"]),
        "grp": rng.choice(["a", "b", "c"], n), "x": rng.integers(1, 3, n).astype(np.int64),
        "z": rng.normal(size=n), "id": rng.integers(1, 40, n).astype(np.int64),
    })


def _py_model_frame_surv(data: pd.DataFrame, args) -> dict:
    from carts_iptw.formula import model_frame

    mf = model_frame(args["formula"], data)
    s = mf.surv
    out: dict = {"type": s.type}
    if s.start is not None:
        out["start"] = s.start
    out["time"] = s.time
    out["event"] = s.event.astype(float)
    if s.states is not None:
        out["states"] = list(s.states)
    if "strata" in mf.specials:
        st = mf.specials["strata"]
        out["strata_levels"] = [str(c) for c in st.categories]
        out["strata_codes"] = np.asarray(st.codes, dtype=float) + 1
    if "cluster" in mf.specials:
        out["cluster"] = np.asarray(mf.specials["cluster"], dtype=float)
    out["column_names"] = list(mf.column_names)
    out["X"] = pd.DataFrame(mf.X, columns=mf.column_names)
    return out


_SURV = [
    (lung_complete, "status12_strata", "Surv(time, status) ~ age + sex + strata(ph.ecog)"),
    (lung_complete, "strata_two_vars", "Surv(time, status) ~ age + strata(sex, ph.ecog)"),
    (lung_complete, "cluster", "Surv(time, status) ~ age + factor(ph.ecog) + cluster(inst)"),
    (colon_death, "factor_strata_cluster",
     "Surv(time, status) ~ rx + sex + age + strata(etype) + cluster(id)"),
    (synthetic_counting, "counting_two_strata",
     "Surv(start, stop, died) ~ z + strata(grp) + strata(x)"),
    (synthetic_counting, "multistate", "Surv(stop, state) ~ z + grp"),
    (synthetic_counting, "multistate_counting", "Surv(start, stop, state) ~ z + strata(grp)"),
]

for _ds, _variant, _formula in _SURV:
    register(ParityCase(
        name=f"model_frame.surv.{_variant}.{_ds.__name__}",
        function="model_frame",
        r_twin="survival::Surv / strata / cluster in model.frame (as coxph builds them)",
        dataset=_ds,
        r_file="glm.R",
        r_function="ref_model_frame_surv",
        python=_py_model_frame_surv,
        args={"formula": _formula},
        rtol=0.0,
        atol=0.0,
        r_packages=("survival",),
        description=f"Surv response, specials and model matrix of `{_formula}`",
    ))


# ---------------------------------------------------------------------------------------------
# predict.glm on new data (a subset of rows whose factors miss some levels)
# ---------------------------------------------------------------------------------------------
def _py_glm_predict(data: pd.DataFrame, args) -> dict:
    from carts_iptw.glm_model import glm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GlmWarning)
        fit = glm(args["formula"], data, family=args["family"])
    rows = [r - 1 for r in args["rows"]]  # R's 1-based row numbers
    nd = data.iloc[rows].reset_index(drop=True)
    for col, by in args.get("shift", {}).items():
        nd[col] = nd[col] + by
    return {"link": fit.predict(nd, "link"), "response": fit.predict(nd, "response")}


_ROWS = [1, 2, 3, 190, 200, 250, 300, 400, 500, 614]
for _ds, _variant, _args in (
    ("lalonde", "binomial.treat", {
        "formula": "treat ~ age + I(age^2) + educ + race*married + log(re74 + 1)",
        "family": "binomial", "rows": _ROWS}),
    ("birthwt", "binomial.low", {
        "formula": "low ~ age + smoke * factor(race)", "family": "binomial",
        "rows": [1, 5, 10, 60, 120, 189]}),
    (synthetic_mixed, "poisson_offset.count", {
        "formula": "count ~ age + site + smoker + offset(log(exposure))", "family": "poisson",
        "rows": [1, 2, 3, 4, 5, 6, 7, 8]}),
    ("lalonde", "binomial_bases.treat", {
        "formula": "treat ~ poly(age, 3) + ns(educ, df = 3) + bs(re75, df = 4) + race + "
                   "poly(re74, 2, raw = TRUE)",
        "family": "binomial", "rows": _ROWS}),
    ("lalonde", "binomial_bases_extrapolated.treat", {
        "formula": "treat ~ poly(age, 3) + ns(educ, df = 3) + bs(re75, df = 4, degree = 2) + "
                   "race",
        "family": "binomial", "rows": _ROWS,
        "shift": {"age": 12, "educ": 5, "re75": 30000.5}}),
    ("lalonde", "binomial_bases_below.treat", {
        "formula": "treat ~ ns(age, df = 4) + bs(educ, df = 5) + race",
        "family": "binomial", "rows": _ROWS, "shift": {"age": -10, "educ": -4}}),
):
    _dsname = _ds if isinstance(_ds, str) else _ds.__name__
    register(ParityCase(
        name=f"glm.predict.{_variant}.{_dsname}",
        function="glm",
        r_twin="stats::predict.glm(fit, newdata, type = 'link' / 'response')",
        dataset=_ds,
        r_file="glm.R",
        r_function="ref_glm_predict",
        python=_py_glm_predict,
        args=_args,
        rtol=1e-6,
        description=f"predictions on new rows from `{_args['formula']}`",
    ))


# ---------------------------------------------------------------------------------------------
# family objects: link, inverse link (with R's clamps), mu.eta, variance, deviance, AIC
# ---------------------------------------------------------------------------------------------
def family_grid() -> pd.DataFrame:
    """eta from -800 to 800 (through R's clamps at |eta| = 30, 700 and the probit threshold),
    mu in (0, 1) and beyond, y as 0/1 or counts, non-integer weights."""
    eta = np.r_[-800.0, -701.0, -40.0, -30.5, -30.0, -29.5, -8.3, -3.0, -1e-3, 0.0, 0.7, 2.5,
                8.2, 29.99, 30.01, 36.0, 699.0, 701.0, 800.0, -0.25]
    mu = np.r_[1e-12, 1e-6, 0.01, 0.1, 0.25, 0.5, 0.6, 0.75, 0.9, 0.99, 0.999999, 0.3, 0.45,
               0.05, 0.2, 0.8, 0.35, 0.65, 0.15, 0.95]
    y01 = np.r_[0, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1].astype(float)
    wt = np.r_[1, 2, 1, 3, 1, 1, 2, 1, 1, 4, 1, 1, 2, 1, 1, 1, 3, 1, 1, 2].astype(float)
    return pd.DataFrame({"eta": eta, "mu": mu, "y": y01, "wt": wt})


def family_grid_counts() -> pd.DataFrame:
    d = family_grid()
    d["eta"] = np.clip(d["eta"], -700, 700) / 10
    d["mu"] = d["mu"] * 7 + 0.01
    d["y"] = np.r_[0, 1, 2, 0, 5, 3, 0, 1, 8, 2, 0, 4, 1, 0, 2, 6, 0, 1, 3, 9].astype(float)
    d["wt"] = d["wt"] * 0.75
    return d


def _py_family(data: pd.DataFrame, args) -> dict:
    from carts_iptw.families import get_family

    fam = get_family(args["family"], args.get("link"))
    eta, mu, y, wt = (data[c].to_numpy(dtype=float) for c in ("eta", "mu", "y", "wt"))
    dev = fam.dev_resids(y, mu, wt)
    return {
        "linkinv": fam.linkinv(eta), "mu_eta": fam.mu_eta(eta), "linkfun": fam.linkfun(mu),
        "variance": fam.variance(mu), "dev_resids": dev,
        "aic": fam.aic(y, np.ones(len(y)), mu, wt, float(np.sum(dev))),
    }


for _fam, _link, _ds in (
    ("binomial", "logit", family_grid), ("binomial", "probit", family_grid),
    ("binomial", "cloglog", family_grid), ("quasibinomial", "logit", family_grid),
    ("poisson", "log", family_grid_counts), ("poisson", "identity", family_grid_counts),
    ("quasipoisson", "log", family_grid_counts), ("gaussian", "identity", family_grid_counts),
    ("gaussian", "log", family_grid_counts),
):
    register(ParityCase(
        name=f"family.{_fam}.{_link}",
        function="glm",
        r_twin=f"stats::{_fam}(link = '{_link}') functions (linkinv, mu.eta, linkfun, ...)",
        dataset=_ds,
        r_file="glm.R",
        r_function="ref_family",
        python=_py_family,
        args={"family": _fam, "link": _link},
        rtol=1e-13,
        atol=0.0,
        description=f"{_fam}({_link}) family functions on a grid including R's clamps",
    ))
