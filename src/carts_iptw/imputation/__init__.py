"""Multiple imputation of missing covariates with pooled inference.

- :func:`mice` (R: ``mice::mice``): ``m`` completed data sets by chained equations
  (statsmodels' ``MICEData`` with predictive mean matching; factors imputed as levels).
- :func:`pool` (R: ``mice::pool``): Rubin's rules with the Barnard-Rubin degrees of freedom.
- :func:`weightit_mi` (R: ``MatchThem::weightthem`` + ``with()`` + ``mice::pool``): weights
  and the effect in each completed data set, pooled; :func:`bal_tab_mi` (R: ``cobalt::bal.tab``
  on imputed data) balance across imputations.
"""

from carts_iptw.imputation.mice import Mids, mice
from carts_iptw.imputation.pool import Mipo, barnard_rubin, pool, pool_scalar
from carts_iptw.imputation.within import (
    BalTabMi,
    WeightItMi,
    bal_tab_mi,
    weightit_mi,
    with_imputations,
)

__all__ = ["BalTabMi", "Mids", "Mipo", "WeightItMi", "bal_tab_mi", "barnard_rubin", "mice",
           "pool", "pool_scalar", "weightit_mi", "with_imputations"]
