"""Snapshots: R's answers written to JSON so parity can be checked where R is absent.

A snapshot records the flattened quantities (doubles as Python floats, which round-trip
exactly; NA/NaN as "NaN", infinities as "Inf"/"-Inf"), the R and package versions that made it,
the case's arguments, R's warnings and messages, the sha256 of the R reference file, and a
portable fingerprint of the inputs R received: ``staleness`` compares both with the R file and
the case's inputs as they are now, so a snapshot older than the R code or data that made it is
detected.

The input fingerprint (``input_hash``, scheme ``r-canonical-9``) hashes what R receives, never
how pandas or numpy spelled or computed it:

- each column as its R type (``rbridge.r_column_type``: double / integer / logical / character
  / factor / ordered, factors with their levels in order), its name, and its values: integers,
  logicals and strings exactly, factors as level codes, NA as NA (pandas 2's ``object`` and
  pandas 3's ``str`` both become character, so they hash alike);
- doubles rounded to ``DIGITS`` = 9 significant digits (correctly rounded decimal formatting,
  the same on every platform), so two inputs that agree to 9 digits are the same input. A
  value computed in Python (e.g. an IPT weight) may differ in its last bits between numpy / BLAS
  builds; that can change its 9-digit rounding only if it lies within such noise of a rounding
  tie. Values closer than ``GUARD`` = 1e-3 of a rounding step to a tie when the snapshot is
  written are listed in the snapshot (``near_ties``: row and the tie, a few per thousand values)
  and later accepted within 2 * GUARD steps of that tie. So a change of less than 1e-12
  relative (well above last-bit noise) never makes a snapshot stale, and a change of more than
  1e-8 relative always does; in between, a change counts when it moves a 9-digit rounding.
  Parity compares at 1e-6, so inputs equal to 9 digits answer the same question;
- the row names R receives (non-default pandas index) and the case's arguments (JSON).

Snapshots written before this scheme carry ``input_sha256`` (a byte hash of pandas' dtypes and
float bits): they stay readable and are checked with that old hash, which only holds on the
machine and dependency versions that wrote them; ``carts-iptw parity regenerate`` rewrites them
with the portable fingerprint.
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


def legacy_input_sha256(case, data=None) -> str:
    """The pre-portable input hash (snapshots that carry ``input_sha256``): pandas' dtype names
    and the bytes of every value, so it changes with pandas' dtype spellings and float last bits.
    Kept only to read old snapshots."""
    import pandas as pd

    data = case.load_data() if data is None else data
    h = hashlib.sha256()
    h.update(json.dumps(case.args, sort_keys=True, default=str).encode())
    h.update(json.dumps([[str(c), str(t)] for c, t in data.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes())
    return h.hexdigest()


#: the input fingerprint's scheme, significant digits kept of each double, and the guard band
#: (in rounding steps) around rounding ties; see the module docstring
SCHEME = "r-canonical-9"
DIGITS = 9
GUARD = 1e-3


def _tie_tolerance(tie: float) -> float:
    """2 * GUARD rounding steps at the magnitude of a stored tie."""
    e = int(f"{tie:.{DIGITS}e}".split("e")[1])
    return 2 * GUARD * float(f"1e{e - (DIGITS - 1)}")


def _double_tokens(x: np.ndarray, stored_ties: dict | None) -> tuple[list, dict[str, str]]:
    """Canonical tokens of a double column (NaN = NA -> None) and the near-ties found.

    With ``stored_ties`` (checking a snapshot): rows listed there become their tie token when
    still within the tie tolerance; nothing new is flagged. Without (writing): rows within GUARD
    steps of a rounding tie become tie tokens and are returned to be stored."""
    fmt = f".{DIGITS - 1}e"
    finite = np.isfinite(x) & (x != 0)
    # correctly rounded decimal formatting: the same digits on every platform
    tokens: list = [format(v, fmt) if f else None for v, f in zip(x.tolist(), finite.tolist(), strict=True)]
    for i in np.flatnonzero(~finite).tolist():
        v = x[i]
        tokens[i] = None if np.isnan(v) else ("0" if v == 0 else ("Inf" if v > 0 else "-Inf"))
    ties: dict[str, str] = {}
    if stored_ties is not None:
        for key, tie in stored_ties.items():
            i = int(key)
            if i < len(x) and finite[i] and abs(x[i] - float(tie)) <= _tie_tolerance(float(tie)):
                tokens[i] = "~" + tie
        return tokens, ties
    idx = np.flatnonzero(finite)
    if not len(idx):
        return tokens, ties
    a = np.abs(x[idx])
    r = np.abs(np.array([tokens[i] for i in idx.tolist()], dtype=float))
    # r has DIGITS significant digits, so log10(r) is an integer or >= 4e-10 away from one
    e = np.floor(np.log10(r) + 1e-11)
    step = 10.0 ** (e - (DIGITS - 1))
    power_of_ten = np.abs(r / 10.0**e - 1) < 1e-12
    above = a >= r
    side_step = np.where(above | ~power_of_ten, step, step / 10)  # finer steps below 10^k
    tie_mag = np.where(above, r + side_step / 2, r - side_step / 2)
    near = np.abs(a - tie_mag) < GUARD * side_step
    for k in np.flatnonzero(near).tolist():
        i = int(idx[k])
        t = format(math.copysign(float(tie_mag[k]), float(x[i])), f".{DIGITS}e")
        ties[str(i)] = t
        tokens[i] = "~" + t
    return tokens, ties


def input_fingerprint(case, data=None, near_ties: dict | None = None) -> dict:
    """The portable fingerprint of what R receives (see the module docstring).

    ``near_ties`` None: compute it afresh (writing a snapshot), returning the near-ties found;
    a dict (checking a snapshot): use the near-ties the snapshot recorded."""
    import pandas as pd

    from carts_iptw.parity.rbridge import r_column_type

    data = case.load_data() if data is None else data
    columns = []
    found: dict[str, dict[str, str]] = {}
    for c in data.columns:
        s = data[c]
        kind = r_column_type(s)
        na = pd.isna(s).to_numpy()
        levels = None
        if kind in ("factor", "ordered"):
            levels = [str(x) for x in s.cat.categories]
            codes = s.cat.codes.to_numpy()
            values = [None if m else int(k) + 1 for k, m in zip(codes.tolist(), na.tolist(), strict=True)]
        elif kind == "double":
            x = s.to_numpy(dtype=float, na_value=np.nan)
            x = np.where(na, np.nan, x)
            stored = None if near_ties is None else near_ties.get(str(c), {})
            values, ties = _double_tokens(x, stored)
            if ties:
                found[str(c)] = ties
        else:
            obj = s.to_numpy(dtype=object)
            conv = {"integer": int, "logical": bool, "character": str}[kind]
            values = [None if m else conv(v) for v, m in zip(obj.tolist(), na.tolist(), strict=True)]
        columns.append([str(c), kind, levels, values])
    idx = data.index
    default_index = isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1
    doc = {
        "scheme": SCHEME,
        "args": json.loads(json.dumps(case.args, sort_keys=True, default=str)),
        "row_names": None if default_index else [str(i) for i in idx],
        "columns": columns,
    }
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    out = {"scheme": SCHEME, "sha256": digest}
    if near_ties is None:
        out["near_ties"] = found
    return out


def input_sha256(case, data=None) -> str:
    """The portable input hash as a snapshot about to be written records it."""
    return input_fingerprint(case, data)["sha256"]


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


def write_snapshot(case, r_result: Any, versions: dict, conditions: dict | None = None) -> Path:
    """Write R's answer for ``case``; ``conditions`` are R's warnings and messages during the
    call (``rbridge.call_r_captured``), stored as ``r_warnings`` / ``r_messages``."""
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
        "input_hash": input_fingerprint(case),
        "args": case.args,
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "R_version": versions.get("R"),
        "packages": {k: v for k, v in versions.get("packages", {}).items() if v},
        "r_warnings": list((conditions or {}).get("warnings") or []),
        "r_messages": list((conditions or {}).get("messages") or []),
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


def staleness(case, data=None) -> str | None:
    """Why the snapshot no longer answers the case (None when it is current): missing, the R
    reference file changed, or the data/arguments sent to R changed since it was written."""
    path = snapshot_path(case)
    if not path.is_file():
        return "no snapshot"
    doc = json.loads(path.read_text())
    if doc.get("r_file_sha256") != r_file_sha256(case.r_file):
        return f"r_reference/{case.r_file} changed since the snapshot was written"
    ih = doc.get("input_hash")
    if ih is not None:
        if ih.get("scheme") != SCHEME:
            return f"the snapshot's input hash scheme {ih.get('scheme')!r} is not {SCHEME!r}"
        now = input_fingerprint(case, data, near_ties=ih.get("near_ties") or {})
        if now["sha256"] != ih.get("sha256"):
            return "the case's data or arguments changed since the snapshot was written"
        return None
    if doc.get("input_sha256") != legacy_input_sha256(case, data):
        return ("the case's data or arguments changed since the snapshot was written (or only "
                "its legacy byte hash did: regenerate to get the portable input hash)")
    return None


def is_stale(case) -> bool:
    return staleness(case) is not None


def read_external(case) -> dict:
    """A real-package output file (with its provenance ``meta``) from snapshots/external/."""
    path = external_dir() / case.external_snapshot
    if not path.is_file():
        raise FileNotFoundError(f"external snapshot missing: {path}")
    return json.loads(path.read_text())
