"""Run parity cases: Python side, R side (live or snapshot), comparison rows.

Modes (``CARTS_IPTW_R`` or the ``mode`` argument):
- ``require``: R runs live; a missing R, rpy2 or Debian R package is an error, never a skip.
- ``auto``: live when R and the case's packages are there, else the snapshot (recorded as such).
- ``snapshot``: snapshots only.
Cases whose R twin cannot be installed here (``external_snapshot``) compare with the real
package's recorded output in every mode; their ``live`` variant runs only when the package is
installed and otherwise reports a skip with the reason.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from typing import Any

from carts_iptw.parity import rbridge, snapshots
from carts_iptw.parity.compare import Row, compare_results
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


def r_live_result(case: ParityCase, data=None):
    data = case.load_data() if data is None else data
    return rbridge.call_r(case.r_file, case.r_function, data, dict(case.args))


def run_case(case: ParityCase, mode: str | None = None, variant: str = "reference") -> CaseResult:
    mode = current_mode(mode)
    res = CaseResult(case=case, variant=variant)
    try:
        if variant == "live-external":
            ok, why = live_status(case.r_packages)
            if not ok:
                res.skipped = f"live {'/'.join(case.optional_packages)} unavailable: {why}"
                return res
            r_result = r_live_result(case)
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
                r_result = r_live_result(case)
                res.versions = rbridge.r_versions()
                res.source = f"live {_versions_brief(res.versions, case.r_packages)}"
            else:
                doc = snapshots.read_snapshot(case)
                why = snapshots.staleness(case)
                if why:
                    raise RuntimeError(
                        f"snapshot of {case.name} is stale ({why}); run `carts-iptw parity regenerate`"
                    )
                r_result = doc["quantities"]
                res.versions = {"R": doc.get("R_version"), "packages": doc.get("packages", {})}
                res.source = f"snapshot {doc.get('created', '')} ({_versions_brief(res.versions, case.r_packages)})"
    except rbridge.RUnavailable:
        raise
    except Exception as exc:  # the R side failed
        res.error = f"R side: {type(exc).__name__}: {exc}"
        return res
    try:
        py_result = python_result(case)
    except Exception as exc:
        res.error = f"Python side: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
        return res
    res.rows = compare_results(case, py_result, r_result, source=res.source)
    return res


def variants(case: ParityCase) -> list[str]:
    return ["reference", "live-external"] if case.external_snapshot else ["reference"]
