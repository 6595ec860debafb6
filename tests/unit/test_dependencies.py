"""Declared dependencies are used, and the floor constraints are the declared floors."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: distribution name -> the module it is imported as
MODULE = {"numpy": "numpy", "pandas": "pandas", "scipy": "scipy", "matplotlib": "matplotlib"}


def _deps() -> dict[str, str]:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    out = {}
    for spec in doc["project"]["dependencies"]:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)", spec)
        assert m, f"dependency {spec!r} must be declared as name>=floor"
        out[m.group(1).lower()] = m.group(2)
    return out


def _floors() -> dict[str, str]:
    """The runtime floors, plus the floors of plain ``name>=floor`` entries of the
    ``distributed`` extra (pyarrow: its newest releases need numpy 2, so mindeps pins its floor)."""
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    out = _deps()
    for spec in doc["project"]["optional-dependencies"]["distributed"]:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)", spec)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def test_every_runtime_dependency_is_imported():
    src = "\n".join(p.read_text() for p in (ROOT / "src" / "carts_iptw").rglob("*.py"))
    for name in _deps():
        mod = MODULE.get(name, name.replace("-", "_"))
        assert re.search(rf"^\s*(import|from) {mod}\b", src, flags=re.M), f"{name} is declared, never imported"


def test_floor_constraints_equal_declared_floors():
    pins = {}
    for line in (ROOT / "constraints" / "floor.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    floors = _floors()
    assert set(pins) == set(floors)
    for name, floor in floors.items():
        assert tuple(map(int, pins[name].split("."))) == tuple(map(int, (floor + ".0.0").split(".")[:3])), name


def _vt(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def test_installed_versions_meet_the_floors():
    """Every run satisfies the declared floors; under ``tox -e mindeps``
    (CARTS_IPTW_FLOOR_VERSIONS=1) the installed versions are exactly the floors."""
    import os
    from importlib.metadata import version

    exact = os.environ.get("CARTS_IPTW_FLOOR_VERSIONS") == "1"
    from importlib.metadata import PackageNotFoundError

    runtime = _deps()
    for name, floor in _floors().items():
        try:
            have = version(name)
        except PackageNotFoundError:
            # an extra's package: required where the extra is installed (tox installs it)
            assert name not in runtime and not exact, f"{name} is not installed"
            continue
        assert _vt(have) >= _vt(floor), f"{name} {have} is below the declared floor {floor}"
        if exact:
            assert _vt(have) == _vt(floor + ".0.0"), f"mindeps: {name} {have}, floor {floor}"
