"""The result object shared by svyglm, glm_robust and glm_weightit (and the Firth fit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def pct_label(p: float) -> str:
    """R's ``format.perc(p, 3)`` column label, e.g. ``"2.5 %"``, ``"97.5 %"``."""
    s = f"{100 * p:.3g}"
    if "e" in s:
        s = f"{100 * p:f}".rstrip("0").rstrip(".")
    return f"{s} %"


def _stars(p: float) -> str:
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "." if p < 0.1 else ""


class ModelResult:
    """Coefficients with a (robust / design-based / M-estimation) covariance.

    ``coef``, ``se``, ``tvalues``, ``pvalues`` are Series indexed by R's coefficient names;
    ``vcov`` a DataFrame; ``df_residual`` the reference df (``inf`` = normal reference);
    ``confint(level)`` Wald intervals on the same reference; ``odds_ratios()`` exponentiated.
    """

    def __init__(self, coef: pd.Series, vcov: pd.DataFrame, df_residual: float, *,
                 model: str, vcov_type: str, family: str, link: str, formula: str,
                 n: int, glm=None, notes: list[str] | None = None):
        self.coef = coef
        self.vcov = vcov
        self.df_residual = df_residual
        self.model = model
        self.vcov_type = vcov_type
        self.family = family
        self.link = link
        self.formula = formula
        self.n = n
        self.glm = glm
        self.notes = list(notes or [])
        v = np.diag(vcov.to_numpy()) if len(vcov) else np.zeros(0)
        self.se = pd.Series(np.sqrt(v), index=coef.index, name="Std. Error")
        with np.errstate(divide="ignore", invalid="ignore"):
            t = coef.to_numpy() / self.se.to_numpy()
        self.tvalues = pd.Series(t, index=coef.index, name=self._stat_name)
        if np.isinf(df_residual):
            p = 2 * stats.norm.sf(np.abs(t))
        elif df_residual > 0:
            p = 2 * stats.t.sf(np.abs(t), df_residual)
        else:
            p = np.full(len(t), np.nan)
        self.pvalues = pd.Series(p, index=coef.index, name=self._p_name)

    @property
    def _stat_name(self) -> str:
        return "z value" if np.isinf(self.df_residual) else "t value"

    @property
    def _p_name(self) -> str:
        return "Pr(>|z|)" if np.isinf(self.df_residual) else "Pr(>|t|)"

    def _quantile(self, level: float) -> float:
        if not 0 < level < 1:
            raise ValueError("level must be in (0, 1)")
        a = (1 - level) / 2
        if np.isinf(self.df_residual):
            return float(stats.norm.ppf(1 - a))
        if self.df_residual <= 0:
            return np.nan
        return float(stats.t.ppf(1 - a, self.df_residual))

    def _parm(self, parm) -> list[str]:
        if parm is None:
            return list(self.coef.index)
        parm = [parm] if isinstance(parm, str) else list(parm)
        bad = [p for p in parm if p not in self.coef.index]
        if bad:
            raise ValueError(f"unknown coefficient(s) {bad}: not among the model's "
                             f"{len(self.coef)} coefficients (see .coef.index)")
        return parm

    def confint(self, level: float = 0.95, parm=None) -> pd.DataFrame:
        """Wald interval ``coef -/+ q * se`` with ``q`` from the result's reference
        distribution (t with ``df_residual`` df, or normal when it is infinite); ``parm``
        restricts the rows (R's ``confint(fit, parm)``).

        R twins: ``confint(svyglm_fit)`` (survey 4.1-1 ``confint.svyglm``, Wald with
        ``df = df.residual``), ``lmtest::coefci(fit, vcov. = vcovHC(fit))`` (normal) for
        :func:`glm_robust` and :func:`glm_weightit`. Columns are R's ``"2.5 %"``,
        ``"97.5 %"``. Raises ``ValueError`` for ``level`` outside (0, 1) or an unknown
        coefficient name; NaN limits when ``df_residual <= 0``."""
        q = self._quantile(level)
        a = (1 - level) / 2
        rows = self._parm(parm)
        return pd.DataFrame({pct_label(a): self.coef[rows] - q * self.se[rows],
                             pct_label(1 - a): self.coef[rows] + q * self.se[rows]})

    def odds_ratios(self, level: float = 0.95, parm=None) -> pd.DataFrame:
        """``exp(coef)`` with ``exp(confint)`` and the p-value (logit link only).

        R: ``exp(cbind(OR = coef(fit), confint(fit)))`` (the intervals are exponentiated Wald
        limits, so they are not symmetric around the OR). Columns ``OR``, the two percent
        labels, ``p``. Raises ``ValueError`` unless the link is logit."""
        if self.link != "logit":
            raise ValueError(f"odds ratios need a logit link (this model's link is {self.link})")
        rows = self._parm(parm)
        ci = np.exp(self.confint(level, parm=rows))
        out = pd.DataFrame({"OR": np.exp(self.coef[rows])}, index=rows)
        out = pd.concat([out, ci], axis=1)
        out["p"] = self.pvalues[rows]
        return out

    def coef_table(self) -> pd.DataFrame:
        """R's ``coef(summary(fit))`` / ``coeftest`` matrix: Estimate, Std. Error, t (or z)
        value, Pr(>|t|) (or Pr(>|z|)), with ``t = coef / se`` on the reference distribution."""
        return pd.DataFrame({"Estimate": self.coef, "Std. Error": self.se,
                             self._stat_name: self.tvalues, self._p_name: self.pvalues})

    def summary(self) -> str:
        """Text like R's ``summary(fit)`` / ``coeftest(fit)``: the coefficient table with
        significance stars, the covariance type, the reference distribution and any notes."""
        tab = self.coef_table()
        fmt = tab.copy()
        fmt[""] = [_stars(p) for p in self.pvalues]
        lines = [
            f"{self.model}: {self.formula}",
            f"family: {self.family} (link: {self.link}); n = {self.n}; covariance: {self.vcov_type}",
            "",
            fmt.to_string(float_format=lambda v: f"{v:.6g}"),
            "---",
            "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1",
        ]
        if not np.isinf(self.df_residual):
            lines.append(f"reference: t with {self.df_residual:g} df")
        lines += self.notes
        return "\n".join(lines)

    def __repr__(self) -> str:
        coefs = ", ".join(f"{k}={v:.4g}" for k, v in self.coef.items())
        return f"<{self.model} {self.formula!r} ({self.vcov_type}): {coefs}>"
