"""The parity-case registry: one entry per (Python function, R twin, data set, arguments).

Tests (tests/parity/test_registry.py), snapshots (``carts-iptw parity regenerate``), the parity
report (``carts-iptw parity --out``) and the README's function table all read this registry, so
a new function is added once and shows up everywhere.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: R packages a live run must have (all packaged by Debian); missing ones fail in ``require`` mode.
DEBIAN_R_PACKAGES = ("survival", "survey", "sandwich", "MatchIt", "MASS", "jsonlite", "brglm2", "cmprsk")
#: R packages that cannot be installed here; their cases fall back to real-output snapshots.
OPTIONAL_R_PACKAGES = ("WeightIt", "cobalt", "CBPS", "logistf")


@dataclass(frozen=True)
class ParityCase:
    """One parity check of a Python function against its R twin.

    ``python(data, args)`` and the R function ``r_function(data, args)`` (in ``r_reference/
    r_file``) must return the same quantities, keyed alike. Pass iff, element-wise,
    ``|py - r| <= atol + rtol * |r|``; quantities named in ``exact`` must be equal.
    """

    name: str
    function: str
    r_twin: str
    dataset: str | Callable[[], pd.DataFrame]
    r_file: str
    r_function: str
    python: Callable[[pd.DataFrame, Mapping[str, Any]], Mapping[str, Any]]
    args: Mapping[str, Any] = field(default_factory=dict)
    rtol: float = 1e-6
    atol: float = 0.0
    #: per-quantity overrides: {"quantity": (rtol, atol)}
    tolerances: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    exact: tuple[str, ...] = ()
    r_packages: tuple[str, ...] = ()
    #: file under tests/parity/snapshots/external/ holding real output of a package that cannot
    #: be installed here (its provenance travels with it). ``r_function`` then reads the live
    #: package when installed.
    external_snapshot: str | None = None
    #: maps the external snapshot's JSON document to this case's quantities (R side)
    external_extract: Callable[[dict], Mapping[str, Any]] | None = None
    description: str = ""

    @property
    def dataset_name(self) -> str:
        return self.dataset if isinstance(self.dataset, str) else getattr(
            self.dataset, "__name__", "custom"
        )

    def load_data(self) -> pd.DataFrame:
        if callable(self.dataset):
            return self.dataset()
        from carts_iptw.datasets import load_dataset

        return load_dataset(self.dataset)

    def tolerance_for(self, quantity: str) -> tuple[float, float]:
        if quantity in self.exact or quantity.split(".")[0] in self.exact:
            return (0.0, 0.0)
        for key, tol in self.tolerances.items():
            if quantity == key or quantity.startswith(key + "."):
                return tol
        return (self.rtol, self.atol)

    @property
    def optional_packages(self) -> tuple[str, ...]:
        return tuple(p for p in self.r_packages if p in OPTIONAL_R_PACKAGES)


_REGISTRY: dict[str, ParityCase] = {}


def register(case: ParityCase) -> ParityCase:
    if case.name in _REGISTRY:
        raise ValueError(f"parity case {case.name!r} is registered twice")
    _REGISTRY[case.name] = case
    return case


def all_cases() -> list[ParityCase]:
    """Every registered case, after importing every module of ``carts_iptw.parity.cases``."""
    from carts_iptw.parity import cases

    for mod in pkgutil.iter_modules(cases.__path__):
        importlib.import_module(f"{cases.__name__}.{mod.name}")
    return [
        _REGISTRY[k] for k in sorted(_REGISTRY)
    ]


def get_case(name: str) -> ParityCase:
    all_cases()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no parity case named {name!r}") from None
