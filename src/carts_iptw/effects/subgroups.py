"""Treatment effects within subgroups, with the interaction test.

Twins of ``survey::svyglm`` on a domain (``subset(design, modifier == level)``) and
``survey::regTermTest`` (survey 4.1-1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from carts_iptw._validation import column_or_vector, require_columns, require_dataframe
from carts_iptw.effects._base import EffectRows
from carts_iptw.results import format_num, format_pval


class SubgroupEffects(EffectRows):
    """Result of :func:`subgroup_effects`.

    The rows (``tidy()``): one row per level of the modifier (``term`` = ``modifier=level``;
    ``n`` rows, ``estimate`` the treatment coefficient, exponentiated with its interval on a
    logit / log link: ``std_error`` and ``statistic`` then stay on the coefficient (log) scale).

    Attributes
    ----------
    interaction
        The test of the treatment x modifier product term (``statistic`` F, ``df``, ``ddf``,
        ``p_value``: R's ``regTermTest``).
    weights_source : str
        Whether the weights were kept from the whole cohort or re-estimated within each
        subgroup.

    Notes
    -----
    R twin: ``survey::svyglm`` per subgroup and ``survey::regTermTest`` (survey 4.1-1).
    """

    def plot(self, title: str | None = None, figsize=None, labels=None, palette=None, ax=None):
        """Forest plot of the subgroup effects (ratio scale, log axis).

        With the interaction p in the title; :func:`carts_iptw.forest_plot` on this table.
        ``labels`` (a dict from ``modifier=level`` or one label per level) renames the rows,
        ``palette`` colours the estimates, ``ax`` draws into the caller's Axes.

        Returns the matplotlib ``Figure`` (or ``ax``). ``ValueError`` for a difference scale
        (identity link).
        """
        from carts_iptw.survival.plots import forest_plot

        if not self.ratio:
            raise ValueError("the forest plot is drawn on the ratio scale (logit or log link)")
        from carts_iptw._plotting import resolve_labels

        t = self.tidy()
        terms = resolve_labels(list(t["term"]), labels)
        df = pd.DataFrame({"hr": t["estimate"].to_numpy(), "lower": t["conf_low"].to_numpy(),
                           "upper": t["conf_high"].to_numpy()},
                          index=[f"{a} (n = {n})" for a, n in zip(terms, t["n"], strict=True)])
        p = format_pval(self.interaction["p_value"], 3)
        ttl = title or f"{self.effect_name.capitalize()} by subgroup; interaction p " + (
            p if p.startswith("<") else f"= {p}")
        return forest_plot(df, title=ttl, xlabel=f"{self.effect_name} (log scale)",
                           figsize=figsize, palette=palette, ax=ax)


def _wald_term(fit, label: str):
    """survey::regTermTest(fit, ~label, method = "Wald"): F = b' V^-1 b / k on (k, df)."""
    mf = fit.glm.model_frame
    if label not in mf.term_labels:
        raise ValueError(f"the model has no term '{label}'")
    j = mf.term_labels.index(label) + 1
    cols = [i for i, a in enumerate(mf.assign) if a == j]
    b = fit.coef.to_numpy()[cols]
    V = fit.vcov.to_numpy()[np.ix_(cols, cols)]
    k = len(cols)
    chisq = float(b @ np.linalg.solve(V, b))
    df = fit.df
    if np.isinf(df):
        return {"statistic": chisq, "df": k, "ddf": np.inf, "p_value": float(stats.chi2.sf(chisq, k))}
    F = chisq / k
    return {"statistic": F, "df": k, "ddf": float(df), "p_value": float(stats.f.sf(F, k, df))}


def subgroup_effects(formula: str, data: pd.DataFrame, treatment: str, modifier: str,
                     weights=None, ps_formula: str | None = None, reestimate: bool = False,
                     estimand: str = "ATE", family: str = "quasibinomial",
                     conf_level: float = 0.95) -> SubgroupEffects:
    """Effect of ``treatment`` within each level of ``modifier`` and the test of effect modification.

    Parameters
    ----------
    formula : str
        Outcome model within a subgroup, e.g. ``"y ~ treat"`` (must contain ``treatment``, not
        ``modifier``).
    data : pandas.DataFrame
        The cohort.
    treatment : str
        Treatment column name.
    modifier : str
        Modifier column name (treated as a factor).
    weights : str or array-like, optional
        IPT weights of the whole cohort (column name, ``"~column"`` or array).
    ps_formula : str, optional
        Propensity formula for re-estimating the weights within subgroups.
    reestimate : bool, default False
        Re-estimate the weights within each subgroup (see Notes).
    estimand : str, default "ATE"
        Estimand of the re-estimated weights.
    family : str, default "quasibinomial"
        An :func:`svyglm` family.
    conf_level : float, default 0.95
        Confidence level.

    Returns
    -------
    SubgroupEffects
        One row per level of the modifier; ``interaction`` (the test of the product term) and
        ``weights_source``.

    Raises
    ------
    ValueError
        Unknown columns; an empty subgroup or one without both treatment groups; a modifier with
        fewer than 2 levels; missing weights (or ``ps_formula`` with ``reestimate``);
        ``modifier`` inside ``formula``; the errors of :func:`svyglm` (separation, ...).

    Notes
    -----
    R twin (survey 4.1-1): per level ``survey::svyglm(formula, design = subset(des, modifier ==
    level), family)`` (coefficient of the treatment, ``confint.svyglm``) and
    ``survey::regTermTest(svyglm(y ~ treatment * modifier + ..., des), ~treatment:modifier)``
    (Wald F test on the design's residual df).

    Weights: by default (``reestimate=False``) the IPT ``weights`` of the whole cohort are kept
    and each subgroup is a domain of the whole design (survey's ``subset``: R's semantics of
    analysing a subpopulation). With ``reestimate=True`` the weights are estimated again within
    each subgroup by :func:`weightit` from ``ps_formula`` (``estimand``), each subgroup is then
    its own design (R: ``svydesign(ids = ~1, weights = W_level$weights, data = subset)``), and
    the interaction test uses the subgroup weights put together. The result says which
    (``weights_source``).

    References
    ----------
    Lumley T (2010) Complex Surveys, Wiley; survey 4.1-1 ``?svyglm``, ``?regTermTest``.
    """
    from carts_iptw.design.svydesign import svydesign
    from carts_iptw.design.svyglm import svyglm

    data = require_dataframe(data)
    require_columns(data, [treatment, modifier])
    if not isinstance(formula, str) or "~" not in formula:
        raise TypeError("formula must be a model formula string such as 'y ~ treat'")
    lhs, rhs = (s.strip() for s in formula.split("~", 1))
    rhs_vars = {v.strip() for v in rhs.replace("*", "+").replace(":", "+").split("+")}
    if modifier in rhs_vars:
        raise ValueError(f"the modifier '{modifier}' must not be in formula (it is added as the "
                         "interaction)")
    if treatment not in rhs_vars:
        raise ValueError(f"formula must contain the treatment '{treatment}'")
    m = data[modifier]
    if m.isna().any():
        raise ValueError(f"column '{modifier}' (modifier) has {int(m.isna().sum())} missing "
                         "value(s)")
    levels = list(m.cat.categories) if isinstance(m.dtype, pd.CategoricalDtype) else sorted(pd.unique(m))
    if len(levels) < 2:
        raise ValueError(f"modifier '{modifier}' has fewer than 2 levels")
    if reestimate:
        if ps_formula is None:
            raise ValueError("reestimate=True needs ps_formula to estimate weights within subgroups")
    elif weights is None:
        raise ValueError("weights (the cohort's IPT weights) are required unless reestimate=True")
    w_all = None
    if weights is not None:
        w_all, _ = column_or_vector(data, weights, "weights")
        w_all = np.asarray(w_all, dtype=float)
    rows, fits = [], []
    w_combined = np.zeros(len(data)) if reestimate else w_all
    for k, lv in enumerate(levels):
        mask = (m == lv).to_numpy()
        sub = data.loc[mask]
        if mask.sum() == 0:
            raise ValueError(f"subgroup {k + 1} of {len(levels)} of '{modifier}' is empty")
        if sub[treatment].nunique() < 2:
            raise ValueError(f"subgroup {k + 1} of {len(levels)} of '{modifier}' does not have "
                             f"both levels of '{treatment}'")
        if reestimate:
            from carts_iptw.weighting import weightit

            W = weightit(ps_formula, sub.reset_index(drop=True), estimand=estimand)
            w_combined[mask] = W.weights
            fit = svyglm(formula, svydesign(sub.reset_index(drop=True), weights=W.weights),
                         family=family)
        else:
            fit = svyglm(formula, svydesign(data, weights=w_all).subset(mask), family=family)
        terms = [t for t in fit.coef.index if t.startswith(treatment)]
        if len(terms) != 1:
            raise ValueError(f"the treatment '{treatment}' must give one coefficient (binary)")
        t = fit.tidy(conf_level).set_index("term").loc[terms[0]]
        rows.append({"term": f"{modifier}={lv}", "contrast": terms[0],
                     "estimate": t["estimate"], "std_error": t["std_error"],
                     "statistic": t["statistic"], "p_value": t["p_value"],
                     "conf_low": t["conf_low"], "conf_high": t["conf_high"],
                     "n": int(mask.sum())})
        fits.append(fit)
    table = pd.DataFrame(rows)
    link = fits[0].link
    ratio = link in ("logit", "log")
    if ratio:
        for col in ("estimate", "conf_low", "conf_high"):
            table[col] = np.exp(table[col])
    dm = data.copy()
    dm[modifier] = pd.Categorical(m, categories=levels)
    full = svyglm(f"{lhs} ~ {rhs} + {treatment} * {modifier}",
                  svydesign(dm, weights=w_combined), family=family)
    inter = _wald_term(full, f"{treatment}:{modifier}")
    source = ("re-estimated within each subgroup (weightit)" if reestimate else
              "kept from the whole cohort (subgroups are domains of the whole design)")
    name = {"logit": "odds ratio", "log": "ratio"}.get(link, "difference (coefficient)")
    foot = [f"Effect: {name} of {treatment} from svyglm ({family}); t reference on each "
            "subgroup's residual df.",
            f"Weights: {source}.",
            f"Interaction {treatment}:{modifier} (regTermTest, Wald): F = "
            f"{format_num(inter['statistic'], 4)} on {inter['df']} and {format_num(inter['ddf'], 4)} "
            f"df, p = {format_pval(inter['p_value'], 4)}"]
    res = SubgroupEffects(table, conf_level, title=f"Subgroup effects of {treatment} by {modifier}",
                          footer=foot,
                          scale_note="Std. Error and statistic on the coefficient (log) scale."
                          if ratio else "")
    res.interaction = inter
    res.ratio = ratio
    res.effect_name = name
    res.weights_source = "reestimated" if reestimate else "cohort"
    res.fits = fits
    return res
