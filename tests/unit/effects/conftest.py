"""Data shared by the effects tests."""

from __future__ import annotations

import pytest

import carts_iptw as c


@pytest.fixture(scope="module")
def lal():
    """lalonde with a binary outcome: employed in 1978 (re78 > 0)."""
    d = c.load_dataset("lalonde").copy()
    d["employed"] = (d["re78"] > 0).astype(int)
    return d
