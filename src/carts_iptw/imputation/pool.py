"""Rubin's rules: ``pool()``, the twin of ``mice::pool`` (mice 3.15.0)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from carts_iptw.results import (
    Result,
    Summary,
    check_level,
    ci_labels,
    format_pvals,
    format_vector,
    matrix_text,
)

#: the pooled table's columns, mice's names (``pool(fit)$pooled``)
POOLED_COLUMNS = ("m", "estimate", "ubar", "b", "t", "dfcom", "df", "riv", "lambda", "fmi")


def barnard_rubin(m: int, b, t, dfcom: float = math.inf) -> np.ndarray:
    """Barnard-Rubin (1999) degrees of freedom, the twin of ``mice:::barnard.rubin``.

    Parameters
    ----------
    m : int
        Number of imputations.
    b, t : array-like
        Between-imputation and total variances.
    dfcom : float, default inf
        Complete-data degrees of freedom.

    Returns
    -------
    numpy.ndarray
        The degrees of freedom.

    Notes
    -----
    R twin: ``mice:::barnard.rubin`` (mice 3.15.0).
    ``lambda = (1 + 1/m) b / t`` (floored at 1e-4 as mice), ``dfold = (m - 1) / lambda^2``,
    ``dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lambda)``; the result is ``dfold`` for an
    infinite ``dfcom``, else ``dfold * dfobs / (dfold + dfobs)``.
    """
    b = np.asarray(b, dtype=float)
    t = np.asarray(t, dtype=float)
    lam = (1 + 1 / m) * b / t
    lam = np.where(lam < 1e-4, 1e-4, lam)
    dfold = (m - 1) / lam**2
    if math.isinf(dfcom):
        return dfold
    dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    return dfold * dfobs / (dfold + dfobs)


def _kind(fit) -> str:
    from carts_iptw.design.results import ModelResult
    from carts_iptw.effects._base import EffectRows
    from carts_iptw.glm_model import GlmResult
    from carts_iptw.survival.coxph import CoxPH

    if isinstance(fit, CoxPH):
        return "coxph"
    if isinstance(fit, ModelResult):
        return fit.model
    if isinstance(fit, GlmResult):
        return "glm"
    if isinstance(fit, EffectRows):
        return "effect"
    raise TypeError(f"pool() takes fitted results of this package (svyglm, glm_weightit, "
                    f"glm_robust, glm, coxph, avg_comparisons, ...), got {type(fit).__name__}")


def _tidy(fit, kind: str) -> pd.DataFrame:
    """``term`` (+ ``contrast``), ``estimate``, ``std_error``: what mice reads from broom."""
    if kind == "effect":
        t = fit.tidy()
        cmp = getattr(fit, "comparison", "difference")
        if cmp != "difference":
            raise ValueError(f"pool() of a '{cmp}' comparison: its estimate is on the ratio "
                             "scale and its standard error on the log scale; pool the "
                             "'difference' (or pool log ratios yourself)")
        keep = [c for c in ("term", "contrast") if c in t.columns]
        extra = [c for c in ("time", "tau") if c in t.columns]
        out = t[keep + extra + ["estimate", "std_error"]].copy()
        return out.reset_index(drop=True)
    coef = fit.coef
    v = np.diag(fit.vcov.to_numpy(dtype=float))
    return pd.DataFrame({"term": [str(i) for i in coef.index],
                         "estimate": coef.to_numpy(dtype=float),
                         "std_error": np.sqrt(v)})


def _dfcom(fit, kind: str) -> float:
    """The complete-data df as mice's ``get.dfcom`` (broom's ``glance`` of the first fit)."""
    p = len(fit.coef) if hasattr(fit, "coef") else 1
    if kind == "svyglm":  # glance.svyglm: df.residual
        return float(fit.df_residual)
    if kind == "glm":  # glance.glm: df.residual
        return float(fit.df_residual)
    if kind == "coxph":  # glance.coxph has nobs, no df.residual: nevent - length(coef)
        return float(max(fit.nevent - p, 1))
    if kind in ("glm_weightit", "glm_robust", "logistf"):
        # glance of a glm_weightit fit has nobs only: nobs - length(coef); glm_robust is a glm
        # in R (glance: df.residual = n - p with positive weights)
        return float(max(fit.n - p, 1))
    # avg_comparisons & co.: broom's glance needs modelsummary (absent): mice assumes Inf
    return math.inf


class Mipo(Result):
    """Pooled estimates, R's ``mipo`` object (``mice::pool``).

    Attributes
    ----------
    pooled : pandas.DataFrame
        mice's ``pool(fit)$pooled``: ``term`` (and ``contrast`` for comparisons), ``m``,
        ``estimate`` (the mean of the estimates), ``ubar`` (mean within-imputation variance),
        ``b`` (between-imputation variance), ``t`` (total variance ``ubar + (1 + 1/m) b``),
        ``dfcom`` (complete-data df), ``df`` (Barnard-Rubin), ``riv`` (relative increase in
        variance), ``lambda`` (proportion of variance due to missingness), ``fmi`` (fraction of
        missing information).
    m : int
        Number of imputations.
    analyses : list
        The pooled fits (R's ``mira$analyses``).

    Notes
    -----
    ``tidy(conf_level)`` is ``summary(pool(fit), conf.int = TRUE)`` in snake_case: ``term``,
    ``estimate``, ``std_error`` (``sqrt(t)``), ``statistic``, ``df``, ``p_value`` (t with
    ``max(df, 0.001)`` df, as mice), ``conf_low``, ``conf_high`` (t quantiles with ``df``),
    plus ``exp_estimate``, ``exp_conf_low``, ``exp_conf_high`` where the fits have a ratio
    scale (logit / log links, Cox). R twin: ``mice::pool`` (mice 3.15.0).
    """

    def __init__(self, pooled: pd.DataFrame, m: int, analyses: list, ratio_scale=None):
        self.pooled = pooled
        self.m = m
        self.analyses = analyses
        self.ratio_scale = ratio_scale

    @property
    def estimate(self) -> pd.Series:
        """The pooled estimates, indexed by term."""
        return pd.Series(self.pooled["estimate"].to_numpy(), index=self._labels())

    @property
    def std_error(self) -> pd.Series:
        """``sqrt(t)``, indexed by term."""
        return pd.Series(np.sqrt(self.pooled["t"].to_numpy()), index=self._labels())

    def _labels(self):
        return list(self.pooled["term"])

    def tidy(self, conf_level: float = 0.95) -> pd.DataFrame:
        """R's ``summary(pool(fit), conf.int = TRUE)`` in snake_case (see the class notes)."""
        level = check_level(conf_level)
        x = self.pooled
        keys = [c for c in ("term", "contrast", "time", "tau") if c in x.columns]
        se = np.sqrt(x["t"].to_numpy(dtype=float))
        est = x["estimate"].to_numpy(dtype=float)
        df = x["df"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = est / se
        p = 2 * stats.t.sf(np.abs(stat), np.maximum(df, 0.001))
        q = stats.t.ppf(1 - (1 - level) / 2, df)
        out = x[keys].copy()
        out["estimate"] = est
        out["std_error"] = se
        out["statistic"] = stat
        out["df"] = df
        out["p_value"] = p
        out["conf_low"] = est - q * se
        out["conf_high"] = est + q * se
        if self.ratio_scale is not None:
            out["exp_estimate"] = np.exp(est)
            out["exp_conf_low"] = np.exp(out["conf_low"])
            out["exp_conf_high"] = np.exp(out["conf_high"])
        return out.reset_index(drop=True)

    def _print_text(self) -> str:
        t = self.tidy()
        lo, hi = ci_labels(0.95)
        out = pd.DataFrame(index=[""] * len(t))
        out["term"] = t["term"].astype(str).to_numpy()
        if "contrast" in t.columns:
            out["contrast"] = t["contrast"].astype(str).to_numpy()
        for c, lab in (("estimate", "estimate"), ("std_error", "std.error"),
                       ("statistic", "statistic"), ("df", "df")):
            out[lab] = [s.strip() for s in format_vector(t[c].to_numpy(dtype=float), 4)]
        out["p.value"] = format_pvals(t["p_value"].to_numpy(dtype=float), 3)
        out[lo] = [s.strip() for s in format_vector(t["conf_low"].to_numpy(dtype=float), 4)]
        out[hi] = [s.strip() for s in format_vector(t["conf_high"].to_numpy(dtype=float), 4)]
        return (f"Pooled over m = {self.m} imputations (Rubin's rules, Barnard-Rubin df)\n"
                + matrix_text(out) + "\n")

    def summary(self) -> Summary:
        """The printout with ``.table`` = ``tidy()`` and ``.pooled``."""
        return Summary(self._print_text(), table=self.tidy(), pooled=self.pooled.copy())


def pool(results: Sequence, dfcom: float | None = None) -> Mipo:
    """Pool fits of the ``m`` completed data sets by Rubin's rules: ``mice::pool`` (mice 3.15.0).

    Parameters
    ----------
    results : sequence of fitted results
        One fit per imputation, all of one kind and with the same terms: :func:`svyglm`,
        :func:`glm_weightit`, :func:`glm_robust`, :func:`glm`, :func:`coxph`
        (its robust variance when robust, as mice takes broom's ``robust.se``),
        :func:`avg_comparisons` (``comparison="difference"``).
    dfcom : float, optional
        Complete-data degrees of freedom. Default as mice's ``get.dfcom`` (broom's ``glance``
        of the first fit): ``df.residual`` for svyglm and glm; ``nobs - length(coef)`` for
        glm_weightit (and glm_robust); ``nevent - length(coef)`` for coxph; ``Inf`` for
        avg_comparisons (mice warns "Infinite sample size assumed": broom's glance of a
        marginaleffects object needs the modelsummary package). A given value is floored at 1,
        as mice's ``max(dfcom, 1)``.

    Returns
    -------
    Mipo
        ``.pooled`` with mice's columns (``estimate``, ``ubar``, ``b``, ``t``, ``dfcom``,
        ``df``, ``riv``, ``lambda``, ``fmi``) and ``tidy()`` = ``summary(pool(fit),
        conf.int = TRUE)``.

    Raises
    ------
    ValueError
        Fewer than 2 fits; fits whose terms differ; a non-finite estimate or standard error;
        a ratio comparison.
    TypeError
        Not a list of fitted results of this package, or fits of different kinds.

    Notes
    -----
    Rubin's rules (``rule = "rubin1987"``): ``qbar`` the mean of the estimates, ``ubar`` the
    mean of the squared standard errors, ``b`` their sample variance (``var``, divisor
    ``m - 1``), ``t = ubar + (1 + 1/m) b``, ``riv = (1 + 1/m) b / ubar``, ``lambda = (1 + 1/m)
    b / t``, ``fmi = (riv + 2 / (df + 3)) / (riv + 1)``, ``df`` by :func:`barnard_rubin`.
    Only the diagonal of each covariance is used, as mice. R twin: ``mice::pool`` (mice
    3.15.0), ``summary(pool(fit), conf.int = TRUE)`` for ``tidy()``.
    """
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
        raise TypeError("results must be a list of fitted results, one per imputation")
    results = list(results)
    m = len(results)
    if m < 2:
        raise ValueError(f"pool() needs fits of at least 2 imputations, got {m}")
    kinds = [_kind(f) for f in results]
    if len(set(kinds)) != 1:
        raise TypeError("pool() needs fits of one kind (e.g. all svyglm)")
    kind = kinds[0]
    tabs = [_tidy(f, kind) for f in results]
    keys = [c for c in tabs[0].columns if c not in ("estimate", "std_error")]
    for t in tabs[1:]:
        if list(t.columns) != list(tabs[0].columns) or len(t) != len(tabs[0]) or \
                not t[keys].astype(str).equals(tabs[0][keys].astype(str)):
            raise ValueError("the fits have different terms (a factor level missing from one "
                             "completed data set?): pool() needs the same terms in every fit")
    est = np.column_stack([t["estimate"].to_numpy(dtype=float) for t in tabs])
    se = np.column_stack([t["std_error"].to_numpy(dtype=float) for t in tabs])
    if not (np.isfinite(est).all() and np.isfinite(se).all()):
        raise ValueError("a fit has a non-finite estimate or standard error (an aliased "
                         "coefficient?): pool() cannot combine it")
    if dfcom is None:
        dfc = _dfcom(results[0], kind)
    else:
        try:
            dfc = float(dfcom)
        except (TypeError, ValueError):
            raise TypeError("dfcom must be a number") from None
        if math.isnan(dfc):
            raise ValueError("dfcom must be a number, not NaN")
        dfc = max(dfc, 1.0)
    qbar = est.mean(axis=1)
    ubar = (se**2).mean(axis=1)
    b = est.var(axis=1, ddof=1)
    t = ubar + (1 + 1 / m) * b
    df = barnard_rubin(m, b, t, dfc)
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = (1 + 1 / m) * b / ubar
    lam = (1 + 1 / m) * b / t
    fmi = (riv + 2 / (df + 3)) / (riv + 1)
    pooled = tabs[0][keys].copy()
    pooled["m"] = m
    pooled["estimate"] = qbar
    pooled["ubar"] = ubar
    pooled["b"] = b
    pooled["t"] = t
    pooled["dfcom"] = dfc
    pooled["df"] = df
    pooled["riv"] = riv
    pooled["lambda"] = lam
    pooled["fmi"] = fmi
    ratio = getattr(results[0], "ratio_scale", None) if kind != "effect" else None
    if kind == "coxph":
        ratio = "hazard ratio"
    return Mipo(pooled.reset_index(drop=True), m, results, ratio)


def pool_scalar(Q, U, n: float = math.inf, k: int = 1) -> dict:
    """Rubin's rules for one scalar estimate, the twin of ``mice::pool.scalar`` (mice 3.15.0).

    Parameters
    ----------
    Q : array-like
        The ``m`` estimates.
    U : array-like
        Their ``m`` variances (squared standard errors).
    n : float, default inf
        Sample size (``inf``: large-sample df).
    k : int, default 1
        Number of parameters: the complete-data df is ``n - k``.

    Returns
    -------
    dict
        mice's names: ``m``, ``qbar``, ``ubar``, ``b``, ``t``, ``df`` (Barnard-Rubin with
        ``dfcom = n - k``), ``r`` (relative increase in variance), ``fmi``; plus ``lambda``.

    Raises
    ------
    ValueError
        Fewer than 2 estimates, lengths that differ, non-finite or negative variances.

    Notes
    -----
    R twin: ``mice::pool.scalar(Q, U, n, k)`` (mice 3.15.0, ``rule = "rubin1987"``):
    ``t = ubar + (m + 1) b / m``, ``r = (1 + 1/m) b / ubar``, ``fmi = (r + 2 / (df + 3)) /
    (r + 1)``.
    """
    q = np.asarray(Q, dtype=float).ravel()
    u = np.asarray(U, dtype=float).ravel()
    if len(q) < 2:
        raise ValueError(f"pool_scalar() needs at least 2 estimates, got {len(q)}")
    if len(u) != len(q):
        raise ValueError("Q and U must have one value per imputation each")
    if not (np.isfinite(q).all() and np.isfinite(u).all()) or (u < 0).any():
        raise ValueError("pool_scalar() needs finite estimates and finite non-negative "
                         "variances")
    m = len(q)
    qbar = float(q.mean())
    ubar = float(u.mean())
    b = float(q.var(ddof=1))
    r = (1 + 1 / m) * b / ubar if ubar > 0 else math.inf
    t = ubar + (m + 1) * b / m
    df = float(barnard_rubin(m, b, t, float(n) - k))
    fmi = (r + 2 / (df + 3)) / (r + 1)
    return {"m": m, "qbar": qbar, "ubar": ubar, "b": b, "t": t, "df": df, "r": r,
            "fmi": fmi, "lambda": (1 + 1 / m) * b / t}
