"""Parity of warnings: the Python function gives R's warnings where it says it mirrors them.

R's reference functions here (r_reference/conditions.R) let every warning reach the harness
(``rbridge.call_r_captured``); the cases are ``warnings="mirrored"``, so the set of Python's
warnings must equal R's (``compare.compare_warnings``), besides the numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.parity.cases.glm import quasi_separated
from carts_iptw.parity.registry import ParityCase, register


def _py_glm(data, args):
    from carts_iptw.glm_model import glm
    from carts_iptw.irls import GlmControl

    fit = glm(args["formula"], data, family="binomial",
              control=GlmControl(epsilon=args.get("epsilon", 1e-8), maxit=args.get("maxit", 25)))
    return {"coef": fit.coef, "deviance": fit.deviance, "iter": fit.iter,
            "converged": float(fit.converged)}


def separated() -> pd.DataFrame:
    """Complete separation: y = 1 exactly when x > 0.3."""
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=80), 4)
    return pd.DataFrame({"y": (x > 0.3).astype(np.int64), "x": x})


def not_converging() -> pd.DataFrame:
    """A logistic model that needs more than 2 IRLS iterations (lalonde-like, deterministic)."""
    from carts_iptw.datasets import load_dataset

    return load_dataset("lalonde")[["treat", "age", "educ", "re74"]]


register(ParityCase(
    name="glm.warnings.separation.complete", function="glm", r_twin="stats::glm",
    dataset=separated, r_file="conditions.R", r_function="ref_glm_conditions",
    args={"formula": "y ~ x"}, python=_py_glm, warnings="mirrored",
    # complete separation: the coefficients run off along the IRLS path, the same on both
    # sides after 25 iterations (relative 1e-12 here), so the default tolerance holds
    exact=("iter", "converged"),
    description="glm.fit: fitted probabilities numerically 0 or 1 occurred",
))
register(ParityCase(
    name="glm.warnings.separation.quasi_separated", function="glm", r_twin="stats::glm",
    dataset=quasi_separated, r_file="conditions.R", r_function="ref_glm_conditions",
    args={"formula": "y ~ x + hi"}, python=_py_glm, warnings="mirrored",
    # separation: the IRLS path (same on both sides) stops where the deviance criterion does
    exact=("iter", "converged"),
    description="quasi-complete separation that R fits without a warning: none in Python either",
))
register(ParityCase(
    name="glm.warnings.maxit2.lalonde", function="glm", r_twin="stats::glm",
    dataset=not_converging, r_file="conditions.R", r_function="ref_glm_conditions",
    args={"formula": "treat ~ age + educ + re74", "maxit": 2}, python=_py_glm,
    warnings="mirrored", exact=("iter", "converged"),
    description="glm.fit: algorithm did not converge (maxit = 2)",
))


def monotone_cox() -> pd.DataFrame:
    """Every patient with x = 1 has an event before any patient with x = 0 is at risk of one:
    the partial likelihood is monotone in x (its coefficient runs to +infinity)."""
    n = 40
    i = np.arange(n)
    x = (i < 15).astype(int)
    time = np.where(x == 1, 1.0 + i, 100.0 + i)
    status = np.where((x == 1) | (i % 3 != 0), 1, 0)
    z = np.round(np.sin(i * 1.7) * 2.0, 3)
    return pd.DataFrame({"time": time, "status": status, "x": x, "z": z})


def _py_coxph(data, args):
    from carts_iptw.survival import coxph
    from carts_iptw.survival._coxfit import CoxControl

    fit = coxph(args["formula"], data, ties=args["ties"],
                control=CoxControl(iter_max=args.get("iter_max", 20)))
    return {"loglik": np.asarray(fit.loglik, dtype=float), "coef": fit.coef[list(args["finite"])],
            "iter": fit.iter}


register(ParityCase(
    name="coxph.warnings.monotone", function="coxph", r_twin="survival::coxph",
    dataset=monotone_cox, r_file="conditions.R", r_function="ref_coxph_conditions",
    args={"formula": "Surv(time, status) ~ x + z", "ties": "efron", "finite": ["z"]},
    python=_py_coxph, warnings="mirrored", r_packages=("survival",), exact=("iter",),
    description="Loglik converged before variable 1; coefficient may be infinite",
))
register(ParityCase(
    name="coxph.warnings.iter_max2.monotone", function="coxph", r_twin="survival::coxph",
    dataset=monotone_cox, r_file="conditions.R", r_function="ref_coxph_conditions",
    args={"formula": "Surv(time, status) ~ x + z", "ties": "breslow", "finite": ["x", "z"],
          "iter_max": 2},
    python=_py_coxph, warnings="mirrored", r_packages=("survival",), exact=("iter",),
    description="Ran out of iterations and did not converge",
))
