"""The live-R random-data module fails (not skips) under CARTS_IPTW_R=require when R cannot
start, and skips with the reason otherwise: run in a subprocess with an rpy2 that cannot load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MODULE = ROOT / "tests" / "parity" / "test_random_live_r.py"


def _run(tmp_path: Path, mode: str) -> subprocess.CompletedProcess:
    fake = tmp_path / "norpy" / "rpy2"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("R is not installed (simulated)")\n')
    env = dict(os.environ, CARTS_IPTW_R=mode,
               PYTHONPATH=os.pathsep.join([str(fake.parent), str(ROOT / "src")]))
    env.pop("CARTS_IPTW_NO_SKIP", None)  # the skip itself is what this test checks
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(MODULE), "-q", "-p", "no:cacheprovider", "-rs",
         "-k", "svyglm and 11"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("mode", ["require", "auto"])
def test_live_r_module_fails_in_require_and_skips_otherwise(tmp_path, mode):
    p = _run(tmp_path, mode)
    out = p.stdout + p.stderr
    if mode == "require":
        assert p.returncode != 0, out
        assert "live R required (CARTS_IPTW_R=require)" in out, out
        assert "skipped" not in out.splitlines()[-1], out
    else:
        assert p.returncode == 0, out
        assert "1 skipped" in out and "R not available" in out, out
