"""Run parity cases: Python side, R side (live or snapshot), comparison rows.

Modes (``CARTS_IPTW_R`` or the ``mode`` argument):
- ``require``: R runs live; a missing R, rpy2 or Debian R package is an error, never a skip.
- ``auto``: live when R and the case's packages are there, else the snapshot (recorded as such).
- ``snapshot``: snapshots only.
Cases with an ``external_snapshot`` (real WeightIt/cobalt output recorded elsewhere, a held-out
check) compare with it in every mode; their ``live-external`` variant runs the package live and,
when it is missing, fails in ``require`` mode and reports a skip with the reason otherwise.

Drift: when R runs live for a case that has a snapshot (``parity regenerate``), the snapshot is
also compared with live R at the case's tolerance (rows with check "drift"); a missing or stale
snapshot, or a value that moved, fails the case. R's warnings and messages are captured on every
live call (and read from the snapshot otherwise); a case with ``warnings="mirrored"`` gets a
"warnings" row comparing them with the warnings the Python side raised.
"""

from __future__ import annotations

import os
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

from carts_iptw.parity import rbridge, snapshots
from carts_iptw.parity.compare import Row, compare_drift, compare_results, compare_warnings
from carts_iptw.parity.registry import DEBIAN_R_PACKAGES, ParityCase

MODES = ("require", "auto", "snapshot")


def current_mode(mode: str | None = None) -> str:
    m = mode or os.environ.get("CARTS_IPTW_R", "auto")
    if m not in MODES:
        raise ValueError(f"CARTS_IPTW_R must be one of {MODES}, got {m!r}")
    return m


@dataclass
class CaseResult:
    case: ParityCase
    variant: str  # "reference" or "live-external"
    rows: list[Row] = field(default_factory=list)
    source: str = ""
    versions: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None  # reason, when the variant could not run
    error: str | None = None  # an exception on either side
    #: R's warnings / messages / printed output (None: not known, e.g. an external snapshot)
    r_conditions: dict[str, list[str]] | None = None
    py_warnings: list[str] = field(default_factory=list)
    #: the Python side's answer (None until it ran); tests/parity reuses it
    py_result: Any = None

    @property
    def passed(self) -> bool:
        return self.skipped is None and self.error is None and all(r.passed for r in self.rows)

    def failures(self) -> list[Row]:
        return [r for r in self.rows if not r.passed]


def live_status(packages: tuple[str, ...]) -> tuple[bool, str]:
    ok, reason = rbridge.r_available()
    if not ok:
        return False, reason
    have = rbridge.installed_r_packages(tuple(packages))
    missing = [p for p, v in have.items() if v is None]
    if missing:
        return False, f"R package(s) not installed: {', '.join(missing)}"
    return True, ""


def _r_short(v: dict) -> str:
    """'R 4.2.2' from R's version string (the full versions head the report)."""
    parts = str(v.get("R") or "?").split()
    return f"R {parts[2]}" if len(parts) > 2 and parts[0] == "R" else str(v.get("R"))


def _versions_brief(v: dict, packages: tuple[str, ...] = ()) -> str:
    pk = ", ".join(f"{k} {x}" for k, x in v.get("packages", {}).items() if x and (not packages or k in packages))
    return _r_short(v) + (f", {pk}" if pk else "")


def python_result(case: ParityCase, data=None):
    data = case.load_data() if data is None else data
    return case.python(data.copy(), dict(case.args))


def python_result_warned(case: ParityCase, data=None) -> tuple[Any, list[str]]:
    """The Python side and the text of every warning of the package's own family
    (``CartsIptwWarning``: GlmWarning, ConvergenceWarning, ...) it raised; other libraries'
    warnings (numpy RuntimeWarnings, deprecations) are not the function's and are left out."""
    from carts_iptw.families import CartsIptwWarning

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = python_result(case, data)
    return out, [str(w.message) for w in rec if issubclass(w.category, CartsIptwWarning)]


def r_live_result(case: ParityCase, data=None):
    return r_live_result_captured(case, data)[0]


def r_live_result_captured(case: ParityCase, data=None):
    """(R's result, its warnings / messages / output) from a live call."""
    data = case.load_data() if data is None else data
    return rbridge.call_r_captured(case.r_file, case.r_function, data, dict(case.args))


def drift_rows(case: ParityCase, data, live: Any, conditions: dict | None) -> list[Row]:
    """The stored snapshot against live R (see the module docstring)."""
    src = "live R vs stored snapshot"

    def fail(note: str) -> list[Row]:
        return [Row(case=case.name, function=case.function, r_twin=case.r_twin,
                    dataset=case.dataset_name, quantity="(snapshot)", n=0, worst="", python=None,
                    r=None, abs_diff=float("inf"), rel_diff=float("inf"), rtol=case.rtol,
                    atol=case.atol, passed=False, note=note, source=src, check="drift")]

    if not case.drift:
        return []  # a random R side: the report says so (report.compared_against)
    why = snapshots.staleness(case, data)
    if why == "no snapshot":
        return fail("no snapshot: run `carts-iptw parity regenerate`")
    if why:
        return fail(f"snapshot stale ({why}): run `carts-iptw parity regenerate`")
    doc = snapshots.read_snapshot(case)
    rows = compare_drift(case, live, doc["quantities"], source=src)
    stored_w = doc.get("r_warnings")
    if stored_w is not None and conditions is not None:
        live_w = list(dict.fromkeys(conditions.get("warnings") or []))
        ok = live_w == list(dict.fromkeys(stored_w))
        rows.append(Row(
            case=case.name, function=case.function, r_twin=case.r_twin, dataset=case.dataset_name,
            quantity="r_warnings", n=len(stored_w), worst="", python=" | ".join(live_w) or "(none)",
            r=" | ".join(dict.fromkeys(stored_w)) or "(none)", abs_diff=0.0 if ok else float("inf"),
            rel_diff=0.0 if ok else float("inf"), rtol=0.0, atol=0.0, passed=ok,
            note="" if ok else "R's warnings differ from the snapshot's", source=src, check="drift",
        ))
    return rows


def run_case(case: ParityCase, mode: str | None = None, variant: str = "reference") -> CaseResult:
    mode = current_mode(mode)
    res = CaseResult(case=case, variant=variant)
    extra: list[Row] = []
    try:
        data = case.load_data()
        if variant == "live-external":
            ok, why = live_status(case.r_packages)
            if not ok:
                if mode == "require":  # installable from ../shared/r-packages: never a skip
                    res.error = f"live R required (CARTS_IPTW_R=require): {why}"
                else:
                    res.skipped = f"live {'/'.join(case.shared_packages)} unavailable: {why}"
                return res
            r_result, res.r_conditions = r_live_result_captured(case, data)
            res.versions = rbridge.r_versions()
            res.source = f"live {_versions_brief(res.versions, case.r_packages)}"
        elif case.external_snapshot:
            doc = snapshots.read_external(case)
            r_result = case.external_extract(doc)
            meta = doc.get("meta", {})
            pk = meta.get("packages", {})
            res.versions = {
                "R": meta.get("R_version"),
                "packages": {k: (v.get("version") if isinstance(v, dict) else v) for k, v in pk.items()},
            }
            real = tuple(p for p in res.versions["packages"] if p in case.r_packages) or case.r_packages
            res.source = f"snapshot of real output ({_versions_brief(res.versions, real)})"
        else:
            need = tuple(dict.fromkeys(case.r_packages))
            use_live = mode == "require"
            if mode == "auto":
                use_live, _ = live_status(need)
            if use_live:
                ok, why = live_status(tuple(dict.fromkeys(need + DEBIAN_R_PACKAGES)) if mode == "require" else need)
                if not ok:
                    raise rbridge.RUnavailable(f"live R required (CARTS_IPTW_R=require) but {why}")
                r_result, res.r_conditions = r_live_result_captured(case, data)
                res.versions = rbridge.r_versions()
                res.source = f"live {_versions_brief(res.versions, case.r_packages)}"
                extra = drift_rows(case, data, r_result, res.r_conditions)
            else:
                doc = snapshots.read_snapshot(case)
                why = snapshots.staleness(case, data)
                if why:
                    raise RuntimeError(
                        f"snapshot of {case.name} is stale ({why}); run `carts-iptw parity regenerate`"
                    )
                r_result = doc["quantities"]
                if doc.get("r_warnings") is not None:
                    res.r_conditions = {"warnings": doc["r_warnings"],
                                        "messages": doc.get("r_messages") or []}
                res.versions = {"R": doc.get("R_version"), "packages": doc.get("packages", {})}
                res.source = f"snapshot {doc.get('created', '')} ({_versions_brief(res.versions, case.r_packages)})"
    except rbridge.RUnavailable:
        raise
    except Exception as exc:  # the R side failed
        res.error = f"R side: {type(exc).__name__}: {exc}"
        return res
    try:
        py_result, res.py_warnings = python_result_warned(case, data)
        res.py_result = py_result
    except Exception as exc:
        res.error = f"Python side: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
        return res
    res.rows = compare_results(case, py_result, r_result, source=res.source)
    if case.warnings == "mirrored":
        if res.r_conditions is None:
            res.rows.append(Row(
                case=case.name, function=case.function, r_twin=case.r_twin,
                dataset=case.dataset_name, quantity="warnings", n=0, worst="", python=None, r=None,
                abs_diff=float("inf"), rel_diff=float("inf"), rtol=0.0, atol=0.0, passed=False,
                note="R's warnings are not recorded in this reference (regenerate the snapshot)",
                source=res.source, check="warnings"))
        else:
            res.rows.append(compare_warnings(case, res.py_warnings, res.r_conditions["warnings"],
                                             source=res.source))
    if variant == "reference" and not case.external_snapshot:
        from carts_iptw.parity import peers

        if peers.enabled():
            from carts_iptw.parity.compare import flatten

            cols = peers.peer_columns(case, data, flatten(r_result))
            for row in res.rows:
                row.peers = cols.get(row.quantity, {})
    res.rows.extend(extra)
    return res


def variants(case: ParityCase) -> list[str]:
    return ["reference", "live-external"] if case.external_snapshot else ["reference"]
