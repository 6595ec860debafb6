"""The study's statistical steps, each a thin call to a parity-validated function.

No statistic is computed here: every number comes from ``weightit``, ``bal_tab``, ``svymean``,
``svyquantile``, ``svychisq``, ``svyranktest``, ``svyglm``, ``wilcox_test``, ``chisq_test``,
``fisher_test``, ``survfit``, ``svylogrank``, ``coxph`` or the competing-risks estimator, and is
recorded with that function and its R twin (:func:`carts_iptw.study.provenance.num`). What this
module does itself is bookkeeping: building formulas from the spec, deriving outcome indicator
columns from the spec's expressions, splitting by arm, and counting patients.

The statistics are plain imports of the validated modules (``import carts_iptw`` itself stays
lazy: this module is loaded only when a study runs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from carts_iptw.balance.bal_tab import bal_tab
from carts_iptw.balance.statistics import col_w_smd
from carts_iptw.design.describe import svymean, svyquantile, svytotal
from carts_iptw.design.firth import logistf
from carts_iptw.design.svydesign import SurveyDesign, svydesign
from carts_iptw.design.svyglm import svyglm
from carts_iptw.design.table1_tests import chisq_test, fisher_test, wilcox_test
from carts_iptw.design.tests import svychisq, svyranktest
from carts_iptw.effects.comparisons import prepare_comparisons
from carts_iptw.effects.evalue import evalue
from carts_iptw.effects.rmst import rmst_difference
from carts_iptw.effects.subgroups import subgroup_effects
from carts_iptw.effects.survdiff_at import survfit_difference
from carts_iptw.formula.cache import FrameCache
from carts_iptw.separation import SeparationError
from carts_iptw.study.expr import evaluate, parse
from carts_iptw.study.provenance import num
from carts_iptw.study.spec import Outcome, StudySpec
from carts_iptw.survival.competing import cuminc
from carts_iptw.survival.coxph import coxph
from carts_iptw.survival.logrank import svylogrank
from carts_iptw.survival.survfit import survfit
from carts_iptw.weighting.trim import trim
from carts_iptw.weighting.weightit import weightit


@dataclass
class Context:
    """State shared by the analysis steps.

    The spec, the eligible cohort, the weights, design and weightit result, and the warnings
    recorded.
    """

    spec: StudySpec
    data: pd.DataFrame          # eligible cohort, typed
    weights: np.ndarray | None = None
    design: object | None = None
    weightit: object | None = None
    warnings: list | None = None
    #: the effect models, keyed ("odds_ratio" | "cox" | "continuous", outcome name), kept only
    #: when ``keep_fits`` (missing = "mi" pools them): a fit holds n-length vectors and its
    #: n x p design, ~0.27 GB per outcome model at 10^6 rows
    fits: dict = dataclasses.field(default_factory=dict)
    keep_fits: bool = False
    #: model frames shared by the effect models of the whole cohort (same right-hand side, only
    #: the outcome differs) and their g-computation designs; a domain (``among``) is not cached
    frames: FrameCache = dataclasses.field(default_factory=FrameCache)
    #: the g-computation target rows of the whole cohort, built once
    _gcomp_all: tuple | None = None

    def __post_init__(self):
        """Start with an empty list of warnings."""
        self.warnings = [] if self.warnings is None else self.warnings

    @property
    def trt(self) -> np.ndarray:
        """True for the treated rows."""
        return self.data[self.spec.treatment].to_numpy() == 1

    def keep_fit(self, kind: str, name: str, fit) -> None:
        """Keep an effect model for pooling across imputations (only when ``keep_fits``)."""
        if self.keep_fits:
            self.fits[(kind, name)] = fit

    def warn(self, step: str, message: str) -> None:
        """Record a warning for the report."""
        self.warnings.append({"step": step, "message": message})


@contextlib.contextmanager
def collect_warnings(ctx: Context, step: str):
    """Record every warning a validated function emits in the step (shown in the report)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = set()
    for w in caught:
        msg = str(w.message)
        if msg not in seen:
            seen.add(msg)
            ctx.warn(step, f"{type(w.message).__name__}: {msg}")


def _rhs(cols) -> str:
    return " + ".join(cols)


def _arms(spec: StudySpec) -> list[tuple[str, int]]:
    return [(spec.control_label, 0), (spec.treated_label, 1)]


def check_model_columns(data: pd.DataFrame, spec: StudySpec) -> None:
    """The treatment, model covariates and Table 1 columns of the eligible cohort.

    Present, and without missing values unless the spec's ``missing`` policy handles them
    (``complete`` has dropped the incomplete rows already; ``indicator`` adds missingness
    indicators).
    """
    from carts_iptw.study.cohort import CohortValidationError

    model = spec.model_columns()
    ps_cols = set(spec.propensity.columns)
    t1_cols = {v.column for v in spec.table1}
    # missing = "indicator" covers the propensity model (and its balance table) alone: an
    # adjustment covariate or a Table 1 variable still needs complete values
    ind_ok = {c for c in ps_cols if c not in t1_cols and c not in set(model) - ps_cols
              and not any(c in spec.adjustment(o.adjust) for o in spec.outcomes)} \
        if spec.propensity.missing == "indicator" else set()
    cols = list(dict.fromkeys([spec.treatment, *model, *t1_cols]))
    probs = []
    for c in cols:
        if c not in data.columns:
            probs.append({"column": c, "rule": "column present", "rows": len(data),
                          "message": f"column '{c}': named in the spec but not in the cohort "
                                     f"(column present; {len(data)} row(s))"})
            continue
        k = int(data[c].isna().sum())
        if k and c not in ind_ok:
            what = ("model covariate" if c in model or c == spec.treatment
                    else "Table 1 variable")
            if spec.propensity.missing == "indicator" and c in ps_cols:
                hint = ("; missing = \"indicator\" covers a propensity covariate only when no "
                        "outcome model adjusts for it and Table 1 does not show it")
            elif c in model:
                hint = "; set [propensity] missing = \"complete\" or \"indicator\""
            else:
                hint = ""
            probs.append({"column": c, "rule": f"no missing values in a {what}", "rows": k,
                          "message": f"column '{c}': missing value in a {what} "
                          f"(no missing values in a {what}; {k} row(s)){hint}"})
    if probs:
        raise CohortValidationError(probs)


# ---------------------------------------------------------------- weighting and balance
def fit_weights(ctx: Context) -> dict:
    """Fit the propensity-score weights and summarise them per arm.

    :func:`weightit`, then :func:`trim` when the spec asks; the summary per arm is
    ``summary.weightit``'s.
    """
    spec, p = ctx.spec, ctx.spec.propensity
    formula = f"{spec.treatment} ~ {_rhs(p.covariates)}"
    with collect_warnings(ctx, "propensity weights"):
        W = weightit(formula, ctx.data, method=p.method, estimand=p.estimand,
                     stabilize=p.stabilize, missing="ind" if p.missing == "indicator" else None)
    out = {"formula": formula, "method": p.method, "estimand": p.estimand,
           "stabilize": p.stabilize, "trim_at": p.trim_at, "missing": p.missing,
           "terms": list(p.covariates), "term_labels": [spec.label(t) for t in p.covariates]}
    if p.trim_at is not None:
        W = trim(W, at=p.trim_at)
    ctx.weightit = W
    ctx.weights = np.asarray(W.weights, dtype=float)
    sm = W.summary()
    for label, g in _arms(spec):
        key, col = ("treated", "Treated") if g else ("control", "Control")
        out[label] = {
            "n": num(int((ctx.trt == bool(g)).sum()), "count"),
            "w_min": num(sm.weight_range.loc[key, "min"], "summary.weightit"),
            "w_max": num(sm.weight_range.loc[key, "max"], "summary.weightit"),
            "coef_of_var": num(sm.coef_of_var[key], "summary.weightit"),
            "ess": num(sm.effective_sample_size.loc["Weighted", col], "summary.weightit"),
        }
    return out


def _balance_object(ctx: Context):
    """The weightit result whose covariates are the data columns the propensity terms read.

    Real WeightIt (1.5.1) keeps the variables of the formula (``all.vars``) in ``W$covs`` and
    cobalt's ``bal.tab(W)`` balances those (``age``, not ``I(age^2)``; ``education`` as stored, not
    ``factor(education)``); the package's weightit keeps the terms.
    """
    W = ctx.weightit
    cols = ctx.spec.propensity.columns
    if list(W.covs.columns) == cols:
        return W
    return dataclasses.replace(W, covs=ctx.data[cols].copy(), terms=[[c] for c in cols])


def balance_rows(tab: pd.DataFrame, columns, function: str) -> list[dict]:
    """One row per covariate of a cobalt-style balance table: its name, type and ``columns``.

    A blank cell (cobalt prints it blank) is a value with its reason.
    """
    rows = []
    for name, r in tab.iterrows():
        row = {"covariate": str(name), "type": str(r.get("Type", ""))}
        for col in columns:
            if col in tab.columns:
                v = r[col]
                row[col] = num(None if pd.isna(v) else v, function,
                               reason="not defined for this covariate type (cobalt prints blank)")
        rows.append(row)
    return rows


def balance(ctx: Context) -> tuple[dict, object]:
    """Covariate balance before and after weighting.

    :func:`bal_tab` with standardised mean differences and variance ratios, against the spec's SMD
    threshold; returns the report's summary and the balance table.
    """
    thr = ctx.spec.propensity.smd_threshold
    b = bal_tab(_balance_object(ctx), stats=("mean.diffs", "variance.ratios"), un=True, binary="std",
                continuous="std", thresholds={"mean.diffs": thr})
    tab = b.balance
    rows = balance_rows(tab, ("Diff.Un", "Diff.Adj", "V.Ratio.Un", "V.Ratio.Adj"), "bal_tab")
    cov_rows = tab[tab["Type"].astype(str) != "Distance"] if "Type" in tab.columns else tab
    max_adj = float(np.nanmax(np.abs(cov_rows["Diff.Adj"].to_numpy(dtype=float))))
    max_un = float(np.nanmax(np.abs(cov_rows["Diff.Un"].to_numpy(dtype=float))))
    obs = b.observations
    observations = {
        str(idx): {str(c): num(obs.loc[idx, c], "bal_tab") for c in obs.columns}
        for idx in obs.index
    }
    if max_adj >= thr:
        ctx.warn("balance", f"largest absolute SMD after weighting is {max_adj:.3f} "
                            f"(threshold {thr:g}): balance not achieved for every covariate")
    labels = {c: ctx.spec.label(c) for c in ctx.spec.propensity.columns
              if ctx.spec.label(c) != c}
    labels["prop.score"] = ctx.spec.labels.get("prop.score", "Propensity score")
    return {"threshold": thr, "rows": rows, "observations": observations, "labels": labels,
            "max_abs_smd_unweighted": num(max_un, "bal_tab"),
            "max_abs_smd_weighted": num(max_adj, "bal_tab"),
            "balanced": bool(max_adj < thr)}, b


def make_design(ctx: Context):
    """The survey design of the weighted cohort (:func:`svydesign`), kept on the context."""
    ctx.design = svydesign(ctx.data, weights=ctx.weights)
    return ctx.design


# ---------------------------------------------------------------- Table 1
def _arm_design(ctx: Context, g: int, mask=None):
    m = ctx.trt == bool(g)
    if mask is not None:
        m = m & mask
    return ctx.design.subset(m)


def _unweighted_quantiles(x: np.ndarray) -> np.ndarray:
    # R: quantile(x, c(.25, .5, .75)) (type 7), which numpy's default "linear" method equals
    return np.quantile(x, [0.25, 0.5, 0.75])


def _svyq(ctx, col, g, mask=None):
    d = _arm_design(ctx, g, mask)
    q = svyquantile([col], d, [0.25, 0.5, 0.75], ci=False)[col]["quantile"].to_numpy()
    return q


def _cat_test(ctx: Context, col: str) -> dict:
    """Unweighted chi-squared (Yates for 2x2, R's default) or Fisher when an expected count < 5."""
    x = ctx.data[col]
    if x.nunique() < 2:
        return num(None, "chisq_test", reason="variable is constant in the analysed cohort")
    ch = chisq_test(col, ctx.spec.treatment, data=ctx.data)
    if (np.asarray(ch.expected) < 5).any():
        f = fisher_test(col, ctx.spec.treatment, data=ctx.data)
        return num(f.p_value, "fisher_test")
    return num(ch.p_value, "chisq_test")


def _wcat_test(ctx: Context, col: str) -> dict:
    if ctx.data[col].nunique() < 2:
        return num(None, "svychisq", reason="variable is constant in the analysed cohort")
    return num(svychisq(f"~{col} + {ctx.spec.treatment}", ctx.design).p_value, "svychisq")


def _smds(ctx: Context, X: np.ndarray, binary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unweighted and weighted SMDs of the Table 1 rows (columns of X), as :func:`~carts_iptw.table_one`.

    cobalt's: pooled SD of the unweighted arms; a proportion standardised the same way. One
    :func:`col_w_smd` call per weighting for every row (column by column the same statistic).
    """
    t = ctx.trt.astype(int)
    return (col_w_smd(X, t, None, s_d_denom="pooled", bin_vars=binary),
            col_w_smd(X, t, ctx.weights, s_d_denom="pooled", bin_vars=binary))


def _table1_levels(df: pd.DataFrame, v) -> list:
    s = df[v.column]
    if v.type == "binary":
        return [1]
    return list(s.cat.categories) if isinstance(s.dtype, pd.CategoricalDtype) \
        else sorted(s.dropna().unique().tolist())


def table1(ctx: Context) -> dict:
    """Table 1.

    Unweighted and weighted summaries per arm, SMDs and tests of each variable of the spec.
    The per-level weighted percentages of every variable come from one :func:`svymean` per arm
    (all level indicators at once), the SMDs of every row from one :func:`col_w_smd` per
    weighting; each test is its own call.
    """
    spec, df, trt = ctx.spec, ctx.data, ctx.trt
    for v in spec.table1:
        if v.column not in df.columns:
            raise ValueError(f"Table 1: column '{v.column}' is not in the cohort")
    # the indicator of every level of every binary / categorical variable, in table order
    levels = {v.column: _table1_levels(df, v) for v in spec.table1 if v.type != "continuous"}
    ind: dict[str, np.ndarray] = {"one": np.ones(len(df))}
    for col, lvs in levels.items():
        s = df[col]
        for k, lv in enumerate(lvs):
            ind[f"{col}#{k}"] = (s == lv).to_numpy()
    d = ctx.design
    ind_design = SurveyDesign(pd.DataFrame({k: a.astype(float) for k, a in ind.items()}),
                              d.weights, d.cluster, d.strata, d.weights_name, npsu=d.npsu,
                              iid=d.iid)
    level_keys = [k for k in ind if k != "one"]
    arm = {}
    for label, g in _arms(spec):
        m = trt == bool(g)
        dm = ind_design.subset(m)
        _ = dm.data  # the arm's rows of every indicator at once (not column by column)
        tot = float(np.asarray(svytotal(["one"], dm).coef)[0])
        pct = np.asarray(svymean(level_keys, dm).coef, dtype=float) if level_keys else []
        arm[label] = (m, tot, dict(zip(level_keys, pct, strict=True)))
    # every row's SMD: continuous columns as they are, levels as indicators
    smd_cols, smd_bin = [], []
    for v in spec.table1:
        if v.type == "continuous":
            smd_cols.append(df[v.column].to_numpy(dtype=float))
            smd_bin.append(False)
        else:
            for k in range(len(levels[v.column])):
                smd_cols.append(ind[f"{v.column}#{k}"].astype(float))
                smd_bin.append(True)
    smd_u, smd_w = _smds(ctx, np.column_stack(smd_cols), np.array(smd_bin)) if smd_cols \
        else ([], [])
    rows = []
    n_row = {"variable": "n", "level": "", "kind": "n"}
    for label, _g in _arms(spec):
        m, tot, _ = arm[label]
        n_row[f"{label}|unweighted"] = {"n": num(int(m.sum()), "count")}
        n_row[f"{label}|weighted"] = {"n": num(tot, "svytotal")}
    rows.append(n_row)
    j = 0  # the SMD column of the next row
    for v in spec.table1:
        if v.type == "continuous":
            x = df[v.column].to_numpy(dtype=float)
            row = {"variable": v.label, "column": v.column, "level": "", "kind": "median_iqr"}
            for label, g in _arms(spec):
                m = arm[label][0]
                q = _unweighted_quantiles(x[m])
                row[f"{label}|unweighted"] = {k: num(q[i], "quantile")
                                              for i, k in enumerate(("q1", "median", "q3"))}
                qw = _svyq(ctx, v.column, g)
                row[f"{label}|weighted"] = {k: num(qw[i], "svyquantile")
                                            for i, k in enumerate(("q1", "median", "q3"))}
            row["smd_unweighted"] = num(smd_u[j], "table_one")
            row["smd_weighted"] = num(smd_w[j], "table_one")
            j += 1
            row["p_unweighted"] = num(wilcox_test(x[trt], x[~trt]).p_value, "wilcox_test")
            row["p_weighted"] = num(
                svyranktest(f"{v.column} ~ {spec.treatment}", ctx.design).p_value, "svyranktest")
            rows.append(row)
            continue
        p_u, p_w = _cat_test(ctx, v.column), _wcat_test(ctx, v.column)
        if v.type == "categorical":
            rows.append({"variable": v.label, "column": v.column, "level": "", "kind": "header",
                         "p_unweighted": p_u, "p_weighted": p_w})
        for k, lv in enumerate(levels[v.column]):
            key = f"{v.column}#{k}"
            il = ind[key]
            row = {"variable": v.label if v.type == "binary" else f"  {lv}", "column": v.column,
                   "level": str(lv), "kind": "n_pct"}
            for label, _g in _arms(spec):
                m, _tot, pct = arm[label]
                cnt = int((il & m).sum())
                row[f"{label}|unweighted"] = {"n": num(cnt, "count"),
                                              "pct": num(100.0 * cnt / m.sum(), "percent")}
                row[f"{label}|weighted"] = {"pct": num(100.0 * float(pct[key]), "svymean")}
            row["smd_unweighted"] = num(smd_u[j], "table_one")
            row["smd_weighted"] = num(smd_w[j], "table_one")
            j += 1
            if v.type == "binary":
                row["p_unweighted"], row["p_weighted"] = p_u, p_w
            rows.append(row)
    return {"rows": rows, "arms": [a for a, _ in _arms(spec)],
            "note": "Unweighted: median [IQR] (R quantile type 7), n (%); p from wilcox.test, "
                    "chisq.test (Yates for 2x2) or fisher.test when an expected count is < 5. "
                    "Weighted: svyquantile (qrule 'math'), svymean; p from svyranktest and "
                    "svychisq (Rao-Scott F). SMD: standardised mean difference, treated minus "
                    "control, pooled SD of the unweighted arms (cobalt)."}


# ---------------------------------------------------------------- outcomes
def outcome_column(ctx: Context, o: Outcome) -> str:
    """Add the 0/1 indicator of a binary outcome (from its spec expression); return its name.

    A definition that is NA for an analysed row (a column it reads is missing) is an error
    naming the outcome: exclude such rows with an eligibility rule or ``among``.
    """
    name = f"o_{o.name}"
    yes, na = parse(o.definition, f"outcome '{o.name}' definition").logical(ctx.data)
    rows = _among(ctx, o)
    k = int((na & rows).sum())
    if k:
        raise ValueError(f"outcome {o.name}: its definition is NA for {k} analysed row(s) "
                         f"(a column it reads is missing); exclude them with an eligibility "
                         "rule or 'among'")
    ctx.data[name] = yes.astype("int64")
    if ctx.design is not None:
        ctx.design.data[name] = ctx.data[name].to_numpy()
    return name


def _among(ctx: Context, o: Outcome) -> np.ndarray:
    if not o.among:
        return np.ones(len(ctx.data), dtype=bool)
    return evaluate(o.among, ctx.data, f"outcome '{o.name}' among")


def continuous_outcome(ctx: Context, o: Outcome) -> dict:
    """Weighted mean per arm (svymean) and the weighted mean difference.

    A weighted linear model ``y ~ treatment [+ adjustment]`` (svyglm gaussian, design-based SE), R's
    ``svyglm(y ~ treat, design)``; ``among`` restricts (survey's ``subset``).
    """
    among = _among(ctx, o)
    x = ctx.data[o.column]
    k = int((x.isna().to_numpy() & among).sum())
    if k:
        raise ValueError(f"outcome {o.name}: column '{o.column}' has {k} missing value(s) "
                         "among the analysed rows; exclude them with an eligibility rule "
                         f"(e.g. !is.na({o.column}))")
    if not among.any():
        raise ValueError(f"outcome {o.name}: no row meets '{o.among}'")
    trt = ctx.spec.treatment
    adj = ctx.spec.adjustment(o.adjust)
    terms = [trt, *[a for a in adj if a != trt]]
    formula = f"{o.column} ~ {_rhs(terms)}"
    res = {"name": o.name, "label": o.label, "type": "continuous", "column": o.column,
           "among": o.among, "formula": formula, "adjusted_for": list(adj),
           "primary": o.primary}
    for label, g in _arms(ctx.spec):
        m = (ctx.trt == bool(g)) & among
        d = {"n": num(int(m.sum()), "count")}
        if m.sum() == 0:
            d["mean"] = num(None, "svymean", reason="no rows in this arm")
            d["se"] = num(None, "svymean", reason="no rows in this arm")
        else:
            st = svymean([o.column], _arm_design(ctx, g, among)).tidy().iloc[0]
            d["mean"] = num(st["estimate"], "svymean")
            d["se"] = num(st["std_error"], "svymean")
        res[label] = d
    design = ctx.design.subset(among) if o.among else ctx.design
    with collect_warnings(ctx, f"mean difference {o.name}"):
        fit = svyglm(formula, design, family="gaussian",
                     frames=None if o.among else ctx.frames)
    ctx.keep_fit("continuous", o.name, fit)
    row = fit.tidy().set_index("term").loc[trt]
    res["difference"] = {"estimate": num(row["estimate"], "svyglm"),
                         "se": num(row["std_error"], "svyglm"),
                         "lower": num(row["conf_low"], "svyglm"),
                         "upper": num(row["conf_high"], "svyglm"),
                         "p": num(row["p_value"], "svyglm")}
    # hook for issue 13 (effect measures): further contrasts attach here as res["effects"]
    return res


def binary_outcome(ctx: Context, o: Outcome) -> dict:
    """A binary outcome.

    Events and weighted rates per arm (:func:`svymean`) and the weighted tests and effects.
    """
    col = outcome_column(ctx, o)
    among = _among(ctx, o)
    y = ctx.data[col].to_numpy()
    trt = ctx.trt
    res = {"name": o.name, "label": o.label, "type": "binary", "definition": o.definition,
           "among": o.among, "primary": o.primary}
    if not among.any():
        raise ValueError(f"outcome {o.name}: no patient meets '{o.among}'")
    for label, g in _arms(ctx.spec):
        m = (trt == bool(g)) & among
        d = {"n": num(int(m.sum()), "count"), "events": num(int(y[m].sum()), "count")}
        if m.sum() == 0:
            d["rate_weighted"] = num(None, "svymean", reason="no patients in this arm")
        else:
            wm = svymean([col], _arm_design(ctx, g, among))
            d["rate_weighted"] = num(100.0 * float(np.asarray(wm.coef)[0]), "svymean")
        res[label] = d
    if y[among].min() == y[among].max():
        res["p_weighted"] = num(None, "svychisq", reason="no variation in the outcome")
    else:
        dsub = ctx.design.subset(among) if o.among else ctx.design
        res["p_weighted"] = num(svychisq(f"~{col} + {ctx.spec.treatment}", dsub).p_value,
                                "svychisq")
    # hook for issue 13 (effect measures): the risk difference and ratio attach here as
    # res["effects"] = {"rd": {...}, "rr": {...}}; the report's outcomes table shows them
    return res


def odds_ratio(ctx: Context, o: Outcome) -> dict:
    """Weighted logistic model (svyglm quasibinomial); Firth if separation is detected."""
    col = f"o_{o.name}"
    if col not in ctx.data:
        outcome_column(ctx, o)
    adj = ctx.spec.adjustment(o.adjust)
    terms = [ctx.spec.treatment, *[a for a in adj if a != ctx.spec.treatment]]
    formula = f"{col} ~ {_rhs(terms)}"
    res = {"name": o.name, "label": o.label, "formula": formula, "adjusted_for": list(adj),
           "method": "svyglm"}
    among = _among(ctx, o) if o.among else None
    design = ctx.design.subset(among) if among is not None else ctx.design
    y = design.data[col].to_numpy()
    if y.min() == y.max():
        for k in ("or", "lower", "upper", "p"):
            res[k] = num(None, "svyglm", reason="no variation in the outcome")
        return res
    trt = ctx.spec.treatment
    try:
        with collect_warnings(ctx, f"odds ratio {o.name}"):
            # checks separation first; the cohort's models share their design matrix
            fit = svyglm(formula, design, family="quasibinomial",
                         frames=None if among is not None else ctx.frames)
    except SeparationError as exc:
        sep = exc.result
        kind = "complete" if sep.complete else "quasi-complete"
        msg = (f"{o.label}: {kind} separation by {', '.join(sep.infinite)} (maximum-likelihood "
               "odds ratios are infinite); Firth-penalised estimates reported instead")
        ctx.warn(f"odds ratio {o.name}", msg)
        res["separation"] = {"kind": kind, "terms": list(sep.infinite)}
        res.update(_firth_fit(formula, design, trt))
        res["method"] = "logistf"
        why = "separation: g-computation from a Firth fit is not reported"
        res["effects"] = {k: {c: num(None, "avg_comparisons", reason=why) for c in _EFF_CELLS}
                          for k in ("rd", "rr")}
        res["evalue"] = _evalue_cells(res["or"], res["lower"], res["upper"], "OR", o)
        return res
    ctx.keep_fit("odds_ratio", o.name, fit)
    res.update(_or_cells(fit, trt, "svyglm"))
    res["effects"] = marginal_effects(ctx, o, fit, among)
    res["evalue"] = _evalue_cells(res["or"], res["lower"], res["upper"], "OR", o)
    tr = design.data[trt].to_numpy() == 1
    for label, g in _arms(ctx.spec):
        m = tr == bool(g)
        ev = int(y[m].sum())
        few = min(ev, int(m.sum()) - ev)
        if few < 3:
            ctx.warn(f"odds ratio {o.name}",
                     f"{o.label}: only {few} patient(s) in the rarer outcome class in the "
                     f"{label} arm (near separation): the odds ratio's interval is wide and "
                     "unstable; Firth-penalised estimate reported alongside")
            res["firth"] = _firth_fit(formula, design, trt)
    return res


_EFF_CELLS = ("estimate", "se", "lower", "upper", "p")


def release_frames(ctx: Context, remaining) -> None:
    """Drop the shared model frames once none of the ``remaining`` outcomes can use them.

    They hold n x p arrays (the outcome models' design, its counterfactual copies); the binary
    and continuous outcomes of the whole cohort (no ``among``) share them.
    """
    if not any(o.type in ("binary", "continuous") and not o.among for o in remaining):
        ctx.frames.clear()
        ctx._gcomp_all = None


def gcomp_target(ctx: Context, among: np.ndarray | None = None):
    """The g-computation target rows and averaging weights from the estimand.

    As WeightIt's vignette: all rows (ATE), the treated (ATT), the controls (ATC), unweighted; ATO / ATM
    averaged with the weights. ``among`` restricts to the outcome's analysed rows.
    """
    if among is None and ctx._gcomp_all is not None and ctx._gcomp_all[0] is ctx.data:
        return ctx._gcomp_all[1]
    est = ctx.spec.propensity.estimand
    keep = np.ones(len(ctx.data), dtype=bool) if among is None else np.asarray(among, bool)
    if est == "ATT":
        keep = keep & ctx.trt
    elif est == "ATC":
        keep = keep & ~ctx.trt
    wts = ctx.weights[keep] if est in ("ATO", "ATM") else False
    # every row: the cohort itself (read only), not a copy of it
    out = (ctx.data if keep.all() else ctx.data.loc[keep]), wts
    if among is None:  # the same rows for every outcome of the cohort: shared designs
        ctx._gcomp_all = (ctx.data, out)
    return out


def marginal_effects(ctx: Context, o: Outcome, fit, among=None) -> dict:
    """Marginal risk difference and risk ratio by g-computation.

    On the study's weighted logistic model (``avg_comparisons`` on the svyglm fit; R: ``marginaleffects::
    avg_comparisons(svyglm_fit, variables = treat, newdata = <target>, comparison =
    "difference" | "lnratioavg", transform = "exp" for the ratio)``), z inference.
    """
    trt = ctx.spec.treatment
    nd, wts = gcomp_target(ctx, among if o.among else None)
    out = {}
    # the two counterfactual designs of the target rows are built once for both contrasts
    try:
        with collect_warnings(ctx, f"marginal effects {o.name}"):
            prep = prepare_comparisons(fit, variables=trt, newdata=nd, wts=wts,
                                       frames=None if o.among else ctx.frames)
    except ValueError as exc:
        prep = exc
    for key, cmp in (("rd", "difference"), ("rr", "ratio")):
        try:
            if isinstance(prep, ValueError):
                raise prep
            with collect_warnings(ctx, f"marginal effects {o.name}"):
                a = prep.contrast(cmp)
        except ValueError as exc:  # e.g. a reference risk of 0 for the ratio
            ctx.warn(f"marginal effects {o.name}", f"{o.label}: {cmp}: {exc}")
            out[key] = {c: num(None, "avg_comparisons", reason=str(exc)) for c in _EFF_CELLS}
            continue
        t = a.tidy().iloc[0]
        out[key] = {"estimate": num(t["estimate"], "avg_comparisons"),
                    "se": num(t["std_error"], "avg_comparisons"),
                    "lower": num(t["conf_low"], "avg_comparisons"),
                    "upper": num(t["conf_high"], "avg_comparisons"),
                    "p": num(t["p_value"], "avg_comparisons")}
        if key == "rr":
            out["rr"]["se"]["scale"] = "log"
    out["n_target"] = num(len(nd), "count")
    out["target"] = {"ATT": "treated", "ATC": "controls"}.get(ctx.spec.propensity.estimand,
                                                               "all")
    out["averaging"] = "weighted" if wts is not False else "unweighted"
    rr = out["rr"]
    out["evalue_rr"] = _evalue_cells(rr["estimate"], rr["lower"], rr["upper"], "RR", o)
    return out


def _evalue_cells(est, lo, hi, measure: str, o: Outcome) -> dict:
    """E-values of a ratio and of its CI limit closest to 1 (``evalue``).

    An OR / HR needs the outcome's ``rare`` key in the spec (no default, as EValue).
    """
    vals = [value_of(c) for c in (est, lo, hi)]
    if measure != "RR" and o.rare is None:
        why = f"set rare = true or false in outcome '{o.name}' of the spec for the E-value of the {measure}"
        return {"point": num(None, "evalue", reason=why), "ci": num(None, "evalue", reason=why)}
    if any(v is None or not v > 0 for v in vals):
        why = "the ratio or its interval is not estimated"
        return {"point": num(None, "evalue", reason=why), "ci": num(None, "evalue", reason=why)}
    e = evalue(vals[0], vals[1], vals[2], measure=measure,
               rare=None if measure == "RR" else o.rare)
    out = {"point": num(e.point, "evalue"), "ci": num(e.ci, "evalue"), "measure": measure}
    if measure != "RR":
        out["rare"] = bool(o.rare)
    return out


def value_of(cell):
    """The number in a results cell (``{"value": ...}``) or the cell itself."""
    return cell.get("value") if isinstance(cell, dict) else cell


def _firth_fit(formula: str, design, trt: str) -> dict:
    """Logistf with the IPT weights scaled to mean 1 (sum = n).

    Logistf treats weights as case weights, so unscaled IPT weights (sum ~ 2n under the ATE) would
    overstate the precision.
    """
    w = np.asarray(design.weights, dtype=float)
    cells = _or_cells(logistf(formula, design.data, weights=w / w.mean()), trt, "logistf")
    cells["note"] = ("Firth-penalised logistic regression (logistf), IPT weights scaled to mean "
                     "1; profile penalised-likelihood CI")
    return cells


def _or_cells(fit, term: str, fn: str) -> dict:
    import inspect

    # profile-likelihood CIs cost a maximisation per step: ask only for the treatment term
    # when the result supports it (R: logistf(plconf = ...))
    kw = {"parm": [term]} if "parm" in inspect.signature(fit.odds_ratios).parameters else {}
    ors = fit.odds_ratios(**kw)
    ci_cols = [c for c in ors.columns if "%" in str(c)]
    row = ors.loc[term]
    est_col = [c for c in ors.columns if c not in ci_cols][0]
    return {"or": num(row[est_col], fn), "lower": num(row[ci_cols[0]], fn),
            "upper": num(row[ci_cols[1]], fn), "p": num(fit.p_values[term], fn)}


def distribution_outcome(ctx: Context, o: Outcome) -> dict:
    """Duration / count: weighted median [IQR] per arm and the weighted rank test."""
    among = _among(ctx, o)
    x = ctx.data[o.column]
    k = int((x.isna() & among).sum())
    if k:
        raise ValueError(f"outcome {o.name}: column '{o.column}' has {k} missing value(s) "
                         "among the patients it is analysed in")
    res = {"name": o.name, "label": o.label, "type": o.type, "column": o.column,
           "among": o.among}
    trt = ctx.trt
    if not among.any():
        why = f"no patient meets '{o.among}'"
        for label, _ in _arms(ctx.spec):
            res[label] = {"n": num(0, "count"),
                          **{kq: num(None, "svyquantile", reason=why)
                             for kq in ("q1", "median", "q3")}}
        res["p_weighted"] = num(None, "svyranktest", reason=why)
        ctx.warn(f"outcome {o.name}", f"{o.label}: {why}")
        return res
    for label, g in _arms(ctx.spec):
        m = (trt == bool(g)) & among
        d = {"n": num(int(m.sum()), "count")}
        if m.sum() == 0:
            for kq in ("q1", "median", "q3"):
                d[kq] = num(None, "svyquantile", reason="no patients in this arm")
        else:
            q = _svyq(ctx, o.column, g, among)
            d.update({kq: num(q[i], "svyquantile") for i, kq in enumerate(("q1", "median", "q3"))})
        res[label] = d
    sub = ctx.design.subset(among)
    n_arms = [int(((trt == bool(g)) & among).sum()) for _, g in _arms(ctx.spec)]
    if min(n_arms) < 2:
        res["p_weighted"] = num(None, "svyranktest", reason="fewer than 2 patients in an arm")
    else:
        res["p_weighted"] = num(svyranktest(f"{o.column} ~ {ctx.spec.treatment}", sub).p_value,
                                "svyranktest")
    return res


def time_to_event(ctx: Context, o: Outcome) -> tuple[dict, object]:
    """A time-to-event outcome.

    Weighted Kaplan-Meier (:func:`survfit`) medians and survival at the spec's horizons per arm, and
    the design-based log-rank test (:func:`svylogrank`); returns the summary and the fit.
    """
    trt = ctx.spec.treatment
    surv = f"Surv({o.time}, {o.event})"
    fit = survfit(f"{surv} ~ {trt}", ctx.data, weights=ctx.weights)
    res = {"name": o.name, "label": o.label, "time": o.time, "event": o.event,
           "time_unit": ctx.spec.unit(o)}
    med = fit.median()
    horizons = ctx.spec.horizons
    for label, g in _arms(ctx.spec):
        key = f"{trt}={g}"
        d = {"n": num(int((ctx.trt == bool(g)).sum()), "count"),
             "events": num(int(ctx.data.loc[ctx.trt == bool(g), o.event].sum()), "count")}
        r = med.loc[key]
        for k in ("median", "lower", "upper"):
            d[f"median_{k}"] = num(r[k], "survfit", reason="not reached")
        at = _surv_at(fit, key, horizons)
        d["at"] = {f"{h:g}": {k: num(v, "survfit", reason="beyond follow-up")
                              for k, v in at[h].items()} for h in horizons}
        res[label] = d
    lr = svylogrank(f"{surv} ~ {trt}", ctx.design)
    res["logrank_p"] = num(lr.p_value, "svylogrank")
    res["logrank_chisq"] = num(lr.statistic, "svylogrank")
    res["rmst"] = _rmst(ctx, o, fit)
    res["difference"] = _surv_difference(ctx, o, fit)
    return res, fit


def _cells(row, fn: str) -> dict:
    return {"estimate": num(row["estimate"], fn), "se": num(row["std_error"], fn),
            "lower": num(row["conf_low"], fn), "upper": num(row["conf_high"], fn),
            "p": num(row["p_value"], fn)}


def _last_times(fit) -> float:
    return float(min(fit.table.loc[fit.table["strata"] == s, "time"].max() for s in fit.strata))


def _rmst(ctx: Context, o: Outcome, fit) -> dict:
    """RMST difference (treated minus control) up to ``[study] rmst_tau``.

    Else up to the last horizon; the weighted curve's robust (IJ) variance per arm (``rmst_difference``).
    """
    tau = ctx.spec.rmst_tau if ctx.spec.rmst_tau is not None else max(ctx.spec.horizons)
    out = {"tau": tau, "tau_source": "rmst_tau" if ctx.spec.rmst_tau is not None
           else "last horizon"}
    if tau > _last_times(fit):
        why = "tau beyond the follow-up of an arm"
        ctx.warn(f"RMST {o.name}", f"{o.label}: RMST not estimated: {why}")
        out["difference"] = {c: num(None, "rmst_difference", reason=why) for c in _EFF_CELLS}
        return out
    r = rmst_difference(fit, tau)
    out["variance"] = r.variance
    out["difference"] = _cells(r.tidy().iloc[0], "rmst_difference")
    for label, g in _arms(ctx.spec):
        a = r.arms.loc[f"{ctx.spec.treatment}={g}"]
        out[label] = {"rmean": num(a["rmean"], "rmst_difference"),
                      "se": num(a["se_rmean"], "rmst_difference")}
    return out


def _surv_difference(ctx: Context, o: Outcome, fit) -> dict:
    """Survival difference (treated minus control) at each horizon (``survfit_difference``).

    Null beyond follow-up.
    """
    out = {}
    last = _last_times(fit)
    for h in ctx.spec.horizons:
        if h > last:
            why = "beyond follow-up"
            out[f"{h:g}"] = {c: num(None, "survfit_difference", reason=why) for c in _EFF_CELLS}
            continue
        try:
            d = survfit_difference(fit, [h])
        except ValueError as exc:  # a zero standard error in both arms
            out[f"{h:g}"] = {c: num(None, "survfit_difference", reason=str(exc))
                             for c in _EFF_CELLS}
            continue
        out[f"{h:g}"] = _cells(d.tidy().iloc[0], "survfit_difference")
    return out


def _surv_at(fit, key: str, horizons) -> dict:
    """R's ``summary(fit, times = h)`` per horizon (None beyond the last follow-up time)."""
    tab = fit.at_times(list(horizons))
    out = {}
    for h in horizons:
        r = tab[(tab["strata"] == key) & (tab["time"] == h)] if len(tab) else tab
        if len(r) == 0:
            out[h] = {"surv": None, "lower": None, "upper": None}
        else:
            r = r.iloc[0]
            out[h] = {"surv": r["surv"], "lower": r["lower"], "upper": r["upper"]}
    return out


def cox_model(ctx: Context, o: Outcome, time: str | None = None, event: str | None = None,
              data: pd.DataFrame | None = None) -> dict:
    """The weighted Cox model of the treatment.

    Adjusted for the outcome's adjustment set, robust variance (:func:`coxph`): hazard ratio,
    interval, p-value and robust SE.
    """
    trt = ctx.spec.treatment
    adj = ctx.spec.adjustment(o.adjust)
    terms = [trt, *[a for a in adj if a != trt]]
    data = ctx.data if data is None else data
    formula = f"Surv({time or o.time}, {event or o.event}) ~ {_rhs(terms)}"
    with collect_warnings(ctx, f"Cox model {o.name}"):
        fit = coxph(formula, data, weights=ctx.weights, robust=True)
    ctx.keep_fit("cox", o.name, fit)
    ci = fit.confint(exponentiate=True)
    res = {"name": o.name, "label": o.label, "formula": formula, "adjusted_for": list(adj),
           "hr": num(fit.hr[trt], "coxph"), "lower": num(ci.loc[trt].iloc[0], "coxph"),
           "upper": num(ci.loc[trt].iloc[1], "coxph"), "p": num(fit.p_values[trt], "coxph"),
           "robust_se": num(fit.se[trt], "coxph")}
    res["evalue"] = _evalue_cells(res["hr"], res["lower"], res["upper"], "HR", o)
    return res


# ---------------------------------------------------------------- subgroups
def subgroups(ctx: Context, sg) -> tuple[dict, object]:
    """The effect within each level of ``sg.modifier`` and the interaction test.

    (``subgroup_effects``: svyglm per subgroup + regTermTest), weights kept from the cohort
    or re-estimated within each subgroup (``weightit``, the spec's propensity model).
    """
    spec = ctx.spec
    o = next(x for x in spec.outcomes if x.name == sg.outcome)
    if o.among:
        raise ValueError(f"subgroups: outcome '{o.name}' is analysed 'among' a subset; "
                         "subgroups need an outcome of the whole cohort")
    trt = spec.treatment
    adj = [a for a in spec.adjustment(o.adjust) if a != trt and a != sg.modifier]
    if o.type == "binary":
        col = f"o_{o.name}" if f"o_{o.name}" in ctx.data else outcome_column(ctx, o)
        family = "quasibinomial"
    else:
        col, family = o.column, "gaussian"
    formula = f"{col} ~ {_rhs([trt, *adj])}"
    kw = {}
    if sg.weights == "reestimate":
        p = spec.propensity
        if p.method != "glm" or p.trim_at is not None or p.stabilize or p.missing == "indicator":
            raise ValueError(f"subgroups by '{sg.modifier}': weights = \"reestimate\" needs "
                             "[propensity] method = \"glm\" without trimming, stabilisation or "
                             "missing = \"indicator\"")
        ps = [c for c in p.covariates if c != sg.modifier]
        kw = dict(reestimate=True, ps_formula=f"{trt} ~ {_rhs(ps)}", estimand=p.estimand)
    data = ctx.data.copy()
    data["_sg_w"] = ctx.weights
    with collect_warnings(ctx, f"subgroups {sg.modifier}"):
        r = subgroup_effects(formula, data, trt, sg.modifier, weights="_sg_w", family=family,
                             **kw)
    rows = []
    for _, t in r.tidy().iterrows():
        rows.append({"level": str(t["term"]).split("=", 1)[1], "n": num(int(t["n"]), "count"),
                     **_cells(t, "subgroup_effects")})
    inter = r.interaction
    return {"modifier": sg.modifier, "label": sg.label or spec.label(sg.modifier),
            "outcome": o.name, "outcome_label": o.label, "formula": formula,
            "weights": sg.weights, "effect": r.effect_name, "rows": rows,
            "interaction_p": num(inter["p_value"], "subgroup_effects"),
            "interaction_f": num(inter["statistic"], "subgroup_effects")}, r


def competing_data(ctx: Context, o: Outcome) -> pd.DataFrame:
    """Time to the event (days), with death competing, censored at ``censor_at``.

    status 1 = event at ``time``; 2 = death (``competing_time`` x ``competing_time_scale``)
    before the event and before ``censor_at``; 0 = censored at min(censor_at, follow-up).
    """
    df = ctx.data
    ev = evaluate(o.definition, df, f"outcome '{o.name}' definition")
    t_ev = df[o.time].to_numpy(dtype=float)
    t_death = df[o.competing_time].to_numpy(dtype=float) * o.competing_time_scale
    died = df[o.competing_event].to_numpy() == 1
    k = int((ev & np.isnan(t_ev)).sum())
    if k:
        raise ValueError(f"outcome {o.name}: column '{o.time}' missing for {k} patient(s) "
                         "with the event")
    cap = float(o.censor_at)
    ev = ev & (t_ev <= cap)
    time = np.where(ev, t_ev, np.minimum(cap, t_death))
    status = np.where(ev, 1, np.where(died & (t_death <= cap), 2, 0))
    out = df.copy()
    out["cr_time"] = time
    out["cr_status"] = status.astype("int64")
    out["cr_event"] = (status == 1).astype("int64")
    # multi-state status for survfit: the first level is censoring (R's factor convention)
    out["cr_state"] = pd.Categorical.from_codes(status,
                                                categories=["censor", "event", "competing"])
    return out


def competing(ctx: Context, o: Outcome) -> tuple[dict, object]:
    """Weighted Aalen-Johansen cumulative incidence (death competing) at ``censor_at``."""
    d = competing_data(ctx, o)
    trt = ctx.spec.treatment
    fit = cuminc(f"Surv(cr_time, cr_state) ~ {trt}", d, weights=ctx.weights)
    at = fit.at_times([float(o.censor_at)], "event")
    res = {"name": o.name, "label": o.label, "time_unit": ctx.spec.unit(o), "censor_at": o.censor_at}
    st = d["cr_status"].to_numpy()
    for label, g in _arms(ctx.spec):
        m = ctx.trt == bool(g)
        r = at[at["strata"] == f"{trt}={g}"].iloc[0]
        res[label] = {"n": num(int(m.sum()), "count"),
                      "events": num(int((st[m] == 1).sum()), "count"),
                      "competing": num(int((st[m] == 2).sum()), "count"),
                      "cif": num(r["pstate"], "cuminc"),
                      "lower": num(r["lower"], "cuminc", reason="no events yet"),
                      "upper": num(r["upper"], "cuminc", reason="no events yet")}
    if o.cox:
        res["cox"] = cox_model(ctx, o, "cr_time", "cr_event", data=d)
    return res, fit
