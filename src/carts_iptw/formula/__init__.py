"""The one R-formula layer.

``model_frame(formula, data)`` with R's term algebra, treatment contrasts and column names;
``Surv()`` responses and ``strata()``/``cluster()`` specials.
"""

from .frame import ModelFrame, model_frame
from .parser import FormulaSyntaxError
from .surv import SurvResponse

__all__ = ["ModelFrame", "model_frame", "FormulaSyntaxError", "SurvResponse"]
