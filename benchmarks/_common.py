"""What the benchmark scripts share: running an R script on a data frame, the relative
difference of two answers, and appending a section to ``benchmarks/results.md``.

Imported as ``benchmarks._common`` (``python -m benchmarks``) or ``_common`` (a script run as
``python benchmarks/bench_x.py``, whose folder is first on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results.md"


def rscript_json(d: pd.DataFrame, script: str, *args: str) -> dict:
    """Write ``d`` to a CSV (exact doubles), run ``Rscript script CSV OUT args...``; the script
    writes its JSON answer to OUT (its second argument), which is returned parsed."""
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        d.to_csv(csv, index=False, float_format="%.17g")
        path = Path(tmp) / "b.R"
        path.write_text(script)
        out = Path(tmp) / "out.json"
        subprocess.run(["Rscript", str(path), str(csv), str(out), *args], check=True,
                       env=os.environ.copy())
        return json.loads(out.read_text())


def rel(a, b) -> float:
    """Largest relative difference of ``a`` from ``b`` over the entries finite in both."""
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        return float("nan")
    return float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-300)))


def append_results(text: str, path: str | Path = RESULTS) -> None:
    """Append a section to the results file (created with its title if missing)."""
    res = Path(path)
    if not res.exists():
        res.write_text("# Benchmarks\n")
    with res.open("a") as fh:
        fh.write(text)
