"""``carts-iptw verify OUT_DIR``: run the output's ``reproduce.R`` and compare R with Python.

Every number of ``results.json`` is a quantity keyed by its place (:func:`quantities`: the lists
of results.json keyed by outcome name, covariate, Table 1 row, subgroup level). ``reproduce.R``
(:mod:`carts_iptw.study.reproduce`) writes ``results_R.json`` with the same keys; each quantity
is compared at the parity tolerances (:func:`carts_iptw.parity.compare.compare_quantity`:
relative 1e-6, counts exact), or listed as not compared with the reason (:func:`not_compared`):
never dropped silently.

``verify`` writes ``results_R.json``, ``verification.md`` and ``verification.html`` into the
folder and links the verification from ``report.html``, all through the output folder's manifest
(:func:`carts_iptw.study.output.update_outputs`): nothing it did not write is touched. Exit codes:
0 every compared quantity matches; 1 one or more differ (named); 2 the folder, the cohort, R or
an R package is not usable, or the script failed in R (one line naming the cause; nothing is
written).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carts_iptw.parity.compare import Quantity, compare_quantity
from carts_iptw.study.output import _sha256
from carts_iptw.study.reproduce import R_PACKAGES

#: default tolerance (the parity suite's); counts are exact
RTOL = 1e-6
#: an absolute floor for the SMDs: overlap weights balance every covariate exactly (|SMD| ~ 1e-9),
#: where a relative tolerance has no meaning (the parity case of Rotterdam does the same)
SMD_ATOL = 1e-8

#: marginaleffects differentiates numerically (forward differences): its SE differs from the
#: exact delta method by up to ~5e-7 relative (carts_iptw.effects.comparisons), which a small
#: p-value amplifies by about z^2
AVG_COMPARISONS_RTOL = 1e-5

_KEYED = ("binary_outcomes", "odds_ratios", "continuous_outcomes", "distribution_outcomes",
          "survival", "cox", "competing")

MARK_RE = re.compile(r"<!--r-verification-->.*?<!--/r-verification-->", re.S)


class VerifyError(ValueError):
    """The output cannot be verified (the CLI exits 2 with the one-line message)."""


# ---------------------------------------------------------------- the quantities
def _table1_key(row: dict) -> str:
    if row.get("kind") == "n":
        return "n"
    if row.get("kind") in ("median_iqr", "header") or "p_unweighted" in row:
        return str(row["column"])
    return f"{row['column']}={row['level']}"


def keyed(results: dict) -> dict:
    """results.json with each list of records keyed as ``reproduce.R`` names them."""
    out = {k: v for k, v in results.items() if k not in ("meta", "functions", "warnings")}
    if "flow" in out:
        out["flow"] = {k: {"value": [r[k] for r in results["flow"]], "function": "count"}
                       for k in ("remaining", "treated")}
    if "balance" in out:
        b = dict(out["balance"])
        b["rows"] = {r["covariate"]: r for r in b.get("rows", [])}
        out["balance"] = b
    if "table1" in out:
        out["table1"] = {_table1_key(r): r for r in out["table1"].get("rows", [])}
    for sec in _KEYED:
        if sec in out:
            out[sec] = {r["name"]: r for r in out[sec]}
    if "subgroups" in out:
        out["subgroups"] = {f"{s['outcome']} by {s['modifier']}":
                            {**s, "rows": {r["level"]: r for r in s["rows"]}}
                            for s in out["subgroups"]}
    if "calibration" in out:
        out["calibration"] = {str(i): r for i, r in enumerate(out["calibration"])}
    return out


def _walk(node, path: str, out: dict) -> None:
    if isinstance(node, dict):
        if "function" in node and "value" in node:
            out[path] = node
            return
        for k, v in node.items():
            _walk(v, f"{path}.{k}" if path else str(k), out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _walk(v, f"{path}[{i}]", out)


def quantities(results: dict) -> dict[str, dict]:
    """Every number of results.json: key -> its cell (``value``, ``function``, ...)."""
    out: dict[str, dict] = {}
    _walk(keyed(results), "", out)
    return out


def r_values(doc) -> dict[str, object]:
    """results_R.json flattened to the same keys (a JSON array is one quantity)."""
    out: dict[str, object] = {}

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else str(k))
        else:
            out[path] = node

    walk(doc, "")
    return out


def not_compared(key: str, cell: dict, results: dict) -> str | None:
    """Why a quantity is not compared with R, or None when it is."""
    p = results.get("propensity", {})
    fn = cell.get("function")
    if not key.startswith("flow."):
        if p.get("missing") == "mi":
            return "stochastic imputation (missing = \"mi\"): R's mice draws other imputations"
        if p.get("method") == "cbps":
            return ("cbps weights: WeightIt's optimiser stalls without rootSolve, which does not "
                    "install here")
    if key.startswith("calibration."):
        return ("calibration of the SYNTHETIC cohort against the published abstract: a check of "
                "the simulated data, not an analysis result")
    if fn == "logistf" or ".firth." in key:
        return ("Firth-penalised estimate: logistf does not install here (brglm2 gives the "
                "estimate, not logistf's profile-likelihood CI)")
    m = re.match(r"odds_ratios\.(.+?)\.", key)
    if m:
        o = next((r for r in results.get("odds_ratios", []) if r["name"] == m.group(1)), {})
        if o.get("method") == "logistf":
            return ("separation (detectseparation does not install here): the maximum-likelihood "
                    "odds ratio is infinite, Firth's was reported")
    return None


def tolerance(key: str, cell: dict, siblings: dict | None = None) -> tuple[float, float]:
    """(rtol, atol) of a quantity (``siblings``: every quantity, for a limit's SE)."""
    if cell.get("function") == "count":
        return 0.0, 0.0
    if cell.get("function") in ("bal_tab", "table_one") and ("smd" in key or "Diff." in key):
        return RTOL, SMD_ATOL
    if cell.get("function") == "avg_comparisons":
        leaf = key.rsplit(".", 1)[-1]
        if leaf in ("se", "p"):
            return AVG_COMPARISONS_RTOL, 0.0
        if leaf in ("lower", "upper"):
            # a limit near zero: the same SE gap, as an absolute floor of 1e-5 SE
            se = (siblings or {}).get(key.rsplit(".", 1)[0] + ".se", {}).get("value")
            return AVG_COMPARISONS_RTOL, 1e-5 * abs(se) if isinstance(se, float) else 0.0
    return RTOL, 0.0


@dataclass
class Check:
    """One row of the verification."""

    quantity: str
    function: str
    python: float | None
    r: float | None
    abs_diff: float | None
    rel_diff: float | None
    rtol: float
    atol: float
    status: str  # "match" | "DIFFERS" | "not compared"
    note: str = ""


def _num(x):
    if x is None:
        return np.nan
    if isinstance(x, list):
        return [np.nan if v is None else float(v) for v in x]
    return float(x)


def compare(results: dict, r_doc: dict) -> list[Check]:
    """One :class:`Check` per number of results.json."""
    rv = r_values(r_doc)
    rows = []
    qs = quantities(results)
    for key, cell in qs.items():
        fn = str(cell.get("function", ""))
        py = cell.get("value")
        why = not_compared(key, cell, results)
        rtol, atol = tolerance(key, cell, qs)
        if why:
            rows.append(Check(key, fn, py if not isinstance(py, list) else None, None, None, None,
                              rtol, atol, "not compared", why))
            continue
        if key not in rv:
            rows.append(Check(key, fn, py if not isinstance(py, list) else None, None, None,
                              None, rtol, atol, "DIFFERS", "not computed by reproduce.R"))
            continue
        try:
            rq = Quantity(np.atleast_1d(np.asarray(_num(rv[key]), dtype=float)))
        except (TypeError, ValueError):
            rows.append(Check(key, fn, py if not isinstance(py, list) else None, None, None,
                              None, rtol, atol, "DIFFERS", "reproduce.R gave a non-number"))
            continue
        pq = Quantity(np.atleast_1d(np.asarray(_num(py), dtype=float)))
        f = compare_quantity(pq, rq, rtol, atol)
        note = f["note"] if f["note"] != "empty" else ""
        if not f["passed"] and cell.get("reason") and py is None:
            note = f"Python: {cell['reason']}" + (f"; {note}" if note else "")
        rows.append(Check(key, fn, f["python"], f["r"], f["abs_diff"], f["rel_diff"], rtol, atol,
                          "match" if f["passed"] else "DIFFERS", note))
    return rows


# ---------------------------------------------------------------- running R
def _rscript() -> str:
    exe = os.environ.get("CARTS_IPTW_RSCRIPT") or shutil.which("Rscript")
    if not exe or not Path(exe).exists():
        raise VerifyError("R is not installed (Rscript is not on the PATH): install R >= 4.2 and "
                          f"the R packages {', '.join(R_PACKAGES)}")
    return exe


def _r_versions(exe: str) -> None:
    code = ("for (p in c(" + ", ".join(f'"{p}"' for p in R_PACKAGES) + ")) "
            "if (!requireNamespace(p, quietly = TRUE)) cat(p, '\\n')")
    r = subprocess.run([exe, "--no-save", "--no-restore", "-e", code], capture_output=True,
                       text=True, timeout=300)
    if r.returncode != 0:
        raise VerifyError(f"R does not start: {_last_error(r.stderr)}")
    missing = r.stdout.split()
    if missing:
        raise VerifyError(f"R package(s) not installed: {', '.join(missing)}: install them "
                          f"(install.packages(c({', '.join(repr(m) for m in missing)}))) or "
                          "point R_LIBS_USER at a library that has them")


def _last_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        if ln.startswith("Error"):
            msg = ln if not ln.endswith(":") or i + 1 >= len(lines) else f"{ln} {lines[i + 1]}"
            return re.sub(r"\s+", " ", msg)[:300]
    return (lines[-1] if lines else "no message")[:300]


def run_r(folder: Path, timeout: float = 3600) -> tuple[dict, str]:
    """Run ``reproduce.R`` in ``folder``; return (results_R.json as parsed, its text)."""
    exe = _rscript()
    _r_versions(exe)
    with tempfile.TemporaryDirectory(prefix="carts-iptw-verify-") as tmp:
        out = Path(tmp) / "results_R.json"
        r = subprocess.run([exe, "--no-save", "--no-restore", "reproduce.R", str(out)],
                           cwd=folder, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0 or not out.is_file():
            raise VerifyError(f"reproduce.R failed in R: {_last_error(r.stderr)}")
        text = out.read_text(encoding="utf-8")
    try:
        return json.loads(text), text
    except ValueError:
        raise VerifyError("reproduce.R wrote a results_R.json that is not JSON") from None


# ---------------------------------------------------------------- the folder
def check_folder(folder) -> tuple[Path, dict]:
    """The output folder and its results.json, after the checks that need no R."""
    from carts_iptw.study.output import MANIFEST_NAME

    out = Path(folder).expanduser().resolve()
    if not out.is_dir():
        raise VerifyError(f"{out} is not a folder: pass the output folder of `carts-iptw run`")
    if not (out / MANIFEST_NAME).is_file():
        raise VerifyError(f"{out} is not a carts-iptw output (no {MANIFEST_NAME})")
    if not (out / "results.json").is_file():
        raise VerifyError(f"{out} has no results.json: run `carts-iptw run` into it first")
    if not (out / "reproduce.R").is_file():
        raise VerifyError(f"{out} has no reproduce.R (outputs of older carts-iptw versions have "
                          "none): run the study again")
    try:
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    except ValueError:
        raise VerifyError(f"{out}/results.json is not valid JSON") from None
    rep = results.get("meta", {}).get("reproduce")
    if not isinstance(rep, dict) or "cohort" not in rep or "cohort_sha256" not in rep:
        raise VerifyError("results.json does not record the cohort file and its sha256 "
                          "(meta.reproduce): run the study again")
    cohort = Path(rep["cohort"])
    cohort = cohort if cohort.is_absolute() else out / cohort
    if not cohort.is_file():
        raise VerifyError(f"the cohort file {cohort} is gone (moved or deleted since the run): "
                          "put it back to verify")
    if _sha256(cohort) != rep["cohort_sha256"]:
        raise VerifyError(f"the cohort file {cohort.name} changed since the run (its sha256 "
                          "differs from the one results.json records): verify needs the data "
                          "the run read")
    return out, results


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    if isinstance(x, float):
        return f"{x:.10g}"
    return str(x)


def _tol(c: Check) -> str:
    if c.rtol == 0 and c.atol == 0:
        return "exact"
    return f"rel {c.rtol:g}" + (f" + abs {c.atol:g}" if c.atol else "")


def render(rows: list[Check], results: dict, r_doc: dict, notes: list[str]) -> tuple[str, str]:
    """verification.md and verification.html."""
    m = results.get("meta", {})
    ver = r_doc.get("versions", {})
    vtext = ", ".join(f"{k} {v}" for k, v in ver.items())
    n_ok = sum(c.status == "match" for c in rows)
    n_bad = sum(c.status == "DIFFERS" for c in rows)
    n_nc = sum(c.status == "not compared" for c in rows)
    verdict = ("every compared quantity matches R" if not n_bad else
               f"{n_bad} quantit{'y differs' if n_bad == 1 else 'ies differ'} from R")
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = [f"Study: {m.get('study', '')}", f"Verified {when} with {vtext}",
            f"{n_ok} quantities match, {n_bad} differ, {n_nc} not compared (reasons listed). "
            f"Verdict: {verdict}.", *notes]
    cols = ["quantity", "function", "Python", "R", "abs diff", "rel diff", "tolerance", "result",
            "note"]
    order = sorted(rows, key=lambda c: {"DIFFERS": 0, "match": 1, "not compared": 2}[c.status])

    def cells(c: Check) -> list[str]:
        return [c.quantity, c.function, _fmt(c.python), _fmt(c.r), _fmt(c.abs_diff),
                _fmt(c.rel_diff), _tol(c), c.status, c.note]

    md = ["# Verification in R", "", *[f"{h}  " for h in head], "",
          "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    md += ["| " + " | ".join(x.replace("|", "\\|") for x in cells(c)) + " |" for c in order]
    e = html.escape
    trs = "".join(
        f'<tr class="{ {"match": "ok", "DIFFERS": "bad", "not compared": "nc"}[c.status]}">'
        + "".join(f"<td>{e(x)}</td>" for x in cells(c)) + "</tr>" for c in order)
    page = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Verification in R</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
            "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}tr.bad{background:#fdd}"
            "tr.nc{color:#666}</style></head><body><h1>Verification in R</h1>"
            + "".join(f"<p>{e(h)}</p>" for h in head)
            + "<p><a href=\"report.html\">back to the report</a></p><table><tr>"
            + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>" + trs
            + "</table></body></html>\n")
    return "\n".join(md) + "\n", page


def link_html(n_bad: int, n_ok: int) -> str:
    """What the report's verification marker says after ``verify``."""
    what = (f"Verified in R: all {n_ok} compared quantities match" if not n_bad else
            f"Verification in R: {n_bad} quantities differ")
    return (f'<!--r-verification--><a href="verification.html">{html.escape(what)}</a>'
            "<!--/r-verification-->")


def verify(folder, progress: Callable[[str], None] | None = None) -> tuple[int, list[Check]]:
    """Run and compare; write the verification; return (exit code 0 or 1, the rows)."""
    from carts_iptw import __version__
    from carts_iptw.study.output import read_manifest, update_outputs

    say = progress or (lambda msg: None)
    out, results = check_folder(folder)
    say("running reproduce.R in R")
    r_doc, r_text = run_r(out)
    rows = compare(results, r_doc)
    manifest = read_manifest(out) or {"files": {}}
    notes = []
    rj = manifest["files"].get("results.json")
    if rj and rj != _sha256(out / "results.json"):
        notes.append("Note: results.json was changed since the run wrote it (its sha256 differs "
                     "from the manifest's).")
    md, page = render(rows, results, r_doc, notes)
    files = {"results_R.json": r_text.encode(), "verification.md": md.encode(),
             "verification.html": page.encode()}
    n_bad = sum(c.status == "DIFFERS" for c in rows)
    n_ok = sum(c.status == "match" for c in rows)
    rep = out / "report.html"
    if rep.is_file() and manifest["files"].get("report.html") == _sha256(rep):
        text = rep.read_text(encoding="utf-8")
        if MARK_RE.search(text):
            files["report.html"] = MARK_RE.sub(lambda _: link_html(n_bad, n_ok), text).encode()
    elif rep.is_file():
        say("report.html was edited since the run: the link to the verification is not added")
    update_outputs(out, files, version=__version__)
    return (1 if n_bad else 0), rows
