"""carts_iptw: IPTW cohort studies in Python, every number proven equal to R.

Public functions keep R's names in snake_case; each docstring names its R twin.
"""

__version__ = "0.1.0"

from carts_iptw.families import CartsIptwWarning as CartsIptwWarning  # noqa: E402
from carts_iptw.families import GlmWarning as GlmWarning  # noqa: E402
from carts_iptw.formula import model_frame as model_frame  # noqa: E402
from carts_iptw.glm import glm as glm  # noqa: E402
from carts_iptw.irls import GlmControl as GlmControl  # noqa: E402
from carts_iptw.irls import glm_fit as glm_fit  # noqa: E402
