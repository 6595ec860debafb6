"""The public API: every export resolves, importing the package is cheap, docstrings name R twins."""

from __future__ import annotations

import inspect
import subprocess
import sys

import carts_iptw


def test_every_export_resolves():
    for name in carts_iptw.__all__:
        assert getattr(carts_iptw, name) is not None, name


def test_import_does_not_load_the_statistics():
    code = "import sys, carts_iptw; print(sorted(m for m in ('matplotlib', 'scipy', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_functions_name_their_r_twin():
    """Each public function's docstring names its R twin (``pkg::fun``) or says it has none."""
    missing = []
    for name in carts_iptw.__all__:
        obj = getattr(carts_iptw, name)
        if inspect.isclass(obj) and issubclass(obj, Warning | Exception):
            continue
        doc = inspect.getdoc(obj) or ""
        if "::" not in doc and "R twin" not in doc and "no R twin" not in doc.lower():
            missing.append(name)
    assert not missing, f"docstrings without an R twin: {missing}"
