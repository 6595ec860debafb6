"""Balance tables: the Python twin of ``cobalt::bal.tab()`` for binary treatments.

R twin: ``cobalt::bal.tab`` (4.6.1; ``bal.tab.weightit``, ``bal.tab.formula``; the table is built
as ``balance_table()`` and ``samplesize()`` in R/functions_for_processing.R build it).

Rows carry cobalt's names (``prop.score`` of Type ``Distance`` first for a weightit object, factor
levels split as ``race_black``), columns cobalt's (``Type``, ``M.0.Un``, ``SD.0.Un``, ``M.1.Un``,
``SD.1.Un``, ``Diff.Un``, ``V.Ratio.Un``, ``KS.Un``, the same with ``.Adj``, and ``M.Threshold``
/ ``V.Threshold`` / ``KS.Threshold`` when thresholds are given).

Conventions (cobalt's):

* ``binary="raw"`` (difference in proportions) and ``continuous="std"`` by default; the distance
  (propensity score) is standardised like a continuous covariate.
* ``s_d_denom`` defaults from the estimand: ATE -> ``"pooled"``, ATT -> ``"treated"``,
  ATC -> ``"control"``, ATO / ATM -> ``"weighted"``; with no estimand, the group whose weights
  are all equal (when the other group's are not), else ``"pooled"``. The standardisation factor
  is computed once, from the sample weighted by the sampling weights only (``"weighted"`` also
  uses the balancing weights), and used for both the unadjusted and adjusted differences.
* Variance ratios are not computed for binary covariates; SDs of binary covariates are shown only
  with ``binary="std"``.
* ``Observations``: Kish effective sample sizes per group, rows ``Unadjusted`` / ``Adjusted``.

Differences from cobalt, on purpose: the defaults of ``stats`` (mean differences, variance ratios
and KS statistics) and ``un`` (``True``) follow this project's API contract; cobalt's own
defaults are ``stats = "mean.diffs"`` and ``un = FALSE``. The group means and SDs are always in
``.balance`` (cobalt computes them with ``quick = FALSE`` or ``disp``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carts_iptw._validation import (
    as_binary_treatment,
    check_finite,
    check_weights,
    require_dataframe,
)
from carts_iptw.balance import statistics as st
from carts_iptw.balance.covariates import cobalt_matrix, rhs_terms, variable_frame
from carts_iptw.results import Summary, TableResult

STATS = {
    "mean.diffs": ("Diff", "M.Threshold"),
    "variance.ratios": ("V.Ratio", "V.Threshold"),
    "ks.statistics": ("KS", "KS.Threshold"),
}


def _match_stat(s: str) -> str:
    hits = [k for k in STATS if k.startswith(s)]
    if len(hits) != 1:
        raise ValueError(f"stats entry {s!r} must (uniquely) abbreviate one of {list(STATS)}")
    return hits[0]


@dataclass(repr=False)
class BalTab(TableResult):
    """Result of :func:`bal_tab` (``cobalt::bal.tab`` twin).

    Attributes
    ----------
    balance : pandas.DataFrame
        Cobalt's rows and columns.
    observations : pandas.DataFrame
        Sample sizes.
    s_d_denom, binary, continuous, stats, thresholds, estimand, un
        The settings of the table.

    Notes
    -----
    ``table()`` the printed columns, ``tidy()`` the balance table with the row names as
    ``variable``, ``summary()`` / ``repr`` cobalt's print. A table, not a model: no
    ``confint()``. R twin: ``cobalt::bal.tab`` (cobalt 4.6.1).
    """

    balance: pd.DataFrame
    observations: pd.DataFrame
    s_d_denom: str
    binary: str
    continuous: str
    stats: tuple[str, ...]
    thresholds: dict = field(default_factory=dict)
    estimand: str | None = None
    un: bool = True

    def table(self) -> pd.DataFrame:
        """The columns cobalt's ``print(bal.tab(...))`` shows.

        Type and the requested statistics (``Diff.Un``, ``Diff.Adj``, ``V.Ratio.*``, ``KS.*``) and
        threshold columns.
        """
        keep = ["Type"]
        for s in self.stats:
            pre, thr = STATS[s]
            for c in ((f"{pre}.Un",) if self.un or "Adj" not in "".join(self.balance.columns)
                      else ()) + (f"{pre}.Adj", thr):
                if c in self.balance.columns:
                    keep.append(c)
        return self.balance[keep]

    def tidy(self) -> pd.DataFrame:
        """Every balance column with cobalt's row names as the first column, ``variable``."""
        return self.balance.rename_axis("variable").reset_index()

    def _print_text(self) -> str:
        with pd.option_context("display.width", 140, "display.max_columns", 20):
            b = self.table().round(4).to_string()
            o = self.observations.round(2).to_string()
        head = "Balance Measures (cobalt::bal.tab twin)"
        return f"{head}\n{b}\n\nSample sizes\n{o}\n"

    def summary(self) -> Summary:
        """Cobalt's ``print(bal.tab(...))``.

        ``.table`` is the printed columns, ``.observations`` the sample sizes.

        (Until 0.1 ``summary()`` returned that DataFrame: use ``summary().table`` or ``table()``.)
        """
        return Summary(self._print_text(), table=self.table(), observations=self.observations)


def _default_s_d_denom(estimand, treat, weights):
    if estimand is not None:
        e = str(estimand).upper()
        table = {"ATE": "pooled", "ATT": "treated", "ATC": "control", "ATO": "weighted",
                 "ATM": "weighted"}
        if e in table:
            return table[e]
    if weights is None:
        return "pooled"

    def same(x):
        return bool(np.ptp(x) < st._SQRT_EPS) if len(x) else True

    for g, name in ((0, "control"), (1, "treated")):
        if same(weights[treat == g]) and not same(weights[treat != g]):
            return name
    return "pooled"


def bal_tab(obj, data: pd.DataFrame | None = None, weights=None, *,
            stats: Sequence[str] = ("mean.diffs", "variance.ratios", "ks.statistics"),
            un: bool = True, binary: str | None = None, continuous: str | None = None,
            s_d_denom: str | None = None, thresholds: Mapping[str, float] | None = None,
            estimand: str | None = None, s_weights=None, distance=None) -> BalTab:
    """Covariate balance table, the twin of ``cobalt::bal.tab``.

    Parameters
    ----------
    obj : WeightItResult or str
        A :class:`~carts_iptw.weighting.weightit.WeightItResult` (then its covariates,
        treatment, weights, sampling weights, estimand and propensity score are used, the score
        as the ``prop.score`` distance row) or a formula ``"treat ~ x1 + x2"``. The formula is
        read by the package's R-formula parser (backticked names such as ```x-1``` as in
        ``model_frame``); rows are cobalt's.
    data : pandas.DataFrame, optional
        The data of a formula.
    weights : str or array-like, optional
        Balancing weights with a formula (array or column name of ``data``).
    stats : sequence of str, default ("mean.diffs", "variance.ratios", "ks.statistics")
        The statistics.
    un : bool, default True
        Also the unadjusted statistics.
    binary, continuous : {"raw", "std"}, optional
        Raw or standardised differences (cobalt's defaults: ``binary="raw"``,
        ``continuous="std"``).
    s_d_denom : str, optional
        The standardisation denominator (``"pooled"``, ``"treated"``, ``"control"``, ``"all"``,
        ``"weighted"``); default by estimand as cobalt.
    thresholds : mapping of str to float, optional
        Balance thresholds per statistic (threshold columns).
    estimand : str, optional
        The estimand with a formula.
    s_weights : str or array-like, optional
        Sampling weights with a formula.
    distance : array-like or dict, optional
        Distance (array, or dict name -> array) rows with a formula.

    Returns
    -------
    BalTab
        ``.balance`` (rows with cobalt's names, e.g. ``race_black``, ``prop.score``; columns
        ``Type``, ``M.0.Un``, ``M.1.Un``, ``SD.*``, ``Diff.Un``, ``Diff.Adj``, ``V.Ratio.*``,
        ``KS.*`` and threshold columns), ``.observations`` and ``.summary()``.

    Raises
    ------
    TypeError
        ``obj`` is neither a weightit result nor a formula string.
    ValueError
        Unknown statistic, ``binary``/``continuous`` not raw/std, unknown ``s_d_denom`` or
        estimand; missing treatment column; non-binary treatment; an empty treatment group;
        infinite covariate values; negative / missing weights; a distance of the wrong length.

    Notes
    -----
    Statistics (cobalt's ``col_w_smd``, ``col_w_vr``, ``col_w_ks``; see
    :mod:`carts_iptw.balance.statistics`): mean differences treated minus control, standardised
    by ``s_d_denom``; variance ratios treated / control; KS statistics.

    R twin version: cobalt 4.6.1 (sources read, not installable here). Formulas, with ``w`` the
    balancing weights times the sampling weights (Austin & Stuart 2015)::

        SMD = (xbar_w,1 - xbar_w,0) / s*,   xbar_w,g = sum_{g} w x / sum_{g} w
        s* ("pooled")  = sqrt((s_1^2 + s_0^2) / 2)   from the *unweighted* (sampling-weighted)
                          groups; "treated"/"control": that group's s; "all": whole sample
        s^2 (continuous) = sum v (x - xbar_v)^2 / (1 - sum v^2),  v = w / sum w
        s^2 (binary)     = p (1 - p)
        VR  = s_1,w^2 / s_0,w^2                      (continuous covariates only)
        KS  = max_x |F_w,1(x) - F_w,0(x)|

    Default ``s_d_denom`` (cobalt): ATE "pooled", ATT "treated", ATC "control", ATO/ATM
    "weighted"; binary covariates are raw differences in proportions (``binary="raw"``) and
    continuous ones standardised (``continuous="std"``). ``.observations`` holds the sample
    sizes and the Kish effective sample sizes ``(sum w)^2 / sum w^2`` per group.

    Differences from cobalt 4.6.1 (README "Conventions that differ from R"): default
    ``stats = (mean.diffs, variance.ratios, ks.statistics)`` and ``un=True`` (cobalt:
    ``"mean.diffs"``, ``un = FALSE``); group means and SDs are always in ``.balance``. Missing
    covariate values are reported as cobalt does (``<NA>`` indicator rows), not raised; the KS
    statistic of a continuous covariate with missing values uses the weights of the units that
    carry the values (cobalt 4.6.1's ``col_w_ks`` pairs the remaining values with the weights of
    the first units in row order).

    As cobalt 4.6.1: with ``un=False`` the unadjusted columns are kept, all NaN; a distance
    (propensity score) row gets a threshold label only when it is balanced (``""`` otherwise);
    for a weightit result the rows are WeightIt's ``covs``, the data columns the formula reads,
    untransformed (``factor(race)`` is reported as ``race``, ``I(age^2)`` as ``age``; no
    interactions); with a formula, its terms in R's order (interactions ``a * b`` after the main
    effects, two-valued variables split into both levels inside them).

    References
    ----------
    Austin PC, Stuart EA (2015) Stat Med 34:3661-3679; Austin PC (2009) Stat Med 28:3083-3107;
    Greifer N, cobalt 4.6.1 ``?bal.tab`` and ``?col_w_smd``.
    """
    stats = tuple(dict.fromkeys(_match_stat(s) for s in stats))
    thr: dict[str, float] = {}
    for k, v in (thresholds or {}).items():
        s = _match_stat(k)
        thr[s] = float(v)
        if s not in stats:
            stats = stats + (s,)
    binary = binary or "raw"
    continuous = continuous or "std"
    for nm, val in (("binary", binary), ("continuous", continuous)):
        if val not in ("raw", "std"):
            raise ValueError(f"{nm} must be 'raw' or 'std'; got {val!r}")

    dist: dict[str, np.ndarray] = {}
    if hasattr(obj, "weights") and hasattr(obj, "treat") and hasattr(obj, "covs"):
        # cobalt's bal.tab.weightit reports WeightIt's object$covs: the variables the formula
        # reads, untransformed, one term each (no interactions, no factor() / I() calls)
        covs = obj.covs
        terms = None
        treat = np.asarray(obj.treat, dtype=float)
        w = np.asarray(obj.weights, dtype=float)
        sw = obj.s_weights
        estimand = estimand or obj.estimand
        treat_labels = getattr(obj, "treat_labels", ("Control", "Treated"))
        if getattr(obj, "ps", None) is not None:
            dist["prop.score"] = np.asarray(obj.ps, dtype=float)
    elif isinstance(obj, str):
        data = require_dataframe(data)
        lhs, _, terms = rhs_terms(obj)
        if lhs is None:
            raise ValueError("the formula needs the treatment on its left-hand side")
        if lhs not in data.columns:
            raise ValueError(f"unknown column '{lhs}' (treatment not in data)")
        treat = as_binary_treatment(data[lhs], lhs)
        s = data[lhs]
        if isinstance(s.dtype, pd.CategoricalDtype):
            lv = [c for c in s.cat.categories if (s == c).any()]
            treat_labels = (str(lv[0]), str(lv[1]))
        else:
            treat_labels = ("Control", "Treated")
        covs = variable_frame(obj, data)
        w = None if weights is None else check_weights(_column_or(weights, data, "weights"),
                                                       "weights", n=len(data))
        sw = None if s_weights is None else _column_or(s_weights, data, "s_weights")
    else:
        raise TypeError("bal_tab() needs a weightit result or a formula string with data")

    n = len(treat)
    sw = np.ones(n) if sw is None else check_weights(sw, "s_weights", n=n)
    for c in covs.columns:  # missing values are cobalt's <NA> rows; infinite values raise
        if pd.api.types.is_numeric_dtype(covs[c]) and covs[c].dtype != bool:
            k = int(np.isinf(covs[c].to_numpy(dtype=float)).sum())
            if k:
                raise ValueError(f"column '{c}' has {k} infinite value(s)")
    if distance is not None:
        if isinstance(distance, Mapping):
            dist.update({k: check_finite(v, f"distance '{k}'") for k, v in distance.items()})
        else:
            dist["distance"] = check_finite(distance, "distance")
        for k, v in dist.items():
            if v.shape != (n,):
                raise ValueError(f"distance '{k}' must have one value per row ({n})")
    if estimand is not None and str(estimand).upper() not in ("ATE", "ATT", "ATC", "ATO", "ATM",
                                                              "ATOS"):
        raise ValueError("estimand must be one of 'ATE', 'ATT', 'ATC', 'ATO', 'ATM', 'ATOS'")
    for g, lab in ((0, "control"), (1, "treated")):
        if not (treat == g).any():
            raise ValueError(f"treatment has no {lab} units: one treatment group is empty")
        for wv, wn in ((sw, "s_weights"), (None if w is None else w * sw, "weights")):
            if wv is not None and not wv[treat == g].sum() > 0:
                raise ValueError(f"{wn} are zero for every {lab} unit: one treatment group has "
                                 "zero total weight (empty group)")

    cm = cobalt_matrix(covs, terms)
    C = cm.X
    names = list(cm.names)
    types = list(cm.types)
    if dist:
        C = np.column_stack([np.column_stack(list(dist.values())), C])
        names = list(dist) + names
        types = ["Distance"] * len(dist) + types
    bin_vars = np.array([t == "Binary" for t in types])
    std = (bin_vars & (binary == "std")) | (~bin_vars & (continuous == "std"))

    if s_d_denom is None:
        s_d_denom = _default_s_d_denom(estimand, treat, w)
    elif s_d_denom not in st.S_D_DENOMS:
        raise ValueError(f"s_d_denom must be one of {st.S_D_DENOMS}; got {s_d_denom!r}")
    if s_d_denom == "weighted" and w is None:
        s_d_denom = "all"

    # one standardisation factor for both samples (cobalt passes weighted.weights = weights[[1]])
    denom = np.ones(C.shape[1])
    groups = st.split_groups(C, treat)  # the control and treated rows, split once
    if std.any():
        every = bool(std.all())
        denom[std] = st.compute_s_d_denom(C if every else C[:, std], treat, s_d_denom, sw,
                                          bin_vars[std], weighted_weights=w,
                                          groups=groups if every else None)

    sd_ok = np.ones(len(names), dtype=bool) if binary == "std" else ~bin_vars
    cols: dict[str, object] = {"Type": types}
    samples = []
    samples.append(("Un", np.ones(n)))  # with un=False set to NaN below, as cobalt
    if w is not None:
        samples.append(("Adj", w))
    for tag, wt in samples:
        ww = wt * sw
        for g, Cg, wwg in zip(("0", "1"), groups, st.split_groups(ww, treat), strict=True):
            cols[f"M.{g}.{tag}"] = st.col_w_mean(Cg, wwg)
            sds = np.full(len(names), np.nan)
            if sd_ok.any():
                sds[sd_ok] = st.col_w_sd(Cg if sd_ok.all() else Cg[:, sd_ok], wwg,
                                         bin_vars[sd_ok])
            cols[f"SD.{g}.{tag}"] = sds
        for s in stats:
            pre, thname = STATS[s]
            if s == "mean.diffs":
                d = st.col_w_smd(C, treat, wt, std=std, s_d_denom=denom, s_weights=sw)
                absf = np.abs
            elif s == "variance.ratios":
                d = np.full(len(names), np.nan)
                if (~bin_vars).any():
                    d[~bin_vars] = st.col_w_vr(C[:, ~bin_vars], treat, wt, sw)

                def absf(x):
                    return np.maximum(x, 1 / x)
            else:
                d = st.col_w_ks(C, treat, wt, sw, bin_vars)
                absf = np.abs
            cols[f"{pre}.{tag}"] = d
            if s in thr and (tag == "Adj" or w is None):
                t = thr[s]
                ok = absf(np.where(np.isfinite(d), d, 1.0)) < t
                # cobalt 4.6.1: a distance row is labelled only when balanced ("" otherwise)
                lab = np.where(
                    ((np.array(types) == "Distance") & ~ok) | ~np.isfinite(d), "",
                    np.where(ok, f"Balanced, <{_r_round3(t)}", f"Not Balanced, >{_r_round3(t)}"))
                cols[thname if tag == "Adj" else f"{thname}.Un"] = lab
    balance = pd.DataFrame(cols, index=pd.Index(names))
    if not un and w is not None:
        # cobalt 4.6.1 with un = FALSE keeps the unadjusted columns, all NA
        un_cols = [c for c in balance.columns if c.endswith(".Un")]
        balance[un_cols] = np.nan
    balance = balance[_ordered_columns(balance.columns, stats)]

    ctrl, trt = treat_labels
    if w is None:
        obs = pd.DataFrame({ctrl: [st.ess(sw[treat == 0])], trt: [st.ess(sw[treat == 1])]},
                           index=["All"])
    else:
        obs = pd.DataFrame(
            {ctrl: [st.ess(sw[treat == 0]), st.ess((w * sw)[treat == 0])],
             trt: [st.ess(sw[treat == 1]), st.ess((w * sw)[treat == 1])]},
            index=["Unadjusted", "Adjusted"])
    return BalTab(balance=balance, observations=obs, s_d_denom=s_d_denom, binary=binary,
                  continuous=continuous, stats=stats, thresholds=thr, estimand=estimand, un=un)


def _column_or(values, data: pd.DataFrame, what: str):
    """A column name (as ``weightit``'s ``s_weights``, ``svydesign``'s ``weights``) or values."""
    if isinstance(values, str):
        if values not in data.columns:
            raise ValueError(f"unknown column '{values}' ({what} not in data)")
        return data[values]
    return values


def _r_round3(x: float) -> str:
    r = round(x, 3)
    return str(int(r)) if float(r).is_integer() else repr(r)


def _ordered_columns(cols, stats) -> list[str]:
    order = ["Type"]
    for tag in ("Un", "Adj"):
        order += [f"M.0.{tag}", f"SD.0.{tag}", f"M.1.{tag}", f"SD.1.{tag}"]
        for s in STATS:
            if s in stats:
                pre, thname = STATS[s]
                order += [f"{pre}.{tag}", thname if tag == "Adj" else f"{thname}.Un"]
    return [c for c in order if c in cols]
