"""Input checks shared by every public function.

Each error names the column and the problem and, where useful, how many rows are affected.
Row values are never printed: patient data must not leak into logs or tracebacks.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def require_dataframe(data, what: str = "data") -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(f"{what} has no rows")
    return data


def require_columns(data: pd.DataFrame, columns: Iterable[str], what: str = "data") -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"unknown column(s) {missing} (not in {what})")


def column_or_vector(data, value, what: str, n: int | None = None
                     ) -> tuple[np.ndarray | None, str | None]:
    """The one convention for per-row arguments (weights, offset, ids, strata, cluster, id).

    A column name (``"w"`` or ``"~w"``, R's one-sided formula), or an array with one value per row.

    Returns ``(values, name)`` -- the column's name, or ``what`` for an array -- or ``(None, None)``
    for None. Raises ``ValueError`` naming an unknown column or a wrong length.
    """
    if value is None:
        return None, None
    n = len(data) if n is None and data is not None else n
    if isinstance(value, str):
        name = value.strip()
        if name.startswith("~"):
            name = name[1:].strip()
        if name.startswith("`") and name.endswith("`") and len(name) > 1:
            name = name[1:-1]
        if data is None or name not in data.columns:
            raise ValueError(f"unknown column '{name}' given as {what} (not in data)")
        return data[name].to_numpy(), name
    arr = np.asarray(value)
    if arr.ndim != 1 or (n is not None and len(arr) != n):
        raise ValueError(f"{what} must be a column name, '~column' or a 1-d array with one value "
                         f"per row ({n})")
    return arr, what


def numeric_column_or_vector(value, data: pd.DataFrame, what: str) -> np.ndarray | None:
    """A numeric per-row argument (weights, offset) by :func:`column_or_vector`'s convention.

    Missing / non-finite values and text columns are refused.
    """
    arr, name = column_or_vector(data, value, what)
    if arr is None:
        return None
    if isinstance(value, str):
        s = data[name]
        k = int(pd.isna(s).sum())
        if k:
            raise ValueError(f"column '{name}' ({what}) has {k} missing value(s)")
        if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            raise ValueError(f"column '{name}' ({what}) must be numeric")
        return s.to_numpy(dtype=float)
    arr = as_float_array(arr, what)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{what} has {int(bad.sum())} missing or non-finite value(s)")
    return arr


def check_no_missing(data: pd.DataFrame, columns: Iterable[str]) -> None:
    for c in columns:
        k = int(pd.isna(data[c]).sum())
        if k:
            raise ValueError(f"column '{c}' has {k} missing value(s); remove or impute them first")


def as_binary_treatment(values, name: str = "treatment") -> np.ndarray:
    """Return a 0/1 float array; accepts 0/1, bool, or a two-level factor (second level = 1)."""
    s = pd.Series(values)
    k = int(s.isna().sum())
    if k:
        raise ValueError(f"column '{name}' has {k} missing value(s)")
    if isinstance(s.dtype, pd.CategoricalDtype):
        levels = [lv for lv in s.cat.categories if (s == lv).any()]
        if len(levels) != 2:
            raise ValueError(
                f"column '{name}' must be binary; it has {len(levels)} observed level(s)"
            )
        return (s == levels[1]).to_numpy(dtype=float)
    if s.dtype == bool:
        return s.to_numpy(dtype=float)
    if not pd.api.types.is_numeric_dtype(s):
        u = pd.unique(s)
        raise ValueError(
            f"column '{name}' must be binary 0/1, logical or a two-level factor; "
            f"it is {s.dtype} with {len(u)} distinct value(s)"
        )
    v = s.to_numpy(dtype=float)
    u = np.unique(v)
    if len(u) == 1:
        raise ValueError(f"column '{name}' has a single value: one treatment group is empty")
    if len(u) != 2 or not set(u.tolist()) <= {0.0, 1.0}:
        raise ValueError(f"column '{name}' must be binary coded 0/1; it has {len(u)} distinct values")
    return v


def as_float_array(values, name: str) -> np.ndarray:
    """``np.asarray(values, dtype=float)`` whose error names the argument.

    Not the offending value: numpy's "could not convert string to float: '<value>'" would print
    row data.
    """
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        pass
    raise TypeError(f"{name} must be numeric")


def check_weights(w, name: str = "weights", n: int | None = None, allow_zero: bool = True) -> np.ndarray:
    w = as_float_array(w, name)
    if w.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if n is not None and len(w) != n:
        raise ValueError(f"{name} has length {len(w)}, data has {n} rows")
    bad = ~np.isfinite(w)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} missing or non-finite value(s)")
    neg = w < 0 if allow_zero else w <= 0
    if neg.any():
        rule = "negative" if allow_zero else "zero or negative"
        raise ValueError(f"{name} has {int(neg.sum())} {rule} value(s); weights must be "
                         f"{'>= 0' if allow_zero else '> 0'}")
    if not (w > 0).any():
        raise ValueError(f"{name} are all zero")
    return w


def check_finite(values, name: str) -> np.ndarray:
    """A numeric 1-d/2-d input as float, raising on missing or infinite values (counts only)."""
    a = as_float_array(values, name)
    k = int(np.isnan(a).sum())
    if k:
        raise ValueError(f"{name} has {k} missing value(s); remove or impute them first")
    k = int(np.isinf(a).sum())
    if k:
        raise ValueError(f"{name} has {k} infinite value(s)")
    return a


def check_columns_finite(data: pd.DataFrame, columns: Iterable[str]) -> None:
    """Raise on missing values in any of ``columns`` and on infinite values in numeric ones."""
    for c in columns:
        s = data[c]
        k = int(pd.isna(s).sum())
        if k:
            raise ValueError(f"column '{c}' has {k} missing value(s); remove or impute them first")
        if pd.api.types.is_numeric_dtype(s) and s.dtype != bool:
            k = int(np.isinf(s.to_numpy(dtype=float)).sum())
            if k:
                raise ValueError(f"column '{c}' has {k} infinite value(s)")


def check_probability(x, name: str) -> float:
    """A confidence level / significance level: a number strictly between 0 and 1."""
    v = as_float_array(x, name)
    if v.ndim != 0 or not 0 < float(v) < 1:
        raise ValueError(f"{name} must be a number strictly between 0 and 1")
    return float(v)


def check_groups_weighted(X, names, w, what: str = "term(s)", describe=None) -> None:
    """Raise when a model column is constant among the rows with positive weight.

    Some group (e.g. a treatment arm) has zero total weight, so its contrast is not estimable (R: NA
    / an infinite coefficient / a singular matrix).
    """
    w = np.asarray(w, dtype=float)
    pos = w > 0
    if pos.all() or not pos.any():
        return
    Xp = np.asarray(X, dtype=float)[pos]
    bad = [nm for j, nm in enumerate(names) if nm != "(Intercept)" and np.ptp(Xp[:, j]) == 0]
    if bad:
        raise ValueError(
            f"{what} {(describe or ', '.join)(bad)} are constant among the {int(pos.sum())} rows with positive weight: "
            "a group has zero total weight (empty group)")
