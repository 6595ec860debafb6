"""Snapshots: R's answers written to JSON so parity can be checked where R is absent.

A snapshot records the flattened quantities (doubles as Python floats, which round-trip
exactly; NA/NaN as "NaN", infinities as "Inf"/"-Inf"), the R and package versions that made it,
the case's arguments, and the sha256 of the R reference file: ``is_stale`` compares that hash
with the file as it is now, so a snapshot older than the R code that made it is detected.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from carts_iptw.parity.compare import Quantity, flatten
from carts_iptw.parity.rbridge import project_root, r_reference_dir


def snapshot_dir() -> Path:
    return project_root() / "tests" / "parity" / "snapshots"


def external_dir() -> Path:
    return snapshot_dir() / "external"


def snapshot_path(case) -> Path:
    return snapshot_dir() / f"{case.name}.json"


def r_file_sha256(r_file: str) -> str:
    return hashlib.sha256((r_reference_dir() / r_file).read_bytes()).hexdigest()


def input_sha256(case, data=None) -> str:
    """Hash of what R is given: the case's data (values, column names and types, row names)
    and its arguments. A snapshot made from other inputs is stale."""
    import pandas as pd

    data = case.load_data() if data is None else data
    h = hashlib.sha256()
    h.update(json.dumps(case.args, sort_keys=True, default=str).encode())
    h.update(json.dumps([[str(c), str(t)] for c, t in data.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes())
    return h.hexdigest()


def _enc(v: float) -> float | str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    return float(v)


def _dec(v: Any) -> float:
    if isinstance(v, str):
        return {"NaN": math.nan, "NA": math.nan, "Inf": math.inf, "-Inf": -math.inf}[v]
    if v is None:
        return math.nan
    return float(v)


def encode_quantities(result: Any) -> dict[str, dict]:
    out = {}
    for name, q in flatten(result).items():
        if q.is_string:
            out[name] = {"type": "character", "values": list(q.values), "labels": q.labels}
        else:
            out[name] = {"type": "double", "values": [_enc(v) for v in q.values.tolist()], "labels": q.labels}
    return out


def decode_quantities(data: dict[str, dict]) -> dict[str, Quantity]:
    out = {}
    for name, d in data.items():
        if d["type"] == "character":
            vals = np.array(d["values"], dtype=object)
        else:
            vals = np.array([_dec(v) for v in d["values"]], dtype=float)
        out[name] = Quantity(vals, d.get("labels"))
    return out


def write_snapshot(case, r_result: Any, versions: dict) -> Path:
    path = snapshot_path(case)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "case": case.name,
        "function": case.function,
        "r_twin": case.r_twin,
        "dataset": case.dataset_name,
        "r_file": case.r_file,
        "r_function": case.r_function,
        "r_file_sha256": r_file_sha256(case.r_file),
        "input_sha256": input_sha256(case),
        "args": case.args,
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "R_version": versions.get("R"),
        "packages": {k: v for k, v in versions.get("packages", {}).items() if v},
        "quantities": encode_quantities(r_result),
    }
    q = doc.pop("quantities")
    head = json.dumps(doc, indent=1, allow_nan=False)[:-2]  # one line per quantity below
    body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, allow_nan=False)}" for k, v in q.items())
    path.write_text(f'{head},\n "quantities": {{\n{body}\n }}\n}}\n')
    return path


def read_snapshot(case) -> dict:
    path = snapshot_path(case)
    if not path.is_file():
        raise FileNotFoundError(
            f"no snapshot for parity case {case.name!r} ({path}); run `carts-iptw parity regenerate`"
        )
    doc = json.loads(path.read_text())
    doc["quantities"] = decode_quantities(doc["quantities"])
    return doc


def staleness(case) -> str | None:
    """Why the snapshot no longer answers the case (None when it is current): missing, the R
    reference file changed, or the data/arguments sent to R changed since it was written."""
    path = snapshot_path(case)
    if not path.is_file():
        return "no snapshot"
    doc = json.loads(path.read_text())
    if doc.get("r_file_sha256") != r_file_sha256(case.r_file):
        return f"r_reference/{case.r_file} changed since the snapshot was written"
    if doc.get("input_sha256") != input_sha256(case):
        return "the case's data or arguments changed since the snapshot was written"
    return None


def is_stale(case) -> bool:
    return staleness(case) is not None


def read_external(case) -> dict:
    """A real-package output file (with its provenance ``meta``) from snapshots/external/."""
    path = external_dir() / case.external_snapshot
    if not path.is_file():
        raise FileNotFoundError(f"external snapshot missing: {path}")
    return json.loads(path.read_text())
