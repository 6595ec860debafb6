"""Survival and cumulative-incidence differences at horizons, from two curves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.effects._base import EffectRows, wald


class SurvivalDifference(EffectRows):
    """Result of :func:`survfit_difference`.

    The rows (``tidy()``): one row per horizon (column ``time``) with the difference of the
    second stratum's value minus the first's.

    Attributes
    ----------
    arms
        Each stratum's value and standard error at each horizon (R's ``summary(fit, times)``).

    Notes
    -----
    R twin: ``summary(survfit(...), times = t)`` per arm (survival 3.5-3).
    """


def survfit_difference(fit, times, measure: str = "survival", state: str | None = None,
                       conf_level: float = 0.95) -> SurvivalDifference:
    """Difference between two curves at horizons, with a Wald interval from the curves' SEs.

    Parameters
    ----------
    fit : SurvFit or SurvFitMS
        A :func:`survfit` result with two strata (Kaplan-Meier), or a multi-state fit (factor
        status: Aalen-Johansen cumulative incidence) with ``state``.
    times : float or sequence of float
        Horizon(s), within every stratum's follow-up.
    measure : {"survival", "risk"}, default "survival"
        ``"survival"`` (S(t), Kaplan-Meier only) or ``"risk"`` (1 - S(t) for a Kaplan-Meier
        fit; the cumulative incidence of ``state`` for a multi-state fit).
    state : str, optional
        The event state of a multi-state fit (e.g. ``"recurrence"``).
    conf_level : float, default 0.95
        Confidence level.

    Returns
    -------
    SurvivalDifference
        One row per horizon (second stratum minus first); ``arms`` per stratum.

    Raises
    ------
    ValueError
        Not two strata; a horizon not positive or beyond a stratum's last follow-up time;
        unknown ``measure`` or ``state``; a zero standard error in both arms (no events up to the
        horizon).

    Notes
    -----
    R twin: ``summary(survfit(...), times = t)`` per arm and the difference with
    ``sqrt(se1^2 + se0^2)`` (survival 3.5-3). For a weighted fit the standard errors are the
    curves' robust (infinitesimal-jackknife) ones, which :func:`survfit` uses for non-integer
    weights, as R.

    References
    ----------
    Therneau T, survival 3.5-3 ``?summary.survfit``.
    """
    from carts_iptw.survival.competing import SurvFitMS
    from carts_iptw.survival.survfit import SurvFit

    if measure not in ("survival", "risk"):
        raise ValueError("measure must be 'survival' or 'risk'")
    times = np.atleast_1d(np.asarray(times, dtype=float))
    if times.size == 0 or not np.isfinite(times).all() or (times <= 0).any():
        raise ValueError("times must be positive finite horizons")
    times = np.unique(times)
    if isinstance(fit, SurvFitMS):
        if state is None or state not in fit.states:
            raise ValueError(f"state must be one of the fit's states {fit.states}")
        if measure != "risk":
            raise ValueError("a multi-state fit gives cumulative incidence: measure='risk'")
        strata = fit.strata
        last = {s: fit.table.loc[fit.table["strata"] == s, "time"].max() for s in strata}
        _check(strata, last, times)
        at = fit.at_times(times, state).rename(columns={"pstate": "value"})
        label = f"cumulative incidence of {state}"
    elif isinstance(fit, SurvFit):
        if state is not None:
            raise ValueError("state= is for a multi-state fit (factor status)")
        strata = fit.strata
        last = {s: fit.table.loc[fit.table["strata"] == s, "time"].max() for s in strata}
        _check(strata, last, times)
        at = fit.at_times(times).rename(columns={"surv": "value"})
        if measure == "risk":
            at["value"] = 1 - at["value"]
        label = "survival" if measure == "survival" else "risk (1 - survival)"
    else:
        raise TypeError("fit must be a survfit() result")
    s0, s1 = strata
    a0 = at[at["strata"] == s0].set_index("time")
    a1 = at[at["strata"] == s1].set_index("time")
    est = a1.loc[times, "value"].to_numpy() - a0.loc[times, "value"].to_numpy()
    se = np.sqrt(a1.loc[times, "std_err"].to_numpy() ** 2 + a0.loc[times, "std_err"].to_numpy() ** 2)
    if (se == 0).any():
        raise ValueError("the standard error is 0 at a horizon (no events in either arm up to "
                         "it): choose a later horizon")
    w = wald(est, se, conf_level)
    table = pd.DataFrame({"term": [label] * len(times), "contrast": [f"{s1} - {s0}"] * len(times),
                          **w, "time": times})
    arms = at[["strata", "time", "value", "std_err"]].reset_index(drop=True)
    res = SurvivalDifference(table, conf_level, title=f"Difference in {label} at horizons",
                             footer=[f"Standard errors: {'robust (IJ)' if getattr(fit, 'robust', True) else 'Greenwood'} "
                                     "of each curve, combined as sqrt(se1^2 + se0^2)."])
    res.arms = arms
    res.measure = measure
    return res


def _check(strata, last, times):
    if len(strata) != 2:
        raise ValueError(f"the fit must have exactly 2 strata; it has {len(strata)}")
    for k, s in enumerate(strata):
        if times.max() > last[s]:
            raise ValueError(f"horizon (times) beyond the last follow-up time of stratum {k + 1} "
                             "of 2: the curve is not estimated there")
