"""Fixtures shared by the unit tests of several areas."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def client():
    """An in-process Dask client (two worker threads): deterministic engine tests without
    starting processes (tests/unit/resampling, tests/unit/imputation)."""
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1,
                            dashboard_address=None) as c:
        yield c
