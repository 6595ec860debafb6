"""Parity cases for ``logistf`` (Firth's penalised-likelihood logistic regression).

* Estimates and SEs: against the real **brglm2** package, ``brglmFit(type = "AS_mean")`` (mean
  bias reduction by adjusted scores = Firth's penalised likelihood for the logit link), on
  lalonde, birthwt, the synthetic CAR T cohort and a quasi-separated data set, unweighted and
  with IPT weights. brglm2's prior weights are logistf's case weights (both enter the
  log-likelihood and the Fisher information ``X' diag(w p (1 - p)) X`` as ``w``), so weighted
  fits compare too.
* Profile penalised-likelihood CIs, penalised LR chi-squares / p-values and the maximised
  penalised log-likelihood: logistf itself does not install here (not in Debian) and no
  installed package profiles the penalised likelihood, so these cases are an **independent
  computation** in R: the penalised log-likelihood at brglm2's estimate, profiled by
  ``optim(BFGS)`` and ``uniroot`` (r_reference/firth.R, ``ref_firth_profile``).
"""

from __future__ import annotations

import pandas as pd

from carts_iptw.parity.cases.design import birthwt_ipw, cart_ipw, lalonde_ipw
from carts_iptw.parity.registry import ParityCase, register


def birthwt_separated() -> pd.DataFrame:
    """birthwt with ``vlbw = bwt < 2000``: every very-low-birth-weight baby is ``low``, so
    ``vlbw`` quasi-completely separates the outcome (the ML estimate is infinite)."""
    d = birthwt_ipw()
    d["vlbw"] = (d["bwt"] < 2000).astype(int)
    return d


def _py_firth_coef(data, args):
    from carts_iptw.design.firth import logistf

    r = logistf(args["formula"], data, weights=args.get("weights"))
    return {"coef": r.coef, "se": r.se}


def _py_firth_profile(data, args):
    from carts_iptw.design.firth import logistf

    r = logistf(args["formula"], data, weights=args.get("weights"))
    ci = r.confint()
    return {"lower": ci.iloc[:, 0], "upper": ci.iloc[:, 1], "chisq": r.chisq,
            "pvalues": r.p_values, "loglik": r.loglik}


_LALONDE = "employed ~ treat + age + educ + race + married + nodegree + re74 + re75"
_FIRTH = (
    ("lalonde.multi", lalonde_ipw, {"formula": _LALONDE}),
    ("lalonde.multi.ipw", lalonde_ipw, {"formula": _LALONDE, "weights": "w"}),
    ("birthwt.uni", birthwt_ipw, {"formula": "low ~ smoke"}),
    ("birthwt.multi", birthwt_ipw, {"formula": "low ~ smoke + age + lwt + race"}),
    ("birthwt.multi.ipw", birthwt_ipw, {"formula": "low ~ smoke + age + lwt + race", "weights": "w"}),
    ("birthwt.separated", birthwt_separated, {"formula": "low ~ smoke + vlbw"}),
    ("birthwt.separated.ipw", birthwt_separated, {"formula": "low ~ smoke + vlbw + age", "weights": "w"}),
    ("cart.multi.ipw", cart_ipw, {"formula": "crs3 ~ anakinra + age + kps_le70", "weights": "w"}),
)

for _name, _ds, _args in _FIRTH:
    register(ParityCase(
        name=f"logistf.{_name}", function="logistf",
        r_twin="brglm2::brglmFit(type = 'AS_mean') (= logistf's Firth estimates)",
        dataset=_ds, r_file="firth.R", r_function="ref_firth_brglm2", args=_args,
        python=_py_firth_coef, rtol=1e-6, r_packages=("brglm2",),
        description="Firth estimates and SEs against the real brglm2 (mean bias-reducing "
                    "adjusted scores, epsilon 1e-12)" + (
                        "; IPT weights as case weights" if "weights" in _args else ""),
    ))

for _name, _ds, _args in _FIRTH:
    if _name.startswith("lalonde"):
        continue  # 10 coefficients x 3 profiles: slow in R, no new path
    register(ParityCase(
        name=f"logistf.profile.{_name}", function="logistf",
        r_twin="independent computation (logistf not installable): penalised likelihood at "
               "brglm2's estimate, profiled by optim(BFGS) + uniroot",
        dataset=_ds, r_file="firth.R", r_function="ref_firth_profile", args=_args,
        python=_py_firth_profile, rtol=1e-6, r_packages=("brglm2",),
        reference="independent",
        reference_reason="logistf (profile penalised-likelihood CIs, penalised LR tests) is not "
                         "installable here; brglm2 gives the estimate, R's optim/uniroot profile "
                         "the penalised likelihood",
        description="profile penalised-likelihood 95% CIs, penalised LR chi-squares and "
                    "p-values, maximised penalised log-likelihood: independent computation, "
                    "logistf is not installable here (not in Debian)",
    ))
