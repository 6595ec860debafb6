"""The README's function table names every function that has a parity case, with its R twin."""

from __future__ import annotations

import re
from pathlib import Path

from carts_iptw.parity.registry import all_cases

README = Path(__file__).resolve().parents[3] / "README.md"


def _table_functions() -> set[str]:
    text = README.read_text()
    section = text.split("## Public functions and their R twins", 1)[1].split("\n## ", 1)[0]
    return {m.group(1) for m in re.finditer(r"^\| `([A-Za-z_][A-Za-z0-9_]*)", section, re.M)}


def test_every_validated_function_is_in_the_readme():
    listed = _table_functions()
    missing = sorted({c.function for c in all_cases()} - listed)
    assert not missing, f"README's function table lacks: {missing}"
