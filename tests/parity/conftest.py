"""The R fixture and the record of what every parity test compared against.

``CARTS_IPTW_R=require`` (tox's parity runs and CI): live R is required; a missing R, rpy2 or
Debian R package fails the run. ``auto``: live when available, else snapshots. ``snapshot``.
The header and the closing summary print R's version and packages, and each case's source.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from carts_iptw.parity import rbridge
from carts_iptw.parity.runner import current_mode, live_status

_RECORD: list[tuple[str, str, str]] = []
_RESULTS: list = []  # CaseResult of every test_parity run, for --parity-report


def pytest_addoption(parser):
    parser.addoption(
        "--parity-report", action="append", default=[], metavar="FILE",
        help="write the parity report of this run to FILE (.md or .html); may be repeated",
    )


def pytest_sessionfinish(session, exitstatus):
    targets = session.config.getoption("--parity-report")
    if not targets or not _RESULTS:
        return
    from carts_iptw.parity.report import to_html, to_markdown

    ok, why = rbridge.r_available()
    versions = rbridge.r_versions() if ok else {"R": f"not available ({why})", "packages": {}}
    for t in targets:
        text = (to_html if t.endswith((".html", ".htm")) else to_markdown)(_RESULTS, versions, current_mode())
        Path(t).write_text(text)


def pytest_report_header(config):
    mode = current_mode()
    ok, why = rbridge.r_available()
    if not ok:
        return [f"carts_iptw parity: mode={mode}; R not available: {why}"]
    v = rbridge.r_versions()
    pk = ", ".join(f"{k} {x}" if x else f"{k} (not installed)" for k, x in v["packages"].items())
    return [f"carts_iptw parity: mode={mode}; {v['R']}; rpy2 {v['rpy2']}", f"R packages: {pk}"]


def pytest_terminal_summary(terminalreporter):
    if not _RECORD:
        return
    terminalreporter.section("parity: what each case was compared against")
    for name, outcome, source in _RECORD:
        terminalreporter.write_line(f"{outcome:7s} {name}: {source}")


@pytest.fixture(scope="session")
def record_parity():
    def record(name: str, outcome: str, source: str, result=None) -> None:
        _RECORD.append((name, outcome, source))
        if result is not None:
            _RESULTS.append(result)

    return record


@pytest.fixture(scope="session")
def r_reference():
    """``r_reference(file, function, data, args)``: call an R reference function live.

    Sources ``r_reference/<file>`` once and converts data both ways (see rbridge). In
    ``require`` mode a missing R fails; otherwise the test is skipped with the reason.
    """
    ok, why = live_status(())
    if not ok:
        if current_mode() == "require":
            pytest.fail(f"live R required (CARTS_IPTW_R=require): {why}")
        pytest.skip(f"R not available: {why}")
    return rbridge.call_r
