"""Marginal effects after weighting.

Average treatment effects on the risk scale by G-formula, IPTW and AIPTW (``ate``),
g-computation contrasts (``avg_comparisons``), restricted mean survival time (``rmst_difference``),
survival / cumulative-incidence differences at horizons (``survfit_difference``), E-values
(``evalue``), subgroup effects with the interaction test (``subgroup_effects``).
"""

from carts_iptw.effects.ate import ATE, ate
from carts_iptw.effects.comparisons import AvgComparisons, avg_comparisons
from carts_iptw.effects.evalue import EValue, evalue
from carts_iptw.effects.rmst import RMSTDifference, rmst_difference
from carts_iptw.effects.subgroups import SubgroupEffects, subgroup_effects
from carts_iptw.effects.survdiff_at import SurvivalDifference, survfit_difference

__all__ = ["ATE", "AvgComparisons", "EValue", "RMSTDifference", "SubgroupEffects", "SurvivalDifference",
           "ate", "avg_comparisons", "evalue", "rmst_difference", "subgroup_effects", "survfit_difference"]
