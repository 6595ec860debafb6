"""carts_iptw: IPTW cohort studies in Python, every number proven equal to R.

Public functions keep R's names in snake_case; each docstring names its R twin.
"""

__version__ = "0.1.0"

from carts_iptw.balance import bal_tab as bal_tab  # noqa: E402
from carts_iptw.balance import love_plot as love_plot  # noqa: E402
from carts_iptw.balance import overlap_plot as overlap_plot  # noqa: E402
from carts_iptw.datasets import load_dataset as load_dataset  # noqa: E402
from carts_iptw.design import chisq_test as chisq_test  # noqa: E402
from carts_iptw.design import detect_separation as detect_separation  # noqa: E402
from carts_iptw.design import fisher_test as fisher_test  # noqa: E402
from carts_iptw.design import glm_robust as glm_robust  # noqa: E402
from carts_iptw.design import glm_weightit as glm_weightit  # noqa: E402
from carts_iptw.design import logistf as logistf  # noqa: E402
from carts_iptw.design import svyby as svyby  # noqa: E402
from carts_iptw.design import svychisq as svychisq  # noqa: E402
from carts_iptw.design import svydesign as svydesign  # noqa: E402
from carts_iptw.design import svyglm as svyglm  # noqa: E402
from carts_iptw.design import svymean as svymean  # noqa: E402
from carts_iptw.design import svyquantile as svyquantile  # noqa: E402
from carts_iptw.design import svyranktest as svyranktest  # noqa: E402
from carts_iptw.design import svytotal as svytotal  # noqa: E402
from carts_iptw.design import svyttest as svyttest  # noqa: E402
from carts_iptw.design import wilcox_test as wilcox_test  # noqa: E402
from carts_iptw.families import CartsIptwWarning as CartsIptwWarning  # noqa: E402
from carts_iptw.families import GlmWarning as GlmWarning  # noqa: E402
from carts_iptw.formula import model_frame as model_frame  # noqa: E402
from carts_iptw.glm import glm as glm  # noqa: E402
from carts_iptw.irls import GlmControl as GlmControl  # noqa: E402
from carts_iptw.irls import glm_fit as glm_fit  # noqa: E402
from carts_iptw.survival import CoxControl as CoxControl  # noqa: E402
from carts_iptw.survival import cox_zph as cox_zph  # noqa: E402
from carts_iptw.survival import coxph as coxph  # noqa: E402
from carts_iptw.survival import cuminc_plot as cuminc_plot  # noqa: E402
from carts_iptw.survival import finegray_coxph as finegray_coxph  # noqa: E402
from carts_iptw.survival import forest_plot as forest_plot  # noqa: E402
from carts_iptw.survival import km_plot as km_plot  # noqa: E402
from carts_iptw.survival import survdiff as survdiff  # noqa: E402
from carts_iptw.survival import survfit as survfit  # noqa: E402
from carts_iptw.survival import svycoxph as svycoxph  # noqa: E402
from carts_iptw.survival import svykm as svykm  # noqa: E402
from carts_iptw.survival import svylogrank as svylogrank  # noqa: E402
from carts_iptw.weighting import get_w_from_ps as get_w_from_ps  # noqa: E402
from carts_iptw.weighting import trim as trim  # noqa: E402
from carts_iptw.weighting import weightit as weightit  # noqa: E402
