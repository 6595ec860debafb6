"""The R fixture and the record of what every parity test compared against.

``CARTS_IPTW_R=require`` (tox's parity runs and CI): live R is required; a missing R, rpy2 or
Debian R package fails the run. ``auto``: live when available, else snapshots. ``snapshot``.
The header and the closing summary print R's version and packages, and each case's source.
"""

from __future__ import annotations

import pytest

from carts_iptw.parity import rbridge
from carts_iptw.parity.runner import current_mode, live_status

_RECORD: list[tuple[str, str, str]] = []


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
    def record(name: str, outcome: str, source: str) -> None:
        _RECORD.append((name, outcome, source))

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
