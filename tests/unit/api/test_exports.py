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


def test_every_warning_is_a_carts_iptw_warning():
    """Each ``warnings.warn`` in the package names one of its own classes (one filter for all)."""
    import ast
    from pathlib import Path

    ours = {"CartsIptwWarning", "ConvergenceWarning", "GlmWarning", "CartsIptwDeprecationWarning"}
    bad = []
    for path in Path(carts_iptw.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "warn" and getattr(node.func.value, "id", "") == "warnings"):
                cat = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "category"), None)
                name = getattr(cat, "id", getattr(cat, "attr", None))
                if name not in ours:
                    bad.append(f"{path.name}:{node.lineno} ({name})")
    assert not bad, f"warnings outside carts_iptw's classes: {bad}"


def test_public_names_stay_functions_after_every_submodule_is_imported():
    """Importing a submodule binds it on its package: no top-level module may shadow a public name
    (``carts_iptw.glm`` was the module after any svyglm call)."""
    import importlib
    import pkgutil

    for mod in pkgutil.walk_packages(carts_iptw.__path__, "carts_iptw."):
        importlib.import_module(mod.name)
    top_modules = {m.name for m in pkgutil.iter_modules(carts_iptw.__path__)}
    assert not top_modules & set(carts_iptw.__all__)
    for name in carts_iptw.__all__:
        obj = getattr(carts_iptw, name)
        assert not inspect.ismodule(obj), name
        assert callable(obj), name
    assert dir(carts_iptw) == sorted([*carts_iptw.__all__, "__version__"])
