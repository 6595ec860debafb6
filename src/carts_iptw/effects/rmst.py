"""Restricted mean survival time.

The difference (and ratio) between two Kaplan-Meier curves; twin of ``survRM2::rmst2`` (survRM2
1.0-4) and of ``summary(survfit(...), rmean = tau)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.effects._base import EffectRows, wald


class RMSTDifference(EffectRows):
    """Result of :func:`rmst_difference`.

    The rows (``tidy()``): rows ``difference`` (RMST of the second stratum minus the first) and
    ``ratio`` (second / first; ``std_error`` and ``statistic`` on the log scale, as survRM2).

    Attributes
    ----------
    arms
        Each stratum's ``rmean``, ``se_rmean`` and its Wald interval (``conf_low``,
        ``conf_high``).
    tau : float
        The horizon.

    Notes
    -----
    R twin: ``survRM2::rmst2`` (survRM2 1.0-4) and ``summary(survfit(...), rmean = tau)``
    (survival 3.5-3).
    """


def rmst_difference(fit, tau: float, variance: str | None = None,
                    conf_level: float = 0.95) -> RMSTDifference:
    """Difference and ratio of restricted mean survival times up to ``tau`` between two strata.

    The strata are those of a :func:`survfit` fit (second minus first, e.g. ``chemo=1`` minus
    ``chemo=0``).

    Parameters
    ----------
    fit : SurvFit
        A :func:`survfit` result with exactly two strata.
    tau : float
        The horizon (time units of the fit), positive and within both arms' follow-up.
    variance : {"survmean", "robust"}, optional
        Each arm's variance; None follows the curve (see Notes).
    conf_level : float, default 0.95
        Confidence level.

    Returns
    -------
    RMSTDifference
        Rows ``difference`` and ``ratio``; ``arms`` per stratum; ``tau``.

    Raises
    ------
    ValueError
        Not two strata; ``tau`` not positive or beyond follow-up of an arm.
    TypeError
        ``fit`` is not a :func:`survfit` result.

    Notes
    -----
    R twins: per arm ``summary(survfit(...), rmean = tau)$table[, c("rmean", "se(rmean)")]``
    (survival 3.5-3; weighted and unweighted); unweighted, the whole result is
    ``survRM2::rmst2(time, status, arm, tau)`` (survRM2 1.0-4): ``RMST.arm1$result``,
    ``unadjusted.result`` rows "RMST (arm=1)-(arm=0)" and "RMST (arm=1)/(arm=0)".

    Difference ``r1 - r0`` with ``se = sqrt(se1^2 + se0^2)`` (independent arms), normal interval
    and two-sided p; ratio ``r1 / r0`` on the log scale with
    ``se = sqrt(se1^2 / r1^2 + se0^2 / r0^2)`` and the interval back-transformed (survRM2's
    formulas). Each arm's variance (``variance``): ``"survmean"``, survival's ``se(rmean)``
    (Greenwood-type, on weighted counts for a weighted fit; :meth:`SurvFit.rmean`), or
    ``"robust"``, the infinitesimal-jackknife variance of the weighted curve (R twin:
    ``sqrt(sum(resid(fit, times = tau, type = "sojourn", weighted = TRUE)^2))`` per arm,
    survival 3.5-3). The default (None) follows the curve: robust when the fit uses the robust
    variance (non-integer weights, a cluster), else ``"survmean"`` (then equal to survRM2).
    Neither accounts for the estimation of the weights themselves.

    survRM2 and survival agree here to rounding: both integrate the same Kaplan-Meier step
    function and use the same variance sum; survRM2 refuses a ``tau`` beyond the smaller of the
    two arms' last times, survival extrapolates the last value (here: ``ValueError``, as
    survRM2).

    References
    ----------
    Uno H et al. (2014) J Clin Oncol 32:2380-2385; survRM2 1.0-4 ``?rmst2``; survival 3.5-3
    ``?survfit.formula``.
    """
    from carts_iptw.survival.survfit import SurvFit

    if not isinstance(fit, SurvFit):
        raise TypeError("fit must be a survfit() result (Kaplan-Meier curves)")
    if len(fit.strata) != 2:
        raise ValueError(f"rmst_difference needs exactly 2 strata; the fit has {len(fit.strata)}")
    if variance is None:
        variance = "robust" if fit.robust else "survmean"
    arms = fit.rmean(tau, variance=variance)
    s0, s1 = fit.strata
    r0, r1 = arms.loc[s0, "rmean"], arms.loc[s1, "rmean"]
    v0, v1 = arms.loc[s0, "se_rmean"] ** 2, arms.loc[s1, "se_rmean"] ** 2
    if not (r0 > 0 and r1 > 0):
        raise ValueError("an RMST is 0: the ratio is undefined")
    d = wald([r1 - r0], [np.sqrt(v1 + v0)], conf_level)
    r = wald([np.log(r1 / r0)], [np.sqrt(v1 / r1**2 + v0 / r0**2)], conf_level, log_scale=True)
    table = pd.DataFrame({"term": ["RMST", "RMST"],
                          "contrast": [f"{s1} - {s0}", f"{s1} / {s0}"],
                          **{k: np.concatenate([d[k], r[k]]) for k in d},
                          "tau": [float(tau)] * 2})
    a = wald(arms["rmean"].to_numpy(), arms["se_rmean"].to_numpy(), conf_level)
    arms = arms.assign(conf_low=a["conf_low"], conf_high=a["conf_high"])
    res = RMSTDifference(
        table, conf_level, title=f"Restricted mean survival time up to tau = {float(tau):g}",
        scale_note="Ratio: Std. Error and z on the log scale; estimate and interval exponentiated.",
        footer=[f"Variance: {variance} ({'infinitesimal jackknife of the weighted curve' if variance == 'robust' else 'survival::survmean, Greenwood-type'}).",
                "Arms (R: summary(survfit, rmean = tau)$table):",
                arms.to_string(float_format=lambda v: f"{v:.6g}")])
    res.arms = arms
    res.tau = float(tau)
    res.variance = variance
    return res
