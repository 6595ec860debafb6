"""Reference data sets, exported exactly from the R packages that ship them.

``load_dataset(name)`` returns a DataFrame typed as R has it: factors as pandas Categorical with
R's level order, integers as int64 (nullable ``Int64`` when they hold NA), doubles as float64,
logicals as bool (``boolean`` with NA). Written by ``r_reference/datasets.R`` (doubles as %.17g,
so values round-trip exactly); each ``<name>.meta.json`` records the source package and version.

| name | R source |
|---|---|
| lalonde | ``MatchIt::lalonde`` |
| birthwt | ``MASS::birthwt`` |
| rotterdam | ``survival::rotterdam`` |
| colon | ``survival::colon`` |
| lung | ``survival::lung`` |
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import pandas as pd

_DATA = "data"


def available_datasets() -> list[str]:
    """Names of the bundled reference data sets."""
    root = resources.files(__package__) / _DATA
    return sorted(p.name[: -len(".meta.json")] for p in root.iterdir() if p.name.endswith(".meta.json"))


def dataset_meta(name: str) -> dict:
    """The metadata of a bundled data set (its ``.meta.json``).

    ValueError for an unknown name.
    """
    root = resources.files(__package__) / _DATA
    path = root / f"{name}.meta.json"
    if not path.is_file():
        raise ValueError(f"unknown data set {name!r}; available: {available_datasets()}")
    return json.loads(path.read_text())


@cache
def _load(name: str) -> pd.DataFrame:
    meta = dataset_meta(name)
    root = resources.files(__package__) / _DATA
    with (root / f"{name}.csv").open("r") as fh:
        raw = pd.read_csv(fh, dtype=str, keep_default_na=False, na_values=[""])
    out = {}
    for col in meta["columns"]:
        v, kind = col["name"], col["type"]
        x = raw[v]
        if kind == "factor":
            out[v] = pd.Categorical(x, categories=col["levels"])
        elif kind == "integer":
            num = pd.to_numeric(x)
            out[v] = num.astype("Int64") if x.isna().any() else num.astype("int64")
        elif kind == "double":
            out[v] = x.astype(float)
        elif kind == "logical":
            b = x.map({"TRUE": True, "FALSE": False})
            out[v] = b.astype("boolean") if x.isna().any() else b.astype(bool)
        else:
            out[v] = x
    df = pd.DataFrame(out)
    if meta.get("rownames"):
        df.index = pd.Index(raw[".rownames"].to_numpy())
    if len(df) != meta["nrow"]:
        raise RuntimeError(f"data set {name!r} is corrupt: {len(df)} rows, expected {meta['nrow']}")
    return df


def load_dataset(name: str) -> pd.DataFrame:
    """Return a fresh copy of an R reference data set (see module docstring).

    Parameters
    ----------
    name : str
        The data set's name (``available_datasets()``).

    Returns
    -------
    pandas.DataFrame
        A fresh copy of the data set.

    Raises
    ------
    ValueError
        For an unknown name.

    Notes
    -----
    R twins: the data sets themselves (``MatchIt::lalonde``, ``MASS::birthwt``,
    ``survival::rotterdam``, ``survival::colon``, ``survival::lung``), checked value for value by
    the ``dataset.*`` parity cases (versions installed here: MatchIt 4.5.1, MASS 7.3-58.2,
    survival 3.5-3).
    """
    return _load(name).copy()


__all__ = ["available_datasets", "dataset_meta", "load_dataset"]
