"""The result object shared by svyglm, glm_robust and glm_weightit (and the Firth fit)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from carts_iptw.results import ModelResults, Summary, print_coefmat


class ModelResult(ModelResults):
    """Coefficients with a (robust / design-based / M-estimation) covariance.

    Returned by :func:`svyglm`, :func:`glm_robust` and :func:`glm_weightit`.

    Attributes
    ----------
    coef, se, statistic, p_values : pandas.Series
        Indexed by R's coefficient names.
    vcov : pandas.DataFrame
        The covariance.
    df : float
        The reference df: ``inf`` = normal reference, else t.
    design
        The survey design of an svyglm fit, else None.
    data
        The fitted data, else None.
    weightit
        The weights object of a glm_weightit fit, else None.

    Notes
    -----
    The results contract of :mod:`carts_iptw.results`: ``confint(level)`` (Wald intervals on
    the same reference), ``coef_table()``, ``tidy()``, ``summary()``; ``odds_ratios()``
    exponentiated (logit link). R twins: ``survey::svyglm`` (survey 4.1-1),
    ``sandwich::vcovHC`` + ``lmtest::coeftest`` and ``WeightIt::glm_weightit`` (WeightIt
    1.5.1).
    """

    def __init__(self, coef: pd.Series, vcov: pd.DataFrame, df_residual: float, *,
                 model: str, vcov_type: str, family: str, link: str, formula: str,
                 n: int, glm=None, notes: list[str] | None = None, design=None, data=None,
                 weightit=None):
        self.coef = coef
        self.vcov = vcov
        self.df_residual = float(df_residual)
        self.model = model
        self.vcov_type = vcov_type
        self.family = family
        self.link = link
        self.formula = formula
        self.n = n
        self.glm = glm
        self.design = design
        self.data = data  # the fitted data (glm_robust, glm_weightit): avg_comparisons' units
        self.weightit = weightit  # glm_weightit: the weights object (estimand, s_weights)
        self.notes = list(notes or [])
        self.ratio_scale = {"logit": "odds ratio", "log": "ratio"}.get(link)

    @property
    def df(self) -> float:
        """Reference degrees of freedom: ``df_residual`` (``inf``: normal reference)."""
        return self.df_residual

    def odds_ratios(self, level: float = 0.95, parm=None) -> pd.DataFrame:
        """``exp(coef)`` with ``exp(confint)`` and the p-value (logit link only).

        R: ``exp(cbind(OR = coef(fit), confint(fit)))`` (the intervals are exponentiated Wald
        limits, so they are not symmetric around the OR). Columns ``OR``, the two percent
        labels, ``p``. Raises ``ValueError`` unless the link is logit.
        """
        if self.link != "logit":
            raise ValueError(f"odds ratios need a logit link (this model's link is {self.link})")
        rows = self._rows(parm)
        ci = np.exp(self.confint(level, parm=rows))
        out = pd.DataFrame({"OR": np.exp(self.coef[rows])}, index=rows)
        out = pd.concat([out, ci], axis=1)
        out["p"] = self.p_values[rows]
        return out

    def _print_text(self) -> str:
        lines = [f"{self.model}: {self.formula}",
                 f"family: {self.family} (link: {self.link}); n = {self.n}; "
                 f"covariance: {self.vcov_type}", "",
                 "Coefficients:", print_coefmat(self.coef_table())]
        if not math.isinf(self.df_residual):
            lines.append(f"(t reference with {self.df_residual:g} degrees of freedom)")
        lines += self.notes
        return "\n".join(lines)

    def summary(self) -> Summary:
        """R's ``summary(fit)`` / ``coeftest(fit)``.

        The coefficient table with significance stars, the covariance type, the reference
        distribution and any notes; the table is ``.coefficients``.
        """
        return Summary(self._print_text(), coefficients=self.coef_table())
