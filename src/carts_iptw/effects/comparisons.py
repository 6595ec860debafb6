"""``avg_comparisons``.

G-computation contrasts after weighting, the twin of ``marginaleffects::avg_comparisons``
(marginaleffects 0.22.0) on a ``WeightIt::glm_weightit`` fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw._validation import check_weights, column_or_vector, require_dataframe
from carts_iptw.effects._base import EffectRows, wald

COMPARISONS = ("difference", "ratio", "oddsratio")
_R_NAMES = {"difference": "difference", "ratio": "lnratioavg (transform = exp)",
            "oddsratio": "lnoravg (transform = exp)"}


class AvgComparisons(EffectRows):
    """Result of :func:`avg_comparisons`.

    The rows (``tidy()``): one row (``term``, ``contrast``, ``estimate``, ``std_error``,
    ``statistic``, ``p_value``, ``conf_low``, ``conf_high``).

    Attributes
    ----------
    comparison : str
        The contrast.
    predicted_hi, predicted_lo : float
        The averaged predictions under each treatment level.
    jacobian : numpy.ndarray
        d contrast / d coefficients, on the log scale for ratios.
    n : int
        Target units.
    target : str
        ``"all"``, ``"treated"``, ``"controls"`` or ``"newdata"``.
    weighted : bool
        Whether the average used weights.

    Notes
    -----
    For ratios ``estimate``, ``conf_low`` and ``conf_high`` are on the ratio scale and
    ``std_error``, ``statistic`` on the log scale (marginaleffects drops those two after
    ``transform = exp``; they are the log-scale values it computes before). R twin:
    ``marginaleffects::avg_comparisons`` (marginaleffects 0.22.0).
    """


def _model_parts(fit):
    glm = getattr(fit, "glm", None)
    if glm is None and hasattr(fit, "model_frame") and hasattr(fit, "family"):
        glm = fit  # a plain glm() fit
    if glm is None or not hasattr(glm, "model_frame"):
        raise TypeError("fit must be a glm_weightit, svyglm, glm_robust or glm result")
    b = fit.coef.to_numpy(dtype=float)
    V = fit.vcov.to_numpy(dtype=float)
    if not (np.isfinite(b).all() and np.isfinite(V).all()):
        raise ValueError("the fit has non-finite coefficients or covariance")
    return glm, b, V


def _levels(values: pd.Series, variable: str):
    """(lo, hi): the reference and the other level of a binary variable."""
    s = values
    if isinstance(s.dtype, pd.CategoricalDtype):
        lv = [x for x in s.cat.categories if (s == x).any()]
    else:
        lv = sorted(pd.unique(s.dropna()))
    if len(lv) != 2:
        raise ValueError(f"variable '{variable}' must have exactly 2 observed values in the "
                         f"fitted data (it has {len(lv)})")
    return lv[0], lv[1]


_COW = int(pd.__version__.split(".")[0]) >= 3  # copy-on-write always on


def _set(data: pd.DataFrame, variable: str, value) -> pd.DataFrame:
    # a shallow copy (copy-on-write): only the counterfactual column is new, the other columns
    # of a large cohort are not duplicated; ``data`` is left as it is
    d = data.copy(deep=not _COW)
    col = data[variable]
    if isinstance(col.dtype, pd.CategoricalDtype):
        d[variable] = pd.Categorical([value] * len(d), categories=col.cat.categories,
                                     ordered=col.cat.ordered)
    else:
        d[variable] = pd.Series(np.repeat(value, len(d)), index=d.index).astype(col.dtype)
    return d


def _design(glm, data: pd.DataFrame):
    from carts_iptw._validation import numeric_column_or_vector
    from carts_iptw.formula import model_frame

    mf = model_frame(glm.formula, data, xlevels=glm.model_frame.xlevels,
                     bases=glm.model_frame.bases, with_response=False)
    if list(mf.column_names) != list(glm.column_names):
        raise ValueError("newdata gives other model-matrix columns than the fit")
    off = np.zeros(len(data)) if mf.offset is None else np.asarray(mf.offset, float)
    oa = getattr(glm, "_offset_arg", None)
    if oa is not None:
        if not isinstance(oa, str):
            raise ValueError("the fit's offset was an array; put offset(x) in the formula")
        off = off + numeric_column_or_vector(oa, data, "offset")
    return mf.X, off


def _target(fit, newdata, wts):
    """Target rows and averaging weights (None = unweighted) and a label."""
    wi = getattr(fit, "weightit", None)
    if newdata is not None:
        data = require_dataframe(newdata, "newdata")
        target = "newdata"
        auto_w = None
    else:
        data = getattr(fit, "data", None)
        if data is None:
            design = getattr(fit, "design", None)
            data = getattr(design, "data", None)
        if data is None:
            raise ValueError("this fit does not keep its data: pass newdata=")
        target, auto_w = "all", None
        if wi is not None:
            sw = None if wi.s_weights is None else np.asarray(wi.s_weights, float)
            est = wi.estimand
            keep = np.ones(len(data), bool)
            if est in ("ATT", "ATC"):
                focal = 1.0 if est == "ATT" else 0.0
                keep = np.asarray(wi.treat, float) == focal
                target = "treated" if est == "ATT" else "controls"
            if est in ("ATO", "ATM"):
                base = np.asarray(wi.weights, float) * (1.0 if sw is None else sw)
                auto_w = base
            elif sw is not None and np.ptp(sw) > 0:
                auto_w = sw
            data = data.loc[keep] if not keep.all() else data
            if auto_w is not None:
                auto_w = auto_w[keep]
    if wts is False:
        return data, None, target
    if wts is not None:
        w, _ = column_or_vector(data, wts, "wts")
        w = check_weights(w, "wts")
        if not w.sum() > 0:
            raise ValueError("wts sum to 0")
        return data, w, target
    return data, auto_w, target


def avg_comparisons(fit, variables: str = "treat", comparison: str = "difference",
                    newdata: pd.DataFrame | None = None, wts=None,
                    conf_level: float = 0.95) -> AvgComparisons:
    """Average contrast of predicted outcomes under two treatment levels (g-computation).

    Twin of ``marginaleffects::avg_comparisons(fit, variables = "treat")`` (marginaleffects
    0.22.0) on a ``WeightIt::glm_weightit`` fit (WeightIt 1.5.1, vignette "Estimating effects
    after weighting").

    Parameters
    ----------
    fit : ModelResult or GlmResult
        A :func:`glm_weightit`, :func:`svyglm` or :func:`glm_robust` result (these keep their
        data), or a :func:`glm` fit with ``newdata``.
    variables : str, default "treat"
        The binary treatment column of the outcome model.
    comparison : {"difference", "ratio", "oddsratio"}, default "difference"
        The contrast (see Notes).
    newdata : pandas.DataFrame, optional
        The target units (default: from the estimand, see Notes).
    wts : str, array-like or bool, optional
        Averaging weights (column name, ``"~column"`` or array over the target rows; None: the
        default of the Notes; False: unweighted).
    conf_level : float, default 0.95
        Confidence level.

    Returns
    -------
    AvgComparisons
        One row (``term``, ``contrast``, ``estimate``, ``std_error``, ``statistic``,
        ``p_value``, ``conf_low``, ``conf_high``) and the averaged predictions.

    Raises
    ------
    ValueError
        Unknown comparison; ``variables`` not a binary column of the model; a ratio whose
        reference (average ``lo``) prediction is 0 or not positive, an odds ratio with an
        average prediction outside (0, 1); no target units; bad ``wts``.
    TypeError
        ``fit`` is not a supported model result.

    Notes
    -----
    Every target unit is predicted from the outcome model with ``variables`` set to its
    reference level (``lo``: 0, FALSE or the first factor level) and to its other level
    (``hi``); the predictions are averaged and contrasted:

    - ``"difference"`` (R's default): ``mean(p_hi - p_lo)``;
    - ``"ratio"``: the marginal risk ratio ``mean(p_hi) / mean(p_lo)`` (R: ``comparison =
      "lnratioavg", transform = "exp"``; marginaleffects' own ``"ratio"`` is the mean of
      unit-level ratios, another quantity);
    - ``"oddsratio"``: the marginal odds ratio of ``mean(p_hi)`` and ``mean(p_lo)`` (R:
      ``"lnoravg", transform = "exp"``).

    Target units: ``newdata`` when given; otherwise the fit's data restricted by the weights'
    estimand (``glm_weightit``): all units for the ATE, the treated for the ATT (R: ``newdata =
    subset(treat == 1)``), the controls for the ATC. The average is **unweighted** (R's default
    ``wts = FALSE``) except, as WeightIt documents, for ATO / ATM weights (averaged with the
    weights times any sampling weights) and with non-constant sampling weights (averaged with
    them); ``wts`` overrides that (R: ``wts =``, comparisons ``"differenceavgwts"`` etc.).

    Standard error: delta method ``sqrt(J V J')`` with ``V`` the fit's covariance (for
    ``glm_weightit``: the M-estimation covariance that accounts for estimating the weights;
    ``svyglm``: design-based; ``glm_robust``: sandwich) and the jacobian ``J`` computed
    analytically (``d mean(p) / d b = mean(mu.eta(eta) x)``). marginaleffects differentiates
    numerically (forward differences, step ``max(|b_j| sqrt(eps), 1e-10)``): its jacobian
    elements differ from the exact ones by up to ~5e-6 relative, which moves the SE by up to
    ~5e-7 relative (measured: lalonde ATO odds ratio, where the covariances agree to 3e-8 and
    the whole SE gap comes from R's jacobian; all parity cases ``avg_comparisons.*`` are within
    rel 1e-6, so parity does not need R's numerical jacobian). Inference is on the normal (z)
    for every model, as marginaleffects' default ``df = Inf`` (also for ``svyglm``, whose own
    coefficient tests use t). Ratios: Wald on the log scale, interval back-transformed.

    References
    ----------
    Arel-Bundock V, Greifer N, Heiss A (2024) How to interpret statistical models using
    marginaleffects for R and Python, J Stat Softw 111(9); Greifer N, WeightIt 1.5.1 vignette
    "Estimating effects after weighting".
    """
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison must be one of {COMPARISONS}; got {comparison!r}")
    return prepare_comparisons(fit, variables, newdata, wts).contrast(comparison, conf_level)


class PreparedComparisons:
    """The two counterfactual designs of :func:`avg_comparisons`, built once.

    ``prepare_comparisons(fit, ...).contrast(comparison)`` equals ``avg_comparisons(fit, ...,
    comparison=comparison)``; several contrasts (the risk difference and ratio of one outcome
    model) share the designs instead of rebuilding the model frames of the target rows.
    """

    def __init__(self, fit, glm, b, V, data, w, target, variables, lo, hi, X1, o1, X0, o0):
        self.fit, self.glm, self.b, self.V = fit, glm, b, V
        self.data, self.w, self.target, self.variables = data, w, target, variables
        self.lo, self.hi, self.X1, self.o1, self.X0, self.o0 = lo, hi, X1, o1, X0, o0
        self._means = None  # the averaged predictions and their gradients, shared by contrasts

    def contrast(self, comparison: str = "difference", conf_level: float = 0.95
                 ) -> AvgComparisons:
        """One contrast (see :func:`avg_comparisons`)."""
        if comparison not in COMPARISONS:
            raise ValueError(f"comparison must be one of {COMPARISONS}; got {comparison!r}")
        fit, glm, b, V = self.fit, self.glm, self.b, self.V
        data, w, target, variables = self.data, self.w, self.target, self.variables
        lo, hi, X1, o1, X0, o0 = self.lo, self.hi, self.X1, self.o1, self.X0, self.o0
        if self._means is None:
            self._means = _means(glm, b, data, w, X1, o1, X0, o0)
        return _contrast(fit, glm, V, data, w, target, variables, lo, hi, self._means,
                         comparison, conf_level)


def _counterfactual(glm, data: pd.DataFrame, variable: str, value, frames):
    """``_design`` of ``data`` with ``variable`` set to ``value``; shared through ``frames``."""
    if frames is None or glm.model_frame.bases:
        return _design(glm, _set(data, variable, value))
    from carts_iptw.formula.parser import deparse, parse_formula

    xl = tuple((k, tuple(v)) for k, v in sorted(glm.model_frame.xlevels.items()))
    oa = getattr(glm, "_offset_arg", None)
    key = ("counterfactual", deparse(parse_formula(glm.formula)[1]), xl,
           tuple(glm.column_names), oa if isinstance(oa, str) else id(oa), variable,
           type(value).__name__, repr(value))
    return frames.design(key, data, lambda: _design(glm, _set(data, variable, value)))


def prepare_comparisons(fit, variables: str = "treat", newdata: pd.DataFrame | None = None,
                        wts=None, *, frames=None) -> PreparedComparisons:
    """Target rows and counterfactual designs for :func:`avg_comparisons` (same arguments).

    No R twin of its own: marginaleffects rebuilds the predictions per call; the numbers of
    ``.contrast(c)`` are those of ``avg_comparisons(..., comparison = c)``. ``frames``: a
    :class:`~carts_iptw.formula.cache.FrameCache`; the counterfactual model matrices of the
    target rows are then built once for every fit with the same right-hand side and factor
    levels on the same ``newdata`` object (a study's outcome models).
    """
    if not isinstance(variables, str):
        raise TypeError("variables must be one column name (a binary treatment)")
    glm, b, V = _model_parts(fit)
    if variables not in glm.model_frame.variables:
        raise ValueError(f"variables: '{variables}' is not a variable of the outcome model")
    data, w, target = _target(fit, newdata, wts)
    if len(data) == 0:
        raise ValueError(f"no target units (no rows with the estimand's focal level of "
                         f"'{variables}')")
    ref = getattr(fit, "data", None)
    if ref is None:
        ref = data if getattr(fit, "design", None) is None else fit.design.data
    if variables not in data.columns:
        raise ValueError(f"column '{variables}' is not in newdata")
    lo, hi = _levels(ref[variables], variables)
    X1, o1 = _counterfactual(glm, data, variables, hi, frames)
    X0, o0 = _counterfactual(glm, data, variables, lo, frames)
    return PreparedComparisons(fit, glm, b, V, data, w, target, variables, lo, hi, X1, o1, X0,
                               o0)


def _means(glm, b, data, w, X1, o1, X0, o0):
    """The averaged predictions ``m1, m0`` and their gradients ``g1, g0`` in ``b``."""
    from carts_iptw._glm_kernels import linkinv_mu_eta

    fam = glm.family
    e1, e0 = X1 @ b + o1, X0 @ b + o0
    (mu1, d1), (mu0, d0) = linkinv_mu_eta(fam, e1), linkinv_mu_eta(fam, e0)
    a = np.full(len(data), 1.0 / len(data)) if w is None else w / w.sum()
    m1, m0 = float(a @ mu1), float(a @ mu0)
    g1 = (a * d1) @ X1
    g0 = (a * d0) @ X0
    return m1, m0, g1, g0


def _contrast(fit, glm, V, data, w, target, variables, lo, hi, means, comparison,
              conf_level):
    m1, m0, g1, g0 = means
    if comparison == "difference":
        est, J = m1 - m0, g1 - g0
    elif comparison == "ratio":
        if not m0 > 0:
            raise ValueError(f"the reference average prediction (at '{variables}' = its "
                             "reference level) is 0 or negative: the ratio is undefined")
        if not m1 > 0:
            raise ValueError("the average prediction under treatment is 0 or negative: the "
                             "log ratio is undefined")
        est, J = np.log(m1 / m0), g1 / m1 - g0 / m0
    else:
        for m, what in ((m0, "reference"), (m1, "treated")):
            if not 0 < m < 1:
                raise ValueError(f"the {what} average prediction is not strictly between 0 "
                                 "and 1: the odds ratio is undefined")
        est = np.log(m1 / (1 - m1)) - np.log(m0 / (1 - m0))
        J = g1 / (m1 * (1 - m1)) - g0 / (m0 * (1 - m0))
    se = float(np.sqrt(J @ V @ J))
    if not se > 0:
        raise ValueError("the standard error of the contrast is 0 (the treatment does not "
                         "enter the model?)")
    row = wald([est], [se], conf_level, log_scale=comparison != "difference")
    lab = {"difference": f"{hi} - {lo}", "ratio": f"mean({hi}) / mean({lo})",
           "oddsratio": f"odds(mean({hi})) / odds(mean({lo}))"}[comparison]
    table = pd.DataFrame({"term": [variables], "contrast": [lab], **row,
                          "predicted_lo": [m0], "predicted_hi": [m1]})
    model = getattr(fit, "model", "glm")
    note = "" if comparison == "difference" else (
        "Std. Error and z are on the log scale; estimate and interval exponentiated.")
    foot = [f"Target: {target} ({len(data)} units), average "
            f"{'weighted' if w is not None else 'unweighted'}; model: {model}; "
            f"covariance: {getattr(fit, 'vcov_type', 'model-based')}"]
    res = AvgComparisons(table, conf_level, title=f"avg_comparisons ({comparison}; R: "
                         f"comparison = {_R_NAMES[comparison]})", footer=foot, scale_note=note)
    res.comparison = comparison
    res.predicted_hi, res.predicted_lo = m1, m0
    res.jacobian = pd.Series(J, index=list(glm.column_names))
    res.n = len(data)
    res.target = target
    res.weighted = w is not None
    return res
