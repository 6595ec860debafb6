"""``FrameCache``: the model frames of one data set, built once for several models.

The outcome models of a study share their right-hand side, their data and their weights; only
the response differs. R builds a model frame and matrix per fit (``model.frame``,
``model.matrix``); the answer is the same when the right-hand side's design is built once and
each model adds its own response, which is what :meth:`FrameCache.model_frame` does. The
g-computation designs of the fits (the target rows with the treatment set to each level,
:func:`~carts_iptw.effects.comparisons.prepare_comparisons`) are shared the same way through
:meth:`FrameCache.design`.

The cache is explicit (passed as ``frames=`` to :func:`~carts_iptw.glm`,
:func:`~carts_iptw.svyglm` and :func:`~carts_iptw.effects.comparisons.prepare_comparisons`;
the study keeps one on its context) and keyed on the formula's right-hand side and the
*identity* of the data frame (the cache holds a reference to it). Contract: the columns a cached
right-hand side reads are not modified while the cache is in use (adding other columns, such as
a study's outcome indicators, is fine). A frame from the cache equals the one
:func:`~carts_iptw.formula.model_frame` builds (same arrays, shared between the models: never
modify them in place).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable

import numpy as np
import pandas as pd

from .evaluate import column_names_used
from .frame import ModelFrame, check_columns, model_frame, model_response
from .parser import deparse, parse_formula

__all__ = ["FrameCache"]


class FrameCache:
    """Model frames and derived designs shared by models of one data set (see the module).

    ``model_frame(formula, data)``: :func:`~carts_iptw.formula.model_frame`, the right-hand
    side's part built once per (right-hand side, data object). ``design(key, data, build)``:
    any design derived from ``data`` (e.g. a counterfactual model matrix), built once per
    (key, data object); ``fortran(X)``: a cached matrix in Fortran order. ``clear()`` drops
    everything (the arrays are n x p).
    """

    def __init__(self) -> None:
        self._frames: dict = {}
        self._designs: dict = {}
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        """Number of frames and designs held."""
        return (f"<FrameCache: {len(self._frames)} frame(s), {len(self._designs)} design(s); "
                f"{self.hits} hit(s), {self.misses} miss(es)>")

    def clear(self) -> None:
        """Forget every frame and design."""
        self._frames.clear()
        self._designs.clear()

    def model_frame(self, formula: str, data: pd.DataFrame) -> ModelFrame:
        """``model_frame(formula, data)``, sharing the right-hand side with earlier formulas.

        A formula whose response also appears on its right-hand side, or without a response,
        is built in full every time.
        """
        response, rhs = parse_formula(formula)
        if response is None or not isinstance(data, pd.DataFrame):
            return model_frame(formula, data)
        key = (deparse(rhs), id(data))
        resp_cols = column_names_used(response, [])
        hit = self._frames.get(key)
        if hit is None or hit[0] is not data:
            mf = model_frame(formula, data)
            rhs_cols = column_names_used(rhs, [])
            # shared only when the right-hand side reads exactly its own columns (no response
            # column among them, nothing expanded from the data)
            if mf.surv is None and rhs_cols == [c for c in mf.variables if c not in resp_cols] \
                    and not any(c in rhs_cols for c in resp_cols):
                self._frames[key] = (data, mf, rhs_cols)
            self.misses += 1
            return mf
        _, base, rhs_cols = hit
        if any(c in rhs_cols for c in resp_cols):
            self.misses += 1
            return model_frame(formula, data)
        check_columns(resp_cols, data)
        y, y_levels, surv, response_name = model_response(response, data)
        if surv is not None:
            self.misses += 1
            return model_frame(formula, data)
        self.hits += 1
        return dataclasses.replace(base, formula=formula, y=y, y_levels=y_levels, surv=None,
                                   response_name=response_name,
                                   variables=list(resp_cols) + list(rhs_cols))

    def design(self, key: Hashable, data: object, build: Callable[[], object]):
        """``build()``, computed once per (``key``, ``data`` object) and kept.

        ``data`` is the object the value is derived from (a data frame, or a cached model
        matrix for the collinearity screen); the cache holds a reference to it.
        """
        k = (key, id(data))
        hit = self._designs.get(k)
        if hit is not None and hit[0] is data:
            self.hits += 1
            return hit[1]
        self.misses += 1
        value = build()
        self._designs[k] = (data, value)
        return value

    def fortran(self, X: np.ndarray) -> np.ndarray:
        """``X`` (a cached model matrix) in Fortran order, copied once (the same numbers).

        For the column-wise work of the fits (IRLS's ``sqrt(w) X``, the separation check).
        """
        if X.flags.f_contiguous:
            return X
        return self.design(("fortran",), X, lambda: np.asfortranarray(X))
