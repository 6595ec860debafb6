"""Weighted survival analysis at survival / survey parity.

Cox models (robust variance), Kaplan- Meier, log-rank tests, proportional-hazards tests, competing
risks, figures.
"""

from carts_iptw.survival._coxfit import CoxControl
from carts_iptw.survival.competing import (
    SurvFitMS,
    cuminc,
    finegray,
    finegray_coxph,
    finegray_data,
    survfit_ms,
)
from carts_iptw.survival.concordance import concordance_fit
from carts_iptw.survival.coxph import CoxPH, coxph, coxph_fit
from carts_iptw.survival.logrank import SurvDiff, SvyLogrank, survdiff, svylogrank
from carts_iptw.survival.plots import cuminc_plot, forest_plot, km_plot
from carts_iptw.survival.survey import SvyKM, svycoxph, svykm
from carts_iptw.survival.survfit import SurvFit, survfit, survfit_km
from carts_iptw.survival.zph import CoxZph, cox_zph

__all__ = [
    "CoxControl", "CoxPH", "CoxZph", "SurvDiff", "SurvFit", "SurvFitMS", "SvyKM", "SvyLogrank",
    "concordance_fit", "cox_zph", "coxph", "coxph_fit", "cuminc", "cuminc_plot", "finegray", "finegray_coxph",
    "finegray_data",
    "forest_plot", "km_plot", "survdiff", "survfit", "survfit_km", "survfit_ms", "svycoxph",
    "svykm", "svylogrank",
]
