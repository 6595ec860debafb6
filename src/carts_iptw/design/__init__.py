"""Design-based inference.

Survey designs, weighted GLMs with robust / design-based / M-estimation covariances, Firth
regression, weighted and unweighted tests.
"""

from carts_iptw.design.describe import svyby, svymean, svyquantile, svytotal
from carts_iptw.design.firth import logistf
from carts_iptw.design.glm_robust import glm_robust
from carts_iptw.design.glm_weightit import glm_weightit
from carts_iptw.design.htest import HTest
from carts_iptw.design.results import ModelResult
from carts_iptw.design.sandwich import vcov_design, vcov_hc
from carts_iptw.design.svydesign import SurveyDesign, svydesign
from carts_iptw.design.svyglm import svyglm
from carts_iptw.design.table1_tests import chisq_test, fisher_test, wilcox_test
from carts_iptw.design.tests import svychisq, svyranktest, svyttest
from carts_iptw.separation import check_separation, detect_separation

__all__ = [
    "svydesign", "SurveyDesign", "svymean", "svytotal", "svyby", "svyquantile", "svychisq",
    "svyttest", "svyranktest", "wilcox_test", "chisq_test", "fisher_test", "svyglm",
    "glm_robust", "glm_weightit", "logistf", "detect_separation", "check_separation",
    "vcov_hc", "vcov_design", "ModelResult", "HTest",
]
