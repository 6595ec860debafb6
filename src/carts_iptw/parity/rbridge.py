"""R in the same process, through rpy2: data to R faithfully, named lists back to Python.

Python -> R (``to_r_dataframe``)
    pandas Categorical -> factor with the same level order (ordered -> ordered factor); bool / nullable boolean -> logical;
    int64 / nullable Int64 -> integer; float -> double; str / object -> character;
    NaN, None, pd.NA -> NA of the column's type. A non-default index becomes row names.
R -> Python (``from_r``)
    named list -> dict; unnamed list -> list; double / integer / logical vector -> numpy float
    array (NA -> nan), or a pandas Series when it has names; matrix -> DataFrame when it has
    dimnames, else a 2-D array; data.frame -> DataFrame; character / factor -> list of str
    (NA -> None); length-one unnamed vectors -> scalars; NULL -> None.

Only this module imports rpy2, lazily, so the package itself never needs R.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carts_iptw.parity.registry import DEBIAN_R_PACKAGES, SHARED_R_PACKAGES


class RUnavailable(RuntimeError):
    """R, rpy2 or a required R package is not available; the message says which."""


@lru_cache(maxsize=1)
def _r():
    """Initialise embedded R once; raise RUnavailable with the reason when it cannot start."""
    try:
        import rpy2.rinterface_lib.callbacks as callbacks
        import rpy2.robjects as ro
    except Exception as exc:  # ImportError, or R's shared library not found
        raise RUnavailable(f"rpy2 cannot start R: {type(exc).__name__}: {exc}") from exc
    # What a reference function prints, warns or messages is captured per call (call_r_captured);
    # anything else R writes (package start-up messages) goes to this process's stderr.
    callbacks.consolewrite_print = lambda s: sys.stderr.write(s)
    callbacks.consolewrite_warnerror = lambda s: sys.stderr.write(s)
    ro.r(_CAPTURE_R)
    return ro


#: R's side of call_r_captured: run fn(data, args) collecting its warnings and messages (each
#: muffled once collected, so R's own warning printer never sees them) and its printed output.
_CAPTURE_R = """
.carts_iptw_capture <- function(fn, data, args) {
  warns <- character(); msgs <- character()
  out <- utils::capture.output(
    value <- withCallingHandlers(fn(data, args),
      warning = function(w) {
        warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning")
      },
      message = function(m) {
        msgs <<- c(msgs, sub("\\n$", "", conditionMessage(m))); invokeRestart("muffleMessage")
      }))
  list(value = value, warnings = warns, messages = msgs, output = out)
}
"""


def r_available() -> tuple[bool, str]:
    """(True, "") when embedded R starts; else (False, reason)."""
    try:
        _r()
    except RUnavailable as exc:
        return False, str(exc)
    return True, ""


def installed_r_packages(packages: tuple[str, ...]) -> dict[str, str | None]:
    """Version string of each package, or None when it is not installed."""
    ro = _r()
    out: dict[str, str | None] = {}
    for p in packages:
        ok = bool(ro.r(f'isTRUE(suppressWarnings(requireNamespace("{p}", quietly = TRUE)))')[0])
        out[p] = str(ro.r(f'as.character(utils::packageVersion("{p}"))')[0]) if ok else None
    return out


@lru_cache(maxsize=1)
def r_versions() -> dict[str, Any]:
    """R's version string and the version of every R package the parity cases use."""
    ro = _r()
    import rpy2

    return {
        "R": str(ro.r("R.version.string")[0]),
        "platform": str(ro.r("R.version$platform")[0]),
        "rpy2": rpy2.__version__,
        "packages": installed_r_packages(DEBIAN_R_PACKAGES + SHARED_R_PACKAGES),
    }


def project_root() -> Path:
    """The checkout holding ``r_reference/`` and ``tests/parity/``.

    ``CARTS_IPTW_ROOT`` wins; else the first parent of this file or of the working directory
    that has ``r_reference/``.
    """
    env = os.environ.get("CARTS_IPTW_ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for p in (start, *start.parents):
            if (p / "r_reference").is_dir() and (p / "pyproject.toml").is_file():
                return p
    raise FileNotFoundError(
        "cannot find the carts_iptw checkout (a folder with r_reference/ and pyproject.toml); "
        "run from the checkout or set CARTS_IPTW_ROOT"
    )


def r_reference_dir() -> Path:
    return project_root() / "r_reference"


@cache
def _sourced(r_file: str):
    """An R environment with ``r_reference/<r_file>`` sourced into it (once per process)."""
    ro = _r()
    path = r_reference_dir() / r_file
    if not path.is_file():
        raise FileNotFoundError(f"R reference file not found: {path}")
    env = ro.r("new.env(parent = globalenv())")
    ro.r["sys.source"](str(path), envir=env, keep_source=False)
    return env


def call_r(r_file: str, r_function: str, data: pd.DataFrame | None, args: Mapping[str, Any]):
    """Call ``r_function(data, args)`` from ``r_reference/r_file``; return it converted."""
    return call_r_captured(r_file, r_function, data, args)[0]


def call_r_captured(r_file: str, r_function: str, data: pd.DataFrame | None,
                    args: Mapping[str, Any]) -> tuple[Any, dict[str, list[str]]]:
    """Like ``call_r``, and also what R said while running it: ``(value, conditions)`` with
    ``conditions = {"warnings": [...], "messages": [...], "output": [...]}`` (the text of each
    warning / message in the order R raised them, and the printed lines)."""
    ro = _r()
    env = _sourced(r_file)
    fn = env.find(r_function)
    rdata = to_r_dataframe(data) if data is not None else ro.NULL
    res = ro.globalenv.find(".carts_iptw_capture")(fn, rdata, to_r(args))
    parts = dict(zip(_names(res), list(res), strict=True))
    conditions = {k: _strings(parts[k]) for k in ("warnings", "messages", "output")}
    return from_r(parts["value"]), conditions


# ---------------------------------------------------------------------------------------------
# Python -> R
# ---------------------------------------------------------------------------------------------
def _na_mask(s: pd.Series) -> np.ndarray:
    return pd.isna(s).to_numpy()


def r_column_type(s: pd.Series) -> str:
    """The R type a column becomes in R: "factor", "ordered", "logical", "integer", "double" or
    "character" (the rules of ``to_r_dataframe``; snapshots hash inputs by this type, never by
    the pandas dtype's spelling). Raises TypeError for datetime columns, which are not sent."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return "ordered" if s.cat.ordered else "factor"
    if pd.api.types.is_bool_dtype(s.dtype):
        return "logical"
    if pd.api.types.is_integer_dtype(s.dtype):
        arr = s.to_numpy(dtype=object)
        mask = _na_mask(s)
        if len(arr) and np.nanmax(np.abs(np.where(mask, 0, arr).astype(float))) > 2**31 - 1:
            return "double"  # beyond R's integer range
        return "integer"
    if pd.api.types.is_float_dtype(s.dtype):
        return "double"
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        raise TypeError(f"column '{s.name}': datetime columns are not sent to R; convert to numbers")
    return "character"


def _to_r_column(s: pd.Series):
    from rpy2 import rinterface as ri

    kind = r_column_type(s)
    mask = _na_mask(s)
    if kind in ("factor", "ordered"):
        codes = s.cat.codes.to_numpy().astype(np.int64) + 1
        vals = [ri.NA_Integer if m else int(c) for c, m in zip(codes, mask, strict=True)]
        levels = [str(x) for x in s.cat.categories]
        # structure() sets the object bit too (a bare class slot would not: is.object() FALSE,
        # and model.matrix would treat the factor as a number)
        cls = ["ordered", "factor"] if kind == "ordered" else ["factor"]
        return _r().baseenv["structure"](
            ri.IntSexpVector(vals), levels=ri.StrSexpVector(levels), **{"class": ri.StrSexpVector(cls)}
        )
    if kind == "logical":
        vals = [ri.NA_Logical if m else bool(v) for v, m in zip(s.to_numpy(dtype=object), mask, strict=True)]
        return ri.BoolSexpVector(vals)
    if kind == "integer":
        arr = s.to_numpy(dtype=object)
        return ri.IntSexpVector([ri.NA_Integer if m else int(v) for v, m in zip(arr, mask, strict=True)])
    if kind == "double":
        arr = s.to_numpy(dtype=float, na_value=np.nan)
        vec = ri.FloatSexpVector(arr)
        if mask.any():
            na_idx = np.flatnonzero(mask)
            for i in na_idx:  # NA_real_, not NaN: R's is.na and na.omit treat both alike
                vec[int(i)] = ri.NA_Real
        return vec
    vals = [ri.NA_Character if m else str(v) for v, m in zip(s.to_numpy(dtype=object), mask, strict=True)]
    return ri.StrSexpVector(vals)


def to_r_dataframe(df: pd.DataFrame):
    ro = _r()
    from rpy2 import rinterface as ri

    cols = {str(c): _to_r_column(df[c]) for c in df.columns}
    rdf = ro.r["data.frame"](**{k: v for k, v in cols.items()}, check_names=False, stringsAsFactors=False)
    if not isinstance(df.index, pd.RangeIndex) or df.index.start != 0 or df.index.step != 1:
        rdf = ro.baseenv["rownames<-"](rdf, ri.StrSexpVector([str(i) for i in df.index]))
    return rdf


def to_r(x: Any):
    """Convert JSON-like Python values (the case's args) to R."""
    ro = _r()
    from rpy2 import rinterface as ri

    if x is None:
        return ro.NULL
    if isinstance(x, pd.DataFrame):
        return to_r_dataframe(x)
    if isinstance(x, Mapping):
        return ro.vectors.ListVector({str(k): to_r(v) for k, v in x.items()}) if x else ro.r("list()")
    if isinstance(x, bool | np.bool_):
        return ri.BoolSexpVector([bool(x)])
    if isinstance(x, int | np.integer):
        return ri.IntSexpVector([int(x)])
    if isinstance(x, float | np.floating):
        return ri.FloatSexpVector([float(x)])
    if isinstance(x, str):
        return ri.StrSexpVector([x])
    if isinstance(x, np.ndarray | list | tuple | pd.Series):
        seq = list(x.tolist() if hasattr(x, "tolist") else x)
        if not seq:
            return ro.r("c()")
        if all(isinstance(v, str) for v in seq):
            return ri.StrSexpVector(seq)
        if all(isinstance(v, bool | np.bool_) for v in seq):
            return ri.BoolSexpVector([bool(v) for v in seq])
        if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in seq):
            return ri.IntSexpVector([int(v) for v in seq])
        if all(isinstance(v, int | float | np.number) for v in seq):
            return ri.FloatSexpVector([float(v) for v in seq])
        return ro.vectors.ListVector.from_length(0) if not seq else ro.r["list"](*[to_r(v) for v in seq])
    raise TypeError(f"cannot send a {type(x).__name__} to R")


# ---------------------------------------------------------------------------------------------
# R -> Python
# ---------------------------------------------------------------------------------------------
def _names(x) -> list[str] | None:
    from rpy2 import rinterface as ri

    n = x.do_slot("names") if "names" in list(x.list_attrs()) else ri.NULL
    if n is ri.NULL:
        return None
    return [None if v is ri.NA_Character else str(v) for v in n]


def _attr(x, name):
    from rpy2 import rinterface as ri

    return x.do_slot(name) if name in list(x.list_attrs()) else ri.NULL


def _numeric(x) -> np.ndarray:
    from rpy2 import rinterface as ri

    if isinstance(x, ri.FloatSexpVector):
        return np.array(x, dtype=float)  # NA_real_ is a NaN already
    if isinstance(x, ri.IntSexpVector):
        a = np.array(x, dtype=np.int64)
        out = a.astype(float)
        out[a == ri.NA_Integer] = np.nan
        return out
    if isinstance(x, ri.BoolSexpVector):
        vals = list(x)
        return np.array([np.nan if v is ri.NA_Logical else float(bool(v)) for v in vals], dtype=float)
    raise TypeError(type(x))


def _strings(x) -> list[str | None]:
    from rpy2 import rinterface as ri

    return [None if v is ri.NA_Character else str(v) for v in x]


def from_r(x: Any) -> Any:
    from rpy2 import rinterface as ri

    if x is ri.NULL or x is None:
        return None
    cls = list(_attr(x, "class")) if _attr(x, "class") is not ri.NULL else []
    if isinstance(x, ri.ListSexpVector):
        if "data.frame" in cls:
            names = _names(x) or []
            cols = {n: _column_from_r(v) for n, v in zip(names, x, strict=True)}
            rn = _attr(x, "row.names")
            df = pd.DataFrame({k: (v if not np.isscalar(v) else [v]) for k, v in cols.items()})
            if isinstance(rn, ri.StrSexpVector):
                df.index = pd.Index(_strings(rn))
            return df
        names = _names(x)
        items = [from_r(v) for v in x]
        if names is None:
            return items
        return {n: v for n, v in zip(names, items, strict=True)}
    return from_r_vector(x)


def _column_from_r(v):
    """A data.frame column: factors become pandas Categorical with R's levels."""
    from rpy2 import rinterface as ri

    cls = _attr(v, "class")
    if cls is not ri.NULL and "factor" in list(cls):
        return pd.Categorical(from_r_vector(v), categories=_strings(_attr(v, "levels")),
                              ordered="ordered" in list(cls))
    return from_r_vector(v, keep_names=False)


def from_r_vector(x, keep_names: bool = True):
    from rpy2 import rinterface as ri

    if x is ri.NULL:
        return None
    cls = list(_attr(x, "class")) if _attr(x, "class") is not ri.NULL else []
    if "factor" in cls:
        levels = _strings(_attr(x, "levels"))
        codes = np.array(x, dtype=np.int64)
        return [None if c == ri.NA_Integer else levels[c - 1] for c in codes]
    dim = _attr(x, "dim")
    if isinstance(x, ri.StrSexpVector):
        vals: Any = _strings(x)
    elif isinstance(x, ri.FloatSexpVector | ri.IntSexpVector | ri.BoolSexpVector):
        vals = _numeric(x)
    else:
        raise TypeError(f"cannot convert R object of type {type(x).__name__}")
    if dim is not ri.NULL and len(dim) == 2:
        nr, nc = int(dim[0]), int(dim[1])
        mat = np.asarray(vals, dtype=object if isinstance(x, ri.StrSexpVector) else float)
        mat = mat.reshape((nr, nc), order="F")
        dn = _attr(x, "dimnames")
        if dn is not ri.NULL:
            rn = _strings(dn[0]) if dn[0] is not ri.NULL else None
            cn = _strings(dn[1]) if dn[1] is not ri.NULL else None
            return pd.DataFrame(mat, index=rn, columns=cn)
        return mat
    names = _names(x) if keep_names else None
    if names is not None:
        return pd.Series(vals, index=names, dtype=object if isinstance(x, ri.StrSexpVector) else float)
    if len(vals) == 1:
        return vals[0] if isinstance(vals, list) else float(vals[0])
    return vals
