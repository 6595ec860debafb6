"""The bad-input contract across the public API.

Every public function that takes data answers bad input with a ``ValueError`` / ``TypeError``
that names the offending column (or argument) and the problem, never a wrong number or a silent
NaN; messages never carry row values (patient data must not leak). A distinctive value
(``PLANT``) is planted in the data of every case and must not appear in any message of the
exception chain.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

import carts_iptw as ci

PLANT = 987654.321
LEAKS = ("987654", "9.87654", "987,654", "987_654")


# ---------------------------------------------------------------------------- data

@functools.cache
def _lalonde() -> pd.DataFrame:
    d = ci.load_dataset("lalonde").copy()
    d["age"] = d["age"].astype(float)
    return d


def lal() -> pd.DataFrame:
    """Lalonde with a planted value in an unused column (it must never leak)."""
    d = _lalonde().copy()
    d["planted"] = PLANT
    return d


@functools.cache
def _lung() -> pd.DataFrame:
    d = ci.load_dataset("lung")
    d = d.dropna(subset=["time", "status", "age", "sex", "ph.ecog"]).reset_index(drop=True)
    d["event"] = (d["status"] == 2).astype(int)
    d["w"] = 1.0 + (np.arange(len(d)) % 3) / 2.0
    return d


def lung() -> pd.DataFrame:
    d = _lung().copy()
    d["planted"] = PLANT
    return d


@functools.cache
def _cohort() -> pd.DataFrame:
    return ci.load_synthetic_cohort()


def cohort() -> pd.DataFrame:
    return _cohort().copy()


@functools.cache
def _w_lal() -> np.ndarray:
    return ci.weightit("treat ~ age + educ + race + re74", _lalonde()).weights


def set_at(d: pd.DataFrame, col: str, value, row: int = 0) -> pd.DataFrame:
    d = d.copy()
    if col in d and not pd.api.types.is_float_dtype(d[col]) and isinstance(value, float):
        d[col] = d[col].astype(float)
    d.loc[d.index[row], col] = value
    return d


def with_col(d: pd.DataFrame, col: str, values) -> pd.DataFrame:
    d = d.copy()
    d[col] = values
    return d


def lal_design(d: pd.DataFrame | None = None):
    d = lal() if d is None else d
    return ci.svydesign(d, weights=_w_lal())


def lung_design(d: pd.DataFrame | None = None):
    d = lung() if d is None else d
    return ci.svydesign(d, weights="w")


def _chain(exc: BaseException):
    """The exceptions a traceback would print (``raise ... from None`` hides the context)."""
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return seen


def check_raises(fn, exc, names):
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for name in names:
        assert name in msg, f"message does not name {name!r}: {msg!r}"
    for e in _chain(info.value):
        text = str(e) + repr(getattr(e, "args", ""))
        for leak in LEAKS:
            assert leak not in text, f"row value leaked into message: {text!r}"
    return msg


# a binary covariate equal to the treatment: perfect separation
def _sep_lal() -> pd.DataFrame:
    d = lal()
    d["sep"] = d["treat"] * 2.0
    return d


def _neg(n, at=0, val=-PLANT):
    w = np.ones(n)
    w[at] = val
    return w


LF = "treat ~ age + educ + race + re74"
N_LAL = 614

# (id, thunk, exception type(s), names the message must contain)
CASES: list[tuple[str, object, object, tuple[str, ...]]] = []


def case(cid, exc, *names):
    def deco(fn):
        CASES.append((cid, fn, exc, names))
        return fn
    return deco


V = ValueError
T = TypeError
VT = (ValueError, TypeError)

# ---------------------------------------------------------------------------- model_frame
case("model_frame.missing", V, "age", "missing")(
    lambda: ci.model_frame(LF, set_at(lal(), "age", np.nan)))
case("model_frame.inf", V, "age")(lambda: ci.model_frame(LF, set_at(lal(), "age", np.inf)))
case("model_frame.unknown", V, "nosuch")(lambda: ci.model_frame("treat ~ age + nosuch", lal()))
case("model_frame.constant", V, "const", "constant")(
    lambda: ci.model_frame("treat ~ age + const", with_col(lal(), "const", PLANT)))
case("model_frame.not_frame", T, "data")(lambda: ci.model_frame(LF, lal().to_numpy()))
case("model_frame.one_level_factor", V, "race")(
    lambda: ci.model_frame("treat ~ age + race", with_col(
        lal(), "race", pd.Categorical(["black"] * N_LAL, categories=["black", "white"]))))
case("model_frame.empty", V, "data")(lambda: ci.model_frame(LF, lal().iloc[:0]))

# ---------------------------------------------------------------------------- glm
case("glm.missing", V, "re74", "missing")(lambda: ci.glm(LF, set_at(lal(), "re74", np.nan)))
case("glm.inf", V, "re74")(lambda: ci.glm(LF, set_at(lal(), "re74", -np.inf)))
case("glm.unknown", V, "nosuch")(lambda: ci.glm("treat ~ nosuch", lal()))
case("glm.constant", V, "const")(
    lambda: ci.glm("treat ~ age + const", with_col(lal(), "const", PLANT)))
case("glm.binomial_response", V, "treat")(lambda: ci.glm(LF, set_at(lal(), "treat", PLANT)))
case("glm.weights_negative", V, "weights", "negative")(
    lambda: ci.glm(LF, lal(), weights=_neg(N_LAL)))
case("glm.weights_nan", V, "weights")(lambda: ci.glm(LF, lal(), weights=_neg(N_LAL, val=np.nan)))
case("glm.weights_all_zero", V, "weights", "zero")(
    lambda: ci.glm(LF, lal(), weights=np.zeros(N_LAL)))
case("glm.weights_length", V, "weights")(lambda: ci.glm(LF, lal(), weights=np.ones(5)))
case("glm.not_frame", T, "data")(lambda: ci.glm(LF, {"treat": [0, 1]}))
case("glm.gaussian_inf_response", V, "re78")(
    lambda: ci.glm("re78 ~ age", set_at(lal(), "re78", np.inf), family="gaussian"))

# ---------------------------------------------------------------------------- glm_fit
_X = np.column_stack([np.ones(20), np.arange(20.0) % 7, np.arange(20.0) % 3])
_y = (np.arange(20) % 2).astype(float)


def _Xbad(val):
    X = _X.copy()
    X[3, 1] = val
    return X


case("glm_fit.X_nan", V, "X")(lambda: ci.glm_fit(_Xbad(np.nan), _y))
case("glm_fit.X_inf_named", V, "x1")(
    lambda: ci.glm_fit(_Xbad(np.inf), _y, column_names=["(Intercept)", "x1", "x2"]))
case("glm_fit.y_nan", V, "y")(lambda: ci.glm_fit(_X, np.where(np.arange(20) == 2, np.nan, _y)))
case("glm_fit.y_nonbinary", V, "y")(
    lambda: ci.glm_fit(_X, np.where(np.arange(20) == 2, PLANT, _y)))
case("glm_fit.weights_negative", V, "weights")(lambda: ci.glm_fit(_X, _y, weights=_neg(20)))
case("glm_fit.weights_zero", V, "weights")(lambda: ci.glm_fit(_X, _y, weights=np.zeros(20)))
case("glm_fit.shape", V, "y")(lambda: ci.glm_fit(_X, _y[:10]))

# ---------------------------------------------------------------------------- weightit
case("weightit.missing", V, "age", "missing")(
    lambda: ci.weightit(LF, set_at(lal(), "age", np.nan)))
case("weightit.inf", V, "re74")(lambda: ci.weightit(LF, set_at(lal(), "re74", np.inf)))
case("weightit.treat_nonbinary", V, "treat")(lambda: ci.weightit(LF, set_at(lal(), "treat", PLANT)))
case("weightit.treat_missing", V, "treat", "missing")(
    lambda: ci.weightit(LF, set_at(lal(), "treat", np.nan)))
case("weightit.treat_one_level", V, "treat")(lambda: ci.weightit(LF, with_col(lal(), "treat", 1)))
case("weightit.treat_three_levels", V, "race")(
    lambda: ci.weightit("race ~ age + educ", lal()))
case("weightit.unknown", V, "nosuch")(lambda: ci.weightit("treat ~ age + nosuch", lal()))
case("weightit.constant", V, "const")(
    lambda: ci.weightit("treat ~ age + const", with_col(lal(), "const", PLANT)))
case("weightit.separation", V, "sep", "separation")(
    lambda: ci.weightit("treat ~ age + sep", _sep_lal()))
case("weightit.separation_ebal", V, "sep", "separation")(
    lambda: ci.weightit("treat ~ age + sep", _sep_lal(), method="ebal"))
case("weightit.separation_cbps", V, "sep", "separation")(
    lambda: ci.weightit("treat ~ age + sep", _sep_lal(), method="cbps"))
case("weightit.no_treatment", V, "left-hand side")(lambda: ci.weightit("~ age", lal()))
case("weightit.s_weights_negative", V, "s_weights")(
    lambda: ci.weightit(LF, lal(), s_weights=_neg(N_LAL)))
case("weightit.s_weights_nan", V, "s_weights")(
    lambda: ci.weightit(LF, lal(), s_weights=_neg(N_LAL, val=np.nan)))
case("weightit.s_weights_zero", V, "s_weights")(
    lambda: ci.weightit(LF, lal(), s_weights=np.zeros(N_LAL)))
case("weightit.s_weights_empty_group", V, "treat", "empty group")(
    lambda: ci.weightit(LF, lal(), s_weights=np.where(_lalonde()["treat"] == 1, 0.0, 1.0)))
case("weightit.estimand", V, "estimand")(lambda: ci.weightit(LF, lal(), estimand="XYZ"))
case("weightit.not_frame", T, "data")(lambda: ci.weightit(LF, [1, 2]))

# ---------------------------------------------------------------------------- get_w_from_ps
_ps = np.linspace(0.1, 0.9, 10)
_tr = np.array([0, 1] * 5)
case("get_w_from_ps.ps_nan", V, "ps")(
    lambda: ci.get_w_from_ps(np.where(np.arange(10) == 0, np.nan, _ps), _tr))
case("get_w_from_ps.ps_range", V, "ps")(
    lambda: ci.get_w_from_ps(np.where(np.arange(10) == 0, PLANT, _ps), _tr))
case("get_w_from_ps.ps_zero", V, "ps")(
    lambda: ci.get_w_from_ps(np.where(np.arange(10) == 0, 0.0, _ps), _tr))
case("get_w_from_ps.treat_nonbinary", V, "treat")(
    lambda: ci.get_w_from_ps(_ps, np.where(np.arange(10) == 0, PLANT, _tr)))
case("get_w_from_ps.treat_one_level", V, "treat")(lambda: ci.get_w_from_ps(_ps, np.ones(10)))
case("get_w_from_ps.treat_nan", V, "treat")(
    lambda: ci.get_w_from_ps(_ps, np.where(np.arange(10) == 0, np.nan, _tr)))
case("get_w_from_ps.length", V, "treat")(lambda: ci.get_w_from_ps(_ps, _tr[:5]))
case("get_w_from_ps.estimand", V, "estimand")(lambda: ci.get_w_from_ps(_ps, _tr, estimand="XYZ"))

# ---------------------------------------------------------------------------- trim
_w10 = np.linspace(1.0, 3.0, 10)
case("trim.w_negative", V, "w")(lambda: ci.trim(_neg(10), at=0.9))
case("trim.w_nan", V, "w")(lambda: ci.trim(_neg(10, val=np.nan), at=0.9))
case("trim.w_inf", V, "w")(lambda: ci.trim(_neg(10, val=np.inf), at=0.9))
case("trim.w_all_zero", V, "w", "zero")(lambda: ci.trim(np.zeros(10), at=0.9))
case("trim.at_range", V, "at")(lambda: ci.trim(_w10, at=-PLANT))
case("trim.at_nan", V, "at")(lambda: ci.trim(_w10, at=np.nan))
case("trim.at_type", T, "at")(lambda: ci.trim(_w10, at="x"))
case("trim.treat_nonbinary", V, "treat")(
    lambda: ci.trim(_w10, at=0.9, treat=np.where(np.arange(10) == 0, PLANT, _tr)))
case("trim.treat_length", V, "treat")(lambda: ci.trim(_w10, at=0.9, treat=_tr[:4]))

# ---------------------------------------------------------------------------- bal_tab
case("bal_tab.unknown", V, "nosuch")(lambda: ci.bal_tab("treat ~ nosuch", lal()))
case("bal_tab.treat_nonbinary", V, "treat")(
    lambda: ci.bal_tab(LF, set_at(lal(), "treat", PLANT)))
case("bal_tab.treat_one_level", V, "treat")(lambda: ci.bal_tab(LF, with_col(lal(), "treat", 0)))
case("bal_tab.weights_negative", V, "weights")(
    lambda: ci.bal_tab(LF, lal(), weights=_neg(N_LAL)))
case("bal_tab.weights_nan", V, "weights")(
    lambda: ci.bal_tab(LF, lal(), weights=_neg(N_LAL, val=np.nan)))
case("bal_tab.weights_all_zero", V, "weights")(
    lambda: ci.bal_tab(LF, lal(), weights=np.zeros(N_LAL)))
case("bal_tab.weights_empty_group", V, "weights")(
    lambda: ci.bal_tab(LF, lal(), weights=np.where(_lalonde()["treat"] == 1, 0.0, 1.0)))
case("bal_tab.weights_length", V, "weights")(lambda: ci.bal_tab(LF, lal(), weights=np.ones(3)))
case("bal_tab.s_weights_negative", V, "s_weights")(
    lambda: ci.bal_tab(LF, lal(), s_weights=_neg(N_LAL)))
case("bal_tab.inf", V, "re74")(lambda: ci.bal_tab(LF, set_at(lal(), "re74", np.inf)))
case("bal_tab.distance_nan", V, "distance")(
    lambda: ci.bal_tab(LF, lal(), distance=_neg(N_LAL, val=np.nan)))
case("bal_tab.estimand", V, "estimand")(lambda: ci.bal_tab(LF, lal(), estimand="XYZ"))
case("bal_tab.obj_type", T, "formula")(lambda: ci.bal_tab(42, lal()))

# ---------------------------------------------------------------------------- svydesign
case("svydesign.weights_negative", V, "w", "negative")(
    lambda: ci.svydesign(set_at(lung(), "w", -PLANT), weights="w"))
case("svydesign.weights_missing", V, "w")(
    lambda: ci.svydesign(set_at(lung(), "w", np.nan), weights="w"))
case("svydesign.weights_inf", V, "w")(
    lambda: ci.svydesign(set_at(lung(), "w", np.inf), weights="w"))
case("svydesign.weights_all_zero", V, "w", "zero")(
    lambda: ci.svydesign(with_col(lung(), "w", 0.0), weights="w"))
case("svydesign.weights_unknown", V, "nosuch")(lambda: ci.svydesign(lung(), weights="nosuch"))
case("svydesign.weights_array_negative", V, "weights")(
    lambda: ci.svydesign(lal(), weights=_neg(N_LAL)))
case("svydesign.weights_length", V, "weights")(lambda: ci.svydesign(lal(), weights=np.ones(4)))
case("svydesign.ids_missing", V, "inst")(
    lambda: ci.svydesign(set_at(lung(), "inst", np.nan), weights="w", ids="inst"))
case("svydesign.ids_unknown", V, "nosuch")(
    lambda: ci.svydesign(lung(), weights="w", ids="nosuch"))
case("svydesign.not_frame", T, "data")(lambda: ci.svydesign(np.ones((3, 3)), weights=np.ones(3)))



def _zero_arm_lal():
    return ci.svydesign(lal(), weights=np.where(_lalonde()["treat"] == 1, 0.0, 1.0))


def _zero_sex_lung():
    return ci.svydesign(lung(), weights=np.where(_lung()["sex"] == 1, 0.0, 1.0))


# ---------------------------------------------------------------------------- svyglm
case("svyglm.missing", V, "re74", "missing")(
    lambda: ci.svyglm("re78 ~ treat + re74", lal_design(set_at(lal(), "re74", np.nan)),
                      family="gaussian"))
case("svyglm.unknown", V, "nosuch")(lambda: ci.svyglm("re78 ~ nosuch", lal_design(),
                                                      family="gaussian"))
case("svyglm.constant", V, "const")(
    lambda: ci.svyglm("re78 ~ treat + const", lal_design(with_col(lal(), "const", PLANT)),
                      family="gaussian"))
case("svyglm.binomial_response", V, "married")(
    lambda: ci.svyglm("married ~ treat", lal_design(set_at(lal(), "married", PLANT))))
case("svyglm.inf", V, "re74")(
    lambda: ci.svyglm("re78 ~ treat + re74", lal_design(set_at(lal(), "re74", np.inf)),
                      family="gaussian"))
case("svyglm.separation", V, "separation")(
    lambda: ci.svyglm("treat ~ age + sep", lal_design(_sep_lal())))
case("svyglm.empty_group", V, "treat")(
    lambda: ci.svyglm("re78 ~ treat", _zero_arm_lal(), family="gaussian"))
case("svyglm.design_type", T, "design")(lambda: ci.svyglm("re78 ~ treat", lal()))

# ---------------------------------------------------------------------------- glm_robust
case("glm_robust.missing", V, "age", "missing")(
    lambda: ci.glm_robust(LF, set_at(lal(), "age", np.nan)))
case("glm_robust.unknown", V, "nosuch")(lambda: ci.glm_robust("treat ~ nosuch", lal()))
case("glm_robust.weights_negative", V, "weights")(
    lambda: ci.glm_robust(LF, lal(), weights=_neg(N_LAL)))
case("glm_robust.weights_all_zero", V, "weights")(
    lambda: ci.glm_robust(LF, lal(), weights=np.zeros(N_LAL)))
case("glm_robust.response", V, "treat")(lambda: ci.glm_robust(LF, set_at(lal(), "treat", PLANT)))
case("glm_robust.separation", V, "separation")(
    lambda: ci.glm_robust("treat ~ age + sep", _sep_lal()))
case("glm_robust.vcov", V, "vcov")(lambda: ci.glm_robust(LF, lal(), vcov="HCX"))


# ---------------------------------------------------------------------------- glm_weightit
@functools.cache
def _W():
    return ci.weightit(LF, _lalonde())


case("glm_weightit.missing", V, "re78", "missing")(
    lambda: ci.glm_weightit("re78 ~ treat", set_at(lal(), "re78", np.nan), _W(),
                            family="gaussian"))
case("glm_weightit.unknown", V, "nosuch")(
    lambda: ci.glm_weightit("re78 ~ nosuch", lal(), _W(), family="gaussian"))
case("glm_weightit.weightit_type", T, "weightit")(
    lambda: ci.glm_weightit("re78 ~ treat", lal(), np.ones(N_LAL), family="gaussian"))
case("glm_weightit.rows", V, "rows")(
    lambda: ci.glm_weightit("re78 ~ treat", lal().iloc[:100], _W(), family="gaussian"))
case("glm_weightit.binomial_response", V, "re78")(
    lambda: ci.glm_weightit("re78 ~ treat", lal(), _W(), family="binomial"))
case("glm_weightit.vcov", V, "vcov")(
    lambda: ci.glm_weightit("re78 ~ treat", lal(), _W(), family="gaussian", vcov="XYZ"))

# ---------------------------------------------------------------------------- logistf
case("logistf.missing", V, "age", "missing")(
    lambda: ci.logistf(LF, set_at(lal(), "age", np.nan)))
case("logistf.unknown", V, "nosuch")(lambda: ci.logistf("treat ~ nosuch", lal()))
case("logistf.constant", V, "const")(
    lambda: ci.logistf("treat ~ age + const", with_col(lal(), "const", PLANT)))
case("logistf.response", V, "treat")(lambda: ci.logistf(LF, set_at(lal(), "treat", PLANT)))
case("logistf.weights_negative", V, "weights")(
    lambda: ci.logistf(LF, lal(), weights=_neg(N_LAL)))
case("logistf.weights_nan", V, "weights")(
    lambda: ci.logistf(LF, lal(), weights=_neg(N_LAL, val=np.nan)))

# ---------------------------------------------------------------------------- svymean / svytotal
for _fn in ("svymean", "svytotal"):
    case(f"{_fn}.missing", V, "re74", "missing")(
        lambda f=_fn: getattr(ci, f)("~re74", lal_design(set_at(lal(), "re74", np.nan))))
    case(f"{_fn}.inf", V, "re74")(
        lambda f=_fn: getattr(ci, f)("~re74", lal_design(set_at(lal(), "re74", np.inf))))
    case(f"{_fn}.unknown", V, "nosuch")(lambda f=_fn: getattr(ci, f)("~nosuch", lal_design()))
    case(f"{_fn}.design_type", T, "design")(lambda f=_fn: getattr(ci, f)("~age", lal()))

# ---------------------------------------------------------------------------- svyby
case("svyby.missing_by", V, "married", "missing")(
    lambda: ci.svyby("~re78", "~married", lal_design(set_at(lal(), "married", np.nan))))
case("svyby.missing_x", V, "re78", "missing")(
    lambda: ci.svyby("~re78", "~treat", lal_design(set_at(lal(), "re78", np.nan))))
case("svyby.unknown_by", V, "nosuch")(lambda: ci.svyby("~re78", "~nosuch", lal_design()))
case("svyby.unknown_x", V, "nosuch")(lambda: ci.svyby("~nosuch", "~treat", lal_design()))
case("svyby.empty_group", V, "treat", "zero total weight")(
    lambda: ci.svyby("~re78", "~treat", _zero_arm_lal()))
case("svyby.FUN", V, "FUN")(lambda: ci.svyby("~re78", "~treat", lal_design(), FUN="svyfoo"))

# ---------------------------------------------------------------------------- svyquantile
case("svyquantile.missing", V, "re78", "missing")(
    lambda: ci.svyquantile("~re78", lal_design(set_at(lal(), "re78", np.nan)), [0.5]))
case("svyquantile.inf", V, "re78")(
    lambda: ci.svyquantile("~re78", lal_design(set_at(lal(), "re78", np.inf)), [0.5]))
case("svyquantile.unknown", V, "nosuch")(
    lambda: ci.svyquantile("~nosuch", lal_design(), [0.5]))
case("svyquantile.quantiles", V, "quantiles")(
    lambda: ci.svyquantile("~re78", lal_design(), [PLANT]))
case("svyquantile.quantiles_nan", V, "quantiles")(
    lambda: ci.svyquantile("~re78", lal_design(), [np.nan]))

case("svyquantile.alpha", V, "alpha")(
    lambda: ci.svyquantile("~re78", lal_design(), [0.5], alpha=PLANT))

# ---------------------------------------------------------------------------- svychisq
case("svychisq.missing", V, "married", "missing")(
    lambda: ci.svychisq("~treat + married", lal_design(set_at(lal(), "married", np.nan))))
case("svychisq.unknown", V, "nosuch")(lambda: ci.svychisq("~treat + nosuch", lal_design()))
case("svychisq.one_level", V, "married")(
    lambda: ci.svychisq("~treat + married", lal_design(with_col(lal(), "married", 1))))
case("svychisq.empty_group", V, "treat", "empty group")(
    lambda: ci.svychisq("~treat + married", _zero_arm_lal()))
case("svychisq.statistic", V, "statistic")(
    lambda: ci.svychisq("~treat + married", lal_design(), statistic="XYZ"))

case("svyttest.group_three_levels", V, "race")(lambda: ci.svyttest("re78 ~ race", lal_design()))

case("svyttest.level", V, "level")(lambda: ci.svyttest("re78 ~ treat", lal_design(), level=PLANT))
case("fisher_test.conf_level", V, "conf_level")(
    lambda: ci.fisher_test(np.array([[3, 4], [5, 6]]), conf_level=PLANT))

# ---------------------------------------------------------------------------- svyttest / svyranktest
for _fn in ("svyttest", "svyranktest"):
    case(f"{_fn}.missing", V, "re78", "missing")(
        lambda f=_fn: getattr(ci, f)("re78 ~ treat", lal_design(set_at(lal(), "re78", np.nan))))
    case(f"{_fn}.unknown", V, "nosuch")(
        lambda f=_fn: getattr(ci, f)("nosuch ~ treat", lal_design()))
    case(f"{_fn}.group_one_level", V, "treat")(
        lambda f=_fn: getattr(ci, f)("re78 ~ treat", lal_design(with_col(lal(), "treat", 1))))
    case(f"{_fn}.group_missing", V, "treat", "missing")(
        lambda f=_fn: getattr(ci, f)("re78 ~ treat", lal_design(set_at(lal(), "treat", np.nan))))
    case(f"{_fn}.inf", V, "re78")(
        lambda f=_fn: getattr(ci, f)("re78 ~ treat", lal_design(set_at(lal(), "re78", np.inf))))

for _fn in ("svyttest", "svyranktest"):
    case(f"{_fn}.empty_group", V, "treat", "empty group")(
        lambda f=_fn: getattr(ci, f)("re78 ~ treat", _zero_arm_lal()))

# ---------------------------------------------------------------------------- wilcox / chisq / fisher
_a = np.arange(10.0)
_b = np.arange(10.0) + 3.5
case("wilcox_test.x_nan", V, "x", "missing")(
    lambda: ci.wilcox_test(np.where(_a == 0, np.nan, _a), _b))
case("wilcox_test.y_inf", V, "y")(lambda: ci.wilcox_test(_a, np.where(_a == 0, np.inf, _b)))
case("wilcox_test.y_empty", V, "y")(lambda: ci.wilcox_test(_a, np.array([])))
case("wilcox_test.formula_unknown", V, "nosuch")(
    lambda: ci.wilcox_test("re78 ~ nosuch", data=lal()))
case("wilcox_test.formula_one_group", V, "treat")(
    lambda: ci.wilcox_test("re78 ~ treat", data=with_col(lal(), "treat", 1)))
case("wilcox_test.formula_missing", V, "re78", "missing")(
    lambda: ci.wilcox_test("re78 ~ treat", data=set_at(lal(), "re78", np.nan)))
case("wilcox_test.x_text", VT, "x")(lambda: ci.wilcox_test(np.array(["a", "b"]), _b))

for _fn in ("chisq_test", "fisher_test"):
    case(f"{_fn}.negative_count", V, "negative")(
        lambda f=_fn: getattr(ci, f)(np.array([[3, 4], [-PLANT, 5]])))
    case(f"{_fn}.nan_count", V, "x")(
        lambda f=_fn: getattr(ci, f)(np.array([[3, 4], [np.nan, 5]])))
    case(f"{_fn}.y_missing", V, "missing")(
        lambda f=_fn: getattr(ci, f)(lal()["treat"].to_numpy(),
                                     set_at(lal(), "married", np.nan)["married"].to_numpy()))
    case(f"{_fn}.one_level", V, "at least 2")(
        lambda f=_fn: getattr(ci, f)(np.ones(20), np.arange(20) % 2))
    case(f"{_fn}.length", V, "length")(
        lambda f=_fn: getattr(ci, f)(np.arange(20) % 2, np.arange(10) % 2))

# ---------------------------------------------------------------------------- coxph / survival
SF = "Surv(time, event) ~ age + sex"
case("coxph.negative_time", V, "time", "negative")(
    lambda: ci.coxph(SF, set_at(lung(), "time", -PLANT)))
case("coxph.event_invalid", V, "event")(lambda: ci.coxph(SF, set_at(lung(), "event", PLANT)))
case("coxph.event_half", V, "event")(lambda: ci.coxph(SF, set_at(lung(), "event", 0.5)))
case("coxph.missing", V, "age", "missing")(lambda: ci.coxph(SF, set_at(lung(), "age", np.nan)))
case("coxph.time_missing", V, "time", "missing")(
    lambda: ci.coxph(SF, set_at(lung(), "time", np.nan)))
case("coxph.time_inf", V, "time")(lambda: ci.coxph(SF, set_at(lung(), "time", np.inf)))
case("coxph.inf", V, "age")(lambda: ci.coxph(SF, set_at(lung(), "age", np.inf)))
case("coxph.unknown", V, "nosuch")(lambda: ci.coxph("Surv(time, event) ~ nosuch", lung()))
case("coxph.constant", V, "const")(
    lambda: ci.coxph("Surv(time, event) ~ age + const", with_col(lung(), "const", PLANT)))
case("coxph.weights_negative", V, "weights")(
    lambda: ci.coxph(SF, lung(), weights=_neg(len(_lung()))))
case("coxph.weights_zero", V, "weights")(
    lambda: ci.coxph(SF, lung(), weights=np.zeros(len(_lung()))))
case("coxph.weights_nan", V, "weights")(
    lambda: ci.coxph(SF, lung(), weights=_neg(len(_lung()), val=np.nan)))
case("coxph.weights_column_negative", V, "w")(
    lambda: ci.coxph(SF, set_at(lung(), "w", -PLANT), weights="w"))
case("coxph.no_events", V, "dead", "no events")(
    lambda: ci.coxph("Surv(time, dead) ~ age", with_col(lung(), "dead", 0)))
case("svylogrank.no_events", V, "dead", "no events")(
    lambda: ci.svylogrank("Surv(time, dead) ~ sex", lung_design(with_col(lung(), "dead", 0))))
case("coxph.not_frame", T, "data")(lambda: ci.coxph(SF, lung().to_dict()))

SK = "Surv(time, event) ~ sex"
case("survfit.negative_time", V, "time", "negative")(
    lambda: ci.survfit(SK, set_at(lung(), "time", -PLANT)))
case("survfit.start_missing", V, "st", "missing")(
    lambda: ci.survfit("Surv(st, time, event) ~ 1", set_at(with_col(lung(), "st", 0.0), "st", np.nan)))
case("coxph.stop_before_start", V, "st")(
    lambda: ci.coxph("Surv(st, time, event) ~ age", set_at(with_col(lung(), "st", 0.0), "st", PLANT)))
case("survfit.event_invalid", V, "event")(lambda: ci.survfit(SK, set_at(lung(), "event", PLANT)))
case("survfit.missing", V, "sex", "missing")(lambda: ci.survfit(SK, set_at(lung(), "sex", np.nan)))
case("survfit.unknown", V, "nosuch")(lambda: ci.survfit("Surv(time, event) ~ nosuch", lung()))
case("survfit.weights_negative", V, "weights")(
    lambda: ci.survfit(SK, lung(), weights=_neg(len(_lung()))))
case("survfit.weights_all_zero", V, "weights")(
    lambda: ci.survfit(SK, lung(), weights=np.zeros(len(_lung()))))
case("survfit.conf_int", V, "conf_int")(lambda: ci.survfit(SK, lung(), conf_int=PLANT))

case("survdiff.negative_time", V, "time", "negative")(
    lambda: ci.survdiff(SK, set_at(lung(), "time", -PLANT)))
case("survdiff.event_invalid", V, "event")(lambda: ci.survdiff(SK, set_at(lung(), "event", PLANT)))
case("survdiff.missing", V, "sex", "missing")(
    lambda: ci.survdiff(SK, set_at(lung(), "sex", np.nan)))
case("survdiff.one_group", V, "sex")(lambda: ci.survdiff(SK, with_col(lung(), "sex", 1.0)))
case("survdiff.unknown", V, "nosuch")(lambda: ci.survdiff("Surv(time, event) ~ nosuch", lung()))

case("svylogrank.negative_time", V, "time", "negative")(
    lambda: ci.svylogrank(SK, lung_design(set_at(lung(), "time", -PLANT))))
case("svylogrank.event_invalid", V, "event")(
    lambda: ci.svylogrank(SK, lung_design(set_at(lung(), "event", PLANT))))
case("svylogrank.one_group", V, "sex")(
    lambda: ci.svylogrank(SK, lung_design(with_col(lung(), "sex", 1.0))))
case("svylogrank.missing", V, "sex", "missing")(
    lambda: ci.svylogrank(SK, lung_design(set_at(lung(), "sex", np.nan))))
case("svylogrank.unknown", V, "nosuch")(
    lambda: ci.svylogrank("Surv(time, event) ~ nosuch", lung_design()))
case("svylogrank.empty_group", V, "sex", "empty group")(
    lambda: ci.svylogrank(SK, _zero_sex_lung()))
case("svylogrank.weights_negative", V, "weights")(
    lambda: ci.svylogrank(SK, data=lung(), weights=_neg(len(_lung()))))

case("svycoxph.negative_time", V, "time", "negative")(
    lambda: ci.svycoxph(SF, lung_design(set_at(lung(), "time", -PLANT))))
case("svycoxph.event_invalid", V, "event")(
    lambda: ci.svycoxph(SF, lung_design(set_at(lung(), "event", PLANT))))
case("svycoxph.missing", V, "age", "missing")(
    lambda: ci.svycoxph(SF, lung_design(set_at(lung(), "age", np.nan))))
case("svycoxph.unknown", V, "nosuch")(
    lambda: ci.svycoxph("Surv(time, event) ~ nosuch", lung_design()))
case("svycoxph.constant", V, "const")(
    lambda: ci.svycoxph("Surv(time, event) ~ age + const",
                        lung_design(with_col(lung(), "const", PLANT))))
case("svycoxph.empty_group", V, "sex", "empty group")(
    lambda: ci.svycoxph(SK, _zero_sex_lung()))
case("svycoxph.design_type", T, "design")(lambda: ci.svycoxph(SF, lung()))

case("svykm.negative_time", V, "time", "negative")(
    lambda: ci.svykm(SK, lung_design(set_at(lung(), "time", -PLANT))))
case("svykm.event_invalid", V, "event")(
    lambda: ci.svykm(SK, lung_design(set_at(lung(), "event", PLANT))))
case("svykm.missing", V, "sex", "missing")(
    lambda: ci.svykm(SK, lung_design(set_at(lung(), "sex", np.nan))))
case("svykm.unknown", V, "nosuch")(lambda: ci.svykm("Surv(time, event) ~ nosuch", lung_design()))
case("svykm.empty_group", V, "sex", "empty group")(lambda: ci.svykm(SK, _zero_sex_lung(), se=True))
case("coxph.weights_zero_group", V, "weights")(
    lambda: ci.coxph(SK, lung(), weights=np.where(_lung()["sex"] == 1, 0.0, 1.0)))


@functools.cache
def _cox():
    return ci.coxph(SF, _lung())


case("coxph.confint_level", V, "level")(lambda: _cox().confint(level=PLANT))
case("svymean.confint_level", V, "level")(
    lambda: ci.svymean("~re78", lal_design()).confint(level=PLANT))
case("logistf.confint_level", V, "level")(
    lambda: ci.logistf("married ~ treat", lal()).confint(level=PLANT))
case("cox_zph.fit_type", T, "fit")(lambda: ci.cox_zph(lung()))
case("cox_zph.transform", V, "transform")(lambda: ci.cox_zph(_cox(), transform="XYZ"))


def _fg_data(d=None):
    d = lung() if d is None else d
    d = d.copy()
    st = np.where(d["event"] == 1, np.where(d["sex"] == 1, "death", "other"), "censor")
    d["state"] = pd.Categorical(st, categories=["censor", "death", "other"])
    return d


FG = "Surv(time, state) ~ age"
case("finegray_coxph.etype", V, "etype")(lambda: ci.finegray_coxph(FG, _fg_data(), etype="XYZ"))
case("finegray_coxph.negative_time", V, "time", "negative")(
    lambda: ci.finegray_coxph(FG, _fg_data(set_at(lung(), "time", -PLANT)), etype="death"))
case("finegray_coxph.missing", V, "age", "missing")(
    lambda: ci.finegray_coxph(FG, _fg_data(set_at(lung(), "age", np.nan)), etype="death"))
case("finegray_coxph.unknown_weights", V, "nope")(
    lambda: ci.finegray_coxph(FG, _fg_data(), etype="death", weights="nope"))
case("finegray_coxph.unknown", V, "nosuch")(
    lambda: ci.finegray_coxph("Surv(time, state) ~ nosuch", _fg_data(), etype="death"))
case("finegray_coxph.weights_negative", V, "weights")(
    lambda: ci.finegray_coxph(FG, _fg_data(), etype="death", weights=_neg(len(_lung()))))
case("finegray_coxph.status_not_factor", V, "event")(
    lambda: ci.finegray_coxph("Surv(time, event) ~ age", lung(), etype="death"))


def _fg_small(d=None):
    """_fg_data with only the columns a ``~ .`` formula may read (lung has NAs elsewhere)."""
    return _fg_data(d)[["time", "state", "age", "planted"]]


def _fg_counting():
    d = _fg_data()
    d["st"] = 0.0
    return d


def _fg_never():
    d = _fg_data()
    d["state"] = d["state"].cat.add_categories(["never"])
    return d


case("finegray.etype", V, "etype")(lambda: ci.finegray(FG, _fg_data(), etype="XYZ"))
case("finegray.etype_no_event", V, "etype")(lambda: ci.finegray(FG, _fg_never(), etype="never"))
case("finegray.negative_time", V, "time", "negative")(
    lambda: ci.finegray(FG, _fg_data(set_at(lung(), "time", -PLANT)), etype="death"))
case("finegray.missing", V, "age", "missing")(
    lambda: ci.finegray(FG, _fg_data(set_at(lung(), "age", np.nan)), etype="death"))
case("finegray.missing_dot", V, "age", "missing")(
    lambda: ci.finegray("Surv(time, state) ~ .", _fg_small(set_at(lung(), "age", np.nan))))
case("finegray.unknown", V, "nosuch")(
    lambda: ci.finegray("Surv(time, state) ~ nosuch", _fg_data(), etype="death"))
case("finegray.unknown_weights", V, "nope")(
    lambda: ci.finegray(FG, _fg_data(), etype="death", weights="nope"))
case("finegray.weights_negative", V, "weights")(
    lambda: ci.finegray(FG, _fg_data(), etype="death", weights=_neg(len(_lung()))))
case("finegray.weights_nan", V, "w")(
    lambda: ci.finegray(FG, _fg_data(set_at(lung(), "w", np.nan)), weights="w"))
case("finegray.weights_length", V, "weights")(
    lambda: ci.finegray(FG, _fg_data(), weights=np.ones(3)))
case("finegray.status_not_factor", V, "event")(
    lambda: ci.finegray("Surv(time, event) ~ age", lung(), etype="death"))
case("finegray.counting", V, "start, stop")(
    lambda: ci.finegray("Surv(st, time, state) ~ age", _fg_counting(), etype="death"))
case("finegray.cluster", V, "cluster")(
    lambda: ci.finegray("Surv(time, state) ~ age + cluster(sex)", _fg_data()))
case("finegray.data_type", T, "data")(lambda: ci.finegray(FG, _fg_data().to_numpy()))
# survfit with a factor status: id = as R (one row per subject)
FGK = "Surv(time, state) ~ sex"
case("survfit.ms_id_repeated", V, "pid", "repeated")(
    lambda: ci.survfit(FGK, with_col(_fg_data(), "pid", np.arange(len(_lung())) // 2), id="pid"))
case("survfit.ms_id_missing", V, "pid", "missing")(
    lambda: ci.survfit(FGK, set_at(with_col(_fg_data(), "pid", np.arange(len(_lung())) * 1.0),
                                   "pid", np.nan), id="pid"))
case("survfit.ms_id_unknown", V, "nope")(lambda: ci.survfit(FGK, _fg_data(), id="nope"))
case("survfit.ms_counting", V, "start, stop")(
    lambda: ci.survfit("Surv(st, time, state) ~ 1", _fg_counting()))
case("survfit.ms_cluster", V, "cluster")(lambda: ci.survfit(FGK, _fg_data(), cluster="inst"))

# ---------------------------------------------------------------------------- cohort / study
CVE = ci.CohortValidationError
case("validate_cohort.missing_column", CVE, "anakinra")(
    lambda: ci.validate_cohort(cohort().drop(columns="anakinra")))
case("validate_cohort.treat_nonbinary", CVE, "anakinra")(
    lambda: ci.validate_cohort(set_at(cohort(), "anakinra", PLANT)))
case("validate_cohort.treat_missing", CVE, "anakinra")(
    lambda: ci.validate_cohort(set_at(cohort(), "anakinra", np.nan)))
case("validate_cohort.negative_time", CVE, "os_months")(
    lambda: ci.validate_cohort(set_at(cohort(), "os_months", -PLANT)))
case("validate_cohort.time_inf", CVE, "os_months")(
    lambda: ci.validate_cohort(set_at(cohort(), "os_months", np.inf)))
case("validate_cohort.event_invalid", CVE, "efs_event")(
    lambda: ci.validate_cohort(set_at(cohort(), "efs_event", PLANT)))
case("validate_cohort.age_missing", CVE, "age")(
    lambda: ci.validate_cohort(set_at(cohort(), "age", np.nan)))
case("validate_cohort.age_range", CVE, "age")(
    lambda: ci.validate_cohort(set_at(cohort(), "age", PLANT)))
case("validate_cohort.not_frame", T, "cohort")(lambda: ci.validate_cohort([1, 2]))


# ---------------------------------------------------------------------------- effects
def _lal_fit():
    d = lal()
    d["employed"] = (d["re78"] > 0).astype(int)
    return c_fit(d), d


def c_fit(d):
    return ci.glm_weightit("employed ~ treat + age", d, ci.weightit(LF, d))


def _km():
    return ci.survfit(SK, lung())


case("avg_comparisons.ratio_reference_zero", V, "reference", "0")(
    lambda: ci.avg_comparisons(ci.glm_robust("re78 ~ treat - 1", lal(), family="gaussian"),
                               "treat", "ratio"))
case("avg_comparisons.unknown_variable", V, "nosuch")(
    lambda: ci.avg_comparisons(_lal_fit()[0], "nosuch"))
case("avg_comparisons.unknown_comparison", V, "comparison")(
    lambda: ci.avg_comparisons(_lal_fit()[0], "treat", "lift"))
case("avg_comparisons.not_binary", V, "age")(
    lambda: ci.avg_comparisons(ci.glm_robust("married ~ age + treat", lal()), "age"))
case("avg_comparisons.empty_newdata", V, "newdata", "rows")(
    lambda: ci.avg_comparisons(_lal_fit()[0], "treat", newdata=_lal_fit()[1].iloc[:0]))
case("avg_comparisons.wts_negative", V, "wts", "negative")(
    lambda: ci.avg_comparisons(_lal_fit()[0], "treat", wts=_neg(N_LAL)))
case("avg_comparisons.not_a_fit", T, "fit")(lambda: ci.avg_comparisons(lal(), "treat"))
case("rmst_difference.beyond_follow_up", V, "tau", "follow-up")(
    lambda: ci.rmst_difference(_km(), PLANT))
case("rmst_difference.tau_negative", V, "tau")(lambda: ci.rmst_difference(_km(), -PLANT))
case("rmst_difference.one_stratum", V, "2 strata")(
    lambda: ci.rmst_difference(ci.survfit("Surv(time, event) ~ 1", lung()), 100))
case("rmst_difference.not_survfit", T, "survfit")(lambda: ci.rmst_difference(lal(), 100))
case("survfit_difference.beyond_follow_up", V, "horizon", "follow-up")(
    lambda: ci.survfit_difference(_km(), [100, PLANT]))
case("survfit_difference.bad_measure", V, "measure")(
    lambda: ci.survfit_difference(_km(), [100], measure="hazard"))
case("survfit_difference.nonpositive_time", V, "times")(
    lambda: ci.survfit_difference(_km(), [-PLANT]))
case("evalue.nonpositive_ratio", V, "estimate", "positive")(lambda: ci.evalue(-PLANT))
case("evalue.zero_ratio", V, "estimate", "positive")(lambda: ci.evalue(0.0))
case("evalue.rare_missing_or", V, "rare")(lambda: ci.evalue(2.0, 1.2, 3.3, measure="OR"))
case("evalue.rare_missing_hr", V, "rare")(lambda: ci.evalue(0.6, measure="HR"))
case("evalue.outside_ci", V, "interval")(lambda: ci.evalue(PLANT, 1.2, 3.3))
case("evalue.bad_measure", V, "measure")(lambda: ci.evalue(2.0, measure="RD"))
case("evalue.text", T, "estimate")(lambda: ci.evalue("SECRET987654"))


def _lal_emp():
    d = lal()
    d["employed"] = (d["re78"] > 0).astype(int)
    d["w"] = 1.0
    return d


case("subgroup_effects.empty_subgroup", V, "subgroup", "empty", "grp")(
    lambda: ci.subgroup_effects("employed ~ treat", with_col(_lal_emp(), "grp", pd.Categorical(
        ["a", "b"] * (N_LAL // 2), categories=["a", "b", "unused"])), "treat", "grp",
        weights="w"))
case("subgroup_effects.one_arm_subgroup", V, "subgroup", "treat")(
    lambda: ci.subgroup_effects("employed ~ treat", _lal_emp().assign(
        grp=_lalonde()["treat"].to_numpy()), "treat", "grp", weights="w"))
case("subgroup_effects.no_weights", V, "weights")(
    lambda: ci.subgroup_effects("employed ~ treat", _lal_emp(), "treat", "married"))
case("subgroup_effects.unknown_modifier", V, "nosuch")(
    lambda: ci.subgroup_effects("employed ~ treat", _lal_emp(), "treat", "nosuch", weights="w"))
case("subgroup_effects.modifier_in_formula", V, "married")(
    lambda: ci.subgroup_effects("employed ~ treat + married", _lal_emp(), "treat", "married",
                                weights="w"))

def _read_bad(tmp_path, mutate):
    p = tmp_path / "cohort.csv"
    mutate(cohort()).to_csv(p, index=False)
    return ci.read_cohort(p)


def _run_bad(tmp_path, mutate):
    return ci.run_study(mutate(cohort()), None, tmp_path / "out")


FILE_CASES = [
    ("read_cohort.negative_time", _read_bad, lambda d: set_at(d, "os_months", -PLANT), CVE,
     ("os_months",)),
    ("read_cohort.treat_nonbinary", _read_bad, lambda d: set_at(d, "anakinra", PLANT), CVE,
     ("anakinra",)),
    ("read_cohort.event_invalid", _read_bad, lambda d: set_at(d, "os_event", PLANT), CVE,
     ("os_event",)),
    ("read_cohort.missing_column", _read_bad, lambda d: d.drop(columns="kps"), CVE, ("kps",)),
    ("run_study.treat_nonbinary", _run_bad, lambda d: set_at(d, "anakinra", PLANT), CVE,
     ("anakinra",)),
    ("run_study.negative_time", _run_bad, lambda d: set_at(d, "efs_months", -PLANT), CVE,
     ("efs_months",)),
    ("run_study.one_level_treatment", _run_bad, lambda d: with_col(d, "anakinra", 0), VT,
     ("anakinra",)),
    ("run_study.missing_covariate", _run_bad, lambda d: set_at(d, "kps", np.nan), VT, ("kps",)),
]


# ---------------------------------------------------------------------------- text planted in
# numeric input: numpy's "could not convert string to float: '<value>'" must not surface
SECRET = "SECRET987654"


def _txt(n):
    a = np.ones(n).astype(object)
    a[0] = SECRET
    return a


TEXT_CASES = [
    ("weightit.s_weights_text", T, "s_weights", lambda: ci.weightit(LF, lal(), s_weights=_txt(N_LAL))),
    ("get_w_from_ps.ps_text", T, "ps", lambda: ci.get_w_from_ps(_txt(10), _tr)),
    ("trim.w_text", T, "w", lambda: ci.trim(_txt(10), at=0.9)),
    ("bal_tab.weights_text", T, "weights", lambda: ci.bal_tab(LF, lal(), weights=_txt(N_LAL))),
    ("glm.weights_text", T, "weights", lambda: ci.glm(LF, lal(), weights=_txt(N_LAL))),
    ("glm_fit.X_text", T, "X", lambda: ci.glm_fit(np.column_stack([np.ones(20), _txt(20)]), _y)),
    ("glm_fit.y_text", T, "y", lambda: ci.glm_fit(_X, _txt(20))),
    ("glm_robust.weights_text", T, "weights", lambda: ci.glm_robust(LF, lal(), weights=_txt(N_LAL))),
    ("logistf.weights_text", T, "weights", lambda: ci.logistf(LF, lal(), weights=_txt(N_LAL))),
    ("svydesign.weights_text", T, "weights", lambda: ci.svydesign(lal(), weights=_txt(N_LAL))),
    ("coxph.weights_text", T, "weights", lambda: ci.coxph(SF, lung(), weights=_txt(len(_lung())))),
    ("survfit.weights_text", T, "weights", lambda: ci.survfit(SK, lung(), weights=_txt(len(_lung())))),
    ("finegray_coxph.weights_text", T, "weights",
     lambda: ci.finegray_coxph(FG, _fg_data(), etype="death", weights=_txt(len(_lung())))),
    ("svymean.mixed_column", T, "x", lambda: ci.svymean("~x", lal_design(with_col(lal(), "x", _txt(N_LAL))))),
    ("glm.covariate_mixed", T, "x", lambda: ci.glm("treat ~ age + x", with_col(lal(), "x", _txt(N_LAL)))),
    ("wilcox_test.x_text", T, "x", lambda: ci.wilcox_test(_txt(10), _b)),
    ("fisher_test.table_text", T, "x", lambda: ci.fisher_test(np.array([[SECRET, "1"], ["2", "3"]]))),
]


@pytest.mark.parametrize("cid, exc, name, fn", TEXT_CASES, ids=[c[0] for c in TEXT_CASES])
def test_text_in_numeric_input_does_not_leak(cid, exc, name, fn):
    with pytest.raises(exc) as info:
        fn()
    assert name in str(info.value)
    for e in _chain(info.value):
        assert "SECRET" not in str(e), str(e)


@pytest.mark.parametrize("cid, fn, exc, names", CASES, ids=[c[0] for c in CASES])
def test_bad_input(cid, fn, exc, names):
    check_raises(fn, exc, names)


@pytest.mark.parametrize("cid, runner, mutate, exc, names", FILE_CASES,
                         ids=[c[0] for c in FILE_CASES])
def test_bad_input_files(tmp_path, cid, runner, mutate, exc, names):
    check_raises(lambda: runner(tmp_path, mutate), exc, names)


def test_every_data_function_is_covered():
    """Each public function that takes data has at least one bad-input case here."""
    covered = {c[0].split(".")[0] for c in CASES} | {c[0].split(".")[0] for c in FILE_CASES}
    takes_data = {
        "weightit", "bal_tab", "trim", "get_w_from_ps", "glm", "glm_fit", "model_frame",
        "svydesign", "svyglm", "glm_robust", "glm_weightit", "logistf", "svymean", "svytotal",
        "svyby", "svyquantile", "svychisq", "svyttest", "svyranktest", "wilcox_test",
        "chisq_test", "fisher_test", "coxph", "survfit", "survdiff", "svylogrank", "svycoxph",
        "svykm", "cox_zph", "finegray_coxph", "finegray", "read_cohort", "validate_cohort", "run_study",
        "avg_comparisons", "rmst_difference", "survfit_difference", "evalue", "subgroup_effects",
    }
    assert takes_data <= set(ci.__all__)
    assert takes_data - covered == set()


# ---------------------------------------------------------------------------- no silent NaN

def _finite(*arrays):
    for a in arrays:
        a = np.asarray(a, dtype=float)
        assert a.size > 0 and np.isfinite(a).all(), a


def test_valid_weighting_and_models_are_finite():
    W = ci.weightit(LF, _lalonde())
    _finite(W.weights, W.ps)
    fit = ci.glm(LF, _lalonde())
    _finite(fit.coef, fit.se, fit.p_values)
    mod = ci.glm_weightit("re78 ~ treat", _lalonde(), W, family="gaussian")
    _finite(mod.coef, mod.se, mod.p_values)
    rob = ci.glm_robust("married ~ treat + age", _lalonde(), weights=W.weights)
    _finite(rob.coef, rob.se, rob.p_values)
    fl = ci.logistf("married ~ treat + age", _lalonde())
    _finite(fl.coef)
    _finite(ci.trim(W.weights, at=0.95), ci.get_w_from_ps(W.ps, W.treat, estimand="ATT"))
    bal = ci.bal_tab(W)
    _finite(bal.balance.loc[:, ["Diff.Un", "Diff.Adj"]].to_numpy())


def test_valid_survival_is_finite():
    d = _lung()
    fit = ci.coxph(SF, d, weights=d["w"].to_numpy(), robust=True)
    _finite(fit.coef, fit.se, fit.p_values, fit.var)
    _finite(ci.cox_zph(fit).table.to_numpy(dtype=float))
    sd = ci.survdiff(SK, d)
    _finite([sd.chisq, sd.p_value])
    lr = ci.svylogrank(SK, lung_design(d))
    _finite([lr.statistic, lr.p_value], lr.se)
    sc = ci.svycoxph(SF, lung_design(d))
    _finite(sc.coef, sc.se, sc.p_values)
    fg = ci.finegray_coxph(FG, _fg_data(d), etype="death")
    _finite(fg.coef, fg.se, fg.p_values)
    ex = ci.finegray(FG, _fg_data(d), etype="death", weights="w")
    _finite(ex[["age", "fgstart", "fgstop", "fgstatus", "fgwt"]].to_numpy())
    ms = ci.survfit("Surv(time, state) ~ sex", with_col(_fg_data(d), "pid", np.arange(len(d))),
                    weights="w", id="pid")
    _finite(ms.table[["pstate", "std_err", "n_risk", "n_event", "n_censor"]].to_numpy())


def test_valid_design_is_finite():
    des = lal_design(_lalonde())
    m = ci.svymean("~re78", des)
    _finite(m.coef, m.se)
    g = ci.svyglm("re78 ~ treat + age", des, family="gaussian")
    _finite(g.coef, g.se, g.p_values)
    for t in (ci.svyttest("re78 ~ treat", des), ci.svyranktest("re78 ~ treat", des),
              ci.svychisq("~treat + married", des),
              ci.wilcox_test("re78 ~ treat", data=_lalonde()),
              ci.chisq_test("treat", "married", data=_lalonde())):
        _finite([t.statistic, t.p_value])
    ft = ci.fisher_test("treat", "married", data=_lalonde())  # no statistic, as R's htest
    _finite([ft.p_value, ft.estimate], ft.conf_int)


def test_glm_separation_warns_as_r():
    """``glm`` is stats::glm's twin and keeps R's answer on separated data (a parity case
    checks it), but never silently: glm.fit's warning is raised as a GlmWarning."""
    with pytest.warns(ci.GlmWarning):
        ci.glm("treat ~ age + sep", _sep_lal())


def test_coxph_monotone_likelihood_warns_as_r():
    """An infinite Cox coefficient: survival's warning (R's answer kept), never silent."""
    d = with_col(lung(), "x", _lung()["event"] * 1.0)
    with pytest.warns(Warning, match="may be infinite"):
        fit = ci.coxph("Surv(time, event) ~ age + x", d)
    assert "x" in list(fit.infinite)


def test_bal_tab_missing_covariate_is_cobalts_na_row():
    """cobalt reports missingness as a ``<var>:<NA>`` row (no error, no NaN in the estimates)."""
    bal = ci.bal_tab(LF, set_at(lal(), "re74", np.nan), weights=_w_lal())
    assert "re74:<NA>" in bal.balance.index
    _finite(bal.balance.loc[:, ["Diff.Un", "Diff.Adj"]].to_numpy())


# ---------------------------------------------------------------------------- planted identifiers
# Every text column gets identifier-like values (level order kept) and an ``mrn`` column of unique
# identifiers is added; no exception, warning or CLI output may then carry the mark. Factor levels
# are data values too: messages describe a factor's columns by term and position.
ID_MARK = "IDLEAK"


def _plant_text(d: pd.DataFrame, mrn: bool = True) -> pd.DataFrame:
    d = d.copy()
    for c in d.columns:
        s = d[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            d[c] = s.cat.rename_categories([f"{ID_MARK}{v}" for v in s.cat.categories])
        elif pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype):
            d[c] = s.map(lambda v: v if pd.isna(v) else f"{ID_MARK}{v}").astype(s.dtype)
    if mrn:
        d["mrn"] = [f"{ID_MARK}{i:07d}" for i in range(len(d))]
    return d


def _texts(exc: BaseException | None, caught) -> list[str]:
    out = [str(w.message) for w in caught]
    if exc is not None:
        out += [str(e) + repr(getattr(e, "args", "")) for e in _chain(exc)]
    return out


def _run_collecting(fn):
    import warnings

    exc = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure's text is checked
            exc = e
    return exc, caught


def _assert_no_mark(texts, what):
    for t in texts:
        assert ID_MARK not in t, f"{what}: a planted identifier reached a message: {t!r}"


@pytest.fixture
def planted(monkeypatch):
    """The case data with identifiers planted in every text column."""
    mod = __import__(__name__, fromlist=["lal"])
    for name in ("lal", "lung", "cohort", "_lalonde", "_lung"):
        orig = getattr(mod, name)
        monkeypatch.setattr(mod, name, lambda orig=orig: _plant_text(orig()))


@pytest.mark.parametrize("cid, fn, exc, names", CASES, ids=[c[0] for c in CASES])
def test_bad_input_with_planted_identifiers(planted, cid, fn, exc, names):
    """Each bad-input case again, on data whose every text column holds identifiers."""
    err, caught = _run_collecting(fn)
    _assert_no_mark(_texts(err, caught), cid)


def _small_lal(n=80, seed=7):
    d = _plant_text(_lalonde())
    rng = np.random.default_rng(seed)
    rows = np.r_[rng.choice(np.flatnonzero(d["treat"] == 1), n // 2, replace=False),
                 rng.choice(np.flatnonzero(d["treat"] == 0), n // 2, replace=False)]
    return d.iloc[np.sort(rows)].reset_index(drop=True)


def _small_lung(n=80):
    d = _plant_text(_lung()).iloc[:n].reset_index(drop=True)
    d["site"] = [f"{ID_MARK}site{i % 7}" for i in range(len(d))]
    return d


_HINT = "levels for 80 rows (an identifier?)"

# (id, thunk, the identifier hint is expected in a message)
ID_CALLS = [
    ("weightit.glm", lambda: ci.weightit("treat ~ age + race + mrn", _small_lal()), True),
    ("weightit.ebal", lambda: ci.weightit("treat ~ age + mrn", _small_lal(), method="ebal"), True),
    ("weightit.cbps", lambda: ci.weightit("treat ~ age + mrn", _small_lal(), method="cbps"), True),
    ("weightit.focal", lambda: ci.weightit("race ~ age", with_col(_small_lal(), "race", pd.Categorical(
        np.where(_small_lal()["treat"] == 1, f"{ID_MARK}a", f"{ID_MARK}b"))), focal="zzz",
        estimand="ATT"), False),
    ("glm", lambda: ci.glm("married ~ age + mrn", _small_lal()), True),
    ("glm.factor_response", lambda: ci.glm("race ~ age", _small_lal(), family="gaussian"), False),
    ("glm_robust", lambda: ci.glm_robust("married ~ age + mrn", _small_lal()), True),
    ("svyglm", lambda: ci.svyglm("married ~ age + mrn", ci.svydesign(_small_lal(), weights=np.ones(80))),
     True),
    ("svyglm.gaussian", lambda: ci.svyglm("re78 ~ age + mrn", ci.svydesign(_small_lal(), weights=np.ones(80)),
                                          family="gaussian"), True),
    ("logistf", lambda: ci.logistf("married ~ age + mrn", _small_lal()), False),
    ("glm_weightit", lambda: ci.glm_weightit("re78 ~ treat + mrn", _small_lal(),
                                             ci.weightit("treat ~ age", _small_lal()),
                                             family="gaussian"), False),
    ("coxph", lambda: ci.coxph("Surv(time, event) ~ age + site + mrn", _small_lung()), False),
    ("svycoxph", lambda: ci.svycoxph("Surv(time, event) ~ age + mrn",
                                     ci.svydesign(_small_lung(), weights="w")), False),
    ("survfit", lambda: ci.survfit("Surv(time, event) ~ site", _small_lung()), False),
    ("survdiff", lambda: ci.survdiff("Surv(time, event) ~ mrn", _small_lung()), False),
    ("svykm", lambda: ci.svykm("Surv(time, event) ~ site", ci.svydesign(_small_lung(), weights="w")),
     False),
    ("svylogrank", lambda: ci.svylogrank("Surv(time, event) ~ mrn",
                                         ci.svydesign(_small_lung(), weights="w")), False),
    ("bal_tab", lambda: ci.bal_tab("treat ~ age + race + mrn", _small_lal()), False),
    ("svychisq", lambda: ci.svychisq("~treat + mrn", ci.svydesign(_small_lal(), weights=np.ones(80))),
     False),
    ("svyttest", lambda: ci.svyttest("re78 ~ mrn", ci.svydesign(_small_lal(), weights=np.ones(80))),
     False),
    ("svyby", lambda: ci.svyby("~re78", "mrn", ci.svydesign(_small_lal(), weights=np.ones(80))), False),
    ("chisq_test", lambda: ci.chisq_test("treat", "mrn", data=_small_lal()), False),
    ("fisher_test", lambda: ci.fisher_test("treat", "mrn", data=_small_lal()), False),
    ("wilcox_test", lambda: ci.wilcox_test("re78 ~ mrn", data=_small_lal()), False),
    ("model_frame.predict", lambda: ci.glm("married ~ age + race", _small_lal()).predict(
        with_col(_small_lal(), "race", f"{ID_MARK}new")), False),
    ("surv.text_status", lambda: ci.survfit("Surv(time, site) ~ 1", _small_lung()), False),
    ("finegray.etype", lambda: ci.finegray_coxph(
        "Surv(time, st) ~ age", with_col(_small_lung(), "st", pd.Categorical(
            np.where(_small_lung()["event"] == 1, f"{ID_MARK}death", f"{ID_MARK}cens"),
            categories=[f"{ID_MARK}cens", f"{ID_MARK}death"])), etype="other"), False),
]


@pytest.mark.parametrize("cid, fn, hint", ID_CALLS, ids=[c[0] for c in ID_CALLS])
def test_identifier_columns_never_reach_a_message(cid, fn, hint):
    """An MRN picked as a covariate (or text planted in any column) is never echoed; where the
    failure comes from the identifier the message says so, with counts."""
    err, caught = _run_collecting(fn)
    texts = _texts(err, caught)
    _assert_no_mark(texts, cid)
    if hint:
        assert any(_HINT in t for t in texts), texts


def test_cli_with_an_identifier_covariate_does_not_leak(tmp_path, capsys):
    """``carts-iptw run`` with the cohort's ``id`` among the propensity covariates: exit 2, a
    message naming the column and its level count, no identifier on stdout or stderr."""
    from carts_iptw.cli import main
    from carts_iptw.study.spec import default_spec_path

    d = cohort()  # the schema fixes the other text columns' levels
    d["id"] = [f"{ID_MARK}{i:05d}" for i in range(len(d))]
    data = tmp_path / "cohort.csv"
    d.to_csv(data, index=False)
    spec = tmp_path / "spec.toml"
    text = default_spec_path().read_text()
    spec.write_text(text.replace('covariates = ["age",', 'covariates = ["id", "age",', 1))
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc = main(["run", "--data", str(data), "--spec", str(spec), "--out",
                   str(tmp_path / "out"), "--quiet"])
    out = capsys.readouterr()
    assert rc == 2, out
    assert "column 'id' has" in out.err and "(an identifier?)" in out.err, out.err
    _assert_no_mark([out.out, out.err] + [str(w.message) for w in caught], "cli")
